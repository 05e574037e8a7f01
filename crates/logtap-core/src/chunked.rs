//! The snapshot engine both sources share (ARCHITECTURE.md, "Snapshots"):
//! a DBLog snapshot read in chunks on the key, as a state without IO.
//!
//! What it decides is the same for every source: which table to describe
//! next, when a chunk may be requested, which chunk a report or watermark
//! belongs to, what a closed chunk's rows are (the reconciler's: those no
//! streamed change touched inside the window), how far the progress moves
//! once they are queued, and when the snapshot is done. What differs per
//! source stays with the source, as the type parameters:
//!
//! - `T`, the described table (its columns, key, estimate, how a chunk's
//!   `SELECT` is written);
//! - `K` and `R`, how a row is keyed for reconciliation and what a read row
//!   is (server text on PostgreSQL, converted values on MySQL/MariaDB);
//! - `X`, what a chunk in flight carries to find its high watermark (a
//!   standby's replay position, a binlog read view, GTID sets).
//!
//! The progress (tables left, last key read) moves only when a closed
//! chunk's reads are queued ([`ChunkedSnapshot::chunk_queued`]), so a
//! checkpoint never claims rows Kafka has not acknowledged (invariant 4).

use crate::chunks::Vanished;
use crate::dblog::{Mark, Reconciler, Seen};
use crate::event::SnapshotMarker;
use crate::snapshot::Signal;
use crate::{PipelineError, SnapshotProgress, TableId};
use std::hash::Hash;

/// A running snapshot (see the module documentation).
#[derive(Debug)]
pub struct ChunkedSnapshot<T, K, R, X> {
    chunk_size: u32,
    progress: SnapshotProgress,
    rec: Reconciler<K, R>,
    table: Option<T>,
    flight: Option<Flight<X>>,
    /// Every table is read; the checkpoints from here on say so.
    done: bool,
    /// A checkpoint saying so is queued, after the last reads.
    done_checkpoint: bool,
}

/// The chunk being read.
#[derive(Debug)]
pub struct Flight<X> {
    pub chunk: u64,
    /// More rows follow this chunk in the table.
    pub more: bool,
    /// The paging key of the chunk's last row, as stored in the progress.
    pub last: Option<serde_json::Value>,
    /// What the source needs to find the chunk's high watermark.
    pub extra: X,
}

/// What to do next (see [`ChunkedSnapshot::next`]).
#[derive(Debug)]
pub enum Next<'a, T> {
    /// Nothing: a chunk is in flight, or every table is read.
    Idle,
    /// Describe this table (`namespace.table` as pending) first.
    Describe(TableId),
    /// Read the next chunk of `table`, after `last` (the stored paging key,
    /// `None` at the table's start), only rows meeting `filter`.
    Chunk { table: &'a T, last: Option<&'a serde_json::Value>, filter: Option<&'a str> },
}

/// A chunk whose window closed: its rows to send as reads, in order.
#[derive(Debug)]
pub struct Closed<X, R> {
    pub flight: Flight<X>,
    pub rows: Vec<R>,
}

/// What a signal asks of the source's snapshot.
#[derive(Debug, PartialEq)]
pub enum SignalAction {
    /// Start an incremental snapshot at this progress.
    Start(SnapshotProgress),
    /// End the running snapshot here.
    Stop,
}

impl<T, K: Hash + Eq + Clone, R, X> ChunkedSnapshot<T, K, R, X> {
    /// A snapshot from `progress` (fresh: every table pending, no key).
    pub fn new(chunk_size: u32, progress: SnapshotProgress) -> Self {
        let done = progress.pending_tables.is_empty();
        ChunkedSnapshot {
            chunk_size: chunk_size.max(1),
            progress,
            rec: Reconciler::new(),
            table: None,
            flight: None,
            done,
            done_checkpoint: false,
        }
    }

    /// Rows a chunk sends (its `SELECT` asks for one more, to tell whether
    /// the table goes on).
    pub fn chunk_size(&self) -> usize {
        self.chunk_size as usize
    }

    /// Whether tables are left to read.
    pub fn running(&self) -> bool {
        !self.done
    }

    /// Finished, and a checkpoint saying so is queued.
    pub fn idle(&self) -> bool {
        self.done_checkpoint
    }

    /// The progress the next checkpoint carries: `None` once every table is
    /// read (and from then on the snapshot is idle).
    pub fn checkpoint_progress(&mut self) -> Option<SnapshotProgress> {
        if self.done {
            self.done_checkpoint = true;
            return None;
        }
        Some(self.progress.clone())
    }

