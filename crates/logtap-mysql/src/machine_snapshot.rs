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

use super::{BinlogMachine, Gtids, RowCtx, TableState};
use crate::catalog::TableCatalog;
use crate::types::{declared_type, key_literal, select_expr, selected_value};
use crate::types::{ColumnDef, TableColumns};
use logtap_binlog::MysqlGtidSet;
use logtap_core::chunks::Vanished;
use logtap_core::dblog::{parse_watermark_id, Mark, Reconciler, Seen, WINDOW_CLOSE, WINDOW_OPEN};
use logtap_core::event::{now_us, SnapshotMarker};
use logtap_core::schema::Struct;
use logtap_core::snapshot::{parse_signal_row, Signal};
use logtap_core::{ErrorKind, Op, PipelineError, SnapshotProgress, TableId};
use mysql_common::binlog::value::BinlogValue;
use mysql_common::value::Value as My;

/// A running snapshot.
pub(crate) struct Snapshot {
    chunk_size: u32,
    progress: SnapshotProgress,
    rec: Reconciler<String, Struct>,
    table: Option<SnapTable>,
    in_flight: Option<InFlight>,
    /// Every table is read; the checkpoints from here on say so.
    done: bool,
    /// A checkpoint saying so is queued, after the last reads.
    done_checkpoint: bool,
}

/// The table being read.
struct SnapTable {
    state: TableState,
    /// Each column's character set (for key literals).
    charsets: Vec<Option<String>>,
    estimate: u64,
}

struct InFlight {
    chunk: u64,
    /// The stream's position when the window opened.
    opened_at: (u64, u64),
    /// More rows follow this chunk in the table.
    more: bool,
    /// The key of the chunk's last row, as SQL literals.
    last: Option<Vec<String>>,
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

/// What the driver should do for the snapshot now.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SnapStep {
    /// Nothing (no snapshot, a chunk in flight, inside a transaction, or
    /// all read).
    Idle,
    /// Read this table's catalog and estimate and give them to
    /// [`BinlogMachine::snapshot_table_read`].
    Describe(TableId),
    /// Read this chunk (`snapshot.rs`).
    Chunk(ChunkRequest),
}

