//! One walsender CopyData payload, and the pgoutput message inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtap_pgoutput::{decode_copy_data, CopyData, Decoder, StandbyStatusUpdate};

fuzz_target!(|data: &[u8]| {
    match decode_copy_data(data) {
        Ok(CopyData::XLogData(x)) => {
            if let Ok(mut decoder) = Decoder::new(4) {
                let _ = decoder.decode(x.data);
            }
        }
        Ok(CopyData::PrimaryKeepalive(_)) => {}
        Err(e) => assert!(e.offset <= data.len()),
    }
    if let Ok(update) = StandbyStatusUpdate::decode(data) {
        assert_eq!(update.encode(), data);
    }
});
