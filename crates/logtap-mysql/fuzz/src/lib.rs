//! The checks behind logtap-mysql's fuzz targets, one function per target.
//! The fuzz binaries call them with libFuzzer's inputs; logtap-mysql's
//! `tests/fuzz_corpus.rs` includes this file and calls them with every
//! input of the committed corpus, so CI replays the corpus on stable
//! without building libFuzzer. Each check panics on a defect only.

use logtap_binlog::crc32;
use logtap_core::envelope::value_json;
use logtap_mysql::ddl::classify;
use logtap_mysql::types::{
    column_schema, decoded_rows, table_columns, ColumnType, Flavor, TypeOptions,
};
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::consts::EventType;
use mysql_common::binlog::events::{
    EventData, GtidEvent, QueryEvent, RowsEventData, TableMapEvent,
};
use mysql_common::binlog::value::BinlogValue;
use mysql_common::binlog::EventStreamReader;
use mysql_common::value::Value as My;

/// MariaDB 10.11's FORMAT_DESCRIPTION (checksums CRC32), whole, as captured
/// in logtap-binlog's golden events.
const MARIADB_FDE: &str = "a646036b0f01000000fc000000000100000000040031302e31312e31392d4d6172696144422d302b646562313275312d6c6f6700000000000000000000000000000000000000000000000013380d000800120004040404120000e400041a08000000080808020000000a0a0a0000000000000a0a0a0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000041304000d0808080a0a0a01becd094d";

/// MySQL 9.7.4's FORMAT_DESCRIPTION (checksums CRC32), from the capture in
/// logtap-mysql's `tests/types_binlog_mysql.rs`.
const MYSQL_FDE: &str = "1534116b0f010000007b0000007f00000000000400392e372e342d32000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000013000d0008000000000400040000006300041a08000000000000020000000a0a0a2a2a001234000a28000001a2f6e8dd";

/// A stream of binlog events after a real FORMAT_DESCRIPTION: the first
/// byte picks the server (odd: MySQL 9.7, even: MariaDB 10.11), the rest is
/// a sequence of events, each `[type][u16 big-endian length][body]`, to
/// which this adds the header and a correct CRC32 so that mutations reach
/// the body decoders instead of failing the checksum. TABLE_MAPs are
/// resolved to column types as the source does (both flavors), and every
/// value of every row image is converted and rendered as JSON.
pub fn binlog_rows(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else { return };
    let (flavor, fde) =
        if first & 1 == 1 { (Flavor::Mysql, MYSQL_FDE) } else { (Flavor::Mariadb, MARIADB_FDE) };
    let mut reader = EventStreamReader::new(BinlogVersion::Version4);
    let Ok(Some(_)) = reader.read(&*unhex(fde)) else { panic!("the FORMAT_DESCRIPTION reads") };
    let mut table: Option<(TableMapEvent<'static>, Vec<ColumnType>)> = None;
    while let Some(([kind, hi, lo], tail)) = rest.split_first_chunk::<3>().map(|(h, t)| (*h, t)) {
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (body, tail) = tail.split_at(len);
        rest = tail;
        let Ok(Some(event)) = reader.read(&*event_bytes(kind, body)) else { continue };
        // Only the events logtap's source decodes (machine.rs): mysql_common
        // trusts the counts in others (a PREVIOUS_GTIDS event's set count
        // becomes an allocation), and logtap never asks it to read those.
        match event.header().event_type() {
            Ok(EventType::TABLE_MAP_EVENT) => {
                table = event
                    .read_event::<TableMapEvent<'_>>()
                    .ok()
                    .and_then(|tme| resolve(tme.into_owned(), flavor));
            }
            Ok(EventType::QUERY_EVENT) => {
                if let Ok(q) = event.read_event::<QueryEvent<'_>>() {
                    let _ = classify(&q.query(), &q.schema());
                }
            }
            Ok(EventType::GTID_EVENT) => {
                let _ = event.read_event::<GtidEvent>();
            }
            Ok(
                EventType::WRITE_ROWS_EVENT_V1
                | EventType::UPDATE_ROWS_EVENT_V1
                | EventType::DELETE_ROWS_EVENT_V1
                | EventType::WRITE_ROWS_EVENT
                | EventType::UPDATE_ROWS_EVENT
                | EventType::DELETE_ROWS_EVENT,
            ) => {
                if let (Ok(Some(EventData::RowsEvent(rows))), Some((tme, types))) =
                    (event.read_data(), &table)
                {
                    convert_rows(&rows, tme, types);
                }
            }
            _ => {}
        }
    }
}

/// Every value of every row image of `rows` (at most 64 rows) through its
/// column's conversion.
fn convert_rows(rows: &RowsEventData<'_>, tme: &TableMapEvent<'_>, types: &[ColumnType]) {
    for (before, after) in decoded_rows(rows, tme).take(64).flatten() {
        for image in [before, after].into_iter().flatten() {
            for (i, t) in types.iter().enumerate().take(image.len()) {
                if let Some(v) = image.as_ref(i) {
                    convert(t, v);
                }
            }
        }
    }
}

/// A TABLE_MAP's column types for `flavor`, once the other flavor has been
/// tried too (its metadata is read differently: neither may panic).
fn resolve(
    tme: TableMapEvent<'static>,
    flavor: Flavor,
) -> Option<(TableMapEvent<'static>, Vec<ColumnType>)> {
    let other = if flavor == Flavor::Mysql { Flavor::Mariadb } else { Flavor::Mysql };
    let _ = table_columns(&tme, other);
    let cols = table_columns(&tme, flavor).ok()?;
    let types = cols.columns.into_iter().map(|c| c.column_type).collect();
    Some((tme, types))
}

/// One value through the column's conversion, both as a nullable and as a
/// NOT NULL column, and its JSON rendering.
fn convert(t: &ColumnType, v: &BinlogValue<'_>) {
    for optional in [true, false] {
        if let Ok(value) = column_schema(t, optional, &TypeOptions::default()).convert(v) {
            let _ = value_json(&value);
        }
    }
}

/// A JSON column's bytes as the binlog carries them (MySQL's binary JSON,
/// or MariaDB's text). Binary JSON that converts must render as JSON text
/// a parser accepts.
pub fn binary_json(data: &[u8]) {
    let conv = column_schema(&ColumnType::Json, true, &TypeOptions::default());
    let Ok(value) = conv.convert(&BinlogValue::Value(My::Bytes(data.to_vec()))) else { return };
    let rendered = value_json(&value);
    let binary = data.first().is_some_and(|&b| b <= 0x0f) && std::str::from_utf8(data).is_err();
    if let (true, Some(text)) = (binary, rendered.as_str()) {
        // Syntax only: serde_json's own numbers stop at f64's range, while
        // a double's exact expansion (Debezium's rendering) is JSON.
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
            "binary JSON rendered as invalid JSON: {text}"
        );
    }
}

/// A QUERY event's statement text through the DDL classifier.
pub fn ddl_text(data: &[u8]) {
    if let Ok(sql) = std::str::from_utf8(data) {
        let _ = classify(sql, "db");
    }
}

/// A whole event: the 19-byte v4 header, `body`, and the CRC32 of both.
fn event_bytes(kind: u8, body: &[u8]) -> Vec<u8> {
    let size = u32::try_from(19 + body.len() + 4).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(19 + body.len() + 4);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}
