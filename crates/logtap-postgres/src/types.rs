//! PostgreSQL column values (pgoutput text format) to Kafka Connect schemas
//! and values, the way Debezium's PostgreSQL connector maps them, defaults
//! included.
//!
//! The reference is Debezium's `PostgresValueConverter` (on top of
//! `JdbcValueConverters`) as it behaves for pgoutput streaming: the column's
//! text goes through the same parsing Debezium does (pgjdbc's `PGInterval`,
//! `PGpoint`, `HStoreConverter`, the ISO `DateTimeFormat`), then through the
//! same conversion, so that a consumer written for Debezium needs no change.
//! Every deliberate difference is documented where it happens; the main ones:
//!
//! - Types Debezium has no mapping for get a text conversion here, and
//!   [`ColumnConversion::is_fallback`] says so; the source then does what
//!   Debezium does (leaves the column out, or with
//!   `include_unknown_datatypes` sends the text as bytes) and warns once.
//!   Arrays Debezium declines (`money[]`, `name[]`, `interval[]`, `varbit[]`,
//!   `xml[]`, `point[]`) fall back the same way, as do PostGIS and the
//!   geometric types other than `point`.
//! - Where Debezium would fail or emit a value that contradicts its own
//!   schema, logtap emits the sensible value: `name` columns (Debezium's
//!   pgoutput reader returns null for them), `bit(n)[]` (an array, where
//!   Debezium declares a scalar), domains over arrays' elements, `timetz`
//!   `24:00:00` at a non-zero offset, offsets with seconds.
//! - Text is parsed strictly: malformed text is a [`TypeError`] naming the
//!   type and the text, never a panic and never a silent default.
//!
//! Server settings assumed (all PostgreSQL defaults, and what the walsender
//! uses unless the connection overrides them): `DateStyle = ISO`,
//! `IntervalStyle = postgres`, `bytea_output = hex`, and for `money` an
//! `lc_monetary` that prints `$1,234.56` / `-$1,234.56` (C, POSIX, en_US).
//! `TimeZone` may be anything: offsets in `timestamptz` text are honoured.

mod array;
pub mod defaults;
mod encode;
mod hstore;
mod interval;
mod numeric;
pub mod oids;
mod temporal;

pub use crate::config::{IntervalMode, TimePrecisionMode};
use std::collections::HashMap;
use std::sync::Arc;

pub use logtap_core::convert::{BinaryMode, DecimalMode};
use logtap_core::{Field, Schema, Struct, Value};

use numeric::{BigDec, Numeric};
use temporal::Temporal;

/// Debezium's default `unavailable.value.placeholder`, the value of an
/// unchanged TOAST column.
pub const DEFAULT_UNAVAILABLE_VALUE: &str = "__debezium_unavailable_value";

/// `hstore.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HStoreMode {
    /// A JSON object in a string named `io.debezium.data.Json`.
    #[default]
    Json,
    /// A Connect `map<string, string>`.
    Map,
}

impl HStoreMode {
    /// Debezium's spelling: `json`, `map`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "json" => HStoreMode::Json,
            "map" => HStoreMode::Map,
            _ => return None,
        })
    }
}

/// The value-conversion options, Debezium's defaults by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeOptions {
    pub decimal: DecimalMode,
    pub time_precision: TimePrecisionMode,
    pub binary: BinaryMode,
    pub interval: IntervalMode,
    pub hstore: HStoreMode,
    /// `money.fraction.digits`: the scale of `money` values.
    pub money_fraction_digits: u8,
}

impl Default for TypeOptions {
    fn default() -> Self {
        TypeOptions {
            decimal: DecimalMode::Precise,
            time_precision: TimePrecisionMode::Adaptive,
            binary: BinaryMode::Bytes,
            interval: IntervalMode::Numeric,
            hstore: HStoreMode::Json,
            money_fraction_digits: 2,
        }
    }
}

impl TypeOptions {
    /// The options of a `[postgres]` section (typed when it was read).
    pub fn from_config(cfg: &crate::config::PostgresConfig) -> Self {
        TypeOptions {
            decimal: cfg.decimal_handling_mode,
            time_precision: cfg.time_precision_mode,
            binary: cfg.binary_handling_mode,
            interval: cfg.interval_handling_mode,
            ..TypeOptions::default()
        }
    }
}

/// What kind of type a `pg_type` row is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// One of PostgreSQL's built-in types (mapped by OID).
    Builtin,
    /// `typtype = 'e'`; labels in `enumsortorder` order.
    Enum { labels: Vec<String> },
    /// `typtype = 'd'`: `typbasetype` and `typtypmod`.
    Domain { base_oid: u32, base_typmod: i32 },
    /// An array type (`typcategory = 'A'`): `typelem`.
    Array { element_oid: u32 },
    /// `typtype = 'c'`.
    Composite,
    /// Anything else: extension types are mapped by name (`hstore`, `ltree`,
    /// `citext`, `isbn`, `vector`, `halfvec`, `sparsevec`), others fall back.
    Other,
}

