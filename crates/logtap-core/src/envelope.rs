//! The Debezium-compatible JSON envelope.
//!
//! A change event becomes one Kafka record (two for a delete: the delete and
//! its tombstone). Key and value are rendered exactly as Kafka Connect's
//! `JsonConverter` renders Debezium's Connect data: with `schemas.enable` each
//! message is `{"schema": ..., "payload": ...}`, otherwise the bare payload.
//! Object keys are written in the converter's order (the crate enables
//! `serde_json`'s `preserve_order`), so consumers that compare bytes or schema
//! JSON see what they would see from Debezium.

use crate::event::{ChangeEvent, Op};
use crate::payload::StructPayload;
pub use crate::payload::{struct_json, value_json};
use crate::schema::{ConnectType, Field, Schema, Struct, Value};
use crate::unwrap::{Unwrap, Unwrapped};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value as Json};

/// How events are turned into bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeOptions {
    /// Wrap key and value as `{schema, payload}` (Kafka Connect `schemas.enable`).
    pub schemas_enable: bool,
    /// Follow each delete with a tombstone (null value, same key), as
    /// Debezium's `tombstones.on.delete` does by default.
    pub tombstones_on_delete: bool,
    /// Debezium's `ExtractNewRecordState`: the row instead of the envelope.
    pub unwrap: Option<Unwrap>,
}

impl Default for EnvelopeOptions {
    fn default() -> Self {
        EnvelopeOptions { schemas_enable: false, tombstones_on_delete: true, unwrap: None }
    }
}

/// One Kafka record's content, before routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRecord {
    /// `None` is a null Kafka key (keyless tables, truncates).
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Version of the envelope schema Debezium writes since it added
/// `ts_us`/`ts_ns`.
pub const ENVELOPE_SCHEMA_VERSION: i32 = 2;

/// Encodes events into Debezium-compatible records.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    options: EnvelopeOptions,
}

impl Encoder {
    pub fn new(options: EnvelopeOptions) -> Self {
        Encoder { options }
    }

    pub fn options(&self) -> &EnvelopeOptions {
        &self.options
    }

    /// The records for one event: the change, plus a tombstone after a delete
    /// when tombstones are on.
    pub fn encode(&self, event: &ChangeEvent) -> Vec<EncodedRecord> {
        let key = self.encode_key(event);
        if let Some(unwrap) = &self.options.unwrap {
            let record = |v| {
                let value = match v {
                    Unwrapped::Row(row) => Some(self.encode_struct(&row)),
                    Unwrapped::Null(schema) => Some(self.encode_null(&schema)),
                    Unwrapped::Tombstone => None,
                };
                EncodedRecord { key: key.clone(), value, headers: event.headers.clone() }
            };
            let values = unwrap.values(event, self.options.tombstones_on_delete);
            return values.into_iter().map(record).collect();
        }
        let value = self.encode_value(event);
        let headers = event.headers.clone();
        let mut out =
            vec![EncodedRecord { key: key.clone(), value: Some(value), headers: headers.clone() }];
        // The tombstone carries the delete's headers, as Debezium's does.
        // A keyless table's delete gets one too (null key and value), as
        // in Debezium 3.6: a consumer sees the same records from either.
        if event.op == Op::Delete && self.options.tombstones_on_delete {
            out.push(EncodedRecord { key, value: None, headers });
        }
        out
    }

    /// The Kafka key, or `None` for a null key.
    pub fn encode_key(&self, event: &ChangeEvent) -> Option<Vec<u8>> {
        let key = event.key.as_ref()?;
        Some(self.wrap(|| schema_json(&key.schema), &StructPayload(key)))
    }

    /// A null value that has a schema: the converter writes it, as
    /// `{"schema": ..., "payload": null}`, or without schemas as the JSON
    /// `null` (4 bytes, not a tombstone).
    pub fn encode_null(&self, schema: &Schema) -> Vec<u8> {
        self.wrap(|| schema_json(schema), &())
    }

    /// A struct as a record key or value (schema and payload).
    pub fn encode_struct(&self, st: &Struct) -> Vec<u8> {
        self.wrap(|| schema_json(&st.schema), &StructPayload(st))
    }

    /// The envelope value of a change event.
    pub fn encode_value(&self, event: &ChangeEvent) -> Vec<u8> {
        // The schema is built only when it is written: it is the costly part.
        self.wrap(|| schema_json(&envelope_schema(event)), &EnvelopePayload(event))
    }