    /// The progress while tables are left (a signal adds to it).
    pub fn running_progress(&mut self) -> Option<&mut SnapshotProgress> {
        (!self.done).then_some(&mut self.progress)
    }

    /// The table being read, once described.
    pub fn table(&self) -> Option<&T> {
        self.table.as_ref()
    }

    /// The chunk in flight.
    pub fn flight(&self) -> Option<&Flight<X>> {
        self.flight.as_ref()
    }

    /// Chunk `chunk`, if it is the one in flight, with its table.
    pub fn open(&mut self, chunk: u64) -> Option<(&mut Flight<X>, &T)> {
        match (&mut self.flight, &self.table) {
            (Some(f), Some(t)) if f.chunk == chunk => Some((f, t)),
            _ => None,
        }
    }

    /// See [`Next`]. A `Chunk` answer is begun with [`Self::begin`].
    pub fn next(&self) -> Result<Next<'_, T>, PipelineError> {
        if self.done || self.flight.is_some() {
            return Ok(Next::Idle);
        }
        let Some(table) = &self.table else {
            let name = &self.progress.pending_tables[0];
            let (ns, t) = name.split_once('.').ok_or_else(|| {
                PipelineError::internal(format!("snapshot table `{name}` is not qualified"))
            })?;
            return Ok(Next::Describe(TableId::new(ns, t)));
        };
        let filter =
            self.progress.pending_tables.first().and_then(|t| self.progress.conditions.get(t));
        Ok(Next::Chunk {
            table,
            last: self.progress.last_key.as_ref(),
            filter: filter.map(String::as_str),
        })
    }

    /// Chunk `chunk` is requested: its window opens now when `open_now`
    /// (else at its low watermark, in the stream).
    pub fn begin(&mut self, chunk: u64, open_now: bool, extra: X) -> Result<(), PipelineError> {
        self.rec.begin(chunk);
        if open_now {
            self.rec
                .watermark(chunk, Mark::Low)
                .map_err(|e| PipelineError::internal(e.to_string()))?;
        }
        self.flight = Some(Flight { chunk, more: false, last: None, extra });
        Ok(())
    }

    /// The first pending table is described as `table` (`id` and its
    /// estimated rows for the log and the progress).
    pub fn described(&mut self, table: T, id: &TableId, estimated_rows: Option<u64>) {
        self.progress.estimated_rows = estimated_rows.filter(|n| *n > 0);
        let estimate = self.progress.estimated_rows.map_or("unknown".into(), |n| n.to_string());
        let after = self.progress.last_key.as_ref().map_or("-".into(), ToString::to_string);
        tracing::info!(table = %id, estimated_rows = %estimate, resume_after = %after, "snapshotting table");
        self.table = Some(table);
    }

    /// The first pending table no longer exists: skipped with a warning.
    pub fn gone(&mut self) {
        if let Some(name) = self.progress.pending_tables.first() {
            tracing::warn!(table = %name, "table to snapshot no longer exists: skipped");
        }
        self.table_done();
    }

    /// The rows read for the chunk in flight, keyed.
    pub fn rows_read(&mut self, keyed: Vec<(K, R)>) -> Result<(), PipelineError> {
        self.rec.rows_read(keyed).map_err(|e| PipelineError::internal(e.to_string()))
    }

    /// The chunk in flight is dropped, to be read again.
    pub fn read_again(&mut self) {
        self.flight = None;
    }

    /// The table may have changed under the chunk (a DDL statement): the
    /// chunk is dropped and the table described again.
    pub fn describe_again(&mut self) {
        if self.flight.take().is_some() || self.table.is_some() {
            tracing::debug!("a DDL statement during the snapshot: describing the table again");
        }
        self.table = None;
    }

    /// Chunk `chunk`'s `SELECT` found its table gone (skipped) or its
    /// columns changed (described again, and the chunk read again).
    pub fn vanished(&mut self, chunk: u64, why: Vanished) {
        if self.flight.as_ref().is_none_or(|f| f.chunk != chunk) {
            return;
        }
        self.flight = None;
        self.table = None;
        if why.drops_table(&mut self.progress) {
            self.table_done();
        }
    }

    /// A streamed change touched `key` (inside the window, its read is not sent).
    pub fn changed(&mut self, key: &K) {
        self.rec.changed(key);
    }

    /// The table was truncated: no row read before it may be sent.
    pub fn changed_all(&mut self) {
        self.rec.changed_all();
    }

    /// Watermark `mark` of chunk `chunk`: at the high one the chunk closes
    /// and its rows no change touched are returned, with its flight.
    pub fn watermark(
        &mut self,
        chunk: u64,
        mark: Mark,
    ) -> Result<Option<Closed<X, R>>, PipelineError> {
        let rows = match self.rec.watermark(chunk, mark) {
            Ok(Seen::Closed(rows)) => rows,
            Ok(Seen::Opened | Seen::Ignored) => return Ok(None),
            Err(e) => return Err(PipelineError::internal(format!("snapshot: {e}"))),
        };
        let Some(flight) = self.flight.take().filter(|_| self.table.is_some()) else {
            return Ok(None);
        };
        Ok(Some(Closed { flight, rows: rows.into_iter().map(|(_, r)| r).collect() }))
    }

    /// Debezium's `source.snapshot` of read `i` of the `n` a chunk sends.
    pub fn read_marker(&self, i: usize, n: usize, more: bool) -> SnapshotMarker {
        self.progress.read_marker(i, n, more)
    }

    /// A closed chunk's `n` reads are queued: the progress passes them (on
    /// to its last key, or to the next table). `estimate` is for the log.
    pub fn chunk_queued(
        &mut self,
        more: bool,
        last: Option<serde_json::Value>,
        n: usize,
        estimate: impl std::fmt::Display,
    ) {
        self.progress.rows_done += n as u64;
        if more {
            self.progress.last_key = last;
        } else {
            let name = self.progress.pending_tables.first().cloned().unwrap_or_default();
            tracing::info!(table = %name, rows = self.progress.rows_done, estimated = %estimate, "table snapshotted");
            self.table_done();
        }
    }

    /// The first pending table is read (or gone): on to the next, or done.
    fn table_done(&mut self) {
        if !self.progress.pending_tables.is_empty() {
            self.progress.pending_tables.remove(0);
        }
        self.table = None;
        if self.progress.table_finished() {
            self.done = true;
            tracing::info!(
                tables = self.progress.tables_done,
                "snapshot finished: every table is read; its last reads are stored as done once Kafka acknowledges them"
            );
        }
    }
}

