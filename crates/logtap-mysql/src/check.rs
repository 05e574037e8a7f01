//! `logtap check` for MySQL/MariaDB: every prerequisite of reading the
//! binlog as a replica, each failure with the SQL or setting that fixes it.
//!
//! The server is asked once for its settings, grants, replicas and
//! databases; what they mean is decided by pure functions (`evaluate`,
//! `server_id_finding`, `privilege_findings`, `capture_findings`),
//! so every verdict is tested without a server configured wrongly. Global
//! settings are read (`@@GLOBAL.`), since those are what new sessions, and
//! so the binlog, get.

use crate::config::MysqlConfig;
use crate::conn::{classify, connect, query_text, server_info, Flavor};
use crate::grants::{has_any, like, parse_grant, Grant};
use logtap_core::check::Level;
use logtap_core::check::{fail, ok, warn, Finding};
use logtap_core::{ErrorKind, PipelineError};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// ER_UNKNOWN_SYSTEM_VARIABLE: the variable does not exist in this version.
const UNKNOWN_VARIABLE: u16 = 1193;
/// ER_PARSE_ERROR: the statement does not exist in this version.
const PARSE_ERROR: u16 = 1064;

/// Binlogs kept for less than this are warned about.
const MIN_RETENTION_SECS: f64 = 86_400.0;

/// Runs every check against the server in `cfg`; `topic_prefix` gives the
/// server id logtap registers with when `server_id` is not set.
pub async fn run(cfg: &MysqlConfig, topic_prefix: &str) -> Result<Vec<Finding>, PipelineError> {
    let mut conn = connect(cfg).await?;
    let out = checks(cfg, topic_prefix, &mut conn).await;
    // Closing politely is a courtesy; the findings do not depend on it.
    let _ = conn.disconnect().await;
    out
}

async fn checks(
    cfg: &MysqlConfig,
    topic_prefix: &str,
    conn: &mut Conn,
) -> Result<Vec<Finding>, PipelineError> {
    let info = server_info(cfg, conn).await?;
    let mut out = vec![ok(format!(
        "connected to {} {} at {}:{} as {}",
        flavor_name(info.flavor),
        info.version,
        cfg.host,
        cfg.port,
        cfg.user
    ))];

    let settings = read_settings(cfg, conn, info.flavor, &info.version, &info.checksum).await?;
    out.extend(evaluate(&settings, cfg.use_gtid));

    let account = query_text(conn, "SELECT CURRENT_USER()")
        .await
        .map_err(|e| classify(cfg, &e))?
        .unwrap_or_else(|| format!("{}@%", cfg.user));

    let replicas = replicas(cfg, conn, info.flavor).await?;
    let derived = MysqlConfig { server_id: None, ..cfg.clone() }.effective_server_id(topic_prefix);
    out.push(server_id_finding(
        &settings,
        &account,
        cfg.effective_server_id(topic_prefix),
        info.server_id,
        &replicas,
        derived,
    ));
    let grants: Vec<String> = conn.query("SHOW GRANTS").await.map_err(|e| classify(cfg, &e))?;
    let databases: Vec<String> =
        conn.query("SHOW DATABASES").await.map_err(|e| classify(cfg, &e))?;
    let (found, captured) = capture_findings(cfg, &account, &databases);
    out.extend(privilege_findings(&settings, &account, &grants, &captured));
    out.extend(found);
    Ok(out)
}

/// What `logtap run` checks before it reads the binlog, at every start and
/// reconnect: the binlog settings `check` fails on. A server that logs
/// statements, partial row images or no column names would have changes
/// skipped or misread; stopping with `check`'s own message and fix is the
/// only safe answer (a server changed under a running logtap is caught at
/// the next reconnect).
pub async fn preflight(
    cfg: &MysqlConfig,
    conn: &mut Conn,
    info: &crate::conn::ServerInfo,
) -> Result<(), PipelineError> {
    let settings = read_settings(cfg, conn, info.flavor, &info.version, &info.checksum).await?;
    preflight_verdict(&settings, &format!("{}:{}", cfg.host, cfg.port))
}

/// The first failing binlog setting as the error `run` stops with.
fn preflight_verdict(settings: &Settings, at: &str) -> Result<(), PipelineError> {
    // use_gtid only changes a warning, never a failure.
    match evaluate(settings, true).into_iter().find(|f| f.level == Level::Fail) {
        None => Ok(()),
        Some(f) => {
            let err = PipelineError::new(
                ErrorKind::ServerSetup,
                format!(
                    "{} at {at} is not set up for change capture: {} (`logtap check` lists \
                     every setting); nothing was read",
                    flavor_name(settings.flavor),
                    f.what
                ),
            );
            Err(match f.fix {
                Some(fix) => err.with_fix(fix),
                None => err,
            })
        }
    }
}

fn flavor_name(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Mariadb => "MariaDB",
        Flavor::Mysql => "MySQL",
    }
}

