//! Servers set up wrongly for change capture: `logtap run` must refuse what
//! `logtap check` fails, before it reads or stores anything, with check's
//! message and fix. Each test starts a throwaway MariaDB of its own with
//! the wrong setting (the shared test servers are never changed).
#![allow(clippy::unwrap_used)]

mod common;

use common::{env, free_port, unique, wait_until, Logtap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A MariaDB server in a temporary directory, stopped when dropped.
struct ThrowawayMariadb {
    child: Child,
    port: u16,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl ThrowawayMariadb {
    /// Installs a data directory and starts `mariadbd` with the options
    /// the shared server has, but `binlog_format` as given.
    fn start(binlog_format: &str) -> ThrowawayMariadb {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let socket = dir.path().join("mariadbd.sock");
        // Each its own tmpdir: two installs at once clash in /tmp.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        // mariadbd runs as the mysql user, which must own its directory.
        let owned = Command::new("chown").args(["-R", "mysql:mysql"]).arg(dir.path()).status();
        assert!(owned.unwrap().success(), "chown the throwaway directory");
        let install = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--user=mysql",
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
            ])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .output()
            .expect("mariadb-install-db");
        assert!(install.status.success(), "{}", String::from_utf8_lossy(&install.stderr));
        let port = free_port();
        let child = Command::new(mariadbd())
            .args([
                "--no-defaults",
                "--user=mysql",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
            ])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--port={port}"))
            .arg(format!("--log-bin={}/binlog", data.display()))
            .arg(format!("--binlog-format={binlog_format}"))
            .args(["--binlog-row-image=FULL", "--binlog-row-metadata=FULL", "--server-id=71"])
            .arg(format!("--log-error={}/mariadb.err", dir.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd");
        let server = ThrowawayMariadb { child, port, socket, _dir: dir };
        assert!(
            wait_until(Duration::from_secs(60), || server.root(&["-e", "SELECT 1"]).is_ok()),
            "the throwaway MariaDB did not start"
        );
        server
    }

    /// Runs the `mariadb` client as root over the socket.
    fn root(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-u", "root", "-N", "-B"])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl ThrowawayMariadb {
    /// Creates logtap's user with `grants` (on *.*) and the database
    /// `db`, with `ddl` run after.
    fn cdc_user(&self, grants: &str, db: &str, ddl: &str) {
        let password = env("LOGTAP_MYSQL_PASSWORD");
        let sql = format!(
            "CREATE USER 'cdc'@'127.0.0.1' IDENTIFIED BY '{password}';
             GRANT {grants} ON *.* TO 'cdc'@'127.0.0.1';
             CREATE DATABASE {db}; {ddl}"
        );
        self.root(&["-e", &sql]).unwrap();
    }

    /// A logtap.toml reading this server's database `db` as `cdc`.
    fn config(&self, db: &str, dir: &Path, server_id: u32) -> String {
        format!(
            r#"topic_prefix = "{db}"
[mysql]
host = "127.0.0.1"
port = {port}
user = "cdc"
password_env = "LOGTAP_MYSQL_PASSWORD"
server_id = {server_id}
database_include_list = ["{db}"]
[kafka]
bootstrap_servers = "{kafka}"
[offsets]
path = "{offsets}"
"#,
            port = self.port,
            kafka = common::bootstrap(),
            offsets = dir.join("off").display(),
        )
    }

    /// Starts logtap on `config` and waits for it to exit: its log.
    fn run_until_it_stops(dir: &Path, config: &str) -> (Option<i32>, String) {
        wait_stopped(Logtap::start(dir, config))
    }

    /// logtap's user with every privilege it needs, and `db.t`.
    fn cdc_user_and_table(&self, db: &str) {
        self.cdc_user(
            "SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, REPLICATION CLIENT",
            db,
            &format!("CREATE TABLE {db}.t (id int PRIMARY KEY, v int);"),
        );
    }

    /// An INSERT into `db.t` from a session that logs statements.
    fn statement_insert(&self, db: &str, id: u32) {
        let sql = format!(
            "SET SESSION binlog_format = 'STATEMENT'; INSERT INTO {db}.t VALUES ({id}, 1);"
        );
        self.root(&["-e", &sql]).unwrap();
    }
}

impl Drop for ThrowawayMariadb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mariadbd() -> &'static str {
    if Path::new("/usr/sbin/mariadbd").exists() {
        "/usr/sbin/mariadbd"
    } else {
        "mariadbd"
    }
}

/// `logtap <sub>` on `config` (written into `dir`): success, stdout+stderr.
fn cli(dir: &Path, config: &str, sub: &str) -> (bool, String) {
    let path = dir.join("logtap.toml");
    std::fs::write(&path, config).unwrap();
    common::logtap_cli(sub, &path)
}

/// Waits for `l` to exit: its exit code and log.
fn wait_stopped(mut l: Logtap) -> (Option<i32>, String) {
    let exited = wait_until(Duration::from_secs(60), || l.child.try_wait().unwrap().is_some());
    let log = l.log_text();
    assert!(exited, "run must stop here:\n{log}");
    (l.child.wait().unwrap().code(), log)
}

/// Starts logtap on `config` and waits until it reads the binlog.
fn start_streaming(dir: &Path, config: &str) -> Logtap {
    let l = Logtap::start(dir, config);
    let streaming =
        wait_until(Duration::from_secs(60), || l.log_text().contains("starting the binlog stream"));
    assert!(streaming, "run must start:\n{}", l.log_text());
    l
}

/// A MariaDB whose binlog logs statements: `check` fails it, and `run`
/// must stop before reading (nothing sent, nothing stored) rather than
/// stream past the INSERT, UPDATE and DELETE it cannot see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_a_statement_binlog_with_checks_message_and_stores_nothing() {
    let server = ThrowawayMariadb::start("STATEMENT");
    let prefix = unique("stmtbin");
    server.cdc_user_and_table(&prefix);
    let dir = tempfile::tempdir().unwrap();
    let config = server.config(&prefix, dir.path(), 5_400_171);
    let (ok, check) = cli(dir.path(), &config, "check");
    assert!(!ok && check.contains("binlog_format = STATEMENT"), "check must fail it:\n{check}");

    // Changes the statement binlog holds; logtap must not step over them.
    server
        .root(&[
            "-e",
            &format!(
                "INSERT INTO {prefix}.t VALUES (1, 1); UPDATE {prefix}.t SET v = 2;
                 DELETE FROM {prefix}.t;"
            ),
        ])
        .unwrap();
    let (code, log) = ThrowawayMariadb::run_until_it_stops(dir.path(), &config);
    assert_eq!(code, Some(1), "a stop for an operator:\n{log}");
    assert!(log.contains("binlog_format = STATEMENT"), "check's message:\n{log}");
    assert!(log.contains("fix: SET GLOBAL binlog_format = 'ROW'"), "check's fix:\n{log}");
    assert!(!log.contains("starting the binlog stream"), "nothing read:\n{log}");
    let (_, status) = cli(dir.path(), &config, "status");
    assert!(status.contains("no stored positions"), "nothing stored:\n{status}");

    // The same server set right: run starts (the refusal was the setting).
    server.root(&["-e", "SET GLOBAL binlog_format = 'ROW'"]).unwrap();
    start_streaming(dir.path(), &config).kill9();
}

/// A MariaDB user without BINLOG MONITOR: `run` names the missing grant
/// (it once showed MySQL 8.4's statement's syntax error from MariaDB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_names_the_missing_binlog_monitor_grant() {
    let server = ThrowawayMariadb::start("ROW");
    let prefix = unique("nomonitor");
    server.cdc_user("SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE", &prefix, "");
    let dir = tempfile::tempdir().unwrap();
    let config = server.config(&prefix, dir.path(), 5_400_172);
    let (code, log) = ThrowawayMariadb::run_until_it_stops(dir.path(), &config);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("fix: GRANT BINLOG MONITOR ON *.* TO cdc"), "names the grant:\n{log}");
    assert!(!log.contains("LOG STATUS"), "not the other server's syntax error:\n{log}");
}