/// Read one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkRequest {
    pub chunk: u64,
    pub select: String,
    /// The signal's condition alone on the table (see
    /// [`Vanished::condition_check`]), run when the `SELECT` fails.
    pub check: Option<String>,
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
        match parse_signal_row(&row.kind, row.data.as_deref()) {
            Some(Signal::Execute(tables, conditions)) => {
                let mut add = Vec::new();
                for t in tables {
                    if t.split_once('.').is_some_and(|(d, n)| self.cfg.captures(d, n)) {
                        add.push(t);
                    } else {
                        tracing::warn!(table = %t, at = %at, "execute-snapshot signal for a table this source does not capture (write it as db.table): skipped");
                    }
                }
                let running = self.snap.as_mut().filter(|s| !s.done).map(|s| &mut s.progress);
                if let Some(p) = Signal::execute(running, add, conditions) {
                    tracing::info!(tables = ?p.pending_tables, conditions = ?p.conditions, at = %at, "execute-snapshot signal: incremental snapshot");
                    self.start_snapshot(p, chunk_size);
                }
            }
            Some(Signal::Stop) if self.snapshot_running() => {
                tracing::info!(at = %at, "stop-snapshot signal: the snapshot ends here");
                self.snap = None;
            }
            Some(Signal::Stop) | None => {}
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
        let Some(flight) = snap.in_flight.as_mut().filter(|f| f.chunk == chunk) else {
            return Ok(());
        };
        match mark {
            Mark::Low => {
                snap.rec
                    .watermark(chunk, Mark::Low)
                    .map_err(|e| PipelineError::internal(format!("snapshot: {e}")))?;
            }
            Mark::High => flight.at = Some(BinlogAt { file, pos: event_start }),
        }
        Ok(())
    }

    /// Starts (or resumes) a snapshot at `progress`, `chunk_size` rows a chunk.
    pub(crate) fn start_snapshot(&mut self, progress: SnapshotProgress, chunk_size: u32) {
        let done = progress.pending_tables.is_empty();
        self.snap = Some(Snapshot {
            chunk_size: chunk_size.max(1),
            progress,
            rec: Reconciler::new(),
            table: None,
            in_flight: None,
            done,
            done_checkpoint: false,
        });
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
        self.snap.as_ref().is_some_and(|s| !s.done)
    }

    /// No snapshot, or a finished one whose last checkpoint is queued.
    pub(crate) fn snapshot_idle(&self) -> bool {
        self.snap.as_ref().is_none_or(|s| s.done_checkpoint)
    }

    /// The progress the next checkpoint carries: `None` when no snapshot
    /// runs or it has finished.
    pub(super) fn snapshot_progress(&mut self) -> Option<SnapshotProgress> {
        let snap = self.snap.as_mut()?;
        if snap.done {
            snap.done_checkpoint = true;
            return None;
        }
        Some(snap.progress.clone())
    }

    /// See [`SnapStep`]. A chunk returned here is begun: its window is open.
    pub(crate) fn snapshot_step(&mut self) -> Result<SnapStep, PipelineError> {
        if self.tx.is_some() {
            return Ok(SnapStep::Idle);
        }
        let at = (file_no(&self.file), self.pos);
        let Some(snap) = &mut self.snap else { return Ok(SnapStep::Idle) };
        // At most about one chunk's reads wait to be sent while the next
        // chunk is read (invariant 4: a chunk's rows can close at once,
        // faster than Kafka takes them).
        if snap.done || snap.in_flight.is_some() || self.pending.len() > snap.chunk_size as usize {
            return Ok(SnapStep::Idle);
        }
        let Some(table) = &snap.table else {
            let name = &snap.progress.pending_tables[0];
            let (db, table) = name.split_once('.').ok_or_else(|| {
                PipelineError::internal(format!("snapshot table `{name}` is not db.table"))
            })?;
            return Ok(SnapStep::Describe(TableId::new(db, table)));
        };
        let last: Option<Vec<String>> = match &snap.progress.last_key {
            None => None,
            Some(v) => Some(serde_json::from_value(v.clone()).map_err(|e| {
                PipelineError::internal(format!(
                    "stored snapshot progress of {}: last key {v} is not a list of SQL literals: {e}",
                    table.state.id
                ))
            })?),
        };
        let filter = snap.progress.conditions.get(&table.state.id.to_string()).map(String::as_str);
        let select = chunk_select(&table.state, last.as_deref(), filter, snap.chunk_size)?;
        let id = &table.state.id;
        let from = format!("{}.{}", quote_ident(&id.namespace), quote_ident(&id.table));
        let check = Vanished::condition_check(&from, filter);
        let chunk = self.next_chunk;
        self.next_chunk += 1;
        snap.rec.begin(chunk);
        let opens_now = self
            .snap_setup
            .as_ref()
            .is_none_or(|s| matches!(s.watermarks, Watermarks::ReadView | Watermarks::GtidSets));
        let opened_gtids = match &self.gtids {
            Gtids::Mysql(set) => Some(set.clone()),
            _ => None,
        };
        if opens_now {
            snap.rec
                .watermark(chunk, Mark::Low)
                .map_err(|e| PipelineError::internal(e.to_string()))?;
        }
        snap.in_flight = Some(InFlight {
            chunk,
            opened_at: at,
            more: false,
            last: None,
            at: None,
            opened_gtids,
            high_gtids: None,
        });
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
            tracing::warn!(table = %id, "table to snapshot no longer exists: skipped");
            self.snapshot_table_done();
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
        tracing::info!(table = %state.id, estimated_rows = estimate, resume_after = ?snap.progress.last_key, "snapshotting table");
        snap.progress.estimated_rows = Some(estimate).filter(|n| *n > 0);
        snap.table = Some(SnapTable { state, charsets, estimate });
        Ok(())
    }

    /// The first pending table is read (or gone): on to the next.
    fn snapshot_table_done(&mut self) {
        let Some(snap) = &mut self.snap else { return };
        snap.progress.pending_tables.remove(0);
        snap.table = None;
        if snap.progress.table_finished() {
            snap.done = true;
            tracing::info!(tables = snap.progress.tables_done, "snapshot finished");
        }
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
        let (Some(flight), Some(table)) = (&mut snap.in_flight, &snap.table) else {
            return Ok(());
        };
        if flight.chunk != chunk {
            return Ok(());
        }
        let behind = match &at {
            RowsAt::Position(at) => (file_no(&at.file), at.pos) < flight.opened_at,
            RowsAt::Gtids { low, .. } => {
                flight.opened_gtids.as_ref().is_some_and(|o| !o.is_subset_of(low))
            }
            RowsAt::Later => false,
        };
        if behind {
            // The stream was past the read view when the window opened:
            // changes the rows miss went out unnoted. Read it again.
            tracing::debug!(table = %table.state.id, chunk, snapshot_at = ?at, "the chunk's read view is behind the stream: reading it again");
            snap.in_flight = None;
            return Ok(());
        }
        flight.more = rows.len() > snap.chunk_size as usize && !table.state.key_idx.is_empty();
        let keep =
            if table.state.key_idx.is_empty() { rows.len() } else { snap.chunk_size as usize };
        let state = &table.state;
        let mut keyed = Vec::with_capacity(rows.len().min(keep));
        for (n, row) in rows.into_iter().take(keep).enumerate() {
            let err = |what: String| {
                PipelineError::decode(format!(
                    "snapshot of {} chunk {chunk} row {n}: {what}",
                    state.id
                ))
            };
            if row.len() != state.columns.len() {
                return Err(err(format!(
                    "{} values for {} columns",
                    row.len(),
                    state.columns.len()
                )));
            }
            let mut literals = Vec::with_capacity(state.key_idx.len());
            for &k in &state.key_idx {
                literals.push(
                    key_literal(&state.types[k], table.charsets[k].as_deref(), &row[k])
                        .map_err(|e| err(format!("key column `{}`: {e}", state.names[k])))?,
                );
            }
            let mut values = Vec::with_capacity(row.len());
            let mut bad = None;
            for (i, v) in row.into_iter().enumerate() {
                let name = &state.names[i];
                let v = selected_value(&state.types[i], v)
                    .map_err(|e| err(format!("column `{name}`: {e}")))?;
                match state.columns[i].convert(&BinlogValue::Value(v)) {
                    Ok(v) => values.push(v),
                    Err(e) => {
                        let mut e = err(format!("column `{name}`: {e}"));
                        e.kind = ErrorKind::Conversion;
                        bad = Some(e);
                        break;
                    }
                }
            }
            let key_text = literals.join(", ");
            if !literals.is_empty() {
                flight.last = Some(literals);
            }
            if let Some(e) = bad {
                // Skipped as the mode says; paging goes on past its key.
                let what = format!("snapshot read of {} key {key_text}", state.id);
                self.cfg.event_processing_failure_handling_mode.on_error(
                    e,
                    &state.id.to_string(),
                    &what,
                )?;
                continue;
            }
            let row =
                Struct::new(state.value_schema.clone(), values).map_err(|e| err(e.to_string()))?;
            keyed.push((row_key(state, &row), row));
        }
        snap.rec.rows_read(keyed).map_err(|e| PipelineError::internal(e.to_string()))?;
        // With signal-row watermarks the high one comes later, in the stream.
        match at {
            RowsAt::Position(at) => flight.at = Some(at),
            RowsAt::Gtids { high, .. } => flight.high_gtids = Some(high),
            RowsAt::Later => return Ok(()),
        }
        if self.tx.is_none() {
            self.snapshot_passed()?;
        }
        Ok(())
    }

    /// Chunk `chunk`'s `SELECT` found its table gone (`table_gone`: skipped
    /// with a warning) or its columns changed (described again, and the
    /// chunk read again).
    pub(crate) fn snapshot_vanished(&mut self, chunk: u64, why: Vanished) {
        let Some(snap) = &mut self.snap else { return };
        if snap.in_flight.as_ref().is_none_or(|f| f.chunk != chunk) {
            return;
        }
        snap.in_flight = None;
        snap.table = None;
        if why.drops_table(&mut snap.progress) {
            self.snapshot_table_done();
        }
    }

    /// Whether streamed changes of table `id` are to be noted now (a
    /// chunk of it is open).
    pub(super) fn snapshot_noting(&self, id: &TableId) -> bool {
        self.snap.as_ref().is_some_and(|s| {
            s.in_flight.is_some() && s.table.as_ref().is_some_and(|t| &t.state.id == id)
        })
    }

    /// Keys ([`row_key`]) streamed changes touched in the open chunk's window.
    pub(super) fn snapshot_touched(&mut self, keys: Vec<String>) {
        if let Some(snap) = &mut self.snap {
            for k in keys {
                snap.rec.changed(&k);
            }
        }
    }

    /// A DDL statement passed in the stream: the table may have changed
    /// under the open chunk (altered, truncated, dropped), so the chunk is
    /// dropped and the table described again before it is read again.
    pub(super) fn snapshot_ddl(&mut self) {
        let Some(snap) = &mut self.snap else { return };
        if snap.in_flight.take().is_some() || snap.table.is_some() {
            tracing::debug!("a DDL statement during the snapshot: describing the table again");
        }
        snap.table = None;
    }

    /// The stream is between transactions at `self.file`/`self.pos`: if
    /// that is at or past the open chunk's read view, the chunk closes
    /// here, its reads queued with a checkpoint after them.
    pub(super) fn snapshot_passed(&mut self) -> Result<(), PipelineError> {
        let here = (file_no(&self.file), self.pos);
        let Some(snap) = &mut self.snap else { return Ok(()) };
        let Some(flight) = &snap.in_flight else { return Ok(()) };
        let passed_gtids = match (&flight.high_gtids, &self.gtids) {
            (Some(high), Gtids::Mysql(streamed)) => high.is_subset_of(streamed),
            _ => false,
        };
        let at = if passed_gtids {
            BinlogAt { file: self.file.clone(), pos: self.pos }
        } else {
            let Some(at) = flight.at.as_ref().filter(|a| (file_no(&a.file), a.pos) <= here) else {
                return Ok(());
            };
            at.clone()
        };
        let rows = match snap.rec.watermark(flight.chunk, Mark::High) {
            Ok(Seen::Closed(rows)) => rows,
            Ok(Seen::Opened | Seen::Ignored) => return Ok(()),
            Err(e) => return Err(PipelineError::internal(format!("snapshot: {e}"))),
        };
        let (Some(flight), Some(table)) = (snap.in_flight.take(), &snap.table) else {
            return Ok(());
        };
        let n = rows.len();
        let ctx = RowCtx {
            state: &table.state,
            file: &at.file,
            pos: at.pos,
            row: 0,
            // Millisecond precision, as Debezium's snapshot reads have.
            ts_us: now_us() / 1000 * 1000,
            server_id: self.server_id,
            gtid: None,
            thread: None,
            prefix: &self.prefix,
            connector: self.flavor.connector(),
            source_schema: &self.source_schema,
            snapshot: SnapshotMarker::False,
        };
        for (i, (_, row)) in rows.into_iter().enumerate() {
            let ctx = RowCtx { snapshot: snap.progress.read_marker(i, n, flight.more), ..ctx };
            let key = ctx.key(&row);
            self.pending.push_back(ctx.event(Op::Read, key, None, Some(row), vec![]));
        }
        snap.progress.rows_done += n as u64;
        if flight.more {
            snap.progress.last_key = flight.last.map(|k| serde_json::json!(k));
        } else {
            tracing::info!(table = %table.state.id, rows = snap.progress.rows_done, estimated = table.estimate, "table snapshotted");
            self.snapshot_table_done();
        }
        let position = self.boundary();
        self.push_checkpoint(position);
        Ok(())
    }
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
    chunk_size: u32,
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
    let limit = u64::from(chunk_size) + 1;
    Ok(format!("SELECT {cols} FROM {from}{filter} ORDER BY {} LIMIT {limit}", keys.join(", ")))
}