/// The server settings the binlog depends on, as read from the server.
/// `None` means the variable does not exist in this version or flavor.
#[derive(Debug, Clone)]
struct Settings {
    flavor: Flavor,
    version: String,
    log_bin: bool,
    /// `None` where the server logs rows only (no such setting).
    binlog_format: Option<String>,
    binlog_row_image: String,
    binlog_row_metadata: Option<String>,
    checksum: String,
    /// MariaDB only.
    log_bin_compress: Option<bool>,
    /// MySQL only.
    binlog_row_value_options: Option<String>,
    /// MySQL only.
    gtid_mode: Option<String>,
    /// MariaDB only.
    gtid_binlog_pos: Option<String>,
    expire_logs_days: Option<f64>,
    binlog_expire_logs_seconds: Option<u64>,
}

impl Settings {
    /// `major.minor` of the version string (`10.11.19-MariaDB-log` is 10.11).
    fn version_at_least(&self, major: u32, minor: u32) -> bool {
        let mut parts = self.version.split(|c: char| !c.is_ascii_digit());
        let ma: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let mi: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        (ma, mi) >= (major, minor)
    }
}

/// `@@GLOBAL.name` as text; `None` when the server does not know the variable.
async fn variable(
    cfg: &MysqlConfig,
    conn: &mut Conn,
    name: &str,
) -> Result<Option<String>, PipelineError> {
    match query_text(conn, &format!("SELECT @@GLOBAL.{name}")).await {
        Ok(v) => Ok(v),
        Err(mysql_async::Error::Server(e)) if e.code == UNKNOWN_VARIABLE => Ok(None),
        Err(e) => Err(classify(cfg, &e)),
    }
}

fn on(v: Option<&str>) -> bool {
    v.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("ON"))
}

async fn read_settings(
    cfg: &MysqlConfig,
    conn: &mut Conn,
    flavor: Flavor,
    version: &str,
    checksum: &str,
) -> Result<Settings, PipelineError> {
    let mariadb = flavor == Flavor::Mariadb;
    let mut s = Settings {
        flavor,
        version: version.to_string(),
        log_bin: on(variable(cfg, conn, "log_bin").await?.as_deref()),
        binlog_format: variable(cfg, conn, "binlog_format").await?,
        binlog_row_image: variable(cfg, conn, "binlog_row_image").await?.unwrap_or_default(),
        binlog_row_metadata: variable(cfg, conn, "binlog_row_metadata").await?,
        checksum: checksum.to_string(),
        log_bin_compress: None,
        binlog_row_value_options: None,
        gtid_mode: None,
        gtid_binlog_pos: None,
        expire_logs_days: variable(cfg, conn, "expire_logs_days")
            .await?
            .and_then(|v| v.parse().ok()),
        binlog_expire_logs_seconds: variable(cfg, conn, "binlog_expire_logs_seconds")
            .await?
            .and_then(|v| v.parse().ok()),
    };
    if mariadb {
        s.log_bin_compress = variable(cfg, conn, "log_bin_compress").await?.map(|v| on(Some(&v)));
        s.gtid_binlog_pos = variable(cfg, conn, "gtid_binlog_pos").await?;
    } else {
        s.binlog_row_value_options = variable(cfg, conn, "binlog_row_value_options").await?;
        s.gtid_mode = variable(cfg, conn, "gtid_mode").await?;
    }
    Ok(s)
}

/// `SET GLOBAL` for now plus the my.cnf line for the next restart.
fn set_global(name: &str, value: &str) -> String {
    let sql = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        value.to_string()
    } else {
        format!("'{value}'")
    };
    format!(
        "SET GLOBAL {name} = {sql}; and `{name} = {}` under [mysqld] in my.cnf so it survives a restart \
         (sessions already open keep the old value until they reconnect)",
        if value.is_empty() { "''" } else { value }
    )
}

/// What the binlog settings mean for logtap.
fn evaluate(s: &Settings, use_gtid: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let mariadb = s.flavor == Flavor::Mariadb;

    out.push(if s.log_bin {
        ok("log_bin = ON")
    } else {
        fail(
            "log_bin = OFF: the server writes no binlog to read",
            if mariadb {
                "add `log_bin` (or `log-bin = mysql-bin`) under [mysqld] in my.cnf, then restart MariaDB"
            } else {
                "remove `skip-log-bin` / `disable-log-bin` or add `log-bin = mysql-bin` under [mysqld] in my.cnf, then restart MySQL"
            },
        )
    });

    out.extend(row_findings(s));

    out.push(match s.checksum.to_ascii_uppercase().as_str() {
        "CRC32" => ok("binlog_checksum = CRC32 (logtap verifies it)"),
        "NONE" => ok("binlog_checksum = NONE"),
        other => fail(
            format!("binlog_checksum = {other}: logtap reads NONE or CRC32"),
            set_global("binlog_checksum", "CRC32"),
        ),
    });

    if let Some(compress) = s.log_bin_compress {
        out.push(if compress {
            fail(
                "log_bin_compress = ON: logtap cannot read MariaDB's compressed binlog events",
                set_global("log_bin_compress", "OFF"),
            )
        } else {
            ok("log_bin_compress = OFF")
        });
    }

    if let Some(opts) = &s.binlog_row_value_options {
        out.push(if opts.to_ascii_uppercase().contains("PARTIAL_JSON") {
            fail(
                format!(
                    "binlog_row_value_options = {opts}: partial JSON updates carry a diff, \
                     not the value, and logtap cannot record them"
                ),
                set_global("binlog_row_value_options", ""),
            )
        } else {
            ok("binlog_row_value_options has no PARTIAL_JSON")
        });
    }

    out.push(gtid_finding(s, use_gtid));
    out.push(retention(s));
    out
}