/// A session that switches itself to binlog_format = STATEMENT (the server
/// is ROW, so run started): its INSERT reaches the binlog as a statement,
/// which logtap cannot capture. It stops there, naming the statement; with
/// event_processing_failure_handling_mode = "warn" it passes it, warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_logged_as_a_statement_stops_or_is_passed_with_a_warning() {
    let server = ThrowawayMariadb::start("ROW");
    let prefix = unique("stmtsess");
    server.cdc_user_and_table(&prefix);
    let dir = tempfile::tempdir().unwrap();
    let config = server.config(&prefix, dir.path(), 5_400_173);
    let l = start_streaming(dir.path(), &config);
    server.statement_insert(&prefix, 1);
    let (code, log) = wait_stopped(l);
    assert_eq!(code, Some(1), "a change it cannot see must stop it:\n{log}");
    assert!(log.contains("logged as a statement") && log.contains("INSERT INTO"), "{log}");

    let warn = config.replace(
        "database_include_list",
        "event_processing_failure_handling_mode = \"warn\"\ndatabase_include_list",
    );
    let l = start_streaming(dir.path(), &warn);
    server.statement_insert(&prefix, 2);
    // A change logged as rows after it: the stream went on past the statement.
    server.root(&["-e", &format!("INSERT INTO {prefix}.t VALUES (3, 3);")]).unwrap();
    let topic = format!("{prefix}.{prefix}.t");
    let got = common::read_topic_until(&topic, Duration::from_secs(60), |g| !g.is_empty());
    let passed = wait_until(Duration::from_secs(60), || {
        l.log_text().contains("skipped a change it cannot process")
    });
    let log = l.log_text();
    l.kill9();
    assert!(passed, "warn mode passes it with a warning:\n{log}");
    let ids: Vec<i64> = got.iter().filter_map(|g| g.value_json()["after"]["id"].as_i64()).collect();
    assert_eq!(ids, [3], "only the row change is sent, after the statement:\n{log}");
}

