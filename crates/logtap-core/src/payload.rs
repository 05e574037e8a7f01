//! Connect values as Kafka Connect's `JsonConverter` writes their payloads:
//! what the envelope, the unwrapped row and the key-change headers all
//! render, so it stands apart from any of them.

use crate::schema::{Struct, Value};
use base64::Engine;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value as Json;

/// A struct's payload: an object of its fields in schema order.
pub(crate) struct StructPayload<'a>(pub(crate) &'a Struct);

impl Serialize for StructPayload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let st = self.0;
        let mut m = s.serialize_map(Some(st.values.len()))?;
        for (field, value) in st.schema.fields.iter().zip(&st.values) {
            // A null field with a default is written as the default, as
            // Kafka Connect's JsonConverter does (`Struct.get`, and
            // `replace.null.with.default`, true by default): Debezium's
            // records show a column's default where the source sent none.
            let value = match (value, &field.schema.default) {
                (Value::Null, Some(default)) => default,
                _ => value,
            };
            m.serialize_entry(&field.name, &ValuePayload(value))?;
        }
        m.end()
    }
}

/// A Connect value as the JSON converter writes it: bytes in base64,
/// non-finite floats as the strings `NaN`/`Infinity`/`-Infinity` (Jackson
/// quotes them; JSON has no token for them), floats in their shortest form
/// (0.1f32 is `0.1`, as Java's `Float.toString`), maps with string keys as
/// objects and others as `[key, value]` pairs.
struct ValuePayload<'a>(&'a Value);

fn non_finite(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

impl Serialize for ValuePayload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Boolean(b) => s.serialize_bool(*b),
            Value::Int8(i) => s.serialize_i8(*i),
            Value::Int16(i) => s.serialize_i16(*i),
            Value::Int32(i) => s.serialize_i32(*i),
            Value::Int64(i) => s.serialize_i64(*i),
            // Through the shortest decimal form, so the bytes and the JSON
            // tree (which widens f32 to f64) both read 0.1, not 0.10000000149.
            Value::Float32(f) if f.is_finite() => {
                s.serialize_f64(f.to_string().parse::<f64>().unwrap_or(f64::from(*f)))
            }
            Value::Float32(f) => s.serialize_str(non_finite(f64::from(*f))),
            Value::Float64(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float64(f) => s.serialize_str(non_finite(*f)),
            Value::String(v) => s.serialize_str(v),
            Value::Bytes(b) => {
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(&ValuePayload(i))?;
                }
                seq.end()
            }
            Value::Map(entries) if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    if let Value::String(k) = k {
                        m.serialize_entry(k, &ValuePayload(v))?;
                    }
                }
                m.end()
            }
            Value::Map(entries) => {
                let mut seq = s.serialize_seq(Some(entries.len()))?;
                for (k, v) in entries {
                    seq.serialize_element(&(ValuePayload(k), ValuePayload(v)))?;
                }
                seq.end()
            }
            Value::Struct(st) => StructPayload(st).serialize(s),
        }
    }
}

/// A struct's payload as a JSON tree (for headers and tests; the encoder
/// writes bytes directly).
pub fn struct_json(s: &Struct) -> Json {
    serde_json::to_value(StructPayload(s)).unwrap_or(Json::Null)
}

/// A Connect value as a JSON tree, rendered as the JSON converter does.
pub fn value_json(v: &Value) -> Json {
    serde_json::to_value(ValuePayload(v)).unwrap_or(Json::Null)
}
