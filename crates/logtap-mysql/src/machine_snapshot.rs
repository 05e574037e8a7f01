//! The snapshot half of the binlog state machine (ARCHITECTURE.md,
//! "Snapshots"): which chunk to read next, what streamed changes touch
//! while a chunk is open, and the rows to emit as reads where the chunk's
//! high watermark passes in the stream. No IO: the driver (`source.rs`)
//! asks [`BinlogMachine::snapshot_step`] what to do, runs it
//! (`snapshot.rs` reads a chunk), and hands back what it got.
//!
//! # Watermarks without writing
//!
//! Each chunk is read in its own `START TRANSACTION WITH CONSISTENT
//! SNAPSHOT` on MariaDB, which names the binlog position its read view is
//! consistent with (`Binlog_snapshot_file` / `_position`): every
//! transaction that ends at or before it is in the rows, none after it is.
//! So nothing is written to the server (a replica, or a user without write
//! grants, works the same) and the high watermark is exact:
//!
//! - the window opens when the chunk is requested, between transactions
//!   of the stream (its low watermark, the stream's position then);
//! - the rows arrive with the snapshot position; if the stream had already
//!   passed it when the window opened, changes the rows do not contain
//!   were sent unnoted, and the chunk is read again;
//! - the window closes where the stream, between transactions, reaches the
//!   snapshot position: the rows whose keys no change in the window
//!   touched are sent there as reads, each the row's state at that point
//!   of the stream.
//!
//! Keys are compared as the converted key values (the same conversion as
//! the binlog's rows: `types::selected_value`), so a key matches whatever
//! path it came by. A table without a primary key is read in one chunk
//! and reconciled on whole rows.
//!
//! The progress (tables left, last key read as SQL literals) travels in
//! every checkpoint the machine yields and moves only when a chunk's reads
//! are queued, so a stored checkpoint never claims rows Kafka has not
//! acknowledged.

use super::rows::RowCtx;
use super::{BinlogMachine, Gtids, TableState};
use crate::catalog::TableCatalog;
use crate::types::{declared_type, key_literal, select_expr, selected_value};
use crate::types::{ColumnDef, TableColumns};
use logtap_binlog::MysqlGtidSet;
use logtap_core::chunked::{on_signal, ChunkedSnapshot, Closed, Next, SignalAction};
use logtap_core::chunks::{ChunkRequest, SnapStep, Vanished};
use logtap_core::dblog::{parse_watermark_id, Mark, WINDOW_CLOSE, WINDOW_OPEN};
use logtap_core::event::SnapshotMarker;
use logtap_core::schema::Struct;
use logtap_core::snapshot::parse_signal_row;
use logtap_core::{ErrorKind, Op, PipelineError, SnapshotProgress, TableId};
use mysql_common::binlog::value::BinlogValue;
use mysql_common::value::Value as My;

/// A running snapshot: the shared engine over this source's tables,
/// converted rows keyed by [`row_key`], and chunk state.
pub(crate) type Snapshot = ChunkedSnapshot<SnapTable, String, Struct, MyChunk>;

/// The table being read.
pub(crate) struct SnapTable {
    state: TableState,
    /// Each column's character set (for key literals).
    charsets: Vec<Option<String>>,
    estimate: u64,
}

/// What a chunk in flight carries besides the engine's part.
pub(crate) struct MyChunk {
    /// The stream's position when the window opened.
    opened_at: (u64, u64),
    /// Where the chunk's read view stands in the binlog (its high
    /// watermark), once its rows are here.
    at: Option<BinlogAt>,
    /// GTID sets: the stream's set when the window opened, and once the
    /// rows are here the high set the stream must pass.
    opened_gtids: Option<MysqlGtidSet>,
    high_gtids: Option<MysqlGtidSet>,
}

/// Where a chunk's rows stand, as the chunk task reports it.
#[derive(Debug)]
pub(crate) enum RowsAt {
    /// MariaDB: the read view's binlog position.
    Position(BinlogAt),
    /// MySQL read-only: `@@gtid_executed` before and after the `SELECT`.
    Gtids { low: MysqlGtidSet, high: MysqlGtidSet },
    /// Signal-row watermarks: the high one follows in the stream.
    Later,
}

/// A binlog position between transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BinlogAt {
    pub file: String,
    pub pos: u64,
}

