//! MySQL's binary JSON as the text Debezium emits: the binlog client's
//! `JsonBinary.parseAsString` with its `JsonStringFormatter`. That is not
//! MySQL's own rendering: no spaces (`{"a":1,"b":[true,null]}`), keys in
//! stored order (MySQL sorts them by length, then bytes), only control
//! characters, `"` and `\` escaped (other characters raw, `\u00XX` in upper
//! case hex), doubles as Java's `Double.toString` unless that would be
//! scientific, in which case the double's exact decimal expansion (`1.0E20`
//! is written `100000000000000000000`), opaque values in base64, temporal
//! opaque values as `"2015-01-15 23:24:25.5"` / `"12:00:00"`, decimals as
//! `BigDecimal.toPlainString()`.
//!
//! Where the Java formatter writes something that is not JSON, logtap
//! writes the sensible value instead: an unsigned 32-bit integer inlined in
//! a large object or array (the formatter drops the value and leaves
//! `"key":`), and a negative `TIME` (the formatter loses the sign or writes
//! `01:0-30:00`) is written `"-00:30:00"`.

use std::fmt::Write;

use base64::Engine;
use mysql_common::binlog::jsonb::{self, ComplexValue, StorageFormat};
use mysql_common::constants::ColumnType;

use super::decimal::{exact_plain_string, from_mysql_binary, java_double_to_string};

/// Renders a binary JSON value.
pub(crate) fn render(value: &jsonb::Value<'_>) -> Result<String, String> {
    let mut out = Writer { out: String::new(), nodes: 0 };
    write_value(&mut out, value, 0)?;
    Ok(out.out)
}

/// Deeper documents than this are refused rather than recursed into
/// (MySQL itself limits nesting to 100).
const MAX_DEPTH: u32 = 1000;

/// More values than this are refused: a malformed document whose entries
/// share offsets would otherwise be rendered an exponential number of
/// times (MySQL's documents hold fewer values than bytes).
const MAX_NODES: u64 = 1 << 26;

/// The text being written, and the number of values written so far.
struct Writer {
    out: String,
    nodes: u64,
}

impl std::ops::Deref for Writer {
    type Target = String;
    fn deref(&self) -> &String {
        &self.out
    }
}

impl std::ops::DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut String {
        &mut self.out
    }
}

fn write_value(out: &mut Writer, value: &jsonb::Value<'_>, depth: u32) -> Result<(), String> {
    use jsonb::Value as J;
    if depth > MAX_DEPTH {
        return Err("JSON document nested too deeply".into());
    }
    out.nodes += 1;
    if out.nodes > MAX_NODES {
        return Err("JSON document has too many values".into());
    }
    match value {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::I16(v) => write_num(out, v),
        J::U16(v) => write_num(out, v),
        J::I32(v) => write_num(out, v),
        J::U32(v) => write_num(out, v),
        J::I64(v) => write_num(out, v),
        J::U64(v) => write_num(out, v),
        J::F64(v) => {
            if !v.is_finite() {
                return Err("JSON double is not finite".into());
            }
            let s = java_double_to_string(*v);
            if s.contains('E') {
                out.push_str(&exact_plain_string(*v));
            } else {
                out.push_str(&s);
            }
        }
        J::String(s) => write_string(out, &String::from_utf8_lossy(s.str_raw())),
        J::SmallArray(a) => write_array(out, a, depth)?,
        J::LargeArray(a) => write_array(out, a, depth)?,
        J::SmallObject(o) => write_object(out, o, depth)?,
        J::LargeObject(o) => write_object(out, o, depth)?,
        J::Opaque(o) => write_opaque(out, o.value_type(), o.data_raw())?,
    }
    Ok(())
}

