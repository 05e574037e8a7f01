//! The checks behind logtap-binlog's fuzz targets, one function per target.
//! The fuzz binaries call them with libFuzzer's inputs; logtap-binlog's
//! `tests/fuzz_corpus.rs` includes this file and calls them with every
//! input of the committed corpus, so CI replays the corpus on stable
//! without building libFuzzer. Each check panics on a defect only.

use logtap_binlog::{decode_mariadb_event, verify_event_checksum, EventHeader};
use logtap_binlog::{GtidPosition, MysqlGtidSet};

/// One binlog event as the server sends it, decoded with and without a
/// CRC32 trailer. Checks: no panic, an error's offset lies inside the
/// event, and a decoded event's checksum verifies when it was required.
pub fn mariadb_event(data: &[u8]) {
    for checksum in [false, true] {
        match decode_mariadb_event(data, checksum) {
            Ok(_) if checksum => assert!(verify_event_checksum(data).is_ok()),
            Ok(_) => {}
            Err(e) => assert!(e.offset().is_none_or(|o| o <= data.len()), "{e}"),
        }
    }
    let _ = EventHeader::parse(data);
}

/// GTID positions and sets as an operator writes them in the config
/// (`initial_gtid`) and as the offset store keeps them. Checks: no panic,
/// and whatever parses prints back to text that parses to the same value.
pub fn gtid_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = text.parse::<GtidPosition>() {
        assert_eq!(p.to_string().parse::<GtidPosition>().ok(), Some(p));
    }
    if let Ok(s) = text.parse::<MysqlGtidSet>() {
        assert_eq!(s.to_string().parse::<MysqlGtidSet>().ok(), Some(s));
    }
}