/// A type as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgType {
    pub oid: u32,
    /// `typname`, unqualified (`int4`, `_int4`, `my_enum`, `hstore`).
    pub name: String,
    pub kind: TypeKind,
}

/// A conversion failure. The offending text is cut to about 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    /// The text is not a valid value of the type.
    #[error("invalid {type_name} value {text:?}: {reason}")]
    InvalidText { type_name: String, text: String, reason: String },
    /// A valid value the configured mode cannot represent: `NaN` or infinity
    /// in a `numeric` with `decimal.handling.mode = precise` (Debezium fails
    /// the same way and suggests the `string` mode).
    #[error(
        "{type_name} value {text:?} cannot be represented with decimal handling mode `precise`; \
         use `string` or `double`"
    )]
    Unrepresentable { type_name: String, text: String },
    /// The type graph is cyclic or absurdly deep (domains of domains...).
    #[error("cannot resolve type oid {oid}: {reason}")]
    Resolution { oid: u32, reason: String },
}

fn truncate(text: &str) -> String {
    const MAX: usize = 100;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Every type a column can have: the built-in ones, plus the user and
/// extension types learned from the catalog.
#[derive(Debug, Clone)]
pub struct TypeRegistry {
    types: HashMap<u32, PgType>,
}

impl Default for TypeRegistry {
    fn default() -> Self {
        Self::new()
    }
}

/// How deep domain and array chains may go before the registry gives up.
const MAX_DEPTH: u32 = 32;

impl TypeRegistry {
    /// A registry knowing PostgreSQL's built-in types and their arrays.
    pub fn new() -> Self {
        let mut types = HashMap::with_capacity(oids::BUILTINS.len() * 2);
        for &(oid, name, array_oid) in oids::BUILTINS {
            types.insert(oid, PgType { oid, name: name.to_string(), kind: TypeKind::Builtin });
            types.insert(
                array_oid,
                PgType {
                    oid: array_oid,
                    name: format!("_{name}"),
                    kind: TypeKind::Array { element_oid: oid },
                },
            );
        }
        TypeRegistry { types }
    }

    /// Adds or replaces a type (user types, extension types, their arrays).
    /// Register element and base types too, or the dependent type falls back.
    pub fn register(&mut self, t: PgType) {
        self.types.insert(t.oid, t);
    }

    /// Registers a type read by `catalog::type_info`.
    pub fn register_catalog(&mut self, t: &crate::catalog::CatalogType) {
        let kind = if t.element != 0 {
            TypeKind::Array { element_oid: t.element }
        } else {
            match t.typtype {
                'e' => TypeKind::Enum { labels: t.labels.clone() },
                'd' => TypeKind::Domain { base_oid: t.base, base_typmod: t.base_typmod },
                'c' => TypeKind::Composite,
                _ => TypeKind::Other,
            }
        };
        self.register(PgType { oid: t.oid, name: t.name.clone(), kind });
    }

    pub fn get(&self, oid: u32) -> Option<&PgType> {
        self.types.get(&oid)
    }

    /// The Connect schema and converter of a column of type `oid` with type
    /// modifier `typmod` (`atttypmod`, -1 for none), optional when the
    /// column is nullable. Unknown types give the text fallback, never an
    /// error; errors are only for a broken type graph.
    pub fn column_schema(
        &self,
        oid: u32,
        typmod: i32,
        optional: bool,
        opts: &TypeOptions,
    ) -> Result<ColumnConversion, TypeError> {
        let r = self.resolve(oid, typmod, opts, 0)?;
        let mut schema = r.schema;
        schema.optional = optional;
        let mut conv = r.conv;
        conv.bind(&schema);
        Ok(ColumnConversion {
            schema,
            conv,
            fallback: r.fallback,
            toast: r.toast,
            type_name: self
                .types
                .get(&oid)
                .map(|t| t.name.clone())
                .unwrap_or_else(|| format!("oid {oid}")),
        })
    }

    fn resolve(
        &self,
        oid: u32,
        typmod: i32,
        opts: &TypeOptions,
        depth: u32,
    ) -> Result<Resolved, TypeError> {
        if depth > MAX_DEPTH {
            return Err(TypeError::Resolution {
                oid,
                reason: "domain or array chain too deep (cyclic?)".into(),
            });
        }
        let Some(t) = self.types.get(&oid) else { return Ok(Resolved::fallback()) };
        match &t.kind {
            TypeKind::Domain { base_oid, base_typmod } => {
                // The column's own modifier is -1 for a domain; the domain's
                // typtypmod then applies, as Debezium's PostgresType does.
                let typmod = if typmod != -1 { typmod } else { *base_typmod };
                self.resolve(*base_oid, typmod, opts, depth + 1)
            }
            TypeKind::Enum { labels } => Ok(Resolved::new(
                Schema::string()
                    .named("io.debezium.data.Enum")
                    .version(1)
                    .param("allowed", labels.join(",")),
                Conv::Text,
                Toast::Text,
            )),
            TypeKind::Array { element_oid } => {
                self.resolve_array(*element_oid, typmod, opts, depth)
            }
            TypeKind::Composite => Ok(Resolved::fallback()),
            TypeKind::Builtin => Ok(builtin(oid, typmod, opts)),
            TypeKind::Other => Ok(extension(&t.name, opts)),
        }
    }

    fn resolve_array(
        &self,
        element_oid: u32,
        typmod: i32,
        opts: &TypeOptions,
        depth: u32,
    ) -> Result<Resolved, TypeError> {
        let Some(element) = self.types.get(&element_oid) else { return Ok(Resolved::fallback()) };
        if matches!(element.kind, TypeKind::Builtin)
            && oids::array_unsupported_by_debezium(element_oid)
        {
            return Ok(Resolved::fallback());
        }
        let inner = self.resolve(element_oid, typmod, opts, depth + 1)?;
        if inner.fallback {
            return Ok(Resolved::fallback());
        }
        // Debezium's explicit array cases (and citext/ltree/hstore arrays)
        // make elements optional; its generic branch (enum arrays, other
        // extension types) does not. Domain elements: Debezium cannot map
        // them; logtap uses the base type with optional elements.
        let optional_elements = match &element.kind {
            TypeKind::Builtin => oids::array_has_optional_elements(element_oid),
            TypeKind::Other => matches!(element.name.as_str(), "citext" | "ltree" | "hstore"),
            TypeKind::Domain { .. } => true,
            _ => false,
        };
        let mut items = inner.schema;
        items.optional = optional_elements;
        let root = self.root_oid(element_oid);
        let toast = match root {
            oids::TEXT | oids::VARCHAR | oids::BPCHAR | oids::JSON | oids::JSONB => {
                Toast::TextArray
            }
            oids::BYTEA => Toast::BinaryArray,
            oids::INT4 | oids::DATE => Toast::IntArray,
            oids::INT8 => Toast::BigIntArray,
            oids::UUID => Toast::UuidArray,
            _ => Toast::None,
        };
        let delimiter = if root == oids::BOX { b';' } else { b',' };
        Ok(Resolved::new(Schema::array(items), Conv::Array(Box::new(inner.conv), delimiter), toast))
    }

    /// The OID a chain of domains ends at.
    fn root_oid(&self, mut oid: u32) -> u32 {
        for _ in 0..MAX_DEPTH {
            match self.types.get(&oid).map(|t| &t.kind) {
                Some(TypeKind::Domain { base_oid, .. }) => oid = *base_oid,
                _ => break,
            }
        }
        oid
    }
}

/// What a resolved type converts to, before the column's optionality.
struct Resolved {
    schema: Schema,
    conv: Conv,
    fallback: bool,
    toast: Toast,
}

impl Resolved {
    fn new(schema: Schema, conv: Conv, toast: Toast) -> Self {
        Resolved { schema, conv, fallback: false, toast }
    }
    fn fallback() -> Self {
        Resolved { schema: Schema::string(), conv: Conv::Text, fallback: true, toast: Toast::Text }
    }
}

/// The unchanged-TOAST placeholder Debezium substitutes for a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Toast {
    /// The placeholder string.
    Text,
    /// The placeholder's bytes.
    Binary,
    /// `[placeholder]`.
    TextArray,
    /// `[placeholder bytes]`.
    BinaryArray,
    /// The placeholder's bytes as `int`s.
    IntArray,
    /// The placeholder's bytes as `long`s.
    BigIntArray,
    /// `[UUID.nameUUIDFromBytes(placeholder)]`.
    UuidArray,
    /// `{"placeholder":"placeholder"}`.
    HStoreJson,
    /// The map `placeholder -> placeholder`.
    HStoreMap,
    /// No value of the column's schema (Debezium emits a value its own
    /// schema rejects); the caller decides.
    None,
}

