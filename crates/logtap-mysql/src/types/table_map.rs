//! Column types from a TABLE_MAP event: the type byte, the type's metadata
//! and the optional metadata `binlog_row_metadata = FULL` adds (names,
//! signedness, character sets, ENUM/SET labels, geometry types, primary
//! key).
//!
//! The optional metadata lists some facts only for some columns, in column
//! order: signedness for numeric columns (TINYINT..BIGINT, FLOAT, DOUBLE,
//! DECIMAL and YEAR), character sets for character columns (CHAR, VARCHAR,
//! BLOB/TEXT, MySQL's VECTOR, and on MariaDB also GEOMETRY, whose storage
//! is a BLOB),
//! ENUM/SET character sets and labels for ENUM and SET columns (whose type
//! byte says STRING, the real type being in the metadata), geometry types
//! for GEOMETRY columns. Which columns count as character columns is the
//! one difference between the servers: checked against MariaDB 10.11's
//! and MySQL 9.7's binlogs (tests/types_binlog*.rs). Counting a geometry
//! column on MySQL would shift every later column's character set.

use mysql_common::binlog::events::{OptionalMetadataField, TableMapEvent};
use mysql_common::constants::{ColumnType as Raw, GeometryType};
use mysql_common::proto::MySerialize;

use super::charset::{charset_name, Charset, BINARY_COLLATION};
use super::{ColumnType, Flavor, GeometryKind, TypeError};

/// One column of a table as the TABLE_MAP describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub column_type: ColumnType,
    /// From the TABLE_MAP's null bitmap.
    pub nullable: bool,
}

/// The columns of a TABLE_MAP, and its primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableColumns {
    pub database: String,
    pub table: String,
    pub columns: Vec<ColumnDef>,
    /// Indexes into `columns` of the primary key's columns, in key order
    /// (empty for a table without primary key).
    pub primary_key: Vec<usize>,
}

/// Character sets as the optional metadata gives them: one default plus
/// exceptions by position among the concerned columns, or one per column.
enum Charsets {
    None,
    Default { default: u16, exceptions: Vec<(u64, u16)> },
    PerColumn(Vec<u16>),
}

impl Charsets {
    fn get(&self, position: usize) -> Option<u16> {
        match self {
            Charsets::None => None,
            Charsets::Default { default, exceptions } => Some(
                exceptions
                    .iter()
                    .find(|(i, _)| *i == position as u64)
                    .map_or(*default, |(_, c)| *c),
            ),
            Charsets::PerColumn(v) => v.get(position).copied(),
        }
    }
}

/// Everything the optional metadata says.
struct Optional {
    signedness: Vec<bool>,
    charsets: Charsets,
    enum_set_charsets: Charsets,
    names: Vec<String>,
    set_labels: Vec<Vec<Vec<u8>>>,
    enum_labels: Vec<Vec<Vec<u8>>>,
    geometry_types: Vec<Option<GeometryType>>,
    primary_key: Vec<usize>,
}

fn meta_err(table: &str, reason: impl Into<String>) -> TypeError {
    TypeError::TableMap { table: table.to_string(), column: None, reason: reason.into() }
}

/// Checks the ENUM or SET labels field before mysql_common reads it: it
/// allocates a column's label list from the count in the bytes before
/// reading the labels, so a count no event could hold would abort the
/// process (an allocation failure cannot be caught). Each column's count,
/// and each label's length, must fit in the bytes left.
fn labels_fit(field: &impl MySerialize, table: &str) -> Result<(), TypeError> {
    let mut raw = Vec::new();
    field.serialize(&mut raw);
    let mut rest = raw.as_slice();
    let bad = || meta_err(table, "ENUM/SET labels: a count or length beyond the event's bytes");
    while !rest.is_empty() {
        let count = lenenc(&mut rest).ok_or_else(bad)?;
        if count > rest.len() as u64 {
            return Err(bad());
        }
        for _ in 0..count {
            let len = lenenc(&mut rest).ok_or_else(bad)?;
            let len = usize::try_from(len).ok().filter(|&l| l <= rest.len()).ok_or_else(bad)?;
            rest = &rest[len..];
        }
    }
    Ok(())
}

