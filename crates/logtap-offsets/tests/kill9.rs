//! Durability across kill -9: a child process stores increasing positions and
//! prints each one after `store` returned; the parent kills it with SIGKILL at
//! a random moment, reopens the store, and expects at least the last printed
//! position (the store may hold one newer, written but not yet printed).
//!
//! The child is this same test binary, re-run with `LOGTAP_KILL9_CHILD` set.
#![allow(clippy::unwrap_used)]

use logtap_core::{Lsn, OffsetStore, SourcePosition, StoredOffset};
use logtap_offsets::SledOffsetStore;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "LOGTAP_KILL9_CHILD";

#[test]
fn kill9_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let store = SledOffsetStore::open(&dir).unwrap();
    let start = match store.load("pg").unwrap() {
        Some(StoredOffset { position: SourcePosition::Postgres { lsn, .. }, .. }) => lsn.0 + 1,
        _ => 1,
    };
    for lsn in start.. {
        let off = StoredOffset {
            position: SourcePosition::Postgres { lsn: Lsn(lsn), tx: None },
            source_id: None,
            snapshot: None,
            transaction: None,
            updated_at_ms: 0,
        };
        store.store("pg", &off).unwrap();
        println!("stored {lsn}");
    }
}

fn stored_lsn(dir: &std::path::Path) -> u64 {
    let store = SledOffsetStore::open(dir).unwrap();
    match store.load("pg").unwrap() {
        Some(StoredOffset { position: SourcePosition::Postgres { lsn, .. }, .. }) => lsn.0,
        other => panic!("unexpected stored offset {other:?}"),
    }
}

#[test]
fn stored_offset_survives_kill9() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    // A cheap, seedless source of varied kill times.
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    for round in 0..5u32 {
        let mut child = Command::new(&exe)
            .args(["--exact", "kill9_child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let wait = Duration::from_millis(200 + u64::from((nanos >> (round * 3)) % 400));
        let started = Instant::now();
        let mut last_printed = 0u64;
        // Read until the deadline, then kill without warning.
        while started.elapsed() < wait {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(n) = line.strip_prefix("stored ") {
                        last_printed = n.trim().parse().unwrap();
                    }
                }
                _ => break,
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        assert!(last_printed > 0, "round {round}: the child stored nothing in {wait:?}");
        let stored = stored_lsn(dir.path());
        assert!(
            stored >= last_printed,
            "round {round}: store has {stored} but {last_printed} was reported durable"
        );
    }
}
