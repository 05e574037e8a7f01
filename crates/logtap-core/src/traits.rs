//! The seams of the pipeline: sources produce events and checkpoints, sinks
//! deliver records and acknowledge them through the shared tracker, and the
//! offset store keeps the committed position across restarts.

use crate::error::{ErrorKind, PipelineError};
use crate::event::ChangeEvent;
use crate::position::SourcePosition;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;

impl From<OffsetError> for PipelineError {
    fn from(e: OffsetError) -> Self {
        let kind = match (e.locked, e.transient) {
            (true, _) => ErrorKind::OffsetStoreBusy,
            (false, true) => ErrorKind::Connection,
            (false, false) => ErrorKind::OffsetStore,
        };
        PipelineError::new(kind, e.to_string())
    }
}

/// What a source yields.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceItem {
    Change(Box<ChangeEvent>),
    /// A schema change (DDL), sent in its place between the changes.
    SchemaChange(Box<crate::event::SchemaChangeEvent>),
    /// Every change before this point has been yielded: once they are all
    /// acknowledged, the source may resume from here.
    Checkpoint(Box<Checkpoint>),
    /// A transaction begins or ends (yielded only when transaction
    /// metadata is on).
    Transaction(Box<crate::txmeta::TxBoundary>),
}

/// A change log reader (PostgreSQL, MySQL, the demo).
pub trait Source: Send {
    /// The next item; `None` when the source has nothing more to give and
    /// never will (a finite demo, `initial_only` snapshots).
    fn next(&mut self) -> impl Future<Output = Result<Option<SourceItem>, PipelineError>> + Send;

    /// Everything up to `position` is acknowledged and durably stored; the
    /// source may release it on the server (PostgreSQL `flush_lsn`).
    fn committed(
        &mut self,
        position: &SourcePosition,
    ) -> impl Future<Output = Result<(), PipelineError>> + Send;

    /// What the stored position belongs to (stored with it and checked on
    /// the next start), e.g. `postgres system 7305... slot logtap`.
    fn source_id(&self) -> Option<String> {
        None
    }

    /// The pipeline is stopping after storing its final position: tell the
    /// server (PostgreSQL: a last status update) and close connections.
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Bytes the source holds back on the server (PostgreSQL: WAL behind
    /// the slot's confirmed position), for the metrics; `None` when unknown.
    fn lag_bytes(&mut self) -> impl Future<Output = Option<i64>> + Send {
        async { None }
    }

    /// Runs the operator's `heartbeat.action_query` on the source database
    /// (Debezium's `heartbeat.action.query`): typically a write to a small
    /// captured table, so a source whose own tables are idle still sees
    /// changes go by. A source without a database refuses.
    fn heartbeat_action(
        &mut self,
        _sql: &str,
    ) -> impl Future<Output = Result<(), PipelineError>> + Send {
        async {
            Err(PipelineError::config(
                "heartbeat.action_query: this source has no database to run it on",
            ))
        }
    }
}

/// A routed record ready for a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkRecord {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl SinkRecord {
    /// Bytes counted against the in-flight limit.
    pub fn payload_len(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len)
            + self.value.as_ref().map_or(0, Vec::len)
            + self.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    }
}

/// Delivers records. Each record is registered with the shared tracker
/// before it is handed over, and acknowledged there when delivered.
pub trait Sink: Send {
    /// Queues a record, waiting while the in-flight limits are reached.
    fn send(
        &mut self,
        record: SinkRecord,
    ) -> impl Future<Output = Result<(), PipelineError>> + Send;

    /// Waits until every queued record is delivered or failed, at most `timeout`.
    fn flush(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), PipelineError>> + Send;
}

