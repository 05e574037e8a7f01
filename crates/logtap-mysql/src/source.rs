//! The MySQL/MariaDB source's driver: connects, works out where to start,
//! owns the binlog stream and the catalog connection, and feeds the state
//! machine (`machine.rs`), which turns events into change events and
//! checkpoints (its documentation has the position model).
//!
//! # Reading
//!
//! A task owns the binlog connection: it reads events (mysql_async decodes
//! the framing, mysql_common the event header and the FORMAT_DESCRIPTION;
//! compressed transaction payloads come expanded), verifies each CRC32
//! (mysql_common does not), and hands them over a channel bounded by count
//! and bytes, so a slow Kafka stops the reading (invariant 4). The server
//! is asked for heartbeats; a connection silent for three periods is
//! presumed dead and the source reconnects (the binary retries from the
//! stored position).
//!

use crate::catalog;
use crate::catalog::TableCatalog;
use crate::config::MysqlConfig;
use crate::conn::{self, Flavor, ServerInfo};
use crate::machine::snapshot::SnapSetup;
use crate::machine::{rotate_of, BinlogMachine, Gtids, Need, Start};
use crate::snapshot::ChunkMsg;
use crate::snapshot::Marks;
use crate::start;
use logtap_core::chunks::{ChunkRequest, SnapStep};
use logtap_core::snapshot::{SnapshotConfig, SnapshotMode, SnapshotPlan};
use logtap_core::traits::{Source, SourceItem};
use logtap_core::ErrorKind;
use logtap_core::PipelineError;
use logtap_core::SourcePosition;
use logtap_core::{Checkpoint, SnapshotProgress, TableId};
use logtap_runtime::chunks::ChunkTask;
use mysql_async::binlog::events::Event;
use mysql_async::binlog::EventType;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

pub use crate::machine::source_schema;

/// Bytes of binlog events read ahead of the pipeline, at most (invariant 4).
const READ_AHEAD_BYTES: usize = 16 * 1024 * 1024;
/// Events read ahead, at most.
const READ_AHEAD_EVENTS: usize = 4096;

/// MariaDB: the replica capability that makes the server send GTID,
/// GTID_LIST and BINLOG_CHECKPOINT events as themselves.
const MARIA_SLAVE_CAPABILITY_GTID: u8 = 4;

/// What the reader task sends: an event with the read-ahead budget it holds.
type Read = Result<(Event, OwnedSemaphorePermit), PipelineError>;

/// See the module documentation.
pub struct MysqlSource {
    cfg: MysqlConfig,
    info: ServerInfo,
    rx: mpsc::Receiver<Read>,
    /// The reader task (taken when it is awaited after it stopped).
    task: Option<tokio::task::JoinHandle<()>>,
    source_id: String,
    /// The connection the catalog is read on, opened when first needed.
    catalog_conn: Option<mysql_async::Conn>,
    /// An event received but not processed yet (see `next`).
    held: Option<(Event, OwnedSemaphorePermit)>,
    /// The state machine the events go through.
    m: BinlogMachine,
    /// The snapshot's chunk reader, while a snapshot runs.
    chunks: Option<Chunks>,
    /// `[snapshot] chunk_delay_ms`.
    chunk_delay: Duration,
    /// `initial_only`: the source ends once the snapshot is read.
    stop_when_done: bool,
    /// How the chunk task marks a chunk's window.
    marks: Marks,
}

/// The task reading chunks (`snapshot.rs`) and its pacing.
type Chunks = ChunkTask<ChunkRequest, ChunkMsg>;

impl std::fmt::Debug for MysqlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlSource")
            .field("file", &self.m.file)
            .field("pos", &self.m.pos)
            .finish_non_exhaustive()
    }
}

