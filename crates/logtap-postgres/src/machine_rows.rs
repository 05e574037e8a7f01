//! Row changes of the PostgreSQL machine: a Relation message becomes the
//! table's state (columns, converters, key, defaults from the catalog), a
//! tuple becomes a typed row, and a change becomes Debezium events with
//! their `source` block.

use super::*;

impl PgMachine {
    /// The events of one row change (see `split_row_change`).
    pub(super) fn row_change(
        &self,
        state: &TableState,
        op: Op,
        before: Option<Struct>,
        after: Option<Struct>,
        lsn: u64,
    ) -> Vec<SourceItem> {
        // Collected, so the caller can queue them once `state` is released.
        split_row_change(op, before, after, |row| key_of(state, row))
            .into_iter()
            .map(|c| {
                let ev = self.event(
                    state,
                    c.op,
                    c.key,
                    c.before,
                    c.after,
                    lsn,
                    c.headers,
                    SnapshotMarker::False,
                );
                SourceItem::Change(Box::new(ev))
            })
            .collect()
    }

    /// The events of one Insert, Update or Delete of `state`'s table. A
    /// value that cannot be converted stops here, or, as
    /// `event_processing_failure_handling_mode` says, the change is
    /// skipped (the checkpoints after it still pass it).
    pub(super) fn row_message(
        &self,
        state: &TableState,
        op: Op,
        old: Option<&TupleData>,
        new: Option<&TupleData>,
        lsn: u64,
    ) -> Result<Vec<SourceItem>, PipelineError> {
        let images = old
            .map(|t| self.tuple(state, t, lsn))
            .transpose()
            .and_then(|b| Ok((b, new.map(|t| self.tuple(state, t, lsn)).transpose()?)));
        let (before, after) = match images {
            Ok(images) => images,
            Err(e) => {
                let key = new.or(old).map(|t| raw_key(state, t)).unwrap_or_default();
                let what = format!("{op:?} of {} at LSN {}, key {key}", state.id, Lsn(lsn));
                self.cfg.event_processing_failure_handling_mode.on_error(
                    e,
                    &state.id.to_string(),
                    &what,
                )?;
                return Ok(Vec::new());
            }
        };
        Ok(self.row_change(state, op, before, after, lsn))
    }

    /// The state of relation `id` if it is captured; an error if unknown.
    pub(super) fn captured(&self, id: u32, lsn: u64) -> Result<Option<&TableState>, PipelineError> {
        let state = self.tables.get(&id).ok_or_else(|| {
            PipelineError::decode(format!(
                "at LSN {}: change for relation {id} before its Relation message",
                Lsn(lsn)
            ))
        })?;
        if !state.captured {
            // Published but not captured (table_exclude_list, a publication
            // made by hand): Debezium's NumberOfEventsFiltered.
            metrics::counter!("logtap_events_filtered_total").increment(1);
        }
        Ok(state.captured.then_some(state))
    }

    pub(super) fn relation(&mut self, rel: &Relation) -> Result<(), PipelineError> {
        let state = self.table_state(rel)?;
        self.tables.insert(rel.id, state);
        Ok(())
    }

