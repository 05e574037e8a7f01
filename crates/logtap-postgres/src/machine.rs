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
use logtap_core::event::{
    connector_source_block, connector_source_schema, key_schema, now_us, split_row_change,
    ConnectorFields, SnapshotMarker, SourceCommon,
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
    ) -> Self {
        PgMachine {
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
            self.pending.push_back(SourceItem::Checkpoint(Box::new(Checkpoint {
                position: SourcePosition::Postgres { lsn: Lsn(cursor.base), tx },
                snapshot,
            })));
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
            }
            Message::Commit(c) => {
                tracing::trace!(commit_lsn = %Lsn(c.commit_lsn), end_lsn = %Lsn(c.end_lsn), "commit");
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

    /// The events of one row change (see `split_row_change`).
    /// A resume point at `lsn`, with the snapshot's progress.
    fn checkpoint(&mut self, lsn: u64) {
        let snapshot = self.snapshot_progress();
        self.pending.push_back(SourceItem::Checkpoint(Box::new(Checkpoint {
            position: SourcePosition::Postgres { lsn: Lsn(lsn), tx: None },
            snapshot,
        })));
    }

    fn row_change(
        &self,
        state: &TableState,
        op: Op,
        before: Option<Struct>,
        after: Option<Struct>,
        lsn: u64,
    ) -> Vec<SourceItem> {
        // Collected, so the caller can queue them once `state` is released.
        split_row_change(op, before, after, |row| key_of(state, row))
            .into_iter()
            .map(|c| {
                let ev = self.event(
                    state,
                    c.op,
                    c.key,
                    c.before,
                    c.after,
                    lsn,
                    c.headers,
                    SnapshotMarker::False,
                );
                SourceItem::Change(Box::new(ev))
            })
            .collect()
    }

    /// The events of one Insert, Update or Delete of `state`'s table. A
    /// value that cannot be converted stops here, or, as
    /// `event_processing_failure_handling_mode` says, the change is
    /// skipped (the checkpoints after it still pass it).
    fn row_message(
        &self,
        state: &TableState,
        op: Op,
        old: Option<&TupleData>,
        new: Option<&TupleData>,
        lsn: u64,
    ) -> Result<Vec<SourceItem>, PipelineError> {
        let images = old
            .map(|t| self.tuple(state, t, lsn))
            .transpose()
            .and_then(|b| Ok((b, new.map(|t| self.tuple(state, t, lsn)).transpose()?)));
        let (before, after) = match images {
            Ok(images) => images,
            Err(e) => {
                let key = new.or(old).map(|t| raw_key(state, t)).unwrap_or_default();
                let what = format!("{op:?} of {} at LSN {}, key {key}", state.id, Lsn(lsn));
                self.cfg.event_processing_failure_handling_mode.on_error(
                    e,
                    &state.id.to_string(),
                    &what,
                )?;
                return Ok(Vec::new());
            }
        };
        Ok(self.row_change(state, op, before, after, lsn))
    }

    /// The state of relation `id` if it is captured; an error if unknown.
    fn captured(&self, id: u32, lsn: u64) -> Result<Option<&TableState>, PipelineError> {
        let state = self.tables.get(&id).ok_or_else(|| {
            PipelineError::decode(format!(
                "at LSN {}: change for relation {id} before its Relation message",
                Lsn(lsn)
            ))
        })?;
        if !state.captured {
            // Published but not captured (table_exclude_list, a publication
            // made by hand): Debezium's NumberOfEventsFiltered.
            metrics::counter!("logtap_events_filtered_total").increment(1);
        }
        Ok(state.captured.then_some(state))
    }

    fn relation(&mut self, rel: &Relation) -> Result<(), PipelineError> {
        let state = self.table_state(rel)?;
        self.tables.insert(rel.id, state);
        Ok(())
    }

    /// Schemas and converters of relation `rel`, whose catalog shape (and
    /// types) `input` asked for first.
    fn table_state(&mut self, rel: &Relation) -> Result<TableState, PipelineError> {
        let namespace =
            if rel.namespace.is_empty() { "pg_catalog".to_string() } else { rel.namespace.clone() };
        let id = TableId::new(&namespace, &rel.name);
        let captured = self.cfg.captures(&namespace, &rel.name);
        // `input` asked for the shape (and the types) before coming here.
        let Some((_, (catalog_cols, pk))) =
            self.shape_cache.as_ref().filter(|(r, _)| r == rel).cloned()
        else {
            return Err(PipelineError::internal(format!(
                "relation {id}: processed without its catalog shape (a logtap bug)"
            )));
        };
        let names = RecordNames::new(&self.prefix, &id);
        let mut columns = Vec::with_capacity(rel.columns.len());
        let mut fields = Vec::with_capacity(rel.columns.len());
        for col in &rel.columns {
            let catalog_col = catalog_cols.iter().find(|c| c.name == col.name);
            let not_null = catalog_col.is_some_and(|c| c.not_null);
            let conv = self
                .types
                .column_schema(col.type_oid, col.type_modifier, !not_null, &self.opts)
                .map_err(|e| {
                    PipelineError::new(
                        logtap_core::ErrorKind::Unsupported,
                        format!("table {id} column {}: {e}", col.name),
                    )
                })?;
            let unknown = conv.is_fallback().then_some(if self.cfg.include_unknown_datatypes {
                Unknown::Bytes
            } else {
                Unknown::Left
            });
            if unknown.is_some() && captured && self.warned.insert((rel.id, col.name.clone())) {
                let what = match unknown {
                    Some(Unknown::Left) => "leaving the column out of the records, as Debezium does (include_unknown_datatypes = true sends its text as bytes)",
                    _ => "sending its text as bytes (include_unknown_datatypes)",
                };
                tracing::warn!(table = %id, column = %col.name, type_oid = col.type_oid, "no Debezium mapping for this type: {what}");
            }
            let mut schema = match unknown {
                Some(_) => Schema::bytes().optional(),
                None => conv.schema().clone(),
            };
            schema.default = catalog_col.and_then(|c| c.default_expr.as_deref()).and_then(|e| {
                let pg_type = self.types.get(col.type_oid);
                crate::types::defaults::column_default(col.type_oid, pg_type, e, &conv)
            });
            if unknown != Some(Unknown::Left) {
                fields.push(Field::new(&col.name, schema.clone()));
            }
            columns.push(ColumnState { name: col.name.clone(), conv, schema, unknown });
        }
        // The key. Under REPLICA IDENTITY DEFAULT the Relation message marks
        // the primary key as it was when the change was written, which wins
        // over today's catalog (the table may have been altered or dropped
        // since); the catalog only gives the key's column order.
        // Key positions are in the value struct, which lacks left-out columns.
        let included: Vec<&ColumnState> =
            columns.iter().filter(|c| c.unknown != Some(Unknown::Left)).collect();
        let catalog_key: Vec<usize> =
            pk.iter().filter_map(|k| included.iter().position(|c| &c.name == k)).collect();
        let key_idx: Vec<usize> = if rel.replica_identity == ReplicaIdentity::Default {
            let wal_key: Vec<usize> = included
                .iter()
                .enumerate()
                .filter(|(_, c)| rel.columns.iter().any(|r| r.is_key && r.name == c.name))
                .map(|(i, _)| i)
                .collect();
            let mut sorted = catalog_key.clone();
            sorted.sort_unstable();
            // No key in the WAL (no primary key when it was written): the
            // catalog's unique index keys it, as Debezium's does.
            if sorted == wal_key || wal_key.is_empty() {
                catalog_key
            } else {
                if captured {
                    tracing::warn!(table = %id, "the primary key in the catalog differs from the one in the WAL (altered since?): keying by the WAL's");
                }
                wal_key
            }
        } else {
            catalog_key
        };
        let key_schema = if key_idx.is_empty() {
            if captured {
                tracing::warn!(table = %id, "no primary key: records get a null key");
            }
            None
        } else {
            // With their defaults, as Debezium's key schema has them.
            Some(key_schema(
                &names.key,
                key_idx.iter().map(|&i| Field::new(&included[i].name, included[i].schema.clone())),
            ))
        };
        if captured && rel.replica_identity == ReplicaIdentity::Nothing {
            tracing::warn!(table = %id, "REPLICA IDENTITY NOTHING: updates have no before image and deletes cannot be published");
        }
        let value_schema = Arc::new(Schema::structure(&names.value, fields));
        tracing::debug!(table = %id, relation = rel.id, captured, columns = columns.len(), key = ?pk, "relation");
        Ok(TableState { id, captured, columns, key_idx, key_schema, value_schema })
    }

    fn tuple(
        &self,
        state: &TableState,
        tuple: &TupleData,
        lsn: u64,
    ) -> Result<Struct, PipelineError> {
        if tuple.0.len() != state.columns.len() {
            return Err(PipelineError::decode(format!(
                "at LSN {}: table {} row has {} columns, its Relation message {}",
                Lsn(lsn),
                state.id,
                tuple.0.len(),
                state.columns.len()
            )));
        }
        let mut values = Vec::with_capacity(tuple.0.len());
        for (col, v) in state.columns.iter().zip(&tuple.0) {
            match (col.unknown, v) {
                (Some(Unknown::Left), _) => continue,
                (Some(Unknown::Bytes), TupleValue::Text(bytes)) => {
                    values.push(Value::Bytes(bytes.to_vec()));
                    continue;
                }
                (Some(Unknown::Bytes), TupleValue::UnchangedToast) => {
                    values.push(Value::Bytes(UNAVAILABLE_VALUE.as_bytes().to_vec()));
                    continue;
                }
                _ => {}
            }
            values.push(match v {
                // A NOT NULL column without a value: a delete's key-only
                // before image (REPLICA IDENTITY DEFAULT) leaves out all
                // but the key. Debezium's converters then give the column's
                // default (written by the envelope) or the type's zero.
                TupleValue::Null if !col.schema.optional && col.schema.default.is_none() => {
                    zero_value(&col.schema)
                }
                TupleValue::Null => Value::Null,
                // Debezium's placeholder in the column's type; null where
                // no placeholder fits the type (numeric, bits).
                TupleValue::UnchangedToast => {
                    col.conv.unavailable_value(UNAVAILABLE_VALUE).unwrap_or(Value::Null)
                }
                TupleValue::Text(bytes) => {
                    let text = std::str::from_utf8(bytes).map_err(|_| {
                        PipelineError::decode(format!("at LSN {}: table {} column {}: value is not UTF-8", Lsn(lsn), state.id, col.name))
                    })?;
                    col.conv.convert_text(text).map_err(|e| {
                        PipelineError::new(ErrorKind::Conversion, format!("at LSN {}: table {} column {}: {e}", Lsn(lsn), state.id, col.name))
                    })?
                }
                TupleValue::Binary(_) => {
                    return Err(PipelineError::decode(format!(
                        "at LSN {}: table {} column {}: binary tuple data, which logtap does not request",
                        Lsn(lsn), state.id, col.name
                    )))
                }
            });
        }
        Struct::new(state.value_schema.clone(), values)
            .map_err(|e| PipelineError::internal(e.to_string()))
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        state: &TableState,
        op: Op,
        key: Option<Struct>,
        before: Option<Struct>,
        after: Option<Struct>,
        lsn: u64,
        headers: Vec<(String, Vec<u8>)>,
        snapshot: SnapshotMarker,
    ) -> ChangeEvent {
        let tx = self.tx.clone().unwrap_or(Tx { xid: 0, commit_ts_us: now_us(), origin: None });
        let sequence = format!(
            "[{},\"{lsn}\"]",
            self.last_commit_lsn.map(|l| format!("\"{l}\"")).unwrap_or_else(|| "null".into())
        );
        let common = SourceCommon {
            connector: "postgresql",
            name: &self.prefix,
            ts_us: tx.commit_ts_us,
            snapshot,
            db: &self.cfg.database,
            sequence: Some(sequence),
        };
        let own = PgSourceFields {
            schema: &state.id.namespace,
            table: &state.id.table,
            tx_id: tx.xid,
            lsn,
            origin: tx.origin.as_ref(),
        };
        let source = connector_source_block(&self.source_schema, common, &own);
        ChangeEvent {
            table: state.id.clone(),
            op,
            key,
            key_schema: state.key_schema.clone(),
            value_schema: state.value_schema.clone(),
            before,
            after,
            source,
            processed_at_us: now_us(),
            transaction: None,
            headers,
            position: SourcePosition::Postgres { lsn: Lsn(lsn), tx: None },
        }
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

/// The key columns of a row as pgoutput sent them (`id=7`), for a log
/// line about a row that could not be converted.
fn raw_key(state: &TableState, tuple: &TupleData) -> String {
    // The key's fields by name: key_idx counts only the columns in the
    // value, the tuple has every column of the relation.
    let Some(key) = state.key_schema.as_ref() else { return "(no key)".into() };
    let parts: Vec<String> = key
        .fields
        .iter()
        .map(|f| {
            let i = state.columns.iter().position(|c| c.name == f.name);
            let text = match i.and_then(|i| tuple.0.get(i)) {
                Some(TupleValue::Text(b)) => String::from_utf8_lossy(b).into_owned(),
                Some(TupleValue::Null) => "null".into(),
                _ => "?".into(),
            };
            format!("{}={text}", f.name)
        })
        .collect();
    parts.join(", ")
}

/// Debezium's fallback for a required field without a value (its
/// `JdbcValueConverters` fallbacks, as seen for key-only before images):
/// 0, `false`, `""`, the epoch, a zero decimal.
fn zero_value(schema: &Schema) -> Value {
    use logtap_core::schema::ConnectType as T;
    match schema.name.as_deref() {
        Some("io.debezium.time.ZonedTimestamp") => {
            return Value::String("1970-01-01T00:00:00Z".into())
        }
        Some("io.debezium.time.ZonedTime") => return Value::String("00:00:00Z".into()),
        Some("org.apache.kafka.connect.data.Decimal") => return Value::Bytes(vec![0]),
        _ => {}
    }
    match schema.kind {
        T::Int8 => Value::Int8(0),
        T::Int16 => Value::Int16(0),
        T::Int32 => Value::Int32(0),
        T::Int64 => Value::Int64(0),
        T::Float32 => Value::Float32(0.0),
        T::Float64 => Value::Float64(0.0),
        T::Boolean => Value::Boolean(false),
        T::String => Value::String(String::new()),
        T::Bytes => Value::Bytes(vec![]),
        T::Array => Value::Array(vec![]),
        T::Map => Value::Map(vec![]),
        T::Struct => Value::Struct(Struct {
            schema: Arc::new(schema.clone()),
            values: schema.fields.iter().map(|f| zero_value(&f.schema)).collect(),
        }),
    }
}

fn key_of(state: &TableState, row: &Struct) -> Option<Struct> {
    let schema = state.key_schema.as_ref()?;
    let values = state.key_idx.iter().map(|&i| row.values[i].clone()).collect();
    Some(Struct { schema: schema.clone(), values })
}

#[path = "machine_snapshot.rs"]
pub(crate) mod snapshot;

#[cfg(test)]
#[path = "machine_tests.rs"]
mod machine_tests;
