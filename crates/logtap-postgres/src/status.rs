//! `logtap status` for PostgreSQL: the slot as the server sees it, i.e. how
//! much WAL logtap pins and whether the slot is still usable.

use crate::catalog;
use crate::config::PostgresConfig;

/// Lines describing the slot of `cfg`; a server that cannot be reached is
/// a line too (status reports, it does not fail).
pub async fn report(cfg: &PostgresConfig) -> Vec<String> {
    let slot = &cfg.slot_name;
    let client = match catalog::connect(cfg).await {
        Ok(c) => c,
        Err(e) => return vec![format!("slot {slot}: cannot reach PostgreSQL: {e}")],
    };
    let info = match catalog::slot_info(&client, slot).await {
        Ok(i) => i,
        Err(e) => return vec![format!("slot {slot}: {e}")],
    };
    let Some(s) = info else { return vec![format!("slot {slot}: does not exist")] };
    let lag = catalog::slot_lag_bytes(&client, slot).await.ok().flatten();
    vec![format!(
        "slot {slot}: {}, confirmed {}, holds back {} of WAL, wal_status {}",
        s.active_pid.map_or("inactive".to_string(), |p| format!("active (server pid {p})")),
        s.confirmed_flush_lsn.map_or("-".to_string(), |l| l.to_string()),
        logtap_core::human::bytes(lag.unwrap_or(0).max(0) as u64),
        s.wal_status.as_deref().unwrap_or("-"),
    )]
}