impl Drop for MysqlSource {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}
/// This server's identity, which the stored position is checked against.
async fn source_id(
    cfg: &MysqlConfig,
    info: &ServerInfo,
    sql: &mut mysql_async::Conn,
) -> Result<String, PipelineError> {
    Ok(match info.flavor {
        Flavor::Mariadb => format!("mariadb server_id {}", info.server_id),
        Flavor::Mysql => {
            let uuid = conn::query_text(sql, "SELECT @@server_uuid")
                .await
                .map_err(|e| conn::classify(cfg, &e))?
                .unwrap_or_default();
            format!("mysql server_uuid {uuid}")
        }
    })
}

/// A read-only MySQL (a replica) cannot take watermark rows.
async fn read_only(
    cfg: &MysqlConfig,
    info: &ServerInfo,
    sql: &mut mysql_async::Conn,
) -> Result<bool, PipelineError> {
    if info.flavor != Flavor::Mysql {
        return Ok(false);
    }
    let v = conn::query_text(sql, "SELECT @@GLOBAL.read_only OR @@GLOBAL.super_read_only")
        .await
        .map_err(|e| conn::classify(cfg, &e))?;
    Ok(v.is_some_and(|v| v == "1"))
}

/// The server's current end. Its GTID state is read around SHOW MASTER
/// STATUS until it is the same before and after, so the two describe the
/// same point.
async fn server_end(
    cfg: &MysqlConfig,
    info: &ServerInfo,
    sql: &mut mysql_async::Conn,
) -> Result<Start, PipelineError> {
    let use_gtid = cfg.use_gtid && info.gtid_enabled;
    let gtid_var = match info.flavor {
        Flavor::Mariadb => "SELECT @@GLOBAL.gtid_binlog_pos",
        Flavor::Mysql => "SELECT @@GLOBAL.gtid_executed",
    };
    for _ in 0..20 {
        let before = if use_gtid {
            conn::query_text(sql, gtid_var).await.map_err(|e| conn::classify(cfg, &e))?
        } else {
            None
        };
        let end = conn::binlog_end(cfg, sql).await?.ok_or_else(|| {
            PipelineError::new(ErrorKind::ServerSetup, format!(
                "MySQL/MariaDB at {}:{}: binary logging is off (log_bin = OFF); set log-bin in the server's configuration and restart it",
                cfg.host, cfg.port
            ))
        })?;
        let after = if use_gtid {
            conn::query_text(sql, gtid_var).await.map_err(|e| conn::classify(cfg, &e))?
        } else {
            None
        };
        if before == after {
            let gtids = match before {
                Some(g) => start::parse_gtids(
                    info.flavor,
                    &g.replace('\n', ""),
                    "the server's GTID position",
                )?,
                None => Gtids::None,
            };
            return Ok(Start { file: end.0, pos: end.1, gtids, skip: None, skip_debezium: false });
        }
    }
    Err(PipelineError::connection(
        "the server's GTID position kept moving while logtap read its binlog position; retrying",
    ))
}

/// Starts the planned snapshot on `m`: a stored one resumed without the
/// tables no longer captured, or every captured table (read on a catalog
/// connection of its own, returned for later catalog reads).
async fn start_snapshot(
    m: &mut BinlogMachine,
    plan: SnapshotPlan,
    cfg: &MysqlConfig,
    snap: &SnapshotConfig,
    mode: SnapshotMode,
) -> Result<Option<mysql_async::Conn>, PipelineError> {
    match plan {
        SnapshotPlan::None => Ok(None),
        SnapshotPlan::Resume(p) => {
            m.start_snapshot(p.resumed(|d, n| cfg.captures(d, n)), snap.chunk_size);
            Ok(None)
        }
        SnapshotPlan::Full => {
            let mut c = conn::connect(cfg).await?;
            let signal = snap.signal_data_collection.clone().unwrap_or_default();
            let tables = catalog::captured_tables(&mut c, |d, t| {
                cfg.captures(d, t) && !signal.eq_ignore_ascii_case(&format!("{d}.{t}"))
            })
            .await
            .map_err(|e| conn::classify(cfg, &e))?;
            tracing::info!(mode = %mode, tables = ?tables, "snapshotting");
            let progress = SnapshotProgress { pending_tables: tables, ..Default::default() };
            m.start_snapshot(progress, snap.chunk_size);
            Ok(Some(c))
        }
    }
}

