//! The DBLog chunk reconciler (ARCHITECTURE.md, "Snapshots", invariant 5): how a
//! snapshot chunk read while the log keeps streaming joins the stream
//! without ever sending a row older than a change already sent.
//!
//! For each chunk the driver writes a low watermark into the log, selects
//! the chunk (keyset pagination on the primary key), then writes a high
//! watermark. The stream processor passes every change through as usual;
//! between the two watermarks it also notes the keys changes touch. When
//! the high watermark arrives in the log, the chunk's rows minus the
//! touched keys are emitted as reads, right there in the stream: a touched
//! key's newer state was (or will be, in log order) sent as a change, and
//! an untouched key's selected row is its state at the high watermark.
//!
//! Sans-IO: the driver feeds what the log says and what the select
//! returned; this type keeps the window and answers what to emit. It never
//! blocks and never reads a clock.

use std::collections::HashSet;
use std::hash::Hash;

/// Which side of a chunk a watermark marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Low,
    High,
}

/// Debezium's signal types of a chunk's window, for watermarks written as
/// signal-table rows.
pub const WINDOW_OPEN: &str = "snapshot-window-open";
pub const WINDOW_CLOSE: &str = "snapshot-window-close";

/// A watermark's id: `<run>/<chunk>/<low|high>`, `run` in hex (new at every
/// start, so an earlier start's watermark is never taken for this one's);
/// at most 42 characters, the width of Debezium's signal table id.
pub fn watermark_id(run: u64, chunk: u64, mark: Mark) -> String {
    let m = match mark {
        Mark::Low => "low",
        Mark::High => "high",
    };
    format!("{run:x}/{chunk}/{m}")
}

/// The chunk and mark of a [`watermark_id`] of run `run`; `None` for
/// another run's or anything else.
pub fn parse_watermark_id(run: u64, id: &str) -> Option<(u64, Mark)> {
    let mut parts = id.split('/');
    let (r, chunk, mark) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || u64::from_str_radix(r, 16).ok()? != run {
        return None;
    }
    let mark = match mark {
        "low" => Mark::Low,
        "high" => Mark::High,
        _ => return None,
    };
    Some((chunk.parse().ok()?, mark))
}

/// What a watermark seen in the log meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen<K, R> {
    /// The low watermark of the open chunk: keys are noted from here.
    Opened,
    /// The high watermark of the open chunk: these rows are emitted now, as
    /// reads, before anything later in the log.
    Closed(Vec<(K, R)>),
    /// A watermark of no open chunk (one written before a restart, or by
    /// another logtap on the same server): nothing to do.
    Ignored,
}

/// A watermark arrived in an order the algorithm does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DblogError {
    #[error("chunk {chunk}: high watermark before its low watermark")]
    HighBeforeLow { chunk: u64 },
    #[error("chunk {chunk}: high watermark reached before the chunk's rows were read")]
    RowsMissing { chunk: u64 },
    #[error("chunk {chunk}: rows given twice")]
    RowsTwice { chunk: u64 },
}

#[derive(Debug)]
struct Window<K, R> {
    chunk: u64,
    low_seen: bool,
    touched: HashSet<K>,
    all_touched: bool,
    rows: Option<Vec<(K, R)>>,
}

/// See the module documentation. One chunk is open at a time.
#[derive(Debug)]
pub struct Reconciler<K, R> {
    window: Option<Window<K, R>>,
}

impl<K, R> Default for Reconciler<K, R> {
    fn default() -> Self {
        Reconciler { window: None }
    }
}

