//! The PostgreSQL source: slot and publication set-up, the replication
//! stream, and pgoutput messages turned into change events.
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
//! ## Memory
//!
//! The stream is not requested in `streaming` mode: PostgreSQL decodes a
//! large transaction into its own spill files (past
//! `logical_decoding_work_mem`) and sends it after commit, row by row. Each
//! row becomes records at once, and the bounded channel plus the pipeline's
//! in-flight limits stop reading when Kafka is slower, so logtap's memory
//! does not grow with a transaction's size.
//!
//! ## Status updates under backpressure
//!
//! A separate task owns the socket. It forwards frames through a small
//! bounded channel and keeps sending standby status updates on a timer (and
//! when the server asks) even while the channel is full, so a slow Kafka never
//! makes the server drop the connection for `wal_sender_timeout`.

use crate::catalog;
use crate::config::PostgresConfig;
use crate::types::{ColumnConversion, TypeOptions, TypeRegistry};
use crate::walsender::{ConnectParams, Reader, WalSender, WalSenderError, Writer};
use logtap_core::event::{key_change_headers, now_us};
use logtap_core::{
    ChangeEvent, ErrorClass, Field, Lsn, Op, PipelineError, RecordNames, Schema, Source,
    SourceItem, SourcePosition, Struct, TableId, Value,
};
use logtap_pgoutput::{
    decode_copy_data, pg_micros_to_unix, unix_micros_to_pg, CopyData, Decoder, Message, Relation,
    ReplicaIdentity, StandbyStatusUpdate, TupleData, TupleValue,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::Client;

/// Columns (with nullability) and primary key columns, from the catalog.
type TableShape = (Vec<catalog::CatalogColumn>, Vec<String>);

/// Debezium's placeholder for an unchanged TOASTed value.
pub const UNAVAILABLE_VALUE: &str = "__debezium_unavailable_value";

/// What the socket task forwards.
#[derive(Debug)]
enum Frame {
    XLogData {
        wal_start: u64,
        data: Vec<u8>,
        /// Read-ahead budget held by this frame until it is processed.
        budget: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    Keepalive {
        wal_end: u64,
    },
    Error(WalSenderError),
    End,
}

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

/// See the module documentation.
pub struct PostgresSource {
    cfg: PostgresConfig,
    prefix: String,
    sql: Client,
    rx: mpsc::Receiver<Frame>,
    flushed: Arc<AtomicU64>,
    /// Asks the socket task to send a final status update and stop.
    stop: Arc<tokio::sync::Notify>,
    socket_task: tokio::task::JoinHandle<()>,
    decoder: Decoder,
    types: TypeRegistry,
    opts: TypeOptions,
    tables: HashMap<u32, TableState>,
    /// The frame being processed, kept until it is fully handled so that a
    /// cancelled `next` (the pipeline selects on it) loses nothing.
    current: Option<Arc<Frame>>,
    pending: VecDeque<SourceItem>,
    tx: Option<Tx>,
    last_commit_lsn: Option<u64>,
    last_checkpoint: u64,
    source_schema: Arc<Schema>,
    warned: HashSet<(u32, String)>,
    /// `postgres system <id> slot <name>`, stored with the position.
    source_id: String,
    /// The catalog's answer for the Relation message being processed.
    shape_cache: Option<(Relation, TableShape)>,
}

impl std::fmt::Debug for PostgresSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSource").field("slot", &self.cfg.slot_name).finish_non_exhaustive()
    }
}

impl Drop for PostgresSource {
    fn drop(&mut self) {
        self.socket_task.abort();
    }
}

