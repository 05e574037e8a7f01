//! The snapshot half of the PostgreSQL state machine (ARCHITECTURE.md, "Snapshots"):
//! which chunk to read next, what streamed changes touch while a chunk is
//! open, and the rows to emit as reads when the chunk's high watermark
//! passes in the stream. No IO: the driver (`source.rs`) asks
//! [`PgMachine::snapshot_step`] what to do, runs it (`snapshot.rs` reads
//! chunks between watermarks), and hands back what it got.
//!
//! Every table, the initial snapshot included, is read by the same
//! DBLog chunks on the primary key, so no transaction or lock is held
//! across chunks and an interrupted snapshot resumes at its next chunk:
//! the progress (tables left, last key read) travels in every checkpoint
//! the machine yields, and changes only when a chunk's reads are queued,
//! so a stored checkpoint never claims rows that Kafka has not
//! acknowledged.
//!
//! Keys are compared as the server's text output of the key columns (what
//! pgoutput sends and what the chunk's simple-query `SELECT` returns). A
//! table without a primary key is paged by `ctid` and reconciled on the
//! whole row: a read row equal to a row changed inside its chunk's window
//! is not sent (two identical rows in a keyless table are
//! indistinguishable to any consumer).

use super::rows::key_of;
use super::{Need, PgMachine, TableState};
use crate::catalog::SnapshotTable;
use crate::snapshot::{
    parse_signal, parse_signal_row, Signal, WATERMARK_PREFIX, WINDOW_CLOSE, WINDOW_OPEN,
};
use crate::snapshot::{parse_watermark, quote_ident, quote_literal, TextRow};
use logtap_core::chunked::{on_signal, ChunkedSnapshot, Closed, Next, SignalAction};
use logtap_core::chunks::{ChunkRequest, SnapStep, Vanished};
use logtap_core::dblog::Mark;
use logtap_core::{Lsn, Op, PipelineError, SnapshotProgress, SourceItem, TableId};
use logtap_pgoutput::{LogicalMessage, TupleData, TupleValue};

/// A running snapshot: the shared engine over this source's tables,
/// text rows and chunk state.
pub(crate) type Snapshot = ChunkedSnapshot<SnapTable, TextRow, TextRow, PgChunk>;

/// The table being read.
pub(crate) struct SnapTable {
    id: TableId,
    state: TableState,
    /// Column names, in the order the chunk's `SELECT` returns them.
    columns: Vec<String>,
    /// The primary key: (column, its SQL type, its index in `columns`).
    /// Empty: paged by `ctid`, which the `SELECT` returns first.
    key: Vec<(String, String, usize)>,
    estimate: i64,
}

/// What a chunk in flight carries besides the engine's part.
#[derive(Default)]
pub(crate) struct PgChunk {
    /// A change in the window whose key could not be told (a column
    /// renamed, an unchanged TOAST value in a keyless row): the chunk is
    /// read again instead of guessing.
    redo: bool,
    /// On a standby: the replay position read after the chunk's `SELECT`,
    /// its high watermark (see [`crate::snapshot::Watermarks::Replay`]).
    replayed: Option<u64>,
}

/// What a snapshot started later (by a signal) needs.
#[derive(Debug, Clone)]
pub(crate) struct SnapSetup {
    pub slot: String,
    pub run: u64,
    pub chunk_size: u32,
    /// Chunks are numbered across the snapshots of a run, so a late
    /// watermark of a stopped snapshot's chunk is never another's.
    pub next_chunk: u64,
    /// `[snapshot] signal_data_collection`: its inserted rows are signals
    /// (and, on PostgreSQL 13, the watermarks).
    pub signal_table: Option<TableId>,
    /// The source is a standby: nothing is written, a chunk's window opens
    /// when it is requested and closes where the stream passes the replay
    /// position read after its `SELECT` ([`PgMachine::snapshot_passed`]).
    pub replay: bool,
}

impl PgMachine {
    /// Enables snapshots for this start (the watermarks' slot and run, the
    /// chunk size), so a signal can start one.
    pub(crate) fn snapshot_setup(&mut self, setup: SnapSetup) {
        self.snap_setup = Some(setup);
    }

    /// Starts (or resumes) a snapshot at `progress`.
    pub(crate) fn start_snapshot(&mut self, progress: SnapshotProgress) {
        if let Some(s) = &self.snap_setup {
            self.snap = Some(Snapshot::new(s.chunk_size, progress));
        }
    }