impl MysqlSource {
    /// Connects, works out where to start (the stored position, else the
    /// configured initial one, else the server's current end) and starts
    /// the binlog stream.
    pub async fn start(
        cfg: MysqlConfig,
        prefix: &str,
        stored: Option<&Checkpoint>,
        stored_id: Option<&str>,
        snap: &SnapshotConfig,
    ) -> Result<Self, PipelineError> {
        let mode = snap.mode.unwrap_or(SnapshotMode::NoData);
        let mut sql = conn::connect(&cfg).await?;
        let info = conn::server_info(&cfg, &mut sql).await?;
        crate::check::preflight(&cfg, &mut sql, &info).await?;
        let server_id = cfg.effective_server_id(prefix);
        if server_id == info.server_id {
            return Err(PipelineError::config(format!(
                "mysql.server_id {server_id} is the server's own @@server_id; set [mysql] server_id to a number no server or replica uses"
            )));
        }
        let source_id = source_id(&cfg, &info, &mut sql).await?;
        let position = stored.map(|c| &c.position);
        let wants_files = mode == SnapshotMode::WhenNeeded && position.is_some();
        let files =
            if wants_files { Some(conn::binlog_files(&cfg, &mut sql).await?) } else { None };
        let from = start::position(&start::Found {
            mode,
            stored: position,
            stored_id,
            source_id: &source_id,
            flavor: info.flavor,
            use_gtid: cfg.use_gtid && info.gtid_enabled,
            gtid_enabled: info.gtid_enabled,
            initial_gtid: cfg.initial_gtid.as_deref(),
            initial_binlog: cfg.initial_binlog_position(),
            binlog_files: files.as_deref(),
        })?;
        let kept = !matches!(from, start::From::ServerEnd { starting_over: true });
        let start = match from {
            start::From::Stored(s) | start::From::Configured(s) => s,
            start::From::ServerEnd { .. } => server_end(&cfg, &info, &mut sql).await?,
        };
        tracing::info!(
            server = %info.version, file = %start.file, pos = start.pos,
            gtid = start.gtids.text().as_deref().unwrap_or("-"), skip = ?start.skip,
            server_id, "starting the binlog stream"
        );
        let signal_table = snap
            .signal_data_collection
            .as_deref()
            .and_then(|t| t.split_once('.'))
            .map(|(d, t)| TableId::new(d, t));
        let (plan, marks) = start::snapshot(&start::SnapshotFound {
            mode,
            stored: kept && position.is_some(),
            progress: stored.and_then(|c| c.snapshot.clone()).filter(|_| kept),
            flavor: info.flavor,
            signal_table: signal_table.as_ref(),
            read_only: read_only(&cfg, &info, &mut sql).await?,
            mysql_gtids: matches!(start.gtids, Gtids::Mysql(_)),
            run: logtap_runtime::run_id(),
            prefix,
        })?;
        let stream = Self::open_stream(&cfg, &info, sql, server_id, &start).await?;
        let (tx, rx) = mpsc::channel(READ_AHEAD_EVENTS);
        let idle = (cfg.heartbeat_interval_ms > 0)
            .then(|| Duration::from_millis(cfg.heartbeat_interval_ms.saturating_mul(3)));
        let checksum = !info.checksum.eq_ignore_ascii_case("NONE");
        let where_ = format!("{}:{}", cfg.host, cfg.port);
        let task = tokio::spawn(read_loop(stream, tx, idle, checksum, where_));
        let clock = Arc::new(logtap_runtime::SystemClock);
        let mut m = BinlogMachine::new(cfg.clone(), prefix, info.flavor, start, checksum, clock);
        let chunk_marks = marks.as_ref().map_or(Marks::ReadView, |(_, m)| m.clone());
        if let Some((watermarks, _)) = marks {
            m.snapshot_setup(SnapSetup { chunk_size: snap.chunk_size, signal_table, watermarks });
        }
        let catalog_conn = start_snapshot(&mut m, plan, &cfg, snap, mode).await?;
        Ok(MysqlSource {
            m,
            rx,
            task: Some(task),
            source_id,
            catalog_conn,
            held: None,
            info,
            cfg,
            chunks: None,
            chunk_delay: Duration::from_millis(snap.chunk_delay_ms),
            stop_when_done: mode == SnapshotMode::InitialOnly,
            marks: chunk_marks,
        })
    }

