//! PostgreSQL snapshots (DBLog chunks between WAL watermarks) against the
//! real server and Kafka: rows already in the tables arrive as reads while
//! a writer keeps changing them, the topics replay to the tables, no read
//! follows a newer change of its key, and a snapshot killed with SIGKILL
//! resumes at its next chunk.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    drop_slot, pg_config_snapshot, pg_superuser, read_topic, read_topic_until, slot_confirms,
    unique, wait_confirmed, wait_until, Got, Logtap, PgFixture,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::snapshots::{replay_keyed, replay_keyless, Rng, UNAVAILABLE};

/// Tables `<p>_a (id PK, n, pad TOASTed)`, `<p>_b (k1, k2) PK`, `<p>_c`
/// without a key (REPLICA IDENTITY FULL), owned by the capture role. The
/// keyless table's topic gets one partition: its records have null keys,
/// which Kafka spreads over partitions at random, so only one partition
/// keeps the order logtap sent them in (see `replay_keyless`).
async fn create_tables(pg: &tokio_postgres::Client, p: &str, rows: i32) {
    common::create_topic(&format!("{p}.public.{p}_c"), 1).await;
    pg.batch_execute(&format!(
        "CREATE TABLE {p}_a (id int PRIMARY KEY, n int NOT NULL, pad text);
         CREATE TABLE {p}_b (k1 int, k2 text, n int, PRIMARY KEY (k1, k2));
         CREATE TABLE {p}_c (x int, n int);
         CREATE TABLE {p}_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
         ALTER TABLE {p}_signal OWNER TO cdc;
         ALTER TABLE {p}_c REPLICA IDENTITY FULL;
         ALTER TABLE {p}_a OWNER TO cdc; ALTER TABLE {p}_b OWNER TO cdc; ALTER TABLE {p}_c OWNER TO cdc;
         INSERT INTO {p}_a SELECT g, g, CASE WHEN g % 10 = 0
             THEN (SELECT string_agg(md5(random()::text || g || s), '') FROM generate_series(1, 200) s) ELSE 'p' || g END
             FROM generate_series(1, {rows}) g;
         INSERT INTO {p}_b SELECT g % 50, 'k' || g, g FROM generate_series(1, {rows}) g;
         INSERT INTO {p}_c SELECT g, g FROM generate_series(1, {rows}) g;"
    ))
    .await
    .unwrap();
}

/// Inserts, updates (TOAST unchanged and changed), deletes and key changes
/// on the three tables until `stop`; returns how many statements ran.
async fn writer(p: String, rows: i64, stop: Arc<AtomicBool>) -> u64 {
    let pg = pg_superuser().await;
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
                format!("INSERT INTO {p}_a VALUES ({next}, 0, 'new')")
            }
            1 => format!("UPDATE {p}_a SET n = n + 1 WHERE id = {id}"),
            2 => format!("UPDATE {p}_a SET pad = md5(pad) WHERE id = {id}"),
            3 => format!("DELETE FROM {p}_a WHERE id = {id}"),
            4 => {
                next += 1;
                format!("UPDATE {p}_a SET id = {next} WHERE id = {id}")
            }
            5 => {
                next += 1;
                format!("INSERT INTO {p}_b VALUES ({}, 'new{next}', 0)", next % 50)
            }
            6 => format!("UPDATE {p}_b SET n = n + 1 WHERE k1 = {} AND k2 = 'k{id}'", id % 50),
            7 => format!("UPDATE {p}_b SET k2 = k2 || 'x' WHERE k1 = {} AND k2 = 'k{id}'", id % 50),
            8 => {
                next += 1;
                format!("INSERT INTO {p}_c VALUES ({next}, 0)")
            }
            9 => format!("UPDATE {p}_c SET n = n + 1 WHERE x = {id}"),
            _ => format!("DELETE FROM {p}_c WHERE x = {id}"),
        };
        pg.batch_execute(&sql).await.unwrap();
        done += 1;
        // A busy but not saturating writer: the stream must keep up for
        // chunks to close (their high watermark has to pass).
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    done
}

