//! What mysql_common 0.38 does with REAL MariaDB 10.11 binlog files (the
//! golden files rebuilt byte for byte from events.txt): the facts the
//! module doc of `logtap_binlog` states, pinned down so a
//! mysql_common upgrade that changes them fails here.

mod mariadb_support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use logtap_binlog::{decode_mariadb_event_body, event_crc32, EventHeader, MariadbEvent};
use mysql_common::binlog::consts::{BinlogVersion, EventType};
use mysql_common::binlog::events::{Event, EventData, OptionalMetadataField, RowsEventData};
use mysql_common::binlog::value::BinlogValue;
use mysql_common::binlog::BinlogFile;
use mysql_common::Value;

/// Reads a whole rebuilt file with mysql_common; panics on any error.
fn read_file(bytes: &[u8]) -> Vec<Event> {
    let mut file = BinlogFile::new(BinlogVersion::Version4, bytes).expect("binlog magic");
    let mut out = Vec::new();
    for ev in &mut file {
        out.push(ev.expect("mysql_common reads every real MariaDB event"));
    }
    out
}

#[test]
fn binlog_file_reads_every_event_and_splits_the_checksum() {
    let golden = mariadb_support::parse(mariadb_support::EVENTS);
    let files = mariadb_support::files();
    assert_eq!(files.len(), 4);
    let mut n = 0;
    for (name, bytes) in &files {
        let events = read_file(bytes);
        let expected: Vec<_> = golden.iter().filter(|g| &g.file == name).collect();
        assert_eq!(events.len(), expected.len(), "{name}");
        for (ev, g) in events.iter().zip(expected) {
            n += 1;
            let h = ev.header();
            assert_eq!(h.event_type_raw(), g.event_type);
            assert_eq!(h.event_size() as usize, g.bytes.len());
            let is_fde = g.event_type == EventType::FORMAT_DESCRIPTION_EVENT as u8;
            let body_end = g.bytes.len() - if g.checksum || is_fde { 4 } else { 0 };
            if g.checksum || is_fde {
                // The trailer is split off into checksum() ...
                let trailer: [u8; 4] = g.bytes[body_end..].try_into().expect("4");
                assert_eq!(ev.checksum(), Some(trailer), "{name}:{}", g.pos);
                // ... and it is the CRC32 of header + body (FDE: plus the
                // algorithm byte mysql_common also removes from data()).
                let mut data = ev.data().to_vec();
                if is_fde {
                    let alg = ev.footer().get_checksum_alg().expect("known alg").expect("some");
                    data.push(alg as u8);
                }
                assert_eq!(
                    event_crc32(&EventHeader::from(&h), &data),
                    u32::from_le_bytes(trailer),
                    "{name}:{}",
                    g.pos
                );
            }
            if !is_fde {
                assert_eq!(ev.data(), &g.bytes[19..body_end], "{name}:{}", g.pos);
            }
        }
    }
    assert_eq!(n, golden.len());
}

#[test]
fn mariadb_event_types_are_unknown_to_mysql_common_and_decode_here() {
    let mut mariadb = 0;
    for (name, bytes) in mariadb_support::files() {
        for ev in read_file(&bytes) {
            let h = ev.header();
            let raw = h.event_type_raw();
            if raw >= 160 {
                mariadb += 1;
                assert!(h.event_type().is_err(), "{name}: type {raw} known?");
                assert!(EventType::try_from(raw).is_err());
                assert_eq!(ev.read_data().expect("no error either"), None);
                // What mysql_common hands over is enough to decode it here.
                let r = decode_mariadb_event_body(&EventHeader::from(&h), ev.data(), false);
                if raw <= 164 {
                    r.unwrap_or_else(|e| panic!("{name}: {e}"));
                } else {
                    assert!(r.is_err());
                }
            } else {
                assert!(
                    ev.read_data().expect("MySQL-type event decodes").is_some(),
                    "{name}: type {raw}"
                );
            }
        }
    }
    let golden = mariadb_support::parse(mariadb_support::EVENTS);
    assert_eq!(mariadb, golden.iter().filter(|g| g.event_type >= 160).count());
    assert!(mariadb >= 40, "{mariadb}");
}