fn debezium(schema: Schema, name: &str) -> Schema {
    schema.named(name).version(1)
}

fn decimal_schema(scale: i64, precision: Option<i64>) -> Schema {
    let s = debezium(Schema::bytes(), "org.apache.kafka.connect.data.Decimal")
        .param("scale", scale.to_string());
    match precision {
        Some(p) => s.param("connect.decimal.precision", p.to_string()),
        None => s,
    }
}

fn variable_scale_decimal_schema() -> Schema {
    Schema::structure(
        "io.debezium.data.VariableScaleDecimal",
        vec![Field::new("scale", Schema::int32()), Field::new("value", Schema::bytes())],
    )
    .version(1)
    .doc("Variable scaled decimal")
}

fn point_schema() -> Schema {
    Schema::structure(
        "io.debezium.data.geometry.Point",
        vec![
            Field::new("x", Schema::float64()),
            Field::new("y", Schema::float64()),
            Field::new("wkb", Schema::bytes().optional()),
            Field::new("srid", Schema::int32().optional()),
        ],
    )
    .version(1)
    .doc("Geometry (POINT)")
}

/// Time precision of a `time`/`timestamp(tz)` modifier (6 when absent).
fn time_precision(typmod: i32) -> i32 {
    if typmod < 0 {
        6
    } else {
        typmod
    }
}

