//! `logtap check` against the real MariaDB (or, with
//! `LOGTAP_MYSQL_FLAVOR=mysql`, the MySQL 9.7) that `scripts/services up`
//! starts (ROW binlog, FULL row image and metadata, server_id 1, user `cdc`
//! with REPLICATION SLAVE, BINLOG MONITOR / REPLICATION CLIENT and SELECT). Settings come from
//! `eval "$(scripts/services env)"`. Global binlog settings cannot be
//! changed for one test, so their verdicts are unit tests of the pure
//! evaluation in `src/check.rs`; here the server, the grants and the
//! replicas are real.
#![allow(clippy::unwrap_used)]

use logtap_core::check::{Finding, Level};
use logtap_core::Secret;
use logtap_mysql::check;
use logtap_mysql::MysqlConfig;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn, Opts, OptsBuilder};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the services and export their settings with \
             `scripts/services up && eval \"$(scripts/services env)\"`, or run `scripts/test`"
        )
    })
}

/// Whether the server is MySQL (scripts/test's MySQL pass) or MariaDB.
fn mysql() -> bool {
    std::env::var("LOGTAP_MYSQL_FLAVOR").is_ok_and(|f| f == "mysql")
}

/// The privilege that lets a user see binlog files and positions.
fn monitor() -> &'static str {
    if mysql() {
        "REPLICATION CLIENT"
    } else {
        "BINLOG MONITOR"
    }
}

fn config(user: &str, password: &str, extra: &str) -> MysqlConfig {
    let mut cfg: MysqlConfig = toml::from_str(&format!(
        "host = \"{}\"\nport = {}\nuser = \"{user}\"\n{extra}",
        env("LOGTAP_MYSQL_HOST"),
        env("LOGTAP_MYSQL_PORT"),
    ))
    .unwrap();
    cfg.password = Some(Secret::new(password.to_string()));
    cfg
}

fn cdc(extra: &str) -> MysqlConfig {
    config(&env("LOGTAP_MYSQL_USER"), &env("LOGTAP_MYSQL_PASSWORD"), extra)
}

/// Root over TCP; on MySQL with TLS, which caching_sha2_password wants.
fn root_opts() -> Opts {
    let url = Opts::from_url(&env("LOGTAP_MYSQL_ROOT_URL")).unwrap();
    let mut o = OptsBuilder::from_opts(url).prefer_socket(false);
    if mysql() {
        o = o.ssl_opts(Some(
            mysql_async::SslOpts::default()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ));
    }
    o.into()
}

fn root(extra: &str) -> MysqlConfig {
    let o = root_opts();
    config(o.user().unwrap(), o.pass().unwrap_or(""), extra)
}

/// A name no other test run has used.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}{}x{}", std::process::id(), nanos % 1_000_000_000)
}

fn show(f: &[Finding]) -> String {
    f.iter()
        .map(|f| format!("{:?} {} / fix: {}\n", f.level, f.what, f.fix.as_deref().unwrap_or("-")))
        .collect()
}

fn fails(f: &[Finding]) -> Vec<&Finding> {
    f.iter().filter(|f| f.level == Level::Fail).collect()
}

#[tokio::test]
async fn configured_server_passes() {
    let f = check::run(&cdc(""), "check_test").await.unwrap();
    assert!(fails(&f).is_empty(), "{}", show(&f));
    let server = if mysql() { "MySQL" } else { "MariaDB" };
    assert!(f[0].what.starts_with(&format!("connected to {server}")), "{}", show(&f));
    let privileges = format!("has REPLICATION SLAVE and {}", monitor());
    let mut wanted = vec![
        "log_bin = ON",
        "binlog_format = ROW",
        "binlog_row_image = FULL",
        "binlog_row_metadata = FULL",
        &privileges,
        "logtap",
    ];
    if mysql() {
        wanted.extend(["GTIDs: gtid_mode = ON", "binlog_row_value_options has no PARTIAL_JSON"]);
    } else {
        wanted.extend(["GTIDs: MariaDB gtid_binlog_pos", "log_bin_compress = OFF"]);
    }
    for want in wanted {
        assert!(
            f.iter().any(|f| f.level == Level::Ok && f.what.contains(want)),
            "no ok finding with `{want}`:\n{}",
            show(&f)
        );
    }
    let sid = f.iter().find(|f| f.what.starts_with("server_id ")).unwrap();
    if mysql() {
        // REPLICATION SLAVE lets cdc list the replicas on MySQL.
        assert_eq!(sid.level, Level::Ok, "{}", show(&f));
        assert!(sid.what.contains("registered replica(s)"), "{sid:?}");
        return;
    }
    // cdc may not list replicas on MariaDB 10.5+ (REPLICATION MASTER
    // ADMIN): a warning that says so, not a pass.
    assert_eq!(sid.level, Level::Warn, "{}", show(&f));
    assert!(sid.what.contains("could not be listed"), "{sid:?}");
    assert!(
        sid.fix
            .as_deref()
            .unwrap()
            .ends_with("GRANT REPLICATION MASTER ADMIN ON *.* TO 'cdc'@'%';"),
        "{sid:?}"
    );
}

