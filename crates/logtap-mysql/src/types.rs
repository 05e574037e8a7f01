//! MySQL/MariaDB binlog row values to Kafka Connect schemas and values, the
//! way Debezium's MySQL connector maps them while streaming, defaults
//! included.
//!
//! The reference is Debezium 3.6.1 (`MySqlValueConverters` on top of
//! `BinlogValueConverters` and `JdbcValueConverters`, fed by its binlog
//! client's row deserializers, `RowDeserializers`, and `JsonBinary`). Debezium
//! knows each column from the DDL it parses; logtap knows it from the
//! TABLE_MAP event alone (`binlog_row_metadata = FULL`: names, signedness,
//! character sets, ENUM/SET labels, geometry types, primary key), see
//! [`table_columns`]. A column is described by a [`ColumnType`];
//! [`column_schema`] gives its Connect schema and a [`ColumnConversion`]
//! that turns mysql_common's [`BinlogValue`]s into Connect values.
//!
//! What Debezium does and logtap does too:
//!
//! - Integers widen when unsigned (TINYINT UNSIGNED is `int16`, SMALLINT
//!   UNSIGNED and MEDIUMINT `int32`, INT UNSIGNED `int64`); TINYINT, BOOLEAN
//!   included, is `int16` (Debezium 3.6 maps TINYINT to JDBC SMALLINT;
//!   BOOLEAN is TINYINT(1) in the binlog). BIGINT UNSIGNED is an `int64` that
//!   wraps above 2^63-1 (`bigint.unsigned.handling.mode = long`, the
//!   default) or a `Decimal` of scale 0 and precision 20 (`precise`).
//! - DECIMAL follows `decimal.handling.mode`: `Decimal` bytes (the unscaled
//!   value as `BigInteger.toByteArray()`, `scale` and
//!   `connect.decimal.precision` parameters), `double` or plain string.
//! - Temporal types follow `time.precision.mode` (`adaptive_time_microseconds`
//!   by default for MySQL; `adaptive` is refused, as Debezium refuses it);
//!   TIMESTAMP is always a UTC `ZonedTimestamp` string with as many
//!   fraction digits as the column's precision. TIME is a signed duration
//!   (negative and over 24 hours in the microsecond modes). Zero dates
//!   (`0000-00-00`, or any zero part) are null, or the epoch in a NOT NULL
//!   column; two-digit years 0001-0099 are moved to 1970-2069
//!   (`enable.time.adjuster`, on by default); YEAR 0000 is 1900, as the
//!   binlog client reads it.
//! - BIT(1) is a boolean, BIT(n) `io.debezium.data.Bits` bytes in
//!   little-endian order; BINARY(n) values are right-padded with zeros to n
//!   bytes (the binlog strips them); strings are decoded with the column's
//!   character set as Java decodes it (`latin1` as `Cp1252`).
//! - ENUM/SET are strings with an `allowed` parameter; JSON is the binlog
//!   client's own rendering of MySQL's binary JSON (see `json.rs`);
//!   geometries are `Geometry {wkb, srid}` (POINT columns `Point {x, y,
//!   wkb, srid}`), the srid null when 0.
//! - A NULL in a NOT NULL column (or a zero date there) gets Debezium's
//!   fallback value: 0, `""`, `false`, the epoch, `"{}"` for JSON, an empty
//!   GEOMETRYCOLLECTION for geometries.
//!
//! Where logtap differs, knowingly:
//!
//! - Column defaults come from `information_schema` (see `defaults.rs` and
//!   `catalog.rs`), not from the DDL at that point of the binlog.
//! - Facts only the DDL has are unknown: FLOAT(M,D) and REAL
//!   (REAL_AS_FLOAT off) columns are `float32`/`float64` from their storage
//!   (Debezium: `float64` for FLOAT(M,D), `float32` for REAL); BOOLEAN is
//!   `int16` like the TINYINT(1) it is stored as (Debezium streaming: a
//!   boolean); MariaDB's JSON is LONGTEXT in the binlog and becomes a plain
//!   string unless the caller declares the column [`ColumnType::Json`];
//!   MariaDB's UUID is BINARY(16) in the binlog and a [`ColumnType::Uuid`]
//!   when the caller knows it from the catalog (INET4 and INET6 stay
//!   bytes).
//! - Only the Unicode character sets, `latin1` and `ascii` are decoded; a
//!   column in another one is refused by [`table_columns`], naming it.
//! - Malformed or impossible values (an ENUM index or SET member past the
//!   labels, an invalid calendar date, a TIME outside 00:00-24:00 in
//!   `connect` mode, a non-POINT in a POINT column, a VECTOR that is not
//!   whole floats) are a [`TypeError`], never a panic and never a silently
//!   wrong value; Debezium fails on most of them too (its default
//!   `event.processing.failure.handling.mode = fail`), or logs and emits
//!   null, an empty list or a stray comma.
//! - ENUM labels are emitted as they are; Debezium 3.6 escapes commas in
//!   them (`a\,b`) in the value as well as in `allowed` (fixed in 3.7, whose
//!   `allowed` escaping logtap follows).
//! - A binary JSON `null` and an empty JSON value both reach logtap as
//!   JSON null (mysql_common maps both to one value) and are written
//!   `"null"`; Debezium writes null or `"{}"` for the empty one. JSON text
//!   (MariaDB) starting with whitespace stays text (Debezium misreads it as
//!   binary JSON).
//! - A POINT column's NOT NULL fallback has x = y = 0 (Debezium's has no x
//!   and y and fails Connect's validation).
//! - Debezium 3.7 (not released yet) maps signed TINYINT to `int8` and adds
//!   an `extensions` field to `Geometry` (version 2); logtap follows 3.6.
//!
//! mysql_common 0.38 quirks handled here: a signed MEDIUMINT arrives
//! without its sign extended (-1 as 16777215), a TIMESTAMP after 2038
//! (MariaDB 11.5+) as a negative number of seconds. Not handled (it happens
//! before a value reaches this module): a negative TIME(1) or TIME(2) with
//! a fraction makes mysql_common's decoder overflow (a panic in debug
//! builds, a wrong value in release builds).