/// A length-encoded integer off the front of `buf`.
fn lenenc(buf: &mut &[u8]) -> Option<u64> {
    let (&first, tail) = buf.split_first()?;
    let width = match first {
        0..=0xfa => {
            *buf = tail;
            return Some(u64::from(first));
        }
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        _ => return None,
    };
    let bytes = tail.get(..width)?;
    *buf = &tail[width..];
    Some(bytes.iter().rev().fold(0, |n, &b| n << 8 | u64::from(b)))
}

fn read_optional(tme: &TableMapEvent<'_>, table: &str) -> Result<Optional, TypeError> {
    let io = |e: std::io::Error| meta_err(table, format!("malformed optional metadata: {e}"));
    let mut o = Optional {
        signedness: Vec::new(),
        charsets: Charsets::None,
        enum_set_charsets: Charsets::None,
        names: Vec::new(),
        set_labels: Vec::new(),
        enum_labels: Vec::new(),
        geometry_types: Vec::new(),
        primary_key: Vec::new(),
    };
    let default_charsets = |d: &mysql_common::binlog::events::DefaultCharset<'_>| {
        let exceptions = d
            .iter_non_default()
            .map(|x| x.map(|x| (x.column_index(), x.charset())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, std::io::Error>(Charsets::Default { default: d.default_charset(), exceptions })
    };
    for field in tme.iter_optional_meta() {
        match field.map_err(io)? {
            OptionalMetadataField::Signedness(bits) => {
                o.signedness = bits.iter().by_vals().collect();
            }
            OptionalMetadataField::DefaultCharset(d) => {
                o.charsets = default_charsets(&d).map_err(io)?;
            }
            OptionalMetadataField::ColumnCharset(c) => {
                o.charsets =
                    Charsets::PerColumn(c.iter_charsets().collect::<Result<_, _>>().map_err(io)?);
            }
            OptionalMetadataField::EnumAndSetDefaultCharset(d) => {
                o.enum_set_charsets = default_charsets(&d).map_err(io)?;
            }
            OptionalMetadataField::EnumAndSetColumnCharset(c) => {
                o.enum_set_charsets =
                    Charsets::PerColumn(c.iter_charsets().collect::<Result<_, _>>().map_err(io)?);
            }
            OptionalMetadataField::ColumnName(names) => {
                o.names = names
                    .iter_names()
                    .map(|n| n.map(|n| String::from_utf8_lossy(n.name_raw()).into_owned()))
                    .collect::<Result<_, _>>()
                    .map_err(io)?;
            }
            OptionalMetadataField::SetStrValue(sets) => {
                labels_fit(&sets, table)?;
                for set in sets.iter_values() {
                    let set = set.map_err(io)?;
                    o.set_labels
                        .push(set.values().iter().map(|v| v.value_raw().to_vec()).collect());
                }
            }
            OptionalMetadataField::EnumStrValue(enums) => {
                labels_fit(&enums, table)?;
                for e in enums.iter_values() {
                    let e = e.map_err(io)?;
                    o.enum_labels.push(e.values().iter().map(|v| v.value_raw().to_vec()).collect());
                }
            }
            OptionalMetadataField::GeometryType(types) => {
                for t in types.iter_geometry_types() {
                    match t {
                        Ok(t) => o.geometry_types.push(Some(t)),
                        // An unknown geometry type: keep the position.
                        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                            o.geometry_types.push(None)
                        }
                        Err(e) => return Err(io(e)),
                    }
                }
            }
            OptionalMetadataField::SimplePrimaryKey(pk) => {
                for i in pk.iter_indexes() {
                    o.primary_key.push(i.map_err(io)? as usize);
                }
            }
            OptionalMetadataField::PrimaryKeyWithPrefix(pk) => {
                for k in pk.iter_keys() {
                    o.primary_key.push(k.map_err(io)?.column_index() as usize);
                }
            }
            OptionalMetadataField::ColumnVisibility(_)
            | OptionalMetadataField::Dimensionality(_) => {}
        }
    }
    Ok(o)
}

