//! The MySQL/MariaDB source: a binlog stream (COM_BINLOG_DUMP, or
//! COM_BINLOG_DUMP_GTID on MySQL) turned into change events.
//!
//! # Positions
//!
//! Every row change is followed by a checkpoint that says how to get back
//! to just after it: the position *before* its transaction (GTID set or
//! binlog file/position of the transaction's first event) plus how many
//! ROWS events of that transaction, and rows of the next one, were already
//! sent. Each commit (XID, or the COMMIT query of a non-transactional
//! group, or a DDL statement) is a checkpoint after the transaction with
//! nothing to skip. The pipeline stores a checkpoint only once Kafka has
//! acknowledged every record before it, so after a crash the source
//! replays the transaction from its start and skips exactly the rows
//! already acknowledged: the only duplicates are unacknowledged ones.
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
//! # Schemas
//!
//! Columns come from each TABLE_MAP's optional metadata
//! (`binlog_row_metadata = FULL`): names, primary key, signedness,
//! character sets, ENUM/SET labels. A TABLE_MAP is written before every
//! ROWS event of a table, so an ALTER TABLE mid-stream is seen on the
//! next row with no DDL parsing and no schema history.

use crate::catalog::{self, TableCatalog};
use crate::config::MysqlConfig;
use crate::conn::{self, Flavor, ServerInfo};
use crate::ddl::{self, ChangeKind, Ddl};
use crate::mariadb::{
    decode_mariadb_event_body, EventHeader, GtidPosition, MariadbEvent, MariadbGtid, MysqlGtid,
    MysqlGtidSet,
};
use crate::schema_change::SchemaChangeSchemas;
use crate::types::{column_schema, table_columns, ColumnConversion, ColumnType, TableColumns};
use logtap_core::event::{key_change_headers, now_us, ChangeEvent, Op, RecordNames, TableId};
use logtap_core::schema::{Field, Schema, Struct, Value};
use logtap_core::traits::{PipelineError, Source, SourceItem};
use logtap_core::SourcePosition;
use mysql_async::binlog::events::{Event, EventData, RowsEventData, TableMapEvent};
use mysql_async::binlog::EventType;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

/// Bytes of binlog events read ahead of the pipeline, at most (invariant 4).
const READ_AHEAD_BYTES: usize = 16 * 1024 * 1024;
/// Events read ahead, at most.
const READ_AHEAD_EVENTS: usize = 4096;

/// MariaDB: the replica capability that makes the server send GTID,
/// GTID_LIST and BINLOG_CHECKPOINT events as themselves.
const MARIA_SLAVE_CAPABILITY_GTID: u8 = 4;

/// The `io.debezium.connector.mysql.Source` schema (`mariadb` for MariaDB).
pub fn source_schema(flavor: Flavor) -> Schema {
    logtap_core::event::source_schema(
        match flavor {
            Flavor::Mysql => "io.debezium.connector.mysql.Source",
            Flavor::Mariadb => "io.debezium.connector.mariadb.Source",
        },
        vec![
            Field::new("table", Schema::string().optional()),
            Field::new("server_id", Schema::int64()),
            Field::new("gtid", Schema::string().optional()),
            Field::new("file", Schema::string()),
            Field::new("pos", Schema::int64()),
            Field::new("row", Schema::int32()),
            Field::new("thread", Schema::int64().optional()),
            Field::new("query", Schema::string().optional()),
        ],
    )
}

/// The server's GTID state as far as the stream has gone.
#[derive(Debug, Clone)]
enum Gtids {
    /// File/position mode: GTIDs are not tracked.
    None,
    Mariadb(GtidPosition),
    Mysql(MysqlGtidSet),
}

impl Gtids {
    fn text(&self) -> Option<String> {
        match self {
            Gtids::None => None,
            Gtids::Mariadb(p) => Some(p.to_string()),
            Gtids::Mysql(s) => Some(s.to_string()),
        }
    }
}

/// The GTID of the transaction being read.
#[derive(Debug, Clone)]
enum TxGtid {
    Mariadb(MariadbGtid),
    Mysql(MysqlGtid),
}

impl std::fmt::Display for TxGtid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxGtid::Mariadb(g) => g.fmt(f),
            TxGtid::Mysql(g) => g.fmt(f),
        }
    }
}

/// The transaction being read.
#[derive(Debug)]
struct Tx {
    gtid: Option<TxGtid>,
    /// Where to restart to read this transaction again.
    restart: Restart,
    /// ROWS events of this transaction seen so far.
    rows_events: u64,
    thread: Option<i64>,
    /// Inside BEGIN..COMMIT (MariaDB: a GTID event that is not
    /// standalone opens it): statements other than COMMIT/ROLLBACK do not
    /// end it. A standalone group (DDL) ends with its one statement.
    open: bool,
    /// A MariaDB XA PREPARE group: its rows may still be rolled back.
    prepared_xa: bool,
}

/// The position before a transaction: where a restart reads it again.
#[derive(Debug, Clone)]
struct Restart {
    file: String,
    pos: u64,
    gtid_set: Option<String>,
}

impl Restart {
    /// The position after `skip_rows` rows of the transaction's ROWS event
    /// number `skip_events` (counted from 0).
    fn after(&self, skip_events: u64, skip_rows: u64) -> SourcePosition {
        SourcePosition::Mysql {
            file: self.file.clone(),
            pos: self.pos,
            gtid_set: self.gtid_set.clone(),
            skip_events,
            skip_rows,
        }
    }
}

/// A captured (or deliberately ignored) table, by TABLE_MAP table id.
#[derive(Debug)]
struct TableState {
    id: TableId,
    columns: Vec<ColumnConversion>,
    names: Vec<String>,
    key_idx: Vec<usize>,
    key_schema: Option<Arc<Schema>>,
    value_schema: Arc<Schema>,
    /// The TABLE_MAP's bytes this state was built from; a new TABLE_MAP
    /// for the same id with other bytes rebuilds it.
    fingerprint: Vec<u8>,
    /// The TABLE_MAP itself, which decodes the table's ROWS events (none
    /// for a table that is not captured: its rows are not decoded).
    tme: Option<TableMapEvent<'static>>,
}

/// What the reader task sends: an event with the read-ahead budget it holds.
type Read = Result<(Event, OwnedSemaphorePermit), PipelineError>;