mod charset;
mod decimal;
mod declared;
mod defaults;
mod json;
mod rows;
mod table_map;
mod temporal;

use std::sync::Arc;

pub use defaults::ColumnDefault;

use logtap_core::convert::hex;
pub use logtap_core::convert::{BinaryMode, DecimalMode};
use logtap_core::{Field, Schema, Struct, Value};
use mysql_common::binlog::jsonb;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::io::ParseBuf;
use mysql_common::value::Value as My;

pub use charset::{charset_name, Charset};

/// Which server family is at the other end: the two differ in GTID format,
/// replication commands, event types, and which columns the TABLE_MAP
/// gives a character set (see [`table_columns`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Mariadb,
    Mysql,
}

impl Flavor {
    /// Debezium's connector name for this server family (`source.connector`).
    pub fn connector(self) -> &'static str {
        match self {
            Flavor::Mariadb => "mariadb",
            Flavor::Mysql => "mysql",
        }
    }
}

pub use declared::{declared_type, key_literal, select_expr, selected_value};
pub use rows::{decoded_rows, RowImages};
pub use table_map::{table_columns, ColumnDef, TableColumns};

use logtap_core::decimal::BigDec;
use temporal::{MICROS_PER_DAY, MICROS_PER_SECOND};

/// `bigint.unsigned.handling.mode`: `long`, `precise`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BigIntUnsignedMode {
    /// `int64`; values above 2^63-1 wrap to negative numbers, as Debezium's
    /// (a Java `long`).
    #[default]
    Long,
    /// Connect `Decimal` with scale 0 and precision 20.
    Precise,
}

/// `time.precision.mode`, the values Debezium's MySQL connector accepts:
/// `adaptive_time_microseconds`, `connect`, `microseconds`, `nanoseconds`,
/// `isostring`. `adaptive` is not accepted (Debezium's MySQL connector
/// refuses it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimePrecisionMode {
    /// DATE `Date`, TIME `MicroTime`, DATETIME `Timestamp` (milliseconds) up
    /// to precision 3 and `MicroTimestamp` above.
    #[default]
    AdaptiveTimeMicroseconds,
    /// Kafka Connect's `Date`, `Time` (milliseconds, 00:00-24:00 only) and
    /// `Timestamp` (milliseconds).
    Connect,
    /// DATE `Date`, TIME `MicroTime`, DATETIME `MicroTimestamp`.
    Microseconds,
    /// DATE `Date`, TIME `NanoTime`, DATETIME `NanoTimestamp` (years
    /// 1677-2262 only).
    Nanoseconds,
    /// `IsoDate`, `IsoTime` (00:00-24:00 only), `IsoTimestamp` strings.
    #[serde(rename = "isostring")]
    IsoString,
}

/// The value-conversion options, Debezium's MySQL defaults by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeOptions {
    pub decimal: DecimalMode,
    pub bigint_unsigned: BigIntUnsignedMode,
    pub time_precision: TimePrecisionMode,
    pub binary: BinaryMode,
    /// `enable.time.adjuster`: DATE/DATETIME years 0001-0069 become
    /// 2001-2069 and 0070-0099 become 1970-1999.
    pub time_adjuster: bool,
}

impl Default for TypeOptions {
    fn default() -> Self {
        TypeOptions {
            decimal: DecimalMode::Precise,
            bigint_unsigned: BigIntUnsignedMode::Long,
            time_precision: TimePrecisionMode::AdaptiveTimeMicroseconds,
            binary: BinaryMode::Bytes,
            time_adjuster: true,
        }
    }
}

/// The declared type of a GEOMETRY column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeometryKind {
    Geometry,
    Point,
    LineString,
    Polygon,
    MultiPoint,
    MultiLineString,
    MultiPolygon,
    GeometryCollection,
}

/// A column's type, as far as the conversion needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// TINYINT, BOOLEAN.
    TinyInt {
        unsigned: bool,
    },
    SmallInt {
        unsigned: bool,
    },
    MediumInt {
        unsigned: bool,
    },
    Int {
        unsigned: bool,
    },
    BigInt {
        unsigned: bool,
    },
    /// 4-byte FLOAT.
    Float,
    /// DOUBLE, REAL, FLOAT(p > 24).
    Double,
    Decimal {
        precision: u8,
        scale: u8,
    },
    /// BIT(length), 1 to 64.
    Bit {
        length: u16,
    },
    Year,
    Date,
    /// TIME(fsp).
    Time {
        fsp: u8,
    },
    /// DATETIME(fsp).
    DateTime {
        fsp: u8,
    },
    /// TIMESTAMP(fsp).
    Timestamp {
        fsp: u8,
    },
    /// CHAR, VARCHAR and the TEXT types in a non-binary character set.
    Text {
        charset: Charset,
    },
    /// BINARY, VARBINARY, the BLOB types (the binary character set).
    /// `pad_to`: the length of a fixed BINARY(n), whose values the binlog
    /// stores without trailing zero bytes.
    Binary {
        pad_to: Option<u32>,
    },
    Enum {
        labels: Vec<String>,
    },
    Set {
        labels: Vec<String>,
    },
    /// MySQL's JSON (binary in the binlog). A MariaDB JSON column is a
    /// LONGTEXT in the binlog; declared `Json` by the caller it is sent as
    /// Debezium sends it, its text as is.
    Json,
    Geometry {
        kind: GeometryKind,
    },
    /// MySQL 9's VECTOR.
    Vector,
    /// MariaDB's UUID, 16 bytes in the binlog; known only from the
    /// catalog (`information_schema.COLUMNS.DATA_TYPE = 'uuid'`).
    Uuid,
}