/// The row settings: every change logged as full rows with column names.
fn row_findings(s: &Settings) -> Vec<Finding> {
    let mariadb = s.flavor == Flavor::Mariadb;
    let mut out = Vec::new();
    out.push(match s.binlog_format.as_deref() {
        Some(f) if f.eq_ignore_ascii_case("ROW") => ok("binlog_format = ROW"),
        None => ok("binlog_format: not a setting here, the server logs rows only"),
        Some(f) => fail(
            format!("binlog_format = {f}: logtap reads row events only, changes would be missed"),
            set_global("binlog_format", "ROW"),
        ),
    });

    out.push(if s.binlog_row_image.eq_ignore_ascii_case("FULL") {
        ok("binlog_row_image = FULL")
    } else {
        fail(
            format!(
                "binlog_row_image = {}: row events would carry only some columns, \
                 and records need every column before and after the change",
                s.binlog_row_image
            ),
            set_global("binlog_row_image", "FULL"),
        )
    });

    out.push(match s.binlog_row_metadata.as_deref() {
        Some(m) if m.eq_ignore_ascii_case("FULL") => ok("binlog_row_metadata = FULL"),
        Some(m) => fail(
            format!(
                "binlog_row_metadata = {m}: table maps would lack column names, \
                 which logtap takes from the binlog"
            ),
            set_global("binlog_row_metadata", "FULL"),
        ),
        None => fail(
            format!(
                "{} {} has no binlog_row_metadata: table maps carry no column names",
                flavor_name(s.flavor),
                s.version
            ),
            if mariadb {
                "upgrade to MariaDB 10.5 or later, and set binlog_row_metadata = FULL"
            } else {
                "upgrade to MySQL 8.0.1 or later, and set binlog_row_metadata = FULL"
            },
        ),
    });
    out
}

/// GTIDs on and used: a position that carries over to another server.
fn gtid_finding(s: &Settings, use_gtid: bool) -> Finding {
    let mariadb = s.flavor == Flavor::Mariadb;
    let gtid_on = if mariadb { true } else { on(s.gtid_mode.as_deref()) };
    match (gtid_on, use_gtid) {
        (true, true) => ok(if mariadb {
            let pos = s.gtid_binlog_pos.as_deref().unwrap_or("");
            format!(
                "GTIDs: MariaDB gtid_binlog_pos = {}",
                if pos.is_empty() { "(empty, nothing logged yet)" } else { pos }
            )
        } else {
            "GTIDs: gtid_mode = ON".to_string()
        }),
        (true, false) => warn(
            "mysql.use_gtid = false: logtap resumes by binlog file and position, \
             which does not carry over to another server after a failover",
            "mysql.use_gtid = true",
        ),
        (false, _) => warn(
            format!(
                "gtid_mode = {}: logtap resumes by binlog file and position, \
                 which does not carry over to another server after a failover",
                s.gtid_mode.as_deref().unwrap_or("OFF")
            ),
            "SET GLOBAL enforce_gtid_consistency = ON; then SET GLOBAL gtid_mode = OFF_PERMISSIVE, \
             ON_PERMISSIVE, ON, one step at a time; and `gtid_mode = ON`, \
             `enforce_gtid_consistency = ON` under [mysqld] in my.cnf",
        ),
    }
}

fn retention(s: &Settings) -> Finding {
    let days = s.expire_logs_days.unwrap_or(0.0);
    let secs = s.binlog_expire_logs_seconds.unwrap_or(0);
    let mut shown = Vec::new();
    if let Some(d) = s.expire_logs_days {
        shown.push(format!("expire_logs_days = {d}"));
    }
    if let Some(x) = s.binlog_expire_logs_seconds {
        shown.push(format!("binlog_expire_logs_seconds = {x}"));
    }
    let shown = shown.join(", ");
    // MySQL: a non-zero binlog_expire_logs_seconds wins; MariaDB 10.6+
    // keeps the two in step; older MariaDB has expire_logs_days only.
    let effective = if secs > 0 {
        secs as f64
    } else if days > 0.0 {
        days * 86_400.0
    } else {
        return ok(format!("binlog retention: {shown} (binlogs are not purged by age)"));
    };
    if effective >= MIN_RETENTION_SECS {
        return ok(format!("binlog retention: {shown} ({:.1} days)", effective / 86_400.0));
    }
    let fix = if s.binlog_expire_logs_seconds.is_some() {
        set_global("binlog_expire_logs_seconds", "604800")
    } else {
        set_global("expire_logs_days", "7")
    };
    warn(
        format!(
            "binlog retention: {shown} ({:.1} hours): a logtap stopped longer than that \
             cannot resume and needs a new snapshot",
            effective / 3_600.0
        ),
        fix,
    )
}

