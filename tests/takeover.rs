//! Taking over from a running Debezium: Debezium 3.6.1 (its embedded
//! engine, offsets in Kafka Connect's offsets topic, as a Kafka Connect
//! deployment keeps them) streams a workload and is stopped in the middle
//! of it, `logtap offsets import --from-debezium` takes its stored offset,
//! and logtap streams the rest. Both outputs together must hold every
//! version of every row once, each key's versions in order, and logtap may
//! repeat only Debezium's last records (those after its stored offset).
//!
//! Needs Java (installed by scripts/services) and Debezium's jars, which
//! `scripts/debezium-engine` fetches from Maven Central once.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The class path of Debezium's jars and the project's Java tools.
fn classpath() -> &'static str {
    static CP: OnceLock<String> = OnceLock::new();
    CP.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/debezium-engine");
        let out = Command::new(script).stdin(Stdio::null()).output().expect("debezium-engine");
        assert!(
            out.status.success(),
            "scripts/debezium-engine failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cp = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // Debezium's MariaDB connector, when scripts/capture-debezium built
        // it from a Debezium checkout (not on Maven Central for 3.6).
        let mariadb =
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/debezium-capture/mariadb-classes");
        format!("{cp}:{mariadb}")
    })
}

/// A Debezium embedded engine writing every record it delivers to a file.
struct Debezium {
    child: Child,
    out: PathBuf,
    log: PathBuf,
}

impl Debezium {
    /// Starts the engine; it stops by itself after `stop_after` records.
    fn start(dir: &Path, props: &str, stop_after: usize) -> Debezium {
        let conf = dir.join("debezium.properties");
        std::fs::write(&conf, props).unwrap();
        let (out, stop, log) =
            (dir.join("debezium.jsonl"), dir.join("debezium.stop"), dir.join("debezium.log"));
        let child = Command::new("java")
            .args(["-Xmx512m", "-cp", classpath(), "logtap.capture.Handover"])
            .arg(&conf)
            .arg(&out)
            .arg(&stop)
            .arg("300")
            .arg(stop_after.to_string())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("java");
        Debezium { child, out, log }
    }

    /// The change records delivered so far (value envelopes, in order).
    fn changes(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|r| {
                let v = r.get("value").cloned().unwrap_or(Value::Null);
                let v = v.get("payload").cloned().unwrap_or(v);
                (!v.is_null()).then_some(v)
            })
            .collect()
    }

    /// The end of its log (where an error is).
    fn log_text(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().filter(|l| !l.starts_with('\t')).collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits until the engine stopped by itself (it commits the offsets of
    /// what it delivered when it closes).
    fn stopped(mut self) -> Vec<Value> {
        let status = self.child.wait().expect("wait for Debezium");
        assert!(status.success(), "Debezium failed:\n{}", self.log_text());
        self.changes()
    }
}

impl Drop for Debezium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One change as (key, version): rows carry their version in `n`, which
/// every write raises by one (an insert writes 0).
fn version(v: &Value) -> Option<(i64, i64)> {
    let v = v.get("payload").unwrap_or(v);
    let after = v.get("after").filter(|a| !a.is_null())?;
    Some((after["id"].as_i64()?, after["n"].as_i64()?))
}

/// Checks two outputs, `first` then `second` (the one that took over),
/// against the table's final versions and returns (first's changes,
/// second's, repeated by second). Repeats may only be a tail of `first`
/// (what it sent after its stored position).
fn check_handover(
    first: &[(i64, i64)],
    second: &[(i64, i64)],
    last: &BTreeMap<i64, i64>,
) -> (usize, usize, usize) {
    let seconds: BTreeSet<_> = second.iter().copied().collect();
    let first_repeat = first.iter().position(|c| seconds.contains(c)).unwrap_or(first.len());
    let missing_tail: Vec<_> =
        first[first_repeat..].iter().filter(|c| !seconds.contains(c)).collect();
    assert!(
        missing_tail.is_empty(),
        "the second repeated the first's change {:?} but not the later {missing_tail:?}: not a tail",
        first.get(first_repeat)
    );
    // Every version of every key, each key's in order, none twice.
    let mut by_key: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (id, n) in first[..first_repeat].iter().chain(second) {
        by_key.entry(*id).or_default().push(*n);
    }
    assert_eq!(
        by_key.keys().collect::<Vec<_>>(),
        last.keys().collect::<Vec<_>>(),
        "keys seen vs keys in the table"
    );
    for (id, seen) in &by_key {
        let want: Vec<i64> = (0..=last[id]).collect();
        let missing: Vec<_> = want.iter().filter(|n| !seen.contains(n)).collect();
        assert_eq!(
            seen, &want,
            "key {id}: versions delivered (first's, then second's); missing {missing:?}"
        );
    }
    (first.len(), second.len(), first.len() - first_repeat)
}

/// `logtap offsets import --from-debezium <from...> --config <cfg>`, which
/// must succeed; what it said.
fn import(cfg: &Path, from: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(["offsets", "import", "--from-debezium"])
        .args(from)
        .arg("--config")
        .arg(cfg)
        .output()
        .unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "import failed:\n{said}");
    said
}

