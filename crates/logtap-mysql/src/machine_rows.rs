//! Row events of the binlog machine: a TABLE_MAP becomes the table's
//! state (columns from the event's metadata, its catalog for defaults and
//! the key), a ROWS event becomes Debezium change events with their
//! `source` block, each followed by the checkpoint that skips it on a
//! restart (see the positions in `machine.rs`).

use super::{snapshot, BinlogMachine, TableState};
use crate::source_block::{change_time_us, source_struct, SourceFields};
use crate::types::{column_schema, table_columns, ColumnType, TableColumns};
use logtap_core::event::{
    key_schema, split_row_change, ChangeEvent, Op, RecordNames, SnapshotMarker, TableId,
};
use logtap_core::schema::{Field, Schema, Struct};
use logtap_core::traits::SourceItem;
use logtap_core::{Checkpoint, PipelineError, SourcePosition};
use mysql_async::binlog::events::{Event, RowsEventData, TableMapEvent};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::EventType;
use std::sync::Arc;

impl BinlogMachine {
    pub(super) fn table_map(&mut self, ev: &Event, event_start: u64) -> Result<(), PipelineError> {
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
        let captured = self.cfg.captures(&db, &table) || self.is_signal_table(&db, &table);
        if !captured {
            self.tables.insert(table_id, TableState::ignored(id, fingerprint));
            return Ok(());
        }
        let cols: TableColumns = table_columns(&tme, self.flavor).map_err(|e| {
            self.bad(
                event_start,
                format!("{e} (logtap needs binlog_row_metadata = FULL for column names and keys)"),
            )
        })?;
        let state = self.table_state(id, cols, fingerprint, Some(tme.into_owned()));
        tracing::debug!(table = %state.id, table_id, columns = state.columns.len(), "table map");
        self.tables.insert(table_id, state);
        Ok(())
    }