impl ColumnType {
    /// The SQL type, for messages.
    pub fn sql_name(&self) -> String {
        let u = |unsigned: bool| if unsigned { " UNSIGNED" } else { "" };
        match self {
            ColumnType::TinyInt { unsigned } => format!("TINYINT{}", u(*unsigned)),
            ColumnType::SmallInt { unsigned } => format!("SMALLINT{}", u(*unsigned)),
            ColumnType::MediumInt { unsigned } => format!("MEDIUMINT{}", u(*unsigned)),
            ColumnType::Int { unsigned } => format!("INT{}", u(*unsigned)),
            ColumnType::BigInt { unsigned } => format!("BIGINT{}", u(*unsigned)),
            ColumnType::Float => "FLOAT".into(),
            ColumnType::Double => "DOUBLE".into(),
            ColumnType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
            ColumnType::Bit { length } => format!("BIT({length})"),
            ColumnType::Year => "YEAR".into(),
            ColumnType::Date => "DATE".into(),
            ColumnType::Time { fsp } => format!("TIME({fsp})"),
            ColumnType::DateTime { fsp } => format!("DATETIME({fsp})"),
            ColumnType::Timestamp { fsp } => format!("TIMESTAMP({fsp})"),
            ColumnType::Text { charset } => format!("TEXT ({})", charset.mysql_name()),
            ColumnType::Binary { pad_to: Some(n) } => format!("BINARY({n})"),
            ColumnType::Binary { pad_to: None } => "VARBINARY/BLOB".into(),
            ColumnType::Enum { .. } => "ENUM".into(),
            ColumnType::Set { .. } => "SET".into(),
            ColumnType::Json => "JSON".into(),
            ColumnType::Geometry { kind } => format!("{kind:?}").to_uppercase(),
            ColumnType::Vector => "VECTOR".into(),
            ColumnType::Uuid => "UUID".into(),
        }
    }
}

/// A failure to convert a value, or to resolve a table's columns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    /// The value is not one the column's type produces (a malformed value,
    /// an impossible date, an ENUM index past the labels, ...).
    #[error("invalid {type_name} value {value}: {reason}")]
    InvalidValue { type_name: String, value: String, reason: String },
    /// A valid value the configured mode cannot represent (a TIME outside
    /// 00:00-24:00 with `time.precision.mode = connect`, a DATETIME beyond
    /// int64 nanoseconds, ...).
    #[error("{type_name} value {value} cannot be represented: {reason}")]
    Unrepresentable { type_name: String, value: String, reason: String },
    /// The TABLE_MAP cannot be resolved into columns logtap converts.
    #[error("table `{table}`{}: {reason}", column.as_ref().map(|c| format!(" column `{c}`")).unwrap_or_default())]
    TableMap { table: String, column: Option<String>, reason: String },
}

/// Builds the schema and converter of a column of type `column_type`,
/// optional when the column is nullable.
pub fn column_schema(
    column_type: &ColumnType,
    optional: bool,
    opts: &TypeOptions,
) -> ColumnConversion {
    let (mut schema, mut conv) = resolve(column_type, opts);
    // Debezium's Geometry schema is optional whatever the column says.
    schema.optional = optional || matches!(conv, Conv::Geometry(_));
    if let Conv::Geometry(s) | Conv::Point(s) = &mut conv {
        *s = Arc::new(schema.clone());
    }
    ColumnConversion { optional, schema, conv, type_name: column_type.sql_name() }
}

fn debezium(schema: Schema, name: &str) -> Schema {
    schema.named(name).version(1)
}

fn decimal_schema(scale: u32, precision: u32) -> Schema {
    debezium(Schema::bytes(), "org.apache.kafka.connect.data.Decimal")
        .param("scale", scale.to_string())
        .param("connect.decimal.precision", precision.to_string())
}

