//! A whole pgoutput session from one input: the first byte picks the
//! protocol version, the rest is a sequence of messages, each framed by a
//! big-endian u16 length, decoded in order by one decoder so the relation
//! cache and stream state carry over. Checks: no panic, and a failed decode
//! changes no state and reports an offset inside the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtap_pgoutput::Decoder;

fuzz_target!(|data: &[u8]| {
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
});
