//! `logtap status`: the stored positions (from the store, or from its
//! mirror file while `logtap run` holds it), then what the source's server
//! says (asked of the source crate).

use crate::config::{Config, SourceConfig};
use crate::store::open_offsets;
use anyhow::Result;
use logtap_core::human;

pub async fn status(cfg: &Config) -> Result<()> {
    // sled admits one process: while `logtap run` holds the store, read the
    // JSON mirror it keeps beside it.
    let all = match open_offsets(cfg, false, false).await {
        Ok(offsets) => offsets.list()?,
        Err(e) if e.downcast_ref::<logtap_core::OffsetError>().is_some_and(|o| o.locked) => {
            let path = cfg.offsets.path.clone().unwrap_or_default();
            say!("(logtap is running on {}; positions from its mirror file)", path.display());
            logtap_offsets::read_mirror(&path)?
        }
        Err(e) => return Err(e),
    };
    if all.is_empty() {
        say!("no stored positions in {}", cfg.offsets.describe());
    }
    let now_ms = logtap_runtime::now_us() / 1000;
    for (name, off) in all {
        let marker = if name == cfg.topic_prefix { " (this config)" } else { "" };
        let at = off.updated_at_ms;
        let when = format!("{}, {}", human::utc(at), human::ago(at, now_ms));
        say!("{name}{marker}: {} (stored {when})", off.position);
        if let Some(s) = off.snapshot {
            let kind = if s.incremental { "incremental snapshot" } else { "snapshot" };
            say!(
                "  {kind} under way: {} table(s) done, {} to go",
                s.tables_done,
                s.pending_tables.len()
            );
            let condition = |t: &str| {
                s.conditions.get(t).map(|c| format!(" (rows where {c})")).unwrap_or_default()
            };
            if let Some(first) = s.pending_tables.first() {
                let of = s.estimated_rows.map(|n| format!(" of ~{n}")).unwrap_or_default();
                match &s.last_key {
                    None if s.rows_done == 0 => {
                        say!("    {first}{}: not started", condition(first))
                    }
                    None => say!("    {first}{}: {} rows sent{of}", condition(first), s.rows_done),
                    Some(k) => say!(
                        "    {first}{}: {} rows sent{of}, resumes after key {k}",
                        condition(first),
                        s.rows_done
                    ),
                }
            }
            for t in s.pending_tables.iter().skip(1) {
                say!("    {t}{}: not started", condition(t));
            }
        }
    }
    let server = match &cfg.source {
        SourceConfig::Postgres(pg) => logtap_postgres::status::report(pg).await,
        SourceConfig::Mysql(my) => logtap_mysql::status::report(my).await,
        SourceConfig::Demo(_) => Vec::new(),
    };
    for line in server {
        say!("{line}");
    }
    Ok(())
}