#[tokio::test]
async fn root_lists_replicas() {
    let f = check::run(&root(""), "check_test").await.unwrap();
    assert!(fails(&f).is_empty(), "{}", show(&f));
    let sid = f.iter().find(|f| f.what.starts_with("server_id ")).unwrap();
    assert_eq!(sid.level, Level::Ok, "{}", show(&f));
    assert!(sid.what.contains("registered replica(s)"), "{sid:?}");
}

#[tokio::test]
async fn the_servers_own_id_fails() {
    let f = check::run(&cdc("server_id = 1"), "check_test").await.unwrap();
    let bad = fails(&f);
    assert_eq!(bad.len(), 1, "{}", show(&f));
    assert!(bad[0].what.contains("server_id 1 is the server's own"), "{:?}", bad[0]);
    assert!(bad[0].fix.as_deref().unwrap().starts_with("[mysql] server_id = "), "{:?}", bad[0]);
}

#[tokio::test]
async fn an_id_a_replica_uses_fails() {
    // A binlog reader registered with this id, as logtap registers.
    let id = 6_000_000 + std::process::id() % 1_000_000;
    let reader = logtap_mysql::conn::connect(&cdc("")).await.unwrap();
    let stream = reader.get_binlog_stream(BinlogStreamRequest::new(id)).await.unwrap();

    let f = check::run(&root(&format!("server_id = {id}")), "check_test").await.unwrap();
    stream.close().await.unwrap();
    let bad = fails(&f);
    assert_eq!(bad.len(), 1, "{}", show(&f));
    assert!(
        bad[0].what.contains(&format!("server_id {id} is already registered by the replica")),
        "{:?}",
        bad[0]
    );
    let fix = bad[0].fix.as_deref().unwrap();
    assert!(fix.starts_with("[mysql] server_id = ") && !fix.contains(&id.to_string()), "{fix}");
}

#[tokio::test]
async fn a_user_without_replication_privileges_fails() {
    let user = unique("lt_check_");
    let mut admin = Conn::new(root_opts()).await.unwrap();
    // Kept out of the binlog, which other tests read.
    admin.query_drop("SET SESSION sql_log_bin = 0").await.unwrap();
    admin.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")).await.unwrap();
    admin.query_drop(format!("GRANT SELECT ON logtap.* TO '{user}'@'%'")).await.unwrap();

    let result = check::run(&config(&user, "pw", ""), "check_test").await;
    admin.query_drop(format!("DROP USER '{user}'@'%'")).await.unwrap();
    admin.disconnect().await.unwrap();

    let f = result.unwrap();
    let bad = fails(&f);
    assert_eq!(bad.len(), 1, "{}", show(&f));
    let lacks = format!("lacks REPLICATION SLAVE and {} (", monitor());
    assert!(bad[0].what.contains(&lacks), "{:?}", bad[0]);
    assert_eq!(
        bad[0].fix.as_deref(),
        Some(format!("GRANT REPLICATION SLAVE, {} ON *.* TO '{user}'@'%';", monitor()).as_str())
    );
    // It sees only the database it may read, and may read it.
    assert!(
        f.iter().any(|f| f.level == Level::Ok && f.what == "would capture 1 database(s): logtap"),
        "{}",
        show(&f)
    );
}