#[test]
fn table_map_full_metadata_and_v1_rows_from_mariadb() {
    let (_, bytes) = mariadb_support::files().remove(0);
    let mut file = BinlogFile::new(BinlogVersion::Version4, &bytes[..]).expect("magic");
    let mut names_seen = Vec::new();
    let mut v1_rows = 0;
    let mut utf8_row = false;
    while let Some(ev) = file.next() {
        let ev = ev.expect("event");
        match ev.read_data().expect("decodes") {
            Some(EventData::TableMapEvent(tme)) => {
                let mut names = Vec::new();
                for field in tme.iter_optional_meta() {
                    if let OptionalMetadataField::ColumnName(cn) = field.expect("optional meta") {
                        for n in cn.iter_names() {
                            names.push(n.expect("name").name().into_owned());
                        }
                    }
                }
                names_seen.push((tme.table_name().into_owned(), names));
            }
            Some(EventData::RowsEvent(re)) => {
                // MariaDB 10.11 writes the v1 row event types (23..=25).
                assert!(
                    matches!(
                        re,
                        RowsEventData::WriteRowsEventV1(_)
                            | RowsEventData::UpdateRowsEventV1(_)
                            | RowsEventData::DeleteRowsEventV1(_)
                    ),
                    "{re:?}"
                );
                v1_rows += 1;
                let tme = file.reader().get_tme(re.table_id()).expect("table map cached");
                for row in re.rows(tme) {
                    let (_before, after) = row.expect("row decodes");
                    if let Some(after) = after {
                        if let Some(BinlogValue::Value(Value::Bytes(b))) = after.as_ref(1) {
                            utf8_row |= b == "grüße ✓".as_bytes();
                        }
                    }
                }
            }
            _ => {}
        }
    }
    assert!(v1_rows >= 8, "{v1_rows}");
    assert!(utf8_row, "the UTF-8 row was not found");
    // binlog_row_metadata=FULL: column names in every table map, before and
    // after the two-phase ALTER that added w.
    assert!(names_seen.contains(&("t".into(), vec!["id".into(), "v".into()])));
    assert!(names_seen.contains(&("t".into(), vec!["id".into(), "v".into(), "w".into()])));
    assert!(names_seen.contains(&("m".into(), vec!["id".into()])));
}

#[test]
fn mysql_common_does_not_verify_checksums() {
    let (_, mut bytes) = mariadb_support::files().remove(0);
    let g = mariadb_support::parse(mariadb_support::EVENTS)
        .into_iter()
        .find(|g| g.file == "binlog.000007" && g.event_type == 162)
        .expect("a GTID event");
    // Corrupt the GTID's seq_no (first body byte; g.pos is the file
    // offset, magic included); the CRC32 trailer no longer matches.
    let at = g.pos as usize + 19;
    bytes[at] ^= 0x01;
    let events = read_file(&bytes);
    let ev = events
        .iter()
        .find(|e| e.header().log_pos() == EventHeader::parse(&g.bytes).expect("h").log_pos)
        .expect("the event");
    // mysql_common returned it without complaint ...
    assert_ne!(ev.data(), &g.bytes[19..g.bytes.len() - 4]);
    // ... the CRC check here catches it.
    let h = EventHeader::from(&ev.header());
    let stored = u32::from_le_bytes(ev.checksum().expect("crc"));
    assert_ne!(event_crc32(&h, ev.data()), stored);
    let mut body = ev.data().to_vec();
    body.extend_from_slice(&stored.to_le_bytes());
    assert!(decode_mariadb_event_body(&h, &body, true).is_err());
    // Without the check the corrupt GTID would decode to seq_no 16 +- 1.
    assert!(matches!(decode_mariadb_event_body(&h, ev.data(), false), Ok(MariadbEvent::Gtid(_))));
}

#[test]
fn event_read_panics_on_short_input() {
    // A characterisation, not a wish: mysql_common's Event::read unwraps
    // read_exact for the body, and slices the checksum without a length
    // check. The wiring must check event_size before calling it (or catch
    // the panic). If mysql_common fixes this, this test fails: then update
    // the module doc of logtap_binlog.
    let (_, bytes) = mariadb_support::files().remove(0);
    let mut file = BinlogFile::new(BinlogVersion::Version4, &bytes[..]).expect("magic");
    file.next().expect("FDE").expect("FDE reads");
    let fde = file.reader().get_fde().clone();
    let gtid = mariadb_support::parse(mariadb_support::EVENTS)
        .into_iter()
        .find(|g| g.event_type == 162 && g.checksum)
        .expect("GTID");

    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    // 1. Fewer bytes than event_size.
    let short = catch_unwind(AssertUnwindSafe(|| Event::read(&fde, &gtid.bytes[..30])));
    // 2. A checksummed event whose event_size leaves less than 4 body bytes.
    let mut tiny = gtid.bytes[..21].to_vec();
    tiny[9..13].copy_from_slice(&21u32.to_le_bytes());
    let underflow = catch_unwind(AssertUnwindSafe(|| Event::read(&fde, &tiny[..])));
    std::panic::set_hook(quiet);

    assert!(short.is_err(), "Event::read no longer panics on short input");
    assert!(underflow.is_err(), "Event::read no longer panics on a tiny event_size");
    // The same inputs are plain errors here.
    assert!(logtap_binlog::decode_mariadb_event(&gtid.bytes[..30], true).is_err());
    assert!(logtap_binlog::decode_mariadb_event(&tiny, true).is_err());
}
