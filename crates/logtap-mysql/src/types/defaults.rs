//! Column defaults for the field schemas. The binlog does not carry them;
//! `information_schema.COLUMNS.COLUMN_DEFAULT` does, spelled differently by
//! the two servers (see [`ColumnDefault::parse`]). A literal default is
//! turned into a Connect value by the column's own conversion, fed the
//! value the binlog would carry for it, so a default reads exactly as the
//! same value in a row would (Debezium converts defaults with its row
//! converters too).
//!
//! Debezium 3.6's rules (`BinlogDefaultValueConverter`), followed here:
//! - no default for NULL, for expressions (`(1 + 2)`, `uuid()`), and for
//!   JSON, geometry, VECTOR and UUID columns;
//! - `CURRENT_TIMESTAMP` stands for `1970-01-01 00:00:00`: a DATETIME gets
//!   0, a TIMESTAMP gets the epoch when NOT NULL and no default otherwise;
//! - a zero date (`0000-00-00`) or, on DATE/DATETIME, text that is no date:
//!   the epoch when NOT NULL, no default otherwise;
//! - a TIMESTAMP literal is read as UTC (Debezium reads it in its JVM's
//!   zone, UTC in the usual container);
//! - an integer literal with a fraction is rounded (`'1.5'` gives 2).
//!
//! Where logtap knowingly differs: a quoted default is unescaped (`'it''s'`
//! is `it's`; Debezium keeps `it''s`), BIGINT defaults above 2^53 keep
//! their precision, and a BINARY(n) default is zero-padded to n bytes as
//! the column's values are.

use super::{convert, fallback, BinlogValue, ColumnConversion, Conv, My};
use logtap_core::Value;

/// A column's DEFAULT, the same whichever server described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnDefault {
    /// No DEFAULT clause, or DEFAULT NULL.
    None,
    /// A literal, unquoted: `7`, `1.50`, `none`, `2020-01-02 03:04:05`.
    Text(String),
    /// A BIT literal `b'101'`, as its value.
    Bits(u64),
    /// A binary literal (MySQL writes a VARBINARY's default as `0x6162`).
    Bytes(Vec<u8>),
    /// `CURRENT_TIMESTAMP` (or `NOW()`), with or without a precision.
    CurrentTimestamp,
    /// Another expression evaluated per row (`(1 + 2)`, `uuid()`).
    Expression(String),
}

impl ColumnDefault {
    /// Reads `COLUMN_DEFAULT` (`raw`, SQL NULL as `None`) with the column's
    /// `EXTRA` and `DATA_TYPE`.
    ///
    /// MariaDB (10.2.7+) writes the default as SQL: `NULL` for DEFAULT
    /// NULL, string literals quoted (`'no''ne'`), numbers bare, BIT as
    /// `b'101'`, expressions as they are (`current_timestamp()`), and SQL
    /// NULL for no DEFAULT at all. MySQL writes a literal's value unquoted,
    /// SQL NULL for both "no DEFAULT" and DEFAULT NULL, BIT as `b'101'`,
    /// binary strings as `0x...`, and marks expressions `DEFAULT_GENERATED`
    /// in `EXTRA`.
    pub fn parse(mariadb: bool, raw: Option<&str>, extra: &str, data_type: &str) -> ColumnDefault {
        let Some(raw) = raw else { return ColumnDefault::None };
        let binary = matches!(
            data_type.to_ascii_lowercase().as_str(),
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
        );
        if data_type.eq_ignore_ascii_case("bit") {
            if let Some(bits) = bit_literal(raw) {
                return ColumnDefault::Bits(bits);
            }
        }
        let lower = raw.to_ascii_lowercase();
        let current_timestamp =
            ["current_timestamp", "now(", "localtime"].iter().any(|f| lower.starts_with(f));
        if mariadb {
            if current_timestamp {
                return ColumnDefault::CurrentTimestamp;
            }
            if raw.eq_ignore_ascii_case("NULL") {
                return ColumnDefault::None;
            }
            if let Some(s) = quoted(raw) {
                return ColumnDefault::Text(s);
            }
            if is_number(raw) {
                return ColumnDefault::Text(raw.to_string());
            }
            return ColumnDefault::Expression(raw.to_string());
        }
        if extra.to_ascii_uppercase().contains("DEFAULT_GENERATED") {
            // `DEFAULT CURRENT_TIMESTAMP` is listed bare, `DEFAULT (now())`
            // as the expression `now()`, which Debezium gives no value.
            if lower.starts_with("current_timestamp") {
                return ColumnDefault::CurrentTimestamp;
            }
            return ColumnDefault::Expression(raw.to_string());
        }
        if binary {
            if let Some(b) = raw.strip_prefix("0x").and_then(unhex) {
                return ColumnDefault::Bytes(b);
            }
        }
        ColumnDefault::Text(raw.to_string())
    }
}