/// A binlog file name's sequence number (`mysql-bin.000012` → 12), which
/// orders positions across files.
fn file_no(file: &str) -> u64 {
    file.rsplit_once('.').and_then(|(_, n)| n.parse().ok()).unwrap_or(0)
}

pub(crate) fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// What a snapshot started later (by a signal) needs.
#[derive(Debug, Clone)]
pub(crate) struct SnapSetup {
    pub chunk_size: u32,
    /// `[snapshot] signal_data_collection`: its inserted rows are signals.
    pub signal_table: Option<TableId>,
    /// Where a chunk's window closes.
    pub watermarks: Watermarks,
}

/// Where a chunk's window opens and closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watermarks {
    /// MariaDB: opens at the request, closes at the binlog position of the
    /// chunk's consistent snapshot (see the module documentation).
    ReadView,
    /// MySQL without writing (read-only, a replica, or no signal table):
    /// the window opens at the request, between transactions; the chunk
    /// task reads `@@gtid_executed` before (low) and after (high) its
    /// `SELECT`. Every transaction streamed before the window must be in
    /// the low set (else the chunk is read again: a transaction already
    /// sent might not be in its rows), and the window closes once the
    /// stream has passed every transaction of the high set, so every
    /// transaction the rows can contain went out before them.
    GtidSets,
    /// MySQL, which names no binlog position for a read view: Debezium's
    /// `snapshot-window-open` / `-close` rows in the signal table, written
    /// by the chunk task before and after its `SELECT` (id
    /// `<run>/<chunk>/<low|high>`, data the topic prefix; `run` is new at
    /// every start, so an earlier start's rows are not taken for this one's).
    SignalRows { run: u64 },
}

/// A signal table row: its id, type and data, and where its ROWS event starts.
#[derive(Debug)]
pub(super) struct SignalRow {
    pub id: String,
    pub kind: String,
    pub data: Option<String>,
    pub at: u64,
}

