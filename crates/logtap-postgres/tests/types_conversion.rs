//! Conversion of PostgreSQL values (pgoutput text) to Debezium's Connect
//! schemas and values. Input texts are what PostgreSQL 15 prints for the
//! values (checked against a server with `DateStyle = ISO`, `IntervalStyle =
//! postgres`, `TimeZone = UTC`, `lc_monetary = C`); expected outputs come
//! from Debezium's code and its own tests (`AbstractRecordsProducerTest`),
//! and numbers were checked with the same Java expressions on JDK 17.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use logtap_core::envelope::{schema_json, value_json};
use logtap_core::{Schema, Struct, Value};
use logtap_postgres::types::oids;
use logtap_postgres::types::{
    BinaryMode, ColumnConversion, DecimalMode, HStoreMode, IntervalMode, PgType, TimePrecisionMode,
    TypeError, TypeKind, TypeOptions, TypeRegistry, DEFAULT_UNAVAILABLE_VALUE,
};
use serde_json::json;

fn registry() -> TypeRegistry {
    let mut r = TypeRegistry::new();
    for (oid, name) in [(16400, "hstore"), (16410, "ltree"), (16420, "citext"), (16430, "isbn")] {
        r.register(PgType { oid, name: name.into(), kind: TypeKind::Other });
        r.register(PgType {
            oid: oid + 1,
            name: format!("_{name}"),
            kind: TypeKind::Array { element_oid: oid },
        });
    }
    for (oid, name) in
        [(16500, "vector"), (16510, "halfvec"), (16520, "sparsevec"), (16530, "geometry")]
    {
        r.register(PgType { oid, name: name.into(), kind: TypeKind::Other });
    }
    r.register(PgType {
        oid: 17000,
        name: "mood".into(),
        kind: TypeKind::Enum { labels: vec!["sad".into(), "ok".into(), "happy".into()] },
    });
    r.register(PgType {
        oid: 17001,
        name: "_mood".into(),
        kind: TypeKind::Array { element_oid: 17000 },
    });
    r
}

const HSTORE: u32 = 16400;

fn col_with(oid: u32, typmod: i32, opts: &TypeOptions) -> ColumnConversion {
    registry().column_schema(oid, typmod, true, opts).unwrap()
}

fn col(oid: u32, typmod: i32) -> ColumnConversion {
    col_with(oid, typmod, &TypeOptions::default())
}