/// The three tables as key (as the record key's JSON) → row.
async fn table_state(pg: &tokio_postgres::Client, p: &str) -> [BTreeMap<String, Value>; 3] {
    let q = |sql: String| async move { pg.query(&sql, &[]).await.unwrap() };
    let (a, b, c) = (
        q(format!("SELECT id, n, pad FROM {p}_a")).await,
        q(format!("SELECT k1, k2, n FROM {p}_b")).await,
        q(format!("SELECT x, n FROM {p}_c")).await,
    );
    let a = a.iter().map(|r| {
        let id: i32 = r.get(0);
        let (n, pad): (i32, Option<String>) = (r.get(1), r.get(2));
        (json!({"id": id}).to_string(), json!({"id": id, "n": n, "pad": pad}))
    });
    let b = b.iter().map(|r| {
        let (k1, k2, n): (i32, String, Option<i32>) = (r.get(0), r.get(1), r.get(2));
        (json!({"k1": k1, "k2": k2}).to_string(), json!({"k1": k1, "k2": k2, "n": n}))
    });
    let c = c.iter().map(|r| {
        let (x, n): (Option<i32>, Option<i32>) = (r.get(0), r.get(1));
        (json!(x).to_string(), json!({"x": x, "n": n}))
    });
    [a.collect(), b.collect(), c.collect()]
}

/// The three tables captured, with `[snapshot]` as given plus the test's
/// signal table (Debezium's; on PostgreSQL 13 it carries the watermarks).
fn config(p: &str, dir: &std::path::Path, snapshot: &str) -> String {
    let tables: Vec<String> = ["a", "b", "c"].iter().map(|t| format!("public.{p}_{t}")).collect();
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let snapshot = format!(
        "[snapshot]\nsignal_data_collection = \"public.{p}_signal\"\n{}",
        snapshot.trim_start_matches("[snapshot]\n")
    );
    pg_config_snapshot(p, &dir.join("off"), &tables, "", &snapshot)
}

fn topics(p: &str) -> [String; 3] {
    ["a", "b", "c"].map(|t| format!("{p}.public.{p}_{t}"))
}

