//! Snapshot settings shared by both sources (`[snapshot]` in logtap.toml),
//! with Debezium's mode names and meanings, and the decision of what a
//! start does about a snapshot.

use crate::event::SnapshotMarker;
use crate::traits::SnapshotProgress;
use serde::Deserialize;

/// Debezium's `snapshot.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// Snapshot the captured tables when there is no stored position, then stream.
    Initial,
    /// Never read rows: stream changes from the slot's (or binlog's) current position.
    NoData,
    /// Snapshot when there is no stored position, then stop.
    InitialOnly,
    /// As `initial`, and snapshot again when the stored position is gone
    /// (slot dropped or invalidated, binlog purged).
    WhenNeeded,
    /// Snapshot at every start, then stream.
    Always,
}

impl std::fmt::Display for SnapshotMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SnapshotMode::Initial => "initial",
            SnapshotMode::NoData => "no_data",
            SnapshotMode::InitialOnly => "initial_only",
            SnapshotMode::WhenNeeded => "when_needed",
            SnapshotMode::Always => "always",
        })
    }
}

impl SnapshotMode {
    pub const ALL: [SnapshotMode; 5] = [
        SnapshotMode::Initial,
        SnapshotMode::NoData,
        SnapshotMode::InitialOnly,
        SnapshotMode::WhenNeeded,
        SnapshotMode::Always,
    ];
}

impl std::str::FromStr for SnapshotMode {
    type Err = String;
    /// For `logtap run --snapshot-mode`.
    fn from_str(s: &str) -> Result<Self, String> {
        SnapshotMode::ALL.into_iter().find(|m| m.to_string() == s).ok_or_else(|| {
            let names: Vec<String> = SnapshotMode::ALL.iter().map(|m| m.to_string()).collect();
            format!("unknown snapshot mode `{s}`; expected one of {}", names.join(", "))
        })
    }
}

/// `[snapshot]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// Unset: `initial` for PostgreSQL; `no_data` for MySQL/MariaDB (so a
    /// source that streamed only before keeps doing so).
    #[serde(default)]
    pub mode: Option<SnapshotMode>,
    /// Rows per chunk (Debezium's `incremental.snapshot.chunk.size`).
    #[serde(default = "default_chunk_size")]
    pub chunk_size: u32,
    /// Pause between chunks, to spare a busy server.
    #[serde(default)]
    pub chunk_delay_ms: u64,
    /// Debezium's `signal.data.collection`: a `schema.table` with columns
    /// `id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data
    /// varchar(2048)`. Rows inserted into it are signals
    /// (`execute-snapshot`, `stop-snapshot`); on servers without logical
    /// decoding messages (PostgreSQL 13) the snapshot's watermarks are rows
    /// in it too.
    #[serde(default)]
    pub signal_data_collection: Option<String>,
}

fn default_chunk_size() -> u32 {
    1024
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            mode: None,
            chunk_size: default_chunk_size(),
            chunk_delay_ms: 0,
            signal_data_collection: None,
        }
    }
}

/// What a start does about rows already in the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotPlan {
    /// Stream only.
    None,
    /// Read every captured table from the first row.
    Full,
    /// Continue the interrupted snapshot where the stored progress says.
    Resume(SnapshotProgress),
}

/// The plan for a start in `mode`, given whether a position is stored
/// (and usable) and the stored snapshot progress. A stored position that
/// is gone is `position_stored = false` only under `when_needed`; the
/// other modes stop on it before asking.
pub fn plan(
    mode: SnapshotMode,
    position_stored: bool,
    progress: Option<&SnapshotProgress>,
) -> SnapshotPlan {
    match (mode, position_stored, progress) {
        // An ad-hoc (incremental) snapshot was asked for while streaming:
        // it resumes whatever the mode, as Debezium's does (no_data is the
        // usual mode of a source that takes them).
        (SnapshotMode::NoData, true, Some(p)) if p.incremental => SnapshotPlan::Resume(p.clone()),
        (SnapshotMode::NoData, _, _) => SnapshotPlan::None,
        (_, true, Some(p)) => SnapshotPlan::Resume(p.clone()),
        (SnapshotMode::Always, _, _) | (_, false, _) => SnapshotPlan::Full,
        (_, true, None) => SnapshotPlan::None,
    }
}

impl SnapshotProgress {
    /// Debezium's `source.snapshot` of read `i` of the `n` a chunk sends;
    /// `more`: rows follow this chunk in the table.
    pub fn read_marker(&self, i: usize, n: usize, more: bool) -> SnapshotMarker {
        if self.incremental {
            return SnapshotMarker::Incremental;
        }
        let first_of_table = self.rows_done == 0 && self.last_key.is_none();
        let last_table = self.pending_tables.len() == 1;
        let (first, last) = (first_of_table && i == 0, !more && i + 1 == n);
        match (first, last) {
            (_, true) if last_table => SnapshotMarker::Last,
            (true, _) if self.tables_done == 0 => SnapshotMarker::First,
            (_, true) => SnapshotMarker::LastInDataCollection,
            (true, _) => SnapshotMarker::FirstInDataCollection,
            _ => SnapshotMarker::True,
        }
    }

    /// The first pending table was removed (read, or gone): the progress
    /// moves to the next one. `true` when none is left.
    pub fn table_finished(&mut self) -> bool {
        self.last_key = None;
        self.rows_done = 0;
        self.estimated_rows = None;
        let pending = &self.pending_tables;
        self.conditions.retain(|t, _| pending.contains(t));
        self.tables_done += 1;
        self.pending_tables.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_decide_as_debezium_does() {
        use SnapshotMode::*;
        let p = SnapshotProgress { pending_tables: vec!["public.t".into()], ..Default::default() };
        for m in [Initial, InitialOnly, WhenNeeded, Always] {
            assert_eq!(plan(m, false, None), SnapshotPlan::Full, "{m}: first start");
            assert_eq!(plan(m, true, Some(&p)), SnapshotPlan::Resume(p.clone()), "{m}: resume");
        }
        for m in [Initial, InitialOnly, WhenNeeded] {
            assert_eq!(plan(m, true, None), SnapshotPlan::None, "{m}: done before");
        }
        assert_eq!(plan(Always, true, None), SnapshotPlan::Full);
        let adhoc = SnapshotProgress { incremental: true, ..p.clone() };
        assert_eq!(plan(NoData, true, Some(&adhoc)), SnapshotPlan::Resume(adhoc.clone()));
        for (stored, progress) in [(false, None), (true, None), (true, Some(&p))] {
            assert_eq!(plan(NoData, stored, progress), SnapshotPlan::None);
        }
    }
}