    /// The watermark run of this start, when snapshots are possible.
    pub(crate) fn snapshot_run(&self) -> Option<u64> {
        self.snap_setup.as_ref().map(|s| s.run)
    }

    /// Whether chunks close at a standby's replay position (nothing written).
    pub(crate) fn snapshot_replay(&self) -> bool {
        self.snap_setup.as_ref().is_some_and(|s| s.replay)
    }

    /// No snapshot, or a finished one whose last checkpoint is queued.
    pub(crate) fn snapshot_idle(&self) -> bool {
        self.snap.as_ref().is_none_or(Snapshot::idle)
    }

    /// Whether a snapshot is under way (the driver then needs its chunk reader).
    pub(crate) fn snapshot_running(&self) -> bool {
        self.snap.as_ref().is_some_and(Snapshot::running)
    }

    /// A signal message (`logtap snapshot`): `execute-snapshot` adds its
    /// tables to the running snapshot, or starts an incremental one;
    /// `stop-snapshot` ends the running one. Signals for another slot, and
    /// tables this source does not capture, are left alone (with a warning).
    pub(super) fn snapshot_signal(&mut self, lsn: u64, msg: &LogicalMessage) {
        let Some(setup) = &self.snap_setup else { return };
        if let Some(signal) = parse_signal(&setup.slot, &msg.content) {
            self.apply_signal(lsn, signal);
        }
    }

    /// Whether relation `rel` is the signal table.
    pub(super) fn is_signal_table(&self, rel: u32) -> bool {
        let Some(signal) = self.snap_setup.as_ref().and_then(|s| s.signal_table.as_ref()) else {
            return false;
        };
        self.tables.get(&rel).is_some_and(|t| &t.id == signal)
    }