/// `'...'` with `''` and backslash escapes undone, or `None` if `raw` is not
/// one quoted literal.
fn quoted(raw: &str) -> Option<String> {
    let inner = raw.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // Inside the literal a quote only appears doubled.
                if chars.next() != Some('\'') {
                    return None;
                }
                out.push('\'');
            }
            '\\' => match chars.next()? {
                '0' => out.push('\0'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'Z' => out.push('\u{1a}'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    Some(out)
}

fn is_number(raw: &str) -> bool {
    let t = raw.strip_prefix('-').unwrap_or(raw);
    !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && t.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// `b'101'` as a number (at most 64 bits, BIT's limit).
fn bit_literal(raw: &str) -> Option<u64> {
    let digits = raw.strip_prefix("b'").or_else(|| raw.strip_prefix("B'"))?.strip_suffix('\'')?;
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 2).ok()
}

fn unhex(h: &str) -> Option<Vec<u8>> {
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok()).collect()
}

impl ColumnConversion {
    /// The column's default as a value of its schema, or `None` where the
    /// schema gets no `default` (see the module documentation; also a
    /// literal the column's type cannot hold, which the server would have
    /// refused).
    pub fn default_value(&self, default: &ColumnDefault) -> Option<Value> {
        let text = match default {
            ColumnDefault::None | ColumnDefault::Expression(_) => return None,
            ColumnDefault::Text(t) => Some(t.as_str()),
            ColumnDefault::CurrentTimestamp => Some("1970-01-01 00:00:00"),
            _ => None,
        };
        // The epoch when NOT NULL, else no default.
        let epoch = || (!self.optional).then(|| fallback(&self.conv));
        let binlog = match (&self.conv, default) {
            (Conv::Text(_) | Conv::Enum(_) | Conv::Set(_), ColumnDefault::Text(t)) => {
                return Some(Value::String(t.clone()));
            }
            (Conv::Int { .. } | Conv::SignedMediumInt | Conv::UnsignedDecimal | Conv::Year, _) => {
                let t = text?.trim();
                match (t.parse::<i64>(), t.parse::<u64>()) {
                    (Ok(i), _) => My::Int(i),
                    (_, Ok(u)) => My::UInt(u),
                    _ => {
                        let f = t.parse::<f64>().ok()?.round();
                        if f.abs() >= 9.2e18 {
                            return None;
                        }
                        My::Int(f as i64)
                    }
                }
            }
            (Conv::Float32, _) => My::Float(text?.parse().ok()?),
            (Conv::Float64, _) => My::Double(text?.parse().ok()?),
            (Conv::Decimal { .. }, _) => My::Bytes(text?.as_bytes().to_vec()),
            (Conv::Bit | Conv::Bits { .. }, ColumnDefault::Bits(n)) => {
                let width = match &self.conv {
                    Conv::Bits { length } => usize::from(*length).div_ceil(8),
                    _ => 1,
                };
                My::Bytes(n.to_be_bytes()[8 - width..].to_vec())
            }
            (Conv::Binary { .. }, ColumnDefault::Text(t)) => My::Bytes(t.as_bytes().to_vec()),
            (Conv::Binary { .. }, ColumnDefault::Bytes(b)) => My::Bytes(b.clone()),
            (Conv::Date { .. } | Conv::DateTime { .. }, _) => {
                let Some(v) = date_time(text?.trim()) else { return epoch() };
                return match convert(&self.conv, &BinlogValue::Value(v)) {
                    Ok(Some(v)) => Some(v),
                    Ok(None) => epoch(),
                    Err(_) => None,
                };
            }
            (Conv::Timestamp { .. }, _) => {
                let My::Date(y, mo, d, h, mi, s, us) = date_time(text?.trim())? else {
                    return None;
                };
                if y == 0 || mo == 0 || d == 0 {
                    return epoch();
                }
                let days = super::temporal::days_from_civil(y.into(), mo.into(), d.into());
                let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
                if secs == 0 && us == 0 {
                    return epoch();
                }
                My::Bytes(format!("{secs}.{us:06}").into_bytes())
            }
            (Conv::Time { .. }, _) => time(text?.trim())?,
            _ => return None,
        };
        convert(&self.conv, &BinlogValue::Value(binlog)).ok().flatten()
    }
}

/// `YYYY-MM-DD[ hh:mm:ss[.ffffff]]` as the binlog's date value.
fn date_time(t: &str) -> Option<My> {
    let (date, time) = t.split_once(' ').unwrap_or((t, "00:00:00"));
    let mut d = date.splitn(3, '-');
    let y = d.next()?.parse().ok()?;
    let mo = d.next()?.parse().ok()?;
    let day = d.next()?.parse().ok()?;
    let (h, mi, s, us) = clock(time)?;
    Some(My::Date(y, mo, day, u8::try_from(h).ok()?, mi, s, us))
}

/// `[-]hhh:mm:ss[.ffffff]` as the binlog's time value.
fn time(t: &str) -> Option<My> {
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (h, mi, s, us) = clock(t)?;
    Some(My::Time(neg, h / 24, (h % 24) as u8, mi, s, us))
}

fn clock(t: &str) -> Option<(u32, u8, u8, u32)> {
    let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut p = hms.splitn(3, ':');
    let h = p.next()?.parse().ok()?;
    let mi = p.next()?.parse().ok()?;
    let s = p.next()?.parse().ok()?;
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let us = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().ok()? };
    Some((h, mi, s, us))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{column_schema, ColumnType, TypeOptions};

    fn mariadb(raw: &str) -> ColumnDefault {
        ColumnDefault::parse(true, Some(raw), "", "varchar")
    }

    #[test]
    fn the_two_servers_spellings_read_the_same() {
        // Captured from MariaDB 10.11 and MySQL 9.7 for the same DDL.
        assert_eq!(mariadb("'no''ne'"), ColumnDefault::Text("no'ne".into()));
        assert_eq!(
            ColumnDefault::parse(false, Some("no'ne"), "", "varchar"),
            ColumnDefault::Text("no'ne".into())
        );
        assert_eq!(mariadb("NULL"), ColumnDefault::None);
        assert_eq!(ColumnDefault::parse(true, None, "", "int"), ColumnDefault::None);
        assert_eq!(ColumnDefault::parse(false, None, "", "int"), ColumnDefault::None);
        assert_eq!(mariadb("7"), ColumnDefault::Text("7".into()));
        assert_eq!(mariadb("-1.50"), ColumnDefault::Text("-1.50".into()));
        assert_eq!(mariadb("current_timestamp()"), ColumnDefault::CurrentTimestamp);
        assert_eq!(mariadb("(1 + 2)"), ColumnDefault::Expression("(1 + 2)".into()));
        assert_eq!(
            ColumnDefault::parse(
                false,
                Some("CURRENT_TIMESTAMP"),
                "DEFAULT_GENERATED",
                "timestamp"
            ),
            ColumnDefault::CurrentTimestamp
        );
        assert_eq!(mariadb("current_timestamp(3)"), ColumnDefault::CurrentTimestamp);
        assert_eq!(
            ColumnDefault::parse(false, Some("now()"), "DEFAULT_GENERATED", "datetime"),
            ColumnDefault::Expression("now()".into())
        );
        for mariadb in [true, false] {
            assert_eq!(
                ColumnDefault::parse(mariadb, Some("b'101'"), "", "bit"),
                ColumnDefault::Bits(5)
            );
        }
        assert_eq!(
            ColumnDefault::parse(false, Some("0x6162"), "", "varbinary"),
            ColumnDefault::Bytes(b"ab".to_vec())
        );
        // A text column's default that looks like hex is text.
        assert_eq!(
            ColumnDefault::parse(false, Some("0x6162"), "", "varchar"),
            ColumnDefault::Text("0x6162".into())
        );
        assert_eq!(mariadb(r"'a\\b'"), ColumnDefault::Text(r"a\b".into()));
        assert_eq!(mariadb("''"), ColumnDefault::Text(String::new()));
    }

    fn value(t: ColumnType, d: ColumnDefault) -> Option<Value> {
        column_schema(&t, true, &TypeOptions::default()).default_value(&d)
    }

    fn text(s: &str) -> ColumnDefault {
        ColumnDefault::Text(s.into())
    }

    #[test]
    fn literals_become_values_of_the_columns_schema() {
        assert_eq!(value(ColumnType::Int { unsigned: false }, text("7")), Some(Value::Int32(7)));
        assert_eq!(
            value(ColumnType::TinyInt { unsigned: false }, text("-3")),
            Some(Value::Int16(-3))
        );
        assert_eq!(
            value(ColumnType::BigInt { unsigned: true }, text("18446744073709551615")),
            Some(Value::Int64(-1))
        );
        assert_eq!(value(ColumnType::Int { unsigned: false }, text("x")), None);
        assert_eq!(value(ColumnType::Double, text("2.5")), Some(Value::Float64(2.5)));
        assert_eq!(
            value(ColumnType::Decimal { precision: 5, scale: 2 }, text("1.50")),
            Some(Value::Bytes(vec![0x00, 0x96]))
        );
        assert_eq!(
            value(ColumnType::Bit { length: 1 }, ColumnDefault::Bits(1)),
            Some(Value::Boolean(true))
        );
        assert_eq!(
            value(ColumnType::Bit { length: 10 }, ColumnDefault::Bits(0b10_0000_0001)),
            Some(Value::Bytes(vec![0x01, 0x02]))
        );
        assert_eq!(
            value(ColumnType::Enum { labels: vec!["x".into(), "y".into()] }, text("y")),
            Some(Value::String("y".into()))
        );
        assert_eq!(
            value(ColumnType::Binary { pad_to: Some(4) }, ColumnDefault::Bytes(b"ab".to_vec())),
            Some(Value::Bytes(b"ab\0\0".to_vec()))
        );
        assert_eq!(value(ColumnType::Date, text("1970-01-02")), Some(Value::Int32(1)));
        assert_eq!(value(ColumnType::Date, text("0000-00-00")), None);
        assert_eq!(
            value(ColumnType::DateTime { fsp: 3 }, text("1970-01-01 00:00:01.500")),
            Some(Value::Int64(1500))
        );
        assert_eq!(
            value(ColumnType::Time { fsp: 0 }, text("-01:00:00")),
            Some(Value::Int64(-3_600_000_000))
        );
        assert_eq!(
            value(ColumnType::Timestamp { fsp: 0 }, text("2020-01-01 00:00:00")),
            Some(Value::String("2020-01-01T00:00:00Z".into()))
        );
        assert_eq!(value(ColumnType::Int { unsigned: false }, text("1.5")), Some(Value::Int32(2)));
        assert_eq!(value(ColumnType::Json, text("{}")), None);
        assert_eq!(
            value(ColumnType::Int { unsigned: false }, ColumnDefault::Expression("(1 + 2)".into())),
            None
        );
    }
}