fn geometry_schema() -> Schema {
    Schema::structure(
        "io.debezium.data.geometry.Geometry",
        vec![Field::new("wkb", Schema::bytes()), Field::new("srid", Schema::int32().optional())],
    )
    .version(1)
    .doc("Geometry")
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

/// `allowed`: the labels joined by commas, commas and backslashes in them
/// escaped (Debezium's `EnumeratedValues.toCommaSeparatedString`).
fn allowed(labels: &[String]) -> String {
    labels.iter().map(|l| l.replace('\\', "\\\\").replace(',', "\\,")).collect::<Vec<_>>().join(",")
}

fn int(min: i64, max: i128, out: IntOut) -> Conv {
    Conv::Int { min, max, out }
}

fn resolve(t: &ColumnType, opts: &TypeOptions) -> (Schema, Conv) {
    use TimePrecisionMode as T;
    match t {
        ColumnType::TinyInt { unsigned: false } => (Schema::int16(), int(-128, 127, IntOut::I16)),
        ColumnType::TinyInt { unsigned: true } => (Schema::int16(), int(0, 255, IntOut::I16)),
        ColumnType::SmallInt { unsigned: false } => {
            (Schema::int16(), int(-32768, 32767, IntOut::I16))
        }
        ColumnType::SmallInt { unsigned: true } => (Schema::int32(), int(0, 65535, IntOut::I32)),
        ColumnType::MediumInt { unsigned: false } => (Schema::int32(), Conv::SignedMediumInt),
        ColumnType::MediumInt { unsigned: true } => {
            (Schema::int32(), int(0, 16_777_215, IntOut::I32))
        }
        ColumnType::Int { unsigned: false } => {
            (Schema::int32(), int(i32::MIN.into(), i32::MAX.into(), IntOut::I32))
        }
        ColumnType::Int { unsigned: true } => {
            (Schema::int64(), int(0, u32::MAX.into(), IntOut::I64))
        }
        ColumnType::BigInt { unsigned: false } => {
            (Schema::int64(), int(i64::MIN, i64::MAX.into(), IntOut::I64))
        }
        ColumnType::BigInt { unsigned: true } => match opts.bigint_unsigned {
            BigIntUnsignedMode::Long => (Schema::int64(), int(0, u64::MAX.into(), IntOut::Wrap)),
            BigIntUnsignedMode::Precise => (decimal_schema(0, 20), Conv::UnsignedDecimal),
        },
        ColumnType::Float => (Schema::float32(), Conv::Float32),
        ColumnType::Double => (Schema::float64(), Conv::Float64),
        ColumnType::Decimal { precision, scale } => {
            let schema = match opts.decimal {
                DecimalMode::Precise => decimal_schema((*scale).into(), (*precision).into()),
                DecimalMode::Double => Schema::float64(),
                DecimalMode::String => Schema::string(),
            };
            (schema, Conv::Decimal { mode: opts.decimal, scale: (*scale).into() })
        }
        ColumnType::Bit { length: 1 } => (Schema::boolean(), Conv::Bit),
        ColumnType::Bit { length } => (
            debezium(Schema::bytes(), "io.debezium.data.Bits").param("length", length.to_string()),
            Conv::Bits { length: *length },
        ),
        ColumnType::Year => (debezium(Schema::int32(), "io.debezium.time.Year"), Conv::Year),
        ColumnType::Date => {
            let schema = match opts.time_precision {
                T::Connect => debezium(Schema::int32(), "org.apache.kafka.connect.data.Date"),
                T::IsoString => debezium(Schema::string(), "io.debezium.time.IsoDate"),
                _ => debezium(Schema::int32(), "io.debezium.time.Date"),
            };
            (schema, Conv::Date { mode: opts.time_precision, adjust: opts.time_adjuster })
        }
        ColumnType::Time { .. } => {
            let schema = match opts.time_precision {
                T::Connect => debezium(Schema::int32(), "org.apache.kafka.connect.data.Time"),
                T::Nanoseconds => debezium(Schema::int64(), "io.debezium.time.NanoTime"),
                T::IsoString => debezium(Schema::string(), "io.debezium.time.IsoTime"),
                T::AdaptiveTimeMicroseconds | T::Microseconds => {
                    debezium(Schema::int64(), "io.debezium.time.MicroTime")
                }
            };
            (schema, Conv::Time { mode: opts.time_precision })
        }
        ColumnType::DateTime { fsp } => {
            let out = match opts.time_precision {
                T::AdaptiveTimeMicroseconds if *fsp <= 3 => DateTimeOut::Millis,
                T::Connect => DateTimeOut::ConnectMillis,
                T::AdaptiveTimeMicroseconds | T::Microseconds => DateTimeOut::Micros,
                T::Nanoseconds => DateTimeOut::Nanos,
                T::IsoString => DateTimeOut::Iso,
            };
            let schema = match out {
                DateTimeOut::Millis => debezium(Schema::int64(), "io.debezium.time.Timestamp"),
                DateTimeOut::ConnectMillis => {
                    debezium(Schema::int64(), "org.apache.kafka.connect.data.Timestamp")
                }
                DateTimeOut::Micros => debezium(Schema::int64(), "io.debezium.time.MicroTimestamp"),
                DateTimeOut::Nanos => debezium(Schema::int64(), "io.debezium.time.NanoTimestamp"),
                DateTimeOut::Iso => debezium(Schema::string(), "io.debezium.time.IsoTimestamp"),
            };
            (schema, Conv::DateTime { out, adjust: opts.time_adjuster })
        }
        ColumnType::Timestamp { fsp } => (
            debezium(Schema::string(), "io.debezium.time.ZonedTimestamp"),
            Conv::Timestamp { fsp: *fsp },
        ),
        ColumnType::Text { charset } => (Schema::string(), Conv::Text(*charset)),
        ColumnType::Binary { pad_to } => {
            let schema =
                if opts.binary == BinaryMode::Bytes { Schema::bytes() } else { Schema::string() };
            (schema, Conv::Binary { mode: opts.binary, pad_to: pad_to.map(|n| n as usize) })
        }
        ColumnType::Enum { labels } => (
            debezium(Schema::string(), "io.debezium.data.Enum").param("allowed", allowed(labels)),
            Conv::Enum(labels.clone()),
        ),
        ColumnType::Set { labels } => (
            debezium(Schema::string(), "io.debezium.data.EnumSet")
                .param("allowed", allowed(labels)),
            Conv::Set(labels.clone()),
        ),
        ColumnType::Json => (debezium(Schema::string(), "io.debezium.data.Json"), Conv::Json),
        ColumnType::Geometry { kind: GeometryKind::Point } => {
            (point_schema(), Conv::Point(Arc::new(point_schema())))
        }
        ColumnType::Geometry { .. } => {
            (geometry_schema(), Conv::Geometry(Arc::new(geometry_schema())))
        }
        ColumnType::Vector => (
            debezium(Schema::array(Schema::float32()), "io.debezium.data.FloatVector"),
            Conv::Vector,
        ),
        ColumnType::Uuid => (debezium(Schema::string(), "io.debezium.data.Uuid"), Conv::Uuid),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntOut {
    I16,
    I32,
    I64,
    /// `int64`, wrapping above 2^63-1 (BIGINT UNSIGNED as a Java long).
    Wrap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateTimeOut {
    /// `io.debezium.time.Timestamp`.
    Millis,
    /// `org.apache.kafka.connect.data.Timestamp`.
    ConnectMillis,
    Micros,
    Nanos,
    Iso,
}

/// How one value is converted.
#[derive(Debug, Clone)]
enum Conv {
    Int {
        min: i64,
        max: i128,
        out: IntOut,
    },
    /// MEDIUMINT: mysql_common 0.38 reads the 3 bytes without extending the
    /// sign (-1 arrives as 16777215); both readings are accepted.
    SignedMediumInt,
    /// BIGINT UNSIGNED as a `Decimal` of scale 0.
    UnsignedDecimal,
    Float32,
    Float64,
    Decimal {
        mode: DecimalMode,
        scale: u32,
    },
    Bit,
    Bits {
        length: u16,
    },
    Year,
    Date {
        mode: TimePrecisionMode,
        adjust: bool,
    },
    Time {
        mode: TimePrecisionMode,
    },
    DateTime {
        out: DateTimeOut,
        adjust: bool,
    },
    Timestamp {
        fsp: u8,
    },
    Text(Charset),
    Binary {
        mode: BinaryMode,
        pad_to: Option<usize>,
    },
    Enum(Vec<String>),
    Set(Vec<String>),
    Json,
    Geometry(Arc<Schema>),
    Point(Arc<Schema>),
    Vector,
    Uuid,
}

/// A conversion failure before it is given the column's type name.
enum Fail {
    Invalid(String),
    Unrepresentable(String),
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
    /// The column's nullability (a geometry schema is optional anyway).
    optional: bool,
    type_name: String,
}

impl ColumnConversion {
    /// The column's Connect schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The SQL type the column was resolved from, for messages.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// Converts one value of a row. SQL NULL is null in an optional column
    /// and Debezium's fallback value (0, `""`, the epoch, ...) otherwise;
    /// the same goes for zero dates, which Debezium reads as null.
    pub fn convert(&self, value: &BinlogValue<'_>) -> Result<Value, TypeError> {
        match convert(&self.conv, value) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Ok(self.null_value()),
            Err(f) => {
                let (type_name, value) = (self.type_name.clone(), describe(value));
                Err(match f {
                    Fail::Invalid(reason) => TypeError::InvalidValue { type_name, value, reason },
                    Fail::Unrepresentable(reason) => {
                        TypeError::Unrepresentable { type_name, value, reason }
                    }
                })
            }
        }
    }

    /// What a missing value (SQL NULL, a zero date) becomes.
    pub fn null_value(&self) -> Value {
        if self.optional {
            Value::Null
        } else {
            fallback(&self.conv)
        }
    }
}

/// A short description of a value for messages (at most ~100 characters).
fn describe(value: &BinlogValue<'_>) -> String {
    let s = match value {
        BinlogValue::Value(My::Bytes(b)) => match std::str::from_utf8(b) {
            Ok(s) => format!("{s:?}"),
            Err(_) => format!("0x{}", hex(&b[..b.len().min(50)])),
        },
        // Not mysql_common's Debug, which overflows on absurd TIME values.
        BinlogValue::Value(My::NULL) => "NULL".into(),
        BinlogValue::Value(My::Int(i)) => format!("Int({i})"),
        BinlogValue::Value(My::UInt(u)) => format!("UInt({u})"),
        BinlogValue::Value(My::Float(f)) => format!("Float({f})"),
        BinlogValue::Value(My::Double(d)) => format!("Double({d})"),
        BinlogValue::Value(My::Date(y, mo, d, h, mi, s, us)) => {
            format!("Date({y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06})")
        }
        BinlogValue::Value(My::Time(neg, d, h, mi, s, us)) => {
            format!("Time({}{d} days {h:02}:{mi:02}:{s:02}.{us:06})", if *neg { "-" } else { "" })
        }
        BinlogValue::Jsonb(_) => "(binary JSON)".into(),
        BinlogValue::JsonDiff(_) => "(partial JSON update)".into(),
    };
    if s.len() <= 100 {
        return s;
    }
    let mut end = 100;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Debezium's value for a NOT NULL column without a value.
fn fallback(conv: &Conv) -> Value {
    match conv {
        Conv::Int { out: IntOut::I16, .. } => Value::Int16(0),
        Conv::Int { out: IntOut::I32, .. } | Conv::SignedMediumInt => Value::Int32(0),
        Conv::Int { .. } => Value::Int64(0),
        Conv::UnsignedDecimal => Value::Bytes(vec![0]),
        Conv::Float32 => Value::Float32(0.0),
        Conv::Float64 => Value::Float64(0.0),
        Conv::Decimal { mode, scale } => {
            let mut zero = BigDec::from_u64(0);
            let _ = zero.rescale_exact(i64::from(*scale));
            decimal_value(&zero, *mode)
        }
        Conv::Bit => Value::Boolean(false),
        Conv::Bits { .. } => Value::Bytes(Vec::new()),
        Conv::Year => Value::Int32(0),
        Conv::Date { mode: TimePrecisionMode::IsoString, .. } => {
            Value::String("1970-01-01Z".into())
        }
        Conv::Date { .. } => Value::Int32(0),
        Conv::Time { mode: TimePrecisionMode::IsoString } => Value::String("00:00:00Z".into()),
        Conv::Time { mode: TimePrecisionMode::Connect } => Value::Int32(0),
        Conv::Time { .. } => Value::Int64(0),
        Conv::DateTime { out: DateTimeOut::Iso, .. } | Conv::Timestamp { .. } => {
            Value::String("1970-01-01T00:00:00Z".into())
        }
        Conv::DateTime { .. } => Value::Int64(0),
        Conv::Text(_) | Conv::Enum(_) | Conv::Set(_) => Value::String(String::new()),
        Conv::Binary { mode: BinaryMode::Bytes, .. } => Value::Bytes(Vec::new()),
        Conv::Binary { .. } => Value::String(String::new()),
        Conv::Json => Value::String("{}".into()),
        Conv::Geometry(schema) => Value::Struct(Struct {
            schema: schema.clone(),
            values: vec![Value::Bytes(EMPTY_GEOMETRY_COLLECTION.to_vec()), Value::Null],
        }),
        Conv::Point(schema) => Value::Struct(Struct {
            schema: schema.clone(),
            values: vec![
                Value::Float64(0.0),
                Value::Float64(0.0),
                Value::Bytes(EMPTY_GEOMETRY_COLLECTION.to_vec()),
                Value::Null,
            ],
        }),
        Conv::Vector => Value::Array(Vec::new()),
        Conv::Uuid => Value::String("00000000-0000-0000-0000-000000000000".into()),
    }
}

/// WKB of `GEOMETRYCOLLECTION EMPTY`, Debezium's geometry fallback.
const EMPTY_GEOMETRY_COLLECTION: [u8; 9] = [0x01, 0x07, 0, 0, 0, 0, 0, 0, 0];

fn decimal_value(d: &BigDec, mode: DecimalMode) -> Value {
    match mode {
        DecimalMode::Precise => Value::Bytes(d.unscaled_twos_complement()),
        DecimalMode::Double => Value::Float64(d.to_f64()),
        DecimalMode::String => Value::String(d.to_plain_string()),
    }
}

fn unexpected(value: &My) -> Fail {
    let kind = match value {
        My::NULL => "NULL",
        My::Bytes(_) => "bytes",
        My::Int(_) => "a signed integer",
        My::UInt(_) => "an unsigned integer",
        My::Float(_) => "a float",
        My::Double(_) => "a double",
        My::Date(..) => "a date",
        My::Time(..) => "a time",
    };
    Fail::Invalid(format!("unexpected binlog value kind: {kind}"))
}

/// `Some(value)`, or `None` for what Debezium reads as null (zero dates).
fn convert(conv: &Conv, value: &BinlogValue<'_>) -> Result<Option<Value>, Fail> {
    let v = match value {
        BinlogValue::Value(My::NULL) => return Ok(None),
        BinlogValue::Value(v) => v,
        BinlogValue::Jsonb(j) => {
            return match conv {
                Conv::Json => Ok(Some(Value::String(json::render(j)?))),
                _ => Err("unexpected binary JSON value".into()),
            };
        }
        BinlogValue::JsonDiff(_) => {
            return Err(
                "partial JSON updates are not supported; set binlog_row_value_options = ''".into()
            )
        }
    };
    match conv {
        Conv::Int { .. }
        | Conv::SignedMediumInt
        | Conv::UnsignedDecimal
        | Conv::Float32
        | Conv::Float64
        | Conv::Decimal { .. }
        | Conv::Bit
        | Conv::Bits { .. } => convert_number(conv, v),
        Conv::Year | Conv::Date { .. } => convert_date(conv, v),
        Conv::Time { .. } | Conv::DateTime { .. } | Conv::Timestamp { .. } => convert_time(conv, v),
        Conv::Text(_)
        | Conv::Binary { .. }
        | Conv::Enum(_)
        | Conv::Set(_)
        | Conv::Json
        | Conv::Uuid => convert_text(conv, v),
        Conv::Geometry(_) | Conv::Point(_) | Conv::Vector => convert_spatial(conv, v),
    }
}

/// Integers, floats, decimals and bits.
fn convert_number(conv: &Conv, v: &My) -> Result<Option<Value>, Fail> {
    Ok(Some(match conv {
        Conv::Int { min, max, out } => {
            let n: i128 = match v {
                My::Int(i) => (*i).into(),
                My::UInt(u) => (*u).into(),
                other => return Err(unexpected(other)),
            };
            if n < i128::from(*min) || n > *max {
                return Err(format!("{n} is out of the type's range").into());
            }
            // In range by the check above.
            match out {
                IntOut::I16 => Value::Int16(n as i16),
                IntOut::I32 => Value::Int32(n as i32),
                IntOut::I64 => Value::Int64(n as i64),
                IntOut::Wrap => Value::Int64(n as u64 as i64),
            }
        }
        Conv::SignedMediumInt => {
            let n: i128 = match v {
                My::Int(i) => (*i).into(),
                My::UInt(u) => (*u).into(),
                other => return Err(unexpected(other)),
            };
            let n = match n {
                -8_388_608..=8_388_607 => n,
                8_388_608..=16_777_215 => n - 16_777_216,
                _ => return Err(format!("{n} is out of the type's range").into()),
            };
            Value::Int32(n as i32)
        }
        Conv::UnsignedDecimal => {
            let n = match v {
                My::UInt(u) => *u,
                My::Int(i) => u64::try_from(*i).map_err(|_| "negative BIGINT UNSIGNED")?,
                other => return Err(unexpected(other)),
            };
            Value::Bytes(BigDec::from_u64(n).unscaled_twos_complement())
        }
        Conv::Float32 => match v {
            My::Float(f) => Value::Float32(*f),
            My::Double(d) => Value::Float32(*d as f32),
            other => return Err(unexpected(other)),
        },
        Conv::Float64 => match v {
            My::Double(d) => Value::Float64(*d),
            My::Float(f) => Value::Float64(f64::from(*f)),
            other => return Err(unexpected(other)),
        },
        Conv::Decimal { mode, scale } => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            // MySQL's DECIMAL has at most 65 digits.
            if b.len() > 100 {
                return Err("too long for a DECIMAL".into());
            }
            let text = std::str::from_utf8(b).map_err(|_| "not a decimal number")?;
            let mut d = BigDec::parse_plain(text)?;
            if d.scale() != i64::from(*scale) {
                d.rescale_exact(i64::from(*scale))?;
            }
            decimal_value(&d, *mode)
        }
        Conv::Bit => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            let last = b.last().ok_or("empty BIT value")?;
            Value::Boolean(last & 1 != 0)
        }
        Conv::Bits { length } => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            let n = usize::from(*length).div_ceil(8);
            if b.len() != n {
                return Err(format!("{} bytes for BIT({length})", b.len()).into());
            }
            // MySQL stores BIT big-endian; Debezium sends it little-endian.
            let mut out: Vec<u8> = b.iter().rev().copied().collect();
            let spare = n * 8 - usize::from(*length);
            if spare > 0 {
                out[n - 1] &= 0xff >> spare;
            }
            Value::Bytes(out)
        }
        _ => return Err("internal: not a number conversion".into()),
    }))
}

/// YEAR and DATE (a zero date: `None`).
fn convert_date(conv: &Conv, v: &My) -> Result<Option<Value>, Fail> {
    Ok(Some(match conv {
        Conv::Year => {
            let y: i64 = match v {
                My::Bytes(b) => {
                    std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).ok_or("not a year")?
                }
                My::Int(i) => *i,
                My::UInt(u) => i64::try_from(*u).map_err(|_| "not a year")?,
                other => return Err(unexpected(other)),
            };
            // Debezium's YEAR conversion always applies the two-digit rule.
            let y = temporal::adjust_year(y);
            Value::Int32(i32::try_from(y).map_err(|_| "not a year")?)
        }
        Conv::Date { mode, adjust } => {
            let My::Date(y, m, d, ..) = v else { return Err(unexpected(v)) };
            let (y, m, d) = (i64::from(*y), u32::from(*m), u32::from(*d));
            if y == 0 || m == 0 || d == 0 {
                return Ok(None);
            }
            if !temporal::valid_date(y, m, d) {
                return Err("not a valid date".into());
            }
            let y = if *adjust { temporal::adjust_year(y) } else { y };
            match mode {
                TimePrecisionMode::IsoString => {
                    let mut s = String::with_capacity(11);
                    temporal::format_date(&mut s, y, m, d);
                    s.push('Z');
                    Value::String(s)
                }
                // Days since 1970 of years 1-9999 fit an int.
                _ => Value::Int32(temporal::days_from_civil(y, m, d) as i32),
            }
        }
        _ => return Err("internal: not a date conversion".into()),
    }))
}

