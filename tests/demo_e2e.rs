//! The `logtap` binary end to end with the demo source and the real Kafka:
//! a run, a resume, a SIGTERM drain, and kill -9 at random moments. The demo
//! source's changes are numbered (`source.seq`), so loss, duplication and
//! order are visible in what Kafka holds.
#![allow(clippy::unwrap_used)]

mod common;

use common::{bootstrap, read_topic, unique, Got};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Run<'a> {
    prefix: &'a str,
    offsets: &'a Path,
    changes: u64,
    interval_ms: u64,
}

impl Run<'_> {
    fn command(&self, sub: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_logtap"));
        c.args([sub, "--config", "config/synthetic.toml"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("LOGTAP__TOPIC_PREFIX", self.prefix)
            .env("LOGTAP__KAFKA__BOOTSTRAP_SERVERS", bootstrap())
            .env("LOGTAP__OFFSETS__PATH", self.offsets)
            .env("LOGTAP__DEMO__CHANGES", self.changes.to_string())
            .env("LOGTAP__DEMO__INTERVAL_MS", self.interval_ms.to_string())
            .env("LOGTAP__SINK__COMMIT_INTERVAL_MS", "50")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
    fn spawn(&self) -> Child {
        self.command("run").spawn().expect("spawn logtap")
    }
    fn run_to_end(&self) {
        let out = self.command("run").output().expect("logtap run");
        assert!(
            out.status.success(),
            "logtap run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fn stored_seq(&self) -> u64 {
        let out = self.command("status").output().expect("logtap status");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{} (this config): sequence ", self.prefix)))
            .unwrap_or_else(|| panic!("no stored position in status output: {text}"));
        line.split_whitespace().nth(4).and_then(|n| n.parse().ok()).expect("sequence number")
    }
}

fn topic(prefix: &str) -> String {
    format!("{prefix}.inventory.customers")
}

/// `source.seq` of a change record, `None` for a tombstone.
fn seq_of(g: &Got) -> Option<u64> {
    let v = g.value_json();
    if v.is_null() {
        None
    } else {
        Some(v["source"]["seq"].as_u64().expect("source.seq"))
    }
}

/// Tombstones the demo emits after `changes` changes: one per delete.
fn tombstones(changes: u64) -> u64 {
    changes / 4
}

#[test]
fn run_then_resume_sends_each_change_once() {
    let prefix = unique("e2e");
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run { prefix: &prefix, offsets: dir.path(), changes: 12, interval_ms: 1 };
    run.run_to_end();
    assert_eq!(run.stored_seq(), 12);
    run.changes = 20;
    run.run_to_end();
    assert_eq!(run.stored_seq(), 20);
    // Both runs ended cleanly with their positions stored: the topic holds
    // every change once, and nothing else.
    let read = read_topic(&topic(&prefix));
    let got = &read.records;
    assert_eq!(
        got.len(),
        (20 + tombstones(20)) as usize,
        "20 changes and 5 tombstones, nothing twice; broker watermarks {:?}, read {:?}",
        read.watermarks,
        got.iter().map(|g| (g.partition, g.offset, seq_of(g))).collect::<Vec<_>>()
    );
    let seqs: Vec<u64> = got.iter().filter_map(seq_of).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..20).collect::<Vec<_>>());
    // Default envelope: bare payload with Debezium's fields.
    let first = got.iter().find(|g| seq_of(g) == Some(0)).unwrap().value_json();
    assert_eq!(first["op"], "c");
    assert_eq!(first["source"]["name"], prefix.as_str());
    assert!(first["before"].is_null() && first["after"]["id"] == 1001);
}

#[test]
fn sigterm_drains_and_stores_the_final_position() {
    let prefix = unique("term");
    let dir = tempfile::tempdir().unwrap();
    let run = Run { prefix: &prefix, offsets: dir.path(), changes: 0, interval_ms: 2 };
    let child = run.spawn();
    std::thread::sleep(Duration::from_millis(2500));
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "exit after SIGTERM: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("SIGTERM: draining in-flight records, waiting up to 30 s"), "{log}");
    let stored = run.stored_seq();
    assert!(stored > 10, "only {stored} changes in 2.5 s");
    let read = read_topic(&topic(&prefix));
    let got = &read.records;
    let seqs: HashSet<u64> = got.iter().filter_map(seq_of).collect();
    for s in 0..stored {
        assert!(
            seqs.contains(&s),
            "change {s} is before the stored position {stored} but not in Kafka ({} records read; broker watermarks {:?}; first read per partition {:?}); logtap said: {}",
            got.len(),
            read.watermarks,
            got.iter()
                .filter(|g| g.offset < 3)
                .map(|g| (g.partition, g.offset, seq_of(g)))
                .collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // At most the one change whose checkpoint the stop cut off is past it.
    assert!(seqs.iter().all(|&s| s <= stored), "a change past {stored} + 1 in Kafka");
}

#[test]
fn kill9_at_random_moments_loses_nothing_and_replays_in_order() {
    let prefix = unique("kill");
    let dir = tempfile::tempdir().unwrap();
    let total = 4000;
    let run = Run { prefix: &prefix, offsets: dir.path(), changes: total, interval_ms: 0 };
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let mut kills = 0;
    for round in 0..6u32 {
        let mut child = run.spawn();
        let wait = 300 + u64::from((nanos >> (round * 4)) % 700);
        std::thread::sleep(Duration::from_millis(wait));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 5, "only {kills} runs were still going when killed; slow the demo down");
    run.run_to_end();
    assert_eq!(run.stored_seq(), total);

    let got = read_topic(&topic(&prefix)).records;
    // Nothing lost: every change is in Kafka.
    let seen: HashSet<u64> = got.iter().filter_map(seq_of).collect();
    let changes = got.iter().filter_map(seq_of).count();
    eprintln!(
        "{kills} kills: {changes} change records in Kafka for {total} changes ({} replayed)",
        changes as u64 - seen.len() as u64
    );
    assert_eq!(seen.len() as u64, total, "distinct changes in Kafka");
    // Replays are in order: per partition, dropping repeats of earlier
    // changes leaves a strictly increasing sequence.
    let mut per_partition: BTreeMap<i32, (HashSet<u64>, Option<u64>)> = BTreeMap::new();
    for g in &got {
        let Some(s) = seq_of(g) else { continue };
        let (seen, last) = per_partition.entry(g.partition).or_default();
        if seen.insert(s) {
            assert!(
                last.is_none_or(|l| s > l),
                "partition {}: change {s} first seen after {last:?}",
                g.partition
            );
            *last = Some(s);
        }
    }
    // Replaying into a key → row map, keeping only newer changes, gives the
    // demo table's final contents: each round leaves its first customer with
    // the updated email and deletes the second.
    let mut table: BTreeMap<i64, (u64, Option<serde_json::Value>)> = BTreeMap::new();
    for g in &got {
        let Some(s) = seq_of(g) else { continue };
        let v = g.value_json();
        let id = v["after"]["id"].as_i64().or(v["before"]["id"].as_i64()).unwrap();
        let row = if v["op"] == "d" { None } else { Some(v["after"].clone()) };
        let e = table.entry(id).or_insert((s, row.clone()));
        if s >= e.0 {
            *e = (s, row);
        }
    }
    let live: Vec<i64> = table.iter().filter(|(_, (_, r))| r.is_some()).map(|(k, _)| *k).collect();
    let expected: Vec<i64> = (0..(total / 4) as i64).map(|r| 1001 + 2 * r).collect();
    assert_eq!(live, expected);
    for id in expected {
        let email = table[&id].1.as_ref().unwrap()["email"].as_str().unwrap().to_string();
        assert!(email.ends_with("+1@example.org"), "customer {id} has stale email {email}");
    }
}

/// `logtap status | head -1`: a reader that went away ends logtap quietly
/// (exit 0), not with a "failed printing to stdout" panic. The read end is
/// closed before logtap starts, so its first line already meets it.
#[test]
fn status_into_a_closed_pipe_exits_quietly() {
    let prefix = unique("pipe");
    let dir = tempfile::tempdir().unwrap();
    let run = Run { prefix: &prefix, offsets: dir.path(), changes: 4, interval_ms: 1 };
    run.run_to_end();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = run.command("status").stdout(writer).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
