//! GTID positions and sets as an operator writes them in the config
//! (`initial_gtid`) and as the offset store keeps them. Checks: no panic,
//! and whatever parses prints back to text that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtap_binlog::{GtidPosition, MysqlGtidSet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = text.parse::<GtidPosition>() {
        assert_eq!(p.to_string().parse::<GtidPosition>().ok(), Some(p));
    }
    if let Ok(s) = text.parse::<MysqlGtidSet>() {
        assert_eq!(s.to_string().parse::<MysqlGtidSet>().ok(), Some(s));
    }
});