/// See the module documentation.
pub struct MysqlSource {
    cfg: MysqlConfig,
    prefix: String,
    info: ServerInfo,
    rx: mpsc::Receiver<Read>,
    /// The reader task (taken when it is awaited after it stopped).
    task: Option<tokio::task::JoinHandle<()>>,
    tables: HashMap<u64, TableState>,
    pending: VecDeque<SourceItem>,
    /// The binlog file being read (from ROTATE events).
    file: String,
    /// End position of the last event read (its header's `log_pos`).
    pos: u64,
    /// GTID state after the last complete transaction.
    gtids: Gtids,
    tx: Option<Tx>,
    /// Rows to skip in the first transaction after a restart in the middle
    /// of one: (whole ROWS events, then rows of the next one).
    skip: Option<(u64, u64)>,
    /// Where the transaction `skip` applies to starts (file, position).
    skip_at: Option<(String, u64)>,
    /// Inside a MySQL TRANSACTION_PAYLOAD: its end position stands for the
    /// embedded events', which carry none.
    payload_end: Option<u64>,
    source_schema: Arc<Schema>,
    source_id: String,
    /// Whether events carry a CRC32 (the server's binlog_checksum).
    checksum: bool,
    /// `db.table` already warned about (no primary key), to warn once.
    warned: std::collections::HashSet<String>,
    /// What `information_schema` says about captured tables (defaults,
    /// MariaDB's UUID columns), read when a table is first mapped and
    /// again after any DDL.
    catalogs: HashMap<TableId, Arc<TableCatalog>>,
    /// The connection the catalog is read on, opened when first needed.
    catalog_conn: Option<mysql_async::Conn>,
    /// An event received but not processed yet (see `next`).
    held: Option<(Event, OwnedSemaphorePermit)>,
    /// Schemas of the schema-change records (`None`: not written).
    schema_changes: Option<SchemaChangeSchemas>,
    /// The DDL event (file, start) whose tables' catalogs were read for it.
    ddl_read: Option<(String, u64)>,
}

/// What [`MysqlSource::process`] needs answered before it can handle the
/// event it was given (it is then given the same event again).
#[derive(Debug)]
enum Need {
    Catalog(TableId),
    /// The catalogs of the tables a DDL statement (at file, start) created
    /// or altered, read afresh for its schema-change records.
    Ddl(String, u64, Vec<TableId>),
}

impl std::fmt::Debug for MysqlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlSource")
            .field("file", &self.file)
            .field("pos", &self.pos)
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

/// Where a stream starts.
#[derive(Debug)]
struct Start {
    file: String,
    pos: u64,
    gtids: Gtids,
    skip: Option<(u64, u64)>,
}

impl MysqlSource {
    /// Connects, works out where to start (the stored position, else the
    /// configured initial one, else the server's current end) and starts
    /// the binlog stream.
    pub async fn start(
        cfg: MysqlConfig,
        prefix: &str,
        stored: Option<&SourcePosition>,
        stored_id: Option<&str>,
    ) -> Result<Self, PipelineError> {
        let mut sql = conn::connect(&cfg).await?;
        let info = conn::server_info(&cfg, &mut sql).await?;
        let server_id = cfg.effective_server_id(prefix);
        if server_id == info.server_id {
            return Err(PipelineError::fatal(format!(
                "mysql.server_id {server_id} is the server's own @@server_id; set [mysql] server_id to a number no server or replica uses"
            )));
        }
        let source_id = match info.flavor {
            Flavor::Mariadb => format!("mariadb server_id {}", info.server_id),
            Flavor::Mysql => {
                let uuid = conn::query_text(&mut sql, "SELECT @@server_uuid")
                    .await
                    .map_err(|e| conn::classify(&cfg, &e))?
                    .unwrap_or_default();
                format!("mysql server_uuid {uuid}")
            }
        };
        let start = Self::start_point(&cfg, &info, &mut sql, stored).await?;
        if let (Some(old), Some(_)) = (stored_id, stored) {
            if old != source_id {
                if matches!(start.gtids, Gtids::None) {
                    return Err(PipelineError::fatal(format!(
                        "the stored position {} was taken from another server ({old}); this is {source_id}. A binlog file/position means nothing on another server: point logtap at the original one, or run `logtap reset` to start afresh",
                        stored.map(ToString::to_string).unwrap_or_default()
                    )));
                }
                tracing::warn!(stored = old, now = %source_id, "the stored GTID position was taken from another server (failover?): resuming by GTID");
            }
        }
        tracing::info!(
            server = %info.version, file = %start.file, pos = start.pos,
            gtid = start.gtids.text().as_deref().unwrap_or("-"), skip = ?start.skip,
            server_id, "starting the binlog stream"
        );
        let stream = Self::open_stream(&cfg, &info, sql, server_id, &start).await?;
        let (tx, rx) = mpsc::channel(READ_AHEAD_EVENTS);
        let idle = (cfg.heartbeat_interval_ms > 0)
            .then(|| Duration::from_millis(cfg.heartbeat_interval_ms.saturating_mul(3)));
        let checksum = !info.checksum.eq_ignore_ascii_case("NONE");
        let where_ = format!("{}:{}", cfg.host, cfg.port);
        let task = tokio::spawn(read_loop(stream, tx, idle, checksum, where_));
        let skip_file = start.file.clone();
        Ok(MysqlSource {
            prefix: prefix.to_string(),
            rx,
            task: Some(task),
            tables: HashMap::new(),
            pending: VecDeque::new(),
            file: start.file,
            pos: start.pos,
            gtids: start.gtids,
            tx: None,
            skip_at: start.skip.map(|_| (skip_file, start.pos)),
            skip: start.skip,
            payload_end: None,
            source_schema: Arc::new(source_schema(info.flavor)),
            source_id,
            checksum,
            warned: Default::default(),
            catalogs: HashMap::new(),
            catalog_conn: None,
            held: None,
            schema_changes: cfg
                .include_schema_changes
                .then(|| SchemaChangeSchemas::new(info.flavor, &source_schema(info.flavor))),
            ddl_read: None,
            info,
            cfg,
        })
    }

