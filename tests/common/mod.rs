//! Shared helpers for the integration tests. They talk to the real Kafka (and
//! later PostgreSQL and MariaDB) that `scripts/services up` starts; the
//! connection settings come from `eval "$(scripts/services env)"`, which
//! `scripts/test` does. Without them the tests fail, saying so.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

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

/// Reads every record of `topic` (all partitions, from the beginning) until
/// `expected` records arrived or `timeout` passed; returns what arrived,
/// ordered by partition then offset.
pub fn consume_all(topic: &str, expected: usize, timeout: Duration) -> Vec<Got> {
    consume(topic, expected, None, timeout)
}

fn consume(
    topic: &str,
    expected: usize,
    idle: Option<(usize, Duration)>,
    timeout: Duration,
) -> Vec<Got> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("logtap-test-"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    // The topic appears when logtap produces its first record.
    let start = Instant::now();
    let mut partitions = 0;
    while start.elapsed() < timeout {
        let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
        partitions = md.topics().first().map_or(0, |t| t.partitions().len() as i32);
        if partitions > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if partitions == 0 {
        return Vec::new();
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning).expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut last = Instant::now();
    while out.len() < expected && start.elapsed() < timeout {
        if let Some((min, quiet)) = idle {
            if out.len() >= min && last.elapsed() > quiet {
                break;
            }
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            last = Instant::now();
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|x| {
                            (x.key.to_string(), x.value.map(<[u8]>::to_vec).unwrap_or_default())
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Got {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers,
            });
        }
    }
    out.sort_by_key(|g| (g.partition, g.offset));
    out
}

/// Per partition of `topic`: (partition, low watermark, high watermark), as
/// the broker reports them. Failure messages print it, so a read-back short
/// of what logtap stored tells whether Kafka holds fewer records or the
/// consumer read fewer.
pub fn watermarks(topic: &str) -> Vec<(i32, i64, i64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("logtap-wm-"))
        .create()
        .expect("consumer");
    let Ok(md) = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)) else {
        return Vec::new();
    };
    let partitions = md.topics().first().map_or(0, |t| t.partitions().len() as i32);
    (0..partitions)
        .map(|p| {
            let (lo, hi) =
                consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).unwrap_or((-1, -1));
            (p, lo, hi)
        })
        .collect()
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
        use std::process::{Command, Stdio};
        let log = dir.join(format!("logtap-{}.log", unique("")));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_logtap"))
            .args(["run", "--config"])
            .arg(path)
            .env("RUST_LOG", "info,logtap_postgres=debug")
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
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_logtap"))
            .args([sub, "--config"])
            .arg(&self.config)
            .output()
            .expect("logtap cli");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

impl Drop for Logtap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// The `[postgres]`, `[kafka]` and `[offsets]` sections for a test, with a
/// unique slot and publication.
pub fn pg_config(
    prefix: &str,
    offsets: &std::path::Path,
    tables: &[&str],
    extra_pg: &str,
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
[sink]
commit_interval_ms = 100
[kafka]
bootstrap_servers = "{kafka}"
linger_ms = 2
[kafka.topics]
partitions = 3
[offsets]
path = "{offsets}"
"#,
        host = env("LOGTAP_PG_HOST"),
        port = env("LOGTAP_PG_PORT"),
        user = env("LOGTAP_PG_USER"),
        db = env("LOGTAP_PG_DB"),
        slot = prefix.to_lowercase().replace('-', "_"),
        kafka = bootstrap(),
        offsets = offsets.display(),
    )
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

/// Reads `topic` from the beginning until no record arrives for `idle`
/// (after at least `min` records), or `max` passes.
pub fn consume_until_idle(topic: &str, min: usize, idle: Duration, max: Duration) -> Vec<Got> {
    consume(topic, usize::MAX, Some((min, idle)), max)
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
