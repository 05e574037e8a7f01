//! A column's [`ColumnType`] from its declaration in
//! `information_schema.COLUMNS` (`DATA_TYPE`, `COLUMN_TYPE`,
//! `CHARACTER_SET_NAME`), for tables read by a snapshot before the binlog
//! has mapped them. It must give exactly what [`super::table_columns`]
//! gives from a TABLE_MAP of the same table, so that a row reads the same
//! from the snapshot and from the binlog (the identity test in
//! `tests/mysql_snapshot.rs` holds the two side by side).

use super::{Charset, ColumnType, Flavor, GeometryKind, TypeError};
use mysql_common::value::Value as My;

/// The type of a column declared `data_type` (lower case) / `column_type`
/// in character set `charset` (`None` for non-character types).
pub fn declared_type(
    table: &str,
    column: &str,
    data_type: &str,
    column_type: &str,
    charset: Option<&str>,
    flavor: Flavor,
) -> Result<ColumnType, TypeError> {
    let err = |reason: String| TypeError::TableMap {
        table: table.to_string(),
        column: Some(column.to_string()),
        reason,
    };
    let lower = column_type.to_ascii_lowercase();
    let unsigned = lower.contains(" unsigned");
    // The numbers in `type(a,b)`.
    let args = || -> Vec<u32> {
        lower
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(inner, _)| inner.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_default()
    };
    let fsp = || -> Result<u8, TypeError> {
        let f = args().first().copied().unwrap_or(0);
        u8::try_from(f).ok().filter(|f| *f <= 6).ok_or_else(|| {
            err(format!("fractional second precision {f} is above 6 ({column_type})"))
        })
    };
    let text = || -> Result<ColumnType, TypeError> {
        match charset {
            None | Some("binary") => Ok(ColumnType::Binary { pad_to: None }),
            Some(name) => Charset::from_mysql_name(name)
                .map(|charset| ColumnType::Text { charset })
                .ok_or_else(|| err(format!("character set {name} is not supported"))),
        }
    };
    Ok(match data_type {
        "tinyint" => ColumnType::TinyInt { unsigned },
        "smallint" => ColumnType::SmallInt { unsigned },
        "mediumint" => ColumnType::MediumInt { unsigned },
        "int" | "integer" => ColumnType::Int { unsigned },
        "bigint" => ColumnType::BigInt { unsigned },
        "float" => ColumnType::Float,
        "double" | "real" | "double precision" => ColumnType::Double,
        "decimal" | "numeric" => {
            let a = args();
            let precision = a.first().copied().unwrap_or(10);
            let scale = a.get(1).copied().unwrap_or(0);
            match (u8::try_from(precision), u8::try_from(scale)) {
                (Ok(precision), Ok(scale)) if precision > 0 && scale <= precision => {
                    ColumnType::Decimal { precision, scale }
                }
                _ => return Err(err(format!("bad declaration {column_type}"))),
            }
        }
        "bit" => {
            let length = args().first().copied().unwrap_or(1);
            match u16::try_from(length) {
                Ok(length @ 1..=64) => ColumnType::Bit { length },
                _ => return Err(err(format!("bad declaration {column_type}"))),
            }
        }
        "year" => ColumnType::Year,
        "date" => ColumnType::Date,
        "time" => ColumnType::Time { fsp: fsp()? },
        "datetime" => ColumnType::DateTime { fsp: fsp()? },
        "timestamp" => ColumnType::Timestamp { fsp: fsp()? },
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => text()?,
        "binary" => ColumnType::Binary { pad_to: Some(args().first().copied().unwrap_or(1)) },
        "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            ColumnType::Binary { pad_to: None }
        }
        "enum" => ColumnType::Enum { labels: labels(column_type).map_err(err)? },
        "set" => ColumnType::Set { labels: labels(column_type).map_err(err)? },
        "json" if flavor == Flavor::Mysql => ColumnType::Json,
        // MariaDB's JSON is a LONGTEXT (its DATA_TYPE says so too).
        "json" => text()?,
        "geometry" => ColumnType::Geometry { kind: GeometryKind::Geometry },
        "point" => ColumnType::Geometry { kind: GeometryKind::Point },
        "linestring" => ColumnType::Geometry { kind: GeometryKind::LineString },
        "polygon" => ColumnType::Geometry { kind: GeometryKind::Polygon },
        "multipoint" => ColumnType::Geometry { kind: GeometryKind::MultiPoint },
        "multilinestring" => ColumnType::Geometry { kind: GeometryKind::MultiLineString },
        "multipolygon" => ColumnType::Geometry { kind: GeometryKind::MultiPolygon },
        "geometrycollection" | "geomcollection" => {
            ColumnType::Geometry { kind: GeometryKind::GeometryCollection }
        }
        "vector" => ColumnType::Vector,
        "uuid" if flavor == Flavor::Mariadb => ColumnType::Uuid,
        other => return Err(err(format!("column type {other} ({column_type}) is not supported"))),
    })
}

