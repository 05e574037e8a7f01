//! The checks behind logtap-pgoutput's fuzz targets, one function per target.
//! The fuzz binaries call them with libFuzzer's inputs; logtap-pgoutput's
//! `tests/fuzz_corpus.rs` includes this file and calls them with every
//! input of the committed corpus, so CI replays the corpus on stable
//! without building libFuzzer. Each check panics on a defect only.

use logtap_pgoutput::{decode_copy_data, CopyData, Decoder, StandbyStatusUpdate};

/// One walsender CopyData payload, and the pgoutput message inside it.
pub fn copydata(data: &[u8]) {
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
}

/// A whole pgoutput session from one input: the first byte picks the
/// protocol version, the rest is a sequence of messages, each framed by a
/// big-endian u16 length, decoded in order by one decoder so the relation
/// cache and stream state carry over. Checks: no panic, and a failed decode
/// changes no state and reports an offset inside the message.
pub fn pgoutput(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let Ok(mut decoder) = Decoder::new(u32::from(first % 4) + 1) else {
        return;
    };
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
        let (message, tail) = tail.split_at(len);
        rest = tail;
        let before = decoder.clone();
        if let Err(e) = decoder.decode(message) {
            assert!(e.offset <= message.len());
            assert_eq!(decoder, before);
            let _ = e.to_string();
        }
    }
}