    /// A captured table's state from its columns, whether they came from a
    /// TABLE_MAP (`tme`) or, for a snapshot, from `information_schema`: both
    /// go through here, so a row converts the same either way.
    pub(crate) fn table_state(
        &mut self,
        id: TableId,
        mut cols: TableColumns,
        fingerprint: Vec<u8>,
        tme: Option<TableMapEvent<'static>>,
    ) -> TableState {
        let (db, table) = (id.namespace.to_string(), id.table.to_string());
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
            Some(key_schema(
                &names.key,
                key_idx
                    .iter()
                    .map(|&i| Field::new(&cols.columns[i].name, fields[i].schema.clone())),
            ))
        };
        let value_schema = Arc::new(Schema::structure(&names.value, fields));
        TableState {
            id,
            names: cols.columns.iter().map(|c| c.name.clone()).collect(),
            types: cols.columns.into_iter().map(|c| c.column_type).collect(),
            columns,
            key_idx,
            key_schema,
            value_schema,
            fingerprint,
            tme,
        }
    }

    pub(super) fn rows(
        &mut self,
        ev: &Event,
        rows: &RowsEventData<'_>,
        kind: EventType,
        event_start: u64,
    ) -> Result<(), PipelineError> {
        let table_id = rows.table_id();
        // The snapshot's progress for this event's checkpoints.
        let progress = if self.snap.is_some() { self.snapshot_progress() } else { None };
        let Some(state) = self.tables.get(&table_id) else {
            return Err(self.bad(
                event_start,
                format!("ROWS event for table id {table_id} without a TABLE_MAP before it"),
            ));
        };
        let noting = self.snapshot_noting(&state.id);
        let signals = self.is_signal_table(&state.id.namespace, &state.id.table);
        let Some(tx) = self.tx.as_mut() else {
            // Servers wrap row events in a group (GTID or BEGIN) even for
            // non-transactional tables.
            return Err(PipelineError::new(logtap_core::ErrorKind::Unsupported, format!(
                "binlog {}:{event_start}: ROWS event for table {} outside a transaction (no GTID or BEGIN before it): there is no position to resume it from",
                self.file, state.id
            )));
        };
        let index = tx.rows_events;
        tx.rows_events += 1;
        let Some(tx) = self.tx.as_ref() else { return Ok(()) };
        let Some(tme) = state.tme.as_ref().filter(|_| !tx.prepared_xa) else {
            // Not captured, or an XA transaction: counted above, not sent.
            if state.tme.is_none() {
                metrics::counter!("logtap_events_filtered_total").increment(1);
            }
            return Ok(());
        };
        let at = if self.skip_debezium { tx.events.saturating_sub(1) } else { index };
        let skip_rows = match self.skip {
            Some((events, _)) if at < events => return Ok(()),
            Some((events, r)) if at == events => r,
            _ => 0,
        };
        let op = op_of(kind);
        let gtid_text = tx.gtid.as_ref().map(ToString::to_string);
        let mut signal_rows = Vec::new();
        let mut touched = Vec::new();
        let ctx = RowCtx {
            state,
            file: &self.file,
            pos: event_start,
            row: 0,
            ts_us: change_time_us(tx.commit_us, ev.header().timestamp()),
            server_id: i64::from(ev.header().server_id()),
            gtid: gtid_text.as_deref(),
            tx_id: tx.meta_id.as_deref(),
            thread: tx.thread,
            prefix: &self.prefix,
            connector: self.flavor.connector(),
            source_schema: &self.source_schema,
            snapshot: SnapshotMarker::False,
            clock: self.clock.as_ref(),
        };
        // After each row, how to get back to just after it.
        let checkpoint = |row_no: u64| {
            SourceItem::Checkpoint(Box::new(Checkpoint::new(
                tx.restart.after(index, row_no + 1),
                progress.clone(),
            )))
        };
        let mut out = Vec::new();
        for (row_no, r) in crate::types::decoded_rows(rows, tme).enumerate() {
            let row_no = row_no as u64;
            let (before, after) = r.map_err(|e| ctx.error(format!("row {row_no}: {e}")))?;
            if row_no < skip_rows {
                continue;
            }
            let ctx = RowCtx { row: row_no, ..ctx };
            let images = ctx.image_pair(before.as_ref(), after.as_ref());
            let (before, after) = match images {
                Ok(images) => images,
                Err(e) => {
                    // Skipped as the mode says: the row's checkpoint still
                    // goes out, so the stored position passes it.
                    let row = after.as_ref().or(before.as_ref());
                    self.row_failed(e, state, op, event_start, row_no, row)?;
                    out.push(checkpoint(row_no));
                    continue;
                }
            };
            if signals {
                // Signal rows are acted on, never sent.
                if let (Op::Create, Some(row)) = (op, &after) {
                    signal_rows.push(snapshot::signal_fields(state, row, event_start));
                }
                out.push(checkpoint(row_no));
                continue;
            }
            if noting {
                touched.extend(before.iter().chain(&after).map(|r| snapshot::row_key(state, r)));
            }
            ctx.events(op, before, after, &mut out);
            out.push(checkpoint(row_no));
        }
        self.pending.extend(out);
        if !touched.is_empty() {
            self.snapshot_touched(touched);
        }
        for row in signal_rows {
            self.snapshot_signal(row)?;
        }
        Ok(())
    }
}

impl BinlogMachine {
    /// A row that could not be converted, as
    /// `event_processing_failure_handling_mode` says (an error: stop).
    fn row_failed(
        &self,
        e: PipelineError,
        state: &TableState,
        op: Op,
        event_start: u64,
        row_no: u64,
        row: Option<&BinlogRow>,
    ) -> Result<(), PipelineError> {
        let key = row.map_or(String::new(), |r| shown_key(state, r));
        let what = format!(
            "{op:?} of {} at {}:{event_start} row {row_no}, key {key}",
            state.id, self.file
        );
        self.cfg.event_processing_failure_handling_mode.on_error(e, &state.id.to_string(), &what)
    }
}

/// The operation of a ROWS event type.
fn op_of(kind: EventType) -> Op {
    match kind {
        EventType::WRITE_ROWS_EVENT_V1 | EventType::WRITE_ROWS_EVENT => Op::Create,
        EventType::UPDATE_ROWS_EVENT_V1 | EventType::UPDATE_ROWS_EVENT => Op::Update,
        _ => Op::Delete,
    }
}

