//! The PostgreSQL source's driver: slot and publication set-up, the
//! replication connection and its status updates, catalog answers; the
//! state machine (`machine.rs`) turns the frames into change events and
//! checkpoints (its documentation has the position model).
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
use crate::machine::snapshot::SnapSetup;
use crate::machine::{Input, Need, PgMachine};
use crate::snapshot::{ChunkMsg, Watermarks};
use crate::start;
use crate::types::TypeOptions;
use crate::walsender::{ConnectParams, Reader, WalSender, WalSenderError, Writer};
use logtap_core::chunks::{ChunkRequest, SnapStep};
use logtap_core::snapshot::{SnapshotConfig, SnapshotMode, SnapshotPlan};
use logtap_core::{
    Checkpoint, ErrorKind, Lsn, PgTxProgress, PipelineError, SnapshotProgress, Source, SourceItem,
    SourcePosition,
};
use logtap_pgoutput::{
    decode_copy_data, unix_micros_to_pg, CopyData, Decoder, StandbyStatusUpdate,
};
use logtap_runtime::chunks::ChunkTask;
use logtap_runtime::now_us;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::Client;

pub use crate::machine::{source_schema, UNAVAILABLE_VALUE};

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

/// See the module documentation.
pub struct PostgresSource {
    cfg: PostgresConfig,
    sql: Client,
    rx: mpsc::Receiver<Frame>,
    flushed: Arc<AtomicU64>,
    /// Asks the socket task to send a final status update and stop.
    stop: Arc<tokio::sync::Notify>,
    socket_task: tokio::task::JoinHandle<()>,
    /// The frame being processed, kept until it is fully handled so that a
    /// cancelled `next` (the pipeline selects on it) loses nothing.
    current: Option<Arc<Frame>>,
    /// `postgres system <id> slot <name>`, stored with the position.
    source_id: String,
    /// The state machine the frames go through.
    m: PgMachine,
    /// The snapshot's chunk reader, while a snapshot runs.
    chunks: Option<Chunks>,
    /// `[snapshot] chunk_delay_ms`.
    chunk_delay: Duration,
    /// How chunks write their watermarks.
    marks: Watermarks,
    /// `initial_only`: the source ends once the snapshot is read.
    stop_when_done: bool,
}

/// The task reading chunks (`snapshot.rs`) and its pacing.
type Chunks = ChunkTask<ChunkRequest, ChunkMsg>;

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
    PipelineError::new(e.kind(), format!("{context}: {e}"))
}