    /// What the chunk task reported.
    fn chunk_msg(&mut self, msg: Option<ChunkMsg>) -> Result<(), PipelineError> {
        match msg {
            Some(ChunkMsg::Rows { chunk, rows, at, ack }) => {
                self.m.snapshot_rows(chunk, rows, at)?;
                // The high watermark row may be written now.
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
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
            let c = crate::snapshot::connect(&self.cfg).await?;
            let (tx, rx, task) = crate::snapshot::spawn(self.cfg.clone(), c, self.marks.clone());
            self.chunks = Some(Chunks::new(tx, rx, task));
        }
        logtap_runtime::chunks::drive(&mut Driver(self)).await
    }

    /// A table's catalog and estimated rows, for its snapshot.
    async fn describe(&mut self, id: &TableId) -> Result<(TableCatalog, u64), PipelineError> {
        let mariadb = self.info.flavor == Flavor::Mariadb;
        let mut c = match self.catalog_conn.take() {
            Some(c) => c,
            None => conn::connect(&self.cfg).await?,
        };
        let read = async {
            let catalog = catalog::fetch(&mut c, mariadb, &id.namespace, &id.table).await?;
            let estimate = catalog::estimated_rows(&mut c, &id.namespace, &id.table).await?;
            Ok::<_, mysql_async::Error>((catalog, estimate))
        }
        .await
        .map_err(|e| {
            let mut e = conn::classify(&self.cfg, &e);
            e.message = format!("reading the catalog of table {id} to snapshot it: {}", e.message);
            e
        })?;
        self.catalog_conn = Some(c);
        Ok(read)
    }

    async fn open_stream(
        cfg: &MysqlConfig,
        info: &ServerInfo,
        mut sql: mysql_async::Conn,
        server_id: u32,
        start: &Start,
    ) -> Result<BinlogStream, PipelineError> {
        let q = |e: mysql_async::Error| conn::classify(cfg, &e);
        if cfg.heartbeat_interval_ms > 0 {
            let ns = cfg.heartbeat_interval_ms.saturating_mul(1_000_000);
            let var = match info.flavor {
                Flavor::Mariadb => "master_heartbeat_period",
                Flavor::Mysql => "source_heartbeat_period",
            };
            sql.query_drop(format!("SET @{var} = {ns}")).await.map_err(q)?;
            if info.flavor == Flavor::Mysql {
                // Servers before 8.0.26 only know the old name.
                sql.query_drop(format!("SET @master_heartbeat_period = {ns}")).await.map_err(q)?;
            }
        }
        let mut request = BinlogStreamRequest::new(server_id);
        let sids;
        match (&start.gtids, info.flavor) {
            (Gtids::Mariadb(p), _) => {
                sql.query_drop(format!(
                    "SET @mariadb_slave_capability = {MARIA_SLAVE_CAPABILITY_GTID}"
                ))
                .await
                .map_err(q)?;
                sql.query_drop(format!("SET @slave_connect_state = {}", sql_quote(&p.to_string())))
                    .await
                    .map_err(q)?;
                sql.query_drop("SET @slave_gtid_strict_mode = 0").await.map_err(q)?;
                sql.query_drop("SET @slave_gtid_ignore_duplicates = 0").await.map_err(q)?;
                request = request.with_filename(b"").with_pos(4u64);
            }
            (Gtids::Mysql(set), _) if !set.is_empty() => {
                sids = set.to_sids();
                request = request.with_gtid().with_gtid_set(sids).with_filename(b"").with_pos(4u64);
            }
            (Gtids::None | Gtids::Mysql(_), flavor) => {
                if flavor == Flavor::Mariadb {
                    sql.query_drop(format!(
                        "SET @mariadb_slave_capability = {MARIA_SLAVE_CAPABILITY_GTID}"
                    ))
                    .await
                    .map_err(q)?;
                }
                request = request.with_filename(start.file.as_bytes()).with_pos(start.pos);
            }
        }
        sql.get_binlog_stream(request).await.map_err(|e| stream_error(cfg, &e, start))
    }
    /// Answers a [`Need`].
    async fn answer(&mut self, need: Need) -> Result<(), PipelineError> {
        let id = match need {
            Need::Catalog(id) => id,
            Need::Ddl(file, start, ids) => {
                self.m.ddl_catalogs_reading();
                for id in ids {
                    Box::pin(self.answer(Need::Catalog(id))).await?;
                }
                self.m.ddl_catalogs_read(file, start);
                return Ok(());
            }
        };
        let mariadb = self.info.flavor == Flavor::Mariadb;
        // The connection is taken out while in use: cancelled mid-query, it
        // is dropped rather than reused with a result half read. A kept
        // connection may have died while idle (wait_timeout, KILL): it is
        // given up for a new one once before the error counts.
        let mut kept = self.catalog_conn.take();
        loop {
            let reused = kept.is_some();
            let mut conn = match kept.take() {
                Some(c) => c,
                None => conn::connect(&self.cfg).await?,
            };
            match catalog::fetch(&mut conn, mariadb, &id.namespace, &id.table).await {
                Ok(c) => {
                    self.m.catalog_read(id, c);
                    self.catalog_conn = Some(conn);
                    return Ok(());
                }
                Err(e) if reused => {
                    tracing::debug!(error = %e, "the catalog connection failed; reading on a new one");
                }
                Err(e) => {
                    let mut e = conn::classify(&self.cfg, &e);
                    e.message = format!(
                        "reading the catalog (information_schema) of table {id}: {}",
                        e.message
                    );
                    return Err(e);
                }
            }
        }
    }
}

/// A server error while starting or reading the stream, with what to do.
fn stream_error(cfg: &MysqlConfig, e: &mysql_async::Error, start: &Start) -> PipelineError {
    if let mysql_async::Error::Server(s) = e {
        if s.code == 1236 {
            let at = match start.gtids.text() {
                Some(g) => format!("GTID position {g}"),
                None => format!("binlog {}:{}", start.file, start.pos),
            };
            return PipelineError::new(ErrorKind::PositionLost, format!(
                "the server cannot send the binlog from {at}: {} (error 1236). The binlog there was probably purged (see SHOW BINARY LOGS and binlog_expire_logs_seconds / expire_logs_days). Changes since then cannot be read any more: to start over from the current end of the binlog, run `logtap reset` (the changes in between are lost: on MariaDB set [snapshot] mode = \"when_needed\" to have logtap start over with a new snapshot instead), or set mysql.initial_gtid / initial_binlog to a point the server still has",
                s.message
            ));
        }
    }
    conn::classify(cfg, e)
}

/// Owns the binlog stream: verifies and forwards events until the stream
/// ends, fails, or goes silent for longer than `idle`.
async fn read_loop(
    mut stream: BinlogStream,
    tx: mpsc::Sender<Read>,
    idle: Option<Duration>,
    checksum: bool,
    server: String,
) {
    use futures_util::StreamExt;
    let budget = Arc::new(Semaphore::new(READ_AHEAD_BYTES));
    let mut last = (String::new(), 0u32);
    loop {
        let next = match idle {
            Some(t) => match tokio::time::timeout(t, stream.next()).await {
                Ok(n) => n,
                Err(_) => {
                    let _ = tx
                        .send(Err(PipelineError::connection(format!(
                            "binlog stream from {server}: no event and no heartbeat for {} ms, the connection is presumed dead",
                            t.as_millis()
                        ))))
                        .await;
                    return;
                }
            },
            None => stream.next().await,
        };
        let ev = match next {
            None => {
                let _ = tx
                    .send(Err(PipelineError::connection(format!(
                        "binlog stream from {server}: the server ended the stream (after {}:{})",
                        last.0, last.1
                    ))))
                    .await;
                return;
            }
            Some(Err(e)) => {
                let err = match &e {
                    mysql_async::Error::Server(s) if s.code == 1236 => PipelineError::new(ErrorKind::PositionLost, format!(
                        "binlog stream from {server}: {} (error 1236, after {}:{}). The binlog there is gone or unreadable (purged?): run `logtap reset` to start over from the current end (changes in between are lost), or set mysql.initial_gtid / initial_binlog",
                        s.message, last.0, last.1
                    )),
                    _ => PipelineError::new(conn::error_kind(&e), format!(
                        "binlog stream from {server} (after {}:{}): {e}",
                        last.0, last.1
                    )),
                };
                let _ = tx.send(Err(err)).await;
                return;
            }
            Some(Ok(ev)) => ev,
        };
        let header = ev.header();
        if header.event_type_raw() == EventType::ROTATE_EVENT as u8 {
            if let Some((file, _)) = rotate_of(&ev, checksum) {
                last.0 = file;
            }
        }
        if header.log_pos() != 0 {
            last.1 = header.log_pos();
        }
        if checksum {
            // Events expanded from a compressed payload have no checksum of
            // their own (mysql_common still reports one of zeros).
            if let Some(sum) = ev.checksum().filter(|_| ev.footer().get_checksum_enabled()) {
                let alg = mysql_async::binlog::BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32;
                if ev.calc_checksum(alg) != u32::from_le_bytes(sum) {
                    let _ = tx
                        .send(Err(PipelineError::connection(format!(
                            "binlog stream from {server}: event of type {} ending at {}:{} fails its CRC32 check; reconnecting to read it again",
                            header.event_type_raw(),
                            last.0,
                            header.log_pos()
                        ))))
                        .await;
                    return;
                }
            }
        }
        let size = (header.event_size() as usize).clamp(1, READ_AHEAD_BYTES);
        let Ok(permit) = budget.clone().acquire_many_owned(size as u32).await else { return };
        if tx.send(Ok((ev, permit))).await.is_err() {
            return;
        }
    }
}

impl Source for MysqlSource {
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
            // Cancel-safe: `recv` loses nothing when cancelled, an event
            // received is held until it is processed (answering what it
            // needs awaits), and processing does not await.
            if let Some(held) = &self.held {
                if let Some(need) = self.m.need(&held.0) {
                    self.answer(need).await?;
                }
                if let Some((ev, _permit)) = self.held.take() {
                    self.m.process(&ev)?;
                }
                continue;
            }
            let received = tokio::select! {
                r = self.rx.recv() => r,
                event = Chunks::event(&mut self.chunks) => {
                    if let Some(msg) = event {
                        self.chunk_msg(msg)?;
                    }
                    continue;
                }
            };
            let read = match received {
                Some(r) => r,
                None => Err(match self.task.take() {
                    Some(task) => match task.await {
                        Err(e) if e.is_panic() => PipelineError::decode(format!(
                            "the binlog reader failed on bytes it could not parse after {}:{} (a panic in the event decoder: {e})",
                            self.m.file, self.m.pos
                        )),
                        _ => PipelineError::connection("the binlog reader task stopped"),
                    },
                    None => PipelineError::connection("the binlog reader task stopped"),
                }),
            };
            self.held = Some(read?);
        }
    }

    async fn committed(&mut self, _position: &SourcePosition) -> Result<(), PipelineError> {
        Ok(())
    }

    fn source_id(&self) -> Option<String> {
        Some(self.source_id.clone())
    }

    async fn close(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }

    /// On the catalog connection (taken out while in use, as there); a kept
    /// connection that died while idle is replaced once.
    async fn heartbeat_action(&mut self, sql: &str) -> Result<(), PipelineError> {
        let mut kept = self.catalog_conn.take();
        loop {
            let reused = kept.is_some();
            let mut conn = match kept.take() {
                Some(c) => c,
                None => conn::connect(&self.cfg).await?,
            };
            match conn.query_drop(sql).await {
                Ok(()) => {
                    self.catalog_conn = Some(conn);
                    return Ok(());
                }
                Err(e) if reused && conn::error_kind(&e) == ErrorKind::Connection => {
                    tracing::debug!(error = %e, "the catalog connection failed; heartbeat on a new one");
                }
                Err(e) => {
                    let mut e = conn::classify(&self.cfg, &e);
                    e.message = format!("heartbeat.action_query: {}", e.message);
                    return Err(e);
                }
            }
        }
    }

    /// Binlog bytes after the position read so far: the rest of the current
    /// file and every later one (`SHOW BINARY LOGS`, on the catalog
    /// connection). `None` when the files cannot be listed (no privilege, a
    /// lost connection: the stream reports that itself) or the current
    /// file is not among them.
    async fn lag_bytes(&mut self) -> Option<i64> {
        let mut conn = match self.catalog_conn.take() {
            Some(c) => c,
            None => conn::connect(&self.cfg).await.ok()?,
        };
        let files: Vec<(String, u64)> = conn
            .query_map("SHOW BINARY LOGS", |row: mysql_async::Row| {
                (row.get::<String, _>(0).unwrap_or_default(), row.get::<u64, _>(1).unwrap_or(0))
            })
            .await
            .ok()?;
        self.catalog_conn = Some(conn);
        binlog_lag(&files, &self.m.file, self.m.pos)
    }
}