    async fn start_point(
        cfg: &MysqlConfig,
        info: &ServerInfo,
        sql: &mut mysql_async::Conn,
        stored: Option<&SourcePosition>,
    ) -> Result<Start, PipelineError> {
        let use_gtid = cfg.use_gtid && info.gtid_enabled;
        let parse_gtids = |text: &str, what: &str| -> Result<Gtids, PipelineError> {
            let bad = |e: String| {
                PipelineError::fatal(format!(
                    "{what} `{text}` is not a {} GTID position: {e}",
                    match info.flavor {
                        Flavor::Mariadb => "MariaDB",
                        Flavor::Mysql => "MySQL",
                    }
                ))
            };
            Ok(match info.flavor {
                Flavor::Mariadb => Gtids::Mariadb(
                    text.parse().map_err(|e: crate::mariadb::GtidError| bad(e.to_string()))?,
                ),
                Flavor::Mysql => Gtids::Mysql(
                    text.parse().map_err(|e: crate::mariadb::GtidError| bad(e.to_string()))?,
                ),
            })
        };
        match stored {
            Some(SourcePosition::Mysql { file, pos, gtid_set, skip_events, skip_rows }) => {
                let skip = (*skip_events > 0 || *skip_rows > 0).then_some((*skip_events, *skip_rows));
                let gtids = match gtid_set {
                    Some(g) if use_gtid => parse_gtids(g, "the stored position's GTID set")?,
                    _ => Gtids::None,
                };
                return Ok(Start { file: file.clone(), pos: *pos, gtids, skip });
            }
            Some(other) => {
                return Err(PipelineError::fatal(format!(
                    "the stored position ({other}) is not a MySQL/MariaDB position: this offsets directory belongs to another source; use another topic_prefix or run `logtap reset`"
                )))
            }
            None => {}
        }
        if let Some(g) = &cfg.initial_gtid {
            if !info.gtid_enabled {
                return Err(PipelineError::fatal(
                    "mysql.initial_gtid is set but the server has gtid_mode OFF: use initial_binlog",
                ));
            }
            return Ok(Start {
                file: String::new(),
                pos: 4,
                gtids: parse_gtids(g, "mysql.initial_gtid")?,
                skip: None,
            });
        }
        if let Some((file, pos)) = cfg.initial_binlog_position() {
            return Ok(Start { file, pos, gtids: Gtids::None, skip: None });
        }
        // The server's current end. Its GTID state is read around SHOW
        // MASTER STATUS until it is the same before and after, so the two
        // describe the same point.
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
                PipelineError::fatal(format!(
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
                    Some(g) => parse_gtids(&g.replace('\n', ""), "the server's GTID position")?,
                    None => Gtids::None,
                };
                return Ok(Start { file: end.0, pos: end.1, gtids, skip: None });
            }
        }
        Err(PipelineError::retryable(
            "the server's GTID position kept moving while logtap read its binlog position; retrying",
        ))
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

    /// What must be answered before `ev` can be processed: the catalog of
    /// a captured table mapped for the first time since the last DDL.
    fn need(&self, ev: &Event) -> Option<Need> {
        if ev.header().event_type_raw() == EventType::QUERY_EVENT as u8 {
            return self.ddl_need(ev);
        }
        if ev.header().event_type_raw() != EventType::TABLE_MAP_EVENT as u8 {
            return None;
        }
        let data = ev.data();
        if data.len() >= 6 {
            let mut id = [0u8; 8];
            id[..6].copy_from_slice(&data[..6]);
            if self.tables.get(&u64::from_le_bytes(id)).is_some_and(|t| t.fingerprint == data) {
                return None;
            }
        }
        // An unreadable TABLE_MAP is reported by `process`.
        let tme = ev.read_event::<TableMapEvent<'_>>().ok()?;
        let (db, table) = (tme.database_name(), tme.table_name());
        if !self.cfg.captures(&db, &table) {
            return None;
        }
        let id = TableId::new(db.as_ref(), table.as_ref());
        (!self.catalogs.contains_key(&id)).then_some(Need::Catalog(id))
    }

    /// A DDL statement's tables, when schema-change records are written
    /// and their catalogs were not read for this statement yet.
    fn ddl_need(&self, ev: &Event) -> Option<Need> {
        self.schema_changes.as_ref()?;
        if self.tx.as_ref().is_some_and(|t| t.open) {
            return None;
        }
        let header = ev.header();
        let start = u64::from(header.log_pos()).saturating_sub(u64::from(header.event_size()));
        let start = self.payload_end.unwrap_or(start);
        if self.ddl_read.as_ref().is_some_and(|(f, p)| *f == self.file && *p == start) {
            return None;
        }
        let q = ev.read_event::<mysql_async::binlog::events::QueryEvent<'_>>().ok()?;
        let Ddl::Tables(changes) = ddl::classify(&q.query(), &q.schema()) else { return None };
        let ids: Vec<TableId> = changes
            .iter()
            .filter(|c| c.kind != ChangeKind::Drop)
            .map(|c| TableId::new(c.db.as_str(), c.table.as_str()))
            .collect();
        Some(Need::Ddl(self.file.clone(), start, ids))
    }

