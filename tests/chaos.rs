//! Faults at random moments through real proxies: Toxiproxy between logtap
//! and the database and between logtap and Kafka (the broker's PROXIED
//! listener advertises the proxy, so every broker connection crosses it),
//! while a mixed workload runs (inserts, updates, deletes, key changes,
//! small and 2,000-row transactions) on one table and an initial snapshot
//! reads it and a second, larger table. The faults: logtap killed (-9) and
//! started again; the database's connections cut (proxy disabled), reset
//! (RST on every packet), delayed and throttled; Kafka's connections cut
//! and delayed. Then one convergence check per source: every partition
//! read from its start to the high watermark taken after logtap stored its
//! final position, replayed into a key → row map equal to each table; the
//! distinct stream changes equal to what the writer did; no key's first
//! deliveries going backwards in source order; on MariaDB/MySQL, every
//! duplicate an in-order replay of a suffix.
//!
//! A test binary of its own (the Kafka proxy is shared, so its tests take
//! turns). Cycles: `LOGTAP_CHAOS_CYCLES` (default 7: one of each fault, in
//! a seeded random order; `scripts/chaos` runs the long campaign).
#![allow(clippy::unwrap_used)]

mod common;

use common::snapshots::{replay_keyed, Rng};
use common::{
    env, my_order, pg_config_snapshot, pg_superuser, read_topic, read_topic_until, replay_rows,
    replay_violations, seq, unique, wait_until, Got, Logtap, MyFixture, MyServer, Toxiproxy,
};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// kill -9 of logtap, started again at once.
    Kill9,
    /// The database proxy disabled for 5 s: connections closed, new ones refused.
    DbCut,
    /// Every database connection reset (RST) as soon as it carries data, 3 s.
    DbReset,
    /// 1.5 s (± 0.5 s) more latency each way to the database, 8 s.
    DbSlow,
    /// The database connections throttled to 16 KB/s each way, 8 s.
    DbThrottle,
    /// The Kafka proxy disabled for 8 s.
    KafkaCut,
    /// 1 s more latency each way to Kafka, 8 s.
    KafkaSlow,
}

const FAULTS: [Fault; 7] = [
    Fault::Kill9,
    Fault::DbCut,
    Fault::DbReset,
    Fault::DbSlow,
    Fault::DbThrottle,
    Fault::KafkaCut,
    Fault::KafkaSlow,
];

fn cycles() -> usize {
    std::env::var("LOGTAP_CHAOS_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(FAULTS.len())
}

/// The faults of a run: every kind once per round of seven, each round in a
/// random order (seed printed).
fn plan(seed: u64) -> Vec<Fault> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::new();
    while out.len() < cycles() {
        let mut round = FAULTS.to_vec();
        for i in (1..round.len()).rev() {
            round.swap(i, rng.next(i as i64 + 1) as usize);
        }
        out.extend(round);
    }
    out.truncate(cycles());
    out
}

/// logtap as the chaos sees it: its config file, the running process, and
/// the logs of every process it ran.
struct Subject {
    dir: PathBuf,
    path: PathBuf,
    running: Option<Logtap>,
    logs: String,
}

impl Subject {
    fn start(dir: &Path, config: &str) -> Subject {
        let path = dir.join("logtap.toml");
        std::fs::write(&path, config).unwrap();
        let running = Some(Logtap::start_on(dir, &path));
        Subject { dir: dir.to_path_buf(), path, running, logs: String::new() }
    }

    fn log(&self) -> String {
        let now = self.running.as_ref().map(Logtap::log_text).unwrap_or_default();
        format!("{}{now}", self.logs)
    }

    fn kill9_and_restart(&mut self) {
        let l = self.running.take().unwrap();
        self.logs.push_str(&l.log_text());
        self.logs.push_str("---- killed -9 ----\n");
        l.kill9();
        self.running = Some(Logtap::start_on(&self.dir, &self.path));
    }