/// Waits until `topic` and Debezium's changes hold every row's last
/// version, stops logtap, and checks the handover (nothing lost, each
/// key in order, nothing repeated).
fn check_after_switch(l: Logtap, topic: &str, dbz_changes: &[Value], last: &BTreeMap<i64, i64>) {
    let dbz: Vec<(i64, i64)> = dbz_changes.iter().filter_map(version).collect();
    let caught_up = wait_until(Duration::from_secs(120), || {
        let mut seen: BTreeSet<(i64, i64)> =
            read_topic(topic).changes().filter_map(|g| version(&g.value_json())).collect();
        seen.extend(dbz.iter().copied());
        last.iter().all(|(id, n)| seen.contains(&(*id, *n)))
    });
    let log = l.stop();
    assert!(caught_up, "logtap did not deliver the last versions in time:\n{log}");
    let mine: Vec<(i64, i64)> =
        read_topic(topic).changes().filter_map(|g| version(&g.value_json())).collect();
    let (from_dbz, from_logtap, repeated) = check_handover(&dbz, &mine, last);
    eprintln!(
        "handover: Debezium {from_dbz} changes, logtap {from_logtap}, repeated {repeated}, lost 0"
    );
    // A closed engine commits the offset of everything it delivered: no
    // tail to repeat (an import that ignored `lsn_proc` repeats thousands).
    assert_eq!(repeated, 0, "logtap repeated changes Debezium had committed");
}

/// Debezium's PostgreSQL connector on the fixture's table, slot and
/// publication, offsets in `store` (its `offset.storage*` lines).
fn pg_debezium_props(f: &PgFixture, name: &str, store: &str) -> String {
    format!(
        "name={name}\n\
         connector.class=io.debezium.connector.postgresql.PostgresConnector\n\
         {store}offset.flush.interval.ms=1000\n\
         database.hostname={host}\ndatabase.port={port}\n\
         database.user={user}\ndatabase.password={password}\ndatabase.dbname={db}\n\
         topic.prefix={prefix}\nplugin.name=pgoutput\n\
         slot.name={slot}\npublication.name={slot}\npublication.autocreate.mode=filtered\n\
         table.include.list=public.{t}\nsnapshot.mode=initial\n\
         key.converter.schemas.enable=false\nvalue.converter.schemas.enable=false\n\
         converter.schemas.enable=false\n",
        prefix = f.prefix,
        host = env("LOGTAP_PG_HOST"),
        port = env("LOGTAP_PG_PORT"),
        user = env("LOGTAP_PG_USER"),
        password = env("LOGTAP_PG_PASSWORD"),
        db = env("LOGTAP_PG_DB"),
        slot = f.slot(),
        t = f.table,
    )
}

