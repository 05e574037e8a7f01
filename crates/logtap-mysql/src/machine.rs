//! The binlog source's state machine: decoded binlog events in, change
//! events, schema-change records and checkpoints out, with no IO. What it
//! cannot know from the binlog it asks for ([`Need`]: a table's catalog);
//! the driver (`source.rs`) answers on its own connection and gives it the
//! same event again. Unit tests drive it with recorded binlog events.
//!
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
//! # Schemas
//!
//! Columns come from each TABLE_MAP's optional metadata
//! (`binlog_row_metadata = FULL`): names, primary key, signedness,
//! character sets, ENUM/SET labels. A TABLE_MAP is written before every
//! ROWS event of a table, so an ALTER TABLE mid-stream is seen on the
//! next row with no DDL parsing and no schema history.

use crate::catalog::TableCatalog;
use crate::config::MysqlConfig;
use crate::conn::Flavor;
use crate::schema_change::SchemaChangeSchemas;
use crate::source_block::change_time_us;
pub use crate::source_block::source_schema;
use crate::types::{ColumnConversion, ColumnType};
use logtap_binlog::{
    decode_mariadb_event_body, EventHeader, GtidPosition, MariadbEvent, MariadbGtid, MysqlGtid,
    MysqlGtidSet,
};
use logtap_core::clock::Clock;
use logtap_core::event::TableId;
use logtap_core::schema::Schema;
use logtap_core::traits::SourceItem;
use logtap_core::PipelineError;
use logtap_core::{Checkpoint, SourcePosition};
use mysql_async::binlog::events::{Event, EventData, TableMapEvent};
use mysql_async::binlog::EventType;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// The server's GTID state as far as the stream has gone.
#[derive(Debug, Clone)]
pub(crate) enum Gtids {
    /// File/position mode: GTIDs are not tracked.
    None,
    Mariadb(GtidPosition),
    Mysql(MysqlGtidSet),
}

impl Gtids {
    pub(crate) fn text(&self) -> Option<String> {
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
    /// Events of this transaction seen so far, counted as Debezium's
    /// `event` offset counts them (its BEGIN, MariaDB: GTID event, is 1).
    events: u64,
    thread: Option<i64>,
    /// Inside BEGIN..COMMIT (MariaDB: a GTID event that is not
    /// standalone opens it): statements other than COMMIT/ROLLBACK do not
    /// end it. A standalone group (DDL) ends with its one statement.
    open: bool,
    /// A MariaDB XA PREPARE group: its rows may still be rolled back.
    prepared_xa: bool,
    /// A MariaDB two-phase ALTER's first half (START ALTER) or its
    /// rollback: the statement is recorded only with its COMMIT ALTER.
    alter_not_done: bool,
    /// MySQL 8.0.1+: the GTID event's `original_commit_timestamp`, the
    /// commit time to the microsecond, which Debezium puts in `source.ts_*`
    /// (the event header only has whole seconds).
    commit_us: Option<i64>,
    /// Debezium's transaction id (the GTID, else `file=...,pos=...` of
    /// its start), when transaction metadata is on.
    meta_id: Option<String>,
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
            debezium_events: false,
        }
    }
}