fn wal_err(context: &str, e: WalSenderError) -> PipelineError {
    let class = if e.is_retryable() { ErrorClass::Retryable } else { ErrorClass::Fatal };
    PipelineError { class, message: format!("{context}: {e}"), cause: None }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The `io.debezium.connector.postgresql.Source` schema (Debezium 3.5+ shape).
pub fn source_schema() -> Schema {
    logtap_core::event::source_schema(
        "io.debezium.connector.postgresql.Source",
        vec![
            Field::new("schema", Schema::string()),
            Field::new("table", Schema::string()),
            Field::new("txId", Schema::int64().optional()),
            Field::new("lsn", Schema::int64().optional()),
            Field::new("xmin", Schema::int64().optional()),
            Field::new("origin", Schema::string().optional()),
            Field::new("origin_lsn", Schema::int64().optional()),
        ],
    )
}

impl PostgresSource {
    /// Connects, prepares publication and slot, and starts streaming after
    /// `stored` (the committed position) or, without one, from the slot's
    /// confirmed position (a new slot: from now).
    pub async fn start(
        cfg: PostgresConfig,
        prefix: &str,
        stored: Option<&SourcePosition>,
        stored_id: Option<&str>,
    ) -> Result<Self, PipelineError> {
        let stored_lsn = match stored {
            None => None,
            Some(SourcePosition::Postgres { lsn }) => Some(*lsn),
            Some(other) => {
                return Err(PipelineError::fatal(format!(
                    "the stored position ({other}) is not a PostgreSQL position: this offsets directory belongs to another source; use another topic_prefix or run `logtap reset`"
                )))
            }
        };
        let sql = catalog::connect(&cfg).await?;
        catalog::ensure_publication(&sql, &cfg).await?;
        let params = ConnectParams {
            host: cfg.host.clone(),
            port: cfg.port,
            user: cfg.user.clone(),
            password: cfg.password.clone(),
            database: cfg.database.clone(),
            application_name: format!("logtap-{}", cfg.slot_name),
            connect_timeout: Duration::from_secs(10),
            sslmode: cfg
                .ssl_mode()
                .map_err(|(field, msg)| PipelineError::fatal(format!("{field}: {msg}")))?,
            sslrootcert: cfg.sslrootcert.clone(),
        };
        let mut ws =
            WalSender::connect(&params).await.map_err(|e| wal_err("replication connection", e))?;
        let version = ws.server_version().unwrap_or(0);
        let system = ws
            .simple_query("IDENTIFY_SYSTEM")
            .await
            .map_err(|e| wal_err("IDENTIFY_SYSTEM", e))?
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        let source_id = format!("postgres system {system} slot {}", cfg.slot_name);
        if let Some(stored_id) = stored_id {
            if stored_id != source_id {
                return Err(PipelineError::fatal(format!(
                    "the stored position belongs to `{stored_id}`, but this configuration reads `{source_id}`: \
                     applying it to another server or slot could skip changes. Use another topic_prefix or offsets.path \
                     for the new source, or run `logtap reset` to start over"
                )));
            }
        }
        if version < 140000 {
            tracing::warn!(
                server_version = version,
                "PostgreSQL before 14: logical decoding messages (watermarks) are unavailable"
            );
        }
        let slot = &cfg.slot_name;
        // The server never sends anything before this point; keepalives
        // below it (sent while it rewinds to restart_lsn) are not progress.
        let slot_floor: Lsn = match catalog::slot_info(&sql, slot).await? {
            Some(info) => {
                if info.plugin.as_deref() != Some("pgoutput") {
                    return Err(PipelineError::fatal(format!(
                        "replication slot `{slot}` uses plugin {:?}, not pgoutput: drop it (SELECT pg_drop_replication_slot('{slot}')) or set postgres.slot_name to another name",
                        info.plugin
                    )));
                }
                if info.database.as_deref() != Some(cfg.database.as_str()) {
                    return Err(PipelineError::fatal(format!(
                        "replication slot `{slot}` belongs to database {:?}, not `{}`: set postgres.slot_name to another name",
                        info.database, cfg.database
                    )));
                }
                if let Some(pid) = info.active_pid {
                    return Err(PipelineError::retryable(format!(
                        "replication slot `{slot}` is in use by server process {pid} (another logtap, or a stale connection): stop it, or SELECT pg_terminate_backend({pid})"
                    )));
                }
                if info.wal_status.as_deref() == Some("lost") {
                    return Err(PipelineError::fatal(format!(
                        "replication slot `{slot}` has lost required WAL (wal_status = lost, max_slot_wal_keep_size exceeded): changes are gone; drop the slot and start over with `logtap reset` (a new snapshot is needed)"
                    )));
                }
                if let (Some(stored), Some(confirmed)) = (stored_lsn, info.confirmed_flush_lsn) {
                    if confirmed > stored {
                        return Err(PipelineError::fatal(format!(
                            "replication slot `{slot}` has confirmed {confirmed}, past logtap's stored position {stored}: the changes between were consumed by another client and cannot be replayed; \
                             to start over run `logtap reset` (a new snapshot is needed to get them back)"
                        )));
                    }
                }
                if stored_lsn.is_none() {
                    tracing::info!(slot = %slot, confirmed = ?info.confirmed_flush_lsn, "reusing existing slot without a stored position: streaming from its confirmed position");
                }
                info.confirmed_flush_lsn.unwrap_or(Lsn(0))
            }
            None => {
                if let Some(stored) = stored_lsn {
                    return Err(PipelineError::fatal(format!(
                        "replication slot `{slot}` does not exist, but logtap has a stored position ({stored}): the slot was dropped and changes since then may be lost; \
                         to start over run `logtap reset` (a new snapshot is needed to recover them)"
                    )));
                }
                let rows = ws
                    .simple_query(&format!(
                        "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput NOEXPORT_SNAPSHOT",
                        quote_ident(slot)
                    ))
                    .await
                    .map_err(|e| wal_err(&format!("creating replication slot `{slot}`"), e))?;
                let at = rows.first().and_then(|r| r.get(1)).cloned().flatten().unwrap_or_default();
                tracing::info!(slot = %slot, consistent_point = %at, "created replication slot");
                at.parse().unwrap_or(Lsn(0))
            }
        };
        let proto = match version {
            v if v >= 160000 => 4,
            v if v >= 150000 => 3,
            v if v >= 140000 => 2,
            _ => 1,
        };
        let start = stored_lsn.unwrap_or(Lsn(0));
        let mut options = format!(
            "\"proto_version\" '{proto}', \"publication_names\" '{}'",
            quote_ident(&cfg.publication_name).replace('\'', "''")
        );
        if version >= 140000 {
            options.push_str(", \"messages\" 'true'");
        }
        let cmd =
            format!("START_REPLICATION SLOT {} LOGICAL {start} ({options})", quote_ident(slot));
        let (reader, writer) = ws.start_replication(&cmd).await.map_err(|e| {
            let mut err = wal_err(&format!("starting replication on slot `{slot}`"), e);
            if err.message.contains("55006") || err.message.contains("is active") {
                err.class = ErrorClass::Retryable;
            }
            err
        })?;
        tracing::info!(slot = %slot, start = %start, proto_version = proto, "streaming");
        let flushed = Arc::new(AtomicU64::new(start.0));
        let stop = Arc::new(tokio::sync::Notify::new());
        let (tx, rx) = mpsc::channel(1024);
        let socket_task = tokio::spawn(socket_loop(
            reader,
            writer,
            tx,
            flushed.clone(),
            stop.clone(),
            Duration::from_millis(cfg.status_interval_ms),
        ));
        let opts = TypeOptions::from_config(&cfg)
            .map_err(|(f, m)| PipelineError::fatal(format!("{f}: {m}")))?;
        Ok(PostgresSource {
            prefix: prefix.to_string(),
            sql,
            rx,
            flushed,
            stop,
            socket_task,
            decoder: Decoder::new(proto).map_err(|e| PipelineError::fatal(e.to_string()))?,
            types: TypeRegistry::new(),
            opts,
            tables: HashMap::new(),
            current: None,
            pending: VecDeque::new(),
            tx: None,
            last_commit_lsn: None,
            last_checkpoint: start.0.max(slot_floor.0),
            source_schema: Arc::new(source_schema()),
            warned: HashSet::new(),
            shape_cache: None,
            source_id,
            cfg,
        })
    }

    async fn process(&mut self, frame: &Frame) -> Result<(), PipelineError> {
        match frame {
            Frame::Error(e) => Err(PipelineError {
                class: if e.is_retryable() { ErrorClass::Retryable } else { ErrorClass::Fatal },
                message: format!("replication stream on slot `{}`: {e}", self.cfg.slot_name),
                cause: None,
            }),
            Frame::End => Err(PipelineError::retryable(format!(
                "PostgreSQL ended the replication stream on slot `{}`",
                self.cfg.slot_name
            ))),
            Frame::Keepalive { wal_end } => {
                if self.tx.is_none() && *wal_end > self.last_checkpoint {
                    self.last_checkpoint = *wal_end;
                    self.pending.push_back(SourceItem::Checkpoint(SourcePosition::Postgres {
                        lsn: Lsn(*wal_end),
                    }));
                }
                Ok(())
            }
            Frame::XLogData { wal_start, data, .. } => {
                let msg = self.decoder.decode(data).map_err(|e| {
                    PipelineError::fatal(format!("at LSN {}: {e}", Lsn(*wal_start)))
                })?;
                self.message(*wal_start, msg).await
            }
        }
    }

    async fn message(&mut self, lsn: u64, msg: Message) -> Result<(), PipelineError> {
        match msg {
            Message::Begin(b) => {
                self.tx = Some(Tx {
                    xid: b.xid,
                    commit_ts_us: pg_micros_to_unix(b.commit_time),
                    origin: None,
                });
            }
            Message::Commit(c) => {
                tracing::trace!(commit_lsn = %Lsn(c.commit_lsn), end_lsn = %Lsn(c.end_lsn), "commit");
                self.tx = None;
                self.last_commit_lsn = Some(c.commit_lsn);
                if c.end_lsn > self.last_checkpoint {
                    self.last_checkpoint = c.end_lsn;
                }
                self.pending.push_back(SourceItem::Checkpoint(SourcePosition::Postgres { lsn: Lsn(c.end_lsn) }));
            }
            Message::Relation { relation, .. } => self.relation(&relation).await?,
            Message::Type(_) => {}
            Message::Origin(o) => {
                if let Some(tx) = &mut self.tx {
                    tx.origin = Some((o.name, o.commit_lsn));
                }
            }
            Message::LogicalMessage(_) => {}
            Message::Insert(ins) => {
                let Some(state) = self.captured(ins.relation_id, lsn)? else { return Ok(()) };
                let after = self.tuple(state, &ins.new, lsn)?;
                let key = key_of(state, &after)?;
                let ev = self.event(state, Op::Create, key, None, Some(after), lsn, vec![]);
                self.pending.push_back(SourceItem::Change(Box::new(ev)));
            }
            Message::Update(up) => {
                let Some(state) = self.captured(up.relation_id, lsn)? else { return Ok(()) };
                let after = self.tuple(state, &up.new, lsn)?;
                let before = match &up.old {
                    Some(old) => Some(self.tuple(state, old.tuple(), lsn)?),
                    None => None,
                };
                let new_key = key_of(state, &after)?;
                let old_key = match &before {
                    Some(b) => key_of(state, b)?,
                    None => None,
                };
                let change = match (&old_key, &new_key) {
                    (Some(ok), Some(nk)) => key_change_headers(ok, nk),
                    _ => None,
                };
                match (change, old_key, new_key) {
                    (Some((del_headers, cre_headers)), ok, nk) => {
                        let del = self.event(state, Op::Delete, ok, before, None, lsn, del_headers);
                        let cre = self.event(state, Op::Create, nk, None, Some(after), lsn, cre_headers);
                        self.pending.push_back(SourceItem::Change(Box::new(del)));
                        self.pending.push_back(SourceItem::Change(Box::new(cre)));
                    }
                    (None, _, nk) => {
                        let ev = self.event(state, Op::Update, nk, before, Some(after), lsn, vec![]);
                        self.pending.push_back(SourceItem::Change(Box::new(ev)));
                    }
                }
            }
            Message::Delete(del) => {
                let Some(state) = self.captured(del.relation_id, lsn)? else { return Ok(()) };
                let before = self.tuple(state, del.old.tuple(), lsn)?;
                let key = key_of(state, &before)?;
                let ev = self.event(state, Op::Delete, key, Some(before), None, lsn, vec![]);
                self.pending.push_back(SourceItem::Change(Box::new(ev)));
            }
            Message::Truncate(t) => {
                if self.cfg.emit_truncate {
                    for rel in &t.relation_ids {
                        let Some(state) = self.captured(*rel, lsn)? else { continue };
                        let ev = self.event(state, Op::Truncate, None, None, None, lsn, vec![]);
                        self.pending.push_back(SourceItem::Change(Box::new(ev)));
                    }
                }
            }
            other => {
                return Err(PipelineError::fatal(format!(
                    "at LSN {}: unexpected pgoutput message {other:?} (logtap does not request streaming or two-phase)",
                    Lsn(lsn)
                )))
            }
        }
        Ok(())
    }

    /// The state of relation `id` if it is captured; an error if unknown.
    fn captured(&self, id: u32, lsn: u64) -> Result<Option<&TableState>, PipelineError> {
        let state = self.tables.get(&id).ok_or_else(|| {
            PipelineError::fatal(format!(
                "at LSN {}: change for relation {id} before its Relation message",
                Lsn(lsn)
            ))
        })?;
        Ok(state.captured.then_some(state))
    }

    async fn relation(&mut self, rel: &Relation) -> Result<(), PipelineError> {
        let namespace =
            if rel.namespace.is_empty() { "pg_catalog".to_string() } else { rel.namespace.clone() };
        let id = TableId::new(&namespace, &rel.name);
        let captured = self.cfg.captures(&namespace, &rel.name);
        // Cancellation-proof progress: a cancelled `next` re-runs this for the
        // same message and reuses what the catalog already answered.
        let (catalog_cols, pk) = match &self.shape_cache {
            Some((r, shape)) if r == rel => shape.clone(),
            _ => {
                let shape = catalog::table_shape(&self.sql, rel.id).await?;
                self.shape_cache = Some((rel.clone(), shape.clone()));
                shape
            }
        };
        for col in &rel.columns {
            if self.types.get(col.type_oid).is_none() {
                if let Some(t) = catalog::type_info(&self.sql, col.type_oid).await? {
                    self.register_type(t).await?;
                }
            }
        }
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
                    PipelineError::fatal(format!("table {id} column {}: {e}", col.name))
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
            schema.default = catalog_col
                .and_then(|c| c.default_expr.as_deref())
                .and_then(|e| crate::types::defaults::column_default(col.type_oid, e));
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
            if sorted == wal_key {
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
            Some(Arc::new(Schema::structure(
                &names.key,
                key_idx
                    .iter()
                    .map(|&i| {
                        // With its default, as Debezium's key schema has it.
                        let mut s = included[i].schema.clone();
                        s.optional = false;
                        Field::new(&included[i].name, s)
                    })
                    .collect(),
            )))
        };
        if captured && rel.replica_identity == ReplicaIdentity::Nothing {
            tracing::warn!(table = %id, "REPLICA IDENTITY NOTHING: updates have no before image and deletes cannot be published");
        }
        let value_schema = Arc::new(Schema::structure(&names.value, fields));
        tracing::debug!(table = %id, relation = rel.id, captured, columns = columns.len(), key = ?pk, "relation");
        self.tables.insert(
            rel.id,
            TableState { id, captured, columns, key_idx, key_schema, value_schema },
        );
        Ok(())
    }

    async fn register_type(&mut self, t: catalog::CatalogType) -> Result<(), PipelineError> {
        // Element and base types first, so arrays and domains resolve.
        let mut queue = vec![t];
        let mut seen = HashSet::new();
        while let Some(t) = queue.pop() {
            if !seen.insert(t.oid) {
                continue;
            }
            for dep in [t.element, t.base] {
                if dep != 0 && self.types.get(dep).is_none() && !seen.contains(&dep) {
                    if let Some(d) = catalog::type_info(&self.sql, dep).await? {
                        queue.push(d);
                    }
                }
            }
            self.types.register_catalog(&t);
        }
        Ok(())
    }

    fn tuple(
        &self,
        state: &TableState,
        tuple: &TupleData,
        lsn: u64,
    ) -> Result<Struct, PipelineError> {
        if tuple.0.len() != state.columns.len() {
            return Err(PipelineError::fatal(format!(
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
                        PipelineError::fatal(format!("at LSN {}: table {} column {}: value is not UTF-8", Lsn(lsn), state.id, col.name))
                    })?;
                    col.conv.convert_text(text).map_err(|e| {
                        PipelineError::fatal(format!("at LSN {}: table {} column {}: {e}", Lsn(lsn), state.id, col.name))
                    })?
                }
                TupleValue::Binary(_) => {
                    return Err(PipelineError::fatal(format!(
                        "at LSN {}: table {} column {}: binary tuple data, which logtap does not request",
                        Lsn(lsn), state.id, col.name
                    )))
                }
            });
        }
        Struct::new(state.value_schema.clone(), values)
            .map_err(|e| PipelineError::fatal(e.to_string()))
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
    ) -> ChangeEvent {
        let tx = self.tx.clone().unwrap_or(Tx { xid: 0, commit_ts_us: now_us(), origin: None });
        let sequence = format!(
            "[{},\"{lsn}\"]",
            self.last_commit_lsn.map(|l| format!("\"{l}\"")).unwrap_or_else(|| "null".into())
        );
        let source = Struct {
            schema: self.source_schema.clone(),
            values: vec![
                Value::String(env!("CARGO_PKG_VERSION").into()),
                Value::String("postgresql".into()),
                Value::String(self.prefix.clone()),
                Value::Int64(tx.commit_ts_us.div_euclid(1000)),
                Value::String("false".into()),
                Value::String(self.cfg.database.clone()),
                Value::String(sequence),
                Value::Int64(tx.commit_ts_us),
                Value::Int64(tx.commit_ts_us.saturating_mul(1000)),
                Value::String(state.id.namespace.clone()),
                Value::String(state.id.table.clone()),
                Value::Int64(i64::from(tx.xid)),
                Value::Int64(lsn as i64),
                Value::Null,
                tx.origin.as_ref().map_or(Value::Null, |(name, _)| Value::String(name.clone())),
                tx.origin.as_ref().map_or(Value::Null, |(_, lsn)| Value::Int64(*lsn as i64)),
            ],
        };
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
            position: SourcePosition::Postgres { lsn: Lsn(lsn) },
        }
    }
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