    /// A row inserted into the signal table: a watermark (Debezium's
    /// `snapshot-window-open` / `-close`, written by this source on servers
    /// without logical decoding messages) or a signal.
    pub(super) fn signal_row(
        &mut self,
        lsn: u64,
        rel: u32,
        row: &TupleData,
    ) -> Result<(), PipelineError> {
        let Some(table) = self.tables.get(&rel) else { return Ok(()) };
        let text = |name: &str| {
            let at = table.columns.iter().position(|c| c.name == name)?;
            match row.0.get(at)? {
                TupleValue::Text(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            }
        };
        let (id, kind, data) = (text("id"), text("type"), text("data"));
        let Some(kind) = kind else {
            tracing::warn!(table = %table.id, "a signal row without a type: ignored");
            return Ok(());
        };
        if kind == WINDOW_OPEN || kind == WINDOW_CLOSE {
            // id `<run>/<chunk>/<mark>`, data the slot: the message form.
            let content = format!("{}/{}", data.unwrap_or_default(), id.unwrap_or_default());
            return self.snapshot_watermark(lsn, content.as_bytes());
        }
        if let Some(signal) = parse_signal_row(&kind, data.as_deref()) {
            self.apply_signal(lsn, signal);
        }
        Ok(())
    }

    fn apply_signal(&mut self, lsn: u64, signal: Signal) {
        let running = self.snap.as_mut().and_then(Snapshot::running_progress);
        let captures = |s: &str, n: &str| self.cfg.captures(s, n);
        let at = Lsn(lsn).to_string();
        match on_signal(running, signal, captures, "schema.table", &at) {
            Some(SignalAction::Start(p)) => self.start_snapshot(p),
            Some(SignalAction::Stop) => self.snap = None,
            None => {}
        }
    }

    /// The progress the next checkpoint carries: `None` when no snapshot
    /// runs or it has finished.
    pub(super) fn snapshot_progress(&mut self) -> Option<SnapshotProgress> {
        self.snap.as_mut()?.checkpoint_progress()
    }

    /// Whether a snapshot was started, has read every table, and a
    /// checkpoint saying so is queued.
    #[cfg(test)]
    pub(crate) fn snapshot_finished(&self) -> bool {
        self.snap.as_ref().is_some_and(Snapshot::idle)
    }

    /// See [`SnapStep`]. A chunk returned here is begun: its watermarks are
    /// awaited from now on.
    pub(crate) fn snapshot_step(&mut self) -> Result<SnapStep, PipelineError> {
        let (Some(snap), Some(setup)) = (&mut self.snap, &mut self.snap_setup) else {
            return Ok(SnapStep::Idle);
        };
        let (select, check) = match snap.next()? {
            Next::Idle => return Ok(SnapStep::Idle),
            Next::Describe(id) => return Ok(SnapStep::Describe(id)),
            Next::Chunk { table, last, filter } => {
                let last: Option<TextRow> = match last {
                    None => None,
                    Some(v) => Some(serde_json::from_value(v.clone()).map_err(|e| {
                        PipelineError::internal(format!(
                            "stored snapshot progress of {}: last key {v} is not a list of texts: {e}",
                            table.id
                        ))
                    })?),
                };
                let select = chunk_select(table, last.as_deref(), filter, snap.chunk_size())?;
                let id = &table.id;
                let from = format!("{}.{}", quote_ident(&id.namespace), quote_ident(&id.table));
                (select, Vanished::condition_check(&from, filter))
            }
        };
        let chunk = setup.next_chunk;
        setup.next_chunk += 1;
        // On a standby the window opens now, before the SELECT's snapshot
        // is taken: every transaction that streams from here on is in it.
        snap.begin(chunk, setup.replay, PgChunk::default())?;
        Ok(SnapStep::Chunk(ChunkRequest { chunk, select, check }))
    }

    /// The answer to [`SnapStep::Describe`] (`None`: the table is gone, and
    /// is skipped with a warning), or a catalog question first.
    pub(crate) fn snapshot_table_read(
        &mut self,
        found: Option<SnapshotTable>,
    ) -> Result<Option<Need>, PipelineError> {
        let Some(found) = found else {
            if let Some(snap) = &mut self.snap {
                snap.gone();
            }
            return Ok(None);
        };
        if let Some(need) = self.relation_need(&found.relation) {
            return Ok(Some(need));
        }
        let state = self.table_state(&found.relation)?;
        let columns: Vec<String> = found.relation.columns.iter().map(|c| c.name.clone()).collect();
        let key = found
            .key
            .iter()
            .map(|(name, ty)| {
                let at = columns.iter().position(|c| c == name).ok_or_else(|| {
                    PipelineError::internal(format!(
                        "{}: key column {name} is not a published column",
                        state.id
                    ))
                })?;
                Ok((name.clone(), ty.clone(), at))
            })
            .collect::<Result<Vec<_>, PipelineError>>()?;
        if key.is_empty() {
            tracing::warn!(table = %state.id, "no primary key: snapshotting by ctid ranges, reconciled on whole rows");
        }
        if let Some(snap) = &mut self.snap {
            // reltuples is -1 for a table never vacuumed or analyzed.
            let estimate = u64::try_from(found.estimate).ok();
            let id = state.id.clone();
            let table = SnapTable { id: id.clone(), state, columns, key, estimate: found.estimate };
            snap.described(table, &id, estimate);
        }
        Ok(None)
    }

    /// The rows of chunk `chunk`, as the `SELECT` returned them, and on a
    /// standby the replay position read after it (the chunk closes at once
    /// if the stream is already past it between transactions).
    pub(crate) fn snapshot_rows(
        &mut self,
        chunk: u64,
        rows: Vec<TextRow>,
        replayed: Option<u64>,
    ) -> Result<(), PipelineError> {
        self.snapshot_rows_read(chunk, rows, replayed)?;
        if replayed.is_some() && self.tx.is_none() {
            let at = self.last_checkpoint;
            if self.snapshot_passed(at)? {
                self.checkpoint(at);
            }
        }
        Ok(())
    }

    fn snapshot_rows_read(
        &mut self,
        chunk: u64,
        mut rows: Vec<TextRow>,
        replayed: Option<u64>,
    ) -> Result<(), PipelineError> {
        let Some(snap) = &mut self.snap else { return Ok(()) };
        let size = snap.chunk_size();
        let Some((flight, table)) = snap.open(chunk) else { return Ok(()) };
        flight.more = rows.len() > size;
        flight.extra.replayed = replayed;
        rows.truncate(size);
        let keyless = table.key.is_empty();
        let mut last = None;
        let keyed: Vec<(TextRow, TextRow)> = rows
            .into_iter()
            .map(|mut row| {
                if keyless {
                    let ctid = row.remove(0);
                    last = Some(vec![ctid]);
                    (row.clone(), row)
                } else {
                    let key: TextRow = table.key.iter().map(|(_, _, i)| row[*i].clone()).collect();
                    last = Some(key.clone());
                    (key, row)
                }
            })
            .collect();
        flight.last = last.map(|k| serde_json::json!(k));
        snap.rows_read(keyed)
    }

    /// Chunk `chunk`'s `SELECT` found its table gone (`table_gone`: skipped
    /// with a warning) or its columns changed (described again, and the
    /// chunk read again).
    pub(crate) fn snapshot_vanished(&mut self, chunk: u64, why: Vanished) {
        if let Some(snap) = &mut self.snap {
            snap.vanished(chunk, why);
        }
    }

    /// A streamed change of relation `rel` with these tuples (old and/or
    /// new): notes the keys it touches in the open chunk's window.
    pub(super) fn snapshot_note(&mut self, rel: u32, tuples: &[&TupleData]) {
        let Some(snap) = &mut self.snap else { return };
        let Some(chunk) = snap.flight().map(|f| f.chunk) else { return };
        let Some((flight, table)) = snap.open(chunk) else { return };
        let Some(stream) = self.tables.get(&rel) else { return };
        if stream.id != table.id {
            return;
        }
        let names: Vec<&str> = if table.key.is_empty() {
            table.columns.iter().map(String::as_str).collect()
        } else {
            table.key.iter().map(|(n, _, _)| n.as_str()).collect()
        };
        let mut keys = Vec::with_capacity(tuples.len());
        for tuple in tuples {
            let key: Option<TextRow> = names
                .iter()
                .map(|n| {
                    let at = stream.columns.iter().position(|c| c.name == *n)?;
                    match tuple.0.get(at)? {
                        TupleValue::Text(b) => Some(Some(String::from_utf8_lossy(b).into_owned())),
                        TupleValue::Null => Some(None),
                        _ => None,
                    }
                })
                .collect();
            match key {
                Some(k) => keys.push(k),
                None => flight.extra.redo = true,
            }
        }
        for k in &keys {
            snap.changed(k);
        }
    }

    /// A TRUNCATE of relation `rel`: no row read before it may be sent.
    pub(super) fn snapshot_truncated(&mut self, rel: u32) {
        let Some(snap) = &mut self.snap else { return };
        let Some(table) = snap.table() else { return };
        if self.tables.get(&rel).is_some_and(|s| s.id == table.id) {
            snap.changed_all();
        }
    }

    /// A logical decoding message at `lsn`: a watermark of this run closes
    /// or opens the chunk's window; at the high one the chunk's rows that
    /// no change touched are queued as reads, here in the stream.
    pub(super) fn snapshot_message(
        &mut self,
        lsn: u64,
        msg: &LogicalMessage,
    ) -> Result<(), PipelineError> {
        if msg.prefix != WATERMARK_PREFIX {
            return Ok(());
        }
        self.snapshot_watermark(lsn, &msg.content)
    }

    /// A watermark's content (`<slot>/<run>/<chunk>/<mark>`) at `lsn`.
    fn snapshot_watermark(&mut self, lsn: u64, content: &[u8]) -> Result<(), PipelineError> {
        let Some(setup) = &self.snap_setup else { return Ok(()) };
        match parse_watermark(&setup.slot, setup.run, content) {
            Some((chunk, mark)) => self.snapshot_mark(lsn, chunk, mark),
            None => Ok(()),
        }
    }

    /// On a standby: the stream is at `position` between transactions
    /// (every transaction committed below it has streamed, none above it
    /// has). If that is past the replay position read after the open
    /// chunk's `SELECT`, the chunk's high watermark is here: its reads are
    /// queued and `true` returned (the caller queues a checkpoint after
    /// them, for the progress).
    pub(super) fn snapshot_passed(&mut self, position: u64) -> Result<bool, PipelineError> {
        let Some(snap) = &self.snap else { return Ok(false) };
        let high = snap.flight().and_then(|f| f.extra.replayed.map(|h| (f.chunk, h)));
        match high {
            Some((chunk, h)) if position >= h => {
                self.snapshot_mark(h, chunk, Mark::High).map(|()| true)
            }
            _ => Ok(false),
        }
    }

    /// Watermark `mark` of chunk `chunk` at `lsn`: at the high one the
    /// chunk's rows no change touched are queued as reads.
    fn snapshot_mark(&mut self, lsn: u64, chunk: u64, mark: Mark) -> Result<(), PipelineError> {
        let Some(mut snap) = self.snap.take() else { return Ok(()) };
        let result = self.chunk_closed(&mut snap, lsn, chunk, mark);
        self.snap = Some(snap);
        result
    }

    fn chunk_closed(
        &mut self,
        snap: &mut Snapshot,
        lsn: u64,
        chunk: u64,
        mark: Mark,
    ) -> Result<(), PipelineError> {
        let Some(Closed { flight, rows }) = snap.watermark(chunk, mark)? else { return Ok(()) };
        let Some(table) = snap.table() else { return Ok(()) };
        if flight.extra.redo {
            tracing::debug!(table = %table.id, chunk, "a change in the chunk's window had no readable key: reading the chunk again");
            return Ok(());
        }
        let n = rows.len();
        for (i, row) in rows.into_iter().enumerate() {
            let marker = snap.read_marker(i, n, flight.more);
            let tuple = TupleData(
                row.into_iter()
                    .map(|v| v.map_or(TupleValue::Null, |t| TupleValue::Text(t.into_bytes())))
                    .collect(),
            );
            let after = match self.tuple(&table.state, &tuple, lsn) {
                Ok(after) => after,
                Err(e) => {
                    // Skipped as the mode says; the chunk's progress passes it.
                    let what = format!("snapshot read of {} at LSN {}", table.id, Lsn(lsn));
                    self.cfg.event_processing_failure_handling_mode.on_error(
                        e,
                        &table.id.to_string(),
                        &what,
                    )?;
                    continue;
                }
            };
            let key = key_of(&table.state, &after);
            let ev =
                self.event(&table.state, Op::Read, key, None, Some(after), lsn, vec![], marker);
            self.pending.push_back(SourceItem::Change(Box::new(ev)));
        }
        let estimate = table.estimate;
        snap.chunk_queued(flight.more, flight.last, n, estimate);
        Ok(())
    }
}

/// The chunk's `SELECT`: keyset pagination on the primary key after
/// `last` (its text values as literals cast to the key's types), or on
/// `ctid` for a keyless table, and only rows meeting `filter` (a signal's
/// additional condition, as written); one row more than a chunk, to tell
/// whether the table goes on.
fn chunk_select(
    table: &SnapTable,
    last: Option<&[Option<String>]>,
    filter: Option<&str>,
    chunk_size: usize,
) -> Result<String, PipelineError> {
    let cols = table.columns.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ");
    let from = format!("{}.{}", quote_ident(&table.id.namespace), quote_ident(&table.id.table));
    let limit = chunk_size + 1;
    let literal = |v: &Option<String>| {
        v.as_deref().map(quote_literal).ok_or_else(|| {
            PipelineError::internal(format!("{}: stored snapshot key has a null", table.id))
        })
    };
    let mut conds = Vec::new();
    let (select, order) = if table.key.is_empty() {
        match last {
            Some([ctid]) => conds.push(format!("ctid > {}::tid", literal(ctid)?)),
            Some(_) => {
                return Err(PipelineError::internal(format!(
                    "{}: stored snapshot key is not a ctid",
                    table.id
                )))
            }
            None => {}
        }
        (format!("ctid, {cols}"), "ctid".to_string())
    } else {
        let keys = table.key.iter().map(|(n, _, _)| quote_ident(n)).collect::<Vec<_>>().join(", ");
        match last {
            None => {}
            Some(values) if values.len() == table.key.len() => {
                let lits = table
                    .key
                    .iter()
                    .zip(values)
                    .map(|((_, ty, _), v)| Ok(format!("{}::{ty}", literal(v)?)))
                    .collect::<Result<Vec<_>, PipelineError>>()?
                    .join(", ");
                conds.push(format!("({keys}) > ({lits})"));
            }
            Some(_) => {
                return Err(PipelineError::internal(format!(
                    "{}: stored snapshot key does not match the primary key ({keys}); the key changed since: run `logtap reset` to snapshot again",
                    table.id
                )))
            }
        }
        (cols, keys)
    };
    if let Some(f) = filter {
        conds.push(format!("({f})"));
    }
    let filter =
        if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
    Ok(format!("SELECT {select} FROM {from}{filter} ORDER BY {order} LIMIT {limit}"))
}