    /// Answers a [`Need`].
    async fn answer(&mut self, need: Need) -> Result<(), PipelineError> {
        let id = match need {
            Need::Catalog(id) => id,
            Need::Ddl(file, start, ids) => {
                // Whatever was read before this DDL may be stale now.
                self.catalogs.clear();
                for id in ids {
                    Box::pin(self.answer(Need::Catalog(id))).await?;
                }
                self.ddl_read = Some((file, start));
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
                    self.catalogs.insert(id, Arc::new(c));
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

    /// Handles one event; fills `pending`.
    fn process(&mut self, ev: &Event) -> Result<(), PipelineError> {
        let header = ev.header();
        let raw_type = header.event_type_raw();
        let log_pos = u64::from(header.log_pos());
        let event_start = log_pos.saturating_sub(u64::from(header.event_size()));
        // Events inside a compressed payload carry no position of their own.
        let (event_start, end_pos) = match self.payload_end {
            Some(end) if log_pos == 0 => (end, end),
            Some(end) => {
                // A top-level event before the payload's transaction ended:
                // the payload could not be expanded (mysql_async drops a
                // payload it cannot read), and its rows would be lost.
                return Err(self.bad(
                    end,
                    "a compressed TRANSACTION_PAYLOAD event ended without its transaction's commit: it could not be expanded (corrupt, or zstd failed); logtap stops rather than lose its rows".into(),
                ));
            }
            None => (event_start, log_pos),
        };
        if raw_type >= 160 {
            return self.mariadb_event(ev, raw_type, event_start, end_pos);
        }
        // MySQL 8.0.26+ HEARTBEAT_LOG_EVENT_V2, which mysql_common does not name.
        const HEARTBEAT_V2: u8 = 41;
        let Ok(kind) = header.event_type() else {
            if raw_type == HEARTBEAT_V2
                || header.flags_raw() & crate::mariadb::LOG_EVENT_IGNORABLE_F != 0
            {
                tracing::debug!(event_type = raw_type, file = %self.file, pos = event_start, "skipping an ignorable event");
                self.advance(end_pos);
                return Ok(());
            }
            return Err(self.bad(
                event_start,
                format!("event type {raw_type} is unknown to logtap and not marked ignorable; it may carry row changes, so logtap stops rather than skip it"),
            ));
        };
        match kind {
            EventType::ROTATE_EVENT => {
                if let Some((file, pos)) = rotate_of(ev, self.checksum) {
                    self.file = file;
                    self.pos = pos;
                }
                // Table ids are per binlog file in mysql_common's reader too.
                if header.log_pos() != 0 {
                    self.tables.clear();
                }
                return Ok(());
            }
            EventType::FORMAT_DESCRIPTION_EVENT
            | EventType::HEARTBEAT_EVENT
            | EventType::PREVIOUS_GTIDS_EVENT
            | EventType::STOP_EVENT
            | EventType::ROWS_QUERY_EVENT
            | EventType::ANONYMOUS_GTID_EVENT => {}
            EventType::TRANSACTION_PAYLOAD_EVENT => {
                self.payload_end = Some(log_pos);
                self.advance(end_pos);
                return Ok(());
            }
            EventType::GTID_EVENT | EventType::GTID_TAGGED_LOG_EVENT => {
                let g = ev
                    .read_event::<mysql_async::binlog::events::GtidEvent>()
                    .map_err(|e| self.bad(event_start, format!("GTID event: {e}")))?;
                let tag = g.tag().map(|t| t.to_string());
                let gtid = MysqlGtid::new(g.sid(), tag.as_deref(), g.gno())
                    .map_err(|e| self.bad(event_start, format!("GTID event: {e}")))?;
                self.begin(Some(TxGtid::Mysql(gtid)), event_start, false, false)?;
            }
            EventType::QUERY_EVENT => {
                let q = ev
                    .read_event::<mysql_async::binlog::events::QueryEvent<'_>>()
                    .map_err(|e| self.bad(event_start, format!("QUERY event: {e}")))?;
                let text = q.query();
                let thread = i64::from(q.thread_id());
                let text = text.trim();
                let upper = text.get(..text.len().min(16)).unwrap_or("").to_ascii_uppercase();
                let xa_start = upper.starts_with("XA START") || upper.starts_with("XA BEGIN");
                // MySQL 8.0.21+ logs CREATE TABLE ... SELECT as one
                // transaction opened by the CREATE statement itself.
                let opens = text.eq_ignore_ascii_case("BEGIN")
                    || xa_start
                    || (text.len() > 17
                        && text
                            .get(text.len() - 17..)
                            .is_some_and(|t| t.eq_ignore_ascii_case("START TRANSACTION"))
                        && self.tx.as_ref().is_some_and(|t| !t.open));
                if opens {
                    if self.tx.is_none() {
                        self.begin(None, event_start, false, false)?;
                    }
                    if let Some(tx) = &mut self.tx {
                        tx.thread = Some(thread);
                        tx.open = true;
                        if xa_start {
                            tracing::warn!(gtid = ?tx.gtid.as_ref().map(ToString::to_string), "XA transaction: its rows are not sent (XA transactions are not supported)");
                            tx.prepared_xa = true;
                        }
                    }
                } else if text.eq_ignore_ascii_case("COMMIT")
                    || text.eq_ignore_ascii_case("ROLLBACK")
                {
                    self.commit(end_pos);
                } else if self.tx.as_ref().is_some_and(|t| t.open) {
                    // A statement inside an open transaction (SAVEPOINT,
                    // ROLLBACK TO, a temporary table...): not its end.
                } else {
                    // A statement of its own (DDL): its group ends here.
                    // It may have changed any table (defaults included,
                    // which leave the TABLE_MAP as it was), so tables are
                    // mapped and their catalogs read afresh.
                    self.tables.clear();
                    self.schema_change(&q, ev, event_start);
                    let fresh =
                        self.ddl_read.take().filter(|(f, p)| *f == self.file && *p == event_start);
                    if fresh.is_none() {
                        self.catalogs.clear();
                    }
                    self.commit(end_pos);
                }
            }
            EventType::XID_EVENT | EventType::XA_PREPARE_LOG_EVENT => self.commit(end_pos),
            EventType::TABLE_MAP_EVENT => {
                self.table_map(ev, event_start)?;
            }
            EventType::WRITE_ROWS_EVENT_V1
            | EventType::UPDATE_ROWS_EVENT_V1
            | EventType::DELETE_ROWS_EVENT_V1
            | EventType::WRITE_ROWS_EVENT
            | EventType::UPDATE_ROWS_EVENT
            | EventType::DELETE_ROWS_EVENT => {
                let data = ev
                    .read_data()
                    .map_err(|e| self.bad(event_start, format!("ROWS event: {e}")))?;
                if let Some(EventData::RowsEvent(rows)) = data {
                    self.rows(ev, &rows, kind, event_start)?;
                }
            }
            EventType::PARTIAL_UPDATE_ROWS_EVENT => {
                return Err(self.bad(
                    event_start,
                    "a PARTIAL_UPDATE_ROWS event: the server has binlog_row_value_options = PARTIAL_JSON, which leaves JSON columns incomplete; set binlog_row_value_options = '' on the server".into(),
                ));
            }
            EventType::INCIDENT_EVENT => {
                return Err(self.bad(
                    event_start,
                    "an INCIDENT event: the server recorded that changes may be missing from the binlog here (see its error log); logtap stops rather than skip them".into(),
                ));
            }
            other => {
                tracing::debug!(event_type = ?other, file = %self.file, pos = event_start, "skipping event");
            }
        }
        self.advance(end_pos);
        Ok(())
    }

    /// The schema-change records of a DDL statement (none when they are
    /// off or the statement gives none), before its checkpoint.
    fn schema_change(
        &mut self,
        q: &mysql_async::binlog::events::QueryEvent<'_>,
        ev: &Event,
        event_start: u64,
    ) {
        let Some(schemas) = &self.schema_changes else { return };
        let text = q.query();
        let default_db = q.schema().into_owned();
        /// (database, statement text, table changes: kind, db, table).
        type Planned = (String, String, Vec<(ChangeKind, String, String)>);
        let records: Vec<Planned> = match ddl::classify(&text, &default_db) {
            Ddl::Ignored => return,
            Ddl::Database(db) => {
                vec![(db.unwrap_or_else(|| default_db.clone()), text.trim().to_string(), vec![])]
            }
            Ddl::Tables(changes) => changes
                .into_iter()
                .map(|c| (c.db.clone(), c.ddl, vec![(c.kind, c.db, c.table)]))
                .collect(),
        };
        let header = ev.header();
        let ts_ms = i64::from(header.timestamp()) * 1000;
        let gtid = self.tx.as_ref().and_then(|t| t.gtid.as_ref()).map(ToString::to_string);
        for (db, ddl_text, changes) in records {
            let table = changes.iter().map(|c| c.2.as_str()).collect::<Vec<_>>().join(",");
            let source = source_struct(
                &self.source_schema,
                &SourceFields {
                    connector: self.info.flavor.connector(),
                    prefix: &self.prefix,
                    ts_ms,
                    db: &db,
                    // The tables' names joined; "" for a database record.
                    table: Some(table.as_str()),
                    server_id: i64::from(header.server_id()),
                    gtid: gtid.as_deref(),
                    file: &self.file,
                    pos: event_start,
                    row: 0,
                    thread: None,
                },
            );
            let catalogs: Vec<Option<Arc<TableCatalog>>> = changes
                .iter()
                .map(|(_, d, t)| self.catalogs.get(&TableId::new(d.as_str(), t.as_str())).cloned())
                .collect();
            let described: Vec<(ChangeKind, &str, &str, Option<&TableCatalog>)> = changes
                .iter()
                .zip(&catalogs)
                .map(|((k, d, t), c)| (*k, d.as_str(), t.as_str(), c.as_deref()))
                .collect();
            let position = SourcePosition::Mysql {
                file: self.file.clone(),
                pos: event_start,
                gtid_set: None,
                skip_events: 0,
                skip_rows: 0,
            };
            let record =
                schemas.record(source, now_us() / 1000, &db, &ddl_text, &described, position);
            self.pending.push_back(SourceItem::SchemaChange(Box::new(record)));
        }
    }

    fn advance(&mut self, end_pos: u64) {
        if end_pos != 0 {
            self.pos = end_pos;
        }
    }

    fn bad(&self, pos: u64, what: String) -> PipelineError {
        PipelineError::fatal(format!("binlog {}:{pos}: {what}", self.file))
    }

    fn mariadb_event(
        &mut self,
        ev: &Event,
        raw_type: u8,
        event_start: u64,
        end_pos: u64,
    ) -> Result<(), PipelineError> {
        // Only GTID events (162) carry what the source needs; ANNOTATE_ROWS,
        // BINLOG_CHECKPOINT, GTID_LIST and START_ENCRYPTION are passed over
        // without decoding, so an odd one cannot stop the stream. The
        // compressed types (165..=171) are decoded to get their refusal.
        if raw_type != 162 && !(165..=171).contains(&raw_type) {
            self.advance(end_pos);
            return Ok(());
        }
        let header = EventHeader::from(&ev.header());
        match decode_mariadb_event_body(&header, ev.data(), false) {
            Ok(MariadbEvent::Gtid(g)) => {
                if g.flags.contains(crate::mariadb::GtidFlags::PREPARED_XA) {
                    tracing::warn!(gtid = %g.gtid, "XA PREPARE group: its rows are not sent (XA transactions are not supported; they are sent neither at prepare nor at XA COMMIT)");
                }
                self.begin(
                    Some(TxGtid::Mariadb(g.gtid)),
                    event_start,
                    g.is_standalone(),
                    g.flags.contains(crate::mariadb::GtidFlags::PREPARED_XA),
                )?;
                if let (Some(tx), Some(t)) = (&mut self.tx, g.thread_id) {
                    tx.thread = Some(i64::from(t));
                }
            }
            Ok(_) => {}
            Err(crate::mariadb::MariadbDecodeError::UnknownEventType { .. }) => {
                tracing::debug!(event_type = raw_type, file = %self.file, pos = event_start, "skipping a MariaDB event type logtap does not know");
            }
            Err(e) => return Err(self.bad(event_start, e.to_string())),
        }
        self.advance(end_pos);
        Ok(())
    }

    fn begin(
        &mut self,
        gtid: Option<TxGtid>,
        event_start: u64,
        standalone: bool,
        prepared_xa: bool,
    ) -> Result<(), PipelineError> {
        if let Some(prev) = &self.tx {
            if prev.rows_events > 0 && !prev.prepared_xa {
                return Err(self.bad(
                    event_start,
                    format!(
                        "a transaction starts while the previous one ({}, from {}) never ended; its rows would be lost, so logtap stops",
                        prev.gtid.as_ref().map_or("no GTID".to_string(), ToString::to_string),
                        prev.restart.after(0, 0)
                    ),
                ));
            }
        }
        // A restart in the middle of a transaction skips rows of exactly
        // that transaction: it must be the first one the stream sends.
        if let Some((file, pos)) = &self.skip_at {
            if (file.as_str(), *pos) != (self.file.as_str(), event_start) {
                return Err(self.bad(
                    event_start,
                    format!(
                        "the stored position is inside the transaction at {file}:{pos}, but the stream went on with one at {}:{event_start}; the rows to skip cannot be matched. Run `logtap reset` (or set initial_gtid) to start over",
                        self.file
                    ),
                ));
            }
            self.skip_at = None;
        }
        let restart =
            Restart { file: self.file.clone(), pos: event_start, gtid_set: self.gtids.text() };
        let open = matches!(gtid, Some(TxGtid::Mariadb(_))) && !standalone;
        self.tx = Some(Tx { gtid, restart, rows_events: 0, thread: None, open, prepared_xa });
        Ok(())
    }

    /// The end of a transaction (or of a statement outside one).
    fn commit(&mut self, end_pos: u64) {
        if let Some(tx) = self.tx.take() {
            match (&mut self.gtids, &tx.gtid) {
                (Gtids::Mariadb(p), Some(TxGtid::Mariadb(g))) => {
                    p.update(*g);
                }
                (Gtids::Mysql(s), Some(TxGtid::Mysql(g))) => {
                    s.add(g);
                }
                _ => {}
            }
        }
        self.payload_end = None;
        self.skip = None;
        self.advance(end_pos);
        self.pending.push_back(SourceItem::Checkpoint(SourcePosition::Mysql {
            file: self.file.clone(),
            pos: self.pos,
            gtid_set: self.gtids.text(),
            skip_events: 0,
            skip_rows: 0,
        }));
    }

    fn table_map(&mut self, ev: &Event, event_start: u64) -> Result<(), PipelineError> {
        // The same TABLE_MAP as before (the common case: one precedes every
        // ROWS event) needs no work; the table id is its first 6 bytes.
        let data = ev.data();
        if data.len() >= 6 {
            let mut id = [0u8; 8];
            id[..6].copy_from_slice(&data[..6]);
            if self.tables.get(&u64::from_le_bytes(id)).is_some_and(|t| t.fingerprint == data) {
                return Ok(());
            }
        }
        let tme = ev
            .read_event::<TableMapEvent<'_>>()
            .map_err(|e| self.bad(event_start, format!("TABLE_MAP event: {e}")))?;
        let table_id = tme.table_id();
        let fingerprint = data.to_vec();
        let db = tme.database_name().into_owned();
        let table = tme.table_name().into_owned();
        let id = TableId::new(&db, &table);
        let captured = self.cfg.captures(&db, &table);
        if !captured {
            self.tables.insert(table_id, TableState::ignored(id, fingerprint));
            return Ok(());
        }
        let mut cols: TableColumns = table_columns(&tme, self.info.flavor).map_err(|e| {
            self.bad(
                event_start,
                format!("{e} (logtap needs binlog_row_metadata = FULL for column names and keys)"),
            )
        })?;
        for c in &mut cols.columns {
            if self.cfg.is_json_column(&db, &table, &c.name) {
                c.column_type = ColumnType::Json;
            }
        }
        let catalog = self.catalogs.get(&id).cloned();
        let unknown: Vec<&str> = cols
            .columns
            .iter()
            .filter(|c| catalog.as_ref().and_then(|t| t.column(&c.name)).is_none())
            .map(|c| c.name.as_str())
            .collect();
        if !unknown.is_empty() && self.warned.insert(format!("catalog {db}.{table}")) {
            tracing::warn!(
                table = %id, columns = ?unknown,
                "information_schema does not describe these columns of the binlog's TABLE_MAP (dropped since, or the user cannot see the table): they get no default, and a MariaDB UUID among them is sent as bytes"
            );
        }
        let names = RecordNames::new(&self.prefix, &id);
        let opts = self.cfg.type_options();
        let mut fields = Vec::with_capacity(cols.columns.len());
        let mut columns = Vec::with_capacity(cols.columns.len());
        for c in &mut cols.columns {
            let described = catalog.as_ref().and_then(|t| t.column(&c.name));
            if described.is_some_and(|d| d.data_type == "uuid")
                && matches!(c.column_type, ColumnType::Binary { pad_to: Some(16) })
            {
                c.column_type = ColumnType::Uuid;
            }
            let conv = column_schema(&c.column_type, c.nullable, &opts);
            let mut schema = conv.schema().clone();
            schema.default = described.and_then(|d| conv.default_value(&d.default));
            fields.push(Field::new(&c.name, schema));
            columns.push(conv);
        }
        let key_idx = cols.primary_key.clone();
        let key_schema = if key_idx.is_empty() {
            if self.warned.insert(format!("{db}.{table}")) {
                tracing::warn!(table = %id, "no primary key: records get a null key");
            }
            None
        } else {
            Some(Arc::new(Schema::structure(
                &names.key,
                key_idx
                    .iter()
                    .map(|&i| {
                        let mut s = fields[i].schema.clone();
                        s.optional = false;
                        Field::new(&cols.columns[i].name, s)
                    })
                    .collect(),
            )))
        };
        let value_schema = Arc::new(Schema::structure(&names.value, fields));
        tracing::debug!(table = %id, table_id, columns = columns.len(), "table map");
        self.tables.insert(
            table_id,
            TableState {
                id,
                names: cols.columns.iter().map(|c| c.name.clone()).collect(),
                columns,
                key_idx,
                key_schema,
                value_schema,
                fingerprint,
                tme: Some(tme.into_owned()),
            },
        );
        Ok(())
    }

    fn rows(
        &mut self,
        ev: &Event,
        rows: &RowsEventData<'_>,
        kind: EventType,
        event_start: u64,
    ) -> Result<(), PipelineError> {
        let table_id = rows.table_id();
        let Some(state) = self.tables.get(&table_id) else {
            return Err(self.bad(
                event_start,
                format!("ROWS event for table id {table_id} without a TABLE_MAP before it"),
            ));
        };
        let Some(tx) = self.tx.as_mut() else {
            // Servers wrap row events in a group (GTID or BEGIN) even for
            // non-transactional tables.
            return Err(PipelineError::fatal(format!(
                "binlog {}:{event_start}: ROWS event for table {} outside a transaction (no GTID or BEGIN before it): there is no position to resume it from",
                self.file, state.id
            )));
        };
        let index = tx.rows_events;
        tx.rows_events += 1;
        let tx = &*tx;
        let Some(tme) = state.tme.as_ref().filter(|_| !tx.prepared_xa) else {
            // Not captured, or an XA transaction: counted above, not sent.
            return Ok(());
        };
        let skip_rows = match self.skip {
            Some((events, _)) if index < events => return Ok(()),
            Some((events, r)) if index == events => r,
            _ => 0,
        };
        let op = match kind {
            EventType::WRITE_ROWS_EVENT_V1 | EventType::WRITE_ROWS_EVENT => Op::Create,
            EventType::UPDATE_ROWS_EVENT_V1 | EventType::UPDATE_ROWS_EVENT => Op::Update,
            _ => Op::Delete,
        };
        let gtid_text = tx.gtid.as_ref().map(ToString::to_string);
        let ctx = RowCtx {
            state,
            file: &self.file,
            pos: event_start,
            row: 0,
            ts_ms: i64::from(ev.header().timestamp()) * 1000,
            server_id: i64::from(ev.header().server_id()),
            gtid: gtid_text.as_deref(),
            thread: tx.thread,
            prefix: &self.prefix,
            connector: self.info.flavor.connector(),
            source_schema: &self.source_schema,
        };
        let mut out = Vec::new();
        for (row_no, r) in rows.rows(tme).enumerate() {
            let row_no = row_no as u64;
            let (before, after) = r.map_err(|e| ctx.error(format!("row {row_no}: {e}")))?;
            if row_no < skip_rows {
                continue;
            }
            let ctx = RowCtx { row: row_no, ..ctx };
            let before = before.map(|b| ctx.image(&b)).transpose()?;
            let after = after.map(|a| ctx.image(&a)).transpose()?;
            ctx.events(op, before, after, &mut out);
            out.push(SourceItem::Checkpoint(tx.restart.after(index, row_no + 1)));
        }
        self.pending.extend(out);
        Ok(())
    }
}

/// The values of Debezium's MySQL/MariaDB `source` block.
struct SourceFields<'a> {
    connector: &'static str,
    prefix: &'a str,
    ts_ms: i64,
    db: &'a str,
    table: Option<&'a str>,
    server_id: i64,
    gtid: Option<&'a str>,
    file: &'a str,
    pos: u64,
    row: u64,
    thread: Option<i64>,
}

/// The `source` block (see [`source_schema`] for the fields).
fn source_struct(schema: &Arc<Schema>, f: &SourceFields<'_>) -> Struct {
    Struct {
        schema: schema.clone(),
        values: vec![
            Value::String(env!("CARGO_PKG_VERSION").into()),
            Value::String(f.connector.into()),
            Value::String(f.prefix.into()),
            Value::Int64(f.ts_ms),
            Value::String("false".into()),
            Value::String(f.db.into()),
            Value::Null,
            Value::Int64(f.ts_ms.saturating_mul(1000)),
            Value::Int64(f.ts_ms.saturating_mul(1_000_000)),
            f.table.map_or(Value::Null, |t| Value::String(t.into())),
            Value::Int64(f.server_id),
            f.gtid.map_or(Value::Null, |g| Value::String(g.into())),
            Value::String(f.file.into()),
            Value::Int64(f.pos as i64),
            Value::Int32(f.row as i32),
            f.thread.map_or(Value::Null, Value::Int64),
            Value::Null,
        ],
    }
}

/// What a row's events need to know besides the row.
#[derive(Clone, Copy)]
struct RowCtx<'a> {
    state: &'a TableState,
    file: &'a str,
    pos: u64,
    row: u64,
    ts_ms: i64,
    server_id: i64,
    gtid: Option<&'a str>,
    thread: Option<i64>,
    prefix: &'a str,
    connector: &'static str,
    source_schema: &'a Arc<Schema>,
}

impl RowCtx<'_> {
    fn error(&self, what: String) -> PipelineError {
        PipelineError::fatal(format!(
            "binlog {}:{} table {}: {what}",
            self.file, self.pos, self.state.id
        ))
    }