fn is_numeric(t: Raw) -> bool {
    use Raw::*;
    matches!(
        t,
        MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_FLOAT
            | MYSQL_TYPE_DOUBLE
            | MYSQL_TYPE_YEAR
    )
}

fn is_character(t: Raw, flavor: Flavor) -> bool {
    use Raw::*;
    match t {
        MYSQL_TYPE_STRING | MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_VARCHAR | MYSQL_TYPE_BLOB => true,
        MYSQL_TYPE_GEOMETRY => flavor == Flavor::Mariadb,
        // MySQL 9's VECTOR (a BLOB underneath) has one, `binary`; MariaDB
        // 10.11 has no such type.
        MYSQL_TYPE_VECTOR => true,
        _ => false,
    }
}

/// How many columns of each kind came before: TABLE_MAP's optional
/// metadata lists one entry per column of a kind, in column order.
#[derive(Default)]
struct Seen {
    numeric: usize,
    character: usize,
    enum_set: usize,
    sets: usize,
    enums: usize,
    geometries: usize,
}

/// Column `i`'s type from its TABLE_MAP type, metadata bytes and the
/// optional metadata for its kind.
fn column_type(
    tme: &TableMapEvent<'_>,
    i: usize,
    name: &str,
    opt: &Optional,
    flavor: Flavor,
    seen: &mut Seen,
    table: &str,
) -> Result<ColumnType, TypeError> {
    let err = |reason: String| TypeError::TableMap {
        table: table.to_string(),
        column: Some(name.to_string()),
        reason,
    };
    let raw = tme
        .get_column_type(i)
        .map_err(|e| err(format!("unsupported column type: {e}")))?
        .ok_or_else(|| err("no column type".into()))?;
    let meta = tme.get_column_metadata(i).ok_or_else(|| err("malformed column metadata".into()))?;
    let byte = |k: usize| meta.get(k).copied().ok_or_else(|| err("short column metadata".into()));
    let unsigned = if is_numeric(raw) {
        seen.numeric += 1;
        opt.signedness.get(seen.numeric - 1).copied().unwrap_or(false)
    } else {
        false
    };
    let charset = if is_character(raw, flavor) {
        seen.character += 1;
        opt.charsets.get(seen.character - 1)
    } else {
        None
    };
    let text_or_binary = |pad_to: Option<u32>| -> Result<ColumnType, TypeError> {
        let collation = charset.ok_or_else(|| {
            err("the TABLE_MAP has no character set for this column; set binlog_row_metadata = FULL".into())
        })?;
        if collation == BINARY_COLLATION {
            return Ok(ColumnType::Binary { pad_to });
        }
        let name = charset_name(collation);
        match name.and_then(Charset::from_mysql_name) {
            Some(charset) => Ok(ColumnType::Text { charset }),
            None => Err(err(format!(
                "character set {} (collation id {collation}) is not supported",
                name.unwrap_or("unknown")
            ))),
        }
    };
    let fsp = |k: usize| -> Result<u8, TypeError> {
        let f = byte(k)?;
        if f > 6 {
            return Err(err(format!("fractional second precision {f} is above 6")));
        }
        Ok(f)
    };
    use Raw::*;
    Ok(match raw {
        MYSQL_TYPE_TINY => ColumnType::TinyInt { unsigned },
        MYSQL_TYPE_SHORT => ColumnType::SmallInt { unsigned },
        MYSQL_TYPE_INT24 => ColumnType::MediumInt { unsigned },
        MYSQL_TYPE_LONG => ColumnType::Int { unsigned },
        MYSQL_TYPE_LONGLONG => ColumnType::BigInt { unsigned },
        MYSQL_TYPE_FLOAT => ColumnType::Float,
        MYSQL_TYPE_DOUBLE => ColumnType::Double,
        MYSQL_TYPE_NEWDECIMAL => {
            let (precision, scale) = (byte(0)?, byte(1)?);
            if precision == 0 || scale > precision {
                return Err(err(format!("bad DECIMAL({precision},{scale}) metadata")));
            }
            ColumnType::Decimal { precision, scale }
        }
        MYSQL_TYPE_BIT => {
            let length = u16::from(byte(1)?) * 8 + u16::from(byte(0)?);
            if length == 0 || length > 64 {
                return Err(err(format!("bad BIT({length}) metadata")));
            }
            ColumnType::Bit { length }
        }
        MYSQL_TYPE_YEAR => ColumnType::Year,
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => ColumnType::Date,
        MYSQL_TYPE_TIME => ColumnType::Time { fsp: 0 },
        MYSQL_TYPE_TIME2 => ColumnType::Time { fsp: fsp(0)? },
        MYSQL_TYPE_DATETIME => ColumnType::DateTime { fsp: 0 },
        MYSQL_TYPE_DATETIME2 => ColumnType::DateTime { fsp: fsp(0)? },
        MYSQL_TYPE_TIMESTAMP => ColumnType::Timestamp { fsp: 0 },
        MYSQL_TYPE_TIMESTAMP2 => ColumnType::Timestamp { fsp: fsp(0)? },
        MYSQL_TYPE_STRING => {
            // The declared length in bytes (CHAR's length times the
            // character set's maximum character size).
            let (b0, b1) = (u32::from(byte(0)?), u32::from(byte(1)?));
            let length = if b0 & 0x30 != 0x30 { b1 | (((b0 & 0x30) ^ 0x30) << 4) } else { b1 };
            text_or_binary(Some(length))?
        }
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_BLOB => text_or_binary(None)?,
        MYSQL_TYPE_ENUM | MYSQL_TYPE_SET => enum_or_set(raw, opt, seen).map_err(err)?,
        MYSQL_TYPE_JSON => ColumnType::Json,
        MYSQL_TYPE_GEOMETRY => geometry(opt, seen),
        MYSQL_TYPE_VECTOR => ColumnType::Vector,
        other => return Err(err(format!("column type {other:?} is not supported"))),
    })
}

