//! How the MySQL/MariaDB source starts, decided without IO: `source.rs`
//! reads what is there (the stored checkpoint, the server's identity and
//! settings, its binlog files when they matter), [`position`] says where
//! the stream starts (or that the server's current end must be read) and
//! [`snapshot`] whether and how a snapshot runs; `source.rs` carries it
//! out. Every case has a unit test below.

use crate::conn::Flavor;
use crate::machine::snapshot::{quote_ident, Watermarks};
use crate::machine::{Gtids, Start};
use crate::snapshot::Marks;
use logtap_core::snapshot::{self, SnapshotMode, SnapshotPlan};
use logtap_core::{ErrorKind, PipelineError, SnapshotProgress, SourcePosition, TableId};

/// What `source.rs` read before deciding where to start.
#[derive(Debug, Clone)]
pub(crate) struct Found<'a> {
    pub mode: SnapshotMode,
    pub stored: Option<&'a SourcePosition>,
    pub stored_id: Option<&'a str>,
    /// This server's identity (see `source.rs`).
    pub source_id: &'a str,
    pub flavor: Flavor,
    /// GTIDs are used: `mysql.use_gtid` and the server has them on.
    pub use_gtid: bool,
    pub gtid_enabled: bool,
    /// `mysql.initial_gtid`, `mysql.initial_binlog` (file, position).
    pub initial_gtid: Option<&'a str>,
    pub initial_binlog: Option<(String, u64)>,
    /// The binlog files the server keeps, read for `when_needed` only.
    pub binlog_files: Option<&'a [String]>,
}

/// Where the stream starts.
#[derive(Debug)]
pub(crate) enum From {
    /// The stored position.
    Stored(Start),
    /// `mysql.initial_gtid` / `initial_binlog`.
    Configured(Start),
    /// The server's current end (read by the driver); `starting_over`:
    /// the stored position and snapshot progress are dropped
    /// (`when_needed`, the position is gone).
    ServerEnd { starting_over: bool },
}

/// See the module documentation.
pub(crate) fn position(f: &Found<'_>) -> Result<From, PipelineError> {
    if let Some(why) = start_over(f) {
        tracing::warn!("{why}; snapshot mode when_needed: starting over from the binlog's end with a new snapshot");
        return Ok(From::ServerEnd { starting_over: true });
    }
    match f.stored {
        Some(SourcePosition::Mysql { file, pos, gtid_set, skip_events, skip_rows, debezium_events }) => {
            let skip = (*skip_events > 0 || *skip_rows > 0).then_some((*skip_events, *skip_rows));
            let gtids = match gtid_set {
                Some(g) if f.use_gtid => parse_gtids(f.flavor, g, "the stored position's GTID set")?,
                _ => Gtids::None,
            };
            same_server(f, &gtids)?;
            let start = Start { file: file.clone(), pos: *pos, gtids, skip, skip_debezium: *debezium_events };
            return Ok(From::Stored(start));
        }
        Some(other) => return Err(PipelineError::new(ErrorKind::WrongSource, format!(
            "the stored position ({other}) is not a MySQL/MariaDB position: this offsets directory belongs to another source; use another topic_prefix or run `logtap reset`"
        ))),
        None => {}
    }
    if let Some(g) = f.initial_gtid {
        if !f.gtid_enabled {
            return Err(PipelineError::config(
                "mysql.initial_gtid is set but the server has gtid_mode OFF: use initial_binlog",
            ));
        }
        let gtids = parse_gtids(f.flavor, g, "mysql.initial_gtid")?;
        return Ok(From::Configured(Start {
            file: String::new(),
            pos: 4,
            gtids,
            skip: None,
            skip_debezium: false,
        }));
    }
    if let Some((file, pos)) = f.initial_binlog.clone() {
        return Ok(From::Configured(Start {
            file,
            pos,
            gtids: Gtids::None,
            skip: None,
            skip_debezium: false,
        }));
    }
    Ok(From::ServerEnd { starting_over: false })
}

/// Under `when_needed`, why the stored position cannot be resumed from: its
/// binlog file is purged, or it was taken from another server. A position
/// set by GTID alone (`offsets set --gtid-set`) names no file: its GTID set
/// is checked when it is stored.
fn start_over(f: &Found<'_>) -> Option<String> {
    let (SnapshotMode::WhenNeeded, Some(SourcePosition::Mysql { file, .. })) = (f.mode, f.stored)
    else {
        return None;
    };
    if let Some(old) = f.stored_id.filter(|old| *old != f.source_id) {
        return Some(format!(
            "the stored position was taken from another server ({old}; this is {})",
            f.source_id
        ));
    }
    let purged = !file.is_empty() && f.binlog_files.is_some_and(|files| !files.contains(file));
    purged.then(|| {
        format!("the server no longer has binlog file {file} of the stored position (purged)")
    })
}

