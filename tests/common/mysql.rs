//! MariaDB / MySQL fixtures: the server under test, configs, a database
//! per test, binlog points and GTIDs, the replication threads.

use super::*;
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