/// An error the walsender sent while streaming. A missing publication
/// (see [`WalSenderError::is_missing_publication`]) is a server setup to
/// mend, not a lost position: the slot and the stored position are kept.
fn stream_err(cfg: &PostgresConfig, e: &WalSenderError) -> PipelineError {
    let err = PipelineError::new(
        e.kind(),
        format!("replication stream on slot `{}`: {e}", cfg.slot_name),
    );
    if !e.is_missing_publication() {
        return err;
    }
    let publication = &cfg.publication_name;
    PipelineError { kind: ErrorKind::ServerSetup, ..err }.with_fix(format!(
        "the publication `{publication}` no longer exists (dropped while logtap read the slot): \
         start logtap again, which creates it (postgres.publication_autocreate_mode = \
         \"filtered\" or \"all_tables\"), or with \"disabled\" create it first (CREATE \
         PUBLICATION {} FOR TABLE ...); the slot and the stored position are kept. Changes \
         committed while the publication did not exist cannot be decoded through this slot: \
         if the error comes back, run `logtap reset` and let a new snapshot bring the tables back",
        quote_ident(publication)
    ))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The stored position's LSN and progress inside its transaction; another
/// source's position is refused.
fn stored_position(
    stored: Option<&Checkpoint>,
) -> Result<(Option<Lsn>, Option<PgTxProgress>), PipelineError> {
    match stored.map(|c| &c.position) {
        None => Ok((None, None)),
        Some(SourcePosition::Postgres { lsn, tx }) => Ok((Some(*lsn), *tx)),
        Some(other) => Err(PipelineError::new(ErrorKind::WrongSource, format!(
            "the stored position ({other}) is not a PostgreSQL position: this offsets directory belongs to another source; use another topic_prefix or run `logtap reset`"
        ))),
    }
}

/// `[snapshot] signal_data_collection` must exist before anything is made.
async fn signal_table_exists(sql: &Client, table: Option<&str>) -> Result<(), PipelineError> {
    let Some(t) = table else { return Ok(()) };
    let (schema, name) = t.split_once('.').unwrap_or(("public", t));
    if catalog::snapshot_table(sql, schema, name).await?.is_some() {
        return Ok(());
    }
    Err(PipelineError::new(ErrorKind::ServerSetup, format!(
        "snapshot.signal_data_collection `{t}` does not exist: CREATE TABLE {} (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)); \
         and give logtap's role INSERT and DELETE on it (and ownership, for publication_autocreate_mode = \"filtered\")",
        quoted_table(t)
    )))
}

/// `schema.table` with each part quoted (`public` when unqualified).
fn quoted_table(t: &str) -> String {
    let (schema, name) = t.split_once('.').unwrap_or(("public", t));
    format!("{}.{}", crate::snapshot::quote_ident(schema), crate::snapshot::quote_ident(name))
}

fn connect_params(cfg: &PostgresConfig) -> ConnectParams {
    ConnectParams {
        host: cfg.host.clone(),
        port: cfg.port,
        user: cfg.user.clone(),
        password: cfg.password.clone(),
        database: cfg.database.clone(),
        application_name: format!("logtap-{}", cfg.slot_name),
        connect_timeout: Duration::from_secs(10),
        sslmode: cfg.sslmode,
        sslrootcert: cfg.sslrootcert.clone(),
    }
}

/// This source's identity (system id and slot), refused when the stored
/// position belongs to another.
async fn identify(
    ws: &mut WalSender,
    cfg: &PostgresConfig,
    stored_id: Option<&str>,
) -> Result<String, PipelineError> {
    let system = ws
        .simple_query("IDENTIFY_SYSTEM")
        .await
        .map_err(|e| wal_err("IDENTIFY_SYSTEM", e))?
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default();
    let source_id = format!("postgres system {system} slot {}", cfg.slot_name);
    match stored_id {
        Some(stored_id) if stored_id != source_id => Err(PipelineError::new(ErrorKind::WrongSource, format!(
            "the stored position belongs to `{stored_id}`, but this configuration reads `{source_id}`: \
             applying it to another server or slot could skip changes. Use another topic_prefix or offsets.path \
             for the new source, or run `logtap reset` to start over"
        ))),
        _ => Ok(source_id),
    }
}

fn log_start(plan: &start::StartPlan, slot: &str, version: u32, standby: bool) {
    if standby {
        tracing::info!(server_version = version, "the server is a standby: nothing is written to it, snapshot chunks close at its replay position");
    }
    if plan.watermarks.is_none() {
        tracing::warn!(
            server_version = version,
            "PostgreSQL before 14 and no snapshot.signal_data_collection: snapshots are unavailable"
        );
    }
    if let Some(confirmed) = plan.reuse_confirmed {
        tracing::info!(slot = %slot, confirmed = %confirmed, "reusing existing slot without a stored position: streaming from its confirmed position");
    }
}

/// Drops and creates the slot as the plan says; the position the server
/// will not send anything before (a new slot's consistent point, or the
/// reused slot's confirmed position).
async fn prepare_slot(
    plan: &start::StartPlan,
    sql: &Client,
    ws: &mut WalSender,
    slot: &str,
) -> Result<Lsn, PipelineError> {
    if plan.drop_slot {
        sql.execute("SELECT pg_drop_replication_slot($1)", &[&slot])
            .await
            .map_err(|e| catalog::sql_err(&format!("dropping replication slot `{slot}`"), e))?;
    }
    if !plan.create_slot {
        return Ok(plan.kept_confirmed.unwrap_or(Lsn(0)));
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
    Ok(at.parse().unwrap_or(Lsn(0)))
}

/// The snapshot's starting progress: a stored one without the tables no
/// longer captured, or every captured table of the publication.
async fn snapshot_progress(
    plan: &start::StartPlan,
    sql: &Client,
    cfg: &PostgresConfig,
    mode: SnapshotMode,
) -> Result<Option<SnapshotProgress>, PipelineError> {
    let captured = |t: &String| t.split_once('.').is_some_and(|(s, n)| cfg.captures(s, n));
    match &plan.snapshot {
        SnapshotPlan::None => Ok(None),
        SnapshotPlan::Resume(p) => Ok(Some(p.clone().resumed(|s, n| cfg.captures(s, n)))),
        SnapshotPlan::Full => {
            let tables: Vec<String> = catalog::publication_tables(sql, &cfg.publication_name)
                .await?
                .unwrap_or_default()
                .into_iter()
                .filter(captured)
                .collect();
            tracing::info!(mode = %mode, tables = ?tables, "snapshotting");
            Ok(Some(SnapshotProgress { pending_tables: tables, ..Default::default() }))
        }
    }
}

/// `START_REPLICATION` at `start` with the plan's pgoutput options.
async fn start_replication(
    ws: WalSender,
    cfg: &PostgresConfig,
    plan: &start::StartPlan,
    start: Lsn,
) -> Result<(Reader, Writer), PipelineError> {
    let slot = &cfg.slot_name;
    let mut options = format!(
        "\"proto_version\" '{}', \"publication_names\" '{}'",
        plan.proto,
        quote_ident(&cfg.publication_name).replace('\'', "''")
    );
    if plan.messages {
        options.push_str(", \"messages\" 'true'");
    }
    let cmd = format!("START_REPLICATION SLOT {} LOGICAL {start} ({options})", quote_ident(slot));
    let streams = ws.start_replication(&cmd).await.map_err(|e| {
        // On START_REPLICATION of a slot checked above, 55000 is "can no
        // longer get changes from replication slot" (invalidated since)
        // and 42704 a slot dropped since: the position is gone. 55006
        // (in use, often by our own previous connection not yet gone)
        // is retried by its kind.
        let gone = matches!(e.sqlstate(), Some("55000" | "42704"));
        let mut err = wal_err(&format!("starting replication on slot `{slot}`"), e);
        if gone {
            err.kind = ErrorKind::PositionLost;
        }
        err
    })?;
    tracing::info!(slot = %slot, start = %start, proto_version = plan.proto, "streaming");
    Ok(streams)
}

/// The state machine for this start: decoder, resume point inside a
/// transaction, snapshot setup when watermarks are possible, the snapshot.
fn machine_for(
    cfg: &PostgresConfig,
    prefix: &str,
    plan: &start::StartPlan,
    floor: u64,
    snap: &SnapshotConfig,
    signal_table: Option<&str>,
    snapshot: Option<SnapshotProgress>,
) -> Result<PgMachine, PipelineError> {
    let opts = TypeOptions::from_config(cfg);
    let decoder = Decoder::new(plan.proto).map_err(|e| PipelineError::internal(e.to_string()))?;
    let clock = Arc::new(logtap_runtime::SystemClock);
    let mut m = PgMachine::new(cfg.clone(), prefix, decoder, opts, floor, clock);
    m.resume_inside(plan.resume_tx);
    if plan.watermarks.is_some() {
        m.snapshot_setup(SnapSetup {
            signal_table: signal_table
                .and_then(|t| t.split_once('.'))
                .map(|(s, n)| logtap_core::TableId::new(s, n)),
            slot: cfg.slot_name.clone(),
            run: logtap_runtime::run_id(),
            chunk_size: snap.chunk_size,
            next_chunk: 1,
            replay: matches!(plan.watermarks, Some(Watermarks::Replay)),
        });
    }
    if let Some(progress) = snapshot {
        m.start_snapshot(progress);
    }
    Ok(m)
}

impl PostgresSource {
    /// Connects, prepares publication and slot, and starts streaming after
    /// the stored checkpoint or, without one, from the slot's confirmed
    /// position (a new slot: from now); with a snapshot as `snap` and the
    /// stored progress say. What to do is decided by [`start::decide`]
    /// from what is read here; this carries it out.
    pub async fn start(
        cfg: PostgresConfig,
        prefix: &str,
        stored: Option<&Checkpoint>,
        stored_id: Option<&str>,
        snap: &SnapshotConfig,
    ) -> Result<Self, PipelineError> {
        let mode = snap.mode.unwrap_or(SnapshotMode::Initial);
        let (stored_lsn, stored_tx) = stored_position(stored)?;
        let sql = catalog::connect(&cfg).await?;
        let signal_table = snap.signal_data_collection.as_deref();
        signal_table_exists(&sql, signal_table).await?;
        let standby = catalog::in_recovery(&sql).await?;
        crate::check::preflight(&sql, &cfg, standby).await?;
        catalog::ensure_publication(&sql, &cfg, signal_table, standby).await?;
        let mut ws = WalSender::connect(&connect_params(&cfg))
            .await
            .map_err(|e| wal_err("replication connection", e))?;
        let version = ws.server_version().unwrap_or(0);
        let source_id = identify(&mut ws, &cfg, stored_id).await?;
        let plan = start::decide(start::Found {
            mode,
            stored_lsn,
            stored_tx,
            progress: stored.and_then(|c| c.snapshot.clone()),
            version,
            standby,
            slot_name: cfg.slot_name.clone(),
            database: cfg.database.clone(),
            slot: catalog::slot_info(&sql, &cfg.slot_name).await?,
            signal_table: signal_table.map(quoted_table),
        })?;
        log_start(&plan, &cfg.slot_name, version, standby);
        let slot_floor = prepare_slot(&plan, &sql, &mut ws, &cfg.slot_name).await?;
        let snapshot = snapshot_progress(&plan, &sql, &cfg, mode).await?;
        let start = plan.resume_at.unwrap_or(Lsn(0));
        let (reader, writer) = start_replication(ws, &cfg, &plan, start).await?;
        // What the slot already has confirmed counts as flushed from the
        // start: a new slot (its consistent point) or one reused without a
        // stored position. Reported as 0/0 instead, a server with no WAL
        // after the slot's point could never shut down cleanly: its
        // walsender waits for the client to confirm everything it sent, and
        // a keepalive at the start position is no progress to store.
        let floor = start.0.max(slot_floor.0);
        let flushed = Arc::new(AtomicU64::new(floor));
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
        let m = machine_for(&cfg, prefix, &plan, floor, snap, signal_table, snapshot)?;
        Ok(PostgresSource {
            m,
            chunks: None,
            marks: plan.watermarks.unwrap_or(Watermarks::Messages),
            chunk_delay: Duration::from_millis(snap.chunk_delay_ms),
            stop_when_done: mode == SnapshotMode::InitialOnly,
            sql,
            rx,
            flushed,
            stop,
            socket_task,
            current: None,
            source_id,
            cfg,
        })
    }

    /// Answers a [`Need`] of the state machine from the catalog.
    async fn answer(&mut self, need: Need) -> Result<(), PipelineError> {
        match need {
            Need::Shape(rel) => {
                let shape = catalog::table_shape(&self.sql, rel.id).await?;
                self.m.shape_read(rel, shape);
            }
            Need::Types(oid) => {
                // The type, then its element and base types not known yet.
                let mut found = Vec::new();
                let mut queue = vec![oid];
                let mut seen = HashSet::new();
                while let Some(o) = queue.pop() {
                    if !seen.insert(o) {
                        continue;
                    }
                    if let Some(t) = catalog::type_info(&self.sql, o).await? {
                        for dep in [t.element, t.base] {
                            if dep != 0 && !self.m.type_known(dep) {
                                queue.push(dep);
                            }
                        }
                        found.push(t);
                    }
                }
                self.m.types_read(oid, found);
            }
        }
        Ok(())
    }

    /// What the chunk task reported: rows go to the machine before the
    /// task may write the chunk's high watermark.
    fn chunk_msg(&mut self, msg: Option<ChunkMsg>) -> Result<(), PipelineError> {
        match msg {
            Some(ChunkMsg::Rows { chunk, rows, replayed, ack }) => {
                self.m.snapshot_rows(chunk, rows, replayed)?;
                let _ = ack.send(());
                Ok(())
            }
            Some(ChunkMsg::Vanished { chunk, why }) => {
                self.m.snapshot_vanished(chunk, why);
                Ok(())
            }
            Some(ChunkMsg::Failed(e)) => Err(e),
            None => Err(PipelineError::connection("the snapshot's connection ended")),
        }
    }

    /// Moves the snapshot on: takes the chunk task's reports, describes the
    /// next table, starts the next chunk when its pause is over.
    async fn drive_snapshot(&mut self) -> Result<(), PipelineError> {
        if self.chunks.is_none() && self.m.snapshot_running() {
            if let Some(run) = self.m.snapshot_run() {
                let client = catalog::connect(&self.cfg).await?;
                // A watermark is a commit the stream must see before the
                // chunk can close: with synchronous_commit = off (the
                // server's or the role's) it would wait for the WAL writer
                // (wal_writer_delay, 200 ms by default) every time, which
                // bounds a snapshot to a few chunks a second. `local`
                // flushes it at once without waiting for synchronous
                // standbys.
                if !self.m.snapshot_replay() {
                    client.batch_execute("SET synchronous_commit = local").await.map_err(|e| {
                        catalog::sql_err("SET synchronous_commit = local (snapshot connection)", e)
                    })?;
                }
                let (tx, rx, task) = crate::snapshot::spawn(
                    client,
                    self.cfg.slot_name.clone(),
                    run,
                    self.marks.clone(),
                );
                self.chunks = Some(Chunks::new(tx, rx, task));
            }
        }
        logtap_runtime::chunks::drive(&mut Driver(self)).await
    }
}

/// The source as the snapshot's drive loop sees it.
struct Driver<'a>(&'a mut PostgresSource);

impl logtap_runtime::chunks::ChunkDriver for Driver<'_> {
    type Msg = ChunkMsg;

    fn chunks(&mut self) -> Option<&mut Chunks> {
        self.0.chunks.as_mut()
    }

    fn close_chunks(&mut self) {
        self.0.chunks = None;
    }

    fn report(&mut self, msg: Option<ChunkMsg>) -> Result<(), PipelineError> {
        self.0.chunk_msg(msg)
    }

    fn step(&mut self) -> Result<SnapStep, PipelineError> {
        self.0.m.snapshot_step()
    }

    fn running(&self) -> bool {
        self.0.m.snapshot_running()
    }

    async fn describe(&mut self, table: logtap_core::TableId) -> Result<(), PipelineError> {
        let found = catalog::snapshot_table(&self.0.sql, &table.namespace, &table.table).await?;
        while let Some(need) = self.0.m.snapshot_table_read(found.clone())? {
            self.0.answer(need).await?;
        }
        Ok(())
    }

    fn chunk_delay(&self) -> Duration {
        self.0.chunk_delay
    }
}

