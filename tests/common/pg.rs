//! PostgreSQL fixtures: configs, a table per test, slots and what they
//! confirmed.

use super::*;

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
pub fn pipeline_sections(offsets: &std::path::Path) -> String {
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
