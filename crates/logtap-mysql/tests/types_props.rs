//! Properties of the binlog value conversion: no input panics, decimals
//! round-trip through their two's-complement bytes, the temporal modes agree
//! with each other.

#![allow(clippy::unwrap_used)]

use logtap_core::Value;
use logtap_mysql::types::{
    column_schema, BigIntUnsignedMode, BinaryMode, Charset, ColumnType, DecimalMode, GeometryKind,
    TimePrecisionMode, TypeOptions,
};
use mysql_common::binlog::jsonb;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::io::ParseBuf;
use mysql_common::value::Value as My;
use proptest::prelude::*;

fn column_types() -> impl Strategy<Value = ColumnType> {
    let labels = proptest::collection::vec("[a-z,\\\\]{0,3}", 0..5);
    prop_oneof![
        any::<bool>().prop_map(|unsigned| ColumnType::TinyInt { unsigned }),
        any::<bool>().prop_map(|unsigned| ColumnType::SmallInt { unsigned }),
        any::<bool>().prop_map(|unsigned| ColumnType::MediumInt { unsigned }),
        any::<bool>().prop_map(|unsigned| ColumnType::Int { unsigned }),
        any::<bool>().prop_map(|unsigned| ColumnType::BigInt { unsigned }),
        Just(ColumnType::Float),
        Just(ColumnType::Double),
        (1u8..=65, 0u8..=30)
            .prop_map(|(p, s)| ColumnType::Decimal { precision: p.max(s), scale: s }),
        (1u16..=64).prop_map(|length| ColumnType::Bit { length }),
        Just(ColumnType::Year),
        Just(ColumnType::Date),
        (0u8..=6).prop_map(|fsp| ColumnType::Time { fsp }),
        (0u8..=6).prop_map(|fsp| ColumnType::DateTime { fsp }),
        (0u8..=6).prop_map(|fsp| ColumnType::Timestamp { fsp }),
        prop_oneof![
            Just(Charset::Utf8),
            Just(Charset::Latin1),
            Just(Charset::Ascii),
            Just(Charset::Ucs2),
            Just(Charset::Utf16),
            Just(Charset::Utf16Le),
            Just(Charset::Utf32)
        ]
        .prop_map(|charset| ColumnType::Text { charset }),
        proptest::option::of(0u32..300).prop_map(|pad_to| ColumnType::Binary { pad_to }),
        labels.clone().prop_map(|labels| ColumnType::Enum { labels }),
        labels.prop_map(|labels| ColumnType::Set { labels }),
        Just(ColumnType::Json),
        prop_oneof![Just(GeometryKind::Geometry), Just(GeometryKind::Point)]
            .prop_map(|kind| ColumnType::Geometry { kind }),
        Just(ColumnType::Vector),
    ]
}

fn options() -> impl Strategy<Value = TypeOptions> {
    (0..3usize, any::<bool>(), 0..5usize, 0..4usize, any::<bool>()).prop_map(
        |(d, b, t, bin, time_adjuster)| TypeOptions {
            decimal: [DecimalMode::Precise, DecimalMode::Double, DecimalMode::String][d],
            bigint_unsigned: if b { BigIntUnsignedMode::Long } else { BigIntUnsignedMode::Precise },
            time_precision: [
                TimePrecisionMode::AdaptiveTimeMicroseconds,
                TimePrecisionMode::Connect,
                TimePrecisionMode::Microseconds,
                TimePrecisionMode::Nanoseconds,
                TimePrecisionMode::IsoString,
            ][t],
            binary: [
                BinaryMode::Bytes,
                BinaryMode::Base64,
                BinaryMode::Base64UrlSafe,
                BinaryMode::Hex,
            ][bin],
            time_adjuster,
        },
    )
}