/// TIME, DATETIME, TIMESTAMP (zero dates: `None`).
fn convert_time(conv: &Conv, v: &My) -> Result<Option<Value>, Fail> {
    Ok(Some(match conv {
        Conv::Time { mode } => {
            let My::Time(neg, days, h, m, s, us) = v else { return Err(unexpected(v)) };
            // TIME2 stores at most 1023 hours (MySQL allows 838).
            if *m > 59 || *s > 59 || *us > 999_999 || u64::from(*days) * 24 + u64::from(*h) > 1023 {
                return Err("not a valid time".into());
            }
            let magnitude =
                ((i64::from(*days) * 24 + i64::from(*h)) * 60 + i64::from(*m)) * 60 + i64::from(*s);
            let micros =
                (magnitude * MICROS_PER_SECOND + i64::from(*us)) * if *neg { -1 } else { 1 };
            let in_day = || {
                if (0..=MICROS_PER_DAY).contains(&micros) {
                    Ok(())
                } else {
                    Err(Fail::Unrepresentable(
                        "time.precision.mode `connect` and `isostring` only take TIME values \
                         between 00:00:00 and 24:00:00; use `adaptive_time_microseconds`"
                            .into(),
                    ))
                }
            };
            match mode {
                TimePrecisionMode::AdaptiveTimeMicroseconds | TimePrecisionMode::Microseconds => {
                    Value::Int64(micros)
                }
                TimePrecisionMode::Nanoseconds => Value::Int64(micros * 1000),
                TimePrecisionMode::Connect => {
                    in_day()?;
                    Value::Int32((micros / 1000) as i32)
                }
                TimePrecisionMode::IsoString => {
                    in_day()?;
                    // LocalTime.MIDNIGHT.plus(duration): 24:00 wraps to 00:00.
                    let of_day = micros % MICROS_PER_DAY;
                    let secs = of_day / MICROS_PER_SECOND;
                    let mut out = String::with_capacity(20);
                    temporal::format_time(
                        &mut out,
                        (secs / 3600) as u32,
                        (secs / 60 % 60) as u32,
                        (secs % 60) as u32,
                        (of_day % MICROS_PER_SECOND * 1000) as u32,
                        None,
                    );
                    out.push('Z');
                    Value::String(out)
                }
            }
        }
        Conv::DateTime { out, adjust } => {
            let My::Date(y, mo, d, h, mi, s, us) = v else { return Err(unexpected(v)) };
            let (y, mo, d) = (i64::from(*y), u32::from(*mo), u32::from(*d));
            if y == 0 || mo == 0 || d == 0 {
                return Ok(None);
            }
            if !temporal::valid_date(y, mo, d) || *h > 23 || *mi > 59 || *s > 59 || *us > 999_999 {
                return Err("not a valid date and time".into());
            }
            let y = if *adjust { temporal::adjust_year(y) } else { y };
            let of_day = ((i64::from(*h) * 60 + i64::from(*mi)) * 60 + i64::from(*s))
                * MICROS_PER_SECOND
                + i64::from(*us);
            let days = temporal::days_from_civil(y, mo, d);
            let micros = days * MICROS_PER_DAY + of_day;
            match out {
                DateTimeOut::Millis | DateTimeOut::ConnectMillis => {
                    Value::Int64(micros.div_euclid(1000))
                }
                DateTimeOut::Micros => Value::Int64(micros),
                DateTimeOut::Nanos => Value::Int64(
                    days.checked_mul(MICROS_PER_DAY * 1000)
                        .and_then(|n| n.checked_add(of_day * 1000))
                        .ok_or_else(|| {
                            Fail::Unrepresentable(
                                "outside the range of int64 epoch nanoseconds (1677-09-21 to \
                                 2262-04-11); use time.precision.mode `microseconds`"
                                    .into(),
                            )
                        })?,
                ),
                DateTimeOut::Iso => Value::String(temporal::iso_instant(micros, None)),
            }
        }
        Conv::Timestamp { fsp } => {
            let (secs, micros) = match v {
                My::Int(i) => (*i, 0),
                My::UInt(u) => (i64::try_from(*u).map_err(|_| "not a timestamp")?, 0),
                My::Bytes(b) => parse_timestamp(b)?,
                other => return Err(unexpected(other)),
            };
            if !(0..1 << 32).contains(&secs) {
                return Err("not a timestamp".into());
            }
            if secs == 0 && micros == 0 {
                return Ok(None);
            }
            let fixed = (*fsp > 0).then_some(u32::from(*fsp));
            Value::String(temporal::iso_instant(secs * MICROS_PER_SECOND + micros, fixed))
        }
        _ => return Err("internal: not a time conversion".into()),
    }))
}