/// An ENUM or SET column: its labels, decoded in its character set.
fn enum_or_set(raw: Raw, opt: &Optional, seen: &mut Seen) -> Result<ColumnType, String> {
    seen.enum_set += 1;
    let collation = opt.enum_set_charsets.get(seen.enum_set - 1);
    let labels = if raw == Raw::MYSQL_TYPE_ENUM {
        seen.enums += 1;
        opt.enum_labels.get(seen.enums - 1)
    } else {
        seen.sets += 1;
        opt.set_labels.get(seen.sets - 1)
    }
    .ok_or_else(|| {
        "the TABLE_MAP has no ENUM/SET labels; set binlog_row_metadata = FULL".to_string()
    })?;
    let charset = match collation {
        None => Charset::Utf8,
        Some(BINARY_COLLATION) => Charset::Latin1,
        Some(c) => charset_name(c).and_then(Charset::from_mysql_name).ok_or_else(|| {
            format!(
                "ENUM/SET character set {} (collation id {c}) is not supported",
                charset_name(c).unwrap_or("unknown")
            )
        })?,
    };
    let labels = labels.iter().map(|l| charset.decode(l)).collect();
    Ok(if raw == Raw::MYSQL_TYPE_ENUM {
        ColumnType::Enum { labels }
    } else {
        ColumnType::Set { labels }
    })
}

/// A GEOMETRY column, by the kind its metadata names (else any geometry).
fn geometry(opt: &Optional, seen: &mut Seen) -> ColumnType {
    seen.geometries += 1;
    let kind = match opt.geometry_types.get(seen.geometries - 1).copied().flatten() {
        Some(GeometryType::GEOM_POINT) => GeometryKind::Point,
        Some(GeometryType::GEOM_LINESTRING) => GeometryKind::LineString,
        Some(GeometryType::GEOM_POLYGON) => GeometryKind::Polygon,
        Some(GeometryType::GEOM_MULTIPOINT) => GeometryKind::MultiPoint,
        Some(GeometryType::GEOM_MULTILINESTRING) => GeometryKind::MultiLineString,
        Some(GeometryType::GEOM_MULTIPOLYGON) => GeometryKind::MultiPolygon,
        Some(GeometryType::GEOM_GEOMETRYCOLLECTION) => GeometryKind::GeometryCollection,
        _ => GeometryKind::Geometry,
    };
    ColumnType::Geometry { kind }
}