#[cfg(test)]
mod uuid_tests {
    use crate::types::{column_schema, ColumnType, TypeOptions};
    use logtap_core::Value;
    use mysql_common::binlog::value::BinlogValue;
    use mysql_common::value::Value as My;

    #[test]
    fn a_mariadb_uuid_reads_as_debeziums_uuid_string() {
        let conv = column_schema(&ColumnType::Uuid, true, &TypeOptions::default());
        assert_eq!(conv.schema().name.as_deref(), Some("io.debezium.data.Uuid"));
        // The bytes MariaDB 10.11 wrote for 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'.
        let bytes = vec![
            0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38,
            0x0a, 0x11,
        ];
        let v = conv.convert(&BinlogValue::Value(My::Bytes(bytes))).unwrap();
        assert_eq!(v, Value::String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()));
        assert!(conv.convert(&BinlogValue::Value(My::Bytes(vec![0; 17]))).is_err());
    }
}

#[cfg(test)]
mod temporal_tests {
    use super::ColumnDefault;
    use crate::types::{column_schema, ColumnType, TypeOptions};
    use logtap_core::Value;

    fn value(t: ColumnType, optional: bool, d: ColumnDefault) -> Option<Value> {
        column_schema(&t, optional, &TypeOptions::default()).default_value(&d)
    }