/// A stored position of another server is refused, unless it is a GTID set
/// (the same GTID topology after a failover), which is resumed with a warning.
fn same_server(f: &Found<'_>, gtids: &Gtids) -> Result<(), PipelineError> {
    let Some(old) = f.stored_id.filter(|old| *old != f.source_id) else { return Ok(()) };
    if matches!(gtids, Gtids::None) {
        return Err(PipelineError::new(ErrorKind::WrongSource, format!(
            "the stored position {} was taken from another server ({old}); this is {}. A binlog file/position means nothing on another server: point logtap at the original one, or run `logtap reset` to start afresh",
            f.stored.map(ToString::to_string).unwrap_or_default(), f.source_id
        )));
    }
    tracing::warn!(stored = old, now = %f.source_id, "the stored GTID position was taken from another server (failover?): resuming by GTID");
    Ok(())
}

/// A GTID position in the server's own format.
pub(crate) fn parse_gtids(flavor: Flavor, text: &str, what: &str) -> Result<Gtids, PipelineError> {
    let bad = |e: logtap_binlog::GtidError| {
        let kind = match flavor {
            Flavor::Mariadb => "MariaDB",
            Flavor::Mysql => "MySQL",
        };
        PipelineError::config(format!("{what} `{text}` is not a {kind} GTID position: {e}"))
    };
    Ok(match flavor {
        Flavor::Mariadb => Gtids::Mariadb(text.parse().map_err(bad)?),
        Flavor::Mysql => Gtids::Mysql(text.parse().map_err(bad)?),
    })
}

/// What decides the snapshot.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotFound<'a> {
    pub mode: SnapshotMode,
    /// A position is stored (and kept) and with it this progress.
    pub stored: bool,
    pub progress: Option<SnapshotProgress>,
    pub flavor: Flavor,
    pub signal_table: Option<&'a TableId>,
    /// A MySQL replica or read-only server: no watermark row can be written.
    pub read_only: bool,
    /// The stream is read by MySQL GTIDs.
    pub mysql_gtids: bool,
    /// A new watermark run id and the topic prefix, for signal-row marks.
    pub run: u64,
    pub prefix: &'a str,
}

