//! The driver's handle on a snapshot's chunk task (both sources run one on
//! a connection of its own): one request at a time in, reports out, and
//! the pause (`[snapshot] chunk_delay_ms`) before the next request. What a
//! request and a report are is each source's own.

use crate::traits::SnapshotProgress;
use crate::PipelineError;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Why a chunk's `SELECT` could not be read, reported by either source's
/// chunk task and acted on by its machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vanished {
    /// The table's columns changed under the `SELECT` (a column dropped,
    /// a key retyped): describe the table again and read the chunk again.
    Altered,
    /// The table (or its schema) no longer exists: skip it.
    TableGone,
    /// The signal's additional condition for the table fails on the
    /// server by itself (`SELECT 1 FROM t WHERE (condition) LIMIT 0`): no
    /// retry can read it, so the table's snapshot is dropped with this
    /// server error (stored with the progress, the condition would fail
    /// the same way after every restart).
    BadCondition(String),
}

impl Vanished {
    /// The query that tells a bad condition from a table that changed.
    pub fn condition_check(from: &str, condition: Option<&str>) -> Option<String> {
        condition.map(|c| format!("SELECT 1 FROM {from} WHERE ({c}) LIMIT 0"))
    }

    /// Whether the table being read (the first pending one) leaves the
    /// snapshot, saying why in the log; a bad condition leaves with it.
    pub fn drops_table(&self, progress: &mut SnapshotProgress) -> bool {
        let Some(table) = progress.pending_tables.first().cloned() else { return false };
        match self {
            Vanished::Altered => false,
            Vanished::TableGone => {
                tracing::warn!(table = %table, "table to snapshot no longer exists: skipped");
                true
            }
            Vanished::BadCondition(error) => {
                let condition = progress.conditions.remove(&table).unwrap_or_default();
                tracing::error!(
                    table = %table, condition = %condition, error = %error,
                    "the snapshot's condition for this table fails on the server: its snapshot \
                     is dropped (the stream goes on); send the signal again with a condition \
                     the server accepts (logtap snapshot --where ...)"
                );
                true
            }
        }
    }
}

/// Read one chunk: what either source's chunk task is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRequest {
    pub chunk: u64,
    /// The chunk's `SELECT`, literals included.
    pub select: String,
    /// The signal's condition alone on the table (see
    /// [`Vanished::condition_check`]), run when the `SELECT` fails.
    pub check: Option<String>,
}

/// What a source's snapshot machine asks its driver to do now.
#[derive(Debug, PartialEq, Eq)]
pub enum SnapStep {
    /// Nothing (no snapshot, a chunk in flight, or all read).
    Idle,
    /// Describe this table and give the description to the machine.
    Describe(crate::TableId),
    /// Read this chunk.
    Chunk(ChunkRequest),
}

/// A source's side of the snapshot drive loop ([`drive`]): its machine,
/// its chunk task and how it describes a table.
#[allow(async_fn_in_trait)]
pub trait ChunkDriver {
    /// What its chunk task reports.
    type Msg;
    /// The chunk task, while one runs.
    fn chunks(&mut self) -> Option<&mut ChunkTask<ChunkRequest, Self::Msg>>;
    /// Ends the chunk task (closing its connection).
    fn close_chunks(&mut self);
    /// A report of the task (`None`: it ended) handed to the machine.
    fn report(&mut self, msg: Option<Self::Msg>) -> Result<(), PipelineError>;
    /// The machine's next step.
    fn step(&mut self) -> Result<SnapStep, PipelineError>;
    /// Whether the machine still has tables to read.
    fn running(&self) -> bool;
    /// Reads `table`'s description and hands it to the machine.
    async fn describe(&mut self, table: crate::TableId) -> Result<(), PipelineError>;
    /// The pause after each request (`[snapshot] chunk_delay_ms`).
    fn chunk_delay(&self) -> Duration;
}

/// Moves a source's snapshot on: takes the chunk task's reports, describes
/// the next table, requests the next chunk when its pause is over, and
/// closes the task once every table is read.
pub async fn drive<D: ChunkDriver>(d: &mut D) -> Result<(), PipelineError> {
    loop {
        let Some(chunks) = d.chunks() else { return Ok(()) };
        match chunks.poll() {
            Polled::Report(msg) => {
                d.report(Some(msg))?;
                continue;
            }
            Polled::Ended => return d.report(None),
            Polled::Wait => return Ok(()),
            Polled::Ready => {}
        }
        match d.step()? {
            SnapStep::Idle => {
                if !d.running() {
                    d.close_chunks();
                }
                return Ok(());
            }
            SnapStep::Describe(table) => d.describe(table).await?,
            SnapStep::Chunk(req) => {
                let pause = d.chunk_delay();
                let Some(chunks) = d.chunks() else { return Ok(()) };
                if !chunks.request(req, pause) {
                    return d.report(None);
                }
                return Ok(());
            }
        }
    }
}

/// See the module documentation. Dropping it stops the task.
#[derive(Debug)]
pub struct ChunkTask<Req, Msg> {
    tx: mpsc::Sender<Req>,
    rx: mpsc::Receiver<Msg>,
    task: tokio::task::JoinHandle<()>,
    /// No request goes out before this.
    next_at: Option<Instant>,
}

impl<Req, Msg> Drop for ChunkTask<Req, Msg> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What [`ChunkTask::poll`] found.
#[derive(Debug)]
pub enum Polled<Msg> {
    /// A report.
    Report(Msg),
    /// The task has ended (its connection failed or it stopped).
    Ended,
    /// Nothing yet, and the pause is not over: ask again later.
    Wait,
    /// Nothing waiting: a request may go out.
    Ready,
}

impl<Req, Msg> ChunkTask<Req, Msg> {
    /// The handle of a spawned task and its two channels.
    pub fn new(
        tx: mpsc::Sender<Req>,
        rx: mpsc::Receiver<Msg>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        ChunkTask { tx, rx, task, next_at: None }
    }

    /// A report if one is there, else whether a request may go out now.
    pub fn poll(&mut self) -> Polled<Msg> {
        match self.rx.try_recv() {
            Ok(m) => Polled::Report(m),
            Err(mpsc::error::TryRecvError::Disconnected) => Polled::Ended,
            Err(mpsc::error::TryRecvError::Empty)
                if self.next_at.is_some_and(|at| at > Instant::now()) =>
            {
                Polled::Wait
            }
            Err(mpsc::error::TryRecvError::Empty) => Polled::Ready,
        }
    }

    /// Sends the next request, after which none goes out for `pause`;
    /// `false` if the task has ended. One request is in flight at a time,
    /// so the task's queue is always free here.
    pub fn request(&mut self, req: Req, pause: Duration) -> bool {
        if self.tx.try_send(req).is_err() {
            return false;
        }
        if !pause.is_zero() {
            self.next_at = Some(Instant::now() + pause);
        }
        true
    }

    /// The task's next report (`Some(None)`: it ended), or `None` when the
    /// pause before the next request is over; never without a task. For a
    /// driver's `select!` next to its stream.
    pub async fn event(task: &mut Option<Self>) -> Option<Option<Msg>> {
        let Some(c) = task else { return std::future::pending().await };
        match c.next_at {
            Some(at) if at > Instant::now() => tokio::select! {
                m = c.rx.recv() => Some(m),
                _ = tokio::time::sleep_until(at) => None,
            },
            _ => Some(c.rx.recv().await),
        }
    }
}