/// Character and binary strings, ENUM, SET, JSON text, UUID.
fn convert_text(conv: &Conv, v: &My) -> Result<Option<Value>, Fail> {
    Ok(Some(match conv {
        Conv::Text(charset) => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            Value::String(charset.decode(b))
        }
        Conv::Binary { mode, pad_to } => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            let mut bytes = b.clone();
            if let Some(n) = pad_to {
                if bytes.len() < *n {
                    bytes.resize(*n, 0);
                }
            }
            mode.encode(bytes)
        }
        Conv::Enum(labels) => {
            let index = match v {
                My::Int(i) => *i,
                My::UInt(u) => i64::try_from(*u).unwrap_or(i64::MAX),
                other => return Err(unexpected(other)),
            };
            // 0 is the empty string MySQL stores for an invalid value.
            if index == 0 {
                Value::String(String::new())
            } else {
                let label = index
                    .checked_sub(1)
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| labels.get(i));
                Value::String(
                    label
                        .ok_or_else(|| format!("index {index} past the {} labels", labels.len()))?
                        .clone(),
                )
            }
        }
        Conv::Set(labels) => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            if b.is_empty() || b.len() > 8 {
                return Err(format!("{} bytes for a SET", b.len()).into());
            }
            let mut bits = [0u8; 8];
            bits[..b.len()].copy_from_slice(b);
            let bits = u64::from_le_bytes(bits);
            // Members in label order, comma-separated (Debezium's
            // `convertSetValue`).
            let mut members = Vec::new();
            for i in 0..64 {
                if bits >> i & 1 == 1 {
                    members.push(labels.get(i).map(String::as_str).ok_or_else(|| {
                        format!("member {} past the {} labels", i + 1, labels.len())
                    })?);
                }
            }
            Value::String(members.join(","))
        }
        Conv::Json => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            match b.first() {
                // An empty value: Debezium's null ("{}" when NOT NULL).
                None => return Ok(None),
                // Text (MariaDB), as Debezium's JsonBinary passes it through.
                Some(&first) if first > 0x0f => {
                    Value::String(String::from_utf8_lossy(b).into_owned())
                }
                // Text starting with whitespace (a leading newline, say),
                // which Debezium would misread as binary JSON.
                Some(_)
                    if std::str::from_utf8(b)
                        .is_ok_and(|t| t.trim_start().starts_with(['{', '[', '"'])) =>
                {
                    Value::String(String::from_utf8_lossy(b).into_owned())
                }
                Some(_) => {
                    let mut buf = ParseBuf(b);
                    let j: jsonb::Value<'_> =
                        buf.parse(()).map_err(|e| format!("malformed binary JSON: {e}"))?;
                    Value::String(json::render(&j)?)
                }
            }
        }
        Conv::Uuid => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            Value::String(uuid_text(b).ok_or("not 16 bytes")?)
        }
        _ => return Err("internal: not a text conversion".into()),
    }))
}