fn key_of(state: &TableState, row: &Struct) -> Result<Option<Struct>, PipelineError> {
    let Some(schema) = &state.key_schema else { return Ok(None) };
    let values = state.key_idx.iter().map(|&i| row.values[i].clone()).collect();
    Ok(Some(Struct { schema: schema.clone(), values }))
}

impl Source for PostgresSource {
    async fn next(&mut self) -> Result<Option<SourceItem>, PipelineError> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Ok(Some(item));
            }
            // Cancel-safe: a frame is either still in the channel or in
            // `current` until it is fully processed. Processing awaits only
            // for catalog look-ups on Relation messages, before it changes any
            // state other than the (idempotent) relation cache, so a cancelled
            // call simply processes the same frame again.
            let frame = match &self.current {
                Some(f) => f.clone(),
                None => {
                    let f = Arc::new(self.rx.recv().await.unwrap_or(Frame::End));
                    self.current = Some(f.clone());
                    f
                }
            };
            let result = self.process(&frame).await;
            self.current = None;
            result?;
        }
    }

    async fn committed(&mut self, position: &SourcePosition) -> Result<(), PipelineError> {
        if let SourcePosition::Postgres { lsn } = position {
            self.flushed.fetch_max(lsn.0, Ordering::SeqCst);
        }
        Ok(())
    }

    fn source_id(&self) -> Option<String> {
        Some(self.source_id.clone())
    }

    /// Sends a last status update with the final stored position, so the
    /// slot does not pin WAL up to the previous update while logtap is down.
    async fn close(&mut self) {
        self.stop.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.socket_task).await;
    }
}

