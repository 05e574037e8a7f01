//! The driver's handle on a snapshot's chunk task (both sources run one on
//! a connection of its own): one request at a time in, reports out, and
//! the pause (`[snapshot] chunk_delay_ms`) before the next request; and the
//! one drive loop over it. What a report is is each source's own.

use logtap_core::chunks::{ChunkRequest, SnapStep};
use logtap_core::PipelineError;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

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
    async fn describe(&mut self, table: logtap_core::TableId) -> Result<(), PipelineError>;
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