/// The labels of `enum('a','b''c')` / `set(...)` as `information_schema`
/// writes them (quotes doubled inside a label).
fn labels(column_type: &str) -> Result<Vec<String>, String> {
    let bad = || format!("cannot read the labels of {column_type}");
    let inner = column_type
        .split_once('(')
        .and_then(|(_, rest)| rest.rsplit_once(')'))
        .map(|(inner, _)| inner)
        .ok_or_else(bad)?;
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        match chars.next() {
            None => break,
            Some('\'') => {}
            Some(_) => return Err(bad()),
        }
        let mut label = String::new();
        loop {
            match chars.next() {
                None => return Err(bad()),
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                Some('\'') => break,
                Some(c) => label.push(c),
            }
        }
        out.push(label);
        match chars.next() {
            None => break,
            Some(',') => {}
            Some(_) => return Err(bad()),
        }
    }
    Ok(out)
}

/// How a snapshot's `SELECT` reads column `quoted` (already quoted) of type
/// `t`, so that the binary protocol returns it in the shape the binlog
/// gives it: ENUM and SET as their index / bit mask (what the binlog
/// stores), TIMESTAMP as seconds since the epoch (the binlog's, whatever
/// the session's time zone). Everything else as is (with
/// `character_set_results = NULL`, strings arrive in the column's own
/// character set, as in the binlog).
pub fn select_expr(t: &ColumnType, quoted: &str) -> String {
    match t {
        ColumnType::Enum { .. } | ColumnType::Set { .. } => format!("{quoted}+0"),
        ColumnType::Timestamp { .. } => format!("UNIX_TIMESTAMP({quoted})"),
        _ => quoted.to_string(),
    }
}

/// A value read by [`select_expr`], in the shape the binlog decoder gives
/// for the same column, ready for [`super::ColumnConversion::convert`].
pub fn selected_value(t: &ColumnType, v: My) -> Result<My, String> {
    // MySQL types `col+0` of an ENUM or SET as a DOUBLE (MariaDB as an
    // integer): a whole number either way.
    let whole = |d: f64| {
        (d.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&d))
            .then_some(d as u64)
            .ok_or_else(|| format!("an ENUM/SET number {d} that is not whole"))
    };
    Ok(match (t, v) {
        (_, My::NULL) => My::NULL,
        (ColumnType::Enum { .. }, My::Double(d)) => My::UInt(whole(d)?),
        (ColumnType::Set { .. }, My::Double(d)) => My::Bytes(whole(d)?.to_le_bytes().to_vec()),
        // The binlog stores a SET as its bit mask, little-endian.
        (ColumnType::Set { .. }, My::Int(i)) => My::Bytes(i.to_le_bytes().to_vec()),
        (ColumnType::Set { .. }, My::UInt(u)) => My::Bytes(u.to_le_bytes().to_vec()),
        (ColumnType::Set { .. }, My::Bytes(b)) => {
            let n: u64 = std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("a SET's bit mask that is not a number")?;
            My::Bytes(n.to_le_bytes().to_vec())
        }
        // UNIX_TIMESTAMP gives the column's digits of fraction; the
        // binlog decoder always six.
        (ColumnType::Timestamp { .. }, My::Bytes(b)) => match b.iter().position(|c| *c == b'.') {
            Some(dot) if b.len() - dot - 1 < 6 => {
                let mut b = b;
                b.resize(dot + 7, b'0');
                My::Bytes(b)
            }
            _ => My::Bytes(b),
        },
        (ColumnType::Enum { .. }, My::Bytes(b)) => My::Int(
            std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("an ENUM's index that is not a number")?,
        ),
        // MariaDB sends a UUID as its text; the binlog has its 16 bytes in
        // text order.
        (ColumnType::Uuid, My::Bytes(b)) if b.len() == 36 => {
            let hex: Vec<u8> = b.iter().copied().filter(|c| *c != b'-').collect();
            let mut out = Vec::with_capacity(16);
            for pair in hex.chunks(2) {
                let text = std::str::from_utf8(pair).map_err(|_| "a UUID that is not text")?;
                out.push(u8::from_str_radix(text, 16).map_err(|_| "a UUID that is not hex")?);
            }
            My::Bytes(out)
        }
        (_, v) => v,
    })
}