/// A captured (or deliberately ignored) table, by TABLE_MAP table id.
#[derive(Debug)]
pub(crate) struct TableState {
    id: TableId,
    columns: Vec<ColumnConversion>,
    names: Vec<String>,
    /// The columns' types (what a snapshot's `SELECT` reads them as).
    types: Vec<ColumnType>,
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
/// What [`BinlogMachine::process`] needs answered before it can handle the
/// event it was given (it is then given the same event again).
#[derive(Debug)]
pub(crate) enum Need {
    Catalog(TableId),
    /// The catalogs of the tables a DDL statement (at file, start) created
    /// or altered, read afresh for its schema-change records.
    Ddl(String, u64, Vec<TableId>),
}

/// See the module documentation.
pub(crate) struct BinlogMachine {
    cfg: MysqlConfig,
    prefix: String,
    flavor: Flavor,
    tables: HashMap<u64, TableState>,
    pub(crate) pending: VecDeque<SourceItem>,
    /// The binlog file being read (from ROTATE events).
    pub(crate) file: String,
    /// End position of the last event read (its header's `log_pos`).
    pub(crate) pos: u64,
    /// GTID state after the last complete transaction.
    gtids: Gtids,
    tx: Option<Tx>,
    /// Rows to skip in the first transaction after a restart in the middle
    /// of one: (whole ROWS events, then rows of the next one).
    skip: Option<(u64, u64)>,
    /// Where the transaction `skip` applies to starts (file, position).
    skip_at: Option<(String, u64)>,
    /// `skip` counts every event as Debezium's offsets do, not ROWS events.
    skip_debezium: bool,
    /// Inside a MySQL TRANSACTION_PAYLOAD: its end position stands for the
    /// embedded events', which carry none.
    payload_end: Option<u64>,
    source_schema: Arc<Schema>,
    /// The time stamped on changes (the machine reads no clock itself).
    clock: Arc<dyn Clock>,
    /// Whether events carry a CRC32 (the server's binlog_checksum).
    checksum: bool,
    /// `db.table` already warned about (no primary key), to warn once.
    warned: std::collections::HashSet<String>,
    /// What `information_schema` says about captured tables (defaults,
    /// MariaDB's UUID columns), read when a table is first mapped and
    /// again after any DDL.
    catalogs: HashMap<TableId, Arc<TableCatalog>>,
    /// Schemas of the schema-change records (`None`: not written).
    schema_changes: Option<SchemaChangeSchemas>,
    /// The DDL event (file, start) whose tables' catalogs were read for it.
    ddl_read: Option<(String, u64)>,
    /// Snapshots are possible on this start (MariaDB): their settings.
    snap_setup: Option<snapshot::SnapSetup>,
    /// The running snapshot (`machine_snapshot.rs`).
    snap: Option<snapshot::Snapshot>,
    /// Chunks are numbered across the snapshots of a start.
    next_chunk: u64,
    /// The server id of the last event (the source block of reads).
    server_id: i64,
}

/// Where a stream starts.
#[derive(Debug)]
pub(crate) struct Start {
    pub(crate) file: String,
    pub(crate) pos: u64,
    pub(crate) gtids: Gtids,
    pub(crate) skip: Option<(u64, u64)>,
    /// `skip`'s first number counts every event (Debezium's `event`).
    pub(crate) skip_debezium: bool,
}

impl BinlogMachine {
    /// A machine for a stream that starts at `start`, with events that
    /// carry a CRC32 when `checksum`.
    pub(crate) fn new(
        cfg: MysqlConfig,
        prefix: &str,
        flavor: Flavor,
        start: Start,
        checksum: bool,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let source_schema = Arc::new(source_schema(flavor));
        BinlogMachine {
            clock,
            schema_changes: cfg
                .include_schema_changes
                .then(|| SchemaChangeSchemas::new(flavor, &source_schema)),
            cfg,
            prefix: prefix.to_string(),
            flavor,
            tables: HashMap::new(),
            pending: VecDeque::new(),
            // Debezium's `pos` is a MySQL transaction's BEGIN, after its
            // GTID event: with GTIDs the set alone names the transaction.
            skip_at: start
                .skip
                .filter(|_| !(start.skip_debezium && start.gtids.text().is_some()))
                .map(|_| (start.file.clone(), start.pos)),
            skip_debezium: start.skip_debezium,
            file: start.file,
            pos: start.pos,
            gtids: start.gtids,
            tx: None,
            skip: start.skip,
            payload_end: None,
            source_schema,
            checksum,
            warned: Default::default(),
            catalogs: HashMap::new(),
            ddl_read: None,
            snap_setup: None,
            snap: None,
            next_chunk: 0,
            server_id: 0,
        }
    }

    /// The answer to [`Need::Catalog`].
    pub(crate) fn catalog_read(&mut self, id: TableId, catalog: TableCatalog) {
        self.catalogs.insert(id, Arc::new(catalog));
    }

    /// Before the answers to a [`Need::Ddl`]: what was read before the
    /// statement may be stale now.
    pub(crate) fn ddl_catalogs_reading(&mut self) {
        self.catalogs.clear();
    }

    /// After the answers to a [`Need::Ddl`] for the statement at `file`,
    /// `start`.
    pub(crate) fn ddl_catalogs_read(&mut self, file: String, start: u64) {
        self.ddl_read = Some((file, start));
    }

