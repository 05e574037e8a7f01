//! `logtap offsets set` on MySQL/MariaDB: whether the server can still send
//! the binlog from a position given by hand, checked before it is stored,
//! so a wrong one is refused with its reason instead of stopping `run`
//! later (or, worse, skipping changes on a GTID set the server is behind).

use crate::config::MysqlConfig;
use crate::conn::{self, Flavor};
use logtap_core::{ErrorKind, PipelineError};
use mysql_async::prelude::Queryable;

/// A position given by hand.
#[derive(Debug, Clone, Copy)]
pub enum Given<'a> {
    /// A MySQL GTID set or a MariaDB GTID position.
    Gtids(&'a str),
    /// A binlog file and the offset of an event in it.
    File(&'a str, u64),
}

/// Checks that the server has the binlog from `at` (where logtap resumes).
pub async fn check_position(cfg: &MysqlConfig, at: Given<'_>) -> Result<(), PipelineError> {
    let mut c = conn::connect(cfg).await?;
    let info = conn::server_info(cfg, &mut c).await?;
    let checked = match (at, info.flavor) {
        (Given::Gtids(g), Flavor::Mysql) => check_mysql_gtids(cfg, &mut c, g).await,
        (Given::Gtids(g), Flavor::Mariadb) => check_mariadb_gtids(cfg, &mut c, g).await,
        (Given::File(file, pos), _) => check_file(cfg, &mut c, file, pos).await,
    };
    let _ = c.disconnect().await;
    checked
}

fn refuse(message: String) -> Result<(), PipelineError> {
    Err(PipelineError::new(ErrorKind::ServerSetup, format!("{message}; nothing was stored"))
        .with_fix(REFUSED_FIX))
}

/// What to do about a position the server cannot serve.
pub const REFUSED_FIX: &str = "give a position the server still has: `logtap status` shows the server's binlog and the stored position, SHOW BINARY LOGS the files it keeps";

async fn check_file(
    cfg: &MysqlConfig,
    c: &mut mysql_async::Conn,
    file: &str,
    pos: u64,
) -> Result<(), PipelineError> {
    let files = conn::binlog_files(cfg, c).await?;
    if !files.iter().any(|f| f == file) {
        return refuse(format!(
            "the server has no binlog file `{file}` (it keeps {}): give one SHOW BINARY LOGS lists",
            files.join(", ")
        ));
    }
    if pos < 4 {
        return refuse(format!("binlog position {pos} is before the first event (4)"));
    }
    if let Some((end_file, end_pos)) = conn::binlog_end(cfg, c).await? {
        if end_file == file && pos > end_pos {
            return refuse(format!(
                "{file}:{pos} is past the end of the binlog ({end_file}:{end_pos})"
            ));
        }
    }
    // The server reads events from `pos` on: it must be where one starts.
    // (No placeholders in SHOW: the file is one SHOW BINARY LOGS listed.)
    let show = format!("SHOW BINLOG EVENTS IN '{}' FROM {pos} LIMIT 1", file.replace('\'', "''"));
    let at: Result<Option<mysql_async::Row>, _> = c.query_first(show).await;
    if let Err(mysql_async::Error::Server(e)) = at {
        return refuse(format!(
            "{file}:{pos} is not where an event starts ({}): take a position from SHOW BINLOG EVENTS or SHOW MASTER STATUS",
            e.message
        ));
    }
    Ok(())
}

/// MySQL: the set must be one the server executed (not ahead of it) and
/// must contain everything the server purged (else the changes after it
/// are partly gone).
async fn check_mysql_gtids(
    cfg: &MysqlConfig,
    c: &mut mysql_async::Conn,
    gtids: &str,
) -> Result<(), PipelineError> {
    let q = |e: mysql_async::Error| conn::classify(cfg, &e);
    let row: Option<(i64, i64, String)> = c
        .exec_first(
            "SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed), GTID_SUBSET(@@GLOBAL.gtid_purged, ?), @@GLOBAL.gtid_purged",
            (gtids, gtids),
        )
        .await
        .map_err(|e| match &e {
            mysql_async::Error::Server(s) if s.code == 1772 => PipelineError::new(
                ErrorKind::Config,
                format!("`{gtids}` is not a GTID set (uuid:1-5,uuid:7): {}", s.message),
            ),
            _ => q(e),
        })?;
    let Some((executed, has_purged, purged)) = row else { return Ok(()) };
    if executed != 1 {
        return refuse(format!(
            "GTID set `{gtids}` is ahead of the server: it has transactions the server has not executed (SELECT @@GLOBAL.gtid_executed), and starting there would skip the server's next ones"
        ));
    }
    if has_purged != 1 {
        return refuse(format!(
            "the server purged transactions after GTID set `{gtids}` (gtid_purged = {}): the changes since are gone; give a set that contains gtid_purged",
            purged.replace('\n', "")
        ));
    }
    Ok(())
}

/// MariaDB: per domain, the sequence number must not be ahead of the
/// server's binlog (`gtid_binlog_pos`) nor before the start of its oldest
/// binlog file (`BINLOG_GTID_POS(oldest, 4)`: older ones are purged).
async fn check_mariadb_gtids(
    cfg: &MysqlConfig,
    c: &mut mysql_async::Conn,
    gtids: &str,
) -> Result<(), PipelineError> {
    let given = parse_mariadb_gtids(gtids).ok_or_else(|| {
        PipelineError::new(
            ErrorKind::Config,
            format!("`{gtids}` is not a MariaDB GTID position (domain-server-sequence, comma-separated, e.g. 0-1-42)"),
        )
    })?;
    let q = |e: mysql_async::Error| conn::classify(cfg, &e);
    let now = conn::query_text(c, "SELECT @@GLOBAL.gtid_binlog_pos").await.map_err(q)?;
    let now = parse_mariadb_gtids(&now.unwrap_or_default()).unwrap_or_default();
    let files = conn::binlog_files(cfg, c).await?;
    let oldest = match files.first() {
        Some(f) => c
            .exec_first::<Option<String>, _, _>("SELECT BINLOG_GTID_POS(?, 4)", (f,))
            .await
            .map_err(q)?
            .flatten(),
        None => None,
    };
    let oldest = parse_mariadb_gtids(&oldest.unwrap_or_default()).unwrap_or_default();
    for &(domain, seq) in &given {
        let server = now.iter().find(|(d, _)| *d == domain).map(|&(_, s)| s);
        if server.is_none_or(|s| seq > s) {
            return refuse(format!(
                "GTID domain {domain} sequence {seq} is ahead of the server's binlog (gtid_binlog_pos = {}): starting there would skip the server's next transactions",
                fmt_gtids(&now)
            ));
        }
        if let Some(&(_, first)) = oldest.iter().find(|(d, _)| *d == domain) {
            if seq < first {
                return refuse(format!(
                    "the server purged GTID domain {domain} up to sequence {first} (its oldest binlog, {}, starts there): the changes after {seq} are gone",
                    files.first().map_or("", String::as_str)
                ));
            }
        }
    }
    Ok(())
}

/// `0-1-42,1-2-7` as (domain, sequence) pairs; `None` if malformed. An
/// empty string is no domain at all.
fn parse_mariadb_gtids(text: &str) -> Option<Vec<(u32, u64)>> {
    text.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|g| {
            let mut parts = g.split('-');
            let domain = parts.next()?.parse().ok()?;
            let _server: u32 = parts.next()?.parse().ok()?;
            let seq = parts.next()?.parse().ok()?;
            parts.next().is_none().then_some((domain, seq))
        })
        .collect()
}

fn fmt_gtids(g: &[(u32, u64)]) -> String {
    let parts: Vec<String> = g.iter().map(|(d, s)| format!("domain {d} at {s}")).collect();
    if parts.is_empty() {
        "empty".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_gtid_positions_parse_per_domain() {
        assert_eq!(parse_mariadb_gtids("0-1-42,1-2-7"), Some(vec![(0, 42), (1, 7)]));
        assert_eq!(parse_mariadb_gtids(" 0-1-42 "), Some(vec![(0, 42)]));
        assert_eq!(parse_mariadb_gtids(""), Some(vec![]));
        assert_eq!(parse_mariadb_gtids("0-1"), None);
        assert_eq!(parse_mariadb_gtids("0-1-2-3"), None);
        assert_eq!(parse_mariadb_gtids("uuid:1-5"), None);
    }
}
