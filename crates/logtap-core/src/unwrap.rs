//! Debezium's `ExtractNewRecordState` transform ("unwrap"), applied to the
//! typed event before encoding (no JSON round trip): a change record's
//! value becomes the row itself (`after`, or for a rewritten delete the
//! `before` image), with the metadata fields `add.fields` names appended;
//! deletes become tombstones, are dropped, or are rewritten with a
//! `__deleted` field, as `delete.tombstone.handling.mode` says. Keys,
//! schema changes and heartbeats are left as they are. Checked record by
//! record against the Java transform (tests/differential.rs).

use crate::event::{ChangeEvent, Op};
use crate::schema::{Field, Schema, Struct, Value};
use std::sync::Arc;

/// `delete.tombstone.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteHandling {
    /// Deletes and their tombstones are dropped.
    Drop,
    /// A delete becomes a record with a null value that keeps the row's
    /// schema (`{"schema": ..., "payload": null}`, or the JSON `null`
    /// without schemas); the delete's own tombstone is dropped: the default.
    #[default]
    Tombstone,
    /// A delete becomes its `before` row with `__deleted = "true"` (every
    /// other record gets `"false"`); no tombstone.
    Rewrite,
    /// As `Rewrite`, and the tombstone after it is kept.
    RewriteWithTombstone,
    /// A delete becomes a Kafka tombstone (null key schema and value); its
    /// own tombstone is dropped.
    DeleteToTombstone,
}

impl DeleteHandling {
    /// Debezium's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "drop" => DeleteHandling::Drop,
            "tombstone" => DeleteHandling::Tombstone,
            "rewrite" => DeleteHandling::Rewrite,
            "rewrite-with-tombstone" => DeleteHandling::RewriteWithTombstone,
            "delete-to-tombstone" => DeleteHandling::DeleteToTombstone,
            _ => return None,
        })
    }

    fn rewrites(self) -> bool {
        matches!(self, DeleteHandling::Rewrite | DeleteHandling::RewriteWithTombstone)
    }
}

/// The transform's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrap {
    pub delete_handling: DeleteHandling,
    /// `add.fields`: envelope fields (`op`, `ts_ms`, ...) or source fields
    /// (`table`, `lsn`, `source.ts_ms`), appended in this order.
    pub add_fields: Vec<String>,
    /// `add.fields.prefix`, `__` by default.
    pub add_fields_prefix: String,
}

impl Default for Unwrap {
    fn default() -> Self {
        Unwrap {
            delete_handling: DeleteHandling::default(),
            add_fields: vec![],
            add_fields_prefix: "__".into(),
        }
    }
}

/// One record's value after the transform.
#[derive(Debug, Clone, PartialEq)]
pub enum Unwrapped {
    /// The flattened row.
    Row(Struct),
    /// A null value that keeps a schema (written by the converter).
    Null(Schema),
    /// A Kafka tombstone.
    Tombstone,
}

impl Unwrap {
    /// What one change event becomes, in order (each a record under the
    /// event's key and headers); `tombstones_on_delete` is the envelope's
    /// option, which `rewrite-with-tombstone` follows.
    pub fn values(&self, event: &ChangeEvent, tombstones_on_delete: bool) -> Vec<Unwrapped> {
        match (event.op, self.delete_handling) {
            (Op::Delete, DeleteHandling::Drop) => vec![],
            // The delete with its value set to null, the row's schema
            // kept (optional): not a Kafka tombstone, the converter
            // writes it. The original tombstone is dropped.
            (Op::Delete, DeleteHandling::Tombstone) => {
                vec![Unwrapped::Null((*event.value_schema).clone().optional())]
            }
            (Op::Delete, DeleteHandling::DeleteToTombstone) => vec![Unwrapped::Tombstone],
            (Op::Delete, DeleteHandling::Rewrite) => self.row(event).into_iter().collect(),
            (Op::Delete, DeleteHandling::RewriteWithTombstone) => {
                let mut out: Vec<Unwrapped> = self.row(event).into_iter().collect();
                if tombstones_on_delete {
                    out.push(Unwrapped::Tombstone);
                }
                out
            }
            // A truncate has no row: Debezium's transform passes it on
            // as a record without one only in rewrite modes; dropped here.
            (Op::Truncate, _) => vec![],
            _ => self.row(event).into_iter().collect(),
        }
    }