impl PostgresSource {
    /// Handles one frame: errors and the end of the stream here, the rest
    /// through the machine, answering what it needs.
    async fn process(&mut self, frame: &Frame) -> Result<(), PipelineError> {
        let input = match frame {
            Frame::Error(e) => return Err(stream_err(&self.cfg, e)),
            Frame::End => {
                return Err(PipelineError::connection(format!(
                    "PostgreSQL ended the replication stream on slot `{}`",
                    self.cfg.slot_name
                )))
            }
            Frame::Keepalive { wal_end } => Input::Keepalive { wal_end: *wal_end },
            Frame::XLogData { wal_start, data, .. } => {
                Input::XLogData { wal_start: *wal_start, data }
            }
        };
        while let Some(need) = self.m.input(input)? {
            self.answer(need).await?;
        }
        Ok(())
    }
}

impl Source for PostgresSource {
    async fn next(&mut self) -> Result<Option<SourceItem>, PipelineError> {
        loop {
            // First, so the next chunk is read while this one's rows are
            // still being sent.
            self.drive_snapshot().await?;
            if let Some(item) = self.m.pending.pop_front() {
                return Ok(Some(item));
            }
            if self.stop_when_done && self.m.snapshot_idle() {
                tracing::info!("snapshot mode initial_only: the snapshot is read, stopping");
                return Ok(None);
            }
            // Cancel-safe: a frame is either still in the channel or in
            // `current` until it is fully processed. Processing awaits only
            // for catalog look-ups on Relation messages, before it changes any
            // state other than the (idempotent) relation cache, so a cancelled
            // call simply processes the same frame again.
            let frame = match &self.current {
                Some(f) => f.clone(),
                None => {
                    let f = tokio::select! {
                        f = self.rx.recv() => f,
                        event = Chunks::event(&mut self.chunks) => {
                            if let Some(msg) = event {
                                self.chunk_msg(msg)?;
                            }
                            continue;
                        }
                    };
                    let f = Arc::new(f.unwrap_or(Frame::End));
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
        if let SourcePosition::Postgres { lsn, .. } = position {
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

    /// On the catalog connection, so it never waits behind the stream.
    async fn heartbeat_action(&mut self, sql: &str) -> Result<(), PipelineError> {
        self.sql.batch_execute(sql).await.map_err(|e| catalog::sql_err("heartbeat.action_query", e))
    }

    /// The slot's lag, on the catalog connection; a failed query is no
    /// figure (the stream reports connection trouble itself).
    async fn lag_bytes(&mut self) -> Option<i64> {
        catalog::slot_lag_bytes(&self.sql, &self.cfg.slot_name).await.ok().flatten()
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
