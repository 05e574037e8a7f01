//! Connections to MySQL/MariaDB through mysql_async: the settings of
//! [`MysqlConfig`] turned into driver options (TLS modes included), a
//! bounded connect, and the server facts the source and `check` need.

use crate::config::{MysqlConfig, SslMode};
use logtap_core::PipelineError;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};
use std::time::Duration;

pub use crate::types::Flavor;

/// Driver options for `cfg`, with or without TLS.
fn opts(cfg: &MysqlConfig, tls: bool) -> Result<Opts, PipelineError> {
    let mut b = OptsBuilder::default()
        .ip_or_hostname(cfg.host.clone())
        .tcp_port(cfg.port)
        .user(Some(cfg.user.clone()))
        .pass(cfg.password.as_ref().map(|p| p.expose().to_string()))
        // mysql_async would otherwise switch a loopback TCP connection to the
        // server's Unix socket, which may not be the server configured.
        .prefer_socket(false)
        .stmt_cache_size(0);
    if tls {
        let mode = cfg.ssl();
        let mut ssl = SslOpts::default();
        match mode {
            SslMode::Disabled => {}
            SslMode::Preferred | SslMode::Required => {
                ssl = ssl
                    .with_danger_accept_invalid_certs(true)
                    .with_danger_skip_domain_validation(true);
            }
            SslMode::VerifyCa | SslMode::VerifyIdentity => {
                let ca = cfg.ssl_ca.clone().ok_or_else(|| {
                    PipelineError::fatal(format!(
                        "mysql.ssl_ca: required with ssl_mode = {}",
                        cfg.ssl_mode
                    ))
                })?;
                ssl = ssl
                    .with_root_certs(vec![std::path::PathBuf::from(ca).into()])
                    .with_danger_skip_domain_validation(mode == SslMode::VerifyCa);
            }
        }
        b = b.ssl_opts(Some(ssl));
    }
    Ok(b.into())
}

/// Opens a connection as configured: TLS per `ssl_mode` (with `preferred`
/// falling back to plain TCP when the server offers no TLS), within
/// `connect_timeout_ms`. Errors name the server and say what failed.
pub async fn connect(cfg: &MysqlConfig) -> Result<Conn, PipelineError> {
    let timeout = Duration::from_millis(cfg.connect_timeout_ms.max(1));
    let mode = cfg.ssl();
    let attempt = |tls: bool| async move {
        let o = opts(cfg, tls).map_err(ConnectError::Other)?;
        match tokio::time::timeout(timeout, Conn::new(o)).await {
            Err(_) => Err(ConnectError::Other(PipelineError::retryable(format!(
                "MySQL/MariaDB at {}:{}: no connection within {} ms",
                cfg.host, cfg.port, cfg.connect_timeout_ms
            )))),
            Ok(Ok(c)) => Ok(c),
            Ok(Err(mysql_async::Error::Driver(
                mysql_async::DriverError::NoClientSslFlagFromServer,
            ))) => Err(ConnectError::NoTls),
            Ok(Err(e)) => Err(ConnectError::Other(classify(cfg, &e))),
        }
    };
    let first = attempt(mode != SslMode::Disabled).await;
    match first {
        Ok(c) => Ok(c),
        Err(ConnectError::NoTls) if mode == SslMode::Preferred => match attempt(false).await {
            Ok(c) => Ok(c),
            Err(ConnectError::NoTls) => unreachable_no_tls(cfg),
            Err(ConnectError::Other(e)) => Err(e),
        },
        Err(ConnectError::NoTls) => Err(PipelineError::fatal(format!(
            "MySQL/MariaDB at {}:{} does not offer TLS, and mysql.ssl_mode = {} requires it \
             (configure ssl_cert/ssl_key on the server, or set ssl_mode = \"preferred\")",
            cfg.host, cfg.port, cfg.ssl_mode
        ))),
        Err(ConnectError::Other(e)) => Err(e),
    }
}

fn unreachable_no_tls(cfg: &MysqlConfig) -> Result<Conn, PipelineError> {
    Err(PipelineError::fatal(format!(
        "MySQL/MariaDB at {}:{}: the driver asked for TLS on a plain connection",
        cfg.host, cfg.port
    )))
}

enum ConnectError {
    NoTls,
    Other(PipelineError),
}

