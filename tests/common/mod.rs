//! Shared helpers for the integration tests. They talk to the real Kafka (and
//! later PostgreSQL and MariaDB) that `scripts/services up` starts; the
//! connection settings come from `eval "$(scripts/services env)"`, which
//! `scripts/test` does. Without them the tests fail, saying so.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

pub mod snapshots;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// An environment variable the harness sets.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the services and export their settings with \
             `scripts/services up && eval \"$(scripts/services env)\"`, or run `scripts/test`"
        )
    })
}

pub fn bootstrap() -> String {
    env("LOGTAP_KAFKA_BOOTSTRAP")
}

/// A topic name no other test run has used.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}{}x{}", std::process::id(), nanos % 1_000_000_000)
}

/// One record read back from Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Got {
    pub fn key_str(&self) -> String {
        String::from_utf8_lossy(self.key.as_deref().unwrap_or_default()).into_owned()
    }
    pub fn value_json(&self) -> serde_json::Value {
        match &self.value {
            None => serde_json::Value::Null,
            Some(v) => serde_json::from_slice(v).expect("value is JSON"),
        }
    }
}

/// Everything one topic holds, read the one way that can prove "nothing
/// lost": the high watermark of every partition is taken first, then each
/// partition is read from its low watermark up to that mark, offset by
/// offset. Reading stops at the marks, never at a record count (a replayed
/// duplicate would satisfy a count while a later record is still missing),
/// and offsets must arrive one after the other, so nothing is skipped
/// unseen (a reset to the end would be one: it is switched off). Call it
/// only after logtap has stored the position the test checks (stopped with
/// SIGTERM, or its stored position seen past the workload): records
/// acknowledged before that are then below the marks.
#[derive(Debug, Clone)]
pub struct TopicRead {
    pub records: Vec<Got>,
    /// (partition, low, high) as the broker reported them before the read.
    pub watermarks: Vec<(i32, i64, i64)>,
}

impl TopicRead {
    /// Change records only (tombstones left out).
    pub fn changes(&self) -> impl Iterator<Item = &Got> {
        self.records.iter().filter(|g| g.value.is_some())
    }
}

/// (partition, low, high) of each partition of a topic.
type Watermarks = Vec<(i32, i64, i64)>;

