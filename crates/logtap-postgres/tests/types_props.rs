//! Property tests of the value conversions: no input panics, and values
//! survive the round trip through PostgreSQL's text forms.

#![allow(clippy::unwrap_used)]

use logtap_core::Value;
use logtap_postgres::types::oids;
use logtap_postgres::types::{
    BinaryMode, ColumnConversion, DecimalMode, HStoreMode, IntervalMode, PgType, TimePrecisionMode,
    TypeKind, TypeOptions, TypeRegistry,
};
use proptest::prelude::*;

fn registry() -> TypeRegistry {
    let mut r = TypeRegistry::new();
    for (oid, name) in [
        (16400, "hstore"),
        (16410, "ltree"),
        (16500, "vector"),
        (16510, "halfvec"),
        (16520, "sparsevec"),
    ] {
        r.register(PgType { oid, name: name.into(), kind: TypeKind::Other });
    }
    r.register(PgType {
        oid: 16401,
        name: "_hstore".into(),
        kind: TypeKind::Array { element_oid: 16400 },
    });
    r
}

/// One conversion of every kind, in every mode.
fn all_conversions() -> Vec<ColumnConversion> {
    let r = registry();
    let mut modes = vec![TypeOptions::default()];
    for (d, t, b, i, h) in [
        (
            DecimalMode::Double,
            TimePrecisionMode::AdaptiveTimeMicroseconds,
            BinaryMode::Base64,
            IntervalMode::String,
            HStoreMode::Map,
        ),
        (
            DecimalMode::String,
            TimePrecisionMode::Connect,
            BinaryMode::Hex,
            IntervalMode::Numeric,
            HStoreMode::Json,
        ),
    ] {
        modes.push(TypeOptions {
            decimal: d,
            time_precision: t,
            binary: b,
            interval: i,
            hstore: h,
            money_fraction_digits: 4,
        });
    }
    let typmods = [-1, 0, 3, ((10 << 16) | 2) + 4, 7];
    let mut out = Vec::new();
    for o in &modes {
        for &(oid, _, array_oid) in oids::BUILTINS {
            for &t in &typmods {
                out.push(r.column_schema(oid, t, true, o).unwrap());
                out.push(r.column_schema(array_oid, t, true, o).unwrap());
            }
        }
        for oid in [16400, 16401, 16410, 16500, 16510, 16520] {
            out.push(r.column_schema(oid, -1, true, o).unwrap());
        }
    }
    out
}