/// A binlog row's key columns (`id=Some(Int(7))`), for a log line about a
/// row that could not be converted.
fn shown_key(state: &TableState, row: &BinlogRow) -> String {
    let shown = state.key_idx.iter().map(|&i| format!("{}={:?}", state.names[i], row.as_ref(i)));
    shown.collect::<Vec<_>>().join(", ")
}

/// What a row's events need to know besides the row.
#[derive(Clone, Copy)]
pub(super) struct RowCtx<'a> {
    pub(super) state: &'a TableState,
    pub(super) file: &'a str,
    pub(super) pos: u64,
    pub(super) row: u64,
    pub(super) ts_us: i64,
    pub(super) server_id: i64,
    pub(super) gtid: Option<&'a str>,
    /// Debezium's transaction id for the `transaction` block (transaction
    /// metadata on, streamed rows only).
    pub(super) tx_id: Option<&'a str>,
    pub(super) thread: Option<i64>,
    pub(super) prefix: &'a str,
    pub(super) connector: &'static str,
    pub(super) source_schema: &'a Arc<Schema>,
    /// `source.snapshot`: false for streamed rows.
    pub(super) snapshot: SnapshotMarker,
    /// The clock for each change's processing time.
    pub(super) clock: &'a dyn logtap_core::clock::Clock,
}

impl RowCtx<'_> {
    pub(super) fn error(&self, what: String) -> PipelineError {
        PipelineError::decode(format!(
            "binlog {}:{} table {}: {what}",
            self.file, self.pos, self.state.id
        ))
    }

    /// One row image as the table's value struct.
    /// A row change's before and after images, converted.
    fn image_pair(
        &self,
        before: Option<&BinlogRow>,
        after: Option<&BinlogRow>,
    ) -> Result<(Option<Struct>, Option<Struct>), PipelineError> {
        Ok((before.map(|b| self.image(b)).transpose()?, after.map(|a| self.image(a)).transpose()?))
    }

    pub(super) fn image(&self, row: &BinlogRow) -> Result<Struct, PipelineError> {
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
                let mut err =
                    self.error(format!("row {} column `{}`: {e}", self.row, self.state.names[i]));
                err.kind = logtap_core::ErrorKind::Conversion;
                err
            })?);
        }
        Struct::new(self.state.value_schema.clone(), values).map_err(|e| self.error(e.to_string()))
    }

    pub(super) fn key(&self, row: &Struct) -> Option<Struct> {
        let schema = self.state.key_schema.as_ref()?;
        let values = self.state.key_idx.iter().map(|&i| row.values[i].clone()).collect();
        Some(Struct { schema: schema.clone(), values })
    }

    pub(super) fn source(&self) -> Struct {
        source_struct(
            self.source_schema,
            &SourceFields {
                connector: self.connector,
                snapshot: self.snapshot,
                prefix: self.prefix,
                ts_us: self.ts_us,
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

    pub(super) fn event(
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
            processed_at_us: self.clock.now_us(),
            transaction: self.tx_id.map(|id| logtap_core::TransactionBlock {
                id: id.to_string(),
                total_order: 0,
                data_collection_order: 0,
            }),
            headers,
            position: SourcePosition::Mysql {
                file: self.file.to_string(),
                pos: self.pos,
                gtid_set: None,
                skip_events: 0,
                skip_rows: self.row,
                debezium_events: false,
            },
        }))
    }

    /// The events of one row change (see `split_row_change`).
    pub(super) fn events(
        &self,
        op: Op,
        before: Option<Struct>,
        after: Option<Struct>,
        out: &mut Vec<SourceItem>,
    ) {
        for c in split_row_change(op, before, after, |row| self.key(row)) {
            out.push(self.event(c.op, c.key, c.before, c.after, c.headers));
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
            types: vec![],
            key_idx: vec![],
            key_schema: None,
            fingerprint,
            tme: None,
        }
    }
}