    /// Schemas and converters of relation `rel`, whose catalog shape (and
    /// types) `input` asked for first.
    pub(super) fn table_state(&mut self, rel: &Relation) -> Result<TableState, PipelineError> {
        let namespace =
            if rel.namespace.is_empty() { "pg_catalog".to_string() } else { rel.namespace.clone() };
        let id = TableId::new(&namespace, &rel.name);
        let captured = self.cfg.captures(&namespace, &rel.name);
        // `input` asked for the shape (and the types) before coming here.
        let Some((_, (catalog_cols, pk))) =
            self.shape_cache.as_ref().filter(|(r, _)| r == rel).cloned()
        else {
            return Err(PipelineError::internal(format!(
                "relation {id}: processed without its catalog shape (a logtap bug)"
            )));
        };
        let names = RecordNames::new(&self.prefix, &id);
        let mut columns = Vec::with_capacity(rel.columns.len());
        let mut fields = Vec::with_capacity(rel.columns.len());
        for col in &rel.columns {
            let catalog_col = catalog_cols.iter().find(|c| c.name == col.name);
            let not_null = catalog_col.is_some_and(|c| c.not_null);
            let conv = self
                .types
                .column_schema(col.type_oid, col.type_modifier, !not_null, &self.opts)
                .map_err(|e| {
                    PipelineError::new(
                        logtap_core::ErrorKind::Unsupported,
                        format!("table {id} column {}: {e}", col.name),
                    )
                })?;
            let unknown = conv.is_fallback().then_some(if self.cfg.include_unknown_datatypes {
                Unknown::Bytes
            } else {
                Unknown::Left
            });
            if unknown.is_some() && captured && self.warned.insert((rel.id, col.name.clone())) {
                let what = match unknown {
                    Some(Unknown::Left) => "leaving the column out of the records, as Debezium does (include_unknown_datatypes = true sends its text as bytes)",
                    _ => "sending its text as bytes (include_unknown_datatypes)",
                };
                tracing::warn!(table = %id, column = %col.name, type_oid = col.type_oid, "no Debezium mapping for this type: {what}");
            }
            let mut schema = match unknown {
                Some(_) => Schema::bytes().optional(),
                None => conv.schema().clone(),
            };
            schema.default = catalog_col.and_then(|c| c.default_expr.as_deref()).and_then(|e| {
                let pg_type = self.types.get(col.type_oid);
                crate::types::defaults::column_default(col.type_oid, pg_type, e, &conv)
            });
            if unknown != Some(Unknown::Left) {
                fields.push(Field::new(&col.name, schema.clone()));
            }
            columns.push(ColumnState { name: col.name.clone(), conv, schema, unknown });
        }
        // The key. Under REPLICA IDENTITY DEFAULT the Relation message marks
        // the primary key as it was when the change was written, which wins
        // over today's catalog (the table may have been altered or dropped
        // since); the catalog only gives the key's column order.
        // Key positions are in the value struct, which lacks left-out columns.
        let included: Vec<&ColumnState> =
            columns.iter().filter(|c| c.unknown != Some(Unknown::Left)).collect();
        let catalog_key: Vec<usize> =
            pk.iter().filter_map(|k| included.iter().position(|c| &c.name == k)).collect();
        let key_idx: Vec<usize> = if rel.replica_identity == ReplicaIdentity::Default {
            let wal_key: Vec<usize> = included
                .iter()
                .enumerate()
                .filter(|(_, c)| rel.columns.iter().any(|r| r.is_key && r.name == c.name))
                .map(|(i, _)| i)
                .collect();
            let mut sorted = catalog_key.clone();
            sorted.sort_unstable();
            // No key in the WAL (no primary key when it was written): the
            // catalog's unique index keys it, as Debezium's does.
            if sorted == wal_key || wal_key.is_empty() {
                catalog_key
            } else {
                if captured {
                    tracing::warn!(table = %id, "the primary key in the catalog differs from the one in the WAL (altered since?): keying by the WAL's");
                }
                wal_key
            }
        } else {
            catalog_key
        };
        let key_schema = if key_idx.is_empty() {
            if captured {
                tracing::warn!(table = %id, "no primary key: records get a null key");
            }
            None
        } else {
            // With their defaults, as Debezium's key schema has them.
            Some(key_schema(
                &names.key,
                key_idx.iter().map(|&i| Field::new(&included[i].name, included[i].schema.clone())),
            ))
        };
        if captured && rel.replica_identity == ReplicaIdentity::Nothing {
            tracing::warn!(table = %id, "REPLICA IDENTITY NOTHING: updates have no before image and deletes cannot be published");
        }
        let value_schema = Arc::new(Schema::structure(&names.value, fields));
        tracing::debug!(table = %id, relation = rel.id, captured, columns = columns.len(), key = ?pk, "relation");
        Ok(TableState { id, captured, columns, key_idx, key_schema, value_schema })
    }

