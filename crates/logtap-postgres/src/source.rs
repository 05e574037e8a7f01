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
use crate::machine::snapshot::{SnapSetup, SnapStep};
use crate::machine::{Input, Need, PgMachine};
use crate::snapshot::{ChunkMsg, ChunkRequest, Watermarks};
use crate::types::TypeOptions;
use crate::walsender::{ConnectParams, Reader, WalSender, WalSenderError, Writer};
use logtap_core::chunks::{ChunkTask, Polled};
use logtap_core::event::now_us;
use logtap_core::snapshot::{self, SnapshotConfig, SnapshotMode, SnapshotPlan};
use logtap_core::{
    Checkpoint, ErrorKind, Lsn, PipelineError, SnapshotProgress, Source, SourceItem, SourcePosition,
};
use logtap_pgoutput::{
    decode_copy_data, unix_micros_to_pg, CopyData, Decoder, StandbyStatusUpdate,
};
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

impl PostgresSource {
    /// Connects, prepares publication and slot, and starts streaming after
    /// the stored checkpoint or, without one, from the slot's confirmed
    /// position (a new slot: from now); with a snapshot as `snap` and the
    /// stored progress say.
    pub async fn start(
        cfg: PostgresConfig,
        prefix: &str,
        stored: Option<&Checkpoint>,
        stored_id: Option<&str>,
        snap: &SnapshotConfig,
    ) -> Result<Self, PipelineError> {
        let mode = snap.mode.unwrap_or(SnapshotMode::Initial);
        let mut progress = stored.and_then(|c| c.snapshot.clone());
        let (mut stored_lsn, mut resume_tx) = match stored.map(|c| &c.position) {
            None => (None, None),
            Some(SourcePosition::Postgres { lsn, tx }) => (Some(*lsn), *tx),
            Some(other) => {
                return Err(PipelineError::new(ErrorKind::WrongSource, format!(
                    "the stored position ({other}) is not a PostgreSQL position: this offsets directory belongs to another source; use another topic_prefix or run `logtap reset`"
                )))
            }
        };
        let sql = catalog::connect(&cfg).await?;
        let signal_table = snap.signal_data_collection.as_deref();
        if let Some(t) = signal_table {
            let (schema, name) = t.split_once('.').unwrap_or(("public", t));
            if catalog::snapshot_table(&sql, schema, name).await?.is_none() {
                return Err(PipelineError::new(ErrorKind::ServerSetup, format!(
                    "snapshot.signal_data_collection `{t}` does not exist: CREATE TABLE {} (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)); \
                     and give logtap's role INSERT and DELETE on it (and ownership, for publication_autocreate_mode = \"filtered\")",
                    crate::snapshot::quote_ident(schema) + "." + &crate::snapshot::quote_ident(name)
                )));
            }
        }
        let standby = catalog::in_recovery(&sql).await?;
        crate::check::preflight(&sql, &cfg, standby).await?;
        catalog::ensure_publication(&sql, &cfg, signal_table, standby).await?;
        let params = ConnectParams {
            host: cfg.host.clone(),
            port: cfg.port,
            user: cfg.user.clone(),
            password: cfg.password.clone(),
            database: cfg.database.clone(),
            application_name: format!("logtap-{}", cfg.slot_name),
            connect_timeout: Duration::from_secs(10),
            sslmode: cfg.sslmode,
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
                return Err(PipelineError::new(ErrorKind::WrongSource, format!(
                    "the stored position belongs to `{stored_id}`, but this configuration reads `{source_id}`: \
                     applying it to another server or slot could skip changes. Use another topic_prefix or offsets.path \
                     for the new source, or run `logtap reset` to start over"
                )));
            }
        }
        if standby && version < 160000 {
            return Err(PipelineError::new(ErrorKind::Unsupported, format!(
                "the server is a standby (pg_is_in_recovery()) and PostgreSQL {version}: logical decoding on a standby needs PostgreSQL 16 or later; \
                 point postgres.host at the primary, or upgrade"
            )));
        }
        if standby {
            tracing::info!(server_version = version, "the server is a standby: nothing is written to it, snapshot chunks close at its replay position");
        }
        if version < 140000 && signal_table.is_none() {
            tracing::warn!(
                server_version = version,
                "PostgreSQL before 14 and no snapshot.signal_data_collection: snapshots are unavailable"
            );
        }
        let slot = &cfg.slot_name;
        // The server never sends anything before this point; keepalives
        // below it (sent while it rewinds to restart_lsn) are not progress.
        let mut info = catalog::slot_info(&sql, slot).await?;
        if let Some(info) = &info {
            if info.plugin.as_deref() != Some("pgoutput") {
                return Err(PipelineError::new(ErrorKind::ServerSetup, format!(
                    "replication slot `{slot}` uses plugin {:?}, not pgoutput: drop it (SELECT pg_drop_replication_slot('{slot}')) or set postgres.slot_name to another name",
                    info.plugin
                )));
            }
            if info.database.as_deref() != Some(cfg.database.as_str()) {
                return Err(PipelineError::new(ErrorKind::ServerSetup, format!(
                    "replication slot `{slot}` belongs to database {:?}, not `{}`: set postgres.slot_name to another name",
                    info.database, cfg.database
                )));
            }
            if let Some(pid) = info.active_pid {
                return Err(PipelineError::new(ErrorKind::SlotInUse, format!(
                    "replication slot `{slot}` is in use by server process {pid} (another logtap, or a stale connection): stop it, or SELECT pg_terminate_backend({pid})"
                )));
            }
        }
        // Is the stored position still there to resume from?
        let gone = match (&info, stored_lsn) {
            (Some(i), _) if i.wal_status.as_deref() == Some("lost") => Some(format!(
                "replication slot `{slot}` has lost required WAL (wal_status = lost, max_slot_wal_keep_size exceeded): changes are gone"
            )),
            (Some(i), Some(stored)) if i.confirmed_flush_lsn.is_some_and(|c| c > stored) => Some(format!(
                "replication slot `{slot}` has confirmed {}, past logtap's stored position {stored}: the changes between were consumed by another client and cannot be replayed",
                i.confirmed_flush_lsn.unwrap_or(stored)
            )),
            (None, Some(stored)) => Some(format!(
                "replication slot `{slot}` does not exist, but logtap has a stored position ({stored}): the slot was dropped and changes since then may be lost"
            )),
            _ => None,
        };
        if let Some(why) = gone {
            if mode != SnapshotMode::WhenNeeded {
                return Err(PipelineError::new(ErrorKind::PositionLost, format!(
                    "{why}; to start over run `logtap reset` (a new snapshot brings the tables back), or set [snapshot] mode = \"when_needed\" to do that by itself"
                )));
            }
            tracing::warn!(slot = %slot, "{why}; snapshot mode when_needed: starting over with a new slot and a new snapshot");
            if info.is_some() {
                sql.execute("SELECT pg_drop_replication_slot($1)", &[&slot.as_str()])
                    .await
                    .map_err(|e| {
                        catalog::sql_err(&format!("dropping replication slot `{slot}`"), e)
                    })?;
                info = None;
            }
            stored_lsn = None;
            resume_tx = None;
            progress = None;
        }
        let plan = snapshot::plan(mode, stored_lsn.is_some(), progress.as_ref());
        // The server never sends anything before this point; keepalives
        // below it (sent while it rewinds to restart_lsn) are not progress.
        let slot_floor: Lsn = match info {
            Some(info) => {
                if stored_lsn.is_none() {
                    tracing::info!(slot = %slot, confirmed = %info.confirmed_flush_lsn.map_or("-".into(), |l| l.to_string()), "reusing existing slot without a stored position: streaming from its confirmed position");
                }
                info.confirmed_flush_lsn.unwrap_or(Lsn(0))
            }
            None => {
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
        let snapshot = match plan {
            SnapshotPlan::None => None,
            _ if version < 140000 && signal_table.is_none() => {
                return Err(PipelineError::new(ErrorKind::Unsupported, format!(
                    "snapshot mode {mode} needs PostgreSQL 14 or later (its watermarks are logical decoding messages) or, on this server ({version}), \
                     a signal table for them: set [snapshot] signal_data_collection (Debezium's table: id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)); \
                     or set [snapshot] mode = \"no_data\" to stream changes only"
                )))
            }
            SnapshotPlan::Resume(mut p) => {
                tracing::info!(tables = ?p.pending_tables, last_key = ?p.last_key, "resuming the snapshot");
                let before = p.pending_tables.clone();
                p.pending_tables.retain(|t| t.split_once('.').is_some_and(|(s, n)| cfg.captures(s, n)));
                if p.pending_tables.first() != before.first() {
                    p.last_key = None;
                    p.rows_done = 0;
                }
                for t in before.iter().filter(|t| !p.pending_tables.contains(t)) {
                    tracing::warn!(table = %t, "no longer captured (table_include_list changed): its snapshot is dropped");
                }
                Some(p)
            }
            SnapshotPlan::Full => {
                let tables: Vec<String> = catalog::publication_tables(&sql, &cfg.publication_name)
                    .await?
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|t| t.split_once('.').is_some_and(|(s, n)| cfg.captures(s, n)))
                    .collect();
                tracing::info!(mode = %mode, tables = ?tables, "snapshotting");
                Some(SnapshotProgress { pending_tables: tables, ..Default::default() })
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
        tracing::info!(slot = %slot, start = %start, proto_version = proto, "streaming");
        // What the slot already has confirmed counts as flushed from the
        // start: a new slot (its consistent point) or one reused without a
        // stored position. Reported as 0/0 instead, a server with no WAL
        // after the slot's point could never shut down cleanly: its
        // walsender waits for the client to confirm everything it sent, and
        // a keepalive at the start position is no progress to store.
        let flushed = Arc::new(AtomicU64::new(start.0.max(slot_floor.0)));
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
        let opts = TypeOptions::from_config(&cfg);
        let decoder = Decoder::new(proto).map_err(|e| PipelineError::internal(e.to_string()))?;
        let mut m = PgMachine::new(cfg.clone(), prefix, decoder, opts, start.0.max(slot_floor.0));
        m.resume_inside(resume_tx);
        let marks = match signal_table {
            _ if standby => Some(Watermarks::Replay),
            _ if version >= 140000 => Some(Watermarks::Messages),
            Some(t) => Some(Watermarks::Table(
                t.split_once('.')
                    .map(|(s, n)| {
                        format!(
                            "{}.{}",
                            crate::snapshot::quote_ident(s),
                            crate::snapshot::quote_ident(n)
                        )
                    })
                    .unwrap_or_default(),
            )),
            None => None,
        };
        if marks.is_some() {
            m.snapshot_setup(SnapSetup {
                signal_table: signal_table
                    .and_then(|t| t.split_once('.'))
                    .map(|(s, n)| logtap_core::TableId::new(s, n)),
                slot: slot.clone(),
                run: snapshot::run_id(),
                chunk_size: snap.chunk_size,
                next_chunk: 1,
                replay: standby,
            });
        }
        if let Some(progress) = snapshot {
            m.start_snapshot(progress);
        }
        Ok(PostgresSource {
            m,
            chunks: None,
            marks: marks.unwrap_or(Watermarks::Messages),
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
        loop {
            let Some(chunks) = &mut self.chunks else { return Ok(()) };
            match chunks.poll() {
                Polled::Report(msg) => {
                    self.chunk_msg(Some(msg))?;
                    continue;
                }
                Polled::Ended => return self.chunk_msg(None),
                Polled::Wait => return Ok(()),
                Polled::Ready => {}
            }
            match self.m.snapshot_step()? {
                SnapStep::Idle => {
                    if !self.m.snapshot_running() {
                        // Closes the snapshot's connection.
                        self.chunks = None;
                    }
                    return Ok(());
                }
                SnapStep::Describe { schema, table } => {
                    let found = catalog::snapshot_table(&self.sql, &schema, &table).await?;
                    while let Some(need) = self.m.snapshot_table_read(found.clone())? {
                        self.answer(need).await?;
                    }
                }
                SnapStep::Chunk(req) => {
                    let Some(chunks) = &mut self.chunks else { return Ok(()) };
                    if !chunks.request(req, self.chunk_delay) {
                        return self.chunk_msg(None);
                    }
                    return Ok(());
                }
            }
        }
    }

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