    fn stop(mut self) -> String {
        let log = self.running.take().unwrap().stop();
        format!("{}{log}", self.logs)
    }
}

/// Inflicts `fault` (through proxy `db` or the shared `kafka` one) and heals it.
fn inflict(toxi: &Toxiproxy, db: &str, fault: Fault, subject: &mut Subject) {
    let hold = |name: &str, kind: &str, attributes: &str, secs: u64| {
        toxi.add_toxic(name, kind, attributes);
        std::thread::sleep(Duration::from_secs(secs));
        toxi.remove_toxic(name, kind);
    };
    let cut = |name: &str, secs: u64| {
        toxi.set_enabled(name, false);
        std::thread::sleep(Duration::from_secs(secs));
        toxi.set_enabled(name, true);
    };
    match fault {
        Fault::Kill9 => subject.kill9_and_restart(),
        Fault::DbCut => cut(db, 5),
        Fault::DbReset => hold(db, "reset_peer", r#"{"timeout": 0}"#, 3),
        Fault::DbSlow => hold(db, "latency", r#"{"latency": 1500, "jitter": 500}"#, 8),
        Fault::DbThrottle => hold(db, "bandwidth", r#"{"rate": 16}"#, 8),
        Fault::KafkaCut => cut("kafka", 8),
        Fault::KafkaSlow => hold("kafka", "latency", r#"{"latency": 1000}"#, 8),
    }
}

/// Runs the planned faults while logtap streams into `topic`; after each
/// is over, waits until the topic grows again, so every fault hits a
/// logtap that is sending (and a killed one has been replaced by one that
/// sends). Returns the faults with the time to recover from each.
fn chaos_cycles(
    toxi: &Toxiproxy,
    db: &str,
    topic: &str,
    subject: &mut Subject,
    seed: u64,
) -> Vec<(Fault, Duration)> {
    let first = read_topic_until(topic, Duration::from_secs(90), |r| !r.is_empty());
    assert!(!first.is_empty(), "nothing in {topic} before the faults:\n{}", subject.log());
    let mut done = Vec::new();
    for (i, fault) in plan(seed).into_iter().enumerate() {
        let t = Instant::now();
        inflict(toxi, db, fault, subject);
        // Counted once the fault is over: what arrives next was sent after it.
        let before = read_topic(topic).records.len();
        let grew = read_topic_until(topic, Duration::from_secs(150), |r| r.len() > before);
        assert!(
            grew.len() > before,
            "cycle {i} ({fault:?}): nothing new in {topic} within 150 s of the fault's end:\n{}",
            subject.log()
        );
        eprintln!("cycle {i}: {fault:?}, sending again after {:?}", t.elapsed());
        done.push((fault, t.elapsed()));
    }
    done
}

/// The rows a keyed topic replays to (reads and changes, in offset order),
/// by column `id`, and the reads older than a change sent before them.
fn replayed_rows(records: &[Got]) -> (BTreeMap<i64, Json>, Vec<String>) {
    let (rows, stale) = replay_keyed(records);
    let by_id = rows
        .into_iter()
        .map(|(key, row)| {
            let key: Json = serde_json::from_str(&key).expect("a JSON key");
            (key["id"].as_i64().or(key["payload"]["id"].as_i64()).expect("id"), row)
        })
        .collect();
    (by_id, stale)
}

/// Checks one source's outcome and prints its line of the campaign table.
#[allow(clippy::too_many_arguments)]
fn check<O: Ord + Clone + std::hash::Hash + std::fmt::Debug>(
    what: &str,
    faults: &[(Fault, Duration)],
    changes: u64,
    t_records: &[Got],
    s_records: &[Got],
    tables: [&BTreeMap<i64, Json>; 2],
    order: impl Fn(&Json) -> O,
    log: &str,
) {
    let stream: Vec<Got> = t_records
        .iter()
        .filter(|g| g.value.is_some() && g.value_json()["op"] != "r")
        .cloned()
        .collect();
    let replayed = replay_rows(&stream, order);
    let (t_rows, t_stale) = replayed_rows(t_records);
    let (s_rows, s_stale) = replayed_rows(s_records);
    let lost = |rows: &BTreeMap<i64, Json>, table: &BTreeMap<i64, Json>| {
        table.iter().filter(|(k, v)| rows.get(*k) != Some(*v)).count()
            + rows.keys().filter(|k| !table.contains_key(*k)).count()
    };
    let records = t_records.len() + s_records.len();
    let kinds: std::collections::BTreeSet<Fault> = faults.iter().map(|(f, _)| *f).collect();
    eprintln!(
        "| {what} | {} cycles ({} kinds) | {changes} changes + {} rows read | {records} records | {} duplicates | {} lost | {} reordered |",
        faults.len(),
        kinds.len(),
        tables[1].len(),
        stream.len() - replayed.changes,
        lost(&t_rows, tables[0]) + lost(&s_rows, tables[1]),
        replayed.backwards.len() + t_stale.len() + s_stale.len(),
    );
    let tail: String = log.lines().rev().take(60).collect::<Vec<_>>().join("\n");
    assert_eq!(lost(&t_rows, tables[0]), 0, "{what}: the changed table differs\n{tail}");
    assert_eq!(lost(&s_rows, tables[1]), 0, "{what}: the snapshotted table differs\n{tail}");
    assert!(replayed.backwards.is_empty(), "{what}: reordered: {:#?}", replayed.backwards);
    assert!(
        t_stale.is_empty() && s_stale.is_empty(),
        "{what}: stale reads {t_stale:?} {s_stale:?}"
    );
    assert_eq!(replayed.changes as u64, changes, "{what}: distinct changes in the topic");
    assert!(!log.contains("Message timed out"), "{what}: a record was given up by its age");
}

/// One transaction of the workload, as statements for a table `t (id, n,
/// pad)` whose ids `1..=next` were inserted (some deleted or moved since):
/// 20 inserts, updates of 10 earlier ids, deletes of 3, one key change
/// (id → id + 10,000,000); every 30th transaction 2,000 inserts instead.
fn transaction(t: &str, i: u64, next: &mut u64, rng: &mut Rng, my: bool) -> Vec<String> {
    let series = |a: u64, b: u64| {
        if my {
            format!("SELECT seq, 0, concat('p', seq) FROM {}", seq(a, b))
        } else {
            format!("SELECT g, 0, 'p' || g FROM generate_series({a}, {b}) g")
        }
    };
    let n = if i % 30 == 29 { 2000 } else { 20 };
    let mut out = vec![format!("INSERT INTO {t} {}", series(*next + 1, *next + n))];
    let old = *next;
    *next += n;
    if old > 100 {
        let at = 1 + rng.next(old as i64 - 20) as u64;
        out.push(format!("UPDATE {t} SET n = n + 1 WHERE id BETWEEN {at} AND {}", at + 9));
        let gone = 1 + rng.next(old as i64 - 5) as u64;
        out.push(format!("DELETE FROM {t} WHERE id BETWEEN {gone} AND {}", gone + 2));
        let moved = 1 + rng.next(old as i64) as u64;
        out.push(format!("UPDATE {t} SET id = id + 10000000 WHERE id = {moved}"));
    }
    out
}

/// Stream records a statement makes: one per row, two for a key change
/// (a delete of the old key and a create of the new one).
fn records_of(statement: &str, rows: u64) -> u64 {
    if statement.contains("SET id =") {
        2 * rows
    } else {
        rows
    }
}

const PREFILL_T: u64 = 1000;
const PREFILL_S: u64 = 5000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_through_failing_networks_converges() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let toxi = Toxiproxy::from_env();
    toxi.reset();
    let p = unique("pgchaos");
    let (t, s) = (format!("{p}_t"), format!("{p}_s"));
    let pg = pg_superuser().await;
    pg.batch_execute(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, n int NOT NULL, pad text NOT NULL);
         CREATE TABLE {s} (id int PRIMARY KEY, n int NOT NULL, pad text NOT NULL);
         ALTER TABLE {t} OWNER TO cdc; ALTER TABLE {s} OWNER TO cdc;
         INSERT INTO {t} SELECT g, 0, 'p' || g FROM generate_series(1, {PREFILL_T}) g;
         INSERT INTO {s} SELECT g, 0, 's' || g FROM generate_series(1, {PREFILL_S}) g;"
    ))
    .await
    .unwrap();
    let db = p.clone();
    let upstream = format!("{}:{}", env("LOGTAP_PG_HOST"), env("LOGTAP_PG_PORT"));
    let port = toxi.proxy(&db, &upstream);
    let dir = tempfile::tempdir().unwrap();
    let tables = [format!("public.{t}"), format!("public.{s}")];
    let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
    let snapshot = "[snapshot]\nmode = \"initial\"\nchunk_size = 200\n";
    let cfg = pg_config_snapshot(&p, &dir.path().join("off"), &tables, "", snapshot);
    let cfg = through_proxies(&cfg, &env("LOGTAP_PG_PORT"), port);
    let mut subject = Subject::start(dir.path(), &cfg);
    // Changes committed before the slot exists are in the snapshot only.
    let streaming = || subject.log().contains("streaming");
    assert!(wait_until(Duration::from_secs(60), streaming), "{}", subject.log());

    let seed = seed();
    let stop = Arc::new(AtomicBool::new(false));
    let workload = {
        let (stop, t) = (stop.clone(), t.clone());
        tokio::spawn(async move {
            let mut pg = pg_superuser().await;
            let (mut i, mut next, mut changes, mut rng) = (0, PREFILL_T, 0, Rng(seed | 1));
            while !stop.load(Ordering::Relaxed) {
                let tx = pg.transaction().await.unwrap();
                for sql in transaction(&t, i, &mut next, &mut rng, false) {
                    changes += records_of(&sql, tx.execute(sql.as_str(), &[]).await.unwrap());
                }
                tx.commit().await.unwrap();
                i += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            changes
        })
    };
    let topic = format!("{p}.public.{t}");
    let faults =
        tokio::task::block_in_place(|| chaos_cycles(&toxi, &db, &topic, &mut subject, seed));
    stop.store(true, Ordering::Relaxed);
    let changes = workload.await.unwrap();
    toxi.reset();

    let want_t = common::pg_table_rows(&pg, &t).await;
    let want_s = common::pg_table_rows(&pg, &s).await;
    let s_topic = format!("{p}.public.{s}");
    read_topic_until(&topic, Duration::from_secs(240), |got| replayed_rows(got).0 == want_t);
    read_topic_until(&s_topic, Duration::from_secs(60), |got| replayed_rows(got).0 == want_s);
    let log = subject.stop();
    toxi.delete(&db);
    common::drop_slot(&pg, &p.to_lowercase()).await;
    let (got_t, got_s) = (read_topic(&topic).records, read_topic(&s_topic).records);
    let lsn = |v: &Json| v["source"]["lsn"].as_i64().expect("source.lsn");
    check("PostgreSQL", &faults, changes, &got_t, &got_s, [&want_t, &want_s], lsn, &log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_source_through_failing_networks_converges() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let toxi = Toxiproxy::from_env();
    toxi.reset();
    let f = MyFixture::new(
        "mychaos",
        &[
            "CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, pad varchar(20) NOT NULL)",
            "CREATE TABLE s (id int PRIMARY KEY, n int NOT NULL, pad varchar(20) NOT NULL)",
            &format!("INSERT INTO t SELECT seq, 0, concat('p', seq) FROM {}", seq(1, PREFILL_T)),
            &format!("INSERT INTO s SELECT seq, 0, concat('s', seq) FROM {}", seq(1, PREFILL_S)),
        ],
    )
    .await;
    let db = f.prefix.clone();
    let upstream = format!("{}:{}", env("LOGTAP_MYSQL_HOST"), env("LOGTAP_MYSQL_PORT"));
    let port = toxi.proxy(&db, &upstream);
    let cfg = format!("{}[snapshot]\nmode = \"initial\"\nchunk_size = 200\n", f.config(""));
    let cfg = through_proxies(&cfg, &env("LOGTAP_MYSQL_PORT"), port);
    let mut subject = Subject::start(f.dir.path(), &cfg);

    let seed = seed();
    let stop = Arc::new(AtomicBool::new(false));
    let workload = {
        let (stop, db) = (stop.clone(), f.db.clone());
        tokio::spawn(async move {
            let mut c = common::my_root(Some(&db)).await;
            let (mut i, mut next, mut changes, mut rng) = (0, PREFILL_T, 0, Rng(seed | 1));
            while !stop.load(Ordering::Relaxed) {
                c.query_drop("BEGIN").await.unwrap();
                for sql in transaction("t", i, &mut next, &mut rng, true) {
                    c.query_drop(&sql).await.unwrap();
                    changes += records_of(&sql, c.affected_rows());
                }
                c.query_drop("COMMIT").await.unwrap();
                i += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            changes
        })
    };
    let topic = f.topic("t");
    let faults =
        tokio::task::block_in_place(|| chaos_cycles(&toxi, &db, &topic, &mut subject, seed));
    stop.store(true, Ordering::Relaxed);
    let changes = workload.await.unwrap();
    toxi.reset();

    let mut root = f.conn().await;
    let mut want = Vec::new();
    for table in ["t", "s"] {
        let rows: Vec<(i64, i64, String)> =
            root.query(format!("SELECT id, n, pad FROM {table}")).await.unwrap();
        let rows: BTreeMap<i64, Json> = rows
            .into_iter()
            .map(|(id, n, pad)| (id, json!({"id": id, "n": n, "pad": pad})))
            .collect();
        want.push(rows);
    }
    read_topic_until(&topic, Duration::from_secs(240), |got| replayed_rows(got).0 == want[0]);
    read_topic_until(&f.topic("s"), Duration::from_secs(60), |got| replayed_rows(got).0 == want[1]);
    let log = subject.stop();
    toxi.delete(&db);
    let (got_t, got_s) = (read_topic(&topic).records, read_topic(&f.topic("s")).records);
    let stream: Vec<Got> = got_t
        .iter()
        .filter(|g| g.value.is_none() || g.value_json()["op"] != "r")
        .cloned()
        .collect();
    let (violations, _) = replay_violations(&stream);
    let name = MyServer::get().name();
    check(name, &faults, changes, &got_t, &got_s, [&want[0], &want[1]], my_order, &log);
    assert!(violations.is_empty(), "{name}: not a suffix replay: {violations:#?}");
    f.drop_db().await;
}

/// The seed of this run's fault order and workload (printed), from
/// `LOGTAP_CHAOS_SEED` or the clock.
fn seed() -> u64 {
    let seed =
        std::env::var("LOGTAP_CHAOS_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
        });
    eprintln!("chaos seed {seed} (LOGTAP_CHAOS_SEED={seed} repeats it)");
    seed
}

/// `config` with the database port replaced by its proxy's and Kafka's
/// bootstrap by the proxied listener's.
fn through_proxies(config: &str, db_port: &str, proxy_port: u16) -> String {
    let port_line = format!("port = {db_port}\n");
    let kafka_line = format!("bootstrap_servers = \"{}\"\n", env("LOGTAP_KAFKA_BOOTSTRAP"));
    assert!(config.contains(&port_line) && config.contains(&kafka_line), "{config}");
    let proxied = format!("bootstrap_servers = \"{}\"\n", env("LOGTAP_KAFKA_PROXIED_BOOTSTRAP"));
    let out = config.replace(&port_line, &format!("port = {proxy_port}\n"));
    out.replace(&kafka_line, &proxied)
}