    #[test]
    fn current_timestamp_and_zero_dates_follow_debeziums_rules() {
        use ColumnDefault::CurrentTimestamp as Ct;
        let ts = ColumnType::Timestamp { fsp: 0 };
        let dt = ColumnType::DateTime { fsp: 0 };
        let epoch = Some(Value::String("1970-01-01T00:00:00Z".into()));
        assert_eq!(value(ts.clone(), false, Ct), epoch);
        assert_eq!(value(ts.clone(), true, Ct), None);
        assert_eq!(value(dt.clone(), true, Ct), Some(Value::Int64(0)));
        assert_eq!(value(dt.clone(), false, Ct), Some(Value::Int64(0)));
        let zero = || ColumnDefault::Text("0000-00-00 00:00:00".into());
        assert_eq!(value(ts.clone(), false, zero()), epoch);
        assert_eq!(value(ts, true, zero()), None);
        assert_eq!(value(dt.clone(), false, zero()), Some(Value::Int64(0)));
        assert_eq!(value(dt.clone(), true, zero()), None);
        assert_eq!(
            value(ColumnType::Date, false, ColumnDefault::Text("0000-00-00".into())),
            Some(Value::Int32(0))
        );
        assert_eq!(value(ColumnType::Date, true, ColumnDefault::Text("curdate()".into())), None);
        assert_eq!(value(dt, false, ColumnDefault::Expression("now()".into())), None);
    }
}