fn write_num(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

fn write_array<T: StorageFormat>(
    out: &mut Writer,
    a: &ComplexValue<'_, T, jsonb::Array>,
    depth: u32,
) -> Result<(), String> {
    out.push('[');
    for (i, item) in a.iter().enumerate() {
        let item = item.map_err(|e| format!("malformed JSON array: {e}"))?;
        if i > 0 {
            out.push(',');
        }
        write_value(out, &item, depth + 1)?;
    }
    out.push(']');
    Ok(())
}

fn write_object<T: StorageFormat>(
    out: &mut Writer,
    o: &ComplexValue<'_, T, jsonb::Object>,
    depth: u32,
) -> Result<(), String> {
    out.push('{');
    for (i, entry) in o.iter().enumerate() {
        let (key, value) = entry.map_err(|e| format!("malformed JSON object: {e}"))?;
        if i > 0 {
            out.push(',');
        }
        write_string(out, &String::from_utf8_lossy(key.value_raw()));
        out.push(':');
        write_value(out, &value, depth + 1)?;
    }
    out.push('}');
    Ok(())
}

/// `JsonStringFormatter.appendString`, quoted.
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An opaque value: decimals, temporals, anything else in base64.
fn write_opaque(out: &mut String, ty: ColumnType, data: &[u8]) -> Result<(), String> {
    use ColumnType::*;
    let packed = || -> Result<i64, String> {
        data.get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(i64::from_le_bytes)
            .ok_or_else(|| format!("JSON {ty:?} value shorter than 8 bytes"))
    };
    match ty {
        MYSQL_TYPE_NEWDECIMAL | MYSQL_TYPE_DECIMAL => {
            let (&precision, &scale) = (
                data.first().ok_or("empty JSON decimal")?,
                data.get(1).ok_or("empty JSON decimal")?,
            );
            let d = from_mysql_binary(precision, scale, &data[2..])
                .map_err(|e| format!("malformed JSON decimal: {e}"))?;
            out.push_str(&d.to_plain_string());
        }
        MYSQL_TYPE_DATE => {
            let (y, m, d, ..) = unpack_datetime(packed()?);
            out.push('"');
            write_date(out, y, m, d);
            out.push('"');
        }
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => {
            let raw = packed()?;
            let negative = raw < 0;
            let raw = raw.unsigned_abs();
            let value = raw >> 24;
            let h = (value >> 12) % (1 << 10);
            let mi = (value >> 6) % (1 << 6);
            let s = value % (1 << 6);
            let micros = raw % (1 << 24);
            out.push('"');
            if negative {
                out.push('-');
            }
            write_time(out, h, mi, s, micros);
            out.push('"');
        }
        MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_TIMESTAMP2 => {
            let (y, m, d, h, mi, s, micros) = unpack_datetime(packed()?);
            out.push('"');
            write_date(out, y, m, d);
            out.push(' ');
            write_time(out, h, mi, s, micros);
            out.push('"');
        }
        _ => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(data));
            out.push('"');
        }
    }
    Ok(())
}

/// `JsonBinary.parseDatetime`'s field extraction from a packed datetime.
fn unpack_datetime(raw: i64) -> (i64, i64, i64, u64, u64, u64, u64) {
    let value = raw >> 24;
    let year_month = (value >> 22) % (1 << 17);
    let day = (value >> 17) % (1 << 5);
    let hour = ((value >> 12) % (1 << 5)).unsigned_abs();
    let min = ((value >> 6) % (1 << 6)).unsigned_abs();
    let sec = (value % (1 << 6)).unsigned_abs();
    let micros = (raw % (1 << 24)).unsigned_abs();
    (year_month / 13, year_month % 13, day, hour, min, sec, micros)
}

/// `JsonStringFormatter.appendDate`.
fn write_date(out: &mut String, y: i64, m: i64, d: i64) {
    if y < 0 {
        out.push('-');
    }
    let _ = write!(out, "{:04}-{:02}-{:02}", y.unsigned_abs(), m.unsigned_abs(), d.unsigned_abs());
}

/// `JsonStringFormatter.appendTime`: fraction only when non-zero, trailing
/// zeros trimmed.
fn write_time(out: &mut String, h: u64, mi: u64, s: u64, micros: u64) {
    let _ = write!(out, "{h:02}:{mi:02}:{s:02}");
    if micros != 0 {
        let digits = format!("{:06}", micros % 1_000_000);
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}