// ---- PostgreSQL ------------------------------------------------------------

/// A PostgreSQL server in a temporary directory (the harness's binaries,
/// run as `postgres`), stopped when dropped.
struct ThrowawayPostgres {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl ThrowawayPostgres {
    /// A new cluster started with `wal_level` as given, with logtap's role
    /// `cdc` (REPLICATION) owning table `t`.
    async fn start(wal_level: &str) -> ThrowawayPostgres {
        let dir = tempfile::tempdir().unwrap();
        let owned = Command::new("chown").args(["-R", "postgres"]).arg(dir.path()).status();
        assert!(owned.unwrap().success(), "chown the throwaway directory");
        let initdb = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{}/initdb", env("LOGTAP_PG_BIN")))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(dir.path().join("data"))
            .output()
            .expect("initdb");
        assert!(initdb.status.success(), "{}", String::from_utf8_lossy(&initdb.stderr));
        let port = free_port();
        let server =
            ThrowawayPostgres { child: Self::spawn(dir.path(), port, wal_level), port, dir };
        server.sql("CREATE ROLE cdc LOGIN REPLICATION PASSWORD 'cdc'; GRANT CREATE ON DATABASE postgres TO cdc; CREATE TABLE t (id int PRIMARY KEY); ALTER TABLE t OWNER TO cdc;").await;
        server
    }

    fn spawn(dir: &Path, port: u16, wal_level: &str) -> Child {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{}/postgres", env("LOGTAP_PG_BIN")))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(format!("port={port}"))
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.display()))
            .arg("-c")
            .arg(format!("wal_level={wal_level}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres")
    }

    /// Stops the server and starts it again on the same port with `wal_level`.
    fn restart(&mut self, wal_level: &str) {
        self.stop("fast");
        self.child = Self::spawn(self.dir.path(), self.port, wal_level);
    }