/// The built-in types, by OID.
fn builtin(oid: u32, typmod: i32, opts: &TypeOptions) -> Resolved {
    use oids::*;
    let text = |schema: Schema| Resolved::new(schema, Conv::Text, Toast::Text);
    match oid {
        BOOL => Resolved::new(Schema::boolean(), Conv::Bool, Toast::None),
        INT2 => Resolved::new(Schema::int16(), Conv::Int16, Toast::None),
        INT4 => Resolved::new(Schema::int32(), Conv::Int32, Toast::None),
        INT8 | OID => Resolved::new(Schema::int64(), Conv::Int64, Toast::None),
        FLOAT4 => Resolved::new(Schema::float32(), Conv::Float32, Toast::None),
        FLOAT8 => Resolved::new(Schema::float64(), Conv::Float64, Toast::None),
        CHAR | NAME | TEXT | VARCHAR | BPCHAR | INET | CIDR | MACADDR | MACADDR8 | INT4RANGE
        | NUMRANGE | TSRANGE | TSTZRANGE | DATERANGE | INT8RANGE => text(Schema::string()),
        UUID => text(debezium(Schema::string(), "io.debezium.data.Uuid")),
        JSON | JSONB => text(debezium(Schema::string(), "io.debezium.data.Json")),
        XML => text(debezium(Schema::string(), "io.debezium.data.Xml")),
        TSVECTOR => text(debezium(Schema::string(), "io.debezium.data.Tsvector")),
        NUMERIC => numeric_type(typmod, opts),
        MONEY => {
            let digits = i64::from(opts.money_fraction_digits);
            let schema = match opts.decimal {
                DecimalMode::Precise => decimal_schema(digits, None),
                DecimalMode::Double => Schema::float64(),
                DecimalMode::String => Schema::string(),
            };
            Resolved::new(schema, Conv::Money { mode: opts.decimal, digits }, Toast::None)
        }
        BYTEA => {
            let (schema, toast) = match opts.binary {
                BinaryMode::Bytes => (Schema::bytes(), Toast::Binary),
                _ => (Schema::string(), Toast::Text),
            };
            Resolved::new(schema, Conv::Bytea(opts.binary), toast)
        }
        DATE => {
            let schema = match opts.time_precision {
                TimePrecisionMode::Connect => {
                    debezium(Schema::int32(), "org.apache.kafka.connect.data.Date")
                }
                _ => debezium(Schema::int32(), "io.debezium.time.Date"),
            };
            Resolved::new(schema, Conv::Date, Toast::None)
        }
        TIME => {
            let p = time_precision(typmod);
            let (schema, micros) = match opts.time_precision {
                TimePrecisionMode::Connect => {
                    (debezium(Schema::int32(), "org.apache.kafka.connect.data.Time"), false)
                }
                TimePrecisionMode::Adaptive if p <= 3 => {
                    (debezium(Schema::int32(), "io.debezium.time.Time"), false)
                }
                _ => (debezium(Schema::int64(), "io.debezium.time.MicroTime"), true),
            };
            Resolved::new(schema, Conv::Time { micros }, Toast::None)
        }
        TIMETZ => Resolved::new(
            debezium(Schema::string(), "io.debezium.time.ZonedTime"),
            Conv::TimeTz,
            Toast::Text,
        ),
        TIMESTAMP => {
            let p = time_precision(typmod);
            let (schema, micros) = match opts.time_precision {
                TimePrecisionMode::Connect => {
                    (debezium(Schema::int64(), "org.apache.kafka.connect.data.Timestamp"), false)
                }
                _ if p <= 3 => (debezium(Schema::int64(), "io.debezium.time.Timestamp"), false),
                _ => (debezium(Schema::int64(), "io.debezium.time.MicroTimestamp"), true),
            };
            Resolved::new(schema, Conv::Timestamp { micros }, Toast::None)
        }
        TIMESTAMPTZ => Resolved::new(
            debezium(Schema::string(), "io.debezium.time.ZonedTimestamp"),
            Conv::TimestampTz { fraction: time_precision(typmod) },
            Toast::Text,
        ),
        INTERVAL => match opts.interval {
            IntervalMode::Numeric => Resolved::new(
                debezium(Schema::int64(), "io.debezium.time.MicroDuration"),
                Conv::Interval(IntervalMode::Numeric),
                Toast::None,
            ),
            IntervalMode::String => Resolved::new(
                debezium(Schema::string(), "io.debezium.time.Interval"),
                Conv::Interval(IntervalMode::String),
                Toast::Text,
            ),
        },
        BIT | VARBIT => {
            // pgjdbc's precision: the modifier, or "unknown length"
            // (Integer.MAX_VALUE) for an unbounded varbit.
            let length = if oid == VARBIT && typmod == -1 { i32::MAX } else { typmod };
            if length > 1 {
                Resolved::new(
                    debezium(Schema::bytes(), "io.debezium.data.Bits")
                        .param("length", length.to_string()),
                    Conv::Bits,
                    Toast::None,
                )
            } else {
                Resolved::new(Schema::boolean(), Conv::Bit, Toast::None)
            }
        }
        POINT => Resolved::new(point_schema(), Conv::Point(Arc::new(point_schema())), Toast::None),
        _ => Resolved::fallback(),
    }
}