/// Reads the three topics and checks them against the tables; returns the
/// number of read (`r`) records.
async fn converged(pg: &tokio_postgres::Client, p: &str, log: &str) -> usize {
    let [ta, tb, tc] = topics(p);
    let (a, b, c) = (read_topic(&ta).records, read_topic(&tb).records, read_topic(&tc).records);
    let [want_a, want_b, want_c] = table_state(pg, p).await;
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
        // A TOAST value an update left unchanged and no earlier record of
        // that key gave (a key change, an update before the key's read) is
        // Debezium's placeholder: a consumer cannot know it, so it is not
        // compared.
        let agrees = |g: &Value, w: &Value| {
            g.as_object().unwrap().iter().all(|(k, v)| v == UNAVAILABLE || w[k] == *v)
        };
        let same = got.len() == want.len()
            && got.iter().all(|(k, g)| want.get(k).is_some_and(|w| agrees(g, w)));
        if !same {
            let missing: Vec<_> = want
                .iter()
                .filter(|(k, w)| !got.get(*k).is_some_and(|g| agrees(g, w)))
                .map(|(k, w)| (k, w, got.get(k)))
                .take(3)
                .collect();
            let extra: Vec<_> =
                got.iter().filter(|(k, _)| !want.contains_key(*k)).take(5).collect();
            panic!(
                "table {name}: topic ({} rows) differs from the table ({} rows); wrong or missing {missing:?}, extra {extra:?}\n{tail}",
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

/// The server's major version: before 14 the watermarks are signal table
/// rows, from 14 on logical decoding messages.
async fn major(pg: &tokio_postgres::Client) -> i32 {
    let v: String = pg.query_one("SHOW server_version_num", &[]).await.unwrap().get(0);
    v.parse::<i32>().unwrap() / 10000
}

/// `config` without the signal table.
fn without_signal_table(cfg: &str) -> String {
    cfg.lines().filter(|l| !l.starts_with("signal_data_collection")).collect::<Vec<_>>().join("\n")
}

/// Runs `logtap snapshot ARGS` on `cfg` (without the signal table from 14
/// on, so the signal is a logical decoding message there; a signal row
/// before) and returns what it printed; panics if it failed.
async fn snapshot_cli(
    pg: &tokio_postgres::Client,
    dir: &std::path::Path,
    cfg: &str,
    args: &[String],
) -> String {
    let cli_config = dir.join("cli.toml");
    let cli_text = if major(pg).await >= 14 { without_signal_table(cfg) } else { cfg.to_string() };
    std::fs::write(&cli_config, cli_text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(["snapshot", "--config"])
        .arg(&cli_config)
        .args(args)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "logtap snapshot: {said}");
    said
}

/// One test at a time: each runs a writer and a snapshot, and the stream
/// must keep up with the writer for chunks to close.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initial_snapshot_under_concurrent_writes_converges() {
    let _serial = SERIAL.lock().await;
    let p = unique("pgsnap");
    let pg = pg_superuser().await;
    let rows = 3000;
    create_tables(&pg, &p, rows).await;
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let w = tokio::spawn(writer(p.clone(), i64::from(rows), stop.clone()));
    let l = Logtap::start(
        dir.path(),
        &config(&p, dir.path(), "[snapshot]\nchunk_size = 100\nchunk_delay_ms = 20\n"),
    );
    let finished =
        wait_until(Duration::from_secs(120), || l.log_text().contains("snapshot finished"));
    stop.store(true, Ordering::SeqCst);
    let statements = w.await.unwrap();
    assert!(finished, "the snapshot did not finish:\n{}", l.log_text());
    wait_confirmed(&pg, &p, &l).await;
    let log = l.stop();
    let reads = converged(&pg, &p, &log).await;
    eprintln!("{statements} statements during the snapshot, {reads} reads");
    assert!(statements > 100, "the writer should have run during the snapshot");
    // Debezium's markers: the first read says first, the last one last.
    let [ta, _, tc] = topics(&p);
    let markers: Vec<String> = read_topic(&ta)
        .records
        .iter()
        .chain(read_topic(&tc).records.iter())
        .filter(|g| g.value.is_some())
        .map(|g| g.value_json())
        .filter(|v| v["op"] == "r")
        .map(|v| v["source"]["snapshot"].as_str().unwrap().to_string())
        .collect();
    for m in ["first", "true", "last"] {
        assert!(markers.iter().any(|x| x == m), "no read marked {m}");
    }
    drop_slot(&pg, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_killed_six_times_resumes_at_its_next_chunk() {
    let _serial = SERIAL.lock().await;
    let p = unique("pgsnapkill");
    let pg = pg_superuser().await;
    let rows = 200_000;
    create_tables(&pg, &p, 1000).await;
    pg.batch_execute(&format!(
        "INSERT INTO {p}_a SELECT g, g, 'p' || g FROM generate_series(1001, {rows}) g"
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Paced (196 chunks, at least 80 ms apart: 16 s and more) so that all
    // six kills, about two seconds apart, land inside the snapshot.
    let cfg = config(&p, dir.path(), "[snapshot]\nchunk_size = 1024\nchunk_delay_ms = 80\n");
    let stop = Arc::new(AtomicBool::new(false));
    let w = tokio::spawn(writer(p.clone(), i64::from(rows), stop.clone()));
    let first = Logtap::start(dir.path(), &cfg);
    let (l, kills) = common::kill9_six_times(
        first,
        dir.path(),
        &cfg,
        1500,
        1000,
        common::snapshot_progress_stored,
    )
    .await;
    let finished =
        wait_until(Duration::from_secs(180), || l.log_text().contains("snapshot finished"));
    stop.store(true, Ordering::SeqCst);
    w.await.unwrap();
    assert!(finished, "the snapshot did not finish:\n{}", l.log_text());
    wait_confirmed(&pg, &p, &l).await;
    let log = l.stop();
    // Every restart found a snapshot under way (the kills hit it).
    let resumed = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .filter(|t| t.contains("resuming the snapshot") && t.contains("last_key=Some"))
        .count();
    assert!(resumed >= 5, "{kills} kills, only {resumed} starts resumed mid-table:\n{log}");
    let reads = converged(&pg, &p, &log).await;
    let total = rows as usize + 1000 + 1000;
    eprintln!("{kills} kills, {resumed} resumed mid-table; {reads} reads for {total} rows");
    assert!(
        (reads as f64) < 1.2 * total as f64,
        "{reads} reads for {total} rows: resume restarted too far back"
    );
    drop_slot(&pg, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_no_data_initial_only_and_when_needed() {
    let _serial = SERIAL.lock().await;
    let p = unique("pgsnapmode");
    let pg = pg_superuser().await;
    create_tables(&pg, &p, 50).await;
    let dir = tempfile::tempdir().unwrap();
    if major(&pg).await < 14 {
        // Without a signal table the default mode (initial) stops at
        // start, saying why and what to do.
        let d = tempfile::tempdir().unwrap();
        let mut l = Logtap::start(d.path(), &without_signal_table(&config(&p, d.path(), "")));
        let exited =
            wait_until(Duration::from_secs(30), || matches!(l.child.try_wait(), Ok(Some(_))));
        let log = l.log_text();
        assert!(exited && !l.child.try_wait().unwrap().unwrap().success(), "{log}");
        assert!(
            log.contains("needs PostgreSQL 14") && log.contains("signal_data_collection"),
            "{log}"
        );
        drop_slot(&pg, &p).await;
    }
    let [ta, _, _] = topics(&p);
    let reads = |records: &[Got]| {
        records.iter().filter(|g| g.value.is_some() && g.value_json()["op"] == "r").count()
    };

    // no_data: streams, reads no row.
    let l = Logtap::start(dir.path(), &config(&p, dir.path(), "[snapshot]\nmode = \"no_data\"\n"));
    assert!(wait_until(Duration::from_secs(30), || l.log_text().contains("streaming")));
    pg.batch_execute(&format!("INSERT INTO {p}_a VALUES (1000, 0, 'after')")).await.unwrap();
    wait_confirmed(&pg, &p, &l).await;
    let log = l.stop();
    let got = read_topic(&ta).records;
    assert_eq!(reads(&got), 0, "no_data read rows:\n{log}");
    assert_eq!(got.len(), 1, "the one insert:\n{log}");

    // The slot is dropped: a stored position without its slot. when_needed
    // starts over with a new slot and a snapshot (initial would stop).
    drop_slot(&pg, &p).await;
    let l =
        Logtap::start(dir.path(), &config(&p, dir.path(), "[snapshot]\nmode = \"when_needed\"\n"));
    assert!(
        wait_until(Duration::from_secs(60), || l.log_text().contains("snapshot finished")),
        "{}",
        l.log_text()
    );
    wait_confirmed(&pg, &p, &l).await;
    let log = l.stop();
    assert!(log.contains("starting over with a new slot"), "{log}");
    let got = read_topic(&ta).records;
    assert_eq!(reads(&got), 51, "when_needed re-read the 51 rows:\n{log}");

    // initial_only: a fresh source reads the tables and exits by itself.
    let p2 = format!("{p}io");
    let dir2 = tempfile::tempdir().unwrap();
    let mut cfg = config(&p, dir2.path(), "[snapshot]\nmode = \"initial_only\"\n");
    cfg = cfg.replacen(&format!("topic_prefix = \"{p}\""), &format!("topic_prefix = \"{p2}\""), 1);
    cfg = cfg.replace(&format!("slot_name = \"{p}\""), &format!("slot_name = \"{p2}\""));
    let mut l = Logtap::start(dir2.path(), &cfg);
    let exited = wait_until(Duration::from_secs(60), || matches!(l.child.try_wait(), Ok(Some(_))));
    assert!(exited, "initial_only did not exit:\n{}", l.log_text());
    assert!(l.child.try_wait().unwrap().unwrap().success(), "{}", l.log_text());
    let got = read_topic(&format!("{p2}.public.{p}_a")).records;
    assert_eq!(reads(&got), 51, "initial_only read the table:\n{}", l.log_text());
    drop_slot(&pg, &p2).await;
    drop_slot(&pg, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ad_hoc_snapshot_while_streaming_converges() {
    let _serial = SERIAL.lock().await;
    let p = unique("pgsnapsig");
    let pg = pg_superuser().await;
    create_tables(&pg, &p, 2000).await;
    let dir = tempfile::tempdir().unwrap();
    // Streaming only: the rows already there are not read at start.
    let cfg = config(&p, dir.path(), "[snapshot]\nmode = \"no_data\"\nchunk_size = 200\n");
    let l = Logtap::start(dir.path(), &cfg);
    assert!(wait_until(Duration::from_secs(30), || l.log_text().contains("streaming")));
    let stop = Arc::new(AtomicBool::new(false));
    let w = tokio::spawn(writer(p.clone(), 2000, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Tables a and b by `logtap snapshot` (a logical decoding message from
    // 14 on, a signal row before), c by a Debezium signal row written by hand.
    let tables: Vec<String> = ["a", "b"].iter().map(|t| format!("public.{p}_{t}")).collect();
    let said = snapshot_cli(&pg, dir.path(), &cfg, &tables).await;
    assert!(said.contains("execute-snapshot signal"), "{said}");
    pg.batch_execute(&format!(
        r#"INSERT INTO {p}_signal VALUES ('by-hand', 'execute-snapshot', '{{"data-collections": ["public.{p}_c"], "type": "incremental"}}')"#
    ))
    .await
    .unwrap();
    // All three tables read (c may come as its own snapshot after a and b).
    let done = |t: &str| format!("table snapshotted table=public.{p}_{t}");
    let finished = wait_until(Duration::from_secs(120), || {
        let log = l.log_text();
        ["a", "b", "c"].iter().all(|t| log.contains(&done(t)))
    });
    stop.store(true, Ordering::SeqCst);
    w.await.unwrap();
    assert!(finished, "the ad-hoc snapshot did not finish:\n{}", l.log_text());
    wait_confirmed(&pg, &p, &l).await;
    let log = l.stop();
    assert!(log.contains("incremental snapshot"), "{log}");
    converged(&pg, &p, &log).await;
    let [ta, _, _] = topics(&p);
    let markers: std::collections::HashSet<String> = read_topic(&ta)
        .records
        .iter()
        .filter(|g| g.value.is_some())
        .map(|g| g.value_json())
        .filter(|v| v["op"] == "r")
        .map(|v| v["source"]["snapshot"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(markers, ["incremental".to_string()].into(), "reads of an ad-hoc snapshot");
    drop_slot(&pg, &p).await;
}

/// The standby's superuser connection (`LOGTAP_PG_STANDBY_URL`'s server).
async fn standby_superuser() -> (tokio_postgres::Client, String) {
    let port = std::env::var("LOGTAP_PG_STANDBY_PORT").expect(
        "LOGTAP_PG_STANDBY_PORT: this test needs a standby (PostgreSQL 16+, scripts/services with LOGTAP_PG_STANDBY=1; \
         scripts/test --matrix starts one); on older majors it is skipped by name",
    );
    let (client, conn) = tokio_postgres::connect(
        &format!("postgres://postgres@127.0.0.1:{port}/logtap"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect to the standby");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    (client, port)
}

/// Waits until the standby has replayed the primary's WAL written so far.
async fn standby_caught_up(pg: &tokio_postgres::Client, sb: &tokio_postgres::Client) -> String {
    let lsn: String =
        pg.query_one("SELECT pg_current_wal_insert_lsn()::text", &[]).await.unwrap().get(0);
    for _ in 0..600 {
        let ok: bool = sb
            .query_one("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", &[&lsn])
            .await
            .unwrap()
            .get(0);
        if ok {
            return lsn;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the standby did not replay {lsn} in 60 s");
}

/// A PostgreSQL 16+ standby as the source: logtap writes nothing to it (it
/// cannot), so the chunks' windows are bounded by the standby's replay
/// position instead of watermark messages. The three tables snapshot under
/// the primary's writer, with one kill -9 in the middle, and the topics
/// replay to the primary's tables. First, a publication the standby does
/// not have is an error saying what to run on the primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_source_snapshots_and_streams_without_writing() {
    let _serial = SERIAL.lock().await;
    let (sb, sb_port) = standby_superuser().await;
    let p = unique("pgsb");
    let slot = p.to_lowercase();
    let pg = pg_superuser().await;
    create_tables(&pg, &p, 3000).await;
    let dir = tempfile::tempdir().unwrap();
    let primary_port = format!("port = {}", common::env("LOGTAP_PG_PORT"));
    // Small, paced chunks (at least 9 s in all), so the kill lands mid-snapshot.
    let cfg = config(&p, dir.path(), "[snapshot]\nchunk_size = 20\nchunk_delay_ms = 20\n")
        .replace(&primary_port, &format!("port = {sb_port}"));
    assert!(cfg.contains(&format!("port = {sb_port}")), "{cfg}");

    standby_caught_up(&pg, &sb).await;
    let mut l = Logtap::start(dir.path(), &cfg);
    let exited =
        wait_until(Duration::from_secs(30), || l.child.try_wait().ok().flatten().is_some());
    let log = l.log_text();
    let (check_ok, check) = l.cli("check");
    l.kill9();
    assert!(exited, "logtap should stop at the missing publication:\n{log}");
    assert!(!check_ok && check.contains("a standby cannot create it"), "{check}");
    assert!(check.contains("the server is a standby"), "{check}");
    assert!(
        log.contains(&format!("the server is a standby and publication `{slot}` does not exist: run on the primary: CREATE PUBLICATION")),
        "{log}"
    );

    pg.batch_execute(&format!(
        "CREATE PUBLICATION {slot} FOR TABLE {p}_a, {p}_b, {p}_c, {p}_signal"
    ))
    .await
    .unwrap();
    standby_caught_up(&pg, &sb).await;
    // Creating a slot on a standby waits for the primary's next record of
    // running transactions (every 15 s by itself): ask for them.
    let nudge_stop = Arc::new(AtomicBool::new(false));
    let nudge = {
        let stop = nudge_stop.clone();
        tokio::spawn(async move {
            let pg = pg_superuser().await;
            while !stop.load(Ordering::SeqCst) {
                let _ = pg.batch_execute("SELECT pg_log_standby_snapshot()").await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let w = tokio::spawn(writer(p.clone(), 3000, stop.clone()));
    let first = Logtap::start(dir.path(), &cfg);
    let began =
        wait_until(Duration::from_secs(60), || first.log_text().contains("snapshotting table"));
    assert!(began, "the snapshot did not begin:\n{}", first.log_text());
    // Killed once a chunk's progress is stored, not after a fixed time (a
    // loaded machine may not have stored any yet).
    let stored =
        wait_until(Duration::from_secs(90), || common::snapshot_progress_stored(&first.log_text()));
    assert!(stored, "no snapshot progress stored:\n{}", first.log_text());
    first.kill9();
    let l = Logtap::start(dir.path(), &cfg);
    let finished =
        wait_until(Duration::from_secs(180), || l.log_text().contains("snapshot finished"));
    stop.store(true, Ordering::SeqCst);
    let statements = w.await.unwrap();
    nudge_stop.store(true, Ordering::SeqCst);
    nudge.await.unwrap();
    assert!(finished, "the snapshot did not finish:\n{}", l.log_text());
    assert!(
        l.log_text().contains("resuming the snapshot"),
        "the kill missed the snapshot:\n{}",
        l.log_text()
    );
    // Everything the primary wrote has reached the standby, and logtap has
    // stored a position past it.
    let target = standby_caught_up(&pg, &sb).await;
    let confirmed = slot_confirms(&sb, &slot, &target, Duration::from_secs(60)).await;
    assert!(confirmed, "the standby's slot did not confirm {target}:\n{}", l.log_text());
    let (check_ok, check) = l.cli("check");
    assert!(check_ok && check.contains("hot_standby_feedback = on"), "{check}");
    let log = l.stop();
    assert!(log.contains("the server is a standby"), "{log}");
    let reads = converged(&pg, &p, &log).await;
    eprintln!("standby: {statements} statements on the primary during the snapshot, {reads} reads");
    assert!(statements > 100, "the writer should have run during the snapshot");
    drop_slot(&sb, &slot).await;
    pg.batch_execute(&format!("DROP PUBLICATION {slot}")).await.unwrap();
}

/// `logtap snapshot --where COND` (Debezium's `additional-conditions`):
/// only the rows meeting the condition are read, once each, and nothing
/// else arrives as a read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ad_hoc_snapshot_with_a_condition_reads_only_its_rows() {
    let _serial = SERIAL.lock().await;
    let p = unique("pgsnapwhere");
    let pg = pg_superuser().await;
    create_tables(&pg, &p, 1000).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&p, dir.path(), "[snapshot]\nmode = \"no_data\"\nchunk_size = 64\n");
    let l = Logtap::start(dir.path(), &cfg);
    assert!(wait_until(Duration::from_secs(30), || l.log_text().contains("streaming")));
    let args = [format!("public.{p}_a"), "--where".into(), "id % 3 = 0 AND n > 100".into()];
    snapshot_cli(&pg, dir.path(), &cfg, &args).await;
    let done = format!("table snapshotted table=public.{p}_a");
    let finished = wait_until(Duration::from_secs(60), || l.log_text().contains(&done));
    assert!(finished, "the snapshot did not finish:\n{}", l.log_text());
    wait_confirmed(&pg, &p, &l).await;
    let log = l.stop();
    let mut read = read_ids(&p);
    read.sort_unstable();
    let want: Vec<i64> = (101..=1000).filter(|i| i % 3 == 0).collect();
    assert_eq!(read, want, "reads:\n{log}");
    drop_slot(&pg, &p).await;
}

/// The ids of table a's reads, in topic order.
fn read_ids(p: &str) -> Vec<i64> {
    let [ta, _, _] = topics(p);
    read_topic(&ta)
        .records
        .iter()
        .filter(|g| g.value.is_some())
        .map(|g| g.value_json())
        .filter(|v| v["op"] == "r")
        .map(|v| v["after"]["id"].as_i64().unwrap())
        .collect()
}

/// The same condition, with a kill -9 in the middle of the snapshot: the
/// restarted logtap resumes it with its condition (kept in the stored
/// progress), so every matching row is read and no other; a chunk read
/// but not yet stored may be read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditioned_snapshot_resumes_its_condition_after_kill_9() {
    let _serial = SERIAL.lock().await;
    let p = unique("pgsnapwherek");
    let pg = pg_superuser().await;
    create_tables(&pg, &p, 1000).await;
    let dir = tempfile::tempdir().unwrap();
    // Small, paced chunks (19 of them, 100 ms apart): the kill lands inside.
    let cfg = config(
        &p,
        dir.path(),
        "[snapshot]\nmode = \"no_data\"\nchunk_size = 16\nchunk_delay_ms = 100\n",
    );
    let first = Logtap::start(dir.path(), &cfg);
    assert!(wait_until(Duration::from_secs(30), || first.log_text().contains("streaming")));
    let args = [format!("public.{p}_a"), "--where".into(), "id % 3 = 0 AND n > 100".into()];
    snapshot_cli(&pg, dir.path(), &cfg, &args).await;
    let began =
        wait_until(Duration::from_secs(30), || first.log_text().contains("snapshotting table"));
    assert!(began, "the snapshot did not begin:\n{}", first.log_text());
    let stored =
        wait_until(Duration::from_secs(60), || common::snapshot_progress_stored(&first.log_text()));
    assert!(stored, "no snapshot progress stored:\n{}", first.log_text());
    first.kill9();
    let l = Logtap::start(dir.path(), &cfg);
    let done = format!("table snapshotted table=public.{p}_a");
    let finished = wait_until(Duration::from_secs(60), || l.log_text().contains(&done));
    assert!(finished, "the snapshot did not finish:\n{}", l.log_text());
    wait_confirmed(&pg, &p, &l).await;
    let log = l.stop();
    assert!(log.contains("resuming the snapshot") && log.contains("last_key=Some"), "{log}");
    let read = read_ids(&p);
    let distinct: std::collections::BTreeSet<i64> = read.iter().copied().collect();
    let want: std::collections::BTreeSet<i64> = (101..=1000).filter(|i| i % 3 == 0).collect();
    assert_eq!(distinct, want, "reads:\n{log}");
    assert!(read.len() <= want.len() + 2 * 16, "{} reads for {} rows", read.len(), want.len());
    drop_slot(&pg, &p).await;
}

/// A snapshot condition the server refuses (a column that does not exist):
/// `logtap snapshot --where` refuses it before writing a signal; one that
/// reaches logtap anyway (a signal written by hand) drops that table's
/// snapshot once, with the server's message, and the stream goes on. It is
/// never retried in a loop (each retry wrote watermarks into the WAL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_condition_the_server_refuses_is_refused_or_dropped_never_retried() {
    let f = PgFixture::new("pgcond", "id int PRIMARY KEY, status text").await;
    let table = format!("public.{}", f.table);
    let cli_config = f.dir.path().join("cli.toml");
    std::fs::write(&cli_config, &f.config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(["snapshot", "--config"])
        .arg(&cli_config)
        .args(["--where", "statuz = 'open'", &table])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad condition must be refused:\n{said}");
    assert!(said.contains("\"statuz\" does not exist") && said.contains(&table), "{said}");
    assert!(said.contains("no signal was written"), "{said}");

    // The signal by hand, as a row of Debezium's signal table (which every
    // major reads; PostgreSQL 13 has no logical decoding messages).
    let sig = format!("{}_sig", f.table);
    f.pg.batch_execute(&format!(
        "CREATE TABLE {sig} (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
         ALTER TABLE {sig} OWNER TO cdc;"
    ))
    .await
    .unwrap();
    let config = f.config.replace(
        "[snapshot]\n",
        &format!("[snapshot]\nsignal_data_collection = \"public.{sig}\"\n"),
    );
    assert_ne!(config, f.config, "the [snapshot] section changed shape");
    let l = Logtap::start(f.dir.path(), &config);
    assert!(
        wait_until(Duration::from_secs(30), || l.log_text().contains("streaming")),
        "{}",
        l.log_text()
    );
    let data = json!({
        "data-collections": [table], "type": "incremental",
        "additional-conditions": [{"data-collection": table, "filter": "statuz = 'open'"}],
    });
    f.pg.execute(
        &format!("INSERT INTO {sig} VALUES ('by-hand-1', 'execute-snapshot', $1)"),
        &[&data.to_string()],
    )
    .await
    .unwrap();
    let dropped = "condition for this table fails on the server";
    assert!(
        wait_until(Duration::from_secs(30), || l.log_text().contains(dropped)),
        "the bad condition must be reported:\n{}",
        l.log_text()
    );
    f.pg.batch_execute(&format!("INSERT INTO {} VALUES (1, 'open')", f.table)).await.unwrap();
    let got = read_topic_until(&f.topic(), Duration::from_secs(30), |g| !g.is_empty());
    let log = l.stop();
    assert_eq!(got.len(), 1, "the stream goes on:\n{log}");
    assert_eq!(log.matches(dropped).count(), 1, "reported once, not retried:\n{log}");
    assert!(log.contains("\"statuz\" does not exist"), "the server's message:\n{log}");
}

/// A row whose value logtap cannot convert (a `timestamp` in year 294276),
/// read by the initial snapshot with `event_processing_failure_handling_mode
/// = "warn"`: that row is skipped with a warning, every other is read, and
/// the snapshot finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_row_it_cannot_convert_is_skipped_in_warn_mode() {
    let _serial = SERIAL.lock().await;
    let p = unique("pgsnapbad");
    let pg = pg_superuser().await;
    create_tables(&pg, &p, 20).await;
    pg.batch_execute(&format!(
        "ALTER TABLE {p}_a ADD COLUMN ts timestamp; UPDATE {p}_a SET ts = '294276-12-31 23:59:59' WHERE id = 3;"
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&p, dir.path(), "").replace(
        "status_interval_ms = 1000\n",
        "status_interval_ms = 1000\nevent_processing_failure_handling_mode = \"warn\"\n",
    );
    assert!(cfg.contains("\"warn\""), "{cfg}");
    let l = Logtap::start(dir.path(), &cfg);
    let done = wait_until(Duration::from_secs(120), || l.log_text().contains("snapshot finished"));
    let log = l.stop();
    assert!(done, "the snapshot must finish:\n{log}");
    drop_slot(&pg, &p).await;
    let [ta, _, _] = topics(&p);
    let read: Vec<i64> = read_topic(&ta)
        .records
        .iter()
        .filter(|g| g.value.is_some() && g.value_json()["op"] == "r")
        .map(|g| g.value_json()["after"]["id"].as_i64().unwrap())
        .collect();
    let mut read_sorted = read.clone();
    read_sorted.sort_unstable();
    let want: Vec<i64> = (1..=20).filter(|&i| i != 3).collect();
    assert_eq!(read_sorted, want, "every row but the one it cannot convert:\n{log}");
    assert!(
        log.contains("skipped a change it cannot process") && log.contains("snapshot read of"),
        "{log}"
    );
}
