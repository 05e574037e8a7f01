//! MariaDB snapshots against the real server and Kafka: an initial snapshot
//! under concurrent writes converges to the tables (composite key, keyless
//! table), one killed with SIGKILL six times resumes at its next chunk,
//! and the modes. Each test checks the topics after logtap stored its
//! position (stopped with SIGTERM), replayed as a consumer would, against
//! the tables, and that no read is older than a change sent before it.
#![allow(clippy::unwrap_used)]

mod common;

use common::snapshots::{replay_keyed, replay_keyless, Rng};
use common::{read_topic, wait_until, Logtap, MyFixture};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `a (id PK, n, pad)`, `b (k1, k2) PK`, `c` without a key, `rows` rows
/// each, and Debezium's signal table `sig`, which logtap's user may write
/// (MySQL's snapshot watermarks are rows of it; MariaDB takes only signals
/// from it). The keyless table's topic gets one partition (its records
/// have null keys, which Kafka spreads at random).
async fn fixture(kind: &str, rows: u64) -> MyFixture {
    let f = MyFixture::new(
        kind,
        &[
            "CREATE TABLE a (id int PRIMARY KEY, n int NOT NULL, pad varchar(200))",
            "CREATE TABLE b (k1 int, k2 varchar(40), n int, PRIMARY KEY (k1, k2))",
            "CREATE TABLE c (x int, n int)",
            "CREATE TABLE sig (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
        ],
    )
    .await;
    common::create_topic(&f.topic("c"), 1).await;
    let user = common::env("LOGTAP_MYSQL_USER");
    let s = common::seq(1, rows);
    f.exec(&[
        &format!("GRANT INSERT, DELETE ON `{}`.sig TO '{user}'@'%', '{user}'@'localhost'", f.db),
        &format!("INSERT INTO a SELECT seq, seq, concat('p', seq) FROM {s}"),
        &format!("INSERT INTO b SELECT seq % 50, concat('k', seq), seq FROM {s}"),
        &format!("INSERT INTO c SELECT seq, seq FROM {s}"),
    ])
    .await;
    f
}