fn numeric_type(typmod: i32, opts: &TypeOptions) -> Resolved {
    // PostgreSQL's encoding: ((precision << 16) | (scale & 0x7ff)) + 4, the
    // scale an 11-bit two's complement number (negative scales, PG 15+).
    let fixed = (typmod >= 4).then(|| {
        let t = typmod - 4;
        let precision = i64::from((t >> 16) & 0xffff);
        let scale = i64::from(((t & 0x7ff) ^ 1024) - 1024);
        (precision, scale)
    });
    let schema = match (opts.decimal, fixed) {
        (DecimalMode::Precise, Some((p, s))) => decimal_schema(s, Some(p)),
        (DecimalMode::Precise, None) => variable_scale_decimal_schema(),
        (DecimalMode::Double, _) => Schema::float64(),
        (DecimalMode::String, _) => Schema::string(),
    };
    let variable = (opts.decimal == DecimalMode::Precise && fixed.is_none())
        .then(|| Arc::new(variable_scale_decimal_schema()));
    Resolved::new(
        schema,
        Conv::Numeric { mode: opts.decimal, scale: fixed.map(|(_, s)| s), variable },
        Toast::None,
    )
}

/// Extension types Debezium recognises by name.
fn extension(name: &str, opts: &TypeOptions) -> Resolved {
    match name {
        "citext" | "isbn" => Resolved::new(Schema::string(), Conv::Text, Toast::Text),
        "ltree" => Resolved::new(
            debezium(Schema::string(), "io.debezium.data.Ltree"),
            Conv::Text,
            Toast::Text,
        ),
        "hstore" => match opts.hstore {
            HStoreMode::Json => Resolved::new(
                debezium(Schema::string(), "io.debezium.data.Json"),
                Conv::HStoreJson,
                Toast::HStoreJson,
            ),
            HStoreMode::Map => Resolved::new(
                Schema::map(Schema::string(), Schema::string().optional()),
                Conv::HStoreMap,
                Toast::HStoreMap,
            ),
        },
        "vector" => Resolved::new(
            debezium(Schema::array(Schema::float64()), "io.debezium.data.DoubleVector"),
            Conv::DoubleVector,
            Toast::None,
        ),
        "halfvec" => Resolved::new(
            debezium(Schema::array(Schema::float32()), "io.debezium.data.FloatVector"),
            Conv::FloatVector,
            Toast::None,
        ),
        "sparsevec" => {
            let schema = sparse_vector_schema();
            Resolved::new(schema.clone(), Conv::SparseVector(Arc::new(schema)), Toast::None)
        }
        _ => Resolved::fallback(),
    }
}

fn sparse_vector_schema() -> Schema {
    Schema::structure(
        "io.debezium.data.SparseDoubleVector",
        vec![
            Field::new("dimensions", Schema::int16()),
            Field::new("vector", Schema::map(Schema::int16(), Schema::float64())),
        ],
    )
    .version(1)
}

/// How one value is converted.
#[derive(Debug, Clone)]
enum Conv {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// The text as a string.
    Text,
    /// `scale`: the column's (rescale to it); `variable`: the
    /// `VariableScaleDecimal` struct schema in precise mode without a scale.
    Numeric {
        mode: DecimalMode,
        scale: Option<i64>,
        variable: Option<Arc<Schema>>,
    },
    Money {
        mode: DecimalMode,
        digits: i64,
    },
    Bytea(BinaryMode),
    /// Epoch days.
    Date,
    /// Micros (`int64`) or millis (`int32`) of the day.
    Time {
        micros: bool,
    },
    TimeTz,
    /// Epoch micros or millis.
    Timestamp {
        micros: bool,
    },
    TimestampTz {
        fraction: i32,
    },
    Interval(IntervalMode),
    Bit,
    Bits,
    Point(Arc<Schema>),
    HStoreJson,
    HStoreMap,
    DoubleVector,
    FloatVector,
    SparseVector(Arc<Schema>),
    /// Element converter and delimiter.
    Array(Box<Conv>, u8),
}

impl Conv {
    /// Points struct-producing converters at the final schema (optionality
    /// included), which struct values carry.
    fn bind(&mut self, schema: &Schema) {
        match self {
            Conv::Numeric { variable: Some(s), .. } | Conv::Point(s) | Conv::SparseVector(s) => {
                *s = Arc::new(schema.clone());
            }
            Conv::Array(element, _) => {
                if let Some(items) = &schema.items {
                    element.bind(items);
                }
            }
            _ => {}
        }
    }
}

/// A failure inside a converter: the reason, or an unrepresentable value.
enum Fail {
    Invalid(String),
    Unrepresentable,
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Invalid(s)
    }
}

impl From<&str> for Fail {
    fn from(s: &str) -> Self {
        Fail::Invalid(s.to_string())
    }
}