/// Resolves every column of a TABLE_MAP. Needs `binlog_row_metadata =
/// FULL` (column names, ENUM/SET labels); refuses column types and
/// character sets logtap cannot convert, naming the column.
pub fn table_columns(tme: &TableMapEvent<'_>, flavor: Flavor) -> Result<TableColumns, TypeError> {
    let database = tme.database_name().into_owned();
    let table_name = tme.table_name().into_owned();
    let table = format!("{database}.{table_name}");
    let n =
        usize::try_from(tme.columns_count()).map_err(|_| meta_err(&table, "too many columns"))?;
    // mysql_common's optional metadata reader trusts its counts (a huge
    // ENUM label count panics allocating); such bytes are the event's error.
    let opt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_optional(tme, &table)))
        .map_err(|_| meta_err(&table, "its optional metadata could not be decoded"))??;
    if opt.names.len() != n {
        return Err(meta_err(
            &table,
            format!(
                "the TABLE_MAP names {} of its {n} columns; set binlog_row_metadata = FULL",
                opt.names.len()
            ),
        ));
    }
    let nulls = tme.null_bitmask();
    let mut seen = Seen::default();
    let mut columns = Vec::with_capacity(n);
    for i in 0..n {
        let name = opt.names[i].clone();
        let column_type = column_type(tme, i, &name, &opt, flavor, &mut seen, &table)?;
        let nullable = nulls.get(i).map(|b| *b).unwrap_or(true);
        columns.push(ColumnDef { name, column_type, nullable });
    }
    if let Charsets::PerColumn(v) = &opt.charsets {
        if v.len() != seen.character {
            return Err(meta_err(
                &table,
                format!("{} character sets for {} character columns", v.len(), seen.character),
            ));
        }
    }
    if let Some(&bad) = opt.primary_key.iter().find(|&&i| i >= n) {
        return Err(meta_err(&table, format!("primary key column {bad} out of range")));
    }
    Ok(TableColumns { database, table: table_name, columns, primary_key: opt.primary_key })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// ENUM/SET labels as the TABLE_MAP's field holds them: per column a
    /// length-encoded count, then each label length-encoded.
    struct Labels(Vec<u8>);

    impl MySerialize for Labels {
        fn serialize(&self, buf: &mut Vec<u8>) {
            buf.extend_from_slice(&self.0);
        }
    }

    #[test]
    fn label_counts_and_lengths_must_fit_in_the_bytes() {
        // Two columns: ('a', 'bc') and ('x').
        let good = Labels(vec![2, 1, b'a', 2, b'b', b'c', 1, 1, b'x']);
        assert!(labels_fit(&good, "d.t").is_ok());
        // A count of 2^40 in an 8-byte length-encoded integer.
        let huge = Labels(vec![0xfe, 0, 0, 0, 0, 0, 1, 0, 0, 1, b'a']);
        assert!(labels_fit(&huge, "d.t").is_err());
        // A label longer than what follows it; a truncated integer; NULL.
        for bad in [vec![1, 5, b'a'], vec![1, 0xfc, 1], vec![0xfb]] {
            assert!(labels_fit(&Labels(bad), "d.t").is_err());
        }
    }

    #[test]
    fn length_encoded_integers_of_every_width() {
        let mut b: &[u8] = &[0xfa, 0xfc, 0x34, 0x12, 0xfd, 1, 2, 3, 0xfe, 1, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(lenenc(&mut b), Some(250));
        assert_eq!(lenenc(&mut b), Some(0x1234));
        assert_eq!(lenenc(&mut b), Some(0x030201));
        assert_eq!(lenenc(&mut b), Some(1));
        assert_eq!(lenenc(&mut b), None);
    }
}
