//! Conversion of binlog values (as mysql_common 0.38 decodes them) to
//! Debezium's Connect schemas and values, type by type. Expected outputs
//! come from Debezium's converters (`BinlogValueConverters`,
//! `JdbcValueConverters`, the binlog client's `RowDeserializers` and
//! `JsonBinary`/`JsonStringFormatter`) and its tests; binary JSON documents
//! are built here in MySQL's format.

#![allow(clippy::unwrap_used)]

use logtap_core::envelope::{schema_json, value_json};
use logtap_core::Value;
use logtap_mysql::types::{
    charset_name, column_schema, BigIntUnsignedMode, BinaryMode, Charset, ColumnConversion,
    ColumnType, DecimalMode, GeometryKind, TimePrecisionMode, TypeError, TypeOptions,
};
use mysql_common::binlog::jsonb;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::io::ParseBuf;
use mysql_common::value::Value as My;
use serde_json::json;

fn opts() -> TypeOptions {
    TypeOptions::default()
}

fn col_with(t: ColumnType, optional: bool, o: &TypeOptions) -> ColumnConversion {
    column_schema(&t, optional, o)
}

fn col(t: ColumnType) -> ColumnConversion {
    col_with(t, true, &opts())
}

fn v(x: My) -> BinlogValue<'static> {
    BinlogValue::Value(x)
}

fn conv_with(t: ColumnType, o: &TypeOptions, x: My) -> Value {
    col_with(t, true, o).convert(&v(x)).unwrap_or_else(|e| panic!("{e}"))
}

fn conv(t: ColumnType, x: My) -> Value {
    conv_with(t, &opts(), x)
}

fn err(t: ColumnType, x: My) -> TypeError {
    col(t).convert(&v(x)).unwrap_err()
}

fn bytes(b: &[u8]) -> My {
    My::Bytes(b.to_vec())
}

fn text(s: &str) -> My {
    My::Bytes(s.as_bytes().to_vec())
}

fn s(x: &str) -> Value {
    Value::String(x.into())
}

fn schema(t: ColumnType, o: &TypeOptions) -> String {
    schema_json(col_with(t, true, o).schema()).to_string()
}

// ---- integers --------------------------------------------------------------