/// The schema and converter of one column.
#[derive(Debug, Clone)]
pub struct ColumnConversion {
    schema: Schema,
    conv: Conv,
    fallback: bool,
    toast: Toast,
    type_name: String,
}

impl ColumnConversion {
    /// The column's Connect schema (optional when the column is nullable).
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// True when the type has no Debezium mapping and the value is sent as
    /// its text: the caller should warn once per column.
    pub fn is_fallback(&self) -> bool {
        self.fallback
    }

    /// The PostgreSQL type name (`typname`) the column was resolved from.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// Converts a non-null value in pgoutput's text format.
    pub fn convert_text(&self, text: &str) -> Result<Value, TypeError> {
        convert(&self.conv, text).map_err(|f| match f {
            Fail::Invalid(reason) => TypeError::InvalidText {
                type_name: self.type_name.clone(),
                text: truncate(text),
                reason,
            },
            Fail::Unrepresentable => TypeError::Unrepresentable {
                type_name: self.type_name.clone(),
                text: truncate(text),
            },
        })
    }

    /// The value Debezium sends for an unchanged TOAST column (pgoutput's
    /// `u`), given `unavailable.value.placeholder` (usually
    /// [`DEFAULT_UNAVAILABLE_VALUE`]). `None` for the types where Debezium's
    /// substitute does not fit its own schema (numeric, bit strings, most
    /// arrays): those columns are rarely large enough to be TOASTed, and the
    /// caller has to pick something (a null in an optional column, say).
    pub fn unavailable_value(&self, placeholder: &str) -> Option<Value> {
        let bytes = placeholder.as_bytes();
        let string = || Value::String(placeholder.to_string());
        Some(match self.toast {
            Toast::Text => string(),
            Toast::Binary => Value::Bytes(bytes.to_vec()),
            Toast::TextArray => Value::Array(vec![string()]),
            Toast::BinaryArray => {
                Value::Array(vec![match self.schema.items.as_deref().map(|s| s.kind) {
                    Some(logtap_core::ConnectType::Bytes) => Value::Bytes(bytes.to_vec()),
                    _ => string(),
                }])
            }
            Toast::IntArray => {
                Value::Array(bytes.iter().map(|&b| Value::Int32(i32::from(b as i8))).collect())
            }
            Toast::BigIntArray => {
                Value::Array(bytes.iter().map(|&b| Value::Int64(i64::from(b as i8))).collect())
            }
            Toast::UuidArray => {
                Value::Array(vec![Value::String(encode::name_uuid_from_bytes(bytes)?)])
            }
            Toast::HStoreJson => Value::String(hstore::to_json(&[(
                placeholder.to_string(),
                Some(placeholder.to_string()),
            )])),
            Toast::HStoreMap => Value::Map(vec![(string(), string())]),
            Toast::None => return None,
        })
    }
}

