//! The PostgreSQL source's state machine: replication frames (XLogData
//! and keepalives) in, change events and checkpoints out, with no IO. What
//! the stream does not say about a relation (nullability, defaults and key
//! order from the catalog; types it has not seen) it asks for ([`Need`]);
//! the driver (`source.rs`) answers on its SQL connection and gives it the
//! same frame again, so nothing changes before the answers are in. Unit
//! tests drive it with recorded pgoutput messages.
//!
//! ## Positions
//!
//! - Each row change is reported at the LSN of its XLogData (`source.lsn`).
//! - After a transaction's Commit the source yields a checkpoint at the
//!   commit's `end_lsn`. Restarting `START_REPLICATION` there makes the
//!   server skip that transaction and every earlier one, and send every later
//!   one: no gap, no overlap beyond the unacknowledged window.
//! - A keepalive between transactions carries the walsender's sent position:
//!   every transaction committed before it has been sent, so it is also a
//!   checkpoint. Confirming it keeps an idle slot (or one whose tables see no
//!   writes while others do) from pinning WAL (invariant 6).
//! - Status updates report as `flush_lsn` only what the pipeline stored after
//!   Kafka acknowledged it (`Source::committed`), never a received position.
//!

use crate::catalog;
use crate::config::PostgresConfig;
use crate::types::{ColumnConversion, TypeOptions, TypeRegistry};
use logtap_core::clock::Clock;
use logtap_core::event::{
    connector_source_block, connector_source_schema, key_schema, split_row_change, ConnectorFields,
    SnapshotMarker, SourceCommon,
};
use logtap_core::{
    ChangeEvent, Checkpoint, ErrorKind, Field, Lsn, Op, PgTxProgress, PipelineError, RecordNames,
    Schema, SourceItem, SourcePosition, Struct, TableId, Value,
};
use logtap_pgoutput::{
    pg_micros_to_unix, Decoder, Message, Relation, ReplicaIdentity, TupleData, TupleValue,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// Columns (with nullability) and primary key columns, from the catalog.
pub(crate) type TableShape = (Vec<catalog::CatalogColumn>, Vec<String>);

/// Debezium's placeholder for an unchanged TOASTed value.
pub const UNAVAILABLE_VALUE: &str = "__debezium_unavailable_value";

/// A captured table's schemas and converters, rebuilt on each Relation message.
#[derive(Debug)]
struct TableState {
    id: TableId,
    captured: bool,
    columns: Vec<ColumnState>,
    key_idx: Vec<usize>,
    key_schema: Option<Arc<Schema>>,
    value_schema: Arc<Schema>,
}

#[derive(Debug)]
struct ColumnState {
    name: String,
    conv: ColumnConversion,
    /// The column's schema: the conversion's, with the column's default.
    schema: Schema,
    /// What becomes of a column of a type Debezium has no mapping for.
    unknown: Option<Unknown>,
}

/// A column of a type Debezium has no mapping for, per
/// `include_unknown_datatypes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unknown {
    /// Left out of the records (the default).
    Left,
    /// Its text as bytes.
    Bytes,
}

/// The open transaction.
#[derive(Debug, Clone)]
struct Tx {
    xid: u32,
    commit_ts_us: i64,
    /// The replication origin (name, commit LSN there) of a transaction
    /// replayed from another server (pgoutput's Origin message), which
    /// Debezium 3.5+ shows as `source.origin` / `origin_lsn`.
    origin: Option<(String, u64)>,
}

/// Where the machine is inside the transaction being received, for the
/// checkpoints after its rows (see [`PgTxProgress`]).
#[derive(Debug, Clone, Copy)]
struct TxCursor {
    /// The position the transaction is resent from: the last checkpoint
    /// before its Begin.
    base: u64,
    /// Its commit LSN (Begin's `final_lsn`), the same at every resend.
    commit_lsn: u64,
    /// Row changes (Insert, Update, Delete, Truncate) received so far.
    changes: u64,
    /// The first this many were sent before a restart: not again.
    skip: u64,
    /// Changes at WAL positions up to this one were sent before (a
    /// position taken over from Debezium): not again.
    skip_through: u64,
}