fn conv_with(oid: u32, typmod: i32, opts: &TypeOptions, text: &str) -> Value {
    col_with(oid, typmod, opts).convert_text(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn conv(oid: u32, typmod: i32, text: &str) -> Value {
    conv_with(oid, typmod, &TypeOptions::default(), text)
}

fn err(oid: u32, typmod: i32, text: &str) -> TypeError {
    col(oid, typmod).convert_text(text).expect_err(text)
}

/// `numeric(p, s)`'s atttypmod.
fn numeric(p: i32, s: i32) -> i32 {
    ((p << 16) | (s & 0x7ff)) + 4
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

fn strct(v: &Value) -> &Struct {
    match v {
        Value::Struct(s) => s,
        other => panic!("not a struct: {other:?}"),
    }
}

fn opts(f: impl FnOnce(&mut TypeOptions)) -> TypeOptions {
    let mut o = TypeOptions::default();
    f(&mut o);
    o
}

// ---------------------------------------------------------------- schemas

#[test]
fn primitive_schemas() {
    let cases: &[(u32, i32, &str)] = &[
        (oids::BOOL, -1, "boolean"),
        (oids::INT2, -1, "int16"),
        (oids::INT4, -1, "int32"),
        (oids::INT8, -1, "int64"),
        (oids::OID, -1, "int64"),
        (oids::FLOAT4, -1, "float"),
        (oids::FLOAT8, -1, "double"),
        (oids::TEXT, -1, "string"),
        (oids::VARCHAR, 14, "string"),
        (oids::BPCHAR, 9, "string"),
        (oids::CHAR, -1, "string"),
        (oids::NAME, -1, "string"),
        (oids::INET, -1, "string"),
        (oids::CIDR, -1, "string"),
        (oids::MACADDR, -1, "string"),
        (oids::MACADDR8, -1, "string"),
        (oids::INT4RANGE, -1, "string"),
        (oids::TSTZRANGE, -1, "string"),
        (oids::BYTEA, -1, "bytes"),
    ];
    for &(oid, typmod, kind) in cases {
        let c = col(oid, typmod);
        assert_eq!(schema_json(c.schema()), json!({"type": kind, "optional": true}), "oid {oid}");
        assert!(!c.is_fallback());
    }
    let required =
        registry().column_schema(oids::INT4, -1, false, &TypeOptions::default()).unwrap();
    assert_eq!(schema_json(required.schema()), json!({"type": "int32", "optional": false}));
}

#[test]
fn logical_schemas() {
    let named = |oid: u32, typmod: i32, o: &TypeOptions| {
        let c = col_with(oid, typmod, o);
        let j = schema_json(c.schema());
        (j["type"].as_str().unwrap_or("").to_string(), j["name"].as_str().unwrap_or("").to_string())
    };
    let d = TypeOptions::default();
    let t = |k: &str, n: &str| (k.to_string(), n.to_string());
    assert_eq!(named(oids::UUID, -1, &d), t("string", "io.debezium.data.Uuid"));
    assert_eq!(named(oids::JSON, -1, &d), t("string", "io.debezium.data.Json"));
    assert_eq!(named(oids::JSONB, -1, &d), t("string", "io.debezium.data.Json"));
    assert_eq!(named(oids::XML, -1, &d), t("string", "io.debezium.data.Xml"));
    assert_eq!(named(oids::TSVECTOR, -1, &d), t("string", "io.debezium.data.Tsvector"));
    assert_eq!(named(oids::DATE, -1, &d), t("int32", "io.debezium.time.Date"));
    assert_eq!(named(oids::TIME, -1, &d), t("int64", "io.debezium.time.MicroTime"));
    assert_eq!(named(oids::TIME, 6, &d), t("int64", "io.debezium.time.MicroTime"));
    assert_eq!(named(oids::TIME, 4, &d), t("int64", "io.debezium.time.MicroTime"));
    assert_eq!(named(oids::TIME, 3, &d), t("int32", "io.debezium.time.Time"));
    assert_eq!(named(oids::TIME, 0, &d), t("int32", "io.debezium.time.Time"));
    assert_eq!(named(oids::TIMETZ, -1, &d), t("string", "io.debezium.time.ZonedTime"));
    assert_eq!(named(oids::TIMESTAMP, -1, &d), t("int64", "io.debezium.time.MicroTimestamp"));
    assert_eq!(named(oids::TIMESTAMP, 4, &d), t("int64", "io.debezium.time.MicroTimestamp"));
    assert_eq!(named(oids::TIMESTAMP, 3, &d), t("int64", "io.debezium.time.Timestamp"));
    assert_eq!(named(oids::TIMESTAMP, 0, &d), t("int64", "io.debezium.time.Timestamp"));
    assert_eq!(named(oids::TIMESTAMPTZ, 0, &d), t("string", "io.debezium.time.ZonedTimestamp"));
    assert_eq!(named(oids::INTERVAL, -1, &d), t("int64", "io.debezium.time.MicroDuration"));

    let micro = opts(|o| o.time_precision = TimePrecisionMode::AdaptiveTimeMicroseconds);
    assert_eq!(named(oids::TIME, 0, &micro), t("int64", "io.debezium.time.MicroTime"));
    assert_eq!(named(oids::TIMESTAMP, 3, &micro), t("int64", "io.debezium.time.Timestamp"));
    assert_eq!(named(oids::DATE, -1, &micro), t("int32", "io.debezium.time.Date"));

    let connect = opts(|o| o.time_precision = TimePrecisionMode::Connect);
    assert_eq!(named(oids::DATE, -1, &connect), t("int32", "org.apache.kafka.connect.data.Date"));
    assert_eq!(named(oids::TIME, -1, &connect), t("int32", "org.apache.kafka.connect.data.Time"));
    assert_eq!(
        named(oids::TIMESTAMP, -1, &connect),
        t("int64", "org.apache.kafka.connect.data.Timestamp")
    );
    assert_eq!(
        named(oids::TIMESTAMPTZ, -1, &connect),
        t("string", "io.debezium.time.ZonedTimestamp")
    );
    assert_eq!(named(oids::TIMETZ, -1, &connect), t("string", "io.debezium.time.ZonedTime"));

    let istr = opts(|o| o.interval = IntervalMode::String);
    assert_eq!(named(oids::INTERVAL, -1, &istr), t("string", "io.debezium.time.Interval"));
    for b in [BinaryMode::Base64, BinaryMode::Base64UrlSafe, BinaryMode::Hex] {
        assert_eq!(named(oids::BYTEA, -1, &opts(|o| o.binary = b)), t("string", ""));
    }
}

#[test]
fn schema_json_of_logical_types() {
    assert_eq!(
        schema_json(col(oids::DATE, -1).schema()),
        json!({"type": "int32", "optional": true, "name": "io.debezium.time.Date", "version": 1})
    );
    assert_eq!(
        schema_json(col(oids::NUMERIC, numeric(5, 2)).schema()),
        json!({
            "type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
            "version": 1, "parameters": {"scale": "2", "connect.decimal.precision": "5"}
        })
    );
    assert_eq!(
        schema_json(col(oids::NUMERIC, -1).schema()),
        json!({
            "type": "struct",
            "fields": [
                {"type": "int32", "optional": false, "field": "scale"},
                {"type": "bytes", "optional": false, "field": "value"}
            ],
            "optional": true, "name": "io.debezium.data.VariableScaleDecimal", "version": 1,
            "doc": "Variable scaled decimal"
        })
    );
    assert_eq!(
        schema_json(col(oids::MONEY, -1).schema()),
        json!({
            "type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
            "version": 1, "parameters": {"scale": "2"}
        })
    );
    assert_eq!(
        schema_json(col(oids::BIT, 3).schema()),
        json!({
            "type": "bytes", "optional": true, "name": "io.debezium.data.Bits", "version": 1,
            "parameters": {"length": "3"}
        })
    );
    assert_eq!(
        schema_json(col(oids::VARBIT, -1).schema())["parameters"],
        json!({"length": "2147483647"})
    );
    assert_eq!(
        schema_json(col(oids::BIT, 1).schema()),
        json!({"type": "boolean", "optional": true})
    );
    assert_eq!(
        schema_json(col(oids::VARBIT, 1).schema()),
        json!({"type": "boolean", "optional": true})
    );
    assert_eq!(
        schema_json(col(oids::POINT, -1).schema()),
        json!({
            "type": "struct",
            "fields": [
                {"type": "double", "optional": false, "field": "x"},
                {"type": "double", "optional": false, "field": "y"},
                {"type": "bytes", "optional": true, "field": "wkb"},
                {"type": "int32", "optional": true, "field": "srid"}
            ],
            "optional": true, "name": "io.debezium.data.geometry.Point", "version": 1,
            "doc": "Geometry (POINT)"
        })
    );
    assert_eq!(
        schema_json(col(17000, -1).schema()),
        json!({
            "type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
            "parameters": {"allowed": "sad,ok,happy"}
        })
    );
    assert_eq!(
        schema_json(col(1007, -1).schema()),
        json!({"type": "array", "items": {"type": "int32", "optional": true}, "optional": true})
    );
    assert_eq!(
        schema_json(col(1231, numeric(10, 2)).schema()),
        json!({
            "type": "array",
            "items": {
                "type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
                "version": 1, "parameters": {"scale": "2", "connect.decimal.precision": "10"}
            },
            "optional": true
        })
    );
    // Debezium's generic array branch leaves enum elements required.
    assert_eq!(schema_json(col(17001, -1).schema())["items"]["optional"], json!(false));
    assert_eq!(
        schema_json(col(HSTORE, -1).schema()),
        json!({"type": "string", "optional": true, "name": "io.debezium.data.Json", "version": 1})
    );
    assert_eq!(
        schema_json(col_with(HSTORE, -1, &opts(|o| o.hstore = HStoreMode::Map)).schema()),
        json!({
            "type": "map", "keys": {"type": "string", "optional": false},
            "values": {"type": "string", "optional": true}, "optional": true
        })
    );
    assert_eq!(
        schema_json(col(16410, -1).schema()),
        json!({"type": "string", "optional": true, "name": "io.debezium.data.Ltree", "version": 1})
    );
    assert_eq!(
        schema_json(col(16500, -1).schema()),
        json!({
            "type": "array", "items": {"type": "double", "optional": false}, "optional": true,
            "name": "io.debezium.data.DoubleVector", "version": 1
        })
    );
}

#[test]
fn numeric_schemas_per_mode() {
    let dbl = opts(|o| o.decimal = DecimalMode::Double);
    let st = opts(|o| o.decimal = DecimalMode::String);
    for typmod in [-1, numeric(5, 2)] {
        assert_eq!(
            schema_json(col_with(oids::NUMERIC, typmod, &dbl).schema()),
            json!({"type": "double", "optional": true})
        );
        assert_eq!(
            schema_json(col_with(oids::NUMERIC, typmod, &st).schema()),
            json!({"type": "string", "optional": true})
        );
    }
    assert_eq!(
        schema_json(col_with(oids::MONEY, -1, &dbl).schema()),
        json!({"type": "double", "optional": true})
    );
    assert_eq!(
        schema_json(col_with(oids::MONEY, -1, &st).schema()),
        json!({"type": "string", "optional": true})
    );
    // numeric(4) has scale 0 but a precision: a Decimal, not variable scale.
    assert_eq!(
        schema_json(col(oids::NUMERIC, numeric(4, 0)).schema())["parameters"],
        json!({"scale": "0", "connect.decimal.precision": "4"})
    );
    // Negative scales (PostgreSQL 15).
    assert_eq!(
        schema_json(col(oids::NUMERIC, numeric(5, -2)).schema())["parameters"],
        json!({"scale": "-2", "connect.decimal.precision": "5"})
    );
}

// ---------------------------------------------------------------- values

#[test]
fn booleans_integers_floats() {
    assert_eq!(conv(oids::BOOL, -1, "t"), Value::Boolean(true));
    assert_eq!(conv(oids::BOOL, -1, "f"), Value::Boolean(false));
    assert_eq!(conv(oids::INT2, -1, "-32768"), Value::Int16(-32768));
    assert_eq!(conv(oids::INT4, -1, "123456"), Value::Int32(123_456));
    assert_eq!(conv(oids::INT8, -1, "-9223372036854775808"), Value::Int64(i64::MIN));
    assert_eq!(conv(oids::OID, -1, "4294967295"), Value::Int64(4_294_967_295));
    assert_eq!(conv(oids::FLOAT4, -1, "3.3"), Value::Float32(3.3));
    assert_eq!(conv(oids::FLOAT4, -1, "1e+30"), Value::Float32(1e30));
    assert_eq!(conv(oids::FLOAT4, -1, "-Infinity"), Value::Float32(f32::NEG_INFINITY));
    assert!(matches!(conv(oids::FLOAT4, -1, "NaN"), Value::Float32(f) if f.is_nan()));
    assert_eq!(conv(oids::FLOAT8, -1, "4.44"), Value::Float64(4.44));
    assert_eq!(
        conv(oids::FLOAT8, -1, "1.2345678901234568e+17"),
        Value::Float64(1.234_567_890_123_456_8e17)
    );
    assert_eq!(conv(oids::FLOAT8, -1, "1e-300"), Value::Float64(1e-300));
    assert_eq!(conv(oids::FLOAT8, -1, "Infinity"), Value::Float64(f64::INFINITY));
    assert_eq!(conv(oids::FLOAT8, -1, "-0"), Value::Float64(-0.0));
}

#[test]
fn precise_decimals() {
    // numeric(5,2): PostgreSQL prints the column's scale.
    assert_eq!(conv(oids::NUMERIC, numeric(5, 2), "1.50"), bytes(&[0, 150]));
    assert_eq!(conv(oids::NUMERIC, numeric(5, 2), "-0.50"), bytes(&[0xce]));
    assert_eq!(conv(oids::NUMERIC, numeric(3, 2), "1.10"), bytes(&[110]));
    // A value with fewer decimals is rescaled, 1.5 -> unscaled 150.
    assert_eq!(conv(oids::NUMERIC, numeric(5, 2), "1.5"), bytes(&[0, 150]));
    assert_eq!(conv(oids::NUMERIC, numeric(5, 2), "1"), bytes(&[100]));
    // More decimals than the scale: rounded half up, as PostgreSQL rounds.
    assert_eq!(conv(oids::NUMERIC, numeric(5, 2), "1.005"), bytes(&[101]));
    assert_eq!(conv(oids::NUMERIC, numeric(5, 2), "-1.005"), bytes(&[0x9b]));
    assert_eq!(conv(oids::NUMERIC, numeric(4, 0), "22"), bytes(&[22]));
    assert_eq!(conv(oids::NUMERIC, numeric(5, -2), "12300"), bytes(&[123]));
    let Value::Bytes(b) = conv(oids::NUMERIC, numeric(1000, 0), &"9".repeat(1000)) else {
        panic!()
    };
    // 10^1000 - 1 needs 3322 bits: 416 bytes, the top one not negative.
    assert_eq!(b.len(), 416);
    assert!(b[0] > 0 && b[0] < 0x80);
    let Value::Bytes(b) = conv(oids::NUMERIC, numeric(1000, 0), &format!("-{}", "9".repeat(1000)))
    else {
        panic!()
    };
    assert_eq!(b.len(), 416);
    assert!(b[0] >= 0x80);
}

#[test]
fn variable_scale_decimals() {
    let c = col(oids::NUMERIC, -1);
    let check = |text: &str, scale: i32, unscaled: &[u8]| {
        let v = c.convert_text(text).unwrap();
        let st = strct(&v);
        assert_eq!(st.values, vec![Value::Int32(scale), bytes(unscaled)], "{text}");
        assert_eq!(st.schema.name.as_deref(), Some("io.debezium.data.VariableScaleDecimal"));
    };
    // Debezium's own expectations: 10.1111 -> (4, 101111), 22.2222, 10 -> (0, 10).
    check("10.1111", 4, &[0x01, 0x8a, 0xf7]);
    check("22", 0, &[22]);
    // Trailing zeros stripped, never to a negative scale.
    check("22.2200", 2, &[0x08, 0xae]);
    check("-1.000100", 4, &[0xd8, 0xef]);
    check("100", 0, &[100]);
    check("0.0", 0, &[0]);
    check(
        "10000000000000000000000000000000000000000.0000000000000000",
        0,
        &[29, 99, 41, 241, 195, 92, 164, 191, 171, 185, 245, 97, 0, 0, 0, 0, 0],
    );
    // The struct value carries the column's (optional) schema.
    assert!(strct(&c.convert_text("1").unwrap()).schema.optional);
}

#[test]
fn decimal_special_values_and_modes() {
    let e = err(oids::NUMERIC, -1, "NaN");
    assert!(matches!(e, TypeError::Unrepresentable { .. }), "{e}");
    assert!(e.to_string().contains("string"));
    assert!(matches!(err(oids::NUMERIC, numeric(5, 2), "NaN"), TypeError::Unrepresentable { .. }));
    assert!(matches!(err(oids::NUMERIC, -1, "Infinity"), TypeError::Unrepresentable { .. }));

    let st = opts(|o| o.decimal = DecimalMode::String);
    assert_eq!(conv_with(oids::NUMERIC, -1, &st, "NaN"), s("NAN"));
    assert_eq!(conv_with(oids::NUMERIC, -1, &st, "Infinity"), s("POSITIVE_INFINITY"));
    assert_eq!(conv_with(oids::NUMERIC, -1, &st, "-Infinity"), s("NEGATIVE_INFINITY"));
    assert_eq!(conv_with(oids::NUMERIC, numeric(6, 4), &st, "22.2200"), s("22.2200"));
    assert_eq!(conv_with(oids::NUMERIC, numeric(6, 4), &st, "22"), s("22.0000"));
    assert_eq!(conv_with(oids::NUMERIC, -1, &st, "22.2200"), s("22.2200"));
    assert_eq!(conv_with(oids::NUMERIC, -1, &st, "-0.001"), s("-0.001"));

    let dbl = opts(|o| o.decimal = DecimalMode::Double);
    assert_eq!(conv_with(oids::NUMERIC, numeric(3, 2), &dbl, "1.10"), Value::Float64(1.1));
    assert_eq!(conv_with(oids::NUMERIC, -1, &dbl, "10.1111"), Value::Float64(10.1111));
    assert_eq!(conv_with(oids::NUMERIC, -1, &dbl, "-Infinity"), Value::Float64(f64::NEG_INFINITY));
    assert!(matches!(conv_with(oids::NUMERIC, -1, &dbl, "NaN"), Value::Float64(f) if f.is_nan()));
}

#[test]
fn money() {
    assert_eq!(conv(oids::MONEY, -1, "$1,234.50"), bytes(&[0x01, 0xe2, 0x3a]));
    assert_eq!(conv(oids::MONEY, -1, "-$0.01"), bytes(&[0xff]));
    assert_eq!(conv(oids::MONEY, -1, "($1,234.11)"), conv(oids::MONEY, -1, "-$1,234.11"));
    assert_eq!(
        conv(oids::MONEY, -1, "$92,233,720,368,547,758.07"),
        bytes(&[0x7f, 255, 255, 255, 255, 255, 255, 255])
    );
    assert_eq!(
        conv(oids::MONEY, -1, "-$92,233,720,368,547,758.08"),
        bytes(&[0x80, 0, 0, 0, 0, 0, 0, 0])
    );
    let three = opts(|o| o.money_fraction_digits = 3);
    assert_eq!(conv_with(oids::MONEY, -1, &three, "$1,234.50"), bytes(&[0x12, 0xd6, 0x44]));
    assert_eq!(
        schema_json(col_with(oids::MONEY, -1, &three).schema())["parameters"],
        json!({"scale": "3"})
    );
    let st = opts(|o| o.decimal = DecimalMode::String);
    assert_eq!(conv_with(oids::MONEY, -1, &st, "-$1,234.50"), s("-1234.50"));
    let dbl = opts(|o| o.decimal = DecimalMode::Double);
    assert_eq!(conv_with(oids::MONEY, -1, &dbl, "$1,234.50"), Value::Float64(1234.5));
    let e = err(oids::MONEY, -1, "1.234,50 EUR");
    assert!(e.to_string().contains("lc_monetary"), "{e}");
}

#[test]
fn strings_pass_through() {
    assert_eq!(conv(oids::BPCHAR, 9, "ab   "), s("ab   "));
    assert_eq!(conv(oids::VARCHAR, 6, "žš"), s("žš"));
    assert_eq!(
        conv(oids::TEXT, -1, "line1\nline2\t\"q\" 日本 🙂"),
        s("line1\nline2\t\"q\" 日本 🙂")
    );
    assert_eq!(conv(oids::TEXT, -1, ""), s(""));
    assert_eq!(conv(oids::CHAR, -1, "x"), s("x"));
    assert_eq!(conv(oids::NAME, -1, "pg_class"), s("pg_class"));
    assert_eq!(
        conv(oids::UUID, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        s("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    );
    assert_eq!(conv(oids::JSONB, -1, r#"{"a": [1, 2], "b": 1}"#), s(r#"{"a": [1, 2], "b": 1}"#));
    assert_eq!(conv(oids::JSON, -1, r#"{"b":1,  "a":[1,2]}"#), s(r#"{"b":1,  "a":[1,2]}"#));
    assert_eq!(
        conv(oids::XML, -1, "<foo>bar</foo><foo>bar</foo>"),
        s("<foo>bar</foo><foo>bar</foo>")
    );
    assert_eq!(conv(oids::INET, -1, "192.168.2.0/12"), s("192.168.2.0/12"));
    assert_eq!(conv(oids::CIDR, -1, "192.168.100.128/25"), s("192.168.100.128/25"));
    assert_eq!(conv(oids::MACADDR, -1, "08:00:2b:01:02:03"), s("08:00:2b:01:02:03"));
    assert_eq!(conv(oids::MACADDR8, -1, "08:00:2b:01:02:03:04:05"), s("08:00:2b:01:02:03:04:05"));
    assert_eq!(
        conv(oids::TSTZRANGE, -1, r#"["2017-06-05 11:29:12.549426+00",)"#),
        s(r#"["2017-06-05 11:29:12.549426+00",)"#)
    );
    assert_eq!(conv(oids::DATERANGE, -1, "[2019-03-31,infinity)"), s("[2019-03-31,infinity)"));
    assert_eq!(conv(oids::TSVECTOR, -1, "'a' 'cat' 'fat'"), s("'a' 'cat' 'fat'"));
    assert_eq!(conv(17000, -1, "happy"), s("happy"));
    assert_eq!(conv(16410, -1, "Top.Collections.Pictures"), s("Top.Collections.Pictures"));
    assert_eq!(conv(16420, -1, "Hello World"), s("Hello World"));
    assert_eq!(conv(16430, -1, "0-393-04002-X"), s("0-393-04002-X"));
}

#[test]
fn bytea_per_binary_mode() {
    assert_eq!(conv(oids::BYTEA, -1, "\\x010203"), bytes(&[1, 2, 3]));
    assert_eq!(conv(oids::BYTEA, -1, "\\x"), bytes(&[]));
    let with =
        |b: BinaryMode, text: &str| conv_with(oids::BYTEA, -1, &opts(|o| o.binary = b), text);
    assert_eq!(with(BinaryMode::Base64, "\\x010203"), s("AQID"));
    assert_eq!(with(BinaryMode::Base64, "\\x27666174"), s("J2ZhdA=="));
    assert_eq!(with(BinaryMode::Base64UrlSafe, "\\xfbff"), s("-_8="));
    assert_eq!(with(BinaryMode::Base64, "\\xfbff"), s("+/8="));
    assert_eq!(with(BinaryMode::Hex, "\\x00ff10"), s("00ff10"));
    assert!(col(oids::BYTEA, -1).convert_text("\\x0").is_err());
}

#[test]
fn dates() {
    assert_eq!(conv(oids::DATE, -1, "2016-11-04"), Value::Int32(17_109));
    assert_eq!(conv(oids::DATE, -1, "1970-01-01"), Value::Int32(0));
    assert_eq!(conv(oids::DATE, -1, "1969-12-31"), Value::Int32(-1));
    assert_eq!(conv(oids::DATE, -1, "0001-01-01"), Value::Int32(-719_162));
    // 4713 BC is year -4712 in ISO/astronomical numbering, as java.time has it.
    assert_eq!(conv(oids::DATE, -1, "4713-01-01 BC"), Value::Int32(-2_440_550));
    assert_eq!(conv(oids::DATE, -1, "5874897-12-31"), Value::Int32(2_145_042_905));
    // Debezium's infinity dates: LocalDate -5877611-06-21 and -22.
    assert_eq!(conv(oids::DATE, -1, "infinity"), Value::Int32(-2_147_472_692));
    assert_eq!(conv(oids::DATE, -1, "-infinity"), Value::Int32(-2_147_472_691));
    let connect = opts(|o| o.time_precision = TimePrecisionMode::Connect);
    assert_eq!(conv_with(oids::DATE, -1, &connect, "2016-11-04"), Value::Int32(17_109));
}

#[test]
fn times() {
    // time: MicroTime, time(3): Time (milliseconds).
    assert_eq!(conv(oids::TIME, -1, "13:51:30"), Value::Int64(49_890_000_000));
    assert_eq!(conv(oids::TIME, -1, "23:59:59.999999"), Value::Int64(86_399_999_999));
    assert_eq!(conv(oids::TIME, 3, "13:51:30.123"), Value::Int32(49_890_123));
    assert_eq!(conv(oids::TIME, -1, "24:00:00"), Value::Int64(86_400_000_000));
    assert_eq!(conv(oids::TIME, 0, "24:00:00"), Value::Int32(86_400_000));
    let micro = opts(|o| o.time_precision = TimePrecisionMode::AdaptiveTimeMicroseconds);
    assert_eq!(conv_with(oids::TIME, 3, &micro, "13:51:30.123"), Value::Int64(49_890_123_000));
    let connect = opts(|o| o.time_precision = TimePrecisionMode::Connect);
    assert_eq!(conv_with(oids::TIME, -1, &connect, "13:51:30.123456"), Value::Int32(49_890_123));
}

#[test]
fn times_with_zone() {
    assert_eq!(conv(oids::TIMETZ, -1, "13:51:30.123789+02"), s("11:51:30.123789Z"));
    assert_eq!(conv(oids::TIMETZ, 3, "13:51:30.123+02"), s("11:51:30.123Z"));
    assert_eq!(conv(oids::TIMETZ, -1, "13:51:30.5+00"), s("13:51:30.5Z"));
    assert_eq!(conv(oids::TIMETZ, -1, "00:00:00-05:30"), s("05:30:00Z"));
    assert_eq!(conv(oids::TIMETZ, -1, "01:00:00+02"), s("23:00:00Z"));
    assert_eq!(conv(oids::TIMETZ, -1, "24:00:00+00"), s("24:00:00Z"));
}

#[test]
fn timestamps() {
    assert_eq!(
        conv(oids::TIMESTAMP, -1, "2016-11-04 13:51:30.123456"),
        Value::Int64(1_478_267_490_123_456)
    );
    assert_eq!(
        conv(oids::TIMESTAMP, 6, "1936-10-25 22:10:12.608"),
        Value::Int64(-1_047_174_587_392_000)
    );
    assert_eq!(
        conv(oids::TIMESTAMP, 3, "1936-10-25 22:10:12.608"),
        Value::Int64(-1_047_174_587_392)
    );
    assert_eq!(
        conv(oids::TIMESTAMP, 3, "2016-11-04 13:51:30.124"),
        Value::Int64(1_478_267_490_124)
    );
    assert_eq!(conv(oids::TIMESTAMP, -1, "1969-12-31 23:59:59.999999"), Value::Int64(-1));
    assert_eq!(conv(oids::TIMESTAMP, 0, "1969-12-31 23:59:59"), Value::Int64(-1000));
    assert_eq!(
        conv(oids::TIMESTAMP, -1, "4713-01-01 00:00:00 BC"),
        Value::Int64(-210_863_520_000_000_000)
    );
    assert_eq!(
        conv(oids::TIMESTAMP, -1, "4713-12-31 23:59:59.999999 BC"),
        Value::Int64(-210_831_897_600_000_001)
    );
    assert_eq!(
        conv(oids::TIMESTAMP, -1, "294247-01-01 23:59:59.999999"),
        Value::Int64(9_223_371_331_199_999_999)
    );
    // Beyond 294247 AD microseconds overflow an int64 (Debezium wraps), but
    // milliseconds do not.
    assert!(col(oids::TIMESTAMP, -1).convert_text("294276-12-31 23:59:59.999999").is_err());
    assert_eq!(
        conv(oids::TIMESTAMP, 3, "294276-12-31 23:59:59.999"),
        Value::Int64(9_224_318_015_999_999)
    );
    // Debezium's infinities: pgjdbc's DATE_POSITIVE_INFINITY as microseconds.
    assert_eq!(conv(oids::TIMESTAMP, -1, "infinity"), Value::Int64(9_223_372_036_825_200_000));
    assert_eq!(conv(oids::TIMESTAMP, -1, "-infinity"), Value::Int64(-9_223_372_036_832_400_000));
    assert_eq!(conv(oids::TIMESTAMP, 3, "infinity"), Value::Int64(9_223_372_036_825_200));
    let connect = opts(|o| o.time_precision = TimePrecisionMode::Connect);
    assert_eq!(
        conv_with(oids::TIMESTAMP, -1, &connect, "2016-11-04 13:51:30.123456"),
        Value::Int64(1_478_267_490_123)
    );
}

#[test]
fn timestamps_with_zone() {
    assert_eq!(
        conv(oids::TIMESTAMPTZ, -1, "2016-11-04 11:51:30.123456+00"),
        s("2016-11-04T11:51:30.123456Z")
    );
    assert_eq!(
        conv(oids::TIMESTAMPTZ, -1, "2016-11-04 13:51:30.123456+02"),
        s("2016-11-04T11:51:30.123456Z")
    );
    assert_eq!(
        conv(oids::TIMESTAMPTZ, -1, "2024-01-02 03:04:05+05:30"),
        s("2024-01-01T21:34:05.000000Z")
    );
    assert_eq!(
        conv(oids::TIMESTAMPTZ, -1, "2020-04-01 11:51:02+00"),
        s("2020-04-01T11:51:02.000000Z")
    );
    assert_eq!(conv(oids::TIMESTAMPTZ, 0, "2016-11-04 13:51:30+00"), s("2016-11-04T13:51:30Z"));
    assert_eq!(
        conv(oids::TIMESTAMPTZ, 3, "2016-11-04 13:51:30.12+00"),
        s("2016-11-04T13:51:30.120Z")
    );
    assert_eq!(
        conv(oids::TIMESTAMPTZ, -1, "1883-11-18 12:00:00-04:56:02"),
        s("1883-11-18T16:56:02.000000Z")
    );
    assert_eq!(
        conv(oids::TIMESTAMPTZ, -1, "21016-11-04 06:51:30.123456+00"),
        s("+21016-11-04T06:51:30.123456Z")
    );
    assert_eq!(
        conv(oids::TIMESTAMPTZ, -1, "4714-11-24 00:00:00+00 BC"),
        s("-4713-11-24T00:00:00.000000Z")
    );
    assert_eq!(
        conv(oids::TIMESTAMPTZ, -1, "294276-12-31 23:59:59.999999+00"),
        s("+294276-12-31T23:59:59.999999Z")
    );
    assert_eq!(conv(oids::TIMESTAMPTZ, -1, "infinity"), s("infinity"));
    assert_eq!(conv(oids::TIMESTAMPTZ, -1, "-infinity"), s("-infinity"));
}

#[test]
fn intervals() {
    // Debezium: MicroDuration.durationMicros(1, 2, 3, 4, 5, 6.78, 365.25 / 12).
    assert_eq!(
        conv(oids::INTERVAL, -1, "1 year 2 mons 3 days 04:05:06.78"),
        Value::Int64(37_091_106_780_000)
    );
    assert_eq!(
        conv(oids::INTERVAL, -1, "-1 years -2 mons +3 days -04:05:06"),
        Value::Int64(-36_572_706_000_000)
    );
    assert_eq!(conv(oids::INTERVAL, -1, "-3 days -00:00:01"), Value::Int64(-259_201_000_000));
    assert_eq!(conv(oids::INTERVAL, -1, "1 mon -1 days"), Value::Int64(2_543_400_000_000));
    assert_eq!(conv(oids::INTERVAL, -1, "-00:00:01.5"), Value::Int64(-1_500_000));
    assert_eq!(conv(oids::INTERVAL, -1, "00:00:00"), Value::Int64(0));
    assert_eq!(conv(oids::INTERVAL, -1, "178000000 years"), Value::Int64(i64::MAX));
    // Hours beyond an int: pgjdbc fails on these too.
    assert!(col(oids::INTERVAL, -1).convert_text("2562047788:00:54.775807").is_err());
    let st = opts(|o| o.interval = IntervalMode::String);
    assert_eq!(
        conv_with(oids::INTERVAL, -1, &st, "1 year 2 mons 3 days 04:05:06.78"),
        s("P1Y2M3DT4H5M6.78S")
    );
    assert_eq!(conv_with(oids::INTERVAL, -1, &st, "-3 days -00:00:01"), s("P0Y0M-3DT0H0M-1S"));
    assert_eq!(conv_with(oids::INTERVAL, -1, &st, "27:00:00"), s("P0Y0M0DT27H0M0S"));
    assert_eq!(conv_with(oids::INTERVAL, -1, &st, "00:00:00"), s("P0Y0M0DT0H0M0S"));
}

#[test]
fn bits() {
    // Debezium's own expectations (bitbin_table).
    assert_eq!(conv(oids::BIT, 1, "0"), Value::Boolean(false));
    assert_eq!(conv(oids::BIT, 1, "1"), Value::Boolean(true));
    assert_eq!(conv(oids::VARBIT, 1, "1"), Value::Boolean(true));
    assert_eq!(conv(oids::BIT, 2, "11"), bytes(&[3]));
    assert_eq!(conv(oids::BIT, 7, "1000000"), bytes(&[64]));
    assert_eq!(conv(oids::VARBIT, 2, "00"), bytes(&[]));
    assert_eq!(conv(oids::VARBIT, 24, "000000110000001000000001"), bytes(&[1, 2, 3]));
    let mut v = vec![0u8; 7];
    v.push(0x80);
    assert_eq!(conv(oids::VARBIT, 64, &format!("1{}", "0".repeat(63))), bytes(&v));
    assert_eq!(conv(oids::VARBIT, -1, "101"), bytes(&[5]));
    assert_eq!(
        conv(oids::VARBIT, -1, "111011010001000110000001000000001"),
        bytes(&[1, 2, 35, 0xda, 1])
    );
    assert!(col(oids::BIT, 3).convert_text("102").is_err());
}

#[test]
fn points() {
    let v = conv(oids::POINT, -1, "(1,1)");
    let st = strct(&v);
    let mut wkb = vec![1, 1, 0, 0, 0];
    wkb.extend_from_slice(&1.0_f64.to_le_bytes());
    wkb.extend_from_slice(&1.0_f64.to_le_bytes());
    assert_eq!(
        st.values,
        vec![Value::Float64(1.0), Value::Float64(1.0), Value::Bytes(wkb), Value::Null]
    );
    assert_eq!(
        value_json(&v),
        json!({"x": 1.0, "y": 1.0, "wkb": "AQEAAAAAAAAAAADwPwAAAAAAAPA/", "srid": null})
    );
    let v = conv(oids::POINT, -1, "(-1.5e+100,2.25)");
    assert_eq!(strct(&v).values[..2], [Value::Float64(-1.5e100), Value::Float64(2.25)]);
    assert!(col(oids::POINT, -1).convert_text("(1;2)").is_err());
}

#[test]
fn hstore_json_and_map() {
    // PostgreSQL's output; Debezium orders keys as a Java HashMap does.
    let text = r#""k2"=>NULL, "k3"=>"", "k 1"=>"v\"1""#;
    assert_eq!(conv(HSTORE, -1, text), s(r#"{"k2":null,"k3":"","k 1":"v\"1"}"#));
    assert_eq!(
        conv(HSTORE, -1, r#""key_#1"=>"val 1", "key 2"=>" ##123 78""#),
        s(r#"{"key_#1":"val 1","key 2":" ##123 78"}"#)
    );
    assert_eq!(conv(HSTORE, -1, ""), s("{}"));
    let map = opts(|o| o.hstore = HStoreMode::Map);
    assert_eq!(
        conv_with(HSTORE, -1, &map, r#""a"=>"1", "b"=>NULL"#),
        Value::Map(vec![(s("a"), s("1")), (s("b"), Value::Null)])
    );
    assert!(col(HSTORE, -1).convert_text(r#""a"=>"#).is_err());
}

#[test]
fn vectors() {
    assert_eq!(
        conv(16500, -1, "[1,2.5,-3]"),
        Value::Array(vec![Value::Float64(1.0), Value::Float64(2.5), Value::Float64(-3.0)])
    );
    assert_eq!(
        conv(16510, -1, "[1.5,2]"),
        Value::Array(vec![Value::Float32(1.5), Value::Float32(2.0)])
    );
    let v = conv(16520, -1, "{5:1.5,1:2,17:3}/20");
    let st = strct(&v);
    assert_eq!(st.values[0], Value::Int16(20));
    assert_eq!(
        st.values[1],
        Value::Map(vec![
            (Value::Int16(1), Value::Float64(2.0)),
            (Value::Int16(17), Value::Float64(3.0)),
            (Value::Int16(5), Value::Float64(1.5)),
        ])
    );
    assert!(col(16500, -1).convert_text("1,2").is_err());
}

#[test]
fn arrays() {
    assert_eq!(
        conv(1007, -1, "{1,2,NULL}"),
        Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Null])
    );
    assert_eq!(conv(1007, -1, "{}"), Value::Array(vec![]));
    assert_eq!(
        conv(1016, -1, "{1550166368505037572}"),
        Value::Array(vec![Value::Int64(1_550_166_368_505_037_572)])
    );
    assert_eq!(
        conv(1009, -1, r#"{"a b","","NULL",NULL,"q\"\\","{",é,"a,b}"}"#),
        Value::Array(vec![
            s("a b"),
            s(""),
            s("NULL"),
            Value::Null,
            s("q\"\\"),
            s("{"),
            s("é"),
            s("a,b}")
        ])
    );
    assert_eq!(conv(1014, 8, r#"{"ab  ",cdef}"#), Value::Array(vec![s("ab  "), s("cdef")]));
    assert_eq!(
        conv(1231, numeric(5, 2), "{1.50,NULL,-0.50}"),
        Value::Array(vec![bytes(&[0, 150]), Value::Null, bytes(&[0xce])])
    );
    let v = conv(1231, -1, "{1.1,2.22}");
    let Value::Array(items) = &v else { panic!() };
    assert_eq!(strct(&items[0]).values, vec![Value::Int32(1), bytes(&[11])]);
    assert_eq!(strct(&items[1]).values, vec![Value::Int32(2), bytes(&[0, 222])]);
    assert!(strct(&items[0]).schema.optional, "element structs carry the optional element schema");
    assert_eq!(
        conv(1182, -1, "{2016-11-04,infinity}"),
        Value::Array(vec![Value::Int32(17_109), Value::Int32(-2_147_472_692)])
    );
    assert_eq!(conv(1001, -1, r#"{"\\x0102"}"#), Value::Array(vec![bytes(&[1, 2])]));
    let b64 = opts(|o| o.binary = BinaryMode::Base64);
    assert_eq!(
        conv_with(1001, -1, &b64, r#"{"\\x000102","\\x030405"}"#),
        Value::Array(vec![s("AAEC"), s("AwQF")])
    );
    assert_eq!(
        conv(1185, -1, r#"{"2020-04-01 11:51:02+00","2020-04-01 12:51:03+00"}"#),
        Value::Array(vec![s("2020-04-01T11:51:02.000000Z"), s("2020-04-01T12:51:03.000000Z")])
    );
    assert_eq!(conv(1270, -1, "{13:51:30+02}"), Value::Array(vec![s("11:51:30Z")]));
    assert_eq!(
        conv(1183, -1, "{00:01:02,01:02:03}"),
        Value::Array(vec![Value::Int64(62_000_000), Value::Int64(3_723_000_000)])
    );
    assert_eq!(
        conv(1115, -1, r#"{"2020-04-01 00:01:02"}"#),
        Value::Array(vec![Value::Int64(1_585_699_262_000_000)])
    );
    assert_eq!(
        conv(3807, -1, r#"{"{\"a\": \"b,c\"}",NULL}"#),
        Value::Array(vec![s(r#"{"a": "b,c"}"#), Value::Null])
    );
    assert_eq!(
        conv(1000, -1, "{t,f}"),
        Value::Array(vec![Value::Boolean(true), Value::Boolean(false)])
    );
    assert_eq!(conv(1561, 3, "{101,NULL}"), Value::Array(vec![bytes(&[5]), Value::Null]));
    assert_eq!(
        conv(2951, -1, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"),
        Value::Array(vec![s("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")])
    );
    let Value::Array(floats) = conv(1021, -1, "{1.5,NaN}") else { panic!() };
    assert_eq!(floats[0], Value::Float32(1.5));
    assert!(matches!(floats[1], Value::Float32(f) if f.is_nan()));
    assert_eq!(conv(17001, -1, "{sad,happy}"), Value::Array(vec![s("sad"), s("happy")]));
    assert_eq!(conv(16411, -1, "{Top.A,Top.B}"), Value::Array(vec![s("Top.A"), s("Top.B")]));
    assert_eq!(conv(16401, -1, r#"{"\"k\"=>\"v\""}"#), Value::Array(vec![s(r#"{"k":"v"}"#)]));
    // Lower bounds other than 1 are decorated; the values are the same.
    assert_eq!(conv(1007, -1, "[0:1]={5,6}"), Value::Array(vec![Value::Int32(5), Value::Int32(6)]));
    // Multi-dimensional arrays: Debezium's element converters yield null
    // for each sub-array.
    assert_eq!(conv(1007, -1, "{{1,2},{3,4}}"), Value::Array(vec![Value::Null, Value::Null]));
    // Element errors name the element.
    let e = err(1007, -1, "{1,x}");
    assert!(e.to_string().contains("element 2"), "{e}");
}

#[test]
fn array_schemas_of_other_types() {
    let items = |oid: u32, typmod: i32| schema_json(col(oid, typmod).schema())["items"].clone();
    assert_eq!(items(1231, -1)["name"], json!("io.debezium.data.VariableScaleDecimal"));
    assert_eq!(items(1231, -1)["optional"], json!(true));
    assert_eq!(items(1183, 3)["name"], json!("io.debezium.time.Time"));
    assert_eq!(items(1185, -1)["name"], json!("io.debezium.time.ZonedTimestamp"));
    assert_eq!(
        items(2951, -1),
        json!({"type": "string", "optional": true, "name": "io.debezium.data.Uuid", "version": 1})
    );
    assert_eq!(items(1561, 3)["name"], json!("io.debezium.data.Bits"));
    assert_eq!(items(16411, -1)["name"], json!("io.debezium.data.Ltree"));
    assert_eq!(items(16411, -1)["optional"], json!(true));
    assert_eq!(items(16421, -1), json!({"type": "string", "optional": true}));
    // Debezium's generic branch: required elements.
    assert_eq!(
        items(3643, -1),
        json!({"type": "string", "optional": false, "name": "io.debezium.data.Tsvector", "version": 1})
    );
    assert_eq!(items(16431, -1), json!({"type": "string", "optional": false}));
}

#[test]
fn domains() {
    let mut r = registry();
    r.register(PgType {
        oid: 18000,
        name: "price".into(),
        kind: TypeKind::Domain { base_oid: oids::NUMERIC, base_typmod: numeric(7, 3) },
    });
    r.register(PgType {
        oid: 18001,
        name: "pos_price".into(),
        kind: TypeKind::Domain { base_oid: 18000, base_typmod: -1 },
    });
    r.register(PgType {
        oid: 18002,
        name: "short_text".into(),
        kind: TypeKind::Domain { base_oid: oids::VARCHAR, base_typmod: 14 },
    });
    r.register(PgType {
        oid: 18003,
        name: "_price".into(),
        kind: TypeKind::Array { element_oid: 18000 },
    });
    r.register(PgType {
        oid: 18004,
        name: "loop_a".into(),
        kind: TypeKind::Domain { base_oid: 18005, base_typmod: -1 },
    });
    r.register(PgType {
        oid: 18005,
        name: "loop_b".into(),
        kind: TypeKind::Domain { base_oid: 18004, base_typmod: -1 },
    });
    r.register(PgType {
        oid: 18006,
        name: "ts3".into(),
        kind: TypeKind::Domain { base_oid: oids::TIMESTAMP, base_typmod: 3 },
    });
    let o = TypeOptions::default();
    for oid in [18000, 18001] {
        let c = r.column_schema(oid, -1, true, &o).unwrap();
        assert_eq!(
            schema_json(c.schema())["parameters"],
            json!({"scale": "3", "connect.decimal.precision": "7"})
        );
        assert_eq!(c.convert_text("1.500").unwrap(), bytes(&[0x05, 0xdc]));
        assert!(!c.is_fallback());
    }
    assert_eq!(r.column_schema(18001, -1, true, &o).unwrap().type_name(), "pos_price");
    assert_eq!(
        schema_json(r.column_schema(18002, -1, false, &o).unwrap().schema()),
        json!({"type": "string", "optional": false})
    );
    let arr = r.column_schema(18003, -1, true, &o).unwrap();
    assert_eq!(
        schema_json(arr.schema())["items"]["parameters"],
        json!({"scale": "3", "connect.decimal.precision": "7"})
    );
    assert_eq!(
        arr.convert_text("{1.500,NULL}").unwrap(),
        Value::Array(vec![bytes(&[0x05, 0xdc]), Value::Null])
    );
    let ts = r.column_schema(18006, -1, true, &o).unwrap();
    assert_eq!(schema_json(ts.schema())["name"], json!("io.debezium.time.Timestamp"));
    assert!(matches!(r.column_schema(18004, -1, true, &o), Err(TypeError::Resolution { .. })));
}

#[test]
fn fallbacks() {
    let r = registry();
    let o = TypeOptions::default();
    // tsquery, pg_lsn, box, int4multirange, an unknown oid, PostGIS, a
    // composite, and arrays Debezium declines.
    let mut r2 = r.clone();
    r2.register(PgType { oid: 19000, name: "my_row".into(), kind: TypeKind::Composite });
    for (oid, text) in [
        (3615, "'fat' <-> 'cat'"),
        (3220, "16/B374D848"),
        (603, "(1,1),(0,0)"),
        (4451, "{[1,3)}"),
        (99_999, "whatever"),
        (16530, "0101000020E6100000000000000000F03F0000000000000040"),
        (19000, "(1,\"a b\")"),
        (791, "{$1.00}"),
        (1187, "{\"1 day\"}"),
        (1003, "{a}"),
        (143, "{<a/>}"),
        (1017, "{\"(1,2)\"}"),
        (1020, "{(1,1),(0,0);(3,3),(2,2)}"),
    ] {
        let c = r2.column_schema(oid, -1, false, &o).unwrap();
        assert!(c.is_fallback(), "oid {oid}");
        assert_eq!(
            schema_json(c.schema()),
            json!({"type": "string", "optional": false}),
            "oid {oid}"
        );
        assert_eq!(c.convert_text(text).unwrap(), s(text));
    }
    assert_eq!(r.column_schema(99_999, -1, true, &o).unwrap().type_name(), "oid 99999");
}

#[test]
fn unavailable_values() {
    let p = DEFAULT_UNAVAILABLE_VALUE;
    let u = |oid: u32, o: &TypeOptions| col_with(oid, -1, o).unavailable_value(p);
    let d = TypeOptions::default();
    assert_eq!(u(oids::TEXT, &d), Some(s(p)));
    assert_eq!(u(oids::JSONB, &d), Some(s(p)));
    assert_eq!(u(17000, &d), Some(s(p)));
    assert_eq!(u(oids::BYTEA, &d), Some(bytes(p.as_bytes())));
    assert_eq!(u(oids::BYTEA, &opts(|o| o.binary = BinaryMode::Hex)), Some(s(p)));
    assert_eq!(u(1009, &d), Some(Value::Array(vec![s(p)])));
    assert_eq!(u(1001, &d), Some(Value::Array(vec![bytes(p.as_bytes())])));
    let ints = u(1007, &d).unwrap();
    let Value::Array(ints) = ints else { panic!() };
    assert_eq!(ints.len(), p.len());
    assert_eq!(ints[0], Value::Int32(95));
    assert_eq!(u(2951, &d), Some(Value::Array(vec![s("b68a35a7-17ad-35b3-af2a-ae46edb4545a")])));
    assert_eq!(u(HSTORE, &d), Some(s(&format!("{{\"{p}\":\"{p}\"}}"))));
    assert_eq!(u(oids::NUMERIC, &d), None);
    assert_eq!(u(1231, &d), None);
}

#[test]
fn registry_basics() {
    let r = TypeRegistry::new();
    assert_eq!(r.get(23).map(|t| t.name.as_str()), Some("int4"));
    assert_eq!(r.get(1007).map(|t| t.kind.clone()), Some(TypeKind::Array { element_oid: 23 }));
    assert_eq!(r.get(1007).map(|t| t.name.as_str()), Some("_int4"));
    assert!(r.get(16_384).is_none());
    let mut r = r;
    r.register_catalog(&logtap_postgres::catalog::CatalogType {
        oid: 20000,
        name: "color".into(),
        typtype: 'e',
        element: 0,
        base: 0,
        base_typmod: -1,
        labels: vec!["red".into(), "green".into()],
    });
    r.register_catalog(&logtap_postgres::catalog::CatalogType {
        oid: 20001,
        name: "_color".into(),
        typtype: 'b',
        element: 20000,
        base: 0,
        base_typmod: -1,
        labels: vec![],
    });
    r.register_catalog(&logtap_postgres::catalog::CatalogType {
        oid: 20002,
        name: "email".into(),
        typtype: 'd',
        element: 0,
        base: oids::VARCHAR,
        base_typmod: 104,
        labels: vec![],
    });
    let o = TypeOptions::default();
    assert_eq!(
        schema_json(r.column_schema(20000, -1, true, &o).unwrap().schema())["parameters"],
        json!({"allowed": "red,green"})
    );
    assert_eq!(
        r.column_schema(20001, -1, true, &o).unwrap().convert_text("{red}").unwrap(),
        Value::Array(vec![s("red")])
    );
    assert!(!r.column_schema(20002, -1, true, &o).unwrap().is_fallback());
}

#[test]
fn malformed_text_is_a_typed_error() {
    let cases: &[(u32, i32, &str)] = &[
        (oids::BOOL, -1, "yes"),
        (oids::INT2, -1, "40000"),
        (oids::INT4, -1, "1.5"),
        (oids::INT8, -1, ""),
        (oids::FLOAT8, -1, "one"),
        (oids::NUMERIC, -1, "1..2"),
        (oids::NUMERIC, numeric(5, 2), "abc"),
        (oids::DATE, -1, "2016-02-30"),
        (oids::TIME, -1, "noon"),
        (oids::TIMETZ, -1, "13:51:30"),
        (oids::TIMESTAMP, -1, "2016-11-04T13:51:30"),
        (oids::TIMESTAMPTZ, -1, "2016-11-04 13:51:30+5"),
        (oids::INTERVAL, -1, "1 fortnight"),
        (oids::BYTEA, -1, "\\xgg"),
        (oids::POINT, -1, "1,2"),
        (1007, -1, "{1,2"),
    ];
    for &(oid, typmod, text) in cases {
        let e = err(oid, typmod, text);
        let TypeError::InvalidText { type_name, text: t, .. } = &e else { panic!("{e}") };
        assert_eq!(type_name, &registry().get(oid).unwrap().name);
        assert_eq!(t, text);
    }
    // Long texts are cut in the error.
    let long = format!("{}x", "1".repeat(500));
    let TypeError::InvalidText { text, .. } = err(oids::INT4, -1, &long) else { panic!() };
    assert!(text.len() < 120 && text.ends_with("..."), "{text}");
    let e = err(oids::TIMESTAMP, -1, "x");
    assert_eq!(e.to_string(), "invalid timestamp value \"x\": expected 4 digits at offset 0");
}

#[test]
fn struct_values_encode_with_the_envelope() {
    let v = conv(oids::NUMERIC, -1, "10.1111");
    assert_eq!(value_json(&v), json!({"scale": 4, "value": "AYr3"}));
    // Struct values carry the column's schema.
    let c = col(oids::POINT, -1);
    let v = c.convert_text("(1,2)").unwrap();
    let schema: &Schema = &strct(&v).schema;
    assert_eq!(schema, c.schema());
    let required =
        registry().column_schema(oids::POINT, -1, false, &TypeOptions::default()).unwrap();
    let v = required.convert_text("(1,2)").unwrap();
    assert!(!strct(&v).schema.optional);
    let _unused: Option<Arc<Schema>> = None;
}