    /// One row image as the table's value struct.
    fn image(&self, row: &mysql_async::binlog::row::BinlogRow) -> Result<Struct, PipelineError> {
        let cols = &self.state.columns;
        if row.len() != cols.len() {
            return Err(self.error(format!(
                "row {} has {} columns, its TABLE_MAP {}",
                self.row,
                row.len(),
                cols.len()
            )));
        }
        let mut values = Vec::with_capacity(cols.len());
        for (i, conv) in cols.iter().enumerate() {
            let Some(v) = row.as_ref(i) else {
                return Err(self.error(format!(
                    "row {}: column `{}` is missing from the row image; logtap needs binlog_row_image = FULL",
                    self.row, self.state.names[i]
                )));
            };
            values.push(conv.convert(v).map_err(|e| {
                self.error(format!("row {} column `{}`: {e}", self.row, self.state.names[i]))
            })?);
        }
        Struct::new(self.state.value_schema.clone(), values).map_err(|e| self.error(e.to_string()))
    }

    fn key(&self, row: &Struct) -> Option<Struct> {
        let schema = self.state.key_schema.as_ref()?;
        let values = self.state.key_idx.iter().map(|&i| row.values[i].clone()).collect();
        Some(Struct { schema: schema.clone(), values })
    }

    fn source(&self) -> Struct {
        source_struct(
            self.source_schema,
            &SourceFields {
                connector: self.connector,
                prefix: self.prefix,
                ts_ms: self.ts_ms,
                db: &self.state.id.namespace,
                table: Some(&self.state.id.table),
                server_id: self.server_id,
                gtid: self.gtid,
                file: self.file,
                pos: self.pos,
                row: self.row,
                thread: self.thread,
            },
        )
    }

