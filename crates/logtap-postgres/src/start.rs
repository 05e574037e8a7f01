//! How the PostgreSQL source starts, decided without IO: `source.rs` reads
//! what is there (the stored checkpoint, the server's version and role, the
//! slot), [`decide`] turns it into a [`StartPlan`] or the error that stops
//! the start, and `source.rs` carries the plan out (drops or creates the
//! slot, reads the tables of a full snapshot, starts replication).
//!
//! Every case has a unit test below; the table in ARCHITECTURE.md
//! ("Starting") is the same list in words.

use crate::catalog::SlotInfo;
use crate::snapshot::Watermarks;
use logtap_core::snapshot::{self, SnapshotMode, SnapshotPlan};
use logtap_core::{ErrorKind, Lsn, PgTxProgress, PipelineError, SnapshotProgress};

/// What `source.rs` read before deciding.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub mode: SnapshotMode,
    /// The stored position (LSN, how far into its transaction) and progress.
    pub stored_lsn: Option<Lsn>,
    pub stored_tx: Option<PgTxProgress>,
    pub progress: Option<SnapshotProgress>,
    /// `server_version_num`.
    pub version: u32,
    pub standby: bool,
    pub slot_name: String,
    pub database: String,
    pub slot: Option<SlotInfo>,
    /// `[snapshot] signal_data_collection`, as `schema.table` quoted.
    pub signal_table: Option<String>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StartPlan {
    /// Drop the existing slot first (`when_needed` after a lost position).
    pub drop_slot: bool,
    /// Create the slot (none exists, or it was dropped).
    pub create_slot: bool,
    /// Stream from this position (`None`: from the slot's).
    pub resume_at: Option<Lsn>,
    pub resume_tx: Option<PgTxProgress>,
    /// The snapshot: none, resumed at a stored progress, or a full one
    /// over the publication's captured tables (read by the driver).
    pub snapshot: SnapshotPlan,
    /// pgoutput's protocol version and whether it sends messages.
    pub proto: u32,
    pub messages: bool,
    /// How snapshot chunks find their window (`None`: no snapshot can run).
    pub watermarks: Option<Watermarks>,
    /// The kept slot's confirmed position: the server sends nothing before it.
    pub kept_confirmed: Option<Lsn>,
    /// Streaming from a reused slot's confirmed position (for the log).
    pub reuse_confirmed: Option<Lsn>,
}

/// See the module documentation.
pub(crate) fn decide(f: Found) -> Result<StartPlan, PipelineError> {
    if f.standby && f.version < 160000 {
        return Err(PipelineError::new(ErrorKind::Unsupported, format!(
            "the server is a standby (pg_is_in_recovery()) and PostgreSQL {}: logical decoding on a standby needs PostgreSQL 16 or later; \
             point postgres.host at the primary, or upgrade", f.version
        )));
    }
    if let Some(info) = &f.slot {
        slot_usable(&f.slot_name, &f.database, info)?;
    }
    let (mut stored_lsn, mut resume_tx, mut progress) = (f.stored_lsn, f.stored_tx, f.progress);
    let mut drop_slot = false;
    if let Some(why) = position_gone(&f.slot_name, f.slot.as_ref(), stored_lsn) {
        if f.mode != SnapshotMode::WhenNeeded {
            return Err(PipelineError::new(ErrorKind::PositionLost, format!(
                "{why}; to start over run `logtap reset` (a new snapshot brings the tables back), or set [snapshot] mode = \"when_needed\" to do that by itself"
            )));
        }
        tracing::warn!(slot = %f.slot_name, "{why}; snapshot mode when_needed: starting over with a new slot and a new snapshot");
        drop_slot = f.slot.is_some();
        (stored_lsn, resume_tx, progress) = (None, None, None);
    }
    let snapshot = snapshot::plan(f.mode, stored_lsn.is_some(), progress.as_ref());
    let watermarks = watermarks(f.standby, f.version, f.signal_table.as_deref());
    if snapshot != SnapshotPlan::None && watermarks.is_none() {
        return Err(PipelineError::new(ErrorKind::Unsupported, format!(
            "snapshot mode {} needs PostgreSQL 14 or later (its watermarks are logical decoding messages) or, on this server ({}), \
             a signal table for them: set [snapshot] signal_data_collection (Debezium's table: id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)); \
             or set [snapshot] mode = \"no_data\" to stream changes only", f.mode, f.version
        )));
    }
    let kept =
        f.slot.as_ref().filter(|_| !drop_slot).map(|i| i.confirmed_flush_lsn.unwrap_or(Lsn(0)));
    Ok(StartPlan {
        drop_slot,
        create_slot: f.slot.is_none() || drop_slot,
        resume_at: stored_lsn,
        resume_tx,
        snapshot,
        proto: proto_version(f.version),
        messages: f.version >= 140000,
        watermarks,
        kept_confirmed: kept,
        reuse_confirmed: kept.filter(|_| stored_lsn.is_none()),
    })
}

