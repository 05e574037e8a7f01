//! Kafka Connect schemas and values, the common language of every record.
//!
//! Debezium's records are Kafka Connect data: each column becomes a Connect
//! type (`int32`, `string`, `bytes`, `struct`, ...) optionally refined by a
//! *logical* name (`io.debezium.time.MicroTimestamp`,
//! `org.apache.kafka.connect.data.Decimal`, ...). The sources convert database
//! values into this form following Debezium's mapping, so that the envelope
//! encoder here only has to render Connect data exactly as Kafka Connect's
//! `JsonConverter` would. Keeping the database-specific knowledge out of this
//! module is what lets one encoder serve both PostgreSQL and MySQL.

use std::sync::Arc;

/// A Kafka Connect primitive or container type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl ConnectType {
    /// The name Kafka Connect's JSON converter writes in `"type"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectType::Int8 => "int8",
            ConnectType::Int16 => "int16",
            ConnectType::Int32 => "int32",
            ConnectType::Int64 => "int64",
            ConnectType::Float32 => "float",
            ConnectType::Float64 => "double",
            ConnectType::Boolean => "boolean",
            ConnectType::String => "string",
            ConnectType::Bytes => "bytes",
            ConnectType::Array => "array",
            ConnectType::Map => "map",
            ConnectType::Struct => "struct",
        }
    }
}

/// A Kafka Connect schema: type, optionality, logical name, version,
/// parameters, default, and the nested schemas of containers.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub kind: ConnectType,
    pub optional: bool,
    /// Logical type or record name, e.g. `io.debezium.time.Date`.
    pub name: Option<String>,
    pub version: Option<i32>,
    /// Documentation Debezium gives some of its logical types (e.g.
    /// "Variable scaled decimal", "Geometry (POINT)"); part of the schema a
    /// consumer sees.
    pub doc: Option<String>,
    /// Logical type parameters, e.g. `scale` of a `Decimal`, in the order
    /// they were added: Kafka Connect keeps insertion order, so Debezium's
    /// JSON has `scale` before `connect.decimal.precision`.
    pub parameters: Vec<(String, String)>,
    pub default: Option<Value>,
    /// Fields of a struct, in order.
    pub fields: Vec<Field>,
    /// Element schema of an array, or value schema of a map.
    pub items: Option<Box<Schema>>,
    /// Key schema of a map.
    pub keys: Option<Box<Schema>>,
}

/// A named field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: Schema,
}

impl Field {
    pub fn new(name: impl Into<String>, schema: Schema) -> Self {
        Field { name: name.into(), schema }
    }
}

impl Schema {
    /// A required schema of a primitive type.
    pub fn of(kind: ConnectType) -> Self {
        Schema {
            kind,
            optional: false,
            name: None,
            version: None,
            doc: None,
            parameters: Vec::new(),
            default: None,
            fields: Vec::new(),
            items: None,
            keys: None,
        }
    }

    pub fn int8() -> Self {
        Self::of(ConnectType::Int8)
    }
    pub fn int16() -> Self {
        Self::of(ConnectType::Int16)
    }
    pub fn int32() -> Self {
        Self::of(ConnectType::Int32)
    }
    pub fn int64() -> Self {
        Self::of(ConnectType::Int64)
    }
    pub fn float32() -> Self {
        Self::of(ConnectType::Float32)
    }
    pub fn float64() -> Self {
        Self::of(ConnectType::Float64)
    }
    pub fn boolean() -> Self {
        Self::of(ConnectType::Boolean)
    }
    pub fn string() -> Self {
        Self::of(ConnectType::String)
    }
    pub fn bytes() -> Self {
        Self::of(ConnectType::Bytes)
    }
    pub fn array(items: Schema) -> Self {
        Schema { items: Some(Box::new(items)), ..Self::of(ConnectType::Array) }
    }
    pub fn map(keys: Schema, values: Schema) -> Self {
        Schema {
            keys: Some(Box::new(keys)),
            items: Some(Box::new(values)),
            ..Self::of(ConnectType::Map)
        }
    }
    /// A named struct schema (record names such as `server.public.t.Value`).
    pub fn structure(name: impl Into<String>, fields: Vec<Field>) -> Self {
        Schema { name: Some(name.into()), fields, ..Self::of(ConnectType::Struct) }
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    pub fn version(mut self, version: i32) -> Self {
        self.version = Some(version);
        self
    }
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.doc = Some(doc.into());
        self
    }
    /// Adds a parameter, replacing one of the same name in place.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        match self.parameters.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.parameters.push((key, value)),
        }
        self
    }

    pub fn with_default(mut self, value: Value) -> Self {
        self.default = Some(value);
        self
    }

    /// Index of the struct field called `name`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// A Kafka Connect value. Sources produce values already in Connect's
/// logical form (a `Date` is days as `Int32`, a precise `Decimal` is its
/// unscaled two's-complement big-endian bytes, and so on).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Map entries in order; keys are Connect values too.
    Map(Vec<(Value, Value)>),
    Struct(Struct),
}

/// A struct value: its schema and one value per field, in field order.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub schema: Arc<Schema>,
    pub values: Vec<Value>,
}

/// The values of a struct do not match its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("struct `{name}` has {fields} fields but {values} values were given")]
pub struct ArityError {
    pub name: String,
    pub fields: usize,
    pub values: usize,
}

impl Struct {
    /// Pairs a schema with values, checking that every field has a value.
    pub fn new(schema: Arc<Schema>, values: Vec<Value>) -> Result<Self, ArityError> {
        if schema.fields.len() != values.len() {
            return Err(ArityError {
                name: schema.name.clone().unwrap_or_default(),
                fields: schema.fields.len(),
                values: values.len(),
            });
        }
        Ok(Struct { schema, values })
    }

    /// The value of the field called `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.schema.field_index(name).and_then(|i| self.values.get(i))
    }
}