/// The `io.debezium.connector.postgresql.Source` schema (Debezium 3.5+ shape).
pub fn source_schema() -> Schema {
    connector_source_schema::<PgSourceFields>("io.debezium.connector.postgresql.Source")
}

/// The PostgreSQL connector's own `source` fields.
struct PgSourceFields<'a> {
    schema: &'a str,
    table: &'a str,
    tx_id: u32,
    lsn: u64,
    /// Replication origin of the transaction (name, its LSN), if any.
    origin: Option<&'a (String, u64)>,
}

impl ConnectorFields for PgSourceFields<'_> {
    fn fields() -> Vec<Field> {
        vec![
            Field::new("schema", Schema::string()),
            Field::new("table", Schema::string()),
            Field::new("txId", Schema::int64().optional()),
            Field::new("lsn", Schema::int64().optional()),
            Field::new("xmin", Schema::int64().optional()),
            Field::new("origin", Schema::string().optional()),
            Field::new("origin_lsn", Schema::int64().optional()),
        ]
    }

    fn values(&self) -> Vec<Value> {
        vec![
            Value::String(self.schema.into()),
            Value::String(self.table.into()),
            Value::Int64(i64::from(self.tx_id)),
            Value::Int64(self.lsn as i64),
            // xmin: only with Debezium's `xmin.fetch.interval.ms`, not read.
            Value::Null,
            self.origin.map_or(Value::Null, |(name, _)| Value::String(name.clone())),
            self.origin.map_or(Value::Null, |(_, lsn)| Value::Int64(*lsn as i64)),
        ]
    }
}

/// What [`PgMachine::input`] needs answered before it can handle a frame.
#[derive(Debug, Clone)]
pub(crate) enum Need {
    /// The catalog's shape of this relation (`catalog::table_shape`).
    Shape(Relation),
    /// The type `oid` and the element and base types it needs that are not
    /// known yet ([`PgMachine::type_known`]), from `catalog::type_info`.
    Types(u32),
}

/// A replication frame, as the machine reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Input<'a> {
    XLogData { wal_start: u64, data: &'a [u8] },
    Keepalive { wal_end: u64 },
}

/// See the module documentation.
pub(crate) struct PgMachine {
    cfg: PostgresConfig,
    prefix: String,
    decoder: Decoder,
    types: TypeRegistry,
    opts: TypeOptions,
    tables: HashMap<u32, TableState>,
    pub(crate) pending: VecDeque<SourceItem>,
    tx: Option<Tx>,
    cursor: Option<TxCursor>,
    /// From the stored position: the transaction to resume inside of.
    resume_tx: Option<PgTxProgress>,
    last_commit_lsn: Option<u64>,
    last_checkpoint: u64,
    source_schema: Arc<Schema>,
    /// The time stamped on changes (the machine reads no clock itself).
    clock: Arc<dyn Clock>,
    warned: HashSet<(u32, String)>,
    /// The catalog's answer for the Relation message being processed.
    shape_cache: Option<(Relation, TableShape)>,
    /// Types the catalog was asked for and does not have.
    absent_types: HashSet<u32>,
    /// The snapshot running alongside the stream, if any.
    snap: Option<snapshot::Snapshot>,
    /// Set when snapshots are possible (PostgreSQL 14+).
    snap_setup: Option<snapshot::SnapSetup>,
}