/// Server ids and hosts of the replicas registered with the server; `Err`
/// with the server's message when the user may not list them.
type Replicas = Result<Vec<(u32, String)>, String>;

async fn replicas(
    cfg: &MysqlConfig,
    conn: &mut Conn,
    flavor: Flavor,
) -> Result<Replicas, PipelineError> {
    // MySQL 8.0.22+ has SHOW REPLICAS (8.4 only that); MariaDB and older
    // MySQL SHOW SLAVE HOSTS. The first column is the replica's server id.
    let mut sqls = vec!["SHOW SLAVE HOSTS"];
    if flavor == Flavor::Mysql {
        sqls.insert(0, "SHOW REPLICAS");
    }
    let mut last = String::new();
    for sql in sqls {
        let rows: Result<Vec<mysql_async::Row>, _> = conn.query(sql).await;
        match rows {
            Ok(rows) => {
                return Ok(Ok(rows
                    .into_iter()
                    .filter_map(|r| {
                        let id: u32 = r.get_opt(0).and_then(Result::ok)?;
                        let host: String = r.get_opt(1).and_then(Result::ok).unwrap_or_default();
                        let port: String = r.get_opt(2).and_then(Result::ok).unwrap_or_default();
                        Some((id, format!("{host}:{port}")))
                    })
                    .collect()));
            }
            Err(mysql_async::Error::Server(e)) if e.code == PARSE_ERROR => {
                last = e.message.clone();
            }
            Err(mysql_async::Error::Server(e)) => return Ok(Err(format!("{sql}: {}", e.message))),
            Err(e) => return Err(classify(cfg, &e)),
        }
    }
    Ok(Err(last))
}

/// Whether `effective`, the id logtap registers with, clashes with the
/// server's own or a registered replica's; `derived` is the default id, the
/// start of the search for a free one to suggest. `account` is who would
/// need the privilege to list replicas.
fn server_id_finding(
    s: &Settings,
    account: &str,
    effective: u32,
    server: u32,
    replicas: &Replicas,
    derived: u32,
) -> Finding {
    let taken =
        |id: u32| id == server || replicas.as_ref().is_ok_and(|r| r.iter().any(|(r, _)| *r == id));
    let mut free = derived.max(1);
    while taken(free) {
        free = free.checked_add(1).unwrap_or(1);
    }
    let fix = format!("[mysql] server_id = {free} (any id no other server or replica uses)");
    if effective == server {
        return fail(
            format!(
                "server_id {effective} is the server's own @@server_id: \
                 the server refuses a replica with its own id"
            ),
            fix,
        );
    }
    match replicas {
        Ok(r) => match r.iter().find(|(id, _)| *id == effective) {
            Some((_, host)) => fail(
                format!(
                    "server_id {effective} is already registered by the replica at {host} \
                     (another replica, another logtap with this id, or this one if it is running): \
                     the server disconnects one of the two"
                ),
                fix,
            ),
            None => ok(format!(
                "server_id {effective}: differs from the server's ({server}) and from {} registered replica(s)",
                r.len()
            )),
        },
        Err(e) => {
            // MariaDB 10.5+ moved SHOW SLAVE HOSTS to its own privilege.
            let privilege = if s.flavor == Flavor::Mariadb && s.version_at_least(10, 5) {
                "REPLICATION MASTER ADMIN"
            } else {
                "REPLICATION SLAVE"
            };
            warn(
                format!(
                    "server_id {effective} differs from the server's ({server}); \
                     registered replicas could not be listed ({e})"
                ),
                format!(
                    "make sure no replica or binlog reader uses server_id {effective} \
                     (SHOW SLAVE HOSTS as an administrator), or let check see them: \
                     GRANT {privilege} ON *.* TO {};",
                    account_sql(account)
                ),
            )
        }
    }
}

/// `user@host` from CURRENT_USER() as a quoted account for GRANT.
fn account_sql(account: &str) -> String {
    let (user, host) = account.rsplit_once('@').unwrap_or((account, "%"));
    let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
    format!("{}@{}", q(user), q(host))
}