    /// The record of a schema change: its key and value structs as they
    /// are (no envelope).
    pub fn encode_schema_change(&self, event: &crate::event::SchemaChangeEvent) -> EncodedRecord {
        EncodedRecord {
            key: Some(self.wrap(|| schema_json(&event.key.schema), &StructPayload(&event.key))),
            value: Some(
                self.wrap(|| schema_json(&event.value.schema), &StructPayload(&event.value)),
            ),
            headers: vec![],
        }
    }

    /// A heartbeat record as Debezium writes it: key `{"serverName": ...}`
    /// (schema `io.debezium.connector.common.ServerNameKey`, version 1),
    /// value `{"ts_ms": ...}` (`io.debezium.connector.common.Heartbeat`,
    /// version 1).
    pub fn encode_heartbeat(&self, server_name: &str, ts_ms: i64) -> EncodedRecord {
        let key_schema = std::sync::Arc::new(
            Schema::structure(
                "io.debezium.connector.common.ServerNameKey",
                vec![Field::new("serverName", Schema::string())],
            )
            .version(1),
        );
        let value_schema = std::sync::Arc::new(
            Schema::structure(
                "io.debezium.connector.common.Heartbeat",
                vec![Field::new("ts_ms", Schema::int64())],
            )
            .version(1),
        );
        let key = Struct { schema: key_schema, values: vec![Value::String(server_name.into())] };
        let value = Struct { schema: value_schema, values: vec![Value::Int64(ts_ms)] };
        EncodedRecord {
            key: Some(self.wrap(|| schema_json(&key.schema), &StructPayload(&key))),
            value: Some(self.wrap(|| schema_json(&value.schema), &StructPayload(&value))),
            headers: vec![],
        }
    }

    /// A transaction's BEGIN or END record (Debezium's transaction
    /// metadata), keyed by the transaction's id.
    pub fn encode_transaction(&self, record: &crate::txmeta::TxRecord) -> EncodedRecord {
        let (key, value) = crate::txmeta::tx_structs(record);
        EncodedRecord {
            key: Some(self.encode_struct(&key)),
            value: Some(self.encode_struct(&value)),
            headers: vec![],
        }
    }

    fn wrap<P: Serialize>(&self, schema: impl FnOnce() -> Json, payload: &P) -> Vec<u8> {
        // Serializing these types into a Vec cannot fail: every map key is a
        // string and there is no IO.
        if self.options.schemas_enable {
            serde_json::to_vec(&WithSchema { schema: schema(), payload }).unwrap_or_default()
        } else {
            serde_json::to_vec(payload).unwrap_or_default()
        }
    }
}

/// `{"schema": ..., "payload": ...}`, in that order.
struct WithSchema<'a, P> {
    schema: Json,
    payload: &'a P,
}

impl<P: Serialize> Serialize for WithSchema<'_, P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("schema", &self.schema)?;
        m.serialize_entry("payload", self.payload)?;
        m.end()
    }
}

/// The envelope payload, written straight from the event (no intermediate
/// JSON tree: this is the hot path).
struct EnvelopePayload<'a>(&'a ChangeEvent);

impl Serialize for EnvelopePayload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let us = e.processed_at_us;
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("before", &e.before.as_ref().map(StructPayload))?;
        m.serialize_entry("after", &e.after.as_ref().map(StructPayload))?;
        m.serialize_entry("source", &StructPayload(&e.source))?;
        m.serialize_entry("transaction", &e.transaction.as_ref().map(TransactionPayload))?;
        m.serialize_entry("op", e.op.code())?;
        m.serialize_entry("ts_ms", &us.div_euclid(1000))?;
        m.serialize_entry("ts_us", &us)?;
        m.serialize_entry("ts_ns", &us.saturating_mul(1000))?;
        m.end()
    }
}

struct TransactionPayload<'a>(&'a crate::event::TransactionBlock);

impl Serialize for TransactionPayload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("id", &self.0.id)?;
        m.serialize_entry("total_order", &self.0.total_order)?;
        m.serialize_entry("data_collection_order", &self.0.data_collection_order)?;
        m.end()
    }
}