fn convert(conv: &Conv, text: &str) -> Result<Value, Fail> {
    Ok(match conv {
        Conv::Bool => Value::Boolean(parse_bool(text)?),
        Conv::Int16 => Value::Int16(parse_int(text)?),
        Conv::Int32 => Value::Int32(parse_int(text)?),
        Conv::Int64 => Value::Int64(parse_int(text)?),
        Conv::Float32 => Value::Float32(parse_float(text)?),
        Conv::Float64 => Value::Float64(parse_float(text)?),
        Conv::Text => Value::String(text.to_string()),
        Conv::Numeric { mode, scale, variable } => {
            convert_numeric(text, *mode, *scale, variable.as_ref())?
        }
        Conv::Money { mode, digits } => convert_money(text, *mode, *digits)?,
        Conv::Bytea(mode) => mode.encode(encode::decode_bytea(text)?),
        Conv::Date => Value::Int32(match temporal::parse_date(text)? {
            // Java's `(int) LocalDate.toEpochDay()`: wraps like `as`.
            Temporal::Finite(days) => days as i32,
            Temporal::PosInf => temporal::DATE_POSITIVE_INFINITY_DAYS,
            Temporal::NegInf => temporal::DATE_NEGATIVE_INFINITY_DAYS,
        }),
        Conv::Time { micros } => {
            let nanos = temporal::parse_time_nanos(text)?;
            if *micros {
                Value::Int64(nanos / 1000)
            } else {
                Value::Int32(i32::try_from(nanos / 1_000_000).map_err(|_| "time out of range")?)
            }
        }
        Conv::TimeTz => Value::String(temporal::timetz_to_zoned_time(text)?),
        Conv::Timestamp { micros } => {
            let us = match temporal::parse_timestamp(text)? {
                Temporal::Finite(us) => us,
                Temporal::PosInf => i128::from(temporal::TIMESTAMP_POSITIVE_INFINITY_MICROS),
                Temporal::NegInf => i128::from(temporal::TIMESTAMP_NEGATIVE_INFINITY_MICROS),
            };
            let v = if *micros { us } else { us.div_euclid(1000) };
            // Only timestamps after 294247 AD overflow microseconds
            // (Debezium's arithmetic wraps there; logtap refuses).
            Value::Int64(
                i64::try_from(v)
                    .map_err(|_| "beyond the range of epoch microseconds in an int64")?,
            )
        }
        Conv::TimestampTz { fraction } => Value::String(match temporal::parse_timestamptz(text)? {
            Temporal::Finite(us) => temporal::zoned_timestamp(us, *fraction),
            Temporal::PosInf => "infinity".into(),
            Temporal::NegInf => "-infinity".into(),
        }),
        Conv::Interval(mode) => {
            let iv = interval::PgInterval::parse(text)?;
            match mode {
                IntervalMode::Numeric => Value::Int64(iv.micro_duration()),
                IntervalMode::String => Value::String(iv.iso_string()),
            }
        }
        Conv::Bit => {
            check_bits(text)?;
            Value::Boolean(text.contains('1'))
        }
        Conv::Bits => Value::Bytes(bits_to_bytes(text)?),
        Conv::Point(schema) => {
            let (x, y) = parse_point(text)?;
            let mut wkb = Vec::with_capacity(21);
            wkb.push(1); // little-endian
            wkb.extend_from_slice(&1_u32.to_le_bytes()); // wkbPoint
            wkb.extend_from_slice(&x.to_le_bytes());
            wkb.extend_from_slice(&y.to_le_bytes());
            Value::Struct(Struct {
                schema: schema.clone(),
                values: vec![Value::Float64(x), Value::Float64(y), Value::Bytes(wkb), Value::Null],
            })
        }
        Conv::HStoreJson => {
            Value::String(hstore::to_json(&hstore::java_order(hstore::parse(text)?)))
        }
        Conv::HStoreMap => Value::Map(
            hstore::java_order(hstore::parse(text)?)
                .into_iter()
                .map(|(k, v)| (Value::String(k), v.map_or(Value::Null, Value::String)))
                .collect(),
        ),
        Conv::DoubleVector => Value::Array(
            vector_elements(text)?
                .into_iter()
                .map(|s| parse_float(s).map(Value::Float64))
                .collect::<Result<_, _>>()?,
        ),
        Conv::FloatVector => Value::Array(
            vector_elements(text)?
                .into_iter()
                .map(|s| parse_float(s).map(Value::Float32))
                .collect::<Result<_, _>>()?,
        ),
        Conv::SparseVector(schema) => convert_sparse_vector(text, schema)?,
        Conv::Array(element, delimiter) => {
            let items = array::parse(text, *delimiter)?;
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                values.push(match item {
                    array::Item::Null => Value::Null,
                    array::Item::Text(t) => convert(element, &t).map_err(|f| match f {
                        Fail::Invalid(reason) => {
                            Fail::Invalid(format!("element {} {:?}: {reason}", i + 1, truncate(&t)))
                        }
                        other => other,
                    })?,
                    // A sub-array of a multi-dimensional array: Debezium's
                    // element converters receive a Java array they do not
                    // handle and produce null. Same here.
                    array::Item::Array(_) => Value::Null,
                });
            }
            Value::Array(values)
        }
    })
}

fn parse_bool(text: &str) -> Result<bool, Fail> {
    match text {
        "t" | "T" | "true" | "TRUE" => Ok(true),
        "f" | "F" | "false" | "FALSE" => Ok(false),
        _ => Err("expected t or f".into()),
    }
}

fn parse_int<T: std::str::FromStr>(text: &str) -> Result<T, Fail> {
    if text.is_empty()
        || !text.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
    {
        return Err("not an integer".into());
    }
    text.parse().map_err(|_| "integer out of range".into())
}

/// `Float.valueOf` / `Double.valueOf` of PostgreSQL's output (`NaN`,
/// `Infinity`, `-Infinity`, `1e+20` included).
fn parse_float<T: std::str::FromStr>(text: &str) -> Result<T, Fail> {
    let ok = !text.is_empty()
        && (text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
            || matches!(text, "NaN" | "Infinity" | "-Infinity"));
    if !ok {
        return Err("not a floating-point number".into());
    }
    text.parse().map_err(|_| "not a floating-point number".into())
}

fn convert_numeric(
    text: &str,
    mode: DecimalMode,
    scale: Option<i64>,
    variable: Option<&Arc<Schema>>,
) -> Result<Value, Fail> {
    let mut d = match Numeric::parse(text)? {
        Numeric::Finite(d) => d,
        special => {
            return match mode {
                DecimalMode::Precise => Err(Fail::Unrepresentable),
                DecimalMode::Double => Ok(Value::Float64(match special {
                    Numeric::PosInf => f64::INFINITY,
                    Numeric::NegInf => f64::NEG_INFINITY,
                    _ => f64::NAN,
                })),
                // SpecialValueDecimal's enum names.
                DecimalMode::String => Ok(Value::String(
                    match special {
                        Numeric::PosInf => "POSITIVE_INFINITY",
                        Numeric::NegInf => "NEGATIVE_INFINITY",
                        _ => "NAN",
                    }
                    .into(),
                )),
            };
        }
    };
    if let Some(s) = scale {
        // PostgreSQL already prints the column's scale; a mismatch (which
        // makes Debezium throw) is rounded half up, as PostgreSQL rounds.
        d.rescale(s)?;
    }
    Ok(match mode {
        DecimalMode::Precise => match variable {
            None => Value::Bytes(d.unscaled_twos_complement()),
            Some(schema) => {
                d.strip_trailing_zeros_keep_integer();
                let scale = i32::try_from(d.scale()).map_err(|_| "scale out of range")?;
                Value::Struct(Struct {
                    schema: schema.clone(),
                    values: vec![Value::Int32(scale), Value::Bytes(d.unscaled_twos_complement())],
                })
            }
        },
        DecimalMode::Double => Value::Float64(d.to_f64()),
        DecimalMode::String => Value::String(d.to_plain_string()),
    })
}