/// See [`MysqlSource::lag_bytes`]: file names sort in binlog order (their
/// numeric suffix is zero-padded).
fn binlog_lag(files: &[(String, u64)], file: &str, pos: u64) -> Option<i64> {
    let current = files.iter().find(|(name, _)| name == file)?.1;
    let later: u64 = files.iter().filter(|(name, _)| name.as_str() > file).map(|(_, n)| n).sum();
    Some((current.saturating_sub(pos) + later) as i64)
}

/// The source as the snapshot's drive loop sees it.
struct Driver<'a>(&'a mut MysqlSource);

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

    async fn describe(&mut self, table: TableId) -> Result<(), PipelineError> {
        let (catalog, estimate) = self.0.describe(&table).await?;
        self.0.m.snapshot_table_read(table, catalog, estimate)
    }

    fn chunk_delay(&self) -> Duration {
        self.0.chunk_delay
    }
}

#[cfg(test)]
mod lag_tests {
    #[test]
    fn lag_is_the_rest_of_the_file_and_the_later_ones() {
        let files =
            [("b.000001".to_string(), 500), ("b.000002".into(), 300), ("b.000003".into(), 100)];
        assert_eq!(super::binlog_lag(&files, "b.000002", 120), Some(180 + 100));
        assert_eq!(super::binlog_lag(&files, "b.000003", 100), Some(0));
        assert_eq!(super::binlog_lag(&files, "b.000000", 4), None, "purged: unknown");
    }
}