    /// The row (after, or before for a delete) with the added fields.
    fn row(&self, event: &ChangeEvent) -> Option<Unwrapped> {
        let row = match event.op {
            Op::Delete => event.before.as_ref()?,
            _ => event.after.as_ref()?,
        };
        let mut fields = row.schema.fields.clone();
        let mut values = row.values.clone();
        if self.delete_handling.rewrites() {
            fields.push(Field::new("__deleted", Schema::string().optional()));
            values.push(Value::String((event.op == Op::Delete).to_string()));
        }
        for entry in &self.add_fields {
            if let Some((name, schema, value)) = self.added(event, entry) {
                fields.push(Field::new(&name, schema));
                values.push(value);
            }
        }
        let mut schema = Schema::structure(row.schema.name.clone().unwrap_or_default(), fields);
        schema.version = row.schema.version;
        Some(Unwrapped::Row(Struct { schema: Arc::new(schema), values }))
    }

    /// An `add.fields` entry, `[struct.]field[:new_name]`: without a
    /// struct, `op` and the `ts_*` times are the envelope's, `id`,
    /// `total_order` and `data_collection_order` the transaction block's,
    /// anything else the source block's. Named prefix + field (prefix +
    /// struct + `_` + field when a struct was given, prefix + new name when
    /// renamed); optional, without the default; left out when absent.
    fn added(&self, event: &ChangeEvent, entry: &str) -> Option<(String, Schema, Value)> {
        let (path, rename) = match entry.split_once(':') {
            Some((p, r)) => (p, Some(r)),
            None => (entry, None),
        };
        let mut parts = path.splitn(3, '.');
        let first = parts.next()?;
        let (place, field) = match parts.next() {
            Some(field) => (Some(first), field),
            None => (None, first),
        };
        let name = match (rename, place) {
            (Some(r), _) => format!("{}{r}", self.add_fields_prefix),
            (None, Some(p)) => format!("{}{p}_{field}", self.add_fields_prefix),
            (None, None) => format!("{}{field}", self.add_fields_prefix),
        };
        let place = place.unwrap_or(match field {
            "op" | "ts_ms" | "ts_us" | "ts_ns" => "",
            "id" | "total_order" | "data_collection_order" => "transaction",
            _ => "source",
        });
        let (schema, value) = match place {
            "" => envelope_field(event, field)?,
            "source" => struct_field(&event.source, field)?,
            "transaction" => transaction_field(event, field)?,
            _ => return None,
        };
        let mut schema = schema.optional();
        schema.default = None;
        Some((name, schema, value))
    }
}

fn envelope_field(event: &ChangeEvent, field: &str) -> Option<(Schema, Value)> {
    let us = event.processed_at_us;
    Some(match field {
        "op" => (Schema::string(), Value::String(event.op.code().into())),
        "ts_ms" => (Schema::int64(), Value::Int64(us.div_euclid(1000))),
        "ts_us" => (Schema::int64(), Value::Int64(us)),
        "ts_ns" => (Schema::int64(), Value::Int64(us.saturating_mul(1000))),
        _ => return None,
    })
}

fn struct_field(st: &Struct, field: &str) -> Option<(Schema, Value)> {
    let i = st.schema.fields.iter().position(|f| f.name == field)?;
    Some((st.schema.fields[i].schema.clone(), st.values[i].clone()))
}

/// A transaction block field; null without a block (as Debezium's).
fn transaction_field(event: &ChangeEvent, field: &str) -> Option<(Schema, Value)> {
    let t = event.transaction.as_ref();
    Some(match field {
        "id" => (Schema::string(), t.map_or(Value::Null, |t| Value::String(t.id.clone()))),
        "total_order" => (Schema::int64(), t.map_or(Value::Null, |t| Value::Int64(t.total_order))),
        "data_collection_order" => {
            (Schema::int64(), t.map_or(Value::Null, |t| Value::Int64(t.data_collection_order)))
        }
        _ => return None,
    })
}