/// Progress of a snapshot, stored with the position so an interrupted
/// snapshot resumes at the next chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SnapshotProgress {
    /// Tables still to read, in order; the first is in progress.
    pub pending_tables: Vec<String>,
    /// Key of the last row read from the first pending table, as JSON
    /// (the source's own form: for PostgreSQL the key columns' text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key: Option<serde_json::Value>,
    /// Tables finished so far.
    #[serde(default)]
    pub tables_done: u64,
    /// Rows sent from the first pending table so far.
    #[serde(default)]
    pub rows_done: u64,
    /// An incremental (ad-hoc) snapshot rather than the initial one: its
    /// records say `snapshot = "incremental"`.
    #[serde(default)]
    pub incremental: bool,
    /// The first pending table's estimated row count (PostgreSQL:
    /// `pg_class.reltuples`) when its snapshot began, for progress shown
    /// to the operator (`logtap status`, the progress bar); not exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_rows: Option<u64>,
    /// Debezium's `additional-conditions` of an `execute-snapshot` signal:
    /// per pending table (`schema.table`), an SQL condition the rows read
    /// must meet. Kept with the progress so a resumed snapshot reads the
    /// same rows.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub conditions: std::collections::BTreeMap<String, String>,
}

/// A resume point: the stream position, and where a snapshot stands while
/// one runs. The two travel together through the ack tracker and are
/// stored together once every record before them is acknowledged, so a
/// restart resumes both exactly (an interrupted snapshot at its next
/// chunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub position: SourcePosition,
    pub snapshot: Option<SnapshotProgress>,
    /// The counts of the transaction the position is inside, when
    /// transaction metadata is on (set by the pipeline, not the source).
    pub transaction: Option<crate::txmeta::TxProgress>,
}

impl Checkpoint {
    /// A checkpoint at `position` with the snapshot's progress.
    pub fn new(position: SourcePosition, snapshot: Option<SnapshotProgress>) -> Self {
        Checkpoint { position, snapshot, transaction: None }
    }
}

impl From<SourcePosition> for Checkpoint {
    /// A streaming checkpoint: no snapshot running.
    fn from(position: SourcePosition) -> Self {
        Checkpoint::new(position, None)
    }
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.position)?;
        if let Some(s) = &self.snapshot {
            write!(
                f,
                " (snapshot: {} tables left, {} rows of the first, last key {})",
                s.pending_tables.len(),
                s.rows_done,
                s.last_key.as_ref().map_or("none".to_string(), |k| k.to_string())
            )?;
        }
        Ok(())
    }
}

/// What the offset store keeps for one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOffset {
    pub position: SourcePosition,
    /// Which server and slot (or binlog stream) the position belongs to, so a
    /// position is never applied to another one (e.g. after `slot_name` was
    /// changed but `topic_prefix` was not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotProgress>,
    /// The counts of the transaction the position is inside (transaction
    /// metadata on), so a restart numbers its remaining changes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<crate::txmeta::TxProgress>,
    /// Wall clock of the write, milliseconds since the epoch.
    pub updated_at_ms: i64,
}

/// An offset store failure, naming the store and the source.
#[derive(Debug, thiserror::Error)]
#[error("offset store {store}: {what}{}: {detail}", for_source(.source_name))]
pub struct OffsetError {
    /// Where the store is (a directory, a topic).
    pub store: String,
    pub what: &'static str,
    pub source_name: String,
    pub detail: String,
    /// Another process holds the store (sled admits one at a time).
    pub locked: bool,
    /// The store's server did not answer (Kafka down): a later try may work.
    pub transient: bool,
}

/// Durable positions, one per source name. `store` returns only once the
/// value would survive a crash of the process (and, for sled, of the machine).
pub trait OffsetStore: Send + Sync {
    fn load(&self, source: &str) -> Result<Option<StoredOffset>, OffsetError>;
    fn store(&self, source: &str, offset: &StoredOffset) -> Result<(), OffsetError>;
    /// Forgets a source's position; true if there was one.
    fn remove(&self, source: &str) -> Result<bool, OffsetError>;
    /// Every stored source, by name.
    fn list(&self) -> Result<Vec<(String, StoredOffset)>, OffsetError>;
}

/// " for source `x`", or nothing where the error is about the whole store
/// (its lock, its directory).
fn for_source(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" for source `{name}`")
    }
}