/// The schema of the envelope around `event`'s rows, named
/// `<prefix>.<namespace>.<table>.Envelope`.
pub fn envelope_schema(event: &ChangeEvent) -> Schema {
    let row = (*event.value_schema).clone().optional();
    let name = event
        .value_schema
        .name
        .as_deref()
        .and_then(|n| n.strip_suffix(".Value"))
        .map(|base| format!("{base}.Envelope"))
        .unwrap_or_else(|| "Envelope".into());
    let transaction = Schema::structure(
        "event.block",
        vec![
            Field::new("id", Schema::string()),
            Field::new("total_order", Schema::int64()),
            Field::new("data_collection_order", Schema::int64()),
        ],
    )
    .optional()
    .version(1);
    Schema::structure(
        name,
        vec![
            Field::new("before", row.clone()),
            Field::new("after", row),
            Field::new("source", (*event.source.schema).clone()),
            Field::new("transaction", transaction),
            Field::new("op", Schema::string()),
            Field::new("ts_ms", Schema::int64().optional()),
            Field::new("ts_us", Schema::int64().optional()),
            Field::new("ts_ns", Schema::int64().optional()),
        ],
    )
    .version(ENVELOPE_SCHEMA_VERSION)
}

/// A Connect schema as `JsonConverter` writes it: `type`, then the nested
/// schemas, `optional`, `name`, `version`, `parameters`, `default`.
pub fn schema_json(schema: &Schema) -> Json {
    let mut m = Map::new();
    m.insert("type".into(), Json::String(schema.kind.as_str().into()));
    match schema.kind {
        ConnectType::Struct => {
            let fields = schema
                .fields
                .iter()
                .map(|f| {
                    let mut fj = schema_json(&f.schema);
                    if let Json::Object(o) = &mut fj {
                        o.insert("field".into(), Json::String(f.name.clone()));
                    }
                    fj
                })
                .collect();
            m.insert("fields".into(), Json::Array(fields));
        }
        ConnectType::Array => {
            if let Some(items) = &schema.items {
                m.insert("items".into(), schema_json(items));
            }
        }
        ConnectType::Map => {
            if let Some(keys) = &schema.keys {
                m.insert("keys".into(), schema_json(keys));
            }
            if let Some(values) = &schema.items {
                m.insert("values".into(), schema_json(values));
            }
        }
        _ => {}
    }
    m.insert("optional".into(), Json::Bool(schema.optional));
    if let Some(name) = &schema.name {
        m.insert("name".into(), Json::String(name.clone()));
    }
    if let Some(v) = schema.version {
        m.insert("version".into(), Json::from(v));
    }
    // After the version, before the parameters: the JSON converter's order.
    if let Some(doc) = &schema.doc {
        m.insert("doc".into(), Json::String(doc.clone()));
    }
    if !schema.parameters.is_empty() {
        let params =
            schema.parameters.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect();
        m.insert("parameters".into(), Json::Object(params));
    }
    if let Some(d) = &schema.default {
        m.insert("default".into(), value_json(d));
    }
    Json::Object(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_are_debeziums_records() {
        let with = Encoder::new(EnvelopeOptions {
            schemas_enable: true,
            tombstones_on_delete: true,
            unwrap: None,
        });
        let r = with.encode_heartbeat("shop", 1_700_000_000_123);
        let key: Json = serde_json::from_slice(&r.key.unwrap()).unwrap();
        let value: Json = serde_json::from_slice(&r.value.unwrap()).unwrap();
        // As Debezium's SchemaFactory builds them, through Kafka Connect's
        // JsonConverter with schemas.enable=true.
        assert_eq!(
            key,
            serde_json::json!({
                "schema": {"type": "struct", "fields": [
                    {"type": "string", "optional": false, "field": "serverName"}],
                    "optional": false, "name": "io.debezium.connector.common.ServerNameKey",
                    "version": 1},
                "payload": {"serverName": "shop"}})
        );
        assert_eq!(
            value,
            serde_json::json!({
                "schema": {"type": "struct", "fields": [
                    {"type": "int64", "optional": false, "field": "ts_ms"}],
                    "optional": false, "name": "io.debezium.connector.common.Heartbeat",
                    "version": 1},
                "payload": {"ts_ms": 1_700_000_000_123_i64}})
        );
        let bare = Encoder::new(EnvelopeOptions::default()).encode_heartbeat("shop", 5);
        assert_eq!(bare.key.unwrap(), br#"{"serverName":"shop"}"#);
        assert_eq!(bare.value.unwrap(), br#"{"ts_ms":5}"#);
    }
}