    fn event(
        &self,
        op: Op,
        key: Option<Struct>,
        before: Option<Struct>,
        after: Option<Struct>,
        headers: Vec<(String, Vec<u8>)>,
    ) -> SourceItem {
        SourceItem::Change(Box::new(ChangeEvent {
            table: self.state.id.clone(),
            op,
            key,
            key_schema: self.state.key_schema.clone(),
            value_schema: self.state.value_schema.clone(),
            before,
            after,
            source: self.source(),
            processed_at_us: now_us(),
            transaction: None,
            headers,
            position: SourcePosition::Mysql {
                file: self.file.to_string(),
                pos: self.pos,
                gtid_set: None,
                skip_events: 0,
                skip_rows: self.row,
            },
        }))
    }

    /// The events of one row change: an update that changes the primary
    /// key becomes a delete of the old key and a create of the new one,
    /// with Debezium's headers.
    fn events(
        &self,
        op: Op,
        before: Option<Struct>,
        after: Option<Struct>,
        out: &mut Vec<SourceItem>,
    ) {
        match op {
            Op::Create => {
                let key = after.as_ref().and_then(|a| self.key(a));
                out.push(self.event(Op::Create, key, None, after, vec![]));
            }
            Op::Delete => {
                let key = before.as_ref().and_then(|b| self.key(b));
                out.push(self.event(Op::Delete, key, before, None, vec![]));
            }
            _ => {
                let old_key = before.as_ref().and_then(|b| self.key(b));
                let new_key = after.as_ref().and_then(|a| self.key(a));
                let change = match (&old_key, &new_key) {
                    (Some(ok), Some(nk)) => key_change_headers(ok, nk),
                    _ => None,
                };
                match change {
                    Some((del_headers, cre_headers)) => {
                        out.push(self.event(Op::Delete, old_key, before, None, del_headers));
                        out.push(self.event(Op::Create, new_key, None, after, cre_headers));
                    }
                    None => out.push(self.event(Op::Update, new_key, before, after, vec![])),
                }
            }
        }
    }
}