/// An existing slot logtap can read: pgoutput, this database, idle.
fn slot_usable(slot: &str, database: &str, info: &SlotInfo) -> Result<(), PipelineError> {
    if info.plugin.as_deref() != Some("pgoutput") {
        return Err(PipelineError::new(ErrorKind::ServerSetup, format!(
            "replication slot `{slot}` uses plugin {:?}, not pgoutput: drop it (SELECT pg_drop_replication_slot('{slot}')) or set postgres.slot_name to another name",
            info.plugin
        )));
    }
    if info.database.as_deref() != Some(database) {
        return Err(PipelineError::new(ErrorKind::ServerSetup, format!(
            "replication slot `{slot}` belongs to database {:?}, not `{database}`: set postgres.slot_name to another name",
            info.database
        )));
    }
    if let Some(pid) = info.active_pid {
        return Err(PipelineError::new(ErrorKind::SlotInUse, format!(
            "replication slot `{slot}` is in use by server process {pid} (another logtap, or a stale connection): stop it, or SELECT pg_terminate_backend({pid})"
        )));
    }
    Ok(())
}

/// Why the stored position cannot be resumed from, if it cannot: the slot
/// lost its WAL, confirmed past it, or is gone.
fn position_gone(slot: &str, info: Option<&SlotInfo>, stored: Option<Lsn>) -> Option<String> {
    match (info, stored) {
        (Some(i), _) if i.wal_status.as_deref() == Some("lost") => Some(format!(
            "replication slot `{slot}` has lost required WAL (wal_status = lost, max_slot_wal_keep_size exceeded): changes are gone"
        )),
        (Some(i), Some(stored)) if i.confirmed_flush_lsn.is_some_and(|c| c > stored) => Some(format!(
            "replication slot `{slot}` has confirmed {}, past logtap's stored position {stored}: the changes between were consumed by another client and cannot be replayed",
            i.confirmed_flush_lsn.unwrap_or(stored)
        )),
        (None, Some(stored)) => Some(format!(
            "replication slot `{slot}` does not exist, but logtap has a stored position ({stored}): the slot was dropped and changes since then may be lost"
        )),
        _ => None,
    }
}

/// pgoutput's newest protocol the server speaks (4 streams in parallel,
/// 3 two-phase, 2 streams large transactions: logtap reads them all).
fn proto_version(version: u32) -> u32 {
    match version {
        v if v >= 160000 => 4,
        v if v >= 150000 => 3,
        v if v >= 140000 => 2,
        _ => 1,
    }
}