/// The SQL literal of a key value `v` as [`select_expr`] read it, for the
/// next chunk's `WHERE key > ...`: compared by the server as the column
/// is ordered (strings in the column's character set and collation,
/// ENUM by index, TIMESTAMP as the instant).
pub fn key_literal(t: &ColumnType, charset: Option<&str>, v: &My) -> Result<String, String> {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
    let text = |b: &[u8]| std::str::from_utf8(b).map(str::to_string).map_err(|_| "not text");
    let plain = |s: String, allowed: &dyn Fn(char) -> bool| {
        if !s.is_empty() && s.chars().all(allowed) {
            Ok(s)
        } else {
            Err(format!("key value {s:?} is not a plain number"))
        }
    };
    let numeric = |c: char| c.is_ascii_digit() || c == '.' || c == '-';
    Ok(match (t, v) {
        (_, My::NULL) => return Err("a key column is NULL".into()),
        (ColumnType::Enum { .. } | ColumnType::Set { .. }, My::Double(d)) if d.fract() == 0.0 => {
            format!("{d:.0}")
        }
        (_, My::Int(i)) => i.to_string(),
        (_, My::UInt(u)) => u.to_string(),
        (_, My::Float(f)) => format!("{f:?}"),
        (_, My::Double(d)) => format!("{d:?}"),
        (ColumnType::Timestamp { .. }, My::Bytes(b)) => {
            format!("FROM_UNIXTIME({})", plain(text(b)?, &numeric)?)
        }
        (ColumnType::Decimal { .. } | ColumnType::Year, My::Bytes(b)) => plain(text(b)?, &numeric)?,
        (ColumnType::Text { .. }, My::Bytes(b)) => {
            let cs = charset.unwrap_or("utf8mb4");
            if !cs.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("character set name {cs:?}"));
            }
            format!("_{cs} X'{}'", hex(b))
        }
        (ColumnType::Uuid, My::Bytes(b)) => {
            format!("'{}'", plain(text(b)?, &|c: char| c.is_ascii_hexdigit() || c == '-')?)
        }
        (_, My::Bytes(b)) => format!("X'{}'", hex(b)),
        (_, My::Date(y, mo, d, h, mi, s, us)) => {
            format!("'{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}'")
        }
        (_, My::Time(neg, d, h, mi, s, us)) => {
            let hours = u32::from(*h) + d * 24;
            format!("'{}{hours:02}:{mi:02}:{s:02}.{us:06}'", if *neg { "-" } else { "" })
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(data: &str, column: &str, cs: Option<&str>) -> ColumnType {
        declared_type("d.t", "c", data, column, cs, Flavor::Mariadb).unwrap()
    }

    #[test]
    fn declarations_give_the_binlog_types() {
        assert_eq!(t("int", "int(10) unsigned", None), ColumnType::Int { unsigned: true });
        assert_eq!(t("mediumint", "mediumint(9)", None), ColumnType::MediumInt { unsigned: false });
        assert_eq!(
            t("decimal", "decimal(10,2)", None),
            ColumnType::Decimal { precision: 10, scale: 2 }
        );
        assert_eq!(t("bit", "bit(10)", None), ColumnType::Bit { length: 10 });
        assert_eq!(t("datetime", "datetime(3)", None), ColumnType::DateTime { fsp: 3 });
        assert_eq!(t("time", "time", None), ColumnType::Time { fsp: 0 });
        assert_eq!(
            t("varchar", "varchar(20)", Some("latin1")),
            ColumnType::Text { charset: Charset::Latin1 }
        );
        assert_eq!(t("binary", "binary(4)", None), ColumnType::Binary { pad_to: Some(4) });
        assert_eq!(t("blob", "blob", None), ColumnType::Binary { pad_to: None });
        assert_eq!(
            t("enum", "enum('sad','o''k','a,b')", Some("utf8mb4")),
            ColumnType::Enum { labels: vec!["sad".into(), "o'k".into(), "a,b".into()] }
        );
        assert_eq!(t("uuid", "uuid", None), ColumnType::Uuid);
        assert!(declared_type("d.t", "c", "inet6", "inet6", None, Flavor::Mariadb).is_err());
        assert!(declared_type("d.t", "c", "enum", "enum('a", None, Flavor::Mariadb).is_err());
    }

    #[test]
    fn selected_values_take_the_binlog_shapes_and_keys_become_literals() {
        let set = ColumnType::Set { labels: vec!["a".into(), "b".into()] };
        assert_eq!(
            selected_value(&set, My::UInt(3)).unwrap(),
            My::Bytes(vec![3, 0, 0, 0, 0, 0, 0, 0])
        );
        let uuid = selected_value(
            &ColumnType::Uuid,
            My::Bytes(b"00112233-4455-6677-8899-aabbccddeeff".to_vec()),
        );
        assert_eq!(uuid.unwrap(), My::Bytes((0..16u8).map(|i| i * 0x11).collect()));
        let e = ColumnType::Enum { labels: vec!["a".into(), "b".into()] };
        assert_eq!(selected_value(&e, My::Double(2.0)).unwrap(), My::UInt(2));
        assert!(selected_value(&e, My::Double(1.5)).is_err());
        assert_eq!(key_literal(&e, None, &My::Double(2.0)).unwrap(), "2");
        let ts = ColumnType::Timestamp { fsp: 2 };
        assert_eq!(
            selected_value(&ts, My::Bytes(b"1.12".to_vec())).unwrap(),
            My::Bytes(b"1.120000".to_vec())
        );
        let text = ColumnType::Text { charset: Charset::Latin1 };
        assert_eq!(
            key_literal(&text, Some("latin1"), &My::Bytes(b"a'".to_vec())).unwrap(),
            "_latin1 X'6127'"
        );
        let dec = ColumnType::Decimal { precision: 5, scale: 2 };
        assert_eq!(key_literal(&dec, None, &My::Bytes(b"-1.50".to_vec())).unwrap(), "-1.50");
        assert!(key_literal(&dec, None, &My::Bytes(b"1 OR 1".to_vec())).is_err());
        let ts = ColumnType::Timestamp { fsp: 3 };
        assert_eq!(
            key_literal(&ts, None, &My::Bytes(b"1.500".to_vec())).unwrap(),
            "FROM_UNIXTIME(1.500)"
        );
        assert_eq!(
            key_literal(&ColumnType::Date, None, &My::Date(2024, 2, 29, 0, 0, 0, 0)).unwrap(),
            "'2024-02-29 00:00:00.000000'"
        );
        assert_eq!(
            key_literal(&ColumnType::Time { fsp: 0 }, None, &My::Time(true, 1, 2, 3, 4, 5))
                .unwrap(),
            "'-26:03:04.000005'"
        );
    }
}