impl TableState {
    fn ignored(id: TableId, fingerprint: Vec<u8>) -> Self {
        TableState {
            value_schema: Arc::new(Schema::structure("ignored", vec![])),
            id,
            columns: vec![],
            names: vec![],
            key_idx: vec![],
            key_schema: None,
            fingerprint,
            tme: None,
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
            return PipelineError::fatal(format!(
                "the server cannot send the binlog from {at}: {} (error 1236). The binlog there was probably purged (see SHOW BINARY LOGS and binlog_expire_logs_seconds / expire_logs_days). Changes since then cannot be read any more: to start over from the current end of the binlog, run `logtap reset` (the changes in between are lost; a re-snapshot will be possible once snapshots exist), or set mysql.initial_gtid / initial_binlog to a point the server still has",
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
                        .send(Err(PipelineError::retryable(format!(
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
                    .send(Err(PipelineError::retryable(format!(
                        "binlog stream from {server}: the server ended the stream (after {}:{})",
                        last.0, last.1
                    ))))
                    .await;
                return;
            }
            Some(Err(e)) => {
                let err = match &e {
                    mysql_async::Error::Server(s) if s.code == 1236 => PipelineError::fatal(format!(
                        "binlog stream from {server}: {} (error 1236, after {}:{}). The binlog there is gone or unreadable (purged?): run `logtap reset` to start over from the current end (changes in between are lost), or set mysql.initial_gtid / initial_binlog",
                        s.message, last.0, last.1
                    )),
                    _ => PipelineError::retryable(format!(
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
                        .send(Err(PipelineError::retryable(format!(
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
            if let Some(item) = self.pending.pop_front() {
                return Ok(Some(item));
            }
            // Cancel-safe: `recv` loses nothing when cancelled, an event
            // received is held until it is processed (answering what it
            // needs awaits), and processing does not await.
            if let Some(held) = &self.held {
                if let Some(need) = self.need(&held.0) {
                    self.answer(need).await?;
                }
                if let Some((ev, _permit)) = self.held.take() {
                    self.process(&ev)?;
                }
                continue;
            }
            let read = match self.rx.recv().await {
                Some(r) => r,
                None => Err(match self.task.take() {
                    Some(task) => match task.await {
                        Err(e) if e.is_panic() => PipelineError::fatal(format!(
                            "the binlog reader failed on bytes it could not parse after {}:{} (a panic in the event decoder: {e})",
                            self.file, self.pos
                        )),
                        _ => PipelineError::retryable("the binlog reader task stopped"),
                    },
                    None => PipelineError::retryable("the binlog reader task stopped"),
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
}

/// A ROTATE event's file name and position. The first ROTATE of a stream
/// comes before the FORMAT_DESCRIPTION that announces checksums, so the
/// event reader may leave a CRC32 at the end of the body. Whether it is
/// there differs between servers (MariaDB sends one; MySQL 9 did not, and
/// cutting four bytes made `binlog.000001` into `binlog.00`), so the last
/// four bytes are cut only when they are the CRC32 of the event before
/// them.
fn rotate_of(ev: &Event, checksum: bool) -> Option<(String, u64)> {
    let data = ev.data();
    let mut name = data.get(8..)?;
    if checksum && ev.checksum().is_none() && name.len() >= 4 {
        let (body, tail) = data.split_at(data.len() - 4);
        if tail == crate::mariadb::event_crc32(&EventHeader::from(&ev.header()), body).to_le_bytes()
        {
            name = &name[..name.len() - 4];
        }
    }
    let pos = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
    Some((String::from_utf8_lossy(name).into_owned(), pos))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mysql_async::binlog::events::FormatDescriptionEvent;
    use mysql_async::binlog::BinlogVersion;

    /// A ROTATE event as a dump starts with it: timestamp 0, log_pos 0,
    /// the position and file name, with or without a CRC32 after them.
    fn fake_rotate(file: &str, with_crc: bool) -> Event {
        let mut body = 4u64.to_le_bytes().to_vec();
        body.extend_from_slice(file.as_bytes());
        let size = 19 + body.len() + if with_crc { 4 } else { 0 };
        let mut raw = vec![0, 0, 0, 0, EventType::ROTATE_EVENT as u8, 1, 0, 0, 0];
        raw.extend_from_slice(&(size as u32).to_le_bytes());
        raw.extend_from_slice(&[0, 0, 0, 0, 0x20, 0]); // log_pos 0, LOG_EVENT_ARTIFICIAL_F
        raw.extend_from_slice(&body);
        if with_crc {
            let crc = crate::mariadb::crc32(&raw);
            raw.extend_from_slice(&crc.to_le_bytes());
        }
        let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
        Event::read(&fde, &raw[..]).unwrap()
    }

    #[test]
    fn a_first_rotate_keeps_its_whole_file_name_with_or_without_a_checksum() {
        for file in ["binlog.000001", "mysql-bin.000123", "b.1"] {
            for with_crc in [true, false] {
                let ev = fake_rotate(file, with_crc);
                assert_eq!(
                    rotate_of(&ev, true),
                    Some((file.to_string(), 4)),
                    "{file}, crc {with_crc}"
                );
            }
            // Checksums off on the server: the body is only position and name.
            assert_eq!(rotate_of(&fake_rotate(file, false), false), Some((file.to_string(), 4)));
        }
    }
}