/// A new consumer (explicit offsets only) and each partition's (low, high)
/// watermarks of `topic`, or what failed.
fn partition_watermarks(topic: &str) -> Result<(BaseConsumer, Watermarks), String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("logtap-read-"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        // Explicit offsets only: a reset would silently skip records.
        .set("auto.offset.reset", "error")
        .create()
        .expect("consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| format!("metadata of {topic}: {e}"))?;
    let partitions = match md.topics().first() {
        Some(t) if t.error().is_none() => t.partitions().len() as i32,
        _ => 0,
    };
    let mut watermarks = Vec::new();
    for p in 0..partitions {
        let (lo, hi) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .map_err(|e| format!("watermarks of {topic} [{p}]: {e}"))?;
        watermarks.push((p, lo, hi));
    }
    Ok((consumer, watermarks))
}

/// Reads `topic` as [`TopicRead`] describes; an absent topic reads empty.
pub fn read_topic(topic: &str) -> TopicRead {
    // A broker just back from a fault may refuse a request or two, and a
    // consumer that asked it then can go on answering "unknown partition"
    // from its own metadata for over a minute while the broker is fine (a
    // CI run: the broker had its leaders back 3 s after a SIGCONT, and the
    // consumer that asked during those 3 s was refused for the next 60 s:
    // "Meta data fetch error: UnknownPartition"; another: AllBrokersDown
    // for 60 s after a kill -9 while the controller came back). So an
    // attempt that stops moving is dropped and a new consumer reads again,
    // for up to 180 s.
    let start = Instant::now();
    loop {
        let read = partition_watermarks(topic).and_then(|(consumer, watermarks)| {
            let records = read_to_watermarks(&consumer, topic, &watermarks)?;
            Ok(TopicRead { records, watermarks })
        });
        match read {
            Ok(read) => return read,
            Err(e) if start.elapsed() > Duration::from_secs(180) => panic!("{e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// Every record of `topic` below `watermarks`' high marks, in offset order
/// per partition; an error when 30 s pass without a record.
fn read_to_watermarks(
    consumer: &BaseConsumer,
    topic: &str,
    watermarks: &Watermarks,
) -> Result<Vec<Got>, String> {
    let mut tpl = TopicPartitionList::new();
    let mut next: std::collections::BTreeMap<i32, (i64, i64)> = Default::default();
    for &(p, lo, hi) in watermarks {
        if hi > lo {
            tpl.add_partition_offset(topic, p, Offset::Offset(lo)).expect("tpl");
            next.insert(p, (lo, hi));
        }
    }
    let mut records = Vec::new();
    if !next.is_empty() {
        consumer.assign(&tpl).expect("assign");
    }
    let mut moved = Instant::now();
    // Consumer errors (a broker connection down, ...) are retried by
    // librdkafka; nothing can be skipped unseen, since every offset up to
    // the high watermark must arrive in order. They are reported if the
    // read stops moving.
    let mut errors = Vec::new();
    while next.values().any(|(n, hi)| n < hi) {
        if moved.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "{topic}: partitions not read up to their high watermarks, nothing for 30 s: (partition, next, high) {:?}; consumer errors {errors:?}",
                next.iter().map(|(p, (n, h))| (p, n, h)).collect::<Vec<_>>()
            ));
        }
        let Some(m) = consumer.poll(Duration::from_millis(200)) else { continue };
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        let Some((n, hi)) = next.get_mut(&m.partition()) else { continue };
        if m.offset() >= *hi {
            continue;
        }
        assert_eq!(
            m.offset(),
            *n,
            "{topic} [{}]: offset {} read where {} was next (a gap in a delete-policy topic)",
            m.partition(),
            m.offset(),
            n
        );
        *n += 1;
        moved = Instant::now();
        records.push(got(&m));
    }
    records.sort_by_key(|g| (g.partition, g.offset));
    Ok(records)
}

fn got(m: &rdkafka::message::BorrowedMessage<'_>) -> Got {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|x| (x.key.to_string(), x.value.map(<[u8]>::to_vec).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    Got {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers,
    }
}

/// Reads `topic` (as [`read_topic`]) again and again until `done` holds for
/// what it holds, or `timeout` passes; returns the last read either way, for
/// the caller's assertion. A wait, not a proof: tests that check "nothing
/// lost" read once more after logtap has stored its position.
pub fn read_topic_until(
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&[Got]) -> bool,
) -> Vec<Got> {
    let start = Instant::now();
    loop {
        let read = read_topic(topic).records;
        if done(&read) || start.elapsed() > timeout {
            return read;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Waits until `topic` holds at least `n` records; returns all it holds.
pub fn read_at_least(topic: &str, n: usize, timeout: Duration) -> Vec<Got> {
    read_topic_until(topic, timeout, |r| r.len() >= n)
}

/// Deletes `topics` (a test that creates many partitions gives them back, so
/// repeated runs do not fill the broker's heap).
/// Creates `topic` with `partitions` partitions (replication factor 1), so
/// that logtap, finding it, does not create it with the configured count.
pub async fn create_topic(topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin");
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = admin.create_topics([&new], &AdminOptions::new()).await.expect("create topic");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
}

pub async fn delete_topics(topics: &[&str]) {
    use rdkafka::admin::{AdminClient, AdminOptions};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin");
    let _ = admin.delete_topics(topics, &AdminOptions::new()).await;
}

/// Kills `first` with SIGKILL six times at pseudo-random moments (each
/// wait `base_ms` plus up to `spread_ms`), restarting logtap on `config`
/// in `dir` after each kill; returns the running instance and the number
/// of kills.
pub async fn kill9_six_times(
    first: Logtap,
    dir: &std::path::Path,
    config: &str,
    base_ms: u64,
    spread_ms: u64,
) -> (Logtap, u32) {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let mut current = first;
    let mut kills = 0;
    for round in 0..6u32 {
        let jitter = u64::from(nanos >> (round * 4)) % spread_ms;
        tokio::time::sleep(Duration::from_millis(base_ms + jitter)).await;
        // Only a kill of a logtap still running counts: one that had
        // already exited (an error) was not killed at all.
        let alive = current.child.try_wait().expect("try_wait").is_none();
        eprintln!(
            "kill -9 {round} after {} ms: logtap was {}",
            base_ms + jitter,
            if alive { "running" } else { "already gone" }
        );
        assert!(alive, "logtap exited before kill {round}:\n{}", current.log_text());
        current.kill9();
        kills += 1;
        current = Logtap::start(dir, config);
    }
    (current, kills)
}

/// Runs one of Kafka's own Java tools from the harness's jar directory.
pub fn java_tool(class: &str, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let libs = env("LOGTAP_KAFKA_LIBS");
    let mut cmd = Command::new("java");
    cmd.arg("-cp").arg(format!("{libs}/*"));
    if let Ok(log4j) = std::env::var("LOGTAP_KAFKA_TOOLS_LOG4J") {
        cmd.arg(format!("-Dlog4j2.configurationFile=file:{log4j}"));
    }
    cmd.arg(class).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("java");
    {
        let mut sin = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            sin.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("java output");
    assert!(
        out.status.success(),
        "{class} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `logtap run` child process on a config file written for it.
pub struct Logtap {
    pub child: std::process::Child,
    pub config: std::path::PathBuf,
    pub log: std::path::PathBuf,
}

impl Logtap {
    /// Writes `config` into `dir` and starts `logtap run` on it, logging to a file.
    pub fn start(dir: &std::path::Path, config: &str) -> Logtap {
        let path = dir.join("logtap.toml");
        std::fs::write(&path, config).expect("write config");
        Self::start_on(dir, &path)
    }

    pub fn start_on(dir: &std::path::Path, path: &std::path::Path) -> Logtap {
        Self::start_with_env(dir, path, &[])
    }

    /// [`Logtap::start_on`] with these environment variables set for it.
    pub fn start_with_env(
        dir: &std::path::Path,
        path: &std::path::Path,
        vars: &[(&str, &str)],
    ) -> Logtap {
        use std::process::{Command, Stdio};
        let log = dir.join(format!("logtap-{}.log", unique("")));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_logtap"))
            .args(["run", "--config"])
            .arg(path)
            .env("RUST_LOG", "info,logtap_postgres=debug")
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn logtap");
        Logtap { child, config: path.to_path_buf(), log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then wait; panics with the log if it does not exit 0.
    pub fn stop(mut self) -> String {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("wait");
        let log = self.log_text();
        assert!(status.success(), "logtap exited with {status}:\n{log}");
        log
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs `logtap <sub> --config <this config>` and returns stdout+stderr.
    pub fn cli(&self, sub: &str) -> (bool, String) {
        logtap_cli(sub, &self.config)
    }
}

/// Runs `logtap <sub> --config <config>` (no logtap needs to run; `sub`
/// split at spaces, e.g. "reset --yes"): whether it succeeded, and stdout
/// followed by stderr.
pub fn logtap_cli(sub: &str, config: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(sub.split_whitespace())
        .arg("--config")
        .arg(config)
        .output()
        .expect("logtap cli");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

impl Drop for Logtap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scripts/services up`: starts whichever harness server is not running
/// (after a test stopped or killed one). In scripts/test's MySQL pass
/// `LOGTAP_MYSQL_PORT` names MySQL's port; MariaDB's own is in
/// `LOGTAP_MARIADB_PORT`, and scripts/services must get that one.
pub fn services_up() {
    let services = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services");
    let mut cmd = std::process::Command::new(services);
    if let Ok(port) = std::env::var("LOGTAP_MARIADB_PORT") {
        cmd.env("LOGTAP_MYSQL_PORT", port);
    }
    let out = cmd.arg("up").stdin(std::process::Stdio::null()).output().expect("scripts/services");
    assert!(
        out.status.success(),
        "scripts/services up failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until process `pid` is gone; panics naming `what` if it is not
/// within `timeout`.
pub fn wait_exited(pid: &str, what: &str, timeout: Duration) {
    assert!(
        wait_until(timeout, || !std::path::Path::new(&format!("/proc/{pid}")).exists()),
        "{what} (pid {pid}) did not exit"
    );
}

/// A superuser connection to the harness's PostgreSQL.
pub async fn pg_superuser() -> tokio_postgres::Client {
    let url = env("LOGTAP_PG_SUPERUSER_URL");
    let (client, conn) =
        tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect to PostgreSQL");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The `[sink]`, `[kafka]` and `[offsets]` sections every source test
/// shares: quick commits and batches, three partitions.
fn pipeline_sections(offsets: &std::path::Path) -> String {
    format!(
        r#"[sink]
commit_interval_ms = 100
[kafka]
bootstrap_servers = "{kafka}"
linger_ms = 2
[kafka.topics]
partitions = 3
[offsets]
path = "{offsets}"
"#,
        kafka = bootstrap(),
        offsets = offsets.display(),
    )
}

/// The `[postgres]`, `[kafka]` and `[offsets]` sections for a test, with a
/// unique slot and publication.
pub fn pg_config(
    prefix: &str,
    offsets: &std::path::Path,
    tables: &[&str],
    extra_pg: &str,
) -> String {
    pg_config_snapshot(prefix, offsets, tables, extra_pg, "[snapshot]\nmode = \"no_data\"\n")
}

/// [`pg_config`] with this `[snapshot]` section (streaming tests read no rows).
pub fn pg_config_snapshot(
    prefix: &str,
    offsets: &std::path::Path,
    tables: &[&str],
    extra_pg: &str,
    snapshot: &str,
) -> String {
    let list = tables.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
    format!(
        r#"topic_prefix = "{prefix}"
[postgres]
host = "{host}"
port = {port}
user = "{user}"
password_env = "LOGTAP_PG_PASSWORD"
database = "{db}"
slot_name = "{slot}"
publication_name = "{slot}"
table_include_list = [{list}]
status_interval_ms = 1000
{extra_pg}
{snapshot}
{pipeline}"#,
        host = env("LOGTAP_PG_HOST"),
        port = env("LOGTAP_PG_PORT"),
        user = env("LOGTAP_PG_USER"),
        db = env("LOGTAP_PG_DB"),
        slot = prefix.to_lowercase().replace('-', "_"),
        pipeline = pipeline_sections(offsets),
    )
}

/// The rows of PostgreSQL table `table (id int, n int, pad text)` as an
/// id → row map, to compare with a replayed topic.
pub async fn pg_table_rows(
    pg: &tokio_postgres::Client,
    table: &str,
) -> std::collections::BTreeMap<i64, serde_json::Value> {
    pg.query(&format!("SELECT id, n, pad FROM {table} ORDER BY id"), &[])
        .await
        .expect("read the table")
        .iter()
        .map(|r| {
            let (id, n, pad): (i32, i32, String) = (r.get(0), r.get(1), r.get(2));
            (i64::from(id), serde_json::json!({"id": id, "n": n, "pad": pad}))
        })
        .collect()
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Drops a test's replication slot once logtap has let go of it, so repeated
/// runs against one server do not exhaust `max_replication_slots`.
pub async fn drop_slot(pg: &tokio_postgres::Client, slot: &str) {
    for _ in 0..50 {
        let dropped = pg
            .query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
                &[&slot],
            )
            .await
            .map(|rows| !rows.is_empty())
            .unwrap_or(false);
        let exists = pg
            .query_opt("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
            .await
            .map(|r| r.is_some())
            .unwrap_or(false);
        if dropped || !exists {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A one-table PostgreSQL test: table `<prefix>_t (<columns>)` owned by the
/// capture role (so logtap may publish it), a scratch directory, and a
/// config capturing the table with a slot and publication of its own.
pub struct PgFixture {
    pub prefix: String,
    pub table: String,
    pub pg: tokio_postgres::Client,
    pub dir: tempfile::TempDir,
    pub config: String,
}

impl PgFixture {
    pub async fn new(kind: &str, columns: &str) -> PgFixture {
        let prefix = unique(kind);
        let table = format!("{prefix}_t");
        let pg = pg_superuser().await;
        pg.batch_execute(&format!(
            "CREATE TABLE {table} ({columns}); ALTER TABLE {table} OWNER TO cdc;"
        ))
        .await
        .expect("create the test table");
        let dir = tempfile::tempdir().expect("tempdir");
        let qualified = format!("public.{table}");
        let config = pg_config(&prefix, &dir.path().join("off"), &[&qualified], "");
        PgFixture { prefix, table, pg, dir, config }
    }

    /// Starts logtap on the fixture's config and waits until it streams.
    pub fn start(&self) -> Logtap {
        let l = Logtap::start(self.dir.path(), &self.config);
        assert!(
            wait_until(Duration::from_secs(30), || l.log_text().contains("streaming")),
            "logtap did not start streaming:\n{}",
            l.log_text()
        );
        l
    }

    /// The topic of the fixture's table.
    pub fn topic(&self) -> String {
        format!("{}.public.{}", self.prefix, self.table)
    }

    /// The slot name `pg_config` derives from the prefix.
    pub fn slot(&self) -> String {
        self.prefix.to_lowercase().replace('-', "_")
    }
}

// ---- MariaDB / MySQL ---------------------------------------------------------

use mysql_async::prelude::Queryable;

/// The MySQL-protocol server the tests talk to. MariaDB by default; MySQL
/// when `LOGTAP_MYSQL_FLAVOR=mysql`, which `scripts/test` sets for its
/// second pass over these tests, with the `LOGTAP_MYSQL_*` settings pointed
/// at MySQL 9.7. The two differ in SQL (sequence tables, binlog status),
/// GTID format and Debezium's connector name, so tests ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MyServer {
    MariaDb,
    MySql,
}

impl MyServer {
    pub fn get() -> MyServer {
        match std::env::var("LOGTAP_MYSQL_FLAVOR").as_deref() {
            Ok("mysql") => MyServer::MySql,
            Ok("mariadb") | Err(_) => MyServer::MariaDb,
            Ok(other) => panic!("LOGTAP_MYSQL_FLAVOR={other}: expected mysql or mariadb"),
        }
    }

    /// Debezium's `source.connector` (and its schema namespace).
    pub fn connector(self) -> &'static str {
        match self {
            MyServer::MariaDb => "mariadb",
            MyServer::MySql => "mysql",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MyServer::MariaDb => "MariaDB",
            MyServer::MySql => "MySQL",
        }
    }

    /// Whether `gtid` looks like one transaction's GTID of this server:
    /// `0-1-42` (MariaDB, domain 0, server 1) or `<uuid>:42` (MySQL).
    pub fn is_gtid(self, gtid: &str) -> bool {
        match self {
            MyServer::MariaDb => gtid.starts_with("0-1-"),
            MyServer::MySql => gtid
                .split_once(':')
                .is_some_and(|(uuid, n)| uuid.len() == 36 && n.parse::<u64>().is_ok()),
        }
    }
}

/// A table expression with one column `seq` holding `a..=b`, for
/// `INSERT INTO t SELECT seq, ... FROM {seq(a, b)}`: MariaDB's sequence
/// engine, or a recursive CTE on MySQL (whose sessions from [`my_root`]
/// allow the recursion depth).
pub fn seq(a: u64, b: u64) -> String {
    match MyServer::get() {
        MyServer::MariaDb => format!("seq_{a}_to_{b}"),
        MyServer::MySql => format!(
            "(WITH RECURSIVE s (seq) AS (SELECT {a} UNION ALL SELECT seq + 1 FROM s WHERE seq < {b}) \
             SELECT seq FROM s) AS seq_{a}_to_{b}"
        ),
    }
}

/// A root connection to the harness's server (`LOGTAP_MYSQL_ROOT_URL`),
/// with `db` as its default database, utf8mb4 and a UTC session time zone
/// (so TIMESTAMP literals in tests are UTC). MySQL's root logs in with
/// caching_sha2_password, which wants TLS (the server's own certificate).
pub async fn my_root(db: Option<&str>) -> mysql_async::Conn {
    let url = env("LOGTAP_MYSQL_ROOT_URL");
    let opts = mysql_async::Opts::from_url(&url).expect("LOGTAP_MYSQL_ROOT_URL");
    let mut opts = mysql_async::OptsBuilder::from_opts(opts).db_name(db.map(str::to_string));
    let server = MyServer::get();
    if server == MyServer::MySql {
        opts = opts.ssl_opts(Some(
            mysql_async::SslOpts::default()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ));
    }
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .unwrap_or_else(|e| panic!("connect to {} as root: {e}", server.name()));
    conn.query_drop("SET NAMES utf8mb4").await.expect("SET NAMES");
    conn.query_drop("SET time_zone = '+00:00'").await.expect("SET time_zone");
    if server == MyServer::MySql {
        conn.query_drop("SET SESSION cte_max_recursion_depth = 100000000")
            .await
            .expect("SET cte_max_recursion_depth");
    }
    conn
}

/// A point in the server's binary log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogPoint {
    /// The executed GTIDs: `@@gtid_binlog_pos` on MariaDB (`0-1-123`),
    /// `@@gtid_executed` on MySQL (`<uuid>:1-123`); empty before the first.
    pub gtid: String,
    /// The current binlog file and its end.
    pub file: String,
    pub pos: u64,
}

/// Where the server's binary log ends now.
pub async fn binlog_point(conn: &mut mysql_async::Conn) -> BinlogPoint {
    let (gtid_sql, status_sql) = match MyServer::get() {
        MyServer::MariaDb => ("SELECT @@gtid_binlog_pos", "SHOW MASTER STATUS"),
        // SHOW MASTER STATUS is gone in MySQL 8.4.
        MyServer::MySql => ("SELECT @@global.gtid_executed", "SHOW BINARY LOG STATUS"),
    };
    let gtid: String = conn
        .query_first(gtid_sql)
        .await
        .unwrap_or_else(|e| panic!("{gtid_sql}: {e}"))
        .unwrap_or_default();
    let row: mysql_async::Row = conn
        .query_first(status_sql)
        .await
        .unwrap_or_else(|e| panic!("{status_sql}: {e}"))
        .expect("binary logging is off on the test server");
    let file: String = row.get(0).expect("File");
    let pos: u64 = row.get(1).expect("Position");
    // MySQL's set may span lines (one per server uuid).
    let gtid = gtid.split_whitespace().collect::<Vec<_>>().join("");
    BinlogPoint { gtid, file, pos }
}

/// The sequence number of a transaction's GTID, or the highest one in a
/// GTID position/set, of the harness server's own GTIDs: `0-1-123` in a
/// MariaDB position (domain 0), `<uuid>:123` or `<uuid>:1-123` on MySQL.
/// Comparable within one server: both number transactions in commit order.
pub fn gtid_seq(gtid: &str) -> u64 {
    let n = if gtid.contains(':') {
        gtid.rsplit(':').next().and_then(|r| r.rsplit('-').next())
    } else {
        gtid.split(',')
            .map(str::trim)
            .find(|g| g.starts_with("0-"))
            .and_then(|g| g.rsplit('-').next())
    };
    n.and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a GTID of the test server: {gtid:?}"))
}

/// The GTID of the transaction a session committed last: MariaDB's
/// `@@last_gtid`; on MySQL the session's newest committed transaction in
/// performance_schema (MySQL has no such variable, and mysql_async does
/// not ask for session-state tracking).
pub async fn last_gtid(conn: &mut mysql_async::Conn) -> String {
    match MyServer::get() {
        MyServer::MariaDb => {
            conn.query_first("SELECT @@last_gtid").await.expect("@@last_gtid").unwrap_or_default()
        }
        MyServer::MySql => conn
            .query_first(
                "SELECT GTID FROM performance_schema.events_transactions_history \
                 WHERE THREAD_ID = PS_CURRENT_THREAD_ID() AND STATE = 'COMMITTED' \
                 AND GTID LIKE '%:%' ORDER BY EVENT_ID DESC LIMIT 1",
            )
            .await
            .expect("events_transactions_history")
            .unwrap_or_default(),
    }
}

/// A replica server id for a test, derived from its topic prefix (FNV-1a),
/// away from the server's own (1) and from logtap's default range.
pub fn my_server_id(prefix: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in prefix.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    6000 + h % 1_000_000
}

/// A logtap config for the MySQL source: `[mysql]` capturing `dbs`,
/// starting at `start` when nothing is stored, plus `[sink]`, `[kafka]`
/// (3 partitions) and `[offsets]` as the PostgreSQL tests have them.
/// `extra_mysql` lines go into `[mysql]`; append other sections to the result.
pub fn my_config(
    prefix: &str,
    dbs: &[&str],
    start: &BinlogPoint,
    offsets: &std::path::Path,
    extra_mysql: &str,
) -> String {
    let list = dbs.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ");
    let from = if start.gtid.is_empty() {
        format!("initial_binlog = \"{}:{}\"", start.file, start.pos)
    } else {
        format!("initial_gtid = \"{}\"", start.gtid)
    };
    format!(
        r#"topic_prefix = "{prefix}"
[mysql]
host = "{host}"
port = {port}
user = "{user}"
password_env = "LOGTAP_MYSQL_PASSWORD"
server_id = {server_id}
database_include_list = [{list}]
{from}
{extra_mysql}
{pipeline}"#,
        host = env("LOGTAP_MYSQL_HOST"),
        port = env("LOGTAP_MYSQL_PORT"),
        user = env("LOGTAP_MYSQL_USER"),
        server_id = my_server_id(prefix),
        pipeline = pipeline_sections(offsets),
    )
}

/// A MariaDB or MySQL test: its own database (named like its topic prefix), created
/// with `ddl` run in it, and the binlog point right after, where logtap
/// starts (`initial_gtid`), so no change of the test is missed however late
/// logtap connects.
pub struct MyFixture {
    pub prefix: String,
    pub db: String,
    pub start: BinlogPoint,
    pub dir: tempfile::TempDir,
}

impl MyFixture {
    pub async fn new(kind: &str, ddl: &[&str]) -> MyFixture {
        let prefix = unique(kind);
        let db = prefix.clone();
        let mut root = my_root(None).await;
        root.query_drop(format!("CREATE DATABASE `{db}` CHARACTER SET utf8mb4"))
            .await
            .expect("CREATE DATABASE");
        root.query_drop(format!("USE `{db}`")).await.expect("USE");
        for sql in ddl {
            root.query_drop(*sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let start = binlog_point(&mut root).await;
        let _ = root.disconnect().await;
        let dir = tempfile::tempdir().expect("tempdir");
        MyFixture { prefix, db, start, dir }
    }

    /// A root connection using the fixture's database.
    pub async fn conn(&self) -> mysql_async::Conn {
        my_root(Some(&self.db)).await
    }

    /// Runs `sql`, one statement after the other, on a new root connection.
    pub async fn exec(&self, sql: &[&str]) {
        let mut c = self.conn().await;
        for s in sql {
            c.query_drop(*s).await.unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        let _ = c.disconnect().await;
    }

    /// The fixture's config (its prefix, database and start point).
    pub fn config(&self, extra_mysql: &str) -> String {
        my_config(&self.prefix, &[&self.db], &self.start, &self.dir.path().join("off"), extra_mysql)
    }

    /// Starts logtap on the fixture's config (plus `extra_mysql` lines in
    /// `[mysql]` and `extra_sections` after the config).
    pub fn start(&self, extra_mysql: &str, extra_sections: &str) -> Logtap {
        Logtap::start(self.dir.path(), &format!("{}{extra_sections}", self.config(extra_mysql)))
    }

    /// Another logtap on the fixture's database, with topic prefix `prefix`
    /// (so its own topics, server id and offsets), in a directory of its own.
    pub fn start_as(&self, prefix: &str, extra_mysql: &str, extra_sections: &str) -> Logtap {
        let dir = self.dir.path().join(prefix);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let cfg = my_config(prefix, &[&self.db], &self.start, &dir.join("off"), extra_mysql);
        Logtap::start(&dir, &format!("{cfg}{extra_sections}"))
    }

    /// The topic of one of the fixture's tables.
    pub fn topic(&self, table: &str) -> String {
        format!("{}.{}.{}", self.prefix, self.db, table)
    }

    /// Drops the database (at the end of a test that passed).
    pub async fn drop_db(&self) {
        let mut c = my_root(None).await;
        let _ = c.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.db)).await;
        let _ = c.disconnect().await;
    }
}

/// Local ports of `pid`'s TCP connections to `remote_port` (from /proc).
pub fn tcp_local_ports(pid: u32, remote_port: u16) -> Vec<u16> {
    let mut inodes = std::collections::HashSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy().into_owned();
                if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    let port = |addr: &str| addr.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && port(f[2]) == Some(remote_port) && inodes.contains(f[9]) {
                out.extend(port(f[1]));
            }
        }
    }
    out
}

/// The server threads of logtap process `pid`'s connections (matched by
/// client port): its binlog dump threads (`dump`: `Binlog Dump`, or
/// `Binlog Dump GTID` on MySQL, in the process list), or all the others
/// (the catalog reader's).
pub async fn my_threads(conn: &mut mysql_async::Conn, pid: u32, dump: bool) -> Vec<u64> {
    let server_port: u16 = env("LOGTAP_MYSQL_PORT").parse().expect("LOGTAP_MYSQL_PORT");
    let ports = tcp_local_ports(pid, server_port);
    let not = if dump { "" } else { "NOT " };
    let rows: Vec<(u64, String)> = conn
        .query(format!(
            "SELECT ID, HOST FROM information_schema.PROCESSLIST WHERE COMMAND {not}LIKE 'Binlog Dump%'"
        ))
        .await
        .expect("PROCESSLIST");
    rows.into_iter()
        .filter(|(_, host)| {
            host.rsplit(':')
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .is_some_and(|p| ports.contains(&p))
        })
        .map(|(id, _)| id)
        .collect()
}

/// Where a MySQL source record sits in the binlog: (GTID sequence number,
/// file, position, row). Transactions are ordered by their GTID; within one,
/// by the rows event and the row in it.
pub fn my_order(v: &serde_json::Value) -> (u64, String, u64, u64) {
    let s = &v["source"];
    let gtid = s["gtid"].as_str().unwrap_or_else(|| panic!("source.gtid missing: {v}"));
    (
        gtid_seq(gtid),
        s["file"].as_str().unwrap_or_else(|| panic!("source.file missing: {v}")).to_string(),
        s["pos"].as_u64().unwrap_or_else(|| panic!("source.pos missing: {v}")),
        s["row"].as_u64().unwrap_or_else(|| panic!("source.row missing: {v}")),
    )
}

/// Checks that each partition's records are the sequence of distinct
/// records in order, where a restart may only replay a run that ends where
/// the sequence had got to (at-least-once from a stored position): after a
/// repeated record, the next ones repeat the records that followed it, until
/// the replay has caught up; only then may a record never seen before come.
/// A tombstone is identified by the record of its key before it. Returns
/// the violations (empty when fine) and the number of replayed records.
pub fn replay_violations(records: &[Got]) -> (Vec<String>, usize) {
    use std::collections::HashMap;
    let mut violations = Vec::new();
    let mut replayed = 0;
    // Per partition: the distinct records in order, their indexes, the replay cursor.
    type Partition = (Vec<String>, HashMap<String, usize>, usize);
    let mut parts: HashMap<i32, Partition> = HashMap::new();
    let mut last_of_key: HashMap<(i32, String), String> = HashMap::new();
    for g in records {
        let key = (g.partition, g.key_str());
        let id = match &g.value {
            None => format!(
                "tombstone after {}",
                last_of_key.get(&key).cloned().unwrap_or_else(|| "nothing".into())
            ),
            Some(_) => {
                let v = g.value_json();
                let s = &v["source"];
                format!(
                    "{} {} {}:{} row {} op {} key {}",
                    v["source"]["table"], s["gtid"], s["file"], s["pos"], s["row"], v["op"], key.1
                )
            }
        };
        last_of_key.insert(key, id.clone());
        let (seq, index, cursor) = parts.entry(g.partition).or_default();
        match index.get(&id) {
            Some(&i) => {
                // A replay: starts anywhere at or before the cursor, then follows the sequence.
                replayed += 1;
                if i > *cursor {
                    violations.push(format!(
                        "partition {} offset {}: {id} repeated ahead of the replay position",
                        g.partition, g.offset
                    ));
                }
                *cursor = i + 1;
            }
            None => {
                if *cursor != seq.len() {
                    violations.push(format!(
                        "partition {} offset {}: new record {id} while replaying ({} of {} records replayed); the replay skipped {}",
                        g.partition,
                        g.offset,
                        *cursor,
                        seq.len(),
                        seq[*cursor]
                    ));
                }
                index.insert(id.clone(), seq.len());
                seq.push(id);
                *cursor = seq.len();
            }
        }
    }
    (violations, replayed)
}

/// Replays change records into an id → row map as a consumer that ignores
/// changes older than what it applied would: per id (column `id` of the
/// after or before image) the change latest by `order` (its position in the
/// source) wins. Also lists the ids whose first deliveries went backwards in
/// that order (a reordering; replays of a suffix are not).
pub fn replay_rows<O: Ord + Clone + std::hash::Hash + std::fmt::Debug>(
    records: &[Got],
    order: impl Fn(&serde_json::Value) -> O,
) -> Replayed {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let mut rows: BTreeMap<i64, (O, Option<serde_json::Value>)> = BTreeMap::new();
    let mut backwards = Vec::new();
    let mut seen: HashSet<(i64, O, String)> = HashSet::new();
    let mut last_new: HashMap<i64, O> = HashMap::new();
    for g in records {
        let v = g.value_json();
        if v.is_null() {
            continue;
        }
        let op = v["op"].as_str().expect("op").to_string();
        let id = v["after"]["id"].as_i64().or(v["before"]["id"].as_i64()).expect("id");
        let at = order(&v);
        if seen.insert((id, at.clone(), op.clone())) {
            if let Some(prev) = last_new.insert(id, at.clone()) {
                if at < prev {
                    backwards.push(format!("id {id}: {op} at {at:?} after {prev:?}"));
                }
            }
        }
        let row = if op == "d" { None } else { Some(v["after"].clone()) };
        let e = rows.entry(id).or_insert((at.clone(), row.clone()));
        if at >= e.0 {
            *e = (at, row);
        }
    }
    Replayed {
        rows: rows.into_iter().filter_map(|(k, (_, r))| r.map(|r| (k, r))).collect(),
        backwards,
        changes: seen.len(),
    }
}

/// What [`replay_rows`] found.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// id → row after the newest change of each id (deleted ids absent).
    pub rows: std::collections::BTreeMap<i64, serde_json::Value>,
    /// Ids whose first deliveries went backwards in source order.
    pub backwards: Vec<String>,
    /// Distinct changes (id, position, op) among the change records; the
    /// rest of the change records are replayed duplicates.
    pub changes: usize,
}

/// The ids whose rows differ between a replayed topic and a table, for a
/// failure message.
pub fn row_diff(
    topic: &std::collections::BTreeMap<i64, serde_json::Value>,
    table: &std::collections::BTreeMap<i64, serde_json::Value>,
) -> String {
    let mut out = Vec::new();
    for (k, v) in topic {
        if table.get(k) != Some(v) {
            out.push(format!("id {k}: topic {v} table {:?}", table.get(k)));
        }
    }
    for (k, v) in table {
        if !topic.contains_key(k) {
            out.push(format!("id {k}: missing from the topic, table {v}"));
        }
    }
    let n = out.len();
    out.truncate(10);
    format!("{n} differences, first: {out:#?}")
}

/// Whether `slot`, on the server `pg` is connected to, confirms `lsn`
/// (`confirmed_flush_lsn`) within `timeout`.
pub async fn slot_confirms(
    pg: &tokio_postgres::Client,
    slot: &str,
    lsn: &str,
    timeout: Duration,
) -> bool {
    let until = std::time::Instant::now() + timeout;
    loop {
        let ok: Option<bool> = pg
            .query_opt(
                "SELECT confirmed_flush_lsn >= $1::text::pg_lsn FROM pg_replication_slots WHERE slot_name = $2",
                &[&lsn, &slot],
            )
            .await
            .expect("read the slot")
            .and_then(|r| r.get(0));
        if ok == Some(true) {
            return true;
        }
        if std::time::Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the slot has confirmed the WAL written so far: logtap has
/// then stored a position past every change made before this call. (The
/// insert position: the harness runs with `synchronous_commit = off`, so
/// the write position may not have reached a commit yet.)
pub async fn wait_confirmed(pg: &tokio_postgres::Client, slot: &str, l: &Logtap) {
    let lsn: String = pg
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await
        .expect("WAL position")
        .get(0);
    if !slot_confirms(pg, slot, &lsn, Duration::from_secs(60)).await {
        panic!("slot {slot} did not confirm {lsn} in 60 s:\n{}", l.log_text());
    }
}
