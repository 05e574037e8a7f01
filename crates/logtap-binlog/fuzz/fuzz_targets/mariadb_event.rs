//! One binlog event as the server sends it, decoded with and without a
//! CRC32 trailer. Checks: no panic, an error's offset lies inside the
//! event, and a decoded event's checksum verifies when it was required.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtap_binlog::{decode_mariadb_event, verify_event_checksum, EventHeader};

fuzz_target!(|data: &[u8]| {
    for checksum in [false, true] {
        match decode_mariadb_event(data, checksum) {
            Ok(_) if checksum => assert!(verify_event_checksum(data).is_ok()),
            Ok(_) => {}
            Err(e) => assert!(e.offset().is_none_or(|o| o <= data.len()), "{e}"),
        }
    }
    let _ = EventHeader::parse(data);
});