/// Each row's version (`n`) in the fixture's table now.
async fn pg_versions(f: &PgFixture) -> BTreeMap<i64, i64> {
    f.pg.query(&format!("SELECT id, n FROM {}", f.table), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (i64::from(r.get::<_, i32>(0)), i64::from(r.get::<_, i32>(1))))
        .collect()
}

/// Small transactions: each raises three rows and inserts one.
async fn small_transactions(pg: &tokio_postgres::Client, table: &str, next_id: &mut i64, n: usize) {
    for i in 0..n {
        pg.batch_execute(&small_transaction(table, i, *next_id)).await.unwrap();
        *next_id += 1;
    }
}

/// The `i`th small transaction: raises three distinct rows of 1..=50 and
/// inserts row `id` (SQL both servers run).
fn small_transaction(table: &str, i: usize, id: i64) -> String {
    let k = i as i64;
    format!(
        "BEGIN; UPDATE {table} SET n = n + 1 WHERE id IN ({}, {}, {}); \
         INSERT INTO {table} VALUES ({id}, 0, 'x'); COMMIT",
        1 + k % 50,
        1 + (k + 17) % 50,
        1 + (k + 34) % 50,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_takes_over_from_debezium_without_a_gap() {
    let f = PgFixture::new("takeover", "id int PRIMARY KEY, n int NOT NULL, pad text").await;
    let t = &f.table;
    f.pg.batch_execute(&format!("INSERT INTO {t} SELECT g, 0, 'x' FROM generate_series(1, 50) g"))
        .await
        .unwrap();
    let offsets_topic = format!("{}-connect-offsets", f.prefix);
    let store = format!(
        "offset.storage=org.apache.kafka.connect.storage.KafkaOffsetBackingStore\n\
         offset.storage.topic={offsets_topic}\noffset.storage.partitions=5\n\
         offset.storage.replication.factor=1\nbootstrap.servers={}\n",
        bootstrap()
    );
    let props = pg_debezium_props(&f, &format!("{}-connector", f.prefix), &store);
    // Stopped while it delivers the big transaction below.
    let before_big = 50 + 4 + 30 * 4;
    let dbz = Debezium::start(f.dir.path(), &props, before_big + 2_000);
    let mut next_id = 51;
    // Streaming once a change made after its snapshot comes through.
    let streaming = wait_until(Duration::from_secs(120), || dbz.changes().len() >= 50);
    assert!(streaming, "Debezium did not snapshot:\n{}", dbz.log_text());
    small_transactions(&f.pg, t, &mut next_id, 1).await;
    let streaming = wait_until(Duration::from_secs(60), || dbz.changes().len() >= 54);
    assert!(streaming, "Debezium did not stream:\n{}", dbz.log_text());
    small_transactions(&f.pg, t, &mut next_id, 30).await;
    // A big transaction: Debezium stops while it delivers it.
    let big: String =
        (0..400).map(|_| format!("UPDATE {t} SET n = n + 1 WHERE id <= 50;")).collect();
    f.pg.batch_execute(&format!("BEGIN; {big} COMMIT;")).await.unwrap();
    let dbz_changes = dbz.stopped();
    // Changes while nothing reads, then logtap takes over.
    small_transactions(&f.pg, t, &mut next_id, 20).await;
    let cfg = f.dir.path().join("logtap.toml");
    std::fs::write(&cfg, &f.config).unwrap();
    // A config naming another slot is refused before anything is stored.
    let wrong = f.dir.path().join("wrong-slot.toml");
    let slot_line = format!("slot_name = \"{}\"", f.slot());
    std::fs::write(&wrong, f.config.replace(&slot_line, "slot_name = \"no_such_slot\"")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(["offsets", "import", "--from-debezium", "--topic", &offsets_topic, "--config"])
        .arg(&wrong)
        .output()
        .unwrap();
    let refused = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success() && refused.contains("slot.name"), "{refused}");
    let said = import(&cfg, &["--topic", &offsets_topic]);
    assert!(said.contains(&format!("{}-connector", f.prefix)), "{said}");
    // Stopped while it delivered the big transaction: its offset is inside it.
    assert!(said.contains("then transaction"), "not inside a transaction: {said}");
    let l = Logtap::start_on(f.dir.path(), &cfg);
    small_transactions(&f.pg, t, &mut next_id, 20).await;
    let last = pg_versions(&f).await;
    check_after_switch(l, &f.topic(), &dbz_changes, &last);
    drop_slot(&f.pg, &f.slot()).await;
}

/// MySQL 9.7 in `scripts/test`'s MySQL pass: Debezium 3.6's MySQL
/// connector refuses MariaDB, and its MariaDB connector is not on Maven
/// Central, so the normal (MariaDB) run skips this test by name. Run by
/// hand on MariaDB once `scripts/capture-debezium mariadb` has built that
/// connector from a Debezium checkout. Debezium's offsets in its file
/// store here (Debezium Server's default kind).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql97_takes_over_from_debezium_without_a_gap() {
    use mysql_async::prelude::Queryable;
    let class = match MyServer::get() {
        MyServer::MySql => "io.debezium.connector.mysql.MySqlConnector",
        MyServer::MariaDb => "io.debezium.connector.mariadb.MariaDbConnector",
    };
    let f = MyFixture::new(
        "mytakeover",
        &["CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, pad text)",
          "INSERT INTO t SELECT seq, 0, 'x' FROM (WITH RECURSIVE s(seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s WHERE seq < 50) SELECT seq FROM s) g"],
    )
    .await;
    let offsets_file = f.dir.path().join("debezium-offsets.dat");
    let props = format!(
        "name={prefix}-connector\n\
         connector.class={class}\n\
         offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore\n\
         offset.storage.file.filename={file}\n\
         offset.flush.interval.ms=1000\n\
         database.hostname={host}\ndatabase.port={port}\n\
         database.user={user}\ndatabase.password={password}\n\
         database.server.id={server_id}\n\
         topic.prefix={prefix}\ndatabase.include.list={db}\ntable.include.list={db}.t\n\
         schema.history.internal=io.debezium.relational.history.MemorySchemaHistory\n\
         snapshot.mode=initial\nsnapshot.locking.mode=none\n\
         key.converter.schemas.enable=false\nvalue.converter.schemas.enable=false\n\
         converter.schemas.enable=false\n",
        prefix = f.prefix,
        file = offsets_file.display(),
        host = env("LOGTAP_MYSQL_HOST"),
        port = env("LOGTAP_MYSQL_PORT"),
        user = env("LOGTAP_MYSQL_USER"),
        password = env("LOGTAP_MYSQL_PASSWORD"),
        server_id = my_server_id(&f.prefix) + 1,
        db = f.db,
    );
    let before_big = 50 + 4 + 30 * 4;
    let dbz = Debezium::start(f.dir.path(), &props, before_big + 2_000);
    let snapshot = wait_until(Duration::from_secs(120), || dbz.changes().len() >= 50);
    assert!(snapshot, "Debezium did not snapshot:\n{}", dbz.log_text());
    let mut c = f.conn().await;
    let mut next_id = 51;
    my_small_transactions(&mut c, &mut next_id, 1).await;
    let streaming = wait_until(Duration::from_secs(60), || dbz.changes().len() >= 54);
    assert!(streaming, "Debezium did not stream:\n{}", dbz.log_text());
    my_small_transactions(&mut c, &mut next_id, 30).await;
    let big: String =
        (0..400).map(|_| "UPDATE t SET n = n + 1 WHERE id <= 50;".to_string()).collect();
    c.query_drop(format!("BEGIN; {big} COMMIT")).await.unwrap();
    let dbz_changes = dbz.stopped();
    my_small_transactions(&mut c, &mut next_id, 20).await;
    let cfg = f.dir.path().join("logtap.toml");
    std::fs::write(&cfg, f.config("")).unwrap();
    let said = import(&cfg, &["--file", &offsets_file.display().to_string()]);
    assert!(said.contains("(skip "), "not inside a transaction: {said}");
    let l = Logtap::start_on(f.dir.path(), &cfg);
    my_small_transactions(&mut c, &mut next_id, 20).await;
    let rows: Vec<(i32, i32)> = c.query("SELECT id, n FROM t").await.unwrap();
    let _ = c.disconnect().await;
    let last: BTreeMap<i64, i64> =
        rows.into_iter().map(|(id, n)| (i64::from(id), i64::from(n))).collect();
    check_after_switch(l, &f.topic("t"), &dbz_changes, &last);
    f.drop_db().await;
}

/// [`small_transactions`] on MySQL.
async fn my_small_transactions(c: &mut mysql_async::Conn, next_id: &mut i64, n: usize) {
    use mysql_async::prelude::Queryable;
    for i in 0..n {
        c.query_drop(small_transaction("t", i, *next_id)).await.unwrap();
        *next_id += 1;
    }
}

/// The way back: logtap streams, stops, `logtap offsets export
/// --to-debezium --file` writes Debezium's offset file, and Debezium 3.6.1
/// (same slot, file offset store, `snapshot.mode = initial`) goes on from
/// there: every version once across both outputs, nothing repeated after
/// logtap's drained stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_hands_back_to_debezium_without_a_gap() {
    let f = PgFixture::new("handback", "id int PRIMARY KEY, n int NOT NULL, pad text").await;
    let t = &f.table;
    let l = f.start();
    f.pg.batch_execute(&format!("INSERT INTO {t} SELECT g, 0, 'x' FROM generate_series(1, 50) g"))
        .await
        .unwrap();
    let mut next_id = 51;
    small_transactions(&f.pg, t, &mut next_id, 20).await;
    let logtap_count = 50 + 20 * 4;
    let read = wait_until(Duration::from_secs(60), || {
        read_topic(&f.topic()).changes().count() >= logtap_count
    });
    let log = l.stop();
    assert!(read, "logtap did not stream:\n{log}");
    // Changes while nothing reads, then the export and Debezium.
    small_transactions(&f.pg, t, &mut next_id, 10).await;
    let cfg = f.dir.path().join("logtap.toml");
    let file = f.dir.path().join("debezium-offsets.dat");
    let out = Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(["offsets", "export", "--to-debezium", "--connector", "back", "--file"])
        .arg(&file)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "export failed:\n{said}");
    let store = format!(
        "offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore\n\
         offset.storage.file.filename={}\n",
        file.display()
    );
    let props = pg_debezium_props(&f, "back", &store);
    // Debezium sends the 10 transactions made meanwhile and 10 more, then
    // stops by itself.
    let dbz = Debezium::start(f.dir.path(), &props, 20 * 4);
    small_transactions(&f.pg, t, &mut next_id, 10).await;
    let dbz_changes = dbz.stopped();
    let last = pg_versions(&f).await;
    let mine: Vec<(i64, i64)> =
        read_topic(&f.topic()).changes().filter_map(|g| version(&g.value_json())).collect();
    let dbz: Vec<(i64, i64)> = dbz_changes.iter().filter_map(version).collect();
    let reads = dbz_changes.iter().filter(|v| v["op"] == "r").count();
    assert_eq!(reads, 0, "Debezium took a snapshot instead of going on from the offset");
    let (from_logtap, from_dbz, repeated) = check_handover(&mine, &dbz, &last);
    eprintln!(
        "hand-back: logtap {from_logtap} changes, Debezium {from_dbz}, repeated {repeated}, lost 0"
    );
    assert_eq!(repeated, 0, "Debezium repeated changes logtap had stored");
    drop_slot(&f.pg, &f.slot()).await;
}