/// A signal row's `id`, `type` and `data` (Debezium's signal table columns).
pub(super) fn signal_fields(state: &TableState, row: &Struct, at: u64) -> SignalRow {
    let text = |name: &str| {
        let i = state.names.iter().position(|n| n.eq_ignore_ascii_case(name))?;
        match &row.values[i] {
            logtap_core::schema::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    };
    SignalRow {
        id: text("id").unwrap_or_default(),
        kind: text("type").unwrap_or_default(),
        data: text("data"),
        at,
    }
}

impl BinlogMachine {
    /// Enables snapshots for this start, so a signal can start one.
    pub(crate) fn snapshot_setup(&mut self, setup: SnapSetup) {
        self.snap_setup = Some(setup);
    }

    /// Whether `db`.`table` is the signal table.
    pub(super) fn is_signal_table(&self, db: &str, table: &str) -> bool {
        self.snap_setup.as_ref().and_then(|s| s.signal_table.as_ref()).is_some_and(|t| {
            t.namespace.eq_ignore_ascii_case(db) && t.table.eq_ignore_ascii_case(table)
        })
    }

    /// A row inserted into the signal table: `execute-snapshot` adds its
    /// tables to the running snapshot or starts an incremental one;
    /// `stop-snapshot` ends the running one. Tables this source does not
    /// capture are left alone (with a warning).
    pub(super) fn snapshot_signal(&mut self, row: SignalRow) -> Result<(), PipelineError> {
        let Some(setup) = &self.snap_setup else { return Ok(()) };
        let chunk_size = setup.chunk_size;
        if row.kind == WINDOW_OPEN || row.kind == WINDOW_CLOSE {
            if let Watermarks::SignalRows { run } = setup.watermarks {
                if row.data.as_deref() == Some(self.prefix.as_str()) {
                    if let Some((chunk, mark)) = parse_watermark_id(run, &row.id) {
                        return self.snapshot_window_row(chunk, mark, row.at);
                    }
                }
            }
            return Ok(());
        }
        let at = format!("{}:{}", self.file, self.pos);
        let Some(signal) = parse_signal_row(&row.kind, row.data.as_deref()) else { return Ok(()) };
        let running = self.snap.as_mut().and_then(Snapshot::running_progress);
        let captures = |d: &str, n: &str| self.cfg.captures(d, n);
        match on_signal(running, signal, captures, "db.table", &at) {
            Some(SignalAction::Start(p)) => self.start_snapshot(p, chunk_size),
            Some(SignalAction::Stop) => self.snap = None,
            None => {}
        }
        Ok(())
    }

    /// A window row of chunk `chunk` (signal-row watermarks), in the ROWS
    /// event at `event_start`: the low one opens the window; the high one
    /// closes it where its transaction commits (`snapshot_passed`).
    fn snapshot_window_row(
        &mut self,
        chunk: u64,
        mark: Mark,
        event_start: u64,
    ) -> Result<(), PipelineError> {
        let file = self.file.clone();
        let Some(snap) = &mut self.snap else { return Ok(()) };
        match mark {
            Mark::Low => snap.watermark(chunk, Mark::Low).map(|_| ()),
            Mark::High => {
                if let Some((flight, _)) = snap.open(chunk) {
                    flight.extra.at = Some(BinlogAt { file, pos: event_start });
                }
                Ok(())
            }
        }
    }

    /// Starts (or resumes) a snapshot at `progress`, `chunk_size` rows a chunk.
    pub(crate) fn start_snapshot(&mut self, progress: SnapshotProgress, chunk_size: u32) {
        let snap = Snapshot::new(chunk_size, progress);
        let done = !snap.running();
        self.snap = Some(snap);
        if done && self.tx.is_none() {
            // Nothing to read: a checkpoint says so (and ends an
            // initial_only run). Only between transactions: a signal
            // never starts an empty snapshot, a start always is there.
            let here = self.boundary();
            self.push_checkpoint(here);
        }
    }

    /// Whether a snapshot is under way (the driver then needs its reader).
    pub(crate) fn snapshot_running(&self) -> bool {
        self.snap.as_ref().is_some_and(Snapshot::running)
    }

    /// No snapshot, or a finished one whose last checkpoint is queued.
    pub(crate) fn snapshot_idle(&self) -> bool {
        self.snap.as_ref().is_none_or(Snapshot::idle)
    }

    /// The progress the next checkpoint carries: `None` when no snapshot
    /// runs or it has finished.
    pub(super) fn snapshot_progress(&mut self) -> Option<SnapshotProgress> {
        self.snap.as_mut()?.checkpoint_progress()
    }

    /// See [`SnapStep`]. A chunk returned here is begun: its window is open.
    pub(crate) fn snapshot_step(&mut self) -> Result<SnapStep, PipelineError> {
        if self.tx.is_some() {
            return Ok(SnapStep::Idle);
        }
        let Some(snap) = &mut self.snap else { return Ok(SnapStep::Idle) };
        // At most about one chunk's reads wait to be sent while the next
        // chunk is read (invariant 4: a chunk's rows can close at once,
        // faster than Kafka takes them).
        if self.pending.len() > snap.chunk_size() {
            return Ok(SnapStep::Idle);
        }
        let (select, check) = match snap.next()? {
            Next::Idle => return Ok(SnapStep::Idle),
            Next::Describe(id) => return Ok(SnapStep::Describe(id)),
            Next::Chunk { table, last, filter } => {
                let id = &table.state.id;
                let last: Option<Vec<String>> = match last {
                    None => None,
                    Some(v) => Some(serde_json::from_value(v.clone()).map_err(|e| {
                        PipelineError::internal(format!(
                            "stored snapshot progress of {id}: last key {v} is not a list of SQL literals: {e}"
                        ))
                    })?),
                };
                let select =
                    chunk_select(&table.state, last.as_deref(), filter, snap.chunk_size())?;
                let from = format!("{}.{}", quote_ident(&id.namespace), quote_ident(&id.table));
                (select, Vanished::condition_check(&from, filter))
            }
        };
        let chunk = self.next_chunk;
        self.next_chunk += 1;
        let opens_now = self
            .snap_setup
            .as_ref()
            .is_none_or(|s| matches!(s.watermarks, Watermarks::ReadView | Watermarks::GtidSets));
        let opened_gtids = match &self.gtids {
            Gtids::Mysql(set) => Some(set.clone()),
            _ => None,
        };
        let opened_at = (file_no(&self.file), self.pos);
        let extra = MyChunk { opened_at, at: None, opened_gtids, high_gtids: None };
        snap.begin(chunk, opens_now, extra)?;
        Ok(SnapStep::Chunk(ChunkRequest { chunk, select, check }))
    }

    /// The answer to [`SnapStep::Describe`]: the table's catalog (no
    /// columns: the table is gone, and is skipped with a warning) and its
    /// estimated row count.
    pub(crate) fn snapshot_table_read(
        &mut self,
        id: TableId,
        catalog: TableCatalog,
        estimate: u64,
    ) -> Result<(), PipelineError> {
        if catalog.columns.is_empty() {
            if let Some(snap) = &mut self.snap {
                snap.gone();
            }
            return Ok(());
        }
        let mut columns = Vec::with_capacity(catalog.columns.len());
        let mut charsets = Vec::with_capacity(catalog.columns.len());
        for c in &catalog.columns {
            let column_type = declared_type(
                &id.to_string(),
                &c.name,
                &c.data_type,
                &c.column_type,
                c.charset.as_deref(),
                self.flavor,
            )
            .map_err(|e| PipelineError::new(ErrorKind::Unsupported, format!("snapshot: {e}")))?;
            columns.push(ColumnDef { name: c.name.clone(), column_type, nullable: c.nullable });
            charsets.push(c.charset.clone());
        }
        let primary_key = catalog
            .primary_key
            .iter()
            .map(|k| {
                columns.iter().position(|c| c.name.eq_ignore_ascii_case(k)).ok_or_else(|| {
                    PipelineError::internal(format!("{id}: key column {k} is not a column"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cols = TableColumns {
            database: id.namespace.to_string(),
            table: id.table.to_string(),
            columns,
            primary_key,
        };
        self.catalogs.insert(id.clone(), std::sync::Arc::new(catalog));
        let state = self.table_state(id, cols, Vec::new(), None);
        if state.key_idx.is_empty() {
            tracing::warn!(table = %state.id, estimated_rows = estimate, "no primary key: the table is read in one chunk, reconciled on whole rows");
        }
        let Some(snap) = &mut self.snap else { return Ok(()) };
        let id = state.id.clone();
        snap.described(SnapTable { state, charsets, estimate }, &id, Some(estimate));
        Ok(())
    }

    /// Chunk `chunk`'s rows as the `SELECT` returned them, and the binlog
    /// position its read view is consistent with. The chunk closes at once
    /// if the stream is there already.
    pub(crate) fn snapshot_rows(
        &mut self,
        chunk: u64,
        rows: Vec<Vec<My>>,
        at: RowsAt,
    ) -> Result<(), PipelineError> {
        let Some(snap) = &mut self.snap else { return Ok(()) };
        let size = snap.chunk_size();
        let Some((flight, table)) = snap.open(chunk) else { return Ok(()) };
        let behind = match &at {
            RowsAt::Position(at) => (file_no(&at.file), at.pos) < flight.extra.opened_at,
            RowsAt::Gtids { low, .. } => {
                flight.extra.opened_gtids.as_ref().is_some_and(|o| !o.is_subset_of(low))
            }
            RowsAt::Later => false,
        };
        if behind {
            // The stream was past the read view when the window opened:
            // changes the rows miss went out unnoted. Read it again.
            tracing::debug!(table = %table.state.id, chunk, snapshot_at = ?at, "the chunk's read view is behind the stream: reading it again");
            snap.read_again();
            return Ok(());
        }
        let state = &table.state;
        let keyless = state.key_idx.is_empty();
        flight.more = rows.len() > size && !keyless;
        let keep = if keyless { rows.len() } else { size };
        let mut keyed = Vec::with_capacity(rows.len().min(keep));
        let mut last = None;
        for (n, row) in rows.into_iter().take(keep).enumerate() {
            let (literals, converted) = read_row(state, &table.charsets, chunk, n, row)?;
            let key_text = literals.join(", ");
            if !literals.is_empty() {
                last = Some(literals);
            }
            match converted {
                Ok(row) => keyed.push((row_key(state, &row), row)),
                Err(e) => {
                    // Skipped as the mode says; paging goes on past its key.
                    let what = format!("snapshot read of {} key {key_text}", state.id);
                    let table = state.id.to_string();
                    self.cfg.event_processing_failure_handling_mode.on_error(e, &table, &what)?;
                }
            }
        }
        flight.last = last.map(|k| serde_json::json!(k));
        // With signal-row watermarks the high one comes later, in the stream.
        let later = matches!(at, RowsAt::Later);
        match at {
            RowsAt::Position(at) => flight.extra.at = Some(at),
            RowsAt::Gtids { high, .. } => flight.extra.high_gtids = Some(high),
            RowsAt::Later => {}
        }
        snap.rows_read(keyed)?;
        if !later && self.tx.is_none() {
            self.snapshot_passed()?;
        }
        Ok(())
    }

    /// Chunk `chunk`'s `SELECT` found its table gone (`table_gone`: skipped
    /// with a warning) or its columns changed (described again, and the
    /// chunk read again).
    pub(crate) fn snapshot_vanished(&mut self, chunk: u64, why: Vanished) {
        if let Some(snap) = &mut self.snap {
            snap.vanished(chunk, why);
        }
    }

    /// Whether streamed changes of table `id` are to be noted now (a
    /// chunk of it is open).
    pub(super) fn snapshot_noting(&self, id: &TableId) -> bool {
        self.snap
            .as_ref()
            .is_some_and(|s| s.flight().is_some() && s.table().is_some_and(|t| &t.state.id == id))
    }

    /// Keys ([`row_key`]) streamed changes touched in the open chunk's window.
    pub(super) fn snapshot_touched(&mut self, keys: Vec<String>) {
        if let Some(snap) = &mut self.snap {
            for k in keys {
                snap.changed(&k);
            }
        }
    }

    /// A DDL statement passed in the stream: the table may have changed
    /// under the open chunk (altered, truncated, dropped), so the chunk is
    /// dropped and the table described again before it is read again.
    pub(super) fn snapshot_ddl(&mut self) {
        if let Some(snap) = &mut self.snap {
            snap.describe_again();
        }
    }

    /// The stream is between transactions at `self.file`/`self.pos`: if
    /// that is at or past the open chunk's read view, the chunk closes
    /// here, its reads queued with a checkpoint after them.
    pub(super) fn snapshot_passed(&mut self) -> Result<(), PipelineError> {
        let Some(mut snap) = self.snap.take() else { return Ok(()) };
        let closed = self.chunk_closed(&mut snap);
        // Put back first: the checkpoint carries the snapshot's progress.
        self.snap = Some(snap);
        if closed? {
            let position = self.boundary();
            self.push_checkpoint(position);
        }
        Ok(())
    }

    /// Queues the open chunk's reads if its window closes here (`true`).
    fn chunk_closed(&mut self, snap: &mut Snapshot) -> Result<bool, PipelineError> {
        let Some(at) = snap.flight().and_then(|f| self.high_watermark_passed(&f.extra)) else {
            return Ok(false);
        };
        let Some(chunk) = snap.flight().map(|f| f.chunk) else { return Ok(false) };
        let Some(Closed { flight, rows }) = snap.watermark(chunk, Mark::High)? else {
            return Ok(false);
        };
        let Some(table) = snap.table() else { return Ok(false) };
        let n = rows.len();
        let ctx = RowCtx {
            state: &table.state,
            file: &at.file,
            pos: at.pos,
            row: 0,
            // Millisecond precision, as Debezium's snapshot reads have.
            ts_us: self.clock.now_us() / 1000 * 1000,
            server_id: self.server_id,
            gtid: None,
            tx_id: None,
            thread: None,
            prefix: &self.prefix,
            connector: self.flavor.connector(),
            source_schema: &self.source_schema,
            snapshot: SnapshotMarker::False,
            clock: self.clock.as_ref(),
        };
        for (i, row) in rows.into_iter().enumerate() {
            let ctx = RowCtx { snapshot: snap.read_marker(i, n, flight.more), ..ctx };
            let key = ctx.key(&row);
            self.pending.push_back(ctx.event(Op::Read, key, None, Some(row), vec![]));
        }
        let estimate = table.estimate;
        snap.chunk_queued(flight.more, flight.last, n, estimate);
        Ok(true)
    }

    /// Where the open chunk's window closes, if the stream (between
    /// transactions) has passed its high watermark: here, once every
    /// transaction of its high GTID set has streamed, or its read view's
    /// binlog position.
    fn high_watermark_passed(&self, chunk: &MyChunk) -> Option<BinlogAt> {
        let passed_gtids = match (&chunk.high_gtids, &self.gtids) {
            (Some(high), Gtids::Mysql(streamed)) => high.is_subset_of(streamed),
            _ => false,
        };
        if passed_gtids {
            return Some(BinlogAt { file: self.file.clone(), pos: self.pos });
        }
        let here = (file_no(&self.file), self.pos);
        chunk.at.clone().filter(|a| (file_no(&a.file), a.pos) <= here)
    }
}

/// One row of a chunk: its key as SQL literals (for paging), and the row
/// converted (or the conversion's error, which the failure mode decides
/// on; a row that does not fit its table at all is an error here).
fn read_row(
    state: &TableState,
    charsets: &[Option<String>],
    chunk: u64,
    n: usize,
    row: Vec<My>,
) -> Result<(Vec<String>, Result<Struct, PipelineError>), PipelineError> {
    let err = |what: String| {
        PipelineError::decode(format!("snapshot of {} chunk {chunk} row {n}: {what}", state.id))
    };
    if row.len() != state.columns.len() {
        return Err(err(format!("{} values for {} columns", row.len(), state.columns.len())));
    }
    let mut literals = Vec::with_capacity(state.key_idx.len());
    for &k in &state.key_idx {
        literals.push(
            key_literal(&state.types[k], charsets[k].as_deref(), &row[k])
                .map_err(|e| err(format!("key column `{}`: {e}", state.names[k])))?,
        );
    }
    let mut values = Vec::with_capacity(row.len());
    for (i, v) in row.into_iter().enumerate() {
        let name = &state.names[i];
        let v =
            selected_value(&state.types[i], v).map_err(|e| err(format!("column `{name}`: {e}")))?;
        match state.columns[i].convert(&BinlogValue::Value(v)) {
            Ok(v) => values.push(v),
            Err(e) => {
                let mut e = err(format!("column `{name}`: {e}"));
                e.kind = ErrorKind::Conversion;
                return Ok((literals, Err(e)));
            }
        }
    }
    let row = Struct::new(state.value_schema.clone(), values).map_err(|e| err(e.to_string()));
    Ok((literals, row))
}

/// What reconciles a row: its converted key, or the whole row when the
/// table has no primary key.
pub(super) fn row_key(state: &TableState, row: &Struct) -> String {
    if state.key_idx.is_empty() {
        format!("{:?}", row.values)
    } else {
        let key: Vec<_> = state.key_idx.iter().map(|&i| &row.values[i]).collect();
        format!("{key:?}")
    }
}

/// The chunk's `SELECT`: keyset pagination on the primary key after
/// `last` (SQL literals), only rows meeting `filter` (a signal's
/// additional condition), one row more than a chunk to tell whether the
/// table goes on; a keyless table whole.
fn chunk_select(
    state: &TableState,
    last: Option<&[String]>,
    filter: Option<&str>,
    chunk_size: usize,
) -> Result<String, PipelineError> {
    let cols = state
        .names
        .iter()
        .zip(&state.types)
        .map(|(n, t)| select_expr(t, &quote_ident(n)))
        .collect::<Vec<_>>()
        .join(", ");
    let from = format!("{}.{}", quote_ident(&state.id.namespace), quote_ident(&state.id.table));
    let keys: Vec<String> = state.key_idx.iter().map(|&i| quote_ident(&state.names[i])).collect();
    let mut conds = Vec::new();
    match last {
        None => {}
        Some(values) if values.len() == keys.len() => {
            // (k1, k2) > (v1, v2), spelled out so every server uses the
            // key's index for it.
            let mut alts = Vec::new();
            for i in 0..keys.len() {
                let mut parts: Vec<String> =
                    (0..i).map(|j| format!("{} = {}", keys[j], values[j])).collect();
                parts.push(format!("{} > {}", keys[i], values[i]));
                alts.push(format!("({})", parts.join(" AND ")));
            }
            conds.push(format!("({})", alts.join(" OR ")));
        }
        Some(_) => {
            return Err(PipelineError::internal(format!(
                "{}: stored snapshot key does not match the primary key ({}); the key changed since: run `logtap reset` to snapshot again",
                state.id,
                keys.join(", ")
            )))
        }
    }
    if let Some(f) = filter {
        conds.push(format!("({f})"));
    }
    let filter =
        if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
    if keys.is_empty() {
        return Ok(format!("SELECT {cols} FROM {from}{filter}"));
    }
    let limit = chunk_size + 1;
    Ok(format!("SELECT {cols} FROM {from}{filter} ORDER BY {} LIMIT {limit}", keys.join(", ")))
}
