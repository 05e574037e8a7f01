//! Connections to MySQL/MariaDB through mysql_async: the settings of
//! [`MysqlConfig`] turned into driver options (TLS modes included), a
//! bounded connect, and the server facts the source and `check` need.

use crate::config::{MysqlConfig, SslMode};
use logtap_core::{ErrorKind, PipelineError};
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
                    PipelineError::config(format!(
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
            Err(_) => Err(ConnectError::Other(PipelineError::connection(format!(
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
        Err(ConnectError::NoTls) => Err(PipelineError::new(
            ErrorKind::Tls,
            format!(
                "MySQL/MariaDB at {}:{} does not offer TLS, and mysql.ssl_mode = {} requires it \
             (configure ssl_cert/ssl_key on the server, or set ssl_mode = \"preferred\")",
                cfg.host, cfg.port, cfg.ssl_mode
            ),
        )),
        Err(ConnectError::Other(e)) => Err(e),
    }
}

fn unreachable_no_tls(cfg: &MysqlConfig) -> Result<Conn, PipelineError> {
    Err(PipelineError::internal(format!(
        "MySQL/MariaDB at {}:{}: the driver asked for TLS on a plain connection",
        cfg.host, cfg.port
    )))
}

enum ConnectError {
    NoTls,
    Other(PipelineError),
}

/// The kind of a MySQL/MariaDB server error by its error number (the
/// server's errmsg tables): what a retry can fix is a lost connection or a
/// contended lock; the rest needs an operator.
pub fn server_code_kind(code: u16) -> ErrorKind {
    match code {
        // ER_ACCESS_DENIED_ERROR, ER_NOT_SUPPORTED_AUTH_MODE,
        // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
        1045 | 1251 | 1698 => ErrorKind::Authentication,
        // ER_DBACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR,
        // ER_COLUMNACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR
        1044 | 1142 | 1143 | 1227 => ErrorKind::Privileges,
        // ER_MASTER_FATAL_ERROR_READING_BINLOG: purged binlog, bad position
        // (also what a dump thread displaced by one with the same server_id
        // hears; the source's message names both)
        1236 => ErrorKind::PositionLost,
        // ER_CON_COUNT_ERROR, ER_SERVER_SHUTDOWN, ER_ABORTING_CONNECTION,
        // ER_NET_* (1158-1161), ER_QUERY_INTERRUPTED, ER_CONNECTION_KILLED
        // (MariaDB), ER_CLIENT_INTERACTION_TIMEOUT (MySQL), too many
        // connections for the user
        1040 | 1053 | 1152 | 1158..=1161 | 1317 | 1927 | 4031 | 1203 => ErrorKind::Connection,
        // ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK: a catalog read met DDL.
        1205 | 1213 => ErrorKind::Connection,
        // Anything else is the server refusing, for its message to explain.
        _ => ErrorKind::Refused,
    }
}

/// A driver error as a pipeline error, of the kind its structure says: a
/// server error by its number, an IO or driver (closed connection) error
/// as a lost connection, a TLS failure as TLS.
pub fn classify(cfg: &MysqlConfig, e: &mysql_async::Error) -> PipelineError {
    let message = format!("MySQL/MariaDB at {}:{} as {}: {e}", cfg.host, cfg.port, cfg.user);
    let kind = match e {
        // Only the verifying modes check a certificate, so only there can a
        // TLS failure be one retrying cannot fix; in the others it is the
        // connection failing mid-handshake (a KILL, a reset: native-tls
        // reports "unexpected EOF" without an IO error in its chain).
        mysql_async::Error::Io(mysql_async::IoError::Tls(_))
            if matches!(cfg.ssl(), SslMode::VerifyCa | SslMode::VerifyIdentity) =>
        {
            ErrorKind::Tls
        }
        _ => error_kind(e),
    };
    if kind == ErrorKind::Tls {
        return PipelineError::new(kind, format!("{message}: {}", tls_fix(cfg, &message)));
    }
    PipelineError::new(kind, message)
}

/// The fix for a certificate a verifying `ssl_mode` refused, by OpenSSL's
/// reason: a certificate that does not name the host, or one the CA in
/// `ssl_ca` did not sign.
fn tls_fix(cfg: &MysqlConfig, message: &str) -> String {
    if message.contains("hostname mismatch") || message.contains("IP address mismatch") {
        format!(
            "the server's certificate does not name mysql.host `{}`: connect by a name it \
             carries, or use ssl_mode = \"verify_ca\" (which checks only who signed it)",
            cfg.host
        )
    } else if message.contains("certificate verify failed") {
        format!(
            "check mysql.ssl_ca: it must hold the CA that signed the server's certificate \
             (ssl_mode = \"{}\")",
            cfg.ssl_mode
        )
    } else {
        "check mysql.ssl_mode and mysql.ssl_ca against the server's TLS settings".into()
    }
}

/// The kind of a driver error (see [`classify`]).
pub fn error_kind(e: &mysql_async::Error) -> ErrorKind {
    use mysql_async::{Error, IoError};
    match e {
        Error::Server(s) => server_code_kind(s.code),
        Error::Io(IoError::Io(_)) => ErrorKind::Connection,
        Error::Driver(d) => driver_kind(d),
        // Past the handshake (and in the modes that verify nothing) a TLS
        // error is the connection failing; see `classify` for the others.
        Error::Io(IoError::Tls(_)) => ErrorKind::Connection,
        Error::Url(_) => ErrorKind::Config,
        Error::Other(_) => ErrorKind::Internal,
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

/// ER_PARSE_ERROR: a statement this server version does not know.
const ER_PARSE_ERROR: u16 = 1064;

/// The server's current binlog file and position (`SHOW MASTER STATUS`,
/// `SHOW BINARY LOG STATUS` on MySQL 8.4+), `None` when binary logging is off.
pub async fn binlog_end(
    cfg: &MysqlConfig,
    conn: &mut Conn,
) -> Result<Option<(String, u64)>, PipelineError> {
    let row: Result<Option<mysql_async::Row>, _> = conn.query_first("SHOW MASTER STATUS").await;
    let row = match row {
        Ok(r) => r,
        // MySQL 8.4 removed SHOW MASTER STATUS: a syntax error there. Any
        // other refusal is about the user, and names its privilege.
        Err(mysql_async::Error::Server(e)) if e.code == ER_PARSE_ERROR => {
            conn.query_first("SHOW BINARY LOG STATUS").await.map_err(|e| classify(cfg, &e))?
        }
        Err(e) => {
            let err = classify(cfg, &e);
            if err.kind != ErrorKind::Privileges {
                return Err(err);
            }
            return Err(err.with_fix(format!(
                "GRANT BINLOG MONITOR ON *.* TO {user} (MariaDB 10.5+), or GRANT REPLICATION \
                 CLIENT ON *.* TO {user} (MySQL); `logtap check` lists every privilege",
                user = cfg.user
            )));
        }
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

/// The kind of a mysql_async driver error: a closed connection retries;
/// authentication the client cannot do, TLS the server does not offer and
/// packets that make no sense stop; the rest are logtap's own mistakes.
fn driver_kind(d: &mysql_async::DriverError) -> ErrorKind {
    use mysql_async::DriverError as D;
    match d {
        D::ConnectionClosed | D::PoolDisconnected => ErrorKind::Connection,
        D::UnknownAuthPlugin { .. }
        | D::MysqlOldPasswordDisabled
        | D::CleartextPluginDisabled
        | D::InvalidParsecSalt => ErrorKind::Authentication,
        D::NoClientSslFlagFromServer => ErrorKind::Tls,
        D::PacketOutOfOrder
        | D::UnexpectedPacket { .. }
        | D::PacketTooLarge
        | D::BadCompressedPacketHeader
        | D::CantParseServerVersion { .. } => ErrorKind::Decode,
        _ => ErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logtap_core::Policy;

    #[test]
    fn a_purged_binlog_needs_a_reset_denied_access_stops_and_a_killed_connection_retries() {
        assert_eq!(server_code_kind(1236).policy(), Policy::Reset);
        for code in [1045, 1044, 1227, 1698] {
            assert_eq!(server_code_kind(code).policy(), Policy::Stop, "{code}");
        }
        for code in [1040, 1053, 1927, 4031, 1205, 1213] {
            assert_eq!(server_code_kind(code).policy(), Policy::Retry, "{code}");
        }
        assert_eq!(server_code_kind(1064), ErrorKind::Refused);
        let reset = mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(error_kind(&reset), ErrorKind::Connection);
        let closed = mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed);
        assert_eq!(error_kind(&closed), ErrorKind::Connection);
        let odd = mysql_async::Error::Driver(mysql_async::DriverError::PacketOutOfOrder);
        assert_eq!(error_kind(&odd).policy(), Policy::Stop);
    }
}