    /// `pg_ctl stop` (runuser does not pass every signal on to postgres).
    fn stop(&mut self, mode: &str) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(format!("{}/pg_ctl", env("LOGTAP_PG_BIN")))
            .args(["stop", "-w", "-m", mode, "-D"])
            .arg(self.dir.path().join("data"))
            .stdout(Stdio::null())
            .status();
        let _ = self.child.wait();
    }

    /// Runs `sql` as the superuser, waiting for the server to accept it.
    async fn sql(&self, sql: &str) {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        for _ in 0..150 {
            if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                tokio::spawn(conn);
                client.batch_execute(sql).await.unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the throwaway PostgreSQL did not start");
    }

    /// A logtap.toml capturing `public.t` as `cdc`.
    fn config(&self, prefix: &str, dir: &Path) -> String {
        common::pg_config(prefix, &dir.join("off"), &["public.t"], "")
            .replace(&format!("port = {}", env("LOGTAP_PG_PORT")), &format!("port = {}", self.port))
            .replace(&format!("database = \"{}\"", env("LOGTAP_PG_DB")), "database = \"postgres\"")
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        self.stop("immediate");
    }
}

/// Asserts `run` on `config` stops with check's message and fix before it
/// makes a slot or stores a position.
async fn run_refuses(dir: &Path, config: &str, message: &str, fix: &str) {
    let (code, log) = wait_stopped(Logtap::start(dir, config));
    assert_eq!(code, Some(1), "a stop for an operator:\n{log}");
    assert!(log.contains("is not set up for change capture") && log.contains(message), "{log}");
    assert!(log.contains(&format!("fix: {fix}")), "check's fix:\n{log}");
    assert!(!log.contains("streaming"), "nothing read:\n{log}");
    let (_, status) = cli(dir, config, "status");
    assert!(status.contains("no stored positions"), "nothing stored:\n{status}");
}

/// wal_level = replica: `check` fails it and `run` stops before it makes a
/// slot, with the setting's fix; the same server restarted with `logical`
/// streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_a_postgres_without_logical_wal_level() {
    let mut server = ThrowawayPostgres::start("replica").await;
    let dir = tempfile::tempdir().unwrap();
    let config = server.config(&unique("pgwal"), dir.path());
    let (ok, check) = cli(dir.path(), &config, "check");
    assert!(!ok && check.contains("FAIL wal_level = replica"), "check must fail it:\n{check}");
    let fix = "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL";
    run_refuses(dir.path(), &config, "wal_level = replica", fix).await;

    server.restart("logical");
    server.sql("SELECT 1").await;
    let l = Logtap::start(dir.path(), &config);
    let streams = wait_until(Duration::from_secs(60), || l.log_text().contains("streaming"));
    let log = l.log_text();
    l.kill9();
    assert!(streams, "the refusal was the setting:\n{log}");
}

/// A table logtap's role may read but does not own: PostgreSQL lets only
/// the owner add it to a publication. `check` said "will be created" and
/// `run` failed at CREATE PUBLICATION with the whole statement; now both
/// name the tables and the statement that works, and `run` makes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_tables_it_may_not_publish_and_makes_no_slot() {
    let f = common::PgFixture::new("pgowner", "id int PRIMARY KEY").await;
    let table = &f.table;
    f.pg.batch_execute(&format!(
        "ALTER TABLE {table} OWNER TO postgres; GRANT SELECT ON {table} TO cdc"
    ))
    .await
    .unwrap();
    let (ok, check) = cli(f.dir.path(), &f.config, "check");
    let owner = "only a table's owner may add it to a publication";
    assert!(!ok && check.contains(owner), "check must fail it:\n{check}");
    assert!(!check.contains("will be created by logtap run"), "not both:\n{check}");
    let fix = format!("as the tables' owner or a superuser: CREATE PUBLICATION \"{}\" FOR TABLE \"public\".\"{table}\";", f.slot());
    run_refuses(f.dir.path(), &f.config, owner, &fix).await;
    let slots = "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1";
    assert!(f.pg.query(slots, &[&f.slot()]).await.unwrap().is_empty(), "no slot made");

    f.pg.batch_execute(&format!("ALTER TABLE {table} OWNER TO cdc")).await.unwrap();
    f.start().kill9();
    common::drop_slot(&f.pg, &f.slot()).await;
}