/// What a signal asks, for a source whose snapshot is `running` (its
/// progress, while tables are left): an `execute-snapshot` of tables the
/// source captures (`captures(namespace, table)`; others are skipped with
/// a warning naming `qualified`, the source's way to write a table) adds
/// them to the running snapshot or starts an incremental one; a
/// `stop-snapshot` ends the running one. `at` is the stream's position,
/// for the log.
pub fn on_signal(
    running: Option<&mut SnapshotProgress>,
    signal: Signal,
    captures: impl Fn(&str, &str) -> bool,
    qualified: &str,
    at: &str,
) -> Option<SignalAction> {
    match signal {
        Signal::Execute(tables, conditions) => {
            let add = skip_uncaptured(tables, captures, qualified, at);
            let p = Signal::execute(running, add, conditions)?;
            tracing::info!(tables = ?p.pending_tables, conditions = ?p.conditions, at = %at, "execute-snapshot signal: incremental snapshot");
            Some(SignalAction::Start(p))
        }
        Signal::Stop if running.is_some() => {
            tracing::info!(at = %at, "stop-snapshot signal: the snapshot ends here");
            Some(SignalAction::Stop)
        }
        Signal::Stop => None,
    }
}

fn skip_uncaptured(
    tables: Vec<String>,
    captures: impl Fn(&str, &str) -> bool,
    qualified: &str,
    at: &str,
) -> Vec<String> {
    let (add, skip): (Vec<String>, Vec<String>) =
        tables.into_iter().partition(|t| t.split_once('.').is_some_and(|(s, n)| captures(s, n)));
    for t in skip {
        tracing::warn!(table = %t, at = %at, "execute-snapshot signal for a table this source does not capture (write it as {qualified}): skipped");
    }
    add
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    type Snap = ChunkedSnapshot<&'static str, u32, u32, ()>;

    fn progress(tables: &[&str]) -> SnapshotProgress {
        SnapshotProgress {
            pending_tables: tables.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    fn chunk_of(s: &Snap) -> Option<Option<serde_json::Value>> {
        match s.next().unwrap() {
            Next::Chunk { last, .. } => Some(last.cloned()),
            _ => None,
        }
    }

    #[test]
    fn a_table_is_described_then_read_in_chunks_and_the_progress_moves_only_when_queued() {
        let mut s = Snap::new(2, progress(&["s.a", "s.b"]));
        assert!(matches!(s.next().unwrap(), Next::Describe(id) if id == TableId::new("s", "a")));
        s.described("a", &TableId::new("s", "a"), Some(10));
        assert_eq!(chunk_of(&s), Some(None));
        s.begin(1, true, ()).unwrap();
        assert!(matches!(s.next().unwrap(), Next::Idle), "one chunk at a time");
        s.open(1).unwrap().0.more = true;
        s.open(1).unwrap().0.last = Some(serde_json::json!([2]));
        s.rows_read(vec![(1, 10), (2, 20)]).unwrap();
        s.changed(&2);
        assert_eq!(s.checkpoint_progress().unwrap().last_key, None);
        let closed = s.watermark(1, Mark::High).unwrap().unwrap();
        assert_eq!(closed.rows, vec![10], "the changed key's read is not sent");
        assert_eq!(s.checkpoint_progress().unwrap().last_key, None, "not before it is queued");
        s.chunk_queued(closed.flight.more, closed.flight.last, 1, 10);
        assert_eq!(s.checkpoint_progress().unwrap().last_key, Some(serde_json::json!([2])));
        assert_eq!(chunk_of(&s), Some(Some(serde_json::json!([2]))));
        s.begin(2, true, ()).unwrap();
        s.rows_read(vec![(3, 30)]).unwrap();
        let closed = s.watermark(2, Mark::High).unwrap().unwrap();
        s.chunk_queued(closed.flight.more, closed.flight.last, 1, 10);
        let p = s.checkpoint_progress().unwrap();
        assert_eq!(
            (p.pending_tables, p.last_key, p.tables_done),
            (vec!["s.b".to_string()], None, 1)
        );
        assert!(matches!(s.next().unwrap(), Next::Describe(id) if id == TableId::new("s", "b")));
        s.gone();
        assert!(!s.running());
        assert!(!s.idle());
        assert_eq!(s.checkpoint_progress(), None);
        assert!(s.idle());
    }

    #[test]
    fn a_late_report_of_another_chunk_is_ignored_and_a_vanished_table_is_skipped() {
        let mut s = Snap::new(5, progress(&["s.a"]));
        s.described("a", &TableId::new("s", "a"), None);
        s.begin(7, true, ()).unwrap();
        assert!(s.open(6).is_none());
        s.vanished(6, Vanished::TableGone);
        assert!(s.running(), "a stale chunk's report changes nothing");
        s.vanished(7, Vanished::Altered);
        assert!(matches!(s.next().unwrap(), Next::Describe(_)), "altered: described again");
        s.described("a", &TableId::new("s", "a"), None);
        s.begin(8, true, ()).unwrap();
        s.vanished(8, Vanished::TableGone);
        assert!(!s.running());
    }

    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Drives a snapshot of `tables` (key → value) to its end, changing
    /// keys of the table being read inside each chunk's window as `changes`
    /// say (cycled), and sometimes altering it under the chunk. Returns
    /// what was read and what changed inside windows, per table.
    #[allow(clippy::type_complexity)]
    fn simulate(
        tables: &mut [BTreeMap<u32, u32>],
        changes: &[(bool, u32)],
        size: u32,
    ) -> (Vec<(usize, u32, u32)>, BTreeSet<(usize, u32)>, Vec<SnapshotProgress>) {
        let names: Vec<&str> = vec!["s.t0", "s.t1", "s.t2"];
        let mut s = ChunkedSnapshot::<usize, u32, (u32, u32), ()>::new(
            size,
            progress(&names[..tables.len()]),
        );
        let (mut reads, mut touched, mut checkpoints) = (Vec::new(), BTreeSet::new(), Vec::new());
        let (mut chunk, mut op) = (0u64, 0usize);
        let mut next_op = || {
            op += 1;
            changes.get(op % changes.len().max(1)).copied().unwrap_or((false, 0))
        };
        for _ in 0..10_000 {
            let (table, last) = match s.next().unwrap() {
                Next::Idle => break,
                Next::Describe(id) => {
                    let i = id.table.trim_start_matches('t').parse::<usize>().unwrap();
                    s.described(i, &id, Some(tables[i].len() as u64));
                    continue;
                }
                Next::Chunk { table, last, .. } => (*table, last.and_then(|v| v[0].as_u64())),
            };
            chunk += 1;
            s.begin(chunk, true, ()).unwrap();
            let (alter, key) = next_op();
            // A few alterations only: a table altered under every chunk is
            // never read, by design (each one reads the chunk again).
            if alter && key % 7 == 0 && chunk % 4 != 0 {
                s.vanished(chunk, Vanished::Altered);
                continue;
            }
            // A change in the window before the SELECT: the rows have it.
            let mut in_window = BTreeSet::new();
            *tables[table].entry(key % 40).or_default() += 1;
            s.changed(&(key % 40));
            touched.insert((table, key % 40));
            in_window.insert(key % 40);
            let after = last.map_or(0, |l| l as u32 + 1);
            let rows: Vec<(u32, u32)> = tables[table]
                .range(after..)
                .take(size as usize + 1)
                .map(|(k, v)| (*k, *v))
                .collect();
            let (flight, _) = s.open(chunk).unwrap();
            flight.more = rows.len() > size as usize;
            let sent: Vec<(u32, u32)> = rows.into_iter().take(size as usize).collect();
            flight.last = sent.last().map(|(k, _)| serde_json::json!([k]));
            s.rows_read(sent.iter().map(|r| (r.0, *r)).collect()).unwrap();
            // A change in the window after the SELECT.
            let (_, key) = next_op();
            *tables[table].entry(key % 40).or_default() += 1;
            s.changed(&(key % 40));
            touched.insert((table, key % 40));
            in_window.insert(key % 40);
            let closed = s.watermark(chunk, Mark::High).unwrap().unwrap();
            // The stream carries these keys' changes: their reads must not go out.
            assert!(
                closed.rows.iter().all(|(k, _)| !in_window.contains(k)),
                "a key changed in its window was read"
            );
            reads.extend(closed.rows.iter().map(|(k, v)| (table, *k, *v)));
            s.chunk_queued(closed.flight.more, closed.flight.last, closed.rows.len(), 0);
            checkpoints.extend(s.checkpoint_progress());
        }
        assert!(!s.running(), "the snapshot ends");
        (reads, touched, checkpoints)
    }

    proptest! {
        /// Every row no change touched is read, each once; no row whose key
        /// changed inside its chunk's window is (asserted per chunk in
        /// `simulate`); the progress only moves on.
        #[test]
        fn the_engine_reads_every_untouched_row_once_and_no_touched_one(
            tables in prop::collection::vec(prop::collection::btree_map(0u32..40, 0u32..100, 0..30), 1..4),
            changes in prop::collection::vec((any::<bool>(), any::<u32>()), 1..20),
            size in 1u32..8,
        ) {
            let initial = tables.clone();
            let mut tables = tables;
            let (reads, touched, checkpoints) = simulate(&mut tables, &changes, size);
            let mut seen = BTreeSet::new();
            for (t, k, _) in &reads {
                prop_assert!(seen.insert((*t, *k)), "table {} key {} read twice", t, k);
            }
            for (t, rows) in initial.iter().enumerate() {
                for k in rows.keys() {
                    if !touched.contains(&(t, *k)) {
                        prop_assert!(seen.contains(&(t, *k)), "table {} key {} never read", t, k);
                    }
                }
            }
            for w in checkpoints.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                prop_assert!(b.tables_done >= a.tables_done);
                if a.tables_done == b.tables_done {
                    prop_assert!(b.rows_done >= a.rows_done, "rows_done went back: {:?} → {:?}", a, b);
                }
            }
        }
    }

    #[test]
    fn signals_add_to_the_running_snapshot_start_one_or_stop_it() {
        let captures = |s: &str, _: &str| s == "s";
        let exec = |t: &[&str]| {
            Signal::Execute(t.iter().map(|t| t.to_string()).collect(), BTreeMap::new())
        };
        let started = on_signal(None, exec(&["s.a", "x.b"]), captures, "schema.table", "0/1");
        let Some(SignalAction::Start(p)) = started else { panic!("{started:?}") };
        assert_eq!((p.pending_tables, p.incremental), (vec!["s.a".to_string()], true));
        let mut running = progress(&["s.a"]);
        assert_eq!(on_signal(Some(&mut running), exec(&["s.c"]), captures, "", ""), None);
        assert_eq!(running.pending_tables, vec!["s.a", "s.c"]);
        assert_eq!(on_signal(None, exec(&["x.b"]), captures, "", ""), None);
        assert_eq!(
            on_signal(Some(&mut running), Signal::Stop, captures, "", ""),
            Some(SignalAction::Stop)
        );
        assert_eq!(on_signal(None, Signal::Stop, captures, "", ""), None);
    }
}