impl PgMachine {
    /// A machine for a stream that starts after `start_lsn` (no keepalive
    /// below it is a checkpoint).
    pub(crate) fn new(
        cfg: PostgresConfig,
        prefix: &str,
        decoder: Decoder,
        opts: TypeOptions,
        start_lsn: u64,
        clock: Arc<dyn Clock>,
    ) -> Self {
        PgMachine {
            clock,
            cfg,
            prefix: prefix.to_string(),
            decoder,
            types: TypeRegistry::new(),
            opts,
            tables: HashMap::new(),
            pending: VecDeque::new(),
            tx: None,
            cursor: None,
            resume_tx: None,
            last_commit_lsn: None,
            last_checkpoint: start_lsn,
            source_schema: Arc::new(source_schema()),
            warned: HashSet::new(),
            shape_cache: None,
            absent_types: HashSet::new(),
            snap: None,
            snap_setup: None,
        }
    }

    /// Resumes inside the transaction the stored position names: its first
    /// `changes` row changes were sent before.
    pub(crate) fn resume_inside(&mut self, tx: Option<PgTxProgress>) {
        self.resume_tx = tx;
    }

    /// Handles one frame, or returns what it needs first (having changed
    /// nothing but the decoder's relation cache, which the same frame
    /// sets the same way again).
    pub(crate) fn input(&mut self, input: Input<'_>) -> Result<Option<Need>, PipelineError> {
        match input {
            Input::Keepalive { wal_end } => {
                if self.tx.is_none() {
                    let closed = self.snapshot_passed(wal_end)?;
                    if wal_end > self.last_checkpoint || closed {
                        self.last_checkpoint = self.last_checkpoint.max(wal_end);
                        self.checkpoint(self.last_checkpoint);
                    }
                }
                Ok(None)
            }
            Input::XLogData { wal_start, data } => {
                let msg = self.decoder.decode(data).map_err(|e| {
                    PipelineError::decode(format!("at LSN {}: {e}", Lsn(wal_start)))
                })?;
                if let Message::Relation { relation, .. } = &msg {
                    if let Some(need) = self.relation_need(relation) {
                        return Ok(Some(need));
                    }
                }
                self.message(wal_start, msg)?;
                Ok(None)
            }
        }
    }

    fn relation_need(&self, rel: &Relation) -> Option<Need> {
        if !self.shape_cache.as_ref().is_some_and(|(r, _)| r == rel) {
            return Some(Need::Shape(rel.clone()));
        }
        rel.columns.iter().map(|c| c.type_oid).find(|&oid| !self.type_known(oid)).map(Need::Types)
    }

    /// The answer to [`Need::Shape`].
    pub(crate) fn shape_read(&mut self, rel: Relation, shape: TableShape) {
        self.shape_cache = Some((rel, shape));
    }

    /// The answer to [`Need::Types`]: the type `oid` and its dependencies
    /// (none when the catalog does not have it).
    pub(crate) fn types_read(&mut self, oid: u32, types: Vec<catalog::CatalogType>) {
        if !types.iter().any(|t| t.oid == oid) {
            self.absent_types.insert(oid);
        }
        for t in &types {
            self.types.register_catalog(t);
        }
    }

    /// Whether the type `oid` needs no catalog answer.
    pub(crate) fn type_known(&self, oid: u32) -> bool {
        self.types.get(oid).is_some() || self.absent_types.contains(&oid)
    }

    fn message(&mut self, lsn: u64, msg: Message) -> Result<(), PipelineError> {
        let row_change = matches!(
            msg,
            Message::Insert(_) | Message::Update(_) | Message::Delete(_) | Message::Truncate(_)
        );
        if !row_change {
            return self.other_message(lsn, msg);
        }
        // Every row change, sent or skipped: a chunk open on its table
        // notes its keys (a TRUNCATE drops the chunk's rows).
        self.note_keys(&msg);
        let Some(cursor) = &mut self.cursor else { return self.other_message(lsn, msg) };
        cursor.changes += 1;
        let cursor = *cursor;
        if cursor.changes <= cursor.skip || lsn <= cursor.skip_through {
            // Sent before the restart.
            return Ok(());
        }
        let queued = self.pending.len();
        self.other_message(lsn, msg)?;
        if self.pending.len() > queued {
            // After each change that sent something: a restart (a drained
            // stop included) resumes after it, inside the transaction.
            let snapshot = self.snapshot_progress();
            let tx = Some(PgTxProgress::Changes {
                commit_lsn: Lsn(cursor.commit_lsn),
                changes: cursor.changes,
            });
            let position = SourcePosition::Postgres { lsn: Lsn(cursor.base), tx };
            self.pending
                .push_back(SourceItem::Checkpoint(Box::new(Checkpoint::new(position, snapshot))));
        }
        Ok(())
    }

