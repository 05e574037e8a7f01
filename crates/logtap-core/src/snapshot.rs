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

/// What a signal asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Debezium's `execute-snapshot` (incremental): these tables, as
    /// `schema.table`, and their `additional-conditions` (table → SQL
    /// condition on the rows to read).
    Execute(Vec<String>, std::collections::BTreeMap<String, String>),
    /// Debezium's `stop-snapshot`.
    Stop,
}

/// The `data` of an `execute-snapshot` signal.
pub fn execute_data(tables: &[String], filter: Option<&str>) -> serde_json::Value {
    let mut data = serde_json::json!({"data-collections": tables, "type": "incremental"});
    if let Some(f) = filter {
        data["additional-conditions"] =
            tables.iter().map(|t| serde_json::json!({"data-collection": t, "filter": f})).collect();
    }
    data
}

/// A signal table row (Debezium's: `type`, `data` JSON text).
pub fn parse_signal_row(kind: &str, data: Option<&str>) -> Option<Signal> {
    let data = match data.map(serde_json::from_str::<serde_json::Value>) {
        None => serde_json::Value::Null,
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            tracing::warn!(signal = %kind, error = %e, "a signal row whose data is not JSON: ignored");
            return None;
        }
    };
    signal_of(kind, &data)
}

pub fn signal_of(kind: &str, data: &serde_json::Value) -> Option<Signal> {
    match kind {
        "execute-snapshot" => {
            let tables = data["data-collections"]
                .as_array()
                .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let mut conditions = std::collections::BTreeMap::new();
            for c in data["additional-conditions"].as_array().into_iter().flatten() {
                match (c["data-collection"].as_str(), c["filter"].as_str()) {
                    (Some(t), Some(f)) if !f.trim().is_empty() => {
                        conditions.insert(t.to_string(), f.to_string());
                    }
                    _ => {
                        tracing::warn!(condition = %c, "execute-snapshot: an additional condition without data-collection and filter: ignored")
                    }
                }
            }
            Some(Signal::Execute(tables, conditions))
        }
        "stop-snapshot" => Some(Signal::Stop),
        other => {
            tracing::warn!(signal = %other, "a signal of a type logtap does not act on: ignored");
            None
        }
    }
}

impl Signal {
    /// An `execute-snapshot` of `tables` (already those the source
    /// captures) with `conditions` met: added to the `running` snapshot's
    /// pending tables, or, when none runs, the progress of a new
    /// incremental one (`None`: nothing new to read).
    pub fn execute(
        running: Option<&mut SnapshotProgress>,
        tables: Vec<String>,
        mut conditions: std::collections::BTreeMap<String, String>,
    ) -> Option<SnapshotProgress> {
        conditions.retain(|t, _| tables.contains(t));
        match running {
            Some(p) => {
                for t in tables {
                    if !p.pending_tables.contains(&t) {
                        if let Some(c) = conditions.remove(&t) {
                            p.conditions.insert(t.clone(), c);
                        }
                        p.pending_tables.push(t);
                    }
                }
                None
            }
            None if tables.is_empty() => None,
            None => Some(SnapshotProgress {
                pending_tables: tables,
                incremental: true,
                conditions,
                ..Default::default()
            }),
        }
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

    /// A stored snapshot resumed under today's configuration: tables no
    /// longer captured (`captures(namespace, table)`) leave it, with a
    /// warning; if the first one left, the next starts from its beginning.
    pub fn resumed(mut self, captures: impl Fn(&str, &str) -> bool) -> Self {
        tracing::info!(tables = ?self.pending_tables, last_key = ?self.last_key, "resuming the snapshot");
        let before = std::mem::take(&mut self.pending_tables);
        let (kept, dropped): (Vec<String>, Vec<String>) = before
            .iter()
            .cloned()
            .partition(|t| t.split_once('.').is_some_and(|(s, n)| captures(s, n)));
        if kept.first() != before.first() {
            self.last_key = None;
            self.rows_done = 0;
        }
        for t in dropped {
            tracing::warn!(table = %t, "no longer captured (table_include_list changed): its snapshot is dropped");
        }
        self.pending_tables = kept;
        self
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
    fn a_resumed_snapshot_drops_tables_no_longer_captured() {
        let p = SnapshotProgress {
            pending_tables: vec!["a.t".into(), "b.t".into()],
            last_key: Some(serde_json::json!([5])),
            rows_done: 5,
            ..Default::default()
        };
        let kept = p.clone().resumed(|s, _| s == "a");
        assert_eq!((kept.pending_tables, kept.rows_done), (vec!["a.t".to_string()], 5));
        let moved = p.resumed(|s, _| s == "b");
        assert_eq!(moved.pending_tables, vec!["b.t".to_string()]);
        assert_eq!((moved.last_key, moved.rows_done), (None, 0), "the next table from its start");
    }

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