/// Inserts, updates, deletes and key changes on the three tables until
/// `stop`; returns how many statements ran.
async fn writer(f_db: String, rows: i64, stop: Arc<AtomicBool>) -> u64 {
    let mut c = common::my_root(Some(&f_db)).await;
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
            as u64
            | 1;
    eprintln!("writer seed {seed}");
    let mut r = Rng(seed);
    let mut next = rows + 1;
    let mut done = 0;
    while !stop.load(Ordering::SeqCst) {
        let id = 1 + r.next(next);
        let sql = match r.next(11) {
            0 => {
                next += 1;
                format!("INSERT INTO a VALUES ({next}, 0, 'new')")
            }
            1 => format!("UPDATE a SET n = n + 1 WHERE id = {id}"),
            2 => format!("UPDATE a SET pad = concat(n, reverse(left(pad, 100))) WHERE id = {id}"),
            3 => format!("DELETE FROM a WHERE id = {id}"),
            4 => {
                next += 1;
                format!("UPDATE a SET id = {next} WHERE id = {id}")
            }
            5 => {
                next += 1;
                format!("INSERT INTO b VALUES ({}, 'new{next}', 0)", next % 50)
            }
            6 => format!("UPDATE b SET n = n + 1 WHERE k1 = {} AND k2 = 'k{id}'", id % 50),
            7 => {
                format!("UPDATE b SET k2 = concat(k2, 'x') WHERE k1 = {} AND k2 = 'k{id}'", id % 50)
            }
            8 => {
                next += 1;
                format!("INSERT INTO c VALUES ({next}, 0)")
            }
            9 => format!("UPDATE c SET n = n + 1 WHERE x = {id}"),
            _ => format!("DELETE FROM c WHERE x = {id}"),
        };
        c.query_drop(&sql).await.unwrap();
        done += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    done
}

/// The three tables as key (as the record key's JSON) → row.
async fn table_state(f: &MyFixture) -> [BTreeMap<String, Value>; 3] {
    let mut c = f.conn().await;
    let a: Vec<(i32, i32, Option<String>)> = c.query("SELECT id, n, pad FROM a").await.unwrap();
    let b: Vec<(i32, String, Option<i32>)> = c.query("SELECT k1, k2, n FROM b").await.unwrap();
    let cc: Vec<(Option<i32>, Option<i32>)> = c.query("SELECT x, n FROM c").await.unwrap();
    let _ = c.disconnect().await;
    [
        a.into_iter()
            .map(|(id, n, pad)| {
                (json!({"id": id}).to_string(), json!({"id": id, "n": n, "pad": pad}))
            })
            .collect(),
        b.into_iter()
            .map(|(k1, k2, n)| {
                (json!({"k1": k1, "k2": k2}).to_string(), json!({"k1": k1, "k2": k2, "n": n}))
            })
            .collect(),
        cc.into_iter().map(|(x, n)| (json!(x).to_string(), json!({"x": x, "n": n}))).collect(),
    ]
}

/// A config for the fixture's tables starting at the binlog's end now (so
/// only the snapshot brings the rows), with `[snapshot]` lines. Without a
/// signal table MySQL's chunk watermarks are its executed GTID sets; with
/// one (the ad-hoc test), rows of it.
async fn config(f: &MyFixture, snapshot: &str) -> String {
    let mut c = f.conn().await;
    let now = common::binlog_point(&mut c).await;
    let _ = c.disconnect().await;
    let cfg = common::my_config(&f.prefix, &[&f.db], &now, &f.dir.path().join("off"), "");
    format!("{cfg}[snapshot]\n{snapshot}\n")
}

fn mysql() -> bool {
    common::MyServer::get() == common::MyServer::MySql
}

/// Reads the three topics and checks them against the tables; returns the
/// number of read (`r`) records.
async fn converged(f: &MyFixture, log: &str) -> usize {
    let (a, b, c) = (
        read_topic(&f.topic("a")).records,
        read_topic(&f.topic("b")).records,
        read_topic(&f.topic("c")).records,
    );
    let [want_a, want_b, want_c] = table_state(f).await;
    let (got_a, stale_a) = replay_keyed(&a);
    let (got_b, stale_b) = replay_keyed(&b);
    let got_c = replay_keyless(&c);
    let tail: String = log.lines().rev().take(40).collect::<Vec<_>>().join("\n");
    assert!(
        stale_a.is_empty() && stale_b.is_empty(),
        "stale reads: {stale_a:?} {stale_b:?}\n{tail}"
    );
    for (name, got, want) in
        [("a", &got_a, &want_a), ("b", &got_b, &want_b), ("c", &got_c, &want_c)]
    {
        if got != want {
            let wrong: Vec<_> = want
                .iter()
                .filter(|(k, w)| got.get(*k) != Some(w))
                .map(|(k, w)| (k, w, got.get(k)))
                .take(3)
                .collect();
            let extra: Vec<_> =
                got.iter().filter(|(k, _)| !want.contains_key(*k)).take(5).collect();
            panic!(
                "table {name}: topic ({} rows) differs from the table ({} rows); wrong or missing {wrong:?}, extra {extra:?}\n{tail}",
                got.len(),
                want.len()
            );
        }
    }
    [&a, &b, &c]
        .iter()
        .flat_map(|r| r.iter())
        .filter(|g| g.value.is_some() && g.value_json()["op"] == "r")
        .count()
}

/// A test of what the harness has only for MariaDB (a replica).
/// A test that cannot run on MySQL fails there rather than passing
/// without running: scripts/test's MySQL pass leaves it out by name.
fn not_on_mysql(why: &str) {
    assert!(!mysql(), "not a MySQL test ({why}): run it with --skip on MySQL");
}

/// One test at a time: each runs a writer and a snapshot, and the stream
/// must keep up with the writer for chunks to close.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initial_snapshot_under_concurrent_writes_converges() {
    let _serial = SERIAL.lock().await;
    let f = fixture("mysnapw", 3000).await;
    let cfg = config(&f, "mode = \"initial\"\nchunk_size = 100").await;
    let stop = Arc::new(AtomicBool::new(false));
    let w = tokio::spawn(writer(f.db.clone(), 3000, stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let l = Logtap::start(f.dir.path(), &cfg);
    let finished =
        wait_until(Duration::from_secs(120), || l.log_text().contains("snapshot finished"));
    // Writes go on after the snapshot, streamed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let statements = w.await.unwrap();
    assert!(finished, "the snapshot did not finish:\n{}", l.log_text());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = l.stop();
    let reads = converged(&f, &log).await;
    eprintln!("{statements} writer statements, {reads} reads");
    assert!(statements > 100, "the writer hardly ran ({statements} statements)");
    f.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_killed_six_times_resumes_at_its_next_chunk() {
    let _serial = SERIAL.lock().await;
    let rows = 200_000u64;
    let f = fixture("mysnapkill", 1000).await;
    f.exec(&[&format!(
        "INSERT INTO a SELECT seq, seq, concat('p', seq) FROM {}",
        common::seq(1001, rows)
    )])
    .await;
    // Paced (196 chunks, at least 120 ms apart: 24 s and more) so that all
    // six kills, two to three seconds apart, land inside the snapshot, each
    // after its restart had time to store a chunk's progress (MySQL 9.7's
    // start over TLS takes a second on a busy machine).
    let cfg = config(&f, "mode = \"initial\"\nchunk_size = 1024\nchunk_delay_ms = 120").await;
    let stop = Arc::new(AtomicBool::new(false));
    let w = tokio::spawn(writer(f.db.clone(), rows as i64, stop.clone()));
    let first = Logtap::start(f.dir.path(), &cfg);
    let (l, kills) = common::kill9_six_times(
        first,
        f.dir.path(),
        &cfg,
        2000,
        1000,
        common::snapshot_progress_stored,
    )
    .await;
    let finished =
        wait_until(Duration::from_secs(180), || l.log_text().contains("snapshot finished"));
    stop.store(true, Ordering::SeqCst);
    w.await.unwrap();
    assert!(finished, "the snapshot did not finish:\n{}", l.log_text());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = l.stop();
    let resumed = std::fs::read_dir(f.dir.path())
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .filter(|t| t.contains("resuming the snapshot") && t.contains("last_key=Some"))
        .count();
    assert!(resumed >= 5, "{kills} kills, only {resumed} starts resumed mid-table:\n{log}");
    let reads = converged(&f, &log).await;
    let total = rows as usize + 1000 + 1000;
    eprintln!("{kills} kills, {resumed} resumed mid-table; {reads} reads for {total} rows");
    assert!(
        (reads as f64) < 1.2 * total as f64,
        "{reads} reads for {total} rows: resume restarted too far back"
    );
    f.drop_db().await;
}

/// Waits for `l` to exit by itself; its exit code and log.
fn exited(mut l: Logtap, timeout: Duration) -> (Option<i32>, String) {
    let mut status = None;
    wait_until(timeout, || {
        status = l.child.try_wait().expect("try_wait");
        status.is_some()
    });
    let log = l.log_text();
    if status.is_none() {
        l.kill9();
    }
    (status.and_then(|s| s.code()), log)
}

fn reads_of(records: &[common::Got]) -> usize {
    records.iter().filter(|g| g.value.is_some() && g.value_json()["op"] == "r").count()
}

/// no_data (the MySQL/MariaDB default) reads no rows; initial_only reads
/// them and exits, as a user with no write grant (nothing is written to
/// the server); a stored position whose binlog was purged stops with the
/// reset status under `initial`, and under `when_needed` starts over with
/// a new snapshot that converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_no_data_initial_only_and_when_needed_after_a_purge() {
    let _serial = SERIAL.lock().await;
    let f = fixture("mysnapmode", 500).await;
    // A user that can read and replicate, and write nothing anywhere.
    let ro = format!("{}ro", f.prefix);
    let password = common::env("LOGTAP_MYSQL_PASSWORD");
    let mut root = f.conn().await;
    for sql in [
        format!("CREATE USER '{ro}'@'%' IDENTIFIED BY '{password}'"),
        format!("GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{ro}'@'%'"),
    ] {
        root.query_drop(sql).await.unwrap();
    }
    let user_line = format!("user = \"{}\"", common::env("LOGTAP_MYSQL_USER"));
    let as_ro = |cfg: String| cfg.replacen(&user_line, &format!("user = \"{ro}\""), 1);

    // no_data: nothing read, changes streamed.
    let cfg = config(&f, "").await.replace("[snapshot]\n", "");
    let l = Logtap::start(f.dir.path(), &as_ro(cfg));
    f.exec(&["INSERT INTO a VALUES (100000, 1, 'streamed')"]).await;
    common::read_at_least(&f.topic("a"), 1, Duration::from_secs(30));
    let log = l.stop();
    let a = read_topic(&f.topic("a")).records;
    assert_eq!((reads_of(&a), a.len()), (0, 1), "no_data:\n{log}");

    // initial_only, another prefix: every row read, then the process ends.
    let cfg = config(&f, "mode = \"initial_only\"\nchunk_size = 64").await;
    let prefix2 = format!("{}io", f.prefix);
    let cfg = as_ro(cfg.replacen(
        &format!("topic_prefix = \"{}\"", f.prefix),
        &format!("topic_prefix = \"{prefix2}\""),
        1,
    ));
    let dir2 = f.dir.path().join("io");
    std::fs::create_dir_all(&dir2).unwrap();
    let (code, log) = exited(Logtap::start(&dir2, &cfg), Duration::from_secs(60));
    assert_eq!(code, Some(0), "initial_only exits when read:\n{log}");
    for (t, n) in [("a", 501), ("b", 500), ("c", 500)] {
        let got = read_topic(&format!("{prefix2}.{}.{t}", f.db)).records;
        assert_eq!((reads_of(&got), got.len()), (n, n), "initial_only {t}:\n{log}");
    }

    // A purge past the stored position (the first logtap's): `initial`
    // stops with the reset status, `when_needed` starts over.
    f.exec(&["INSERT INTO a VALUES (100001, 1, 'lost')"]).await;
    root.query_drop("FLUSH BINARY LOGS").await.unwrap();
    let file = common::binlog_point(&mut root).await.file;
    // A file a replication thread still reads is not purged (the stopped
    // logtaps' dump threads may linger a moment): try until it is gone.
    let mut purged = false;
    for _ in 0..50 {
        root.query_drop(format!("PURGE BINARY LOGS TO '{file}'")).await.unwrap();
        let files: Vec<mysql_async::Row> = root.query("SHOW BINARY LOGS").await.unwrap();
        if files.len() == 1 {
            purged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(purged, "PURGE BINARY LOGS TO '{file}' left older files");
    f.exec(&["INSERT INTO a VALUES (100002, 1, 'after the purge')"]).await;
    let cfg = config(&f, "mode = \"initial\"").await;
    let (code, log) = exited(Logtap::start(f.dir.path(), &as_ro(cfg)), Duration::from_secs(30));
    assert_eq!(code, Some(3), "a purged position under initial:\n{log}");
    let cfg = as_ro(config(&f, "mode = \"when_needed\"\nchunk_size = 64").await);
    let l = Logtap::start(f.dir.path(), &cfg);
    let finished =
        wait_until(Duration::from_secs(60), || l.log_text().contains("snapshot finished"));
    assert!(finished, "when_needed did not snapshot:\n{}", l.log_text());
    let log = l.stop();
    assert!(log.contains("snapshot mode when_needed: starting over"), "{log}");
    let reads = converged(&f, &log).await;
    assert_eq!(reads, 503 + 500 + 500, "every row read once more");
    let _ = root.query_drop(format!("DROP USER '{ro}'@'%'")).await;
    let _ = root.disconnect().await;
    f.drop_db().await;
}

/// Runs `logtap snapshot ARGS` on `cfg`; what it printed (panics if it failed).
fn snapshot_cli(dir: &std::path::Path, cfg: &str, args: &[String]) -> String {
    let path = dir.join("cli.toml");
    std::fs::write(&path, cfg).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(["snapshot", "--config"])
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "logtap snapshot: {said}");
    said
}

/// While streaming (mode no_data, a writer busy), `logtap snapshot` writes
/// an execute-snapshot row into the signal table: the three tables are
/// read as incremental reads and the topics converge; then one with
/// `--where` reads only the rows it names. The signal rows themselves are
/// never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ad_hoc_snapshot_while_streaming_converges() {
    let _serial = SERIAL.lock().await;
    let f = fixture("mysnapadhoc", 2000).await;
    let cfg =
        config(&f, &format!("signal_data_collection = \"{}.sig\"\nchunk_size = 128", f.db)).await;
    // `logtap check` reports the signal table, and one that is missing.
    let check = |cfg: &str| {
        let path = f.dir.path().join("check.toml");
        std::fs::write(&path, cfg).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_logtap"))
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let said = check(&cfg);
    assert!(
        said.contains(&format!("ok   signal table {}.sig: its rows are signals", f.db)),
        "{said}"
    );
    assert!(said.contains("ok   snapshot mode no_data"), "{said}");
    let said = check(&cfg.replace(".sig\"", ".nosig\""));
    assert!(said.contains(&format!("FAIL signal table {}.nosig does not exist", f.db)), "{said}");
    let l = Logtap::start(f.dir.path(), &cfg);
    let stop = Arc::new(AtomicBool::new(false));
    let w = tokio::spawn(writer(f.db.clone(), 2000, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tables: Vec<String> = ["a", "b", "c"].iter().map(|t| format!("{}.{t}", f.db)).collect();
    let said = snapshot_cli(f.dir.path(), &cfg, &tables);
    assert!(said.contains("execute-snapshot signal"), "{said}");
    let finished =
        wait_until(Duration::from_secs(120), || l.log_text().contains("snapshot finished"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let statements = w.await.unwrap();
    assert!(finished, "the ad-hoc snapshot did not finish:\n{}", l.log_text());

    // Only some rows: the condition goes into the chunks' SELECT.
    let before: std::collections::HashSet<(i32, i64)> =
        read_topic(&f.topic("a")).records.iter().map(|g| (g.partition, g.offset)).collect();
    let args = vec![format!("{}.a", f.db), "--where".into(), "id <= 50".into()];
    snapshot_cli(f.dir.path(), &cfg, &args);
    let twice = wait_until(Duration::from_secs(60), || {
        l.log_text().matches("snapshot finished").count() >= 2
    });
    assert!(twice, "the conditioned snapshot did not finish:\n{}", l.log_text());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = l.stop();
    let reads = converged(&f, &log).await;
    eprintln!("{statements} writer statements, {reads} reads");
    let a = read_topic(&f.topic("a")).records;
    let late: Vec<Value> = a
        .iter()
        .filter(|g| g.value.is_some() && !before.contains(&(g.partition, g.offset)))
        .map(|g| g.value_json())
        .filter(|v| v["op"] == "r")
        .collect();
    assert!(!late.is_empty(), "the conditioned snapshot read nothing");
    for v in &late {
        assert!(v["after"]["id"].as_i64().unwrap() <= 50, "read outside the condition: {v}");
        assert_eq!(v["source"]["snapshot"], "incremental", "{v}");
    }
    assert!(read_topic(&format!("{}.{}.sig", f.prefix, f.db)).records.is_empty());
    f.drop_db().await;
}

/// Waits until the replica has applied everything the primary has logged.
async fn replica_caught_up(replica: &mut mysql_async::Conn) {
    let mut primary = common::my_root(None).await;
    let want = common::binlog_point(&mut primary).await.gtid;
    let _ = primary.disconnect().await;
    let mut last = String::new();
    for _ in 0..300 {
        last = replica.query_first("SELECT @@gtid_slave_pos").await.unwrap().unwrap_or_default();
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the replica did not catch up: at {last}, the primary at {want}");
}

/// logtap reading a replica (the harness's second MariaDB, replicating
/// from the first with log_slave_updates, read_only): an initial snapshot
/// under a writer on the primary, one kill -9 during it, converges to the
/// primary's tables. Nothing is written to the replica (it is read-only
/// and logtap's user may not write anyway).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_source_snapshots_and_streams() {
    not_on_mysql("the harness has no MySQL replica");
    let _serial = SERIAL.lock().await;
    let port = common::env("LOGTAP_MYSQL_REPLICA_PORT");
    let f = fixture("mysnaprep", 20_000).await;
    let root_url = common::env("LOGTAP_MYSQL_ROOT_URL");
    let primary_port = common::env("LOGTAP_MYSQL_PORT");
    let replica_url = root_url.replace(&format!(":{primary_port}"), &format!(":{port}"));
    let mut replica =
        mysql_async::Conn::new(mysql_async::Opts::from_url(&replica_url).unwrap()).await.unwrap();
    replica_caught_up(&mut replica).await;
    let read_only: i64 = replica.query_first("SELECT @@read_only").await.unwrap().unwrap();
    assert_eq!(read_only, 1, "the harness's replica is read-only");
    let now = common::binlog_point(&mut replica).await;
    let cfg = common::my_config(&f.prefix, &[&f.db], &now, &f.dir.path().join("off"), "").replacen(
        &format!("port = {primary_port}"),
        &format!("port = {port}"),
        1,
    );
    assert!(cfg.contains(&format!("port = {port}")), "{cfg}");
    let cfg =
        format!("{cfg}[snapshot]\nmode = \"initial\"\nchunk_size = 512\nchunk_delay_ms = 50\n");
    let stop = Arc::new(AtomicBool::new(false));
    let w = tokio::spawn(writer(f.db.clone(), 20_000, stop.clone()));
    let first = Logtap::start(f.dir.path(), &cfg);
    // Killed once a chunk's progress is stored (after a fixed 1.5 s, a
    // loaded CI machine had stored nothing yet: the restart began afresh).
    let stored =
        wait_until(Duration::from_secs(90), || common::snapshot_progress_stored(&first.log_text()));
    assert!(stored, "no snapshot progress stored:\n{}", first.log_text());
    first.kill9();
    let l = Logtap::start(f.dir.path(), &cfg);
    let finished =
        wait_until(Duration::from_secs(120), || l.log_text().contains("snapshot finished"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let statements = w.await.unwrap();
    assert!(finished, "the snapshot did not finish:\n{}", l.log_text());
    replica_caught_up(&mut replica).await;
    // The stream has read what the replica applied.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let log = l.stop();
    // The kill hit the snapshot (81 chunks at least 50 ms apart).
    assert!(log.contains("resuming the snapshot"), "{log}");
    let reads = converged(&f, &log).await;
    eprintln!("{statements} writer statements on the primary, {reads} reads from the replica");
    let _ = replica.disconnect().await;
    f.drop_db().await;
}

/// A snapshot condition the server refuses (a column that does not exist):
/// `logtap snapshot --where` refuses it before writing a signal row; a row
/// written by hand with it drops that table's snapshot once, with the
/// server's message, and the stream goes on. Never retried in a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_condition_the_server_refuses_is_refused_or_dropped_never_retried() {
    let _serial = SERIAL.lock().await;
    let f = fixture("mysnapbadcond", 20).await;
    let cfg = config(&f, &format!("signal_data_collection = \"{}.sig\"", f.db)).await;
    let table = format!("{}.a", f.db);
    let path = f.dir.path().join("cli.toml");
    std::fs::write(&path, &cfg).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(["snapshot", "--config"])
        .arg(&path)
        .args(["--where", "statuz = 1", &table])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad condition must be refused:\n{said}");
    assert!(said.contains("statuz") && said.contains(&table), "{said}");
    assert!(said.contains("no signal was written"), "{said}");

    let l = Logtap::start(f.dir.path(), &cfg);
    let streaming =
        wait_until(Duration::from_secs(60), || l.log_text().contains("starting the binlog stream"));
    assert!(streaming, "{}", l.log_text());
    let data = json!({
        "data-collections": [table], "type": "incremental",
        "additional-conditions": [{"data-collection": table, "filter": "statuz = 1"}],
    });
    f.exec(&[&format!(
        "INSERT INTO sig VALUES ('by-hand-1', 'execute-snapshot', '{}')",
        data.to_string().replace('\'', "''")
    )])
    .await;
    let dropped = "condition for this table fails on the server";
    let reported = wait_until(Duration::from_secs(60), || l.log_text().contains(dropped));
    assert!(reported, "the bad condition must be reported:\n{}", l.log_text());
    f.exec(&["INSERT INTO a VALUES (1000, 1, 'after')"]).await;
    let got = common::read_topic_until(&f.topic("a"), Duration::from_secs(60), |g| {
        g.iter().any(|r| r.value.is_some() && r.value_json()["after"]["id"] == 1000)
    });
    let log = l.stop();
    let reads = got.iter().filter(|g| g.value.is_some() && g.value_json()["op"] == "r").count();
    assert_eq!(reads, 0, "nothing read under the bad condition:\n{log}");
    assert!(
        got.iter().any(|g| g.value.is_some() && g.value_json()["after"]["id"] == 1000),
        "the stream goes on:\n{log}"
    );
    assert_eq!(log.matches(dropped).count(), 1, "reported once, not retried:\n{log}");
    assert!(log.contains("statuz"), "the server's message:\n{log}");
    f.drop_db().await;
}