impl<K: Hash + Eq + Clone, R> Reconciler<K, R> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The driver is about to write chunk `chunk`'s low watermark. A chunk
    /// still open is abandoned (its watermarks will be ignored): the driver
    /// starts it again, nothing of it was emitted.
    pub fn begin(&mut self, chunk: u64) {
        self.window = Some(Window {
            chunk,
            low_seen: false,
            touched: HashSet::new(),
            all_touched: false,
            rows: None,
        });
    }

    /// Whether a chunk is open (begun and not yet closed).
    pub fn is_open(&self) -> bool {
        self.window.is_some()
    }

    /// The rows the chunk's select returned, in key order. They may arrive
    /// before or after the low watermark is seen in the log (the select
    /// ran after the watermark was written, but the log may lag), never
    /// after the high watermark.
    pub fn rows_read(&mut self, rows: Vec<(K, R)>) -> Result<(), DblogError> {
        let Some(w) = &mut self.window else { return Ok(()) };
        if w.rows.is_some() {
            return Err(DblogError::RowsTwice { chunk: w.chunk });
        }
        w.rows = Some(rows);
        Ok(())
    }

    /// A change of `key` passed in the log (it is sent as usual).
    pub fn changed(&mut self, key: &K) {
        if let Some(w) = &mut self.window {
            if w.low_seen {
                w.touched.insert(key.clone());
            }
        }
    }

    /// Every row of the chunk's table changed in the log (a TRUNCATE): none
    /// of the chunk's rows may be sent.
    pub fn changed_all(&mut self) {
        if let Some(w) = &mut self.window {
            if w.low_seen {
                w.all_touched = true;
            }
        }
    }

    /// A watermark `mark` of chunk `chunk` arrived in the log.
    pub fn watermark(&mut self, chunk: u64, mark: Mark) -> Result<Seen<K, R>, DblogError> {
        let Some(w) = &mut self.window else { return Ok(Seen::Ignored) };
        if w.chunk != chunk {
            return Ok(Seen::Ignored);
        }
        match mark {
            Mark::Low => {
                w.low_seen = true;
                Ok(Seen::Opened)
            }
            Mark::High if !w.low_seen => Err(DblogError::HighBeforeLow { chunk }),
            Mark::High => {
                let Some(rows) = w.rows.take() else {
                    return Err(DblogError::RowsMissing { chunk });
                };
                let touched = std::mem::take(&mut w.touched);
                let all = w.all_touched;
                self.window = None;
                if all {
                    return Ok(Seen::Closed(Vec::new()));
                }
                Ok(Seen::Closed(rows.into_iter().filter(|(k, _)| !touched.contains(k)).collect()))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// What the log holds, in order.
    #[derive(Debug, Clone)]
    enum LogEntry {
        /// Key, and its version after the change (`None`: deleted).
        Change(u8, Option<u32>),
        Mark(u64, Mark),
    }

    /// What the reconciled stream sends, in order.
    #[derive(Debug, Clone, PartialEq)]
    enum Out {
        Change(u8, Option<u32>),
        Read(u8, u32),
    }

    /// One step of the simulated world.
    #[derive(Debug, Clone)]
    enum Step {
        /// A writer sets key (mod 16) to a new version, or deletes it.
        Write(u8, bool),
        /// The snapshot driver moves on: low watermark, select or high
        /// watermark of the current chunk, whichever is next.
        Snapshot,
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(
            prop_oneof![
                3 => (0u8..16, any::<bool>()).prop_map(|(k, d)| Step::Write(k, d)),
                2 => Just(Step::Snapshot),
            ],
            0..120,
        )
    }

    /// Runs a snapshot of keys 0..16 in chunks of `chunk` keys while the
    /// writer works, processes the log through a reconciler, and returns
    /// the final table and the reconciled output.
    fn simulate(
        initial: &BTreeMap<u8, u32>,
        steps: &[Step],
        chunk: u8,
    ) -> (BTreeMap<u8, u32>, Vec<Out>) {
        let mut table = initial.clone();
        let mut next_version = 1000u32;
        let mut log = Vec::new();
        // The driver: per chunk, 0 = write low, 1 = select, 2 = write high.
        let mut chunk_no = 0u64;
        let mut phase = 0;
        let mut selected: BTreeMap<u64, Vec<(u8, u32)>> = BTreeMap::new();
        let ranges = (0..16u8).step_by(chunk as usize).count() as u64;
        let mut drive = |table: &BTreeMap<u8, u32>, log: &mut Vec<LogEntry>| {
            if chunk_no >= ranges {
                return;
            }
            match phase {
                0 => log.push(LogEntry::Mark(chunk_no, Mark::Low)),
                1 => {
                    let lo = chunk_no as u8 * chunk;
                    let rows =
                        table.range(lo..lo.saturating_add(chunk)).map(|(k, v)| (*k, *v)).collect();
                    selected.insert(chunk_no, rows);
                }
                _ => {
                    log.push(LogEntry::Mark(chunk_no, Mark::High));
                    chunk_no += 1;
                }
            }
            phase = (phase + 1) % 3;
        };
        for step in steps {
            match step {
                Step::Write(k, delete) => {
                    let v = if *delete {
                        table.remove(k);
                        None
                    } else {
                        next_version += 1;
                        table.insert(*k, next_version);
                        Some(next_version)
                    };
                    log.push(LogEntry::Change(*k, v));
                }
                Step::Snapshot => drive(&table, &mut log),
            }
        }
        // The snapshot finishes after the writer stops.
        for _ in 0..3 * ranges {
            drive(&table, &mut log);
        }

        // The stream processor, reading the log in order.
        let mut r: Reconciler<u8, u32> = Reconciler::new();
        let mut out = Vec::new();
        for entry in log {
            match entry {
                LogEntry::Change(k, v) => {
                    r.changed(&k);
                    out.push(Out::Change(k, v));
                }
                LogEntry::Mark(c, Mark::Low) => {
                    r.begin(c);
                    r.rows_read(selected.remove(&c).unwrap_or_default()).unwrap();
                    assert_eq!(r.watermark(c, Mark::Low).unwrap(), Seen::Opened);
                }
                LogEntry::Mark(c, Mark::High) => match r.watermark(c, Mark::High).unwrap() {
                    Seen::Closed(rows) => {
                        out.extend(rows.into_iter().map(|(k, v)| Out::Read(k, v)))
                    }
                    other => panic!("chunk {c}: {other:?}"),
                },
            }
        }
        (table, out)
    }

    fn initial_table() -> impl Strategy<Value = BTreeMap<u8, u32>> {
        prop::collection::btree_map(0u8..16, 0u32..1000, 0..16)
    }

    proptest! {
        /// Replaying the stream (changes and reads, in order) ends with the
        /// table's final state: every key the snapshot covers converges.
        #[test]
        fn any_interleaving_converges_to_the_latest_state(
            initial in initial_table(), steps in steps(), chunk in 1u8..8
        ) {
            let (table, out) = simulate(&initial, &steps, chunk);
            // Before the stream began, the consumer knew nothing.
            let mut replayed = BTreeMap::new();
            for o in &out {
                match *o {
                    Out::Change(k, Some(v)) | Out::Read(k, v) => { replayed.insert(k, v); }
                    Out::Change(k, None) => { replayed.remove(&k); }
                }
            }
            prop_assert_eq!(replayed, table);
        }

        /// Per key, a read never follows a newer change (versions only grow,
        /// and a delete is newer than anything before it).
        #[test]
        fn a_read_never_follows_a_newer_change_of_its_key(
            initial in initial_table(), steps in steps(), chunk in 1u8..8
        ) {
            let (_, out) = simulate(&initial, &steps, chunk);
            let mut last: BTreeMap<u8, Option<u32>> = BTreeMap::new();
            for o in &out {
                match *o {
                    Out::Change(k, v) => { last.insert(k, v); }
                    Out::Read(k, v) => {
                        if let Some(prev) = last.get(&k) {
                            prop_assert!(
                                prev.is_some_and(|p| p <= v),
                                "read of {} at version {} after change to {:?}", k, v, prev
                            );
                        }
                        last.insert(k, Some(v));
                    }
                }
            }
        }
    }

    #[test]
    fn a_key_changed_between_the_watermarks_is_not_read() {
        let mut r: Reconciler<u8, &str> = Reconciler::new();
        r.begin(1);
        assert_eq!(r.watermark(1, Mark::Low).unwrap(), Seen::Opened);
        r.rows_read(vec![(1, "a"), (2, "b"), (3, "c")]).unwrap();
        r.changed(&2);
        assert_eq!(r.watermark(1, Mark::High).unwrap(), Seen::Closed(vec![(1, "a"), (3, "c")]));
        assert!(!r.is_open());
    }

    #[test]
    fn a_change_before_the_low_watermark_does_not_drop_the_row() {
        let mut r: Reconciler<u8, &str> = Reconciler::new();
        r.begin(1);
        r.changed(&1); // in the log before the low watermark: the select sees it
        r.rows_read(vec![(1, "new")]).unwrap();
        r.watermark(1, Mark::Low).unwrap();
        assert_eq!(r.watermark(1, Mark::High).unwrap(), Seen::Closed(vec![(1, "new")]));
    }

    #[test]
    fn a_truncate_in_the_window_drops_the_whole_chunk_and_one_before_it_nothing() {
        let mut r: Reconciler<u8, &str> = Reconciler::new();
        r.begin(1);
        r.changed_all(); // before the low watermark: the select ran after it
        r.watermark(1, Mark::Low).unwrap();
        r.rows_read(vec![(1, "a")]).unwrap();
        assert_eq!(r.watermark(1, Mark::High).unwrap(), Seen::Closed(vec![(1, "a")]));
        r.begin(2);
        r.watermark(2, Mark::Low).unwrap();
        r.rows_read(vec![(1, "a"), (2, "b")]).unwrap();
        r.changed_all();
        assert_eq!(r.watermark(2, Mark::High).unwrap(), Seen::Closed(vec![]));
    }

    #[test]
    fn watermarks_of_another_chunk_are_ignored_and_bad_orders_are_errors() {
        let mut r: Reconciler<u8, &str> = Reconciler::new();
        assert_eq!(r.watermark(7, Mark::High).unwrap(), Seen::Ignored);
        r.begin(2);
        assert_eq!(r.watermark(1, Mark::Low).unwrap(), Seen::Ignored);
        assert_eq!(r.watermark(2, Mark::High), Err(DblogError::HighBeforeLow { chunk: 2 }));
        r.watermark(2, Mark::Low).unwrap();
        assert_eq!(r.watermark(2, Mark::High), Err(DblogError::RowsMissing { chunk: 2 }));
        r.rows_read(vec![]).unwrap();
        assert_eq!(r.rows_read(vec![]), Err(DblogError::RowsTwice { chunk: 2 }));
    }
}