/// Bytes of WAL data read ahead of the pipeline, at most (invariant 4).
const READ_AHEAD_BYTES: usize = 16 * 1024 * 1024;

/// Owns the socket: forwards frames, sends status updates on time.
async fn socket_loop(
    mut reader: Reader,
    mut writer: Writer,
    tx: mpsc::Sender<Frame>,
    flushed: Arc<AtomicU64>,
    stop: Arc<tokio::sync::Notify>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let budget = Arc::new(tokio::sync::Semaphore::new(READ_AHEAD_BYTES));
    let mut pending: Option<Frame> = None;
    let mut stop_after_send = false;
    loop {
        if let Some(mut frame) = pending.take() {
            // Read-ahead is bounded in bytes, not only in frames: a frame
            // first takes its size from the budget (a huge row takes all of
            // it and travels alone), then a place in the channel. Status
            // updates go on while it waits for either.
            let need = match &frame {
                Frame::XLogData { data, budget: None, .. } => {
                    Some(data.len().clamp(1, READ_AHEAD_BYTES) as u32)
                }
                _ => None,
            };
            tokio::select! {
                permit = budget.clone().acquire_many_owned(need.unwrap_or(1)), if need.is_some() => {
                    match (permit, &mut frame) {
                        (Ok(p), Frame::XLogData { budget: slot, .. }) => *slot = Some(p),
                        _ => return,
                    }
                    pending = Some(frame);
                }
                permit = tx.reserve(), if need.is_none() => match permit {
                    Ok(p) => {
                        p.send(frame);
                        if stop_after_send { return; }
                    }
                    Err(_) => return,
                },
                _ = ticker.tick() => {
                    pending = Some(frame);
                    if let Err(e) = send_status(&mut writer, &flushed, false).await {
                        let _ = tx.send(Frame::Error(e)).await;
                        return;
                    }
                }
                _ = stop.notified() => {
                    let _ = send_status(&mut writer, &flushed, false).await;
                    return;
                }
            }
            continue;
        }
        tokio::select! {
            data = reader.copy_data() => {
                pending = Some(match data {
                    Ok(Some(bytes)) => match decode_copy_data(&bytes) {
                        Ok(CopyData::XLogData(x)) => Frame::XLogData { wal_start: x.wal_start, data: x.data.to_vec(), budget: None },
                        Ok(CopyData::PrimaryKeepalive(k)) => {
                            let wal_end = k.wal_end;
                            if k.reply_requested {
                                if let Err(e) = send_status(&mut writer, &flushed, false).await {
                                    stop_after_send = true;
                                    pending = Some(Frame::Error(e));
                                    continue;
                                }
                            }
                            Frame::Keepalive { wal_end }
                        }
                        Err(e) => {
                            stop_after_send = true;
                            Frame::Error(WalSenderError::Protocol { context: "decoding CopyData", what: e.to_string() })
                        }
                    },
                    Ok(None) => { stop_after_send = true; Frame::End }
                    Err(e) => { stop_after_send = true; Frame::Error(e) }
                });
            }
            _ = ticker.tick() => {
                if let Err(e) = send_status(&mut writer, &flushed, false).await {
                    let _ = tx.send(Frame::Error(e)).await;
                    return;
                }
            }
            _ = tx.closed() => return,
            _ = stop.notified() => {
                let _ = send_status(&mut writer, &flushed, false).await;
                return;
            }
        }
    }
}

async fn send_status(
    writer: &mut Writer,
    flushed: &AtomicU64,
    reply: bool,
) -> Result<(), WalSenderError> {
    let lsn = flushed.load(Ordering::SeqCst);
    let msg = StandbyStatusUpdate {
        write_lsn: lsn,
        flush_lsn: lsn,
        apply_lsn: lsn,
        client_time: unix_micros_to_pg(now_us()),
        reply_requested: reply,
    }
    .encode();
    writer.copy_data(&msg).await
}