/// The snapshot plan and how chunks find their windows: MariaDB's need
/// nothing written; MySQL's are rows of the signal table on a writable
/// server that has one, else the executed GTID sets around each chunk (see
/// `machine_snapshot.rs`). A snapshot that no kind can serve is refused.
pub(crate) fn snapshot(
    f: &SnapshotFound<'_>,
) -> Result<(SnapshotPlan, Option<(Watermarks, Marks)>), PipelineError> {
    let plan = snapshot::plan(f.mode, f.stored, f.progress.as_ref());
    let marks = match (f.flavor, f.signal_table) {
        (Flavor::Mariadb, _) => Some((Watermarks::ReadView, Marks::ReadView)),
        (Flavor::Mysql, Some(t)) if !f.read_only => {
            let table = format!("{}.{}", quote_ident(&t.namespace), quote_ident(&t.table));
            let (run, prefix) = (f.run, f.prefix.to_string());
            Some((Watermarks::SignalRows { run }, Marks::SignalRows { table, run, prefix }))
        }
        (Flavor::Mysql, _) if f.mysql_gtids => Some((Watermarks::GtidSets, Marks::GtidSets)),
        (Flavor::Mysql, _) => None,
    };
    if plan != SnapshotPlan::None && marks.is_none() {
        return Err(PipelineError::config(format!(
            "snapshot mode {} on this MySQL: its chunks need watermarks, and neither kind is available here. Either GTIDs (gtid_mode = ON on the server, mysql.use_gtid = true), whose executed sets logtap reads around each chunk, writing nothing; or, on a writable server, [snapshot] signal_data_collection = \"db.table\" (CREATE TABLE db.table (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)); GRANT INSERT, DELETE on it to logtap's user). Or set [snapshot] mode = \"no_data\" to stream changes only",
            f.mode
        )));
    }
    Ok((plan, marks))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stored(file: &str, gtid: Option<&str>) -> SourcePosition {
        SourcePosition::Mysql {
            file: file.into(),
            pos: 400,
            gtid_set: gtid.map(Into::into),
            skip_events: 1,
            skip_rows: 2,
            debezium_events: false,
        }
    }

    fn found<'a>(mode: SnapshotMode, pos: Option<&'a SourcePosition>) -> Found<'a> {
        Found {
            mode,
            stored: pos,
            stored_id: pos.map(|_| "mariadb server_id 1"),
            source_id: "mariadb server_id 1",
            flavor: Flavor::Mariadb,
            use_gtid: true,
            gtid_enabled: true,
            initial_gtid: None,
            initial_binlog: None,
            binlog_files: None,
        }
    }

    #[test]
    fn a_stored_position_is_resumed_with_its_skips_and_gtids() {
        let p = stored("bin.000002", Some("0-1-9"));
        let From::Stored(s) = position(&found(SnapshotMode::NoData, Some(&p))).unwrap() else {
            panic!()
        };
        assert_eq!((s.file.as_str(), s.pos, s.skip), ("bin.000002", 400, Some((1, 2))));
        assert_eq!(s.gtids.text().as_deref(), Some("0-1-9"));
        let f = Found { use_gtid: false, ..found(SnapshotMode::NoData, Some(&p)) };
        let From::Stored(s) = position(&f).unwrap() else { panic!() };
        assert!(matches!(s.gtids, Gtids::None), "GTIDs off: by file and position");
    }

    #[test]
    fn without_a_stored_position_the_configured_start_or_the_servers_end() {
        let none = found(SnapshotMode::NoData, None);
        assert!(matches!(position(&none).unwrap(), From::ServerEnd { starting_over: false }));
        let by_file = Found { initial_binlog: Some(("bin.000001".into(), 4)), ..none.clone() };
        assert!(
            matches!(position(&by_file).unwrap(), From::Configured(s) if s.file == "bin.000001")
        );
        let by_gtid = Found { initial_gtid: Some("0-1-5"), ..none.clone() };
        assert!(matches!(position(&by_gtid).unwrap(), From::Configured(s) if s.pos == 4));
        let off = Found { gtid_enabled: false, ..by_gtid.clone() };
        assert_eq!(position(&off).unwrap_err().kind, ErrorKind::Config);
        let bad = Found { initial_gtid: Some("nonsense"), ..by_gtid };
        assert_eq!(position(&bad).unwrap_err().kind, ErrorKind::Config);
    }

    #[test]
    fn another_servers_position_is_refused_by_file_and_resumed_by_gtid() {
        let by_file = stored("bin.000002", None);
        let f = Found {
            stored_id: Some("mariadb server_id 7"),
            ..found(SnapshotMode::NoData, Some(&by_file))
        };
        assert_eq!(position(&f).unwrap_err().kind, ErrorKind::WrongSource);
        let by_gtid = stored("bin.000002", Some("0-7-9"));
        let f = Found { stored: Some(&by_gtid), ..f };
        assert!(matches!(position(&f).unwrap(), From::Stored(_)));
    }

    #[test]
    fn when_needed_starts_over_from_the_end_when_the_position_is_gone() {
        let p = stored("bin.000002", None);
        let files = vec!["bin.000003".to_string()];
        let purged =
            Found { binlog_files: Some(&files), ..found(SnapshotMode::WhenNeeded, Some(&p)) };
        assert!(matches!(position(&purged).unwrap(), From::ServerEnd { starting_over: true }));
        let other = Found {
            stored_id: Some("mariadb server_id 7"),
            ..found(SnapshotMode::WhenNeeded, Some(&p))
        };
        assert!(matches!(position(&other).unwrap(), From::ServerEnd { starting_over: true }));
        let kept = vec!["bin.000002".to_string()];
        let there =
            Found { binlog_files: Some(&kept), ..found(SnapshotMode::WhenNeeded, Some(&p)) };
        assert!(matches!(position(&there).unwrap(), From::Stored(_)));
        let gtid_only = stored("", Some("0-1-9"));
        let f = Found {
            binlog_files: Some(&files),
            ..found(SnapshotMode::WhenNeeded, Some(&gtid_only))
        };
        assert!(matches!(position(&f).unwrap(), From::Stored(_)), "no file: nothing purged");
        let initial =
            Found { binlog_files: Some(&files), ..found(SnapshotMode::Initial, Some(&p)) };
        assert!(matches!(position(&initial).unwrap(), From::Stored(_)), "not when_needed: kept");
    }

    #[test]
    fn another_sources_position_is_refused() {
        let pg = SourcePosition::Postgres { lsn: logtap_core::Lsn(1), tx: None };
        let err = position(&found(SnapshotMode::NoData, Some(&pg))).unwrap_err();
        assert_eq!(err.kind, ErrorKind::WrongSource);
    }

    fn snap<'a>(flavor: Flavor, table: Option<&'a TableId>) -> SnapshotFound<'a> {
        SnapshotFound {
            mode: SnapshotMode::Initial,
            stored: false,
            progress: None,
            flavor,
            signal_table: table,
            read_only: false,
            mysql_gtids: false,
            run: 9,
            prefix: "p",
        }
    }

    #[test]
    fn watermarks_by_server_kind_and_a_snapshot_none_can_serve_is_refused() {
        let t = TableId::new("d", "sig");
        let (plan, marks) = snapshot(&snap(Flavor::Mariadb, None)).unwrap();
        assert_eq!((plan, marks.map(|m| m.0)), (SnapshotPlan::Full, Some(Watermarks::ReadView)));
        let (_, marks) = snapshot(&snap(Flavor::Mysql, Some(&t))).unwrap();
        assert_eq!(marks.map(|m| m.0), Some(Watermarks::SignalRows { run: 9 }));
        let replica =
            SnapshotFound { read_only: true, mysql_gtids: true, ..snap(Flavor::Mysql, Some(&t)) };
        assert_eq!(snapshot(&replica).unwrap().1.map(|m| m.0), Some(Watermarks::GtidSets));
        let neither = SnapshotFound { read_only: true, ..snap(Flavor::Mysql, Some(&t)) };
        assert_eq!(snapshot(&neither).unwrap_err().kind, ErrorKind::Config);
        let streaming = SnapshotFound { mode: SnapshotMode::NoData, ..neither };
        let (plan, marks) = snapshot(&streaming).unwrap();
        assert!(plan == SnapshotPlan::None && marks.is_none());
    }
}