#[test]
fn integers_widen_when_unsigned() {
    use ColumnType::*;
    assert_eq!(conv(TinyInt { unsigned: false }, My::Int(-128)), Value::Int16(-128));
    assert_eq!(conv(TinyInt { unsigned: false }, My::Int(127)), Value::Int16(127));
    assert_eq!(conv(TinyInt { unsigned: true }, My::Int(255)), Value::Int16(255));
    assert_eq!(conv(SmallInt { unsigned: false }, My::Int(-32768)), Value::Int16(-32768));
    assert_eq!(conv(SmallInt { unsigned: true }, My::Int(65535)), Value::Int32(65535));
    assert_eq!(conv(MediumInt { unsigned: false }, My::Int(-8_388_608)), Value::Int32(-8_388_608));
    assert_eq!(conv(MediumInt { unsigned: true }, My::Int(16_777_215)), Value::Int32(16_777_215));
    assert_eq!(conv(Int { unsigned: false }, My::Int(-2_147_483_648)), Value::Int32(i32::MIN));
    assert_eq!(conv(Int { unsigned: true }, My::Int(4_294_967_295)), Value::Int64(4_294_967_295));
    assert_eq!(conv(BigInt { unsigned: false }, My::Int(i64::MIN)), Value::Int64(i64::MIN));
    assert_eq!(schema(TinyInt { unsigned: false }, &opts()), r#"{"type":"int16","optional":true}"#);
    assert_eq!(schema(TinyInt { unsigned: true }, &opts()), r#"{"type":"int16","optional":true}"#);
    assert_eq!(
        schema(SmallInt { unsigned: false }, &opts()),
        r#"{"type":"int16","optional":true}"#
    );
    assert_eq!(schema(SmallInt { unsigned: true }, &opts()), r#"{"type":"int32","optional":true}"#);
    assert_eq!(
        schema(MediumInt { unsigned: false }, &opts()),
        r#"{"type":"int32","optional":true}"#
    );
    assert_eq!(
        schema(MediumInt { unsigned: true }, &opts()),
        r#"{"type":"int32","optional":true}"#
    );
    assert_eq!(schema(Int { unsigned: false }, &opts()), r#"{"type":"int32","optional":true}"#);
    assert_eq!(schema(Int { unsigned: true }, &opts()), r#"{"type":"int64","optional":true}"#);
    assert_eq!(schema(BigInt { unsigned: false }, &opts()), r#"{"type":"int64","optional":true}"#);
}

#[test]
fn mediumint_sign_is_restored() {
    // mysql_common 0.38 reads a signed MEDIUMINT without sign extension.
    let t = ColumnType::MediumInt { unsigned: false };
    assert_eq!(conv(t.clone(), My::Int(16_777_215)), Value::Int32(-1));
    assert_eq!(conv(t.clone(), My::Int(8_388_608)), Value::Int32(-8_388_608));
    assert_eq!(conv(t.clone(), My::Int(8_388_607)), Value::Int32(8_388_607));
    assert_eq!(conv(t.clone(), My::Int(-5)), Value::Int32(-5));
    assert!(matches!(err(t, My::Int(16_777_216)), TypeError::InvalidValue { .. }));
}

#[test]
fn bigint_unsigned_modes() {
    let t = ColumnType::BigInt { unsigned: true };
    // long (default): a Java long, wrapping.
    assert_eq!(conv(t.clone(), My::UInt(u64::MAX)), Value::Int64(-1));
    assert_eq!(conv(t.clone(), My::UInt(1 << 63)), Value::Int64(i64::MIN));
    assert_eq!(conv(t.clone(), My::Int(42)), Value::Int64(42));
    assert_eq!(schema(t.clone(), &opts()), r#"{"type":"int64","optional":true}"#);
    let precise = TypeOptions { bigint_unsigned: BigIntUnsignedMode::Precise, ..opts() };
    let mut max = vec![0u8];
    max.extend([0xff; 8]);
    assert_eq!(conv_with(t.clone(), &precise, My::UInt(u64::MAX)), Value::Bytes(max));
    assert_eq!(conv_with(t.clone(), &precise, My::Int(0)), Value::Bytes(vec![0]));
    assert_eq!(conv_with(t.clone(), &precise, My::Int(128)), Value::Bytes(vec![0, 128]));
    assert_eq!(
        schema(t.clone(), &precise),
        r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"0","connect.decimal.precision":"20"}}"#
    );
    // decimal.handling.mode does not apply to BIGINT UNSIGNED.
    let both = TypeOptions { decimal: DecimalMode::String, ..precise };
    assert_eq!(conv_with(t, &both, My::Int(7)), Value::Bytes(vec![7]));
}

#[test]
fn integers_out_of_range_or_of_the_wrong_kind_are_errors() {
    use ColumnType::*;
    let e = err(TinyInt { unsigned: false }, My::Int(200));
    assert_eq!(e.to_string(), "invalid TINYINT value Int(200): 200 is out of the type's range");
    assert!(matches!(err(TinyInt { unsigned: true }, My::Int(-1)), TypeError::InvalidValue { .. }));
    assert!(matches!(
        err(Int { unsigned: true }, My::Int(1 << 32)),
        TypeError::InvalidValue { .. }
    ));
    let e = err(Int { unsigned: false }, text("12"));
    assert!(e.to_string().contains("unexpected binlog value kind: bytes"), "{e}");
}

// ---- nulls and NOT NULL fallbacks -----------------------------------------

#[test]
fn null_is_null_in_optional_columns_and_the_fallback_otherwise() {
    use ColumnType::*;
    let null = v(My::NULL);
    let nn = |t: ColumnType, o: &TypeOptions| col_with(t, false, o).convert(&null).unwrap();
    assert_eq!(col(Int { unsigned: false }).convert(&null).unwrap(), Value::Null);
    assert_eq!(nn(TinyInt { unsigned: false }, &opts()), Value::Int16(0));
    assert_eq!(nn(Int { unsigned: false }, &opts()), Value::Int32(0));
    assert_eq!(nn(MediumInt { unsigned: false }, &opts()), Value::Int32(0));
    assert_eq!(nn(Int { unsigned: true }, &opts()), Value::Int64(0));
    assert_eq!(nn(Float, &opts()), Value::Float32(0.0));
    assert_eq!(nn(Double, &opts()), Value::Float64(0.0));
    assert_eq!(nn(Decimal { precision: 5, scale: 2 }, &opts()), Value::Bytes(vec![0]));
    let string = TypeOptions { decimal: DecimalMode::String, ..opts() };
    assert_eq!(nn(Decimal { precision: 5, scale: 2 }, &string), s("0.00"));
    assert_eq!(nn(Bit { length: 1 }, &opts()), Value::Boolean(false));
    assert_eq!(nn(Bit { length: 9 }, &opts()), Value::Bytes(vec![]));
    assert_eq!(nn(Year, &opts()), Value::Int32(0));
    assert_eq!(nn(Date, &opts()), Value::Int32(0));
    assert_eq!(nn(Time { fsp: 0 }, &opts()), Value::Int64(0));
    assert_eq!(nn(DateTime { fsp: 0 }, &opts()), Value::Int64(0));
    assert_eq!(nn(Timestamp { fsp: 3 }, &opts()), s("1970-01-01T00:00:00Z"));
    assert_eq!(nn(Text { charset: Charset::Utf8 }, &opts()), s(""));
    assert_eq!(nn(Binary { pad_to: None }, &opts()), Value::Bytes(vec![]));
    let hex = TypeOptions { binary: BinaryMode::Hex, ..opts() };
    assert_eq!(nn(Binary { pad_to: Some(4) }, &hex), s(""));
    assert_eq!(nn(Enum { labels: vec!["a".into()] }, &opts()), s(""));
    assert_eq!(nn(Set { labels: vec!["a".into()] }, &opts()), s(""));
    assert_eq!(nn(Json, &opts()), s("{}"));
    assert_eq!(nn(Vector, &opts()), Value::Array(vec![]));
    let iso = TypeOptions { time_precision: TimePrecisionMode::IsoString, ..opts() };
    assert_eq!(nn(Date, &iso), s("1970-01-01Z"));
    assert_eq!(nn(Time { fsp: 0 }, &iso), s("00:00:00Z"));
    assert_eq!(nn(DateTime { fsp: 0 }, &iso), s("1970-01-01T00:00:00Z"));
    let connect = TypeOptions { time_precision: TimePrecisionMode::Connect, ..opts() };
    assert_eq!(nn(Time { fsp: 0 }, &connect), Value::Int32(0));
    // An empty GEOMETRYCOLLECTION, srid null.
    let g = nn(Geometry { kind: GeometryKind::Polygon }, &opts());
    assert_eq!(value_json(&g), json!({"wkb": "AQcAAAAAAAAA", "srid": null}));
}

// ---- floating point and decimals ------------------------------------------

#[test]
fn floats() {
    assert_eq!(conv(ColumnType::Float, My::Float(0.1)), Value::Float32(0.1));
    assert_eq!(value_json(&conv(ColumnType::Float, My::Float(0.1))), json!(0.1));
    assert_eq!(conv(ColumnType::Double, My::Double(-1e300)), Value::Float64(-1e300));
    assert_eq!(schema(ColumnType::Float, &opts()), r#"{"type":"float","optional":true}"#);
    assert_eq!(schema(ColumnType::Double, &opts()), r#"{"type":"double","optional":true}"#);
}

#[test]
fn decimals_in_each_mode() {
    let t = ColumnType::Decimal { precision: 10, scale: 2 };
    assert_eq!(conv(t.clone(), text("-0.50")), Value::Bytes(vec![0xce]));
    assert_eq!(conv(t.clone(), text("1.50")), Value::Bytes(vec![0, 150]));
    assert_eq!(conv(t.clone(), text("0.00")), Value::Bytes(vec![0]));
    assert_eq!(conv(t.clone(), text("-1234567.91")), Value::Bytes(vec![0xf8, 0xa4, 0x32, 0xe9]));
    // A value written with another scale is rescaled when no digit is lost.
    assert_eq!(conv(t.clone(), text("1.5")), Value::Bytes(vec![0, 150]));
    assert!(matches!(err(t.clone(), text("1.234")), TypeError::InvalidValue { .. }));
    assert!(matches!(err(t.clone(), text("1e5")), TypeError::InvalidValue { .. }));
    assert!(matches!(err(t.clone(), bytes(&[0xff])), TypeError::InvalidValue { .. }));
    assert_eq!(
        schema(t.clone(), &opts()),
        r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"}}"#
    );
    let double = TypeOptions { decimal: DecimalMode::Double, ..opts() };
    assert_eq!(conv_with(t.clone(), &double, text("123.45")), Value::Float64(123.45));
    assert_eq!(schema(t.clone(), &double), r#"{"type":"double","optional":true}"#);
    let string = TypeOptions { decimal: DecimalMode::String, ..opts() };
    assert_eq!(conv_with(t.clone(), &string, text("-0.00")), s("0.00"));
    assert_eq!(conv_with(t.clone(), &string, text("12.30")), s("12.30"));
    assert_eq!(schema(t, &string), r#"{"type":"string","optional":true}"#);
    // 65 digits.
    let wide = ColumnType::Decimal { precision: 65, scale: 0 };
    let nines = "9".repeat(65);
    let b = match conv(wide.clone(), text(&nines)) {
        Value::Bytes(b) => b,
        other => panic!("{other:?}"),
    };
    // 10^65 - 1 needs 216 bits, so a leading zero byte: 28 bytes.
    assert_eq!(b.len(), 28);
    assert_eq!((b[0], b[1]), (0, 0xf3));
    assert_eq!(conv_with(wide, &string, text(&nines)), s(&nines));
}

// ---- BIT, YEAR ---------------------------------------------------------------

#[test]
fn bits() {
    assert_eq!(conv(ColumnType::Bit { length: 1 }, bytes(&[1])), Value::Boolean(true));
    assert_eq!(conv(ColumnType::Bit { length: 1 }, bytes(&[0])), Value::Boolean(false));
    let t = ColumnType::Bit { length: 10 };
    // b'1000000001' is stored 02 01 and sent 01 02.
    assert_eq!(conv(t.clone(), bytes(&[0x02, 0x01])), Value::Bytes(vec![0x01, 0x02]));
    assert_eq!(conv(t.clone(), bytes(&[0, 0])), Value::Bytes(vec![0, 0]));
    // Bits past the length are dropped, as BitSet reading them does.
    assert_eq!(conv(t.clone(), bytes(&[0xff, 0xff])), Value::Bytes(vec![0xff, 0x03]));
    assert!(matches!(err(t.clone(), bytes(&[1])), TypeError::InvalidValue { .. }));
    assert_eq!(
        schema(t, &opts()),
        r#"{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"10"}}"#
    );
    assert_eq!(
        schema(ColumnType::Bit { length: 1 }, &opts()),
        r#"{"type":"boolean","optional":true}"#
    );
    assert!(matches!(
        err(ColumnType::Bit { length: 1 }, bytes(&[])),
        TypeError::InvalidValue { .. }
    ));
}

#[test]
fn years() {
    assert_eq!(conv(ColumnType::Year, text("2155")), Value::Int32(2155));
    assert_eq!(conv(ColumnType::Year, text("1900")), Value::Int32(1900));
    assert_eq!(conv(ColumnType::Year, My::Int(1999)), Value::Int32(1999));
    // Debezium's YEAR conversion applies the two-digit rule.
    assert_eq!(conv(ColumnType::Year, My::Int(69)), Value::Int32(2069));
    assert_eq!(conv(ColumnType::Year, My::Int(70)), Value::Int32(1970));
    assert!(matches!(err(ColumnType::Year, text("x")), TypeError::InvalidValue { .. }));
    assert_eq!(
        schema(ColumnType::Year, &opts()),
        r#"{"type":"int32","optional":true,"name":"io.debezium.time.Year","version":1}"#
    );
}

// ---- temporal types ----------------------------------------------------------

fn date(y: u16, m: u8, d: u8) -> My {
    My::Date(y, m, d, 0, 0, 0, 0)
}

#[test]
fn dates() {
    let t = ColumnType::Date;
    assert_eq!(conv(t.clone(), date(2018, 6, 20)), Value::Int32(17702));
    assert_eq!(conv(t.clone(), date(1969, 12, 31)), Value::Int32(-1));
    assert_eq!(conv(t.clone(), date(9999, 12, 31)), Value::Int32(2_932_896));
    // Zero dates, and dates with a zero part, are null.
    assert_eq!(conv(t.clone(), date(0, 0, 0)), Value::Null);
    assert_eq!(conv(t.clone(), date(2020, 0, 15)), Value::Null);
    assert_eq!(conv(t.clone(), date(2020, 2, 0)), Value::Null);
    // An impossible date (ALLOW_INVALID_DATES) fails, as LocalDate.of does.
    let e = err(t.clone(), date(2020, 2, 30));
    assert!(e.to_string().contains("not a valid date"), "{e}");
    // Two-digit years.
    assert_eq!(conv(t.clone(), date(69, 12, 31)), Value::Int32(36524));
    assert_eq!(conv(t.clone(), date(70, 1, 1)), Value::Int32(0));
    assert_eq!(conv(t.clone(), date(100, 1, 1)), Value::Int32(-683_003));
    let raw = TypeOptions { time_adjuster: false, ..opts() };
    assert_eq!(conv_with(t.clone(), &raw, date(70, 1, 1)), Value::Int32(-693_960));
    assert_eq!(
        schema(t.clone(), &opts()),
        r#"{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1}"#
    );
    let connect = TypeOptions { time_precision: TimePrecisionMode::Connect, ..opts() };
    assert_eq!(conv_with(t.clone(), &connect, date(2018, 6, 20)), Value::Int32(17702));
    assert_eq!(
        schema(t.clone(), &connect),
        r#"{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Date","version":1}"#
    );
    let iso = TypeOptions { time_precision: TimePrecisionMode::IsoString, ..opts() };
    assert_eq!(conv_with(t.clone(), &iso, date(2017, 9, 15)), s("2017-09-15Z"));
    assert_eq!(conv_with(t.clone(), &iso, date(50, 1, 2)), s("2050-01-02Z"));
    assert_eq!(
        schema(t, &iso),
        r#"{"type":"string","optional":true,"name":"io.debezium.time.IsoDate","version":1}"#
    );
}

fn time(neg: bool, days: u32, h: u8, m: u8, sec: u8, us: u32) -> My {
    My::Time(neg, days, h, m, sec, us)
}

#[test]
fn times() {
    let t = ColumnType::Time { fsp: 6 };
    assert_eq!(conv(t.clone(), time(false, 0, 12, 34, 56, 789_123)), Value::Int64(45_296_789_123));
    // Negative, and beyond 24 hours (mysql_common splits whole days off).
    assert_eq!(conv(t.clone(), time(true, 34, 22, 59, 59, 0)), Value::Int64(-3_020_399_000_000));
    assert_eq!(conv(t.clone(), time(false, 1, 0, 0, 0, 500_000)), Value::Int64(86_400_500_000));
    assert_eq!(conv(t.clone(), time(true, 0, 0, 0, 0, 1)), Value::Int64(-1));
    assert_eq!(
        schema(t.clone(), &opts()),
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1}"#
    );
    // TIME(0) is MicroTime too (adaptive_time_microseconds).
    assert_eq!(
        schema(ColumnType::Time { fsp: 0 }, &opts()),
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1}"#
    );
    let connect = TypeOptions { time_precision: TimePrecisionMode::Connect, ..opts() };
    assert_eq!(
        conv_with(t.clone(), &connect, time(false, 0, 12, 0, 0, 999)),
        Value::Int32(43_200_000)
    );
    assert_eq!(
        conv_with(t.clone(), &connect, time(false, 1, 0, 0, 0, 0)),
        Value::Int32(86_400_000)
    );
    let e =
        col_with(t.clone(), true, &connect).convert(&v(time(false, 1, 0, 0, 0, 1))).unwrap_err();
    assert!(matches!(e, TypeError::Unrepresentable { .. }), "{e}");
    let e = col_with(t.clone(), true, &connect).convert(&v(time(true, 0, 0, 0, 1, 0))).unwrap_err();
    assert!(matches!(e, TypeError::Unrepresentable { .. }), "{e}");
    assert_eq!(
        schema(t.clone(), &connect),
        r#"{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Time","version":1}"#
    );
    let iso = TypeOptions { time_precision: TimePrecisionMode::IsoString, ..opts() };
    assert_eq!(conv_with(t.clone(), &iso, time(false, 0, 4, 5, 11, 789_000)), s("04:05:11.789Z"));
    assert_eq!(conv_with(t.clone(), &iso, time(false, 0, 4, 5, 0, 0)), s("04:05:00Z"));
    assert_eq!(conv_with(t.clone(), &iso, time(false, 1, 0, 0, 0, 0)), s("00:00:00Z"));
    assert_eq!(
        schema(t.clone(), &iso),
        r#"{"type":"string","optional":true,"name":"io.debezium.time.IsoTime","version":1}"#
    );
    let nanos = TypeOptions { time_precision: TimePrecisionMode::Nanoseconds, ..opts() };
    assert_eq!(conv_with(t.clone(), &nanos, time(true, 0, 0, 0, 0, 1)), Value::Int64(-1000));
    assert_eq!(
        schema(t.clone(), &nanos),
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.NanoTime","version":1}"#
    );
    assert!(matches!(err(t, time(false, 0, 1, 60, 0, 0)), TypeError::InvalidValue { .. }));
}

fn datetime(y: u16, mo: u8, d: u8, h: u8, mi: u8, sec: u8, us: u32) -> My {
    My::Date(y, mo, d, h, mi, sec, us)
}

#[test]
fn datetimes() {
    let ms = ColumnType::DateTime { fsp: 3 };
    let us = ColumnType::DateTime { fsp: 4 };
    let x = datetime(2018, 6, 20, 6, 37, 3, 123_456);
    assert_eq!(conv(ms.clone(), x.clone()), Value::Int64(1_529_476_623_123));
    assert_eq!(conv(us.clone(), x.clone()), Value::Int64(1_529_476_623_123_456));
    // Milliseconds round down before 1970.
    assert_eq!(conv(ms.clone(), datetime(1969, 12, 31, 23, 59, 59, 999_500)), Value::Int64(-1));
    assert_eq!(conv(ms.clone(), datetime(0, 0, 0, 0, 0, 0, 0)), Value::Null);
    assert_eq!(conv(ms.clone(), datetime(2020, 2, 0, 10, 0, 0, 0)), Value::Null);
    assert_eq!(conv(ms.clone(), datetime(70, 1, 1, 0, 0, 1, 0)), Value::Int64(1000));
    assert!(matches!(
        err(ms.clone(), datetime(2020, 2, 30, 0, 0, 0, 0)),
        TypeError::InvalidValue { .. }
    ));
    assert!(matches!(
        err(ms.clone(), datetime(2020, 2, 3, 24, 0, 0, 0)),
        TypeError::InvalidValue { .. }
    ));
    assert_eq!(
        schema(ColumnType::DateTime { fsp: 0 }, &opts()),
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1}"#
    );
    assert_eq!(
        schema(us.clone(), &opts()),
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1}"#
    );
    let connect = TypeOptions { time_precision: TimePrecisionMode::Connect, ..opts() };
    assert_eq!(conv_with(us.clone(), &connect, x.clone()), Value::Int64(1_529_476_623_123));
    assert_eq!(
        schema(us.clone(), &connect),
        r#"{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1}"#
    );
    let micro = TypeOptions { time_precision: TimePrecisionMode::Microseconds, ..opts() };
    assert_eq!(conv_with(ms.clone(), &micro, x.clone()), Value::Int64(1_529_476_623_123_456));
    assert_eq!(
        schema(ms.clone(), &micro),
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1}"#
    );
    let nanos = TypeOptions { time_precision: TimePrecisionMode::Nanoseconds, ..opts() };
    assert_eq!(conv_with(ms.clone(), &nanos, x.clone()), Value::Int64(1_529_476_623_123_456_000));
    let e = col_with(ms.clone(), true, &nanos)
        .convert(&v(datetime(2262, 4, 12, 0, 0, 0, 0)))
        .unwrap_err();
    assert!(matches!(e, TypeError::Unrepresentable { .. }), "{e}");
    assert_eq!(
        schema(ms.clone(), &nanos),
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.NanoTimestamp","version":1}"#
    );
    let iso = TypeOptions { time_precision: TimePrecisionMode::IsoString, ..opts() };
    assert_eq!(conv_with(ms.clone(), &iso, x), s("2018-06-20T06:37:03.123456Z"));
    assert_eq!(
        conv_with(ms.clone(), &iso, datetime(2019, 7, 9, 2, 28, 57, 0)),
        s("2019-07-09T02:28:57Z")
    );
    assert_eq!(
        schema(ms, &iso),
        r#"{"type":"string","optional":true,"name":"io.debezium.time.IsoTimestamp","version":1}"#
    );
}

#[test]
fn timestamps_are_utc_strings_with_the_column_precision() {
    let t = |fsp| ColumnType::Timestamp { fsp };
    assert_eq!(conv(t(0), My::Int(1_529_501_823)), s("2018-06-20T13:37:03Z"));
    assert_eq!(conv(t(0), text("1529501823")), s("2018-06-20T13:37:03Z"));
    assert_eq!(conv(t(3), text("1529501823")), s("2018-06-20T13:37:03.000Z"));
    assert_eq!(conv(t(3), text("1529501823.120000")), s("2018-06-20T13:37:03.120Z"));
    assert_eq!(conv(t(5), text("1673397250.123456")), s("2023-01-11T00:34:10.12345Z"));
    assert_eq!(conv(t(6), text("1673397250.123000")), s("2023-01-11T00:34:10.123000Z"));
    assert_eq!(conv(t(1), text("1529501823.100000")), s("2018-06-20T13:37:03.1Z"));
    // The zero timestamp is null.
    assert_eq!(conv(t(0), text("0")), Value::Null);
    assert_eq!(conv(t(0), My::Int(0)), Value::Null);
    assert_eq!(conv(t(3), text("0.001000")), s("1970-01-01T00:00:00.001Z"));
    // After 2038 (MariaDB 11.5+): mysql_common prints the u32 as an i32.
    assert_eq!(conv(t(0), text("-1")), s("2106-02-07T06:28:15Z"));
    assert!(matches!(err(t(0), text("12x")), TypeError::InvalidValue { .. }));
    assert!(matches!(err(t(0), text("1.5")), TypeError::InvalidValue { .. }));
    // Unaffected by time.precision.mode.
    let connect = TypeOptions { time_precision: TimePrecisionMode::Connect, ..opts() };
    assert_eq!(conv_with(t(0), &connect, My::Int(1)), s("1970-01-01T00:00:01Z"));
    assert_eq!(
        schema(t(3), &connect),
        r#"{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1}"#
    );
}

// ---- strings and binary ----------------------------------------------------

#[test]
fn strings_in_their_character_sets() {
    let t = |charset| ColumnType::Text { charset };
    assert_eq!(conv(t(Charset::Utf8), text("héllo 👋")), s("héllo 👋"));
    assert_eq!(conv(t(Charset::Utf8), bytes(b"a\xffb")), s("a\u{fffd}b"));
    assert_eq!(conv(t(Charset::Latin1), bytes(b"caf\xe9 \x80 \x9d")), s("café € \u{fffd}"));
    assert_eq!(conv(t(Charset::Ascii), bytes(b"ok\xe9")), s("ok\u{fffd}"));
    assert_eq!(conv(t(Charset::Utf16), bytes(&[0, 0xfc, 0x20, 0xac])), s("ü€"));
    assert_eq!(conv(t(Charset::Ucs2), bytes(&[0, 0xfc])), s("ü"));
    assert_eq!(conv(t(Charset::Utf16Le), bytes(&[0xfc, 0])), s("ü"));
    assert_eq!(conv(t(Charset::Utf32), bytes(&[0, 0, 0, 0xfc])), s("ü"));
    assert_eq!(schema(t(Charset::Latin1), &opts()), r#"{"type":"string","optional":true}"#);
    assert_eq!(charset_name(45), Some("utf8mb4"));
    assert_eq!(charset_name(8), Some("latin1"));
    assert_eq!(Charset::from_mysql_name("gbk"), None);
}

#[test]
fn binary_modes_and_padding() {
    let fixed = ColumnType::Binary { pad_to: Some(4) };
    let var = ColumnType::Binary { pad_to: None };
    assert_eq!(conv(fixed.clone(), bytes(&[1, 2])), Value::Bytes(vec![1, 2, 0, 0]));
    assert_eq!(conv(fixed.clone(), bytes(&[])), Value::Bytes(vec![0, 0, 0, 0]));
    assert_eq!(conv(var.clone(), bytes(&[1, 2])), Value::Bytes(vec![1, 2]));
    let b64 = TypeOptions { binary: BinaryMode::Base64, ..opts() };
    assert_eq!(conv_with(var.clone(), &b64, bytes(&[0xfb, 0xff])), s("+/8="));
    assert_eq!(conv_with(fixed.clone(), &b64, bytes(&[0xfb])), s("+wAAAA=="));
    let url = TypeOptions { binary: BinaryMode::Base64UrlSafe, ..opts() };
    assert_eq!(conv_with(var.clone(), &url, bytes(&[0xfb, 0xff])), s("-_8="));
    let hex = TypeOptions { binary: BinaryMode::Hex, ..opts() };
    assert_eq!(conv_with(fixed.clone(), &hex, bytes(&[0xab, 1])), s("ab010000"));
    assert_eq!(schema(var.clone(), &opts()), r#"{"type":"bytes","optional":true}"#);
    assert_eq!(schema(var, &hex), r#"{"type":"string","optional":true}"#);
}

#[test]
fn enums_and_sets() {
    let labels: Vec<String> = vec!["a".into(), "b,c".into(), "d'e".into(), "x\\y".into()];
    let e = ColumnType::Enum { labels: labels.clone() };
    assert_eq!(conv(e.clone(), My::Int(0)), s(""));
    assert_eq!(conv(e.clone(), My::Int(2)), s("b,c"));
    assert_eq!(conv(e.clone(), My::Int(4)), s("x\\y"));
    assert!(matches!(err(e.clone(), My::Int(i64::MIN)), TypeError::InvalidValue { .. }));
    assert!(matches!(err(e.clone(), My::Int(-1)), TypeError::InvalidValue { .. }));
    let x = err(e.clone(), My::Int(5));
    assert!(x.to_string().contains("index 5 past the 4 labels"), "{x}");
    assert_eq!(
        schema(e, &opts()),
        r#"{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"a,b\\,c,d'e,x\\\\y"}}"#
    );
    let set = ColumnType::Set { labels: (1..=9).map(|i| format!("m{i}")).collect() };
    assert_eq!(conv(set.clone(), bytes(&[0b101, 0])), s("m1,m3"));
    assert_eq!(conv(set.clone(), bytes(&[0, 1])), s("m9"));
    assert_eq!(conv(set.clone(), bytes(&[0, 0])), s(""));
    assert!(matches!(err(set.clone(), bytes(&[0, 2])), TypeError::InvalidValue { .. }));
    assert!(matches!(err(set.clone(), bytes(&[0; 9])), TypeError::InvalidValue { .. }));
    assert_eq!(
        schema(set, &opts()),
        r#"{"type":"string","optional":true,"name":"io.debezium.data.EnumSet","version":1,"parameters":{"allowed":"m1,m2,m3,m4,m5,m6,m7,m8,m9"}}"#
    );
}

// ---- geometry and vectors ---------------------------------------------------

fn wkb_point_le(x: f64, y: f64) -> Vec<u8> {
    let mut w = vec![1u8];
    w.extend(1u32.to_le_bytes());
    w.extend(x.to_le_bytes());
    w.extend(y.to_le_bytes());
    w
}

#[test]
fn geometries() {
    let mut stored = 4326u32.to_le_bytes().to_vec();
    stored.extend(wkb_point_le(1.0, 2.0));
    let g = conv(ColumnType::Geometry { kind: GeometryKind::Geometry }, bytes(&stored));
    assert_eq!(value_json(&g), json!({"wkb": "AQEAAAAAAAAAAADwPwAAAAAAAABA", "srid": 4326}));
    let p = conv(ColumnType::Geometry { kind: GeometryKind::Point }, bytes(&stored));
    assert_eq!(
        value_json(&p),
        json!({"x": 1.0, "y": 2.0, "wkb": "AQEAAAAAAAAAAADwPwAAAAAAAABA", "srid": 4326})
    );
    // A big-endian point, SRID 0 (null).
    let mut be = vec![0, 0, 0, 0, 0];
    be.extend(1u32.to_be_bytes());
    be.extend(3.5f64.to_be_bytes());
    be.extend((-4.25f64).to_be_bytes());
    let p = conv(ColumnType::Geometry { kind: GeometryKind::Point }, bytes(&be));
    let Value::Struct(st) = &p else { panic!("{p:?}") };
    assert_eq!(st.get("x"), Some(&Value::Float64(3.5)));
    assert_eq!(st.get("y"), Some(&Value::Float64(-4.25)));
    assert_eq!(st.get("srid"), Some(&Value::Null));
    // A linestring in a POINT column, a value shorter than its SRID.
    let mut ls = vec![0u8; 4];
    ls.extend([1, 2, 0, 0, 0, 0, 0, 0, 0]);
    let e = err(ColumnType::Geometry { kind: GeometryKind::Point }, bytes(&ls));
    assert!(e.to_string().contains("not a POINT"), "{e}");
    assert!(matches!(
        err(ColumnType::Geometry { kind: GeometryKind::Geometry }, bytes(&[1, 2])),
        TypeError::InvalidValue { .. }
    ));
    // Geometry schemas are optional even for NOT NULL columns; the struct
    // value carries the column's schema.
    let nn = col_with(ColumnType::Geometry { kind: GeometryKind::Geometry }, false, &opts());
    assert!(nn.schema().optional);
    let Value::Struct(st) = nn.convert(&v(bytes(&stored))).unwrap() else { panic!() };
    assert_eq!(*st.schema, *nn.schema());
    let pnn = col_with(ColumnType::Geometry { kind: GeometryKind::Point }, false, &opts());
    assert!(!pnn.schema().optional);
    let Value::Struct(st) = pnn.convert(&v(bytes(&stored))).unwrap() else { panic!() };
    assert_eq!(*st.schema, *pnn.schema());
}

#[test]
fn vectors() {
    let mut b = Vec::new();
    b.extend(1.5f32.to_le_bytes());
    b.extend((-2.0f32).to_le_bytes());
    assert_eq!(
        conv(ColumnType::Vector, bytes(&b)),
        Value::Array(vec![Value::Float32(1.5), Value::Float32(-2.0)])
    );
    assert!(matches!(err(ColumnType::Vector, bytes(&[1, 2, 3])), TypeError::InvalidValue { .. }));
    assert_eq!(
        schema(ColumnType::Vector, &opts()),
        r#"{"type":"array","items":{"type":"float","optional":false},"optional":true,"name":"io.debezium.data.FloatVector","version":1}"#
    );
}

// ---- JSON ----------------------------------------------------------------------

/// A JSON value to encode in MySQL's binary format.
#[derive(Clone)]
enum J {
    Null,
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(&'static str),
    Opaque(u8, Vec<u8>),
    /// (large, elements)
    Arr(bool, Vec<J>),
    /// (large, entries in stored order)
    Obj(bool, Vec<(&'static str, J)>),
}

fn varlen(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn type_byte(j: &J) -> u8 {
    match j {
        J::Obj(false, _) => 0x00,
        J::Obj(true, _) => 0x01,
        J::Arr(false, _) => 0x02,
        J::Arr(true, _) => 0x03,
        J::Null | J::Bool(_) => 0x04,
        J::I16(_) => 0x05,
        J::U16(_) => 0x06,
        J::I32(_) => 0x07,
        J::U32(_) => 0x08,
        J::I64(_) => 0x09,
        J::U64(_) => 0x0a,
        J::F64(_) => 0x0b,
        J::Str(_) => 0x0c,
        J::Opaque(..) => 0x0f,
    }
}

/// The value's bytes after its type byte.
fn payload(j: &J) -> Vec<u8> {
    match j {
        J::Null => vec![0],
        J::Bool(true) => vec![1],
        J::Bool(false) => vec![2],
        J::I16(x) => x.to_le_bytes().to_vec(),
        J::U16(x) => x.to_le_bytes().to_vec(),
        J::I32(x) => x.to_le_bytes().to_vec(),
        J::U32(x) => x.to_le_bytes().to_vec(),
        J::I64(x) => x.to_le_bytes().to_vec(),
        J::U64(x) => x.to_le_bytes().to_vec(),
        J::F64(x) => x.to_le_bytes().to_vec(),
        J::Str(s) => {
            let mut out = varlen(s.len());
            out.extend(s.as_bytes());
            out
        }
        J::Opaque(t, data) => {
            let mut out = vec![*t];
            out.extend(varlen(data.len()));
            out.extend(data);
            out
        }
        J::Arr(large, items) => container(*large, None, items),
        J::Obj(large, entries) => {
            let keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
            let values: Vec<J> = entries.iter().map(|(_, v)| v.clone()).collect();
            container(*large, Some(&keys), &values)
        }
    }
}

fn container(large: bool, keys: Option<&[&str]>, values: &[J]) -> Vec<u8> {
    let off = if large { 4 } else { 2 };
    let put = |out: &mut Vec<u8>, n: usize| {
        if large {
            out.extend((n as u32).to_le_bytes())
        } else {
            out.extend((n as u16).to_le_bytes())
        }
    };
    let n = values.len();
    let key_entries = keys.map_or(0, |_| n * (off + 2));
    let header = 2 * off + key_entries + n * (1 + off);
    let key_bytes: usize = keys.map_or(0, |k| k.iter().map(|k| k.len()).sum());
    let inline = |j: &J| match j {
        J::Null | J::Bool(_) | J::I16(_) | J::U16(_) => true,
        J::I32(_) | J::U32(_) => large,
        _ => false,
    };
    let mut body = Vec::new();
    let mut entries = Vec::new();
    let mut pos = header + key_bytes;
    for j in values {
        entries.push(type_byte(j));
        if inline(j) {
            let mut p = payload(j);
            p.resize(off, 0);
            entries.extend(p);
        } else {
            put(&mut entries, pos);
            let p = payload(j);
            pos += p.len();
            body.extend(p);
        }
    }
    let mut out = Vec::new();
    put(&mut out, n);
    put(&mut out, header + key_bytes + body.len());
    if let Some(keys) = keys {
        let mut kpos = header;
        for k in keys {
            put(&mut out, kpos);
            out.extend((k.len() as u16).to_le_bytes());
            kpos += k.len();
        }
    }
    out.extend(entries);
    if let Some(keys) = keys {
        for k in keys {
            out.extend(k.as_bytes());
        }
    }
    out.extend(body);
    out
}

fn jsonb(j: &J) -> Vec<u8> {
    let mut out = vec![type_byte(j)];
    out.extend(payload(j));
    out
}

/// The text Debezium would emit for a binary JSON document.
fn json_text(j: &J) -> String {
    let doc = jsonb(j);
    let mut buf = ParseBuf(&doc);
    let value: jsonb::Value<'_> = buf.parse(()).unwrap();
    match col(ColumnType::Json).convert(&BinlogValue::Jsonb(value)).unwrap() {
        Value::String(s) => s,
        other => panic!("{other:?}"),
    }
}

#[test]
fn json_scalars() {
    assert_eq!(json_text(&J::Null), "null");
    assert_eq!(json_text(&J::Bool(true)), "true");
    assert_eq!(json_text(&J::I16(-7)), "-7");
    assert_eq!(json_text(&J::U16(65535)), "65535");
    assert_eq!(json_text(&J::I32(i32::MIN)), "-2147483648");
    assert_eq!(json_text(&J::U32(u32::MAX)), "4294967295");
    assert_eq!(json_text(&J::I64(i64::MIN)), "-9223372036854775808");
    assert_eq!(json_text(&J::U64(u64::MAX)), "18446744073709551615");
    assert_eq!(json_text(&J::Str("héllo")), "\"héllo\"");
    assert_eq!(
        schema(ColumnType::Json, &opts()),
        r#"{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1}"#
    );
}

#[test]
fn json_doubles_as_java_prints_them() {
    // Double.toString between 10^-3 and 10^7 ...
    assert_eq!(json_text(&J::F64(1.5)), "1.5");
    assert_eq!(json_text(&J::F64(100.0)), "100.0");
    assert_eq!(json_text(&J::F64(0.1)), "0.1");
    assert_eq!(json_text(&J::F64(0.001)), "0.001");
    assert_eq!(json_text(&J::F64(-0.0)), "-0.0");
    assert_eq!(json_text(&J::F64(9_999_999.5)), "9999999.5");
    // ... and the exact decimal expansion (new BigDecimal(double)) where
    // Double.toString would be scientific.
    assert_eq!(json_text(&J::F64(1e7)), "10000000");
    assert_eq!(json_text(&J::F64(1e20)), "100000000000000000000");
    assert_eq!(json_text(&J::F64(-2.5e10)), "-25000000000");
    assert_eq!(
        json_text(&J::F64(1e-5)),
        "0.000010000000000000000818030539140313095458623138256371021270751953125"
    );
    assert_eq!(json_text(&J::F64(0.00048828125)), "0.00048828125");
}

#[test]
fn json_strings_escaped_as_the_binlog_client_does() {
    assert_eq!(
        json_text(&J::Str("q\"b\\s/\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀")),
        "\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001F\u{7f}é😀\""
    );
}

#[test]
fn json_containers_keep_stored_order_without_spaces() {
    // MySQL stores keys sorted by length then bytes; the text keeps that.
    let doc = J::Obj(
        false,
        vec![
            ("a", J::Arr(false, vec![J::Bool(true), J::Null, J::F64(1.5), J::Str("s\"q")])),
            ("b", J::I16(1)),
            ("id", J::I64(1 << 40)),
            (
                "nested",
                J::Obj(false, vec![("k", J::Obj(false, vec![])), ("z", J::Arr(false, vec![]))]),
            ),
        ],
    );
    assert_eq!(
        json_text(&doc),
        r#"{"a":[true,null,1.5,"s\"q"],"b":1,"id":1099511627776,"nested":{"k":{},"z":[]}}"#
    );
    // Large containers, with inlined 32-bit integers (the Java formatter
    // drops an inlined UINT32; logtap writes it).
    let large = J::Obj(
        true,
        vec![
            ("i", J::I32(-5)),
            ("u", J::U32(4_000_000_000)),
            ("xs", J::Arr(true, vec![J::I32(7), J::Str("x")])),
        ],
    );
    assert_eq!(json_text(&large), r#"{"i":-5,"u":4000000000,"xs":[7,"x"]}"#);
    assert_eq!(json_text(&J::Arr(false, vec![J::U16(1), J::I32(2), J::U32(3)])), "[1,2,3]");
}

fn packed_datetime(y: i64, mo: i64, d: i64, h: i64, mi: i64, sec: i64, us: i64) -> Vec<u8> {
    let ymd = ((y * 13 + mo) << 5) | d;
    let hms = (h << 12) | (mi << 6) | sec;
    ((((ymd << 17) | hms) << 24) + us).to_le_bytes().to_vec()
}

#[test]
fn json_opaque_values() {
    // DECIMAL(5,2) 123.45 and DECIMAL(3,2) -1.50: precision, scale, binary.
    assert_eq!(json_text(&J::Opaque(246, vec![5, 2, 0x80, 0x7b, 0x2d])), "123.45");
    assert_eq!(json_text(&J::Opaque(246, vec![3, 2, 0x7e, 0xcd])), "-1.50");
    assert_eq!(
        json_text(&J::Opaque(10, packed_datetime(2015, 1, 15, 0, 0, 0, 0))),
        "\"2015-01-15\""
    );
    assert_eq!(
        json_text(&J::Opaque(12, packed_datetime(2015, 1, 15, 23, 24, 25, 500_000))),
        "\"2015-01-15 23:24:25.5\""
    );
    assert_eq!(
        json_text(&J::Opaque(7, packed_datetime(2015, 1, 15, 23, 24, 25, 0))),
        "\"2015-01-15 23:24:25\""
    );
    let t = |neg: bool, h: i64, mi: i64, sec: i64, us: i64| {
        let packed = ((((h << 12) | (mi << 6) | sec) << 24) + us) * if neg { -1 } else { 1 };
        J::Opaque(11, packed.to_le_bytes().to_vec())
    };
    assert_eq!(json_text(&t(false, 12, 0, 0, 123)), "\"12:00:00.000123\"");
    assert_eq!(json_text(&t(false, 838, 59, 59, 0)), "\"838:59:59\"");
    assert_eq!(json_text(&t(true, 0, 30, 0, 0)), "\"-00:30:00\"");
    // Malformed decimals (scale above precision, a digit group over its
    // range, too short) are errors; mysql_common's own decoder panics.
    for data in [vec![1, 2, 0x80], vec![2, 0, 0x80 | 100], vec![5, 2, 0x80], vec![5]] {
        let doc = jsonb(&J::Opaque(246, data));
        let mut buf = ParseBuf(&doc);
        let value: jsonb::Value<'_> = buf.parse(()).unwrap();
        assert!(col(ColumnType::Json).convert(&BinlogValue::Jsonb(value)).is_err());
    }
    // Anything else: its bytes in base64.
    assert_eq!(json_text(&J::Opaque(252, b"ab".to_vec())), "\"YWI=\"");
    // A temporal shorter than 8 bytes is an error, not a panic.
    let doc = jsonb(&J::Opaque(10, vec![1, 2]));
    let mut buf = ParseBuf(&doc);
    let value: jsonb::Value<'_> = buf.parse(()).unwrap();
    assert!(matches!(
        col(ColumnType::Json).convert(&BinlogValue::Jsonb(value)),
        Err(TypeError::InvalidValue { .. })
    ));
}

#[test]
fn json_nesting_is_bounded() {
    let mut doc = J::Arr(false, vec![]);
    for _ in 0..1000 {
        doc = J::Arr(false, vec![doc]);
    }
    assert!(json_text(&doc).starts_with("[[[["));
    let doc = jsonb(&J::Arr(false, vec![doc]));
    let mut buf = ParseBuf(&doc);
    let value: jsonb::Value<'_> = buf.parse(()).unwrap();
    let e = col(ColumnType::Json).convert(&BinlogValue::Jsonb(value)).unwrap_err();
    assert!(e.to_string().contains("nested too deeply"), "{e}");
}

#[test]
fn json_as_text_and_other_forms() {
    let t = ColumnType::Json;
    // MariaDB's JSON (text), passed through as Debezium's JsonBinary does.
    assert_eq!(conv(t.clone(), text("{\"b\": 1, \"a\": [true]}")), s("{\"b\": 1, \"a\": [true]}"));
    // An empty value is null, "{}" in a NOT NULL column.
    assert_eq!(conv(t.clone(), text("")), Value::Null);
    assert_eq!(col_with(t.clone(), false, &opts()).convert(&v(text(""))).unwrap(), s("{}"));
    // Binary JSON handed over as bytes is decoded too.
    let doc = jsonb(&J::Arr(false, vec![J::I16(1)]));
    assert_eq!(conv(t.clone(), bytes(&doc)), s("[1]"));
    assert!(matches!(err(t.clone(), bytes(&[0x0e, 1])), TypeError::InvalidValue { .. }));
    // Text with a leading newline is not binary JSON; it is kept as text.
    assert_eq!(conv(t.clone(), text("\n{\"a\": 1}")), s("\n{\"a\": 1}"));
    // Partial updates are refused.
    let e = col(t).convert(&BinlogValue::JsonDiff(Vec::new())).unwrap_err();
    assert!(e.to_string().contains("binlog_row_value_options"), "{e}");
    // Binary JSON in a non-JSON column.
    let doc = jsonb(&J::Null);
    let mut buf = ParseBuf(&doc);
    let value: jsonb::Value<'_> = buf.parse(()).unwrap();
    assert!(col(ColumnType::Text { charset: Charset::Utf8 })
        .convert(&BinlogValue::Jsonb(value))
        .is_err());
}

// ---- options ---------------------------------------------------------------------

/// A mode as the configuration file spells it (the modes are typed and
/// read by serde, so this is the one way a spelling is accepted).
fn mode<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.into())).ok()
}

#[test]
fn option_spellings_are_debeziums() {
    assert_eq!(mode::<DecimalMode>("precise"), Some(DecimalMode::Precise));
    assert_eq!(mode::<DecimalMode>("double"), Some(DecimalMode::Double));
    assert_eq!(mode::<DecimalMode>("string"), Some(DecimalMode::String));
    assert_eq!(mode::<BigIntUnsignedMode>("long"), Some(BigIntUnsignedMode::Long));
    assert_eq!(mode::<BigIntUnsignedMode>("precise"), Some(BigIntUnsignedMode::Precise));
    assert_eq!(
        mode::<TimePrecisionMode>("adaptive_time_microseconds"),
        Some(TimePrecisionMode::AdaptiveTimeMicroseconds)
    );
    assert_eq!(mode::<TimePrecisionMode>("connect"), Some(TimePrecisionMode::Connect));
    assert_eq!(mode::<TimePrecisionMode>("isostring"), Some(TimePrecisionMode::IsoString));
    assert_eq!(mode::<TimePrecisionMode>("microseconds"), Some(TimePrecisionMode::Microseconds));
    assert_eq!(mode::<TimePrecisionMode>("nanoseconds"), Some(TimePrecisionMode::Nanoseconds));
    // Debezium's MySQL connector refuses `adaptive`.
    assert_eq!(mode::<TimePrecisionMode>("adaptive"), None);
    assert_eq!(mode::<BinaryMode>("base64-url-safe"), Some(BinaryMode::Base64UrlSafe));
    assert_eq!(mode::<BinaryMode>("hex"), Some(BinaryMode::Hex));
    assert_eq!(mode::<BinaryMode>("bytes"), Some(BinaryMode::Bytes));
    assert_eq!(mode::<BinaryMode>("base64"), Some(BinaryMode::Base64));
    let d = TypeOptions::default();
    assert_eq!(d.decimal, DecimalMode::Precise);
    assert_eq!(d.bigint_unsigned, BigIntUnsignedMode::Long);
    assert_eq!(d.time_precision, TimePrecisionMode::AdaptiveTimeMicroseconds);
    assert_eq!(d.binary, BinaryMode::Bytes);
    assert!(d.time_adjuster);
}

#[test]
fn errors_name_the_type_and_the_value() {
    let e = err(ColumnType::Date, text("2020-01-01"));
    assert_eq!(
        e.to_string(),
        "invalid DATE value \"2020-01-01\": unexpected binlog value kind: bytes"
    );
    let e = err(ColumnType::Binary { pad_to: None }, My::Int(1));
    assert!(e.to_string().starts_with("invalid VARBINARY/BLOB value Int(1)"), "{e}");
    let long = "y".repeat(500);
    let e = err(ColumnType::Int { unsigned: false }, text(&long));
    assert!(e.to_string().len() < 250, "{e}");
}