/// Geometries and vectors.
fn convert_spatial(conv: &Conv, v: &My) -> Result<Option<Value>, Fail> {
    Ok(Some(match conv {
        Conv::Geometry(schema) => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            let (srid, wkb) = split_geometry(b)?;
            Value::Struct(Struct {
                schema: schema.clone(),
                values: vec![Value::Bytes(wkb.to_vec()), srid.map_or(Value::Null, Value::Int32)],
            })
        }
        Conv::Point(schema) => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            let (srid, wkb) = split_geometry(b)?;
            let (x, y) = parse_wkb_point(wkb)?;
            Value::Struct(Struct {
                schema: schema.clone(),
                values: vec![
                    Value::Float64(x),
                    Value::Float64(y),
                    Value::Bytes(wkb.to_vec()),
                    srid.map_or(Value::Null, Value::Int32),
                ],
            })
        }
        Conv::Vector => {
            let My::Bytes(b) = v else { return Err(unexpected(v)) };
            if b.len() % 4 != 0 {
                return Err(format!("{} bytes is not a whole number of floats", b.len()).into());
            }
            Value::Array(
                b.chunks_exact(4)
                    .map(|c| Value::Float32(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            )
        }
        _ => return Err("internal: not a spatial conversion".into()),
    }))
}

