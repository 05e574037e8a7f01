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
use crate::schema::{ConnectType, Field, Schema, Struct, Value};
use base64::Engine;
use serde_json::{Map, Number, Value as Json};

/// How events are turned into bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeOptions {
    /// Wrap key and value as `{schema, payload}` (Kafka Connect `schemas.enable`).
    pub schemas_enable: bool,
    /// Follow each delete with a tombstone (null value, same key), as
    /// Debezium's `tombstones.on.delete` does by default.
    pub tombstones_on_delete: bool,
}

impl Default for EnvelopeOptions {
    fn default() -> Self {
        EnvelopeOptions { schemas_enable: false, tombstones_on_delete: true }
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
        let value = self.encode_value(event);
        let headers = event.headers.clone();
        let mut out =
            vec![EncodedRecord { key: key.clone(), value: Some(value), headers: headers.clone() }];
        // The tombstone carries the delete's headers, as Debezium's does.
        if event.op == Op::Delete && self.options.tombstones_on_delete && key.is_some() {
            out.push(EncodedRecord { key, value: None, headers });
        }
        out
    }

    /// The Kafka key, or `None` for a null key.
    pub fn encode_key(&self, event: &ChangeEvent) -> Option<Vec<u8>> {
        let key = event.key.as_ref()?;
        Some(self.wrap(&key.schema, struct_json(key)))
    }

    /// The envelope value of a change event.
    pub fn encode_value(&self, event: &ChangeEvent) -> Vec<u8> {
        let mut payload = Map::new();
        payload.insert("before".into(), event.before.as_ref().map_or(Json::Null, struct_json));
        payload.insert("after".into(), event.after.as_ref().map_or(Json::Null, struct_json));
        payload.insert("source".into(), struct_json(&event.source));
        payload.insert(
            "transaction".into(),
            event.transaction.as_ref().map_or(Json::Null, |t| {
                let mut m = Map::new();
                m.insert("id".into(), Json::String(t.id.clone()));
                m.insert("total_order".into(), Json::from(t.total_order));
                m.insert("data_collection_order".into(), Json::from(t.data_collection_order));
                Json::Object(m)
            }),
        );
        payload.insert("op".into(), Json::String(event.op.code().into()));
        let us = event.processed_at_us;
        payload.insert("ts_ms".into(), Json::from(us.div_euclid(1000)));
        payload.insert("ts_us".into(), Json::from(us));
        payload.insert("ts_ns".into(), Json::from(us.saturating_mul(1000)));
        let schema = envelope_schema(event);
        self.wrap(&schema, Json::Object(payload))
    }

    fn wrap(&self, schema: &Schema, payload: Json) -> Vec<u8> {
        let doc = if self.options.schemas_enable {
            let mut m = Map::new();
            m.insert("schema".into(), schema_json(schema));
            m.insert("payload".into(), payload);
            Json::Object(m)
        } else {
            payload
        };
        // Serializing a `serde_json::Value` into a Vec cannot fail.
        serde_json::to_vec(&doc).unwrap_or_default()
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

/// A struct's payload: an object of its fields in schema order.
pub fn struct_json(s: &Struct) -> Json {
    let mut m = Map::new();
    for (field, value) in s.schema.fields.iter().zip(&s.values) {
        m.insert(field.name.clone(), value_json(value));
    }
    Json::Object(m)
}

/// A Connect value as JSON: bytes in base64, non-finite floats as the strings
/// `NaN`/`Infinity`/`-Infinity` (JSON has no token for them), maps with
/// string keys as objects and others as `[key, value]` pairs, as the JSON
/// converter does.
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int8(i) => Json::from(*i),
        Value::Int16(i) => Json::from(*i),
        Value::Int32(i) => Json::from(*i),
        Value::Int64(i) => Json::from(*i),
        // Through its shortest decimal form, so 0.1f32 prints as 0.1 (as Java's
        // Float.toString does) and not as the f64 0.10000000149011612.
        Value::Float32(f) => float_json(f.to_string().parse::<f64>().unwrap_or(f64::from(*f))),
        Value::Float64(f) => float_json(*f),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Map(entries) => {
            if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
                let mut m = Map::new();
                for (k, v) in entries {
                    if let Value::String(k) = k {
                        m.insert(k.clone(), value_json(v));
                    }
                }
                Json::Object(m)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| Json::Array(vec![value_json(k), value_json(v)]))
                        .collect(),
                )
            }
        }
        Value::Struct(s) => struct_json(s),
    }
}

fn float_json(f: f64) -> Json {
    match Number::from_f64(f) {
        Some(n) => Json::Number(n),
        None if f.is_nan() => Json::String("NaN".into()),
        None if f > 0.0 => Json::String("Infinity".into()),
        None => Json::String("-Infinity".into()),
    }
}