/// `money` text as `$1,234.56`, `-$1,234.56` or `($1,234.56)`: sign or
/// parentheses, a currency symbol, thousands separators, a point.
fn convert_money(text: &str, mode: DecimalMode, digits: i64) -> Result<Value, Fail> {
    let mut s = text.trim();
    let mut negative = false;
    if let Some(inner) = s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        negative = true;
        s = inner;
    }
    // What precedes the number: the sign and the currency symbol.
    let start = s.find(|c: char| c.is_ascii_digit() || c == '.').ok_or("no digits")?;
    if s[..start].contains('-') {
        negative = !negative;
    }
    let mut number = String::with_capacity(s.len() - start + 1);
    if negative {
        number.push('-');
    }
    number.extend(s[start..].chars().filter(|&c| c != ','));
    let mut d = BigDec::parse(&number).map_err(|e| {
        format!("{e} (money is read as lc_monetary C or en_US prints it, e.g. \"-$1,234.56\")")
    })?;
    Ok(match mode {
        DecimalMode::Precise => {
            d.rescale(digits)?;
            Value::Bytes(d.unscaled_twos_complement())
        }
        DecimalMode::Double => Value::Float64(d.to_f64()),
        DecimalMode::String => Value::String(d.to_plain_string()),
    })
}

fn check_bits(text: &str) -> Result<(), Fail> {
    if text.bytes().all(|b| b == b'0' || b == b'1') {
        Ok(())
    } else {
        Err("not a bit string".into())
    }
}

/// Debezium's `Bits` value: the bit string read as a binary number (first
/// character most significant), as `BitSet.toByteArray()` returns it:
/// little-endian, without high zero bytes (so all zeros is empty).
fn bits_to_bytes(text: &str) -> Result<Vec<u8>, Fail> {
    check_bits(text)?;
    let b = text.as_bytes();
    let n = b.len();
    let mut out = vec![0u8; n.div_ceil(8)];
    for i in 0..n {
        if b[n - 1 - i] == b'1' {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    Ok(out)
}

/// `(x,y)`, as pgjdbc's `PGpoint` reads it.
fn parse_point(text: &str) -> Result<(f64, f64), Fail> {
    let inner =
        text.trim().strip_prefix('(').and_then(|t| t.strip_suffix(')')).ok_or("expected (x,y)")?;
    let (x, y) = inner.split_once(',').ok_or("expected (x,y)")?;
    Ok((parse_float(x.trim())?, parse_float(y.trim())?))
}

/// The elements of pgvector's `[1,2,3]`.
fn vector_elements(text: &str) -> Result<Vec<&str>, Fail> {
    let inner = text
        .trim()
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or("expected [x,y,...]")?;
    Ok(inner.split(',').map(str::trim).collect())
}

/// pgvector's `{1:0.5,3:2}/5` as Debezium's `SparseDoubleVector` struct; the
/// map in the iteration order of the Java `HashMap<Short, Double>` Debezium
/// builds.
fn convert_sparse_vector(text: &str, schema: &Arc<Schema>) -> Result<Value, Fail> {
    let (vector, dims) = text.trim().split_once('/').ok_or("expected {i:x,...}/dimensions")?;
    let dims: i16 = dims.trim().parse().map_err(|_| "dimensions are not a short")?;
    let inner = vector
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or("expected {i:x,...}/dimensions")?
        .trim();
    let mut entries: Vec<(i16, f64)> = Vec::new();
    if !inner.is_empty() {
        for element in inner.split(',') {
            let (i, x) = element.split_once(':').ok_or("expected i:x")?;
            let i: i16 = i.trim().parse().map_err(|_| "index is not a short")?;
            entries.push((i, parse_float(x.trim())?));
        }
    }
    let hashes: Vec<i32> = entries.iter().map(|(i, _)| i32::from(*i)).collect();
    let order = hstore::java_hash_map_order(&hashes, |a, b| entries[a].0 == entries[b].0);
    let map = order
        .into_iter()
        .map(|i| {
            let key = entries[i].0;
            let value = entries.iter().rev().find(|(k, _)| *k == key).map_or(0.0, |(_, v)| *v);
            (Value::Int16(key), Value::Float64(value))
        })
        .collect();
    Ok(Value::Struct(Struct {
        schema: schema.clone(),
        values: vec![Value::Int16(dims), Value::Map(map)],
    }))
}