/// A UUID's 16 bytes as Debezium prints it (`8-4-4-4-12` lower-case hex).
/// MariaDB 10.11 writes a UUID into the binlog in this, its text order
/// (seen in captured bytes); fewer than 16 bytes are zero-padded as a
/// BINARY(16)'s are.
fn uuid_text(b: &[u8]) -> Option<String> {
    if b.len() > 16 {
        return None;
    }
    let mut full = [0u8; 16];
    full[..b.len()].copy_from_slice(b);
    let h = hex(&full);
    Some(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
}

/// mysql_common's TIMESTAMP2 text: `seconds[.micros]`. The seconds are an
/// unsigned 32-bit number mysql_common prints as signed: a negative
/// number is a time after 2038-01-19 (MariaDB 11.5+ stores up to 2106).
fn parse_timestamp(b: &[u8]) -> Result<(i64, i64), Fail> {
    let text = std::str::from_utf8(b).map_err(|_| "not a timestamp")?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut secs: i64 = secs.parse().map_err(|_| "not a timestamp")?;
    if secs < 0 {
        secs += 1 << 32;
    }
    let micros: i64 = if frac.is_empty() {
        0
    } else if frac.len() == 6 && frac.bytes().all(|c| c.is_ascii_digit()) {
        frac.parse().map_err(|_| "not a timestamp")?
    } else {
        return Err("not a timestamp".into());
    };
    if !(0..1 << 32).contains(&secs) {
        return Err("not a timestamp".into());
    }
    Ok((secs, micros))
}

/// MySQL's geometry storage: a little-endian SRID, then WKB. SRID 0 is
/// null, as in Debezium.
fn split_geometry(b: &[u8]) -> Result<(Option<i32>, &[u8]), Fail> {
    if b.len() < 4 {
        return Err("geometry shorter than its SRID".into());
    }
    let srid = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    Ok(((srid != 0).then_some(srid), &b[4..]))
}

/// A 2D WKB point (Debezium's `Point.parseWKBPoint`).
fn parse_wkb_point(wkb: &[u8]) -> Result<(f64, f64), Fail> {
    if wkb.len() != 21 {
        return Err(format!("not a POINT (WKB of {} bytes)", wkb.len()).into());
    }
    let le = wkb[0] != 0;
    let word = |i: usize| {
        let b: [u8; 4] = [wkb[i], wkb[i + 1], wkb[i + 2], wkb[i + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let double = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&wkb[i..i + 8]);
        if le {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        }
    };
    if word(1) != 1 {
        return Err(format!("not a POINT (WKB type {})", word(1)).into());
    }
    Ok((double(5), double(13)))
}
