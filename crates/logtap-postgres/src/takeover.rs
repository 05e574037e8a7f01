//! Checks a position taken over from Debezium (or set by hand, see
//! [`check_reposition`]) against the server before it is stored: logtap
//! must read the very slot Debezium read (the changes since Debezium
//! stopped are in that slot only), with pgoutput, and the slot must still
//! hold the position. Otherwise `logtap run` would stop later with a less
//! precise message, or, on a new slot, skip the changes.

use crate::catalog;
use crate::config::PostgresConfig;
use logtap_core::{ErrorKind, Lsn, PipelineError};

/// Whether slot `cfg.slot_name` can resume at `lsn`.
pub async fn check_slot_for(cfg: &PostgresConfig, lsn: Lsn) -> Result<(), PipelineError> {
    let sql = catalog::connect(cfg).await?;
    let slot = &cfg.slot_name;
    let refuse = |msg: String| Err(PipelineError::new(ErrorKind::ServerSetup, msg));
    // A Debezium that just stopped may hold the slot a moment longer.
    let mut info = catalog::slot_info(&sql, slot).await?;
    for _ in 0..20 {
        if info.as_ref().is_none_or(|i| i.active_pid.is_none()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        info = catalog::slot_info(&sql, slot).await?;
    }
    let Some(info) = info else {
        return refuse(format!(
            "replication slot `{slot}` does not exist: logtap must read the slot Debezium read, which holds the changes since it stopped; \
             set postgres.slot_name to Debezium's slot.name (`debezium` by default). Nothing was imported"
        ));
    };
    if info.plugin.as_deref() != Some("pgoutput") {
        return refuse(format!(
            "replication slot `{slot}` uses plugin {:?} (Debezium's plugin.name), and logtap decodes pgoutput only: \
             its changes cannot be taken over; start logtap on a new slot with a snapshot instead. Nothing was imported",
            info.plugin
        ));
    }
    if let Some(pid) = info.active_pid {
        return refuse(format!(
            "replication slot `{slot}` is in use by server process {pid}: stop Debezium first (its offsets are final only once it stopped), then import again (waited 10 s)"
        ));
    }
    if info.wal_status.as_deref() == Some("lost") {
        return refuse(format!(
            "replication slot `{slot}` has lost required WAL (wal_status = lost): the changes after Debezium's position are gone"
        ));
    }
    if let Some(confirmed) = info.confirmed_flush_lsn.filter(|c| *c > lsn) {
        return refuse(format!(
            "replication slot `{slot}` has confirmed {confirmed}, past Debezium's stored position {lsn}: the changes between were \
             acknowledged without being stored (lsn.flush.mode = connector_and_driver?) and cannot be read again. Nothing was imported"
        ));
    }
    Ok(())
}

/// `logtap offsets set --lsn`: whether slot `cfg.slot_name` can resume at
/// `lsn`, a position given by hand. A slot never goes back: a position
/// before its confirmed one would silently start there instead, so it is
/// refused, as is one past the end of the WAL.
pub async fn check_reposition(cfg: &PostgresConfig, lsn: Lsn) -> Result<(), PipelineError> {
    let sql = catalog::connect(cfg).await?;
    let slot = &cfg.slot_name;
    let refuse = |msg: String| {
        Err(PipelineError::new(ErrorKind::ServerSetup, format!("{msg}; nothing was stored"))
            .with_fix("give an LSN the slot can serve: `logtap status` shows the slot's confirmed position and the stored one"))
    };
    let Some(info) = catalog::slot_info(&sql, slot).await? else {
        return refuse(format!(
            "replication slot `{slot}` does not exist: a position is only good in the slot that holds its WAL \
             (run `logtap run` once to make the slot, then set a position after its start)"
        ));
    };
    if let Some(pid) = info.active_pid {
        return refuse(format!(
            "replication slot `{slot}` is in use by server process {pid}: stop logtap first"
        ));
    }
    if info.wal_status.as_deref() == Some("lost") {
        return refuse(format!(
            "replication slot `{slot}` has lost required WAL (wal_status = lost)"
        ));
    }
    if let Some(confirmed) = info.confirmed_flush_lsn.filter(|c| *c > lsn) {
        return refuse(format!(
            "replication slot `{slot}` has confirmed {confirmed}, past {lsn}: a slot never goes back, so the changes \
             before {confirmed} cannot be read again; give {confirmed} or later"
        ));
    }
    let end: Option<String> = sql
        .query_one(
            "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text",
            &[],
        )
        .await
        .map_err(|e| catalog::sql_err("reading the end of the WAL", e))?
        .get(0);
    if let Some(end) = end.and_then(|e| e.parse::<Lsn>().ok()).filter(|e| lsn > *e) {
        return refuse(format!(
            "{lsn} is past the end of the WAL ({end}): starting there would skip the changes written until then"
        ));
    }
    Ok(())
}
