//! `logtap status` for MySQL/MariaDB: the server's binlog end, its GTID
//! position and the files it still keeps, i.e. how far behind the stored
//! position is and whether it can still be read.

use crate::config::MysqlConfig;
use crate::conn::{self, Flavor};

/// Lines describing the server's binlog; a server that cannot be reached
/// is a line too (status reports, it does not fail).
pub async fn report(cfg: &MysqlConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut c = match conn::connect(cfg).await {
        Ok(c) => c,
        Err(e) => return vec![format!("binlog: cannot reach MySQL/MariaDB: {e}")],
    };
    out.push(match conn::binlog_end(cfg, &mut c).await {
        Ok(Some((file, pos))) => format!("binlog: server at {file}:{pos}"),
        Ok(None) => "binlog: binary logging is off on the server".to_string(),
        Err(e) => format!("binlog: {e}"),
    });
    if let Ok(info) = conn::server_info(cfg, &mut c).await {
        let var = match info.flavor {
            Flavor::Mariadb => "SELECT @@GLOBAL.gtid_binlog_pos",
            Flavor::Mysql => "SELECT @@GLOBAL.gtid_executed",
        };
        if let Ok(Some(g)) = conn::query_text(&mut c, var).await {
            out.push(format!("binlog: server GTID position {}", g.replace('\n', "")));
        }
    }
    out.push(match conn::binlog_files(cfg, &mut c).await {
        Ok(files) => format!(
            "binlog: server keeps {} file(s){}",
            files.len(),
            files.first().map(|f| format!(", oldest {f}")).unwrap_or_default()
        ),
        Err(e) => format!("binlog: {e}"),
    });
    let _ = c.disconnect().await;
    out
}