fn texty() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[-+0-9.:eE ,{}\"\\\\()\\[\\]$NaIfinty/=>BCADTZxa-f]{0,40}",
        "\\{[0-9a-z\", {}\\\\NUL]{0,30}\\}",
        "-?[0-9]{1,4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?)?([+-][0-9]{2}(:[0-9]{2})?)?( BC)?",
        "-?[0-9]{0,3} (years?|mons?|days?) -?[0-9]{1,3}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,7})?",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics(text in texty()) {
        for c in all_conversions() {
            let _ = c.convert_text(&text);
        }
    }

    #[test]
    fn integers_and_decimals_agree(v in any::<i64>(), scale in 0_i32..6) {
        let r = TypeRegistry::new();
        let o = TypeOptions::default();
        let int8 = r.column_schema(oids::INT8, -1, true, &o).unwrap();
        prop_assert_eq!(int8.convert_text(&v.to_string()).unwrap(), Value::Int64(v));
        // The same digits as a numeric(30, scale): the unscaled value is v.
        let digits = v.unsigned_abs().to_string();
        let text = if scale == 0 {
            v.to_string()
        } else {
            let padded = format!("{digits:0>width$}", width = scale as usize + 1);
            let (int, frac) = padded.split_at(padded.len() - scale as usize);
            format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
        };
        let dec = r.column_schema(oids::NUMERIC, ((30 << 16) | scale) + 4, true, &o).unwrap();
        prop_assert_eq!(dec.convert_text(&text).unwrap(), Value::Bytes(java_to_byte_array(i128::from(v))));
        let st = r.column_schema(oids::NUMERIC, ((30 << 16) | scale) + 4, true, &TypeOptions { decimal: DecimalMode::String, ..o.clone() }).unwrap();
        prop_assert_eq!(st.convert_text(&text).unwrap(), Value::String(text.clone()));
    }

    #[test]
    fn timestamps_dates_and_zoned_strings_agree(
        y in 1_i32..=9999, mo in 1_u32..=12, d in 1_u32..=28,
        h in 0_u32..24, mi in 0_u32..60, s in 0_u32..60, us in 0_u32..1_000_000,
    ) {
        let r = TypeRegistry::new();
        let o = TypeOptions::default();
        let date = format!("{y:04}-{mo:02}-{d:02}");
        let time = format!("{h:02}:{mi:02}:{s:02}.{us:06}");
        let Value::Int32(days) = r.column_schema(oids::DATE, -1, true, &o).unwrap().convert_text(&date).unwrap() else { panic!() };
        let Value::Int64(micros) = r.column_schema(oids::TIMESTAMP, -1, true, &o).unwrap().convert_text(&format!("{date} {time}")).unwrap() else { panic!() };
        prop_assert_eq!(micros.div_euclid(86_400_000_000), i64::from(days));
        let of_day = i64::from(((h * 60 + mi) * 60 + s) as i32) * 1_000_000 + i64::from(us);
        prop_assert_eq!(micros.rem_euclid(86_400_000_000), of_day);
        let zoned = r.column_schema(oids::TIMESTAMPTZ, -1, true, &o).unwrap().convert_text(&format!("{date} {time}+00")).unwrap();
        prop_assert_eq!(zoned, Value::String(format!("{date}T{time}Z")));
        let Value::Int64(tm) = r.column_schema(oids::TIME, -1, true, &o).unwrap().convert_text(&time).unwrap() else { panic!() };
        prop_assert_eq!(tm, of_day);
    }

    #[test]
    fn text_arrays_round_trip(items in proptest::collection::vec(proptest::option::of(any::<String>()), 0..8)) {
        let literal = array_literal(&items);
        let c = TypeRegistry::new().column_schema(1009, -1, true, &TypeOptions::default()).unwrap();
        let want: Vec<Value> = items.iter().map(|i| i.clone().map_or(Value::Null, Value::String)).collect();
        prop_assert_eq!(c.convert_text(&literal).unwrap(), Value::Array(want));
    }

    #[test]
    fn hstore_round_trips_to_json(pairs in proptest::collection::btree_map(any::<String>(), proptest::option::of(any::<String>()), 0..20)) {
        let text = pairs
            .iter()
            .map(|(k, v)| format!("{}=>{}", quote(k), v.as_deref().map_or("NULL".to_string(), quote)))
            .collect::<Vec<_>>()
            .join(", ");
        let c = registry().column_schema(16400, -1, true, &TypeOptions::default()).unwrap();
        let Value::String(json) = c.convert_text(&text).unwrap() else { panic!() };
        let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(parsed.len(), pairs.len());
        for (k, v) in &pairs {
            prop_assert_eq!(&parsed[k], &v.clone().map_or(serde_json::Value::Null, serde_json::Value::String));
        }
    }
}

/// `BigInteger.valueOf(v).toByteArray()`.
fn java_to_byte_array(v: i128) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (this, next) = (b[start], b[start + 1]);
        if (this == 0 && next & 0x80 == 0) || (this == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    b[start..].to_vec()
}

/// `"..."` with `"` and `\` escaped, as array_out and hstore_out quote.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// An array literal as `array_out` writes it: elements quoted when needed.
fn array_literal(items: &[Option<String>]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|i| match i {
            None => "NULL".to_string(),
            Some(s) => {
                let needs = s.is_empty()
                    || s.eq_ignore_ascii_case("NULL")
                    || s.chars().any(|c| {
                        matches!(
                            c,
                            '{' | '}'
                                | ','
                                | '"'
                                | '\\'
                                | ' '
                                | '\t'
                                | '\n'
                                | '\r'
                                | '\x0b'
                                | '\x0c'
                        )
                    });
                if needs {
                    quote(s)
                } else {
                    s.clone()
                }
            }
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}