/// Server error codes that retrying cannot fix.
const FATAL_CODES: [u16; 6] = [
    1044, // ER_DBACCESS_DENIED_ERROR
    1045, // ER_ACCESS_DENIED_ERROR
    1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR
    1236, // ER_MASTER_FATAL_ERROR_READING_BINLOG (purged binlog, bad position)
    1251, // ER_NOT_SUPPORTED_AUTH_MODE
    1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
];

/// A driver error as a pipeline error: authentication and privilege
/// failures are fatal (retrying cannot fix them), the rest retryable.
pub fn classify(cfg: &MysqlConfig, e: &mysql_async::Error) -> PipelineError {
    let message = format!("MySQL/MariaDB at {}:{} as {}: {e}", cfg.host, cfg.port, cfg.user);
    match e {
        mysql_async::Error::Server(s) if FATAL_CODES.contains(&s.code) => {
            PipelineError::fatal(message)
        }
        _ => PipelineError::retryable(message),
    }
}

/// What the source needs to know about the server before streaming.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub flavor: Flavor,
    pub version: String,
    pub server_id: u32,
    /// `@@gtid_mode = ON` on MySQL; always true on MariaDB.
    pub gtid_enabled: bool,
    /// The binlog's checksum algorithm (`NONE` or `CRC32`).
    pub checksum: String,
}

/// Runs `sql` and returns the first column of the first row as text.
pub async fn query_text(conn: &mut Conn, sql: &str) -> Result<Option<String>, mysql_async::Error> {
    let row: Option<mysql_async::Row> = conn.query_first(sql).await?;
    Ok(row.and_then(|r| r.get_opt::<Option<String>, usize>(0).and_then(Result::ok).flatten()))
}

/// Reads the server's family, version, id and GTID mode.
pub async fn server_info(cfg: &MysqlConfig, conn: &mut Conn) -> Result<ServerInfo, PipelineError> {
    let q = |e: mysql_async::Error| classify(cfg, &e);
    let version = query_text(conn, "SELECT VERSION()").await.map_err(q)?.unwrap_or_default();
    let flavor = if version.to_ascii_lowercase().contains("mariadb") {
        Flavor::Mariadb
    } else {
        Flavor::Mysql
    };
    let server_id = query_text(conn, "SELECT @@server_id")
        .await
        .map_err(q)?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let gtid_enabled = match flavor {
        Flavor::Mariadb => true,
        Flavor::Mysql => query_text(conn, "SELECT @@gtid_mode")
            .await
            .ok()
            .flatten()
            .is_some_and(|m| m.eq_ignore_ascii_case("ON")),
    };
    let checksum = query_text(conn, "SELECT @@binlog_checksum")
        .await
        .map_err(q)?
        .unwrap_or_else(|| "NONE".into());
    Ok(ServerInfo { flavor, version, server_id, gtid_enabled, checksum })
}

/// The server's current binlog file and position (`SHOW MASTER STATUS`,
/// `SHOW BINARY LOG STATUS` on MySQL 8.4+), `None` when binary logging is off.
pub async fn binlog_end(
    cfg: &MysqlConfig,
    conn: &mut Conn,
) -> Result<Option<(String, u64)>, PipelineError> {
    let row: Result<Option<mysql_async::Row>, _> = conn.query_first("SHOW MASTER STATUS").await;
    let row = match row {
        Ok(r) => r,
        // MySQL 8.4 removed SHOW MASTER STATUS.
        Err(mysql_async::Error::Server(_)) => {
            conn.query_first("SHOW BINARY LOG STATUS").await.map_err(|e| classify(cfg, &e))?
        }
        Err(e) => return Err(classify(cfg, &e)),
    };
    Ok(row.and_then(|r| {
        let file: Option<String> = r.get_opt(0).and_then(Result::ok);
        let pos: Option<u64> = r.get_opt(1).and_then(Result::ok);
        file.zip(pos)
    }))
}

/// The binlog files the server still has (`SHOW BINARY LOGS`), oldest first.
pub async fn binlog_files(
    cfg: &MysqlConfig,
    conn: &mut Conn,
) -> Result<Vec<String>, PipelineError> {
    let rows: Vec<mysql_async::Row> =
        conn.query("SHOW BINARY LOGS").await.map_err(|e| classify(cfg, &e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.get_opt::<String, usize>(0).and_then(Result::ok))
        .collect())
}