/// The replication privileges and SELECT on `databases`, from the lines
/// of `SHOW GRANTS` (privileges that come through roles not yet activated
/// are not seen).
fn privilege_findings(
    s: &Settings,
    account: &str,
    grants: &[String],
    databases: &[String],
) -> Vec<Finding> {
    let grants: Vec<Grant> = grants.iter().filter_map(|g| parse_grant(g)).collect();
    let global =
        |wanted: &[&str]| grants.iter().any(|g| g.database.is_none() && has_any(g, wanted));
    let to = account_sql(account);
    let client = if s.flavor == Flavor::Mariadb && s.version_at_least(10, 5) {
        "BINLOG MONITOR"
    } else {
        "REPLICATION CLIENT"
    };
    let mut missing = Vec::new();
    if !global(&["REPLICATION SLAVE"]) {
        missing.push("REPLICATION SLAVE");
    }
    if !global(&["REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"]) {
        missing.push(client);
    }
    let mut out = vec![if missing.is_empty() {
        ok(format!("{account} has REPLICATION SLAVE and {client}"))
    } else {
        let why: Vec<String> = missing
            .iter()
            .map(|p| match *p {
                "REPLICATION SLAVE" => format!("{p} to read the binlog"),
                _ => format!("{p} to list binlog files and positions"),
            })
            .collect();
        fail(
            format!("{account} lacks {} ({})", missing.join(" and "), why.join("; ")),
            format!("GRANT {} ON *.* TO {to};", missing.join(", ")),
        )
    }];

    let db_select = |db: &str| {
        grants.iter().any(|g| {
            !g.table && has_any(g, &["SELECT"]) && g.database.as_deref().is_none_or(|p| like(p, db))
        })
    };
    let lacking: Vec<&String> = databases.iter().filter(|d| !db_select(d)).collect();
    if lacking.is_empty() {
        if !databases.is_empty() {
            out.push(ok(format!("{account} has SELECT on the captured database(s)")));
        }
    } else {
        let names: Vec<String> =
            lacking.iter().map(|d| format!("`{}`", d.replace('`', "``"))).collect();
        out.push(warn(
            format!(
                "{account} has no SELECT on database(s) {}: snapshots of their tables will need it",
                lacking.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
            ),
            names
                .iter()
                .map(|n| format!("GRANT SELECT ON {n}.* TO {to};"))
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    out
}

/// Whether anything in database `db` can be captured under the lists in
/// `cfg` (a table include entry may match tables of it: its part before
/// the first `.` matches the database, or it has no such part).
fn captures_database(cfg: &MysqlConfig, db: &str) -> bool {
    cfg.captures_database(db)
        && (cfg.table_include_list.is_empty()
            || cfg.table_include_list.iter().any(|t| match database_part(t) {
                Some(d) => logtap_core::filter::compile(d).is_ok_and(|r| r.is_match(db)),
                None => true,
            }))
}

/// The database part of a `db.table` pattern: before its first `\.` (an
/// escaped dot, Debezium's usual form), else before its first `.`.
fn database_part(entry: &str) -> Option<&str> {
    match entry.find("\\.") {
        Some(i) => Some(&entry[..i]),
        None => entry.split_once('.').map(|(d, _)| d),
    }
}

/// The databases that would be captured, from `SHOW DATABASES` (which lists
/// only those the user has some privilege on, or all with a global one).
fn capture_findings(
    cfg: &MysqlConfig,
    account: &str,
    databases: &[String],
) -> (Vec<Finding>, Vec<String>) {
    let mut out = Vec::new();
    for want in &cfg.database_include_list {
        if !databases.contains(want) {
            out.push(warn(
                format!(
                    "database `{want}` in mysql.database_include_list does not exist \
                     or is not visible to {account}"
                ),
                format!(
                    "CREATE DATABASE `{w}`; or GRANT SELECT ON `{w}`.* TO {}; \
                     or correct mysql.database_include_list",
                    account_sql(account),
                    w = want.replace('`', "``")
                ),
            ));
        }
    }
    let captured: Vec<String> =
        databases.iter().filter(|d| captures_database(cfg, d)).cloned().collect();
    out.push(if captured.is_empty() {
        warn(
            "no database would be captured",
            "check mysql.database_include_list / database_exclude_list / table_include_list \
             (mysql, sys, information_schema and performance_schema are never captured), \
             and that the user can see the databases (SHOW DATABASES)",
        )
    } else {
        ok(format!("would capture {} database(s): {}", captured.len(), captured.join(", ")))
    });
    (out, captured)
}

/// What `[snapshot]` asks of this server: that its mode is possible here
/// (MariaDB: any; MySQL: `no_data` until its snapshots are built) and that
/// the signal table, when one is configured, exists with Debezium's
/// columns.
pub async fn snapshot(
    cfg: &MysqlConfig,
    snap: &logtap_core::snapshot::SnapshotConfig,
) -> Result<Vec<Finding>, PipelineError> {
    use logtap_core::SnapshotMode;
    let mode = snap.mode.unwrap_or(SnapshotMode::NoData);
    let mut conn = connect(cfg).await?;
    let info = server_info(cfg, &mut conn).await?;
    let mut out = Vec::new();
    match (mode, info.flavor) {
        (SnapshotMode::NoData, _) => out.push(ok("snapshot mode no_data: existing rows are not read (ad-hoc snapshots still can be)")),
        (_, Flavor::Mysql) => {
            let read_only = query_text(&mut conn, "SELECT @@GLOBAL.read_only OR @@GLOBAL.super_read_only")
                .await
                .map_err(|e| classify(cfg, &e))?
                .is_some_and(|v| v == "1");
            let gtids = query_text(&mut conn, "SELECT @@GLOBAL.gtid_mode")
                .await
                .map_err(|e| classify(cfg, &e))?
                .is_some_and(|v| v.eq_ignore_ascii_case("ON"));
            out.push(match (snap.signal_data_collection.is_some() && !read_only, gtids && cfg.use_gtid) {
                (true, _) => ok(format!(
                    "snapshot mode {mode}: chunks of {} rows between watermark rows of the signal table",
                    snap.chunk_size
                )),
                (false, true) => ok(format!(
                    "snapshot mode {mode}: chunks of {} rows between reads of the executed GTID set; nothing is written to the server",
                    snap.chunk_size
                )),
                (false, false) => fail(
                    format!("snapshot mode {mode}: MySQL's chunks need GTIDs or, on a writable server, a signal table for their watermarks, and this server has neither"),
                    "turn gtid_mode ON (and keep mysql.use_gtid), or set [snapshot] signal_data_collection = \"db.table\" (logtap's user needs INSERT and DELETE on it), or mode = \"no_data\"",
                ),
            });
        }
        (_, Flavor::Mariadb) => out.push(ok(format!(
            "snapshot mode {mode}: chunks of {} rows, each in a consistent snapshot; nothing is written to the server",
            snap.chunk_size
        ))),
    }
    if let Some(table) = &snap.signal_data_collection {
        let (db, name) = table.split_once('.').unwrap_or(("", table));
        let columns: Vec<String> = conn
            .exec(
                "SELECT LOWER(COLUMN_NAME) FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND LOWER(COLUMN_NAME) IN ('id', 'type', 'data')",
                (db, name),
            )
            .await
            .map_err(|e| classify(cfg, &e))?;
        let create = format!(
            "CREATE TABLE `{db}`.`{name}` (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)); GRANT INSERT ON `{db}`.`{name}` TO the user that runs `logtap snapshot`"
        );
        out.push(match columns.len() {
            3 => ok(format!(
                "signal table {table}: its rows are signals (logtap snapshot inserts them)"
            )),
            0 => fail(
                format!("signal table {table} does not exist (or {} cannot see it)", cfg.user),
                create,
            ),
            _ => fail(
                format!("signal table {table} lacks Debezium's columns id, type, data"),
                create,
            ),
        });
    }
    let _ = conn.disconnect().await;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn table_patterns_name_their_database_before_the_escaped_dot() {
        assert_eq!(database_part(r"shop\.orders"), Some("shop"));
        assert_eq!(database_part(r"shop_\d+\.order.*"), Some(r"shop_\d+"));
        assert_eq!(database_part("shop.orders"), Some("shop"));
        assert_eq!(database_part(r".*\.orders"), Some(".*"));
        assert_eq!(database_part("orders"), None);
    }
    use logtap_core::check::Level;

    fn good(flavor: Flavor) -> Settings {
        let mariadb = flavor == Flavor::Mariadb;
        Settings {
            flavor,
            version: if mariadb { "10.11.19-MariaDB-log".into() } else { "8.0.36".into() },
            log_bin: true,
            binlog_format: Some("ROW".into()),
            binlog_row_image: "FULL".into(),
            binlog_row_metadata: Some("FULL".into()),
            checksum: "CRC32".into(),
            log_bin_compress: mariadb.then_some(false),
            binlog_row_value_options: (!mariadb).then(String::new),
            gtid_mode: (!mariadb).then(|| "ON".into()),
            gtid_binlog_pos: mariadb.then(|| "0-1-3".into()),
            expire_logs_days: Some(0.0),
            binlog_expire_logs_seconds: Some(0),
        }
    }

    fn fails(f: &[Finding]) -> Vec<&Finding> {
        f.iter().filter(|f| f.level == Level::Fail).collect()
    }

    /// The one FAIL of `f`, which must mention `what` and have a fix
    /// containing `fix`.
    fn one_fail(f: &[Finding], what: &str, fix: &str) {
        let bad = fails(f);
        assert_eq!(bad.len(), 1, "{f:#?}");
        assert!(bad[0].what.contains(what), "{:?}", bad[0]);
        assert!(bad[0].fix.as_deref().unwrap().contains(fix), "{:?}", bad[0]);
    }

    #[test]
    fn good_settings_pass() {
        for flavor in [Flavor::Mariadb, Flavor::Mysql] {
            let f = evaluate(&good(flavor), true);
            assert!(f.iter().all(|f| f.level == Level::Ok), "{f:#?}");
        }
    }

    #[test]
    fn each_bad_setting_fails_with_its_fix() {
        for flavor in [Flavor::Mariadb, Flavor::Mysql] {
            let mut s = good(flavor);
            s.binlog_format = Some("STATEMENT".into());
            one_fail(
                &evaluate(&s, true),
                "binlog_format = STATEMENT",
                "SET GLOBAL binlog_format = 'ROW'",
            );
            s.binlog_format = Some("MIXED".into());
            one_fail(
                &evaluate(&s, true),
                "binlog_format = MIXED",
                "binlog_format = ROW` under [mysqld]",
            );

            let mut s = good(flavor);
            s.binlog_row_image = "MINIMAL".into();
            one_fail(
                &evaluate(&s, true),
                "binlog_row_image = MINIMAL",
                "SET GLOBAL binlog_row_image = 'FULL'",
            );

            let mut s = good(flavor);
            s.binlog_row_metadata = Some("MINIMAL".into());
            one_fail(
                &evaluate(&s, true),
                "binlog_row_metadata = MINIMAL",
                "SET GLOBAL binlog_row_metadata = 'FULL'",
            );
            s.binlog_row_metadata = None;
            one_fail(&evaluate(&s, true), "has no binlog_row_metadata", "upgrade");

            let mut s = good(flavor);
            s.log_bin = false;
            one_fail(&evaluate(&s, true), "log_bin = OFF", "log-bin = mysql-bin");

            let mut s = good(flavor);
            s.checksum = "XXH3".into();
            one_fail(&evaluate(&s, true), "binlog_checksum = XXH3", "binlog_checksum = 'CRC32'");
        }
        let mut s = good(Flavor::Mariadb);
        s.log_bin_compress = Some(true);
        one_fail(
            &evaluate(&s, true),
            "log_bin_compress = ON",
            "SET GLOBAL log_bin_compress = 'OFF'",
        );

        let mut s = good(Flavor::Mysql);
        s.binlog_row_value_options = Some("PARTIAL_JSON".into());
        one_fail(
            &evaluate(&s, true),
            "binlog_row_value_options = PARTIAL_JSON",
            "SET GLOBAL binlog_row_value_options = ''",
        );
    }

    #[test]
    fn run_stops_on_what_check_fails_with_its_fix() {
        for flavor in [Flavor::Mariadb, Flavor::Mysql] {
            assert!(preflight_verdict(&good(flavor), "h:1").is_ok());
            let mut s = good(flavor);
            s.binlog_format = Some("STATEMENT".into());
            let e = preflight_verdict(&s, "h:1").unwrap_err();
            assert_eq!(e.kind, ErrorKind::ServerSetup);
            assert!(e.message.contains("binlog_format = STATEMENT"), "{e}");
            assert!(e.fix().contains("SET GLOBAL binlog_format = 'ROW'"), "{}", e.fix());
            let mut s = good(flavor);
            s.binlog_row_image = "MINIMAL".into();
            let e = preflight_verdict(&s, "h:1").unwrap_err();
            assert!(e.fix().contains("binlog_row_image"), "{}", e.fix());
            let mut s = good(flavor);
            s.gtid_mode = Some("OFF".into());
            s.expire_logs_days = Some(0.1);
            assert!(preflight_verdict(&s, "h:1").is_ok(), "warnings do not stop run");
        }
    }

    #[test]
    fn checksum_none_is_fine() {
        let mut s = good(Flavor::Mariadb);
        s.checksum = "NONE".into();
        assert!(fails(&evaluate(&s, true)).is_empty());
    }

    #[test]
    fn gtid_off_or_unused_warns() {
        let mut s = good(Flavor::Mysql);
        s.gtid_mode = Some("OFF".into());
        let f = evaluate(&s, true);
        let w: Vec<_> = f.iter().filter(|f| f.level == Level::Warn).collect();
        assert_eq!(w.len(), 1, "{f:#?}");
        assert!(w[0].what.contains("gtid_mode = OFF"));
        assert!(w[0].fix.as_deref().unwrap().contains("SET GLOBAL gtid_mode"));
        assert!(fails(&f).is_empty());

        let f = evaluate(&good(Flavor::Mariadb), false);
        assert!(f.iter().any(|f| f.level == Level::Warn && f.what.contains("use_gtid")));
        let f = evaluate(&good(Flavor::Mariadb), true);
        assert!(f.iter().any(|f| f.level == Level::Ok && f.what.contains("0-1-3")));
    }

    #[test]
    fn short_retention_warns() {
        let mut s = good(Flavor::Mysql);
        s.binlog_expire_logs_seconds = Some(3_600);
        let f = retention(&s);
        assert_eq!(f.level, Level::Warn, "{f:?}");
        assert!(f.fix.unwrap().contains("SET GLOBAL binlog_expire_logs_seconds = 604800;"));
        s.binlog_expire_logs_seconds = Some(2_592_000);
        assert_eq!(retention(&s).level, Level::Ok);
        // Older MariaDB: days only, fractions allowed.
        let mut s = good(Flavor::Mariadb);
        s.binlog_expire_logs_seconds = None;
        s.expire_logs_days = Some(0.5);
        let f = retention(&s);
        assert_eq!(f.level, Level::Warn, "{f:?}");
        assert!(f.fix.unwrap().contains("SET GLOBAL expire_logs_days = 7;"));
        s.expire_logs_days = Some(0.0);
        let f = retention(&s);
        assert_eq!(f.level, Level::Ok);
        assert!(f.what.contains("not purged"), "{f:?}");
    }

    #[test]
    fn server_id_clashes_fail() {
        let m = good(Flavor::Mariadb);
        let sid = |effective, replicas: &Replicas| {
            server_id_finding(&m, "cdc@%", effective, 1, replicas, 5_400_001)
        };
        let none: Replicas = Ok(vec![]);
        assert_eq!(sid(5_400_001, &none).level, Level::Ok);
        let f = sid(1, &none);
        assert_eq!(f.level, Level::Fail);
        assert!(f.what.contains("server_id 1"), "{f:?}");
        assert_eq!(
            f.fix.as_deref().unwrap().split(' ').take(4).collect::<Vec<_>>().join(" "),
            "[mysql] server_id = 5400001"
        );

        let reps: Replicas =
            Ok(vec![(2, "10.0.0.2:3306".into()), (5_400_001, "10.0.0.9:0".into())]);
        let f = sid(2, &reps);
        assert_eq!(f.level, Level::Fail);
        assert!(f.what.contains("10.0.0.2:3306"), "{f:?}");
        // The derived id is taken too: the next free one is suggested.
        assert!(f.fix.as_deref().unwrap().contains("server_id = 5400002"), "{f:?}");

        let f = sid(7, &Err("denied".into()));
        assert_eq!(f.level, Level::Warn);
        assert!(f.what.contains("denied"));
        assert!(
            f.fix
                .as_deref()
                .unwrap()
                .ends_with("GRANT REPLICATION MASTER ADMIN ON *.* TO 'cdc'@'%';"),
            "{f:?}"
        );
        // The server's own id fails even when replicas cannot be listed.
        assert_eq!(sid(1, &Err("denied".into())).level, Level::Fail);
    }

    #[test]
    fn missing_privileges_fail_with_the_grant() {
        let maria = good(Flavor::Mariadb);
        let dbs = vec!["logtap".to_string()];
        let full =
            vec!["GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cdc`@`%`".to_string()];
        let f = privilege_findings(&maria, "cdc@%", &full, &dbs);
        assert!(f.iter().all(|f| f.level == Level::Ok), "{f:#?}");

        let none = vec!["GRANT USAGE ON *.* TO `u`@`%`".to_string()];
        let f = privilege_findings(&maria, "u@%", &none, &dbs);
        one_fail(
            &f,
            "REPLICATION SLAVE",
            "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'u'@'%';",
        );
        let w: Vec<_> = f.iter().filter(|f| f.level == Level::Warn).collect();
        assert_eq!(w.len(), 1, "{f:#?}");
        assert_eq!(w[0].fix.as_deref(), Some("GRANT SELECT ON `logtap`.* TO 'u'@'%';"));

        // A database-level grant is enough for SELECT; REPLICATION SLAVE
        // on a database is not a replication privilege.
        let db_only = vec![
            "GRANT USAGE ON *.* TO `u`@`%`".to_string(),
            "GRANT ALL PRIVILEGES ON `log\\_tap`.* TO `u`@`%`".to_string(),
        ];
        let f = privilege_findings(&maria, "u@%", &db_only, &["log_tap".to_string()]);
        assert_eq!(fails(&f).len(), 1);
        assert!(f.iter().all(|f| f.level != Level::Warn), "{f:#?}");

        // MySQL and old MariaDB name REPLICATION CLIENT; SUPER covers it.
        let mysql = good(Flavor::Mysql);
        let slave_only = vec!["GRANT REPLICATION SLAVE ON *.* TO `u`@`%`".to_string()];
        let f = privilege_findings(&mysql, "u@%", &slave_only, &[]);
        one_fail(&f, "REPLICATION CLIENT", "GRANT REPLICATION CLIENT ON *.* TO 'u'@'%';");
        let with_super = vec!["GRANT SUPER, REPLICATION SLAVE ON *.* TO `u`@`%`".to_string()];
        assert!(fails(&privilege_findings(&mysql, "u@%", &with_super, &[])).is_empty());
        let all = vec!["GRANT ALL PRIVILEGES ON *.* TO `u`@`localhost`".to_string()];
        assert!(fails(&privilege_findings(&mysql, "u@localhost", &all, &[])).is_empty());
    }

    fn cfg(extra: &str) -> MysqlConfig {
        toml::from_str(&format!("host = \"h\"\nuser = \"cdc\"\n{extra}")).unwrap()
    }

    fn capture_findings_of(cfg: &MysqlConfig, dbs: &[String]) -> (Vec<Finding>, Vec<String>) {
        capture_findings(cfg, "cdc@%", dbs)
    }

    #[test]
    fn captured_databases_follow_the_lists() {
        let dbs: Vec<String> = ["information_schema", "logtap", "mysql", "shop", "sys"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (f, c) = capture_findings_of(&cfg(""), &dbs);
        assert_eq!(c, ["logtap", "shop"]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].level, Level::Ok);
        let (_, c) = capture_findings_of(&cfg("database_exclude_list = [\"shop\"]"), &dbs);
        assert_eq!(c, ["logtap"]);
        let (_, c) = capture_findings_of(&cfg("table_include_list = [\"shop.orders\"]"), &dbs);
        assert_eq!(c, ["shop"]);
        let (f, c) = capture_findings_of(&cfg("database_include_list = [\"crm\"]"), &dbs);
        assert!(c.is_empty());
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| f.level == Level::Warn), "{f:#?}");
        assert!(f[0].what.contains("`crm`"));
        assert!(f[0].fix.as_deref().unwrap().contains("GRANT SELECT ON `crm`.* TO 'cdc'@'%';"));
    }
}