    /// The keys a row change touches, for the open snapshot chunk.
    fn note_keys(&mut self, msg: &Message) {
        match msg {
            Message::Insert(ins) => self.snapshot_note(ins.relation_id, &[&ins.new]),
            Message::Update(up) => match &up.old {
                Some(old) => self.snapshot_note(up.relation_id, &[old.tuple(), &up.new]),
                None => self.snapshot_note(up.relation_id, &[&up.new]),
            },
            Message::Delete(del) => self.snapshot_note(del.relation_id, &[del.old.tuple()]),
            Message::Truncate(t) => {
                // Whether or not TRUNCATE is sent, a chunk's rows read
                // before it must not be.
                for rel in &t.relation_ids {
                    self.snapshot_truncated(*rel);
                }
            }
            _ => {}
        }
    }

    fn other_message(&mut self, lsn: u64, msg: Message) -> Result<(), PipelineError> {
        match msg {
            Message::Begin(b) => {
                // A standby's chunk closes before the first transaction
                // its snapshot could not see (the next Commit checkpoints).
                self.snapshot_passed(b.final_lsn)?;
                self.tx = Some(Tx {
                    xid: b.xid,
                    commit_ts_us: pg_micros_to_unix(b.commit_time),
                    origin: None,
                });
                // The first transaction after a restart inside one is that
                // one (the server resends from the stored LSN, in commit
                // order); anything else means nothing is to be skipped.
                let (skip, skip_through) = match self.resume_tx.take() {
                    Some(PgTxProgress::Changes { commit_lsn, changes })
                        if commit_lsn.0 == b.final_lsn =>
                    {
                        (changes, 0)
                    }
                    Some(PgTxProgress::Through { sent_through, xid }) if xid == b.xid => {
                        (0, sent_through.0)
                    }
                    _ => (0, 0),
                };
                self.cursor = Some(TxCursor {
                    base: self.last_checkpoint,
                    commit_lsn: b.final_lsn,
                    changes: 0,
                    skip,
                    skip_through,
                });
                self.tx_boundary(false, lsn);
            }
            Message::Commit(c) => {
                tracing::trace!(commit_lsn = %Lsn(c.commit_lsn), end_lsn = %Lsn(c.end_lsn), "commit");
                self.tx_boundary(true, lsn);
                self.tx = None;
                self.cursor = None;
                self.last_commit_lsn = Some(c.commit_lsn);
                metrics::counter!("logtap_transactions_committed_total").increment(1);
                if c.end_lsn > self.last_checkpoint {
                    self.last_checkpoint = c.end_lsn;
                }
                self.snapshot_passed(c.end_lsn)?;
                self.checkpoint(c.end_lsn);
            }
            Message::Relation { relation, .. } => self.relation(&relation)?,
            Message::Type(_) => {}
            Message::Origin(o) => {
                if let Some(tx) = &mut self.tx {
                    tx.origin = Some((o.name, o.commit_lsn));
                }
            }
            Message::LogicalMessage(m) if m.prefix == crate::snapshot::SIGNAL_PREFIX => {
                self.snapshot_signal(lsn, &m)
            }
            Message::LogicalMessage(m) => self.snapshot_message(lsn, &m)?,
            Message::Insert(ins) if self.is_signal_table(ins.relation_id) => {
                self.signal_row(lsn, ins.relation_id, &ins.new)?;
            }
            Message::Insert(ins) => {
                let Some(state) = self.captured(ins.relation_id, lsn)? else { return Ok(()) };
                let items = self.row_message(state, Op::Create, None, Some(&ins.new), lsn)?;
                self.pending.extend(items);
            }
            Message::Update(up) => {
                let old = up.old.as_ref().map(|o| o.tuple());
                let Some(state) = self.captured(up.relation_id, lsn)? else { return Ok(()) };
                let new = unchanged_toast_from(old, &up.new);
                let new = new.as_ref().unwrap_or(&up.new);
                let items = self.row_message(state, Op::Update, old, Some(new), lsn)?;
                self.pending.extend(items);
            }
            Message::Delete(del) => {
                let Some(state) = self.captured(del.relation_id, lsn)? else { return Ok(()) };
                let items = self.row_message(state, Op::Delete, Some(del.old.tuple()), None, lsn)?;
                self.pending.extend(items);
            }
            Message::Truncate(t) => {
                if self.cfg.emit_truncate {
                    for rel in &t.relation_ids {
                        let Some(state) = self.captured(*rel, lsn)? else { continue };
                        let ev = self.event(state, Op::Truncate, None, None, None, lsn, vec![], SnapshotMarker::False);
                        self.pending.push_back(SourceItem::Change(Box::new(ev)));
                    }
                }
            }
            other => {
                return Err(PipelineError::decode(format!(
                    "at LSN {}: unexpected pgoutput message {other:?} (logtap does not request streaming or two-phase)",
                    Lsn(lsn)
                )))
            }
        }
        Ok(())
    }