/// Where snapshot chunks' windows open and close: a standby writes
/// nothing; PostgreSQL 14+ has logical decoding messages; before that only
/// rows of a signal table can be watermarks.
fn watermarks(standby: bool, version: u32, signal_table: Option<&str>) -> Option<Watermarks> {
    match signal_table {
        _ if standby => Some(Watermarks::Replay),
        _ if version >= 140000 => Some(Watermarks::Messages),
        Some(t) => Some(Watermarks::Table(t.to_string())),
        None => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn slot(confirmed: u64) -> SlotInfo {
        SlotInfo {
            plugin: Some("pgoutput".into()),
            database: Some("db".into()),
            active_pid: None,
            confirmed_flush_lsn: Some(Lsn(confirmed)),
            restart_lsn: Some(Lsn(confirmed)),
            wal_status: Some("reserved".into()),
        }
    }

    fn found(mode: SnapshotMode, stored: Option<u64>, slot: Option<SlotInfo>) -> Found {
        Found {
            mode,
            stored_lsn: stored.map(Lsn),
            stored_tx: None,
            progress: None,
            version: 160000,
            standby: false,
            slot_name: "s".into(),
            database: "db".into(),
            slot,
            signal_table: None,
        }
    }

    fn kind(f: Found) -> ErrorKind {
        decide(f).unwrap_err().kind
    }

    #[test]
    fn a_first_start_creates_the_slot_and_snapshots() {
        let p = decide(found(SnapshotMode::Initial, None, None)).unwrap();
        assert!(p.create_slot && !p.drop_slot);
        assert_eq!((p.resume_at, p.snapshot, p.reuse_confirmed), (None, SnapshotPlan::Full, None));
        assert_eq!((p.proto, p.messages, p.watermarks), (4, true, Some(Watermarks::Messages)));
    }

    #[test]
    fn a_restart_resumes_at_the_stored_position_on_its_slot() {
        let mut f = found(SnapshotMode::Initial, Some(100), Some(slot(90)));
        let inside = PgTxProgress::Changes { commit_lsn: Lsn(120), changes: 3 };
        f.stored_tx = Some(inside);
        let p = decide(f).unwrap();
        assert!(!p.create_slot && !p.drop_slot);
        assert_eq!((p.resume_at, p.resume_tx), (Some(Lsn(100)), Some(inside)));
        assert_eq!(p.snapshot, SnapshotPlan::None, "the snapshot was done before");
    }

    #[test]
    fn a_stopped_snapshot_resumes_at_its_progress() {
        let mut f = found(SnapshotMode::Initial, Some(100), Some(slot(100)));
        let progress =
            SnapshotProgress { pending_tables: vec!["p.t".into()], ..Default::default() };
        f.progress = Some(progress.clone());
        assert_eq!(decide(f).unwrap().snapshot, SnapshotPlan::Resume(progress));
    }

    #[test]
    fn a_reused_slot_without_a_stored_position_streams_from_its_confirmed_one() {
        let p = decide(found(SnapshotMode::NoData, None, Some(slot(77)))).unwrap();
        assert!(!p.create_slot);
        assert_eq!(
            (p.resume_at, p.reuse_confirmed, p.snapshot),
            (None, Some(Lsn(77)), SnapshotPlan::None)
        );
    }

    #[test]
    fn a_lost_position_stops_unless_when_needed_starts_over() {
        let dropped = found(SnapshotMode::Initial, Some(100), None);
        assert_eq!(kind(dropped.clone()), ErrorKind::PositionLost);
        let ahead = found(SnapshotMode::Initial, Some(100), Some(slot(200)));
        assert_eq!(kind(ahead.clone()), ErrorKind::PositionLost);
        let mut lost_wal = found(SnapshotMode::Initial, Some(100), Some(slot(100)));
        lost_wal.slot.as_mut().unwrap().wal_status = Some("lost".into());
        assert_eq!(kind(lost_wal.clone()), ErrorKind::PositionLost);
        for (f, had_slot) in [(dropped, false), (ahead, true), (lost_wal, true)] {
            let mut f = Found { mode: SnapshotMode::WhenNeeded, ..f };
            f.progress = Some(SnapshotProgress::default());
            let p = decide(f).unwrap();
            assert_eq!((p.drop_slot, p.create_slot), (had_slot, true));
            assert_eq!((p.resume_at, p.snapshot), (None, SnapshotPlan::Full), "a new snapshot");
        }
    }

    #[test]
    fn a_slot_of_another_plugin_database_or_in_use_is_refused() {
        for change in [
            |s: &mut SlotInfo| s.plugin = Some("wal2json".into()),
            |s: &mut SlotInfo| s.database = Some("other".into()),
            |s: &mut SlotInfo| s.active_pid = Some(42),
        ] {
            let mut s = slot(1);
            change(&mut s);
            let err = decide(found(SnapshotMode::Initial, None, Some(s))).unwrap_err();
            assert!(matches!(err.kind, ErrorKind::ServerSetup | ErrorKind::SlotInUse), "{err}");
        }
    }

    #[test]
    fn a_standby_needs_16_and_writes_no_watermark() {
        let mut f = found(SnapshotMode::Initial, None, None);
        f.standby = true;
        f.version = 150000;
        assert_eq!(kind(f.clone()), ErrorKind::Unsupported);
        f.version = 170000;
        assert_eq!(decide(f).unwrap().watermarks, Some(Watermarks::Replay));
    }

    #[test]
    fn before_14_a_snapshot_needs_a_signal_table_and_streaming_does_not() {
        let mut f = found(SnapshotMode::Initial, None, None);
        f.version = 130000;
        assert_eq!(kind(f.clone()), ErrorKind::Unsupported);
        let p = decide(Found { mode: SnapshotMode::NoData, ..f.clone() }).unwrap();
        assert_eq!((p.proto, p.messages, p.watermarks), (1, false, None));
        f.signal_table = Some("\"p\".\"sig\"".into());
        let p = decide(f).unwrap();
        assert_eq!(p.watermarks, Some(Watermarks::Table("\"p\".\"sig\"".into())));
    }
}