fn my_values() -> impl Strategy<Value = My> {
    prop_oneof![
        Just(My::NULL),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(My::Bytes),
        "[-+0-9.]{0,20}".prop_map(|s| My::Bytes(s.into_bytes())),
        any::<i64>().prop_map(My::Int),
        any::<u64>().prop_map(My::UInt),
        any::<f32>().prop_map(My::Float),
        any::<f64>().prop_map(My::Double),
        (
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>()
        )
            .prop_map(|(y, m, d, h, mi, s, us)| My::Date(y, m, d, h, mi, s, us)),
        (any::<bool>(), any::<u32>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u32>())
            .prop_map(|(n, d, h, m, s, us)| My::Time(n, d, h, m, s, us)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Every conversion of every value either succeeds or is a TypeError.
    #[test]
    fn no_value_panics(t in column_types(), o in options(), optional in any::<bool>(), x in my_values()) {
        let conv = column_schema(&t, optional, &o);
        let _ = conv.convert(&BinlogValue::Value(x));
    }

    /// Arbitrary binary JSON either renders or is refused.
    #[test]
    fn no_json_document_panics(mut doc in proptest::collection::vec(any::<u8>(), 0..200), first in 0u8..16) {
        if let Some(b) = doc.first_mut() { *b = first; }
        let conv = column_schema(&ColumnType::Json, true, &TypeOptions::default());
        let mut buf = ParseBuf(&doc);
        if let Ok(v) = buf.parse::<jsonb::Value<'_>>(()) {
            let _ = conv.convert(&BinlogValue::Jsonb(v));
        }
        let _ = conv.convert(&BinlogValue::Value(My::Bytes(doc.clone())));
    }

    /// DECIMAL bytes are the unscaled value in minimal two's complement.
    #[test]
    fn decimal_bytes_round_trip(n in any::<i64>(), scale in 0u32..10) {
        let t = ColumnType::Decimal { precision: 30, scale: scale as u8 };
        let digits = n.unsigned_abs().to_string();
        let digits = format!("{}{digits}", "0".repeat((scale as usize + 1).saturating_sub(digits.len())));
        let (i, f) = digits.split_at(digits.len() - scale as usize);
        let text = format!("{}{i}{}{f}", if n < 0 { "-" } else { "" }, if scale > 0 { "." } else { "" });
        let conv = column_schema(&t, true, &TypeOptions::default());
        let Value::Bytes(b) = conv.convert(&BinlogValue::Value(My::Bytes(text.clone().into_bytes()))).unwrap() else {
            panic!("not bytes")
        };
        prop_assert!(!b.is_empty() && b.len() <= 8);
        if b.len() > 1 {
            // Minimal: the first byte is not a redundant sign byte.
            let redundant_zero = b[0] == 0 && b[1] & 0x80 == 0;
            let redundant_ones = b[0] == 0xff && b[1] & 0x80 != 0;
            prop_assert!(!redundant_zero && !redundant_ones);
        }
        let mut x: i64 = if b[0] & 0x80 != 0 { -1 } else { 0 };
        for &byte in &b { x = (x << 8) | i64::from(byte); }
        prop_assert_eq!(x, n);
        let string = TypeOptions { decimal: DecimalMode::String, ..TypeOptions::default() };
        let s = column_schema(&t, true, &string).convert(&BinlogValue::Value(My::Bytes(text.clone().into_bytes()))).unwrap();
        prop_assert_eq!(s, Value::String(if n == 0 { text.trim_start_matches('-').to_string() } else { text }));
    }

    /// A DATE and the DATETIME at its midnight agree in every mode.
    #[test]
    fn dates_and_datetimes_agree(y in 1u16..=9999, m in 1u8..=12, d in 1u8..=28, adjust in any::<bool>()) {
        let base = TypeOptions { time_adjuster: adjust, ..TypeOptions::default() };
        let micro = TypeOptions { time_precision: TimePrecisionMode::Microseconds, ..base.clone() };
        let iso = TypeOptions { time_precision: TimePrecisionMode::IsoString, ..base.clone() };
        let date = My::Date(y, m, d, 0, 0, 0, 0);
        let run = |t: ColumnType, o: &TypeOptions| {
            column_schema(&t, true, o).convert(&BinlogValue::Value(date.clone())).unwrap()
        };
        let (Value::Int32(days), Value::Int64(us)) =
            (run(ColumnType::Date, &base), run(ColumnType::DateTime { fsp: 6 }, &micro))
        else { panic!() };
        prop_assert_eq!(i64::from(days) * 86_400_000_000, us);
        let (Value::String(ds), Value::String(dts)) =
            (run(ColumnType::Date, &iso), run(ColumnType::DateTime { fsp: 0 }, &iso))
        else { panic!() };
        prop_assert_eq!(format!("{}T00:00:00Z", ds.trim_end_matches('Z')), dts);
        let year = if adjust && y < 100 { if y < 70 { y + 2000 } else { y + 1900 } } else { y };
        prop_assert_eq!(&ds[..4], format!("{year:04}"));
        prop_assert_eq!(&ds[5..10], format!("{m:02}-{d:02}"));
    }

    /// TIMESTAMP text and TIME micros agree with the seconds they encode.
    #[test]
    fn timestamps_and_times(secs in 1i64..4_294_967_296, micros in 0i64..1_000_000, neg in any::<bool>()) {
        let t = column_schema(&ColumnType::Timestamp { fsp: 6 }, true, &TypeOptions::default());
        let shown = if secs >= 1 << 31 { secs - (1 << 32) } else { secs };
        let Value::String(iso) = t.convert(&BinlogValue::Value(My::Bytes(format!("{shown}.{micros:06}").into_bytes()))).unwrap() else { panic!() };
        let suffix = format!(".{micros:06}Z");
        prop_assert!(iso.ends_with(&suffix), "{} {}", iso, suffix);
        let tm = column_schema(&ColumnType::Time { fsp: 6 }, true, &TypeOptions::default());
        let total = secs % (839 * 3600);
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
        let v = tm.convert(&BinlogValue::Value(My::Time(neg, (h / 24) as u32, (h % 24) as u8, m as u8, s as u8, micros as u32))).unwrap();
        let expect = (total * 1_000_000 + micros) * if neg { -1 } else { 1 };
        prop_assert_eq!(v, Value::Int64(expect));
    }
}