    pub(super) fn tuple(
        &self,
        state: &TableState,
        tuple: &TupleData,
        lsn: u64,
    ) -> Result<Struct, PipelineError> {
        if tuple.0.len() != state.columns.len() {
            return Err(PipelineError::decode(format!(
                "at LSN {}: table {} row has {} columns, its Relation message {}",
                Lsn(lsn),
                state.id,
                tuple.0.len(),
                state.columns.len()
            )));
        }
        let mut values = Vec::with_capacity(tuple.0.len());
        for (col, v) in state.columns.iter().zip(&tuple.0) {
            match (col.unknown, v) {
                (Some(Unknown::Left), _) => continue,
                (Some(Unknown::Bytes), TupleValue::Text(bytes)) => {
                    values.push(Value::Bytes(bytes.to_vec()));
                    continue;
                }
                (Some(Unknown::Bytes), TupleValue::UnchangedToast) => {
                    values.push(Value::Bytes(UNAVAILABLE_VALUE.as_bytes().to_vec()));
                    continue;
                }
                _ => {}
            }
            values.push(match v {
                // A NOT NULL column without a value: a delete's key-only
                // before image (REPLICA IDENTITY DEFAULT) leaves out all
                // but the key. Debezium's converters then give the column's
                // default (written by the envelope) or the type's zero.
                TupleValue::Null if !col.schema.optional && col.schema.default.is_none() => {
                    zero_value(&col.schema)
                }
                TupleValue::Null => Value::Null,
                // Debezium's placeholder in the column's type; null where
                // no placeholder fits the type (numeric, bits).
                TupleValue::UnchangedToast => {
                    col.conv.unavailable_value(UNAVAILABLE_VALUE).unwrap_or(Value::Null)
                }
                TupleValue::Text(bytes) => {
                    let text = std::str::from_utf8(bytes).map_err(|_| {
                        PipelineError::decode(format!("at LSN {}: table {} column {}: value is not UTF-8", Lsn(lsn), state.id, col.name))
                    })?;
                    col.conv.convert_text(text).map_err(|e| {
                        PipelineError::new(ErrorKind::Conversion, format!("at LSN {}: table {} column {}: {e}", Lsn(lsn), state.id, col.name))
                    })?
                }
                TupleValue::Binary(_) => {
                    return Err(PipelineError::decode(format!(
                        "at LSN {}: table {} column {}: binary tuple data, which logtap does not request",
                        Lsn(lsn), state.id, col.name
                    )))
                }
            });
        }
        Struct::new(state.value_schema.clone(), values)
            .map_err(|e| PipelineError::internal(e.to_string()))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn event(
        &self,
        state: &TableState,
        op: Op,
        key: Option<Struct>,
        before: Option<Struct>,
        after: Option<Struct>,
        lsn: u64,
        headers: Vec<(String, Vec<u8>)>,
        snapshot: SnapshotMarker,
    ) -> ChangeEvent {
        let tx = self.tx.clone().unwrap_or(Tx {
            xid: 0,
            commit_ts_us: self.clock.now_us(),
            origin: None,
        });
        let sequence = format!(
            "[{},\"{lsn}\"]",
            self.last_commit_lsn.map(|l| format!("\"{l}\"")).unwrap_or_else(|| "null".into())
        );
        let common = SourceCommon {
            connector: "postgresql",
            name: &self.prefix,
            ts_us: tx.commit_ts_us,
            snapshot,
            db: &self.cfg.database,
            sequence: Some(sequence),
        };
        let own = PgSourceFields {
            schema: &state.id.namespace,
            table: &state.id.table,
            tx_id: tx.xid,
            lsn,
            origin: tx.origin.as_ref(),
        };
        let source = connector_source_block(&self.source_schema, common, &own);
        // Numbered by the pipeline's transaction monitor; snapshot reads
        // belong to no transaction.
        let streamed = self.tx.is_some() && snapshot == SnapshotMarker::False;
        let transaction =
            (self.cfg.tx_metadata && streamed).then(|| logtap_core::TransactionBlock {
                id: format!("{}:{lsn}", tx.xid),
                total_order: 0,
                data_collection_order: 0,
            });
        ChangeEvent {
            table: state.id.clone(),
            op,
            key,
            key_schema: state.key_schema.clone(),
            value_schema: state.value_schema.clone(),
            before,
            after,
            source,
            processed_at_us: self.clock.now_us(),
            transaction,
            headers,
            position: SourcePosition::Postgres { lsn: Lsn(lsn), tx: None },
        }
    }
}

/// The key columns of a row as pgoutput sent them (`id=7`), for a log
/// line about a row that could not be converted.
pub(super) fn raw_key(state: &TableState, tuple: &TupleData) -> String {
    // The key's fields by name: key_idx counts only the columns in the
    // value, the tuple has every column of the relation.
    let Some(key) = state.key_schema.as_ref() else { return "(no key)".into() };
    let parts: Vec<String> = key
        .fields
        .iter()
        .map(|f| {
            let i = state.columns.iter().position(|c| c.name == f.name);
            let text = match i.and_then(|i| tuple.0.get(i)) {
                Some(TupleValue::Text(b)) => String::from_utf8_lossy(b).into_owned(),
                Some(TupleValue::Null) => "null".into(),
                _ => "?".into(),
            };
            format!("{}={text}", f.name)
        })
        .collect();
    parts.join(", ")
}

/// Debezium's fallback for a required field without a value (its
/// `JdbcValueConverters` fallbacks, as seen for key-only before images):
/// 0, `false`, `""`, the epoch, a zero decimal.
pub(super) fn zero_value(schema: &Schema) -> Value {
    use logtap_core::schema::ConnectType as T;
    match schema.name.as_deref() {
        Some("io.debezium.time.ZonedTimestamp") => {
            return Value::String("1970-01-01T00:00:00Z".into())
        }
        Some("io.debezium.time.ZonedTime") => return Value::String("00:00:00Z".into()),
        Some("org.apache.kafka.connect.data.Decimal") => return Value::Bytes(vec![0]),
        _ => {}
    }
    match schema.kind {
        T::Int8 => Value::Int8(0),
        T::Int16 => Value::Int16(0),
        T::Int32 => Value::Int32(0),
        T::Int64 => Value::Int64(0),
        T::Float32 => Value::Float32(0.0),
        T::Float64 => Value::Float64(0.0),
        T::Boolean => Value::Boolean(false),
        T::String => Value::String(String::new()),
        T::Bytes => Value::Bytes(vec![]),
        T::Array => Value::Array(vec![]),
        T::Map => Value::Map(vec![]),
        T::Struct => Value::Struct(Struct {
            schema: Arc::new(schema.clone()),
            values: schema.fields.iter().map(|f| zero_value(&f.schema)).collect(),
        }),
    }
}

pub(super) fn key_of(state: &TableState, row: &Struct) -> Option<Struct> {
    let schema = state.key_schema.as_ref()?;
    let values = state.key_idx.iter().map(|&i| row.values[i].clone()).collect();
    Some(Struct { schema: schema.clone(), values })
}