    /// What must be answered before `ev` can be processed: the catalog of
    /// a captured table mapped for the first time since the last DDL.
    pub(crate) fn need(&self, ev: &Event) -> Option<Need> {
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
        if !self.cfg.captures(&db, &table) && !self.is_signal_table(&db, &table) {
            return None;
        }
        let id = TableId::new(db.as_ref(), table.as_ref());
        (!self.catalogs.contains_key(&id)).then_some(Need::Catalog(id))
    }

    /// Handles one event; fills `pending`. Between transactions, an open
    /// snapshot chunk may close here.
    pub(crate) fn process(&mut self, ev: &Event) -> Result<(), PipelineError> {
        self.process_event(ev)?;
        if self.tx.is_none() && self.snap.is_some() {
            self.snapshot_passed()?;
        }
        Ok(())
    }

    fn process_event(&mut self, ev: &Event) -> Result<(), PipelineError> {
        let header = ev.header();
        if header.server_id() != 0 {
            self.server_id = i64::from(header.server_id());
        }
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
        self.count_event(raw_type);
        if raw_type >= 160 {
            return self.mariadb_event(ev, raw_type, event_start, end_pos);
        }
        // MySQL 8.0.26+ HEARTBEAT_LOG_EVENT_V2, which mysql_common does not name.
        const HEARTBEAT_V2: u8 = 41;
        let Ok(kind) = header.event_type() else {
            if raw_type == HEARTBEAT_V2
                || header.flags_raw() & logtap_binlog::LOG_EVENT_IGNORABLE_F != 0
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
                self.mysql_gtid(ev, event_start)?;
            }
            EventType::QUERY_EVENT => self.query_event(ev, event_start, end_pos)?,
            EventType::XID_EVENT => {
                self.tx_boundary(true, header.timestamp());
                self.commit(end_pos);
            }
            EventType::XA_PREPARE_LOG_EVENT => self.commit(end_pos),
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

    /// A MySQL GTID event: a transaction begins, with its commit time.
    fn mysql_gtid(&mut self, ev: &Event, event_start: u64) -> Result<(), PipelineError> {
        let g = ev
            .read_event::<mysql_async::binlog::events::GtidEvent>()
            .map_err(|e| self.bad(event_start, format!("GTID event: {e}")))?;
        let tag = g.tag().map(|t| t.to_string());
        let gtid = MysqlGtid::new(g.sid(), tag.as_deref(), g.gno())
            .map_err(|e| self.bad(event_start, format!("GTID event: {e}")))?;
        self.begin(Some(TxGtid::Mysql(gtid)), event_start, false, false)?;
        let commit_us = i64::try_from(g.original_commit_timestamp()).unwrap_or(0);
        if let Some(tx) = &mut self.tx {
            tx.commit_us = (commit_us > 0).then_some(commit_us);
        }
        Ok(())
    }

    fn advance(&mut self, end_pos: u64) {
        if end_pos != 0 {
            self.pos = end_pos;
        }
    }

    /// The time of a change in the current transaction: its commit time to
    /// the microsecond where MySQL logs it, else the event header's second
    /// (MariaDB, MySQL without GTIDs), as Debezium does.
    fn ts_us(&self, header_secs: u32) -> i64 {
        change_time_us(self.tx.as_ref().and_then(|t| t.commit_us), header_secs)
    }

    fn bad(&self, pos: u64, what: String) -> PipelineError {
        PipelineError::decode(format!("binlog {}:{pos}: {what}", self.file))
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
                if g.flags.contains(logtap_binlog::GtidFlags::PREPARED_XA) {
                    tracing::warn!(gtid = %g.gtid, "XA PREPARE group: its rows are not sent (XA transactions are not supported; they are sent neither at prepare nor at XA COMMIT)");
                }
                self.begin(
                    Some(TxGtid::Mariadb(g.gtid)),
                    event_start,
                    g.is_standalone(),
                    g.flags.contains(logtap_binlog::GtidFlags::PREPARED_XA),
                )?;
                // Every GTID group begins a transaction for Debezium's
                // MariaDB connector, DDL included (which has no END).
                self.tx_boundary(false, header.timestamp);
                if let Some(tx) = &mut self.tx {
                    if let Some(t) = g.thread_id {
                        tx.thread = Some(i64::from(t));
                    }
                    use logtap_binlog::GtidExtraFlags as X;
                    tx.alter_not_done = g.flags_extra.0 & (X::START_ALTER | X::ROLLBACK_ALTER) != 0;
                }
            }
            Ok(_) => {}
            Err(logtap_binlog::MariadbDecodeError::UnknownEventType { .. }) => {
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
        let meta_id = self.cfg.tx_metadata.then(|| match &gtid {
            Some(g) => g.to_string(),
            None => format!("file={},pos={event_start}", self.file),
        });
        // A MySQL GTID event comes before the BEGIN Debezium counts.
        let events = u64::from(!matches!(gtid, Some(TxGtid::Mysql(_))));
        self.tx = Some(Tx {
            gtid,
            restart,
            rows_events: 0,
            events,
            thread: None,
            open,
            prepared_xa,
            alter_not_done: false,
            commit_us: None,
            meta_id,
        });
        Ok(())
    }

    /// Counts an event of the open transaction as Debezium's `event`
    /// offset does: every event Debezium's binlog client delivers inside
    /// it, but the transaction's own GTID event (counted by `begin`) and a
    /// compressed payload's wrapper (whose events are counted one by one).
    fn count_event(&mut self, raw_type: u8) {
        const NOT_COUNTED: [u8; 9] = [
            4,   // ROTATE
            15,  // FORMAT_DESCRIPTION
            27,  // HEARTBEAT
            33,  // GTID
            40,  // TRANSACTION_PAYLOAD
            41,  // HEARTBEAT_V2
            42,  // GTID_TAGGED
            162, // MariaDB GTID
            163, // MariaDB GTID_LIST
        ];
        if let Some(tx) = &mut self.tx {
            if !NOT_COUNTED.contains(&raw_type) {
                tx.events += 1;
            }
        }
    }

    /// Debezium's BEGIN or END of the open transaction, when transaction
    /// metadata is on, at the commit time where MySQL logs it (else the
    /// event's second).
    pub(super) fn tx_boundary(&mut self, end: bool, header_secs: u32) {
        let Some(tx) = &self.tx else { return };
        let Some(id) = &tx.meta_id else { return };
        self.pending.push_back(SourceItem::Transaction(Box::new(logtap_core::TxBoundary {
            end,
            raw_id: id.clone(),
            id: id.clone(),
            ts_ms: change_time_us(tx.commit_us, header_secs).div_euclid(1000),
        })));
    }

    /// The end of a transaction (or of a statement outside one).
    fn commit(&mut self, end_pos: u64) {
        if let Some(tx) = self.tx.take() {
            metrics::counter!("logtap_transactions_committed_total").increment(1);
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
        let position = self.boundary();
        self.push_checkpoint(position);
    }

    /// The position here, between transactions.
    fn boundary(&self) -> SourcePosition {
        SourcePosition::Mysql {
            file: self.file.clone(),
            pos: self.pos,
            gtid_set: self.gtids.text(),
            skip_events: 0,
            skip_rows: 0,
            debezium_events: false,
        }
    }

    /// Queues a checkpoint at `position`, with the snapshot's progress.
    fn push_checkpoint(&mut self, position: SourcePosition) {
        let snapshot = self.snapshot_progress();
        self.pending
            .push_back(SourceItem::Checkpoint(Box::new(Checkpoint::new(position, snapshot))));
    }
}

/// A ROTATE event's file name and position. The first ROTATE of a stream
/// comes before the FORMAT_DESCRIPTION that announces checksums, so the
/// event reader may leave a CRC32 at the end of the body. Whether it is
/// there differs between servers (MariaDB sends one; MySQL 9 did not, and
/// cutting four bytes made `binlog.000001` into `binlog.00`), so the last
/// four bytes are cut only when they are the CRC32 of the event before
/// them.
pub(crate) fn rotate_of(ev: &Event, checksum: bool) -> Option<(String, u64)> {
    let data = ev.data();
    let mut name = data.get(8..)?;
    if checksum && ev.checksum().is_none() && name.len() >= 4 {
        let (body, tail) = data.split_at(data.len() - 4);
        if tail == logtap_binlog::event_crc32(&EventHeader::from(&ev.header()), body).to_le_bytes()
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
            let crc = logtap_binlog::crc32(&raw);
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

#[path = "machine_query.rs"]
mod query_events;
#[path = "machine_rows.rs"]
mod rows;
#[path = "machine_snapshot.rs"]
pub(crate) mod snapshot;

#[cfg(test)]
#[path = "machine_tests.rs"]
mod machine_tests;
