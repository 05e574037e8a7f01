//! Malformed MariaDB events: typed errors with offsets, and no panic on any
//! input (property tests feeding arbitrary and mutated bytes to every
//! decode entry point).

mod mariadb_support;

use logtap_binlog::{
    crc32, decode_mariadb_event, decode_mariadb_event_body, verify_event_checksum, EventHeader,
    GtidExtraFlags, MariadbDecodeError, MariadbEvent, MariadbEventType, CHECKSUM_LEN,
    EVENT_HEADER_LEN,
};
use proptest::prelude::*;

/// A synthetic event: header (event_size and log_pos filled in), body and,
/// with `checksum`, a correct CRC32 trailer.
fn event(event_type: u8, server_id: u32, body: &[u8], checksum: bool) -> Vec<u8> {
    let size = EVENT_HEADER_LEN + body.len() + if checksum { CHECKSUM_LEN } else { 0 };
    let mut e = Vec::with_capacity(size);
    e.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    e.push(event_type);
    e.extend_from_slice(&server_id.to_le_bytes());
    e.extend_from_slice(&(size as u32).to_le_bytes());
    e.extend_from_slice(&(1000 + size as u32).to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e.extend_from_slice(body);
    if checksum {
        let c = crc32(&e);
        e.extend_from_slice(&c.to_le_bytes());
    }
    e
}

fn gtid_body(seq: u64, domain: u32, flags2: u8, rest: &[u8]) -> Vec<u8> {
    let mut b = seq.to_le_bytes().to_vec();
    b.extend_from_slice(&domain.to_le_bytes());
    b.push(flags2);
    b.extend_from_slice(rest);
    while b.len() < 19 {
        b.push(0);
    }
    b
}

fn decode_err(e: &[u8], checksum: bool) -> MariadbDecodeError {
    decode_mariadb_event(e, checksum).expect_err("should fail")
}

#[test]
fn header_errors() {
    assert!(matches!(
        decode_err(&[0; 10], false),
        MariadbDecodeError::Truncated { offset: 0, needed: 4, available: 10, .. }
            | MariadbDecodeError::Truncated { .. }
    ));
    let err = EventHeader::parse(&[0; 18]).expect_err("short");
    assert!(
        matches!(err, MariadbDecodeError::Truncated { offset: 17, needed: 2, available: 1, .. }),
        "{err}"
    );
    // event_size below the header.
    let mut e = event(162, 1, &gtid_body(1, 0, 0, &[]), false);
    e[9..13].copy_from_slice(&18u32.to_le_bytes());
    let err = decode_err(&e, false);
    assert_eq!(err.offset(), Some(9), "{err}");
    // event_size disagreeing with the bytes.
    let mut e = event(162, 1, &gtid_body(1, 0, 0, &[]), false);
    e.push(0);
    let err = decode_err(&e, false);
    assert!(err.to_string().contains("event_size is 38 but the event has 39 bytes"), "{err}");
}

#[test]
fn type_errors() {
    let e = event(2, 1, b"", false);
    assert_eq!(decode_err(&e, false), MariadbDecodeError::NotMariadbEvent { event_type: 2 });
    let e = event(172, 1, b"", false);
    assert_eq!(decode_err(&e, false), MariadbDecodeError::UnknownEventType { event_type: 172 });
    for t in 165..=171u8 {
        let e = event(t, 1, b"whatever", true);
        let err = decode_err(&e, true);
        assert!(
            matches!(err, MariadbDecodeError::Unsupported { event_type, .. } if event_type == t)
        );
        let name = MariadbEventType::from_u8(t).expect("known").name();
        assert!(err.to_string().contains(name));
    }
    // The FDE post-header lengths MariaDB 10.11 announces (golden FDE).
    let fde = &mariadb_support::parse(mariadb_support::EVENTS)[0];
    assert_eq!(fde.event_type, 15);
    let table = &fde.bytes[19 + 57..fde.bytes.len() - 5];
    for t in 160..=171u8 {
        let k = MariadbEventType::from_u8(t).expect("known");
        assert_eq!(table[usize::from(t) - 1], k.post_header_len(), "{k}");
    }
}

#[test]
fn checksum_errors() {
    let mut e = event(161, 1, b"\x03\0\0\0abc", true);
    assert!(decode_mariadb_event(&e, true).is_ok());
    let n = e.len();
    e[n - 2] ^= 0xff;
    let err = decode_err(&e, true);
    assert!(matches!(err, MariadbDecodeError::ChecksumMismatch { offset: 26, .. }), "{err}");
    assert!(verify_event_checksum(&e).is_err());
    // Fewer than 4 body bytes cannot hold a trailer.
    let e = event(160, 1, b"ab", false);
    let err = decode_err(&e, true);
    assert!(
        matches!(err, MariadbDecodeError::Truncated { offset: 19, needed: 4, available: 2, .. }),
        "{err}"
    );
}

#[test]
fn gtid_errors_and_edge_cases() {
    // seq_no 0 is not a valid GTID event.
    let err = decode_err(&event(162, 1, &gtid_body(0, 0, 0, &[]), false), false);
    assert_eq!(err.offset(), Some(19));
    assert!(err.to_string().contains("seq_no is 0"));
    // Shorter than the 19-byte post-header.
    let err = decode_err(&event(162, 1, &gtid_body(1, 0, 0, &[])[..13], false), false);
    assert!(
        matches!(err, MariadbDecodeError::Truncated { offset: 19, needed: 19, available: 13, .. }),
        "{err}"
    );
    // Group commit flag without room for commit_id (19 bytes, id needs 21).
    let err = decode_err(&event(162, 1, &gtid_body(1, 0, 2, &[]), false), false);
    assert!(matches!(err, MariadbDecodeError::Truncated { offset: 32, needed: 8, .. }), "{err}");
    // XA flag with an XID longer than the event.
    let xa = [7, 0, 0, 0, 30, 30];
    let err = decode_err(&event(162, 1, &gtid_body(1, 0, 64, &xa), false), false);
    assert!(matches!(err, MariadbDecodeError::Truncated { offset: 38, needed: 30, .. }), "{err}");
    // XID part over 64 bytes.
    let mut xa = vec![7, 0, 0, 0, 65, 0];
    xa.extend(std::iter::repeat_n(b'x', 65));
    let err = decode_err(&event(162, 1, &gtid_body(1, 0, 128, &xa), false), false);
    assert!(matches!(err, MariadbDecodeError::Invalid { offset: 36, .. }), "{err}");
    // Non-zero padding.
    let mut body = gtid_body(1, 0, 0, &[]);
    body[17] = 9;
    let err = decode_err(&event(162, 1, &body, false), false);
    assert!(matches!(err, MariadbDecodeError::Invalid { offset: 36, .. }), "{err}");
    // flags_extra announcing more than there is.
    let err = decode_err(&event(162, 1, &gtid_body(1, 0, 0, &[4]), false), false);
    assert!(matches!(err, MariadbDecodeError::Truncated { offset: 33, needed: 8, .. }), "{err}");
    // MariaDB 11.5+ thread id (flags_extra 0x10).
    let mut rest = vec![GtidExtraFlags::THREAD_ID];
    rest.extend_from_slice(&77u32.to_le_bytes());
    let (_, MariadbEvent::Gtid(g)) =
        decode_mariadb_event(&event(162, 5, &gtid_body(9, 3, 0x0c, &rest), true), true)
            .expect("ok")
    else {
        panic!("not GTID")
    };
    assert_eq!((g.gtid.to_string().as_str(), g.thread_id), ("3-5-9", Some(77)));
    // The same thread id written as 8 bytes reads the same.
    let mut rest = vec![GtidExtraFlags::THREAD_ID];
    rest.extend_from_slice(&77u64.to_le_bytes());
    let (_, MariadbEvent::Gtid(g)) =
        decode_mariadb_event(&event(162, 5, &gtid_body(9, 3, 0x0c, &rest), true), true)
            .expect("ok")
    else {
        panic!("not GTID")
    };
    assert_eq!(g.thread_id, Some(77));
    // Unknown flags_extra bits: the GTID is still decoded, the rest skipped.
    let (_, MariadbEvent::Gtid(g)) =
        decode_mariadb_event(&event(162, 5, &gtid_body(9, 3, 0, &[0x80, 1, 2, 3]), true), true)
            .expect("ok")
    else {
        panic!("not GTID")
    };
    assert_eq!(g.flags_extra, GtidExtraFlags(0x80));
}

#[test]
fn gtid_list_errors() {
    // count says 2, one entry present.
    let mut body = 2u32.to_le_bytes().to_vec();
    body.extend_from_slice(&[0; 16]);
    let err = decode_err(&event(163, 1, &body, false), false);
    assert!(
        matches!(err, MariadbDecodeError::Truncated { offset: 23, needed: 32, available: 16, .. }),
        "{err}"
    );
    // Huge count with a tiny body: an error, not a 4 GiB allocation.
    let body = 0x0FFF_FFFFu32.to_le_bytes();
    let err = decode_err(&event(163, 1, &body, false), false);
    assert!(matches!(err, MariadbDecodeError::Truncated { .. }), "{err}");
    // Trailing bytes.
    let mut body = 0u32.to_le_bytes().to_vec();
    body.push(1);
    let err = decode_err(&event(163, 1, &body, false), false);
    assert_eq!(
        err,
        MariadbDecodeError::TrailingBytes { what: "GTID_LIST_EVENT", offset: 23, count: 1 }
    );
    // Flags in the top 4 bits.
    let body = (0x2000_0000u32).to_le_bytes();
    let (_, MariadbEvent::GtidList(l)) =
        decode_mariadb_event(&event(163, 1, &body, false), false).expect("ok")
    else {
        panic!("not list")
    };
    assert_eq!((l.flags, l.gtids.len()), (2, 0));
}

#[test]
fn checkpoint_and_encryption_errors() {
    let err = decode_err(&event(161, 1, &u32::MAX.to_le_bytes(), false), false);
    assert!(matches!(err, MariadbDecodeError::Truncated { offset: 23, .. }), "{err}");
    let err = decode_err(&event(161, 1, b"\x02\0\0\0abc", false), false);
    assert!(matches!(err, MariadbDecodeError::TrailingBytes { offset: 25, count: 1, .. }), "{err}");
    let err = decode_err(&event(164, 1, &[1; 16], false), false);
    assert!(
        matches!(err, MariadbDecodeError::Truncated { offset: 24, needed: 12, available: 11, .. }),
        "{err}"
    );
    let err = decode_err(&event(164, 1, &[1; 18], false), false);
    assert!(matches!(err, MariadbDecodeError::TrailingBytes { offset: 36, count: 1, .. }), "{err}");
    // Annotate text that is not UTF-8 is kept as bytes.
    let (_, MariadbEvent::AnnotateRows(a)) =
        decode_mariadb_event(&event(160, 1, b"INSERT \xff", true), true).expect("ok")
    else {
        panic!("not annotate")
    };
    assert_eq!(a.sql, b"INSERT \xff");
    assert_eq!(a.sql_text(), "INSERT \u{fffd}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), checksum: bool) {
        let _ = decode_mariadb_event(&bytes, checksum);
        let _ = verify_event_checksum(&bytes);
        let _ = EventHeader::parse(&bytes);
    }

    #[test]
    fn arbitrary_bodies_of_every_type_never_panic(
        event_type: u8,
        server_id: u32,
        body in proptest::collection::vec(any::<u8>(), 0..120),
        checksum: bool,
    ) {
        let header = EventHeader {
            timestamp: 0,
            event_type,
            server_id,
            event_size: (19 + body.len()) as u32,
            log_pos: 0,
            flags: 0,
        };
        let _ = decode_mariadb_event_body(&header, &body, checksum);
        // With a well-formed frame (size and CRC right) the body decoders
        // themselves see the arbitrary bytes.
        let e = event(event_type, server_id, &body, true);
        let _ = decode_mariadb_event(&e, true);
        let e = event(event_type, server_id, &body, false);
        let _ = decode_mariadb_event(&e, false);
    }

    #[test]
    fn structured_bodies_never_panic(
        kind in 160u8..=164,
        count_or_len: u32,
        flags2: u8,
        flags_extra: u8,
        tail in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        // Bodies shaped like the real thing, so decoding gets deep.
        let body = match kind {
            161 | 163 => { let mut b = count_or_len.to_le_bytes().to_vec(); b.extend_from_slice(&tail); b }
            162 => { let mut r = vec![flags_extra]; r.extend_from_slice(&tail); gtid_body(1 + u64::from(count_or_len), 0, flags2, &r) }
            _ => tail.clone(),
        };
        let e = event(kind, 1, &body, true);
        let _ = decode_mariadb_event(&e, true);
    }

    #[test]
    fn mutated_golden_events_never_panic(
        idx in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let all = mariadb_support::mariadb_events();
        let g = idx.get(&all);
        let mut b = g.bytes.clone();
        for (at, v) in &mutations {
            let i = at.index(b.len());
            b[i] = *v;
        }
        let _ = decode_mariadb_event(&b, g.checksum);
        let _ = decode_mariadb_event(&b, !g.checksum);
        // Re-frame the mutated body so the CRC and size are right again.
        if b.len() >= 19 {
            let end = b.len() - if g.checksum { 4 } else { 0 };
            let body = &b[19.min(end)..end];
            let body = &body[..cut.index(body.len() + 1)];
            let e = event(b[4], 1, body, true);
            let _ = decode_mariadb_event(&e, true);
        }
    }
}