    /// Debezium's BEGIN or END of the open transaction, when transaction
    /// metadata is on. Its id is `<xid>:<LSN of this message>`, as
    /// Debezium's PostgreSQL connector writes it (BEGIN, changes and END of
    /// one transaction show different LSNs; the xid is what they share).
    fn tx_boundary(&mut self, end: bool, lsn: u64) {
        let Some(tx) = self.tx.as_ref().filter(|_| self.cfg.tx_metadata) else { return };
        self.pending.push_back(SourceItem::Transaction(Box::new(logtap_core::TxBoundary {
            end,
            raw_id: tx.xid.to_string(),
            id: format!("{}:{lsn}", tx.xid),
            ts_ms: tx.commit_ts_us.div_euclid(1000),
        })));
    }

    /// A resume point at `lsn`, with the snapshot's progress.
    fn checkpoint(&mut self, lsn: u64) {
        let snapshot = self.snapshot_progress();
        let position = SourcePosition::Postgres { lsn: Lsn(lsn), tx: None };
        self.pending
            .push_back(SourceItem::Checkpoint(Box::new(Checkpoint::new(position, snapshot))));
    }
}

/// The new tuple of an update with its unchanged TOASTed values taken
/// from the old tuple where that has them (REPLICA IDENTITY FULL sends the
/// whole old row), as Debezium fills them; `None` when there is nothing to
/// fill (no old tuple, or no unchanged value it has).
fn unchanged_toast_from(old: Option<&TupleData>, new: &TupleData) -> Option<TupleData> {
    let old = old?;
    let fillable = |(n, o): (&TupleValue, &TupleValue)| {
        matches!(n, TupleValue::UnchangedToast) && matches!(o, TupleValue::Text(_))
    };
    if !new.0.iter().zip(&old.0).any(fillable) {
        return None;
    }
    let merged = new
        .0
        .iter()
        .zip(&old.0)
        .map(|(n, o)| if fillable((n, o)) { o.clone() } else { n.clone() })
        .collect();
    Some(TupleData(merged))
}

#[path = "machine_rows.rs"]
mod rows;
#[path = "machine_snapshot.rs"]
pub(crate) mod snapshot;

#[cfg(test)]
#[path = "machine_tests.rs"]
mod machine_tests;
