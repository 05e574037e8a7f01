//! Hand-built byte vectors from the documented layouts: the messages no
//! PostgreSQL 15 capture can contain (protocol v4 Stream Abort), and every
//! error path, with the exact error texts operators will read.
#![allow(clippy::unwrap_used)]

mod common;

use common::{relation_msg, Msg};
use logtap_pgoutput::*;

fn decoder(version: u32) -> Decoder {
    Decoder::new(version).expect("supported version")
}

/// A v2 decoder inside a stream block of xid 700.
fn streaming() -> Decoder {
    let mut d = decoder(2);
    d.decode(Msg::new(b'S').u32(700).u8(1).bytes()).expect("Stream Start");
    d
}

fn err(d: &mut Decoder, bytes: &[u8]) -> DecodeError {
    d.decode(bytes).expect_err("must fail")
}

// ------------------------------------------------------------ versions ----

#[test]
fn protocol_versions() {
    for v in 1..=4 {
        assert_eq!(decoder(v).protocol_version(), v);
    }
    for v in [0, 5, u32::MAX] {
        assert_eq!(Decoder::new(v), Err(UnsupportedProtocolVersion(v)));
    }
    assert_eq!(
        UnsupportedProtocolVersion(5).to_string(),
        "unsupported pgoutput protocol version 5 (supported: 1 to 4)"
    );
}

#[test]
fn v4_stream_abort_with_and_without_abort_info() {
    let plain = Msg::new(b'A').u32(900).u32(901);
    let parallel = plain.clone().u64(0x1_0000_0028).i64(812_345_678_901_234);
    // v4 with streaming = parallel
    assert_eq!(
        decoder(4).decode(parallel.bytes()),
        Ok(Message::StreamAbort(StreamAbort {
            xid: 900,
            subxid: 901,
            abort_info: Some(StreamAbortInfo {
                abort_lsn: 0x1_0000_0028,
                abort_time: 812_345_678_901_234,
            }),
        }))
    );
    // v4 with streaming = on: the fields are absent
    assert_eq!(
        decoder(4).decode(plain.bytes()),
        Ok(Message::StreamAbort(StreamAbort { xid: 900, subxid: 901, abort_info: None }))
    );
    // v4, abort info cut short
    let e = err(&mut decoder(4), &parallel.bytes()[..20]);
    assert_eq!(
        e.to_string(),
        "pgoutput Stream Abort at byte 17: truncated: need 8 bytes for abort timestamp, 3 left"
    );
    // v2/v3 never carry them: extra bytes are an error, not abort info
    for v in [2, 3] {
        let e = err(&mut decoder(v), parallel.bytes());
        assert_eq!(e.kind, DecodeErrorKind::TrailingBytes { count: 16 });
        assert_eq!(e.offset, 9);
    }
}

// ----------------------------------------------------- simple messages ----

#[test]
fn namespace_shorthand_is_expanded() {
    let mut d = decoder(1);
    let r = Msg::new(b'R').u32(1259).cstr("").cstr("pg_class").u8(b'n').i16(0);
    let Ok(Message::Relation { relation, .. }) = d.decode(r.bytes()) else { panic!("relation") };
    assert_eq!(relation.namespace, "pg_catalog");
    assert!(relation.columns.is_empty());
    let y = Msg::new(b'Y').u32(16).cstr("").cstr("bool");
    assert_eq!(
        d.decode(y.bytes()),
        Ok(Message::Type(TypeMessage {
            xid: None,
            id: 16,
            namespace: "pg_catalog".into(),
            name: "bool".into(),
        }))
    );
}

#[test]
fn relation_is_replaced_and_only_on_success() {
    let mut d = decoder(1);
    d.decode(relation_msg(42, 2).bytes()).expect("first");
    assert_eq!(d.relation(42).map(|r| r.columns.len()), Some(2));
    // A broken description (last byte missing) changes nothing.
    let three = relation_msg(42, 3);
    let before = d.clone();
    assert!(d.decode(&three.bytes()[..three.bytes().len() - 1]).is_err());
    assert_eq!(d, before);
    // A complete one replaces the entry; tuples are now checked against it.
    d.decode(three.bytes()).expect("second");
    assert_eq!(d.relation(42).map(|r| r.columns.len()), Some(3));
    let two_cols = Msg::new(b'I').u32(42).u8(b'N').i16(2).text("1").text("2");
    let e = err(&mut d, two_cols.bytes());
    assert_eq!(e.to_string(), "pgoutput Insert at byte 6: tuple has 2 columns, relation 42 has 3");
}

#[test]
fn binary_and_empty_values() {
    let mut d = decoder(1);
    d.decode(relation_msg(7, 4).bytes()).expect("relation");
    let insert = Msg::new(b'I')
        .u32(7)
        .u8(b'N')
        .i16(4)
        .u8(b'b')
        .i32(4)
        .raw(&[0, 0, 0, 42])
        .text("")
        .u8(b'n')
        .u8(b'u');
    assert_eq!(
        d.decode(insert.bytes()),
        Ok(Message::Insert(Insert {
            xid: None,
            relation_id: 7,
            new: TupleData(vec![
                TupleValue::Binary(vec![0, 0, 0, 42]),
                TupleValue::Text(Vec::new()),
                TupleValue::Null,
                TupleValue::UnchangedToast,
            ]),
        }))
    );
}

#[test]
fn origin_inside_a_stream_block() {
    // pgoutput sends Origin right after Stream Start; it has no xid field.
    let mut d = streaming();
    let o = Msg::new(b'O').u64(5).cstr("pg_16400");
    assert_eq!(
        d.decode(o.bytes()),
        Ok(Message::Origin(Origin { commit_lsn: 5, name: "pg_16400".into() }))
    );
}

#[test]
fn streamed_data_messages_carry_the_xid() {
    let mut d = streaming();
    let mut r = Msg::new(b'R').u32(701).raw(&relation_msg(9, 1).bytes()[1..]);
    assert!(matches!(d.decode(r.bytes()), Ok(Message::Relation { xid: Some(701), .. })));
    let cases = [
        Msg::new(b'I').u32(701).u32(9).u8(b'N').i16(1).text("1"),
        Msg::new(b'U').u32(701).u32(9).u8(b'N').i16(1).text("1"),
        Msg::new(b'D').u32(701).u32(9).u8(b'K').i16(1).text("1"),
        Msg::new(b'T').u32(701).i32(1).u8(0).u32(9),
        Msg::new(b'M').u32(701).u8(1).u64(3).cstr("p").i32(0),
        Msg::new(b'Y').u32(701).u32(9999).cstr("s").cstr("t"),
    ];
    for m in &cases {
        let decoded = d.decode(m.bytes()).expect("streamed message");
        let xid = match decoded {
            Message::Insert(m) => m.xid,
            Message::Update(m) => m.xid,
            Message::Delete(m) => m.xid,
            Message::Truncate(m) => m.xid,
            Message::LogicalMessage(m) => m.xid,
            Message::Type(m) => m.xid,
            other => panic!("{other:?}"),
        };
        assert_eq!(xid, Some(701));
    }
    assert_eq!(d.decode(b"E"), Ok(Message::StreamStop));
    // Outside the block the same layout without xid.
    r = relation_msg(9, 1);
    assert!(matches!(d.decode(r.bytes()), Ok(Message::Relation { xid: None, .. })));
}

// --------------------------------------------------------------- errors ----

#[test]
fn empty_and_unknown_types() {
    let mut d = decoder(4);
    assert_eq!(err(&mut d, b"").to_string(), "pgoutput message at byte 0: empty message");
    let e = err(&mut d, b"Z\x00\x01");
    assert_eq!(e.message_type, None);
    assert_eq!(e.to_string(), "pgoutput message at byte 0: unknown message type 'Z' (0x5a)");
    assert_eq!(
        err(&mut d, &[0x00]).to_string(),
        "pgoutput message at byte 0: unknown message type 0x00"
    );
}

#[test]
fn truncated_column_length() {
    let mut d = decoder(1);
    d.decode(relation_msg(16384, 5).bytes()).expect("relation");
    let m = Msg::new(b'I').u32(16384).u8(b'N').i16(5).raw(b"nnnnt").raw(&[0, 0]);
    let e = err(&mut d, m.bytes());
    assert_eq!(e.offset, 13);
    assert_eq!(e.message_type, Some('I'));
    assert_eq!(
        e.to_string(),
        "pgoutput Insert at byte 13: truncated: need 4 bytes for column length, 2 left"
    );
}

#[test]
fn change_for_unknown_relation() {
    let mut d = decoder(1);
    for m in [
        Msg::new(b'I').u32(16384).u8(b'N').i16(0),
        Msg::new(b'U').u32(16384).u8(b'N').i16(0),
        Msg::new(b'D').u32(16384).u8(b'K').i16(0),
    ] {
        let e = err(&mut d, m.bytes());
        assert_eq!(e.kind, DecodeErrorKind::UnknownRelation { oid: 16384 });
        assert_eq!(e.offset, 1);
    }
    assert_eq!(
        err(&mut d, Msg::new(b'I').u32(16384).u8(b'N').i16(0).bytes()).to_string(),
        "pgoutput Insert at byte 1: unknown relation 16384 (no Relation message seen)"
    );
    // Truncate carries no tuple and is not checked.
    assert!(d.decode(Msg::new(b'T').i32(1).u8(0).u32(16384).bytes()).is_ok());
}

#[test]
fn trailing_bytes() {
    let begin = Msg::new(b'B').u64(1).i64(2).u32(3).u8(0);
    let e = err(&mut decoder(1), begin.bytes());
    assert_eq!(
        e.to_string(),
        "pgoutput Begin at byte 21: 1 trailing bytes after a complete message"
    );
    assert_eq!(
        err(&mut decoder(2), b"E\x00").kind,
        DecodeErrorKind::StreamState { detail: "Stream Stop outside a stream block" }
    );
    let mut d = streaming();
    assert_eq!(err(&mut d, b"E\x00").kind, DecodeErrorKind::TrailingBytes { count: 1 });
    assert!(d.in_stream(), "a failed Stream Stop leaves the block open");
}

#[test]
fn negative_lengths_and_counts() {
    let mut d = decoder(1);
    d.decode(relation_msg(5, 1).bytes()).expect("relation");
    let cases: [(Msg, &str); 5] = [
        (
            Msg::new(b'I').u32(5).u8(b'N').i16(1).u8(b't').i32(-1),
            "pgoutput Insert at byte 9: negative column length: -1",
        ),
        (
            Msg::new(b'I').u32(5).u8(b'N').i16(-1),
            "pgoutput Insert at byte 6: negative tuple column count: -1",
        ),
        (
            Msg::new(b'R').u32(6).cstr("s").cstr("t").u8(b'd').i16(-3),
            "pgoutput Relation at byte 10: negative column count: -3",
        ),
        (
            Msg::new(b'T').i32(i32::MIN).u8(0),
            "pgoutput Truncate at byte 1: negative relation count: -2147483648",
        ),
        (
            Msg::new(b'M').u8(0).u64(1).cstr("p").i32(-5),
            "pgoutput Message at byte 12: negative content length: -5",
        ),
    ];
    for (m, text) in cases {
        assert_eq!(err(&mut d, m.bytes()).to_string(), text);
    }
}

#[test]
fn huge_counts_fail_before_allocating() {
    let mut d = decoder(1);
    // 2^31-1 relation OIDs announced, none present.
    let e = err(&mut d, Msg::new(b'T').i32(i32::MAX).u8(0).bytes());
    assert_eq!(
        e.kind,
        DecodeErrorKind::Truncated { what: "relation OIDs", need: 4 * i32::MAX as usize, left: 0 }
    );
    // 32767 columns announced, none present.
    let r = Msg::new(b'R').u32(6).cstr("s").cstr("t").u8(b'd').i16(i16::MAX);
    assert!(matches!(
        err(&mut d, r.bytes()).kind,
        DecodeErrorKind::Truncated { what: "column descriptions", .. }
    ));
    // A value claiming 2 GiB.
    d.decode(relation_msg(5, 1).bytes()).expect("relation");
    let m = Msg::new(b'I').u32(5).u8(b'N').i16(1).u8(b'b').i32(i32::MAX);
    assert_eq!(
        err(&mut d, m.bytes()).to_string(),
        "pgoutput Insert at byte 13: truncated: need 2147483647 bytes for column value, 0 left"
    );
}

#[test]
fn bad_tags_kinds_and_identities() {
    let mut d = decoder(1);
    d.decode(relation_msg(5, 1).bytes()).expect("relation");
    let cases: [(Msg, &str); 6] = [
        (
            Msg::new(b'I').u32(5).u8(b'K').i16(1).text("1"),
            "pgoutput Insert at byte 5: expected 'N' (new tuple), found 'K' (0x4b)",
        ),
        (
            Msg::new(b'U').u32(5).u8(b'X'),
            "pgoutput Update at byte 5: expected 'K' (old key), 'O' (old row) or 'N' (new tuple), found 'X' (0x58)",
        ),
        (
            Msg::new(b'U').u32(5).u8(b'O').i16(1).text("1").u8(b'O'),
            "pgoutput Update at byte 14: expected 'N' (new tuple), found 'O' (0x4f)",
        ),
        (
            Msg::new(b'D').u32(5).u8(b'N').i16(1).text("1"),
            "pgoutput Delete at byte 5: expected 'K' (old key) or 'O' (old row), found 'N' (0x4e)",
        ),
        (
            Msg::new(b'I').u32(5).u8(b'N').i16(1).u8(b'x'),
            "pgoutput Insert at byte 8: unknown tuple column kind 'x' (0x78)",
        ),
        (
            Msg::new(b'R').u32(6).cstr("s").cstr("t").u8(b'q').i16(0),
            "pgoutput Relation at byte 9: unknown replica identity 'q' (0x71)",
        ),
    ];
    for (m, text) in cases {
        assert_eq!(err(&mut d, m.bytes()).to_string(), text);
    }
}

#[test]
fn undefined_flag_bits() {
    let mut d = decoder(3);
    let cases: [(Msg, &str); 7] = [
        (
            Msg::new(b'C').u8(1).u64(1).u64(2).i64(3),
            "pgoutput Commit at byte 1: invalid Commit flags: 0x01",
        ),
        (
            Msg::new(b'M').u8(2).u64(1).cstr("p").i32(0),
            "pgoutput Message at byte 1: invalid Message flags: 0x02",
        ),
        (
            Msg::new(b'T').i32(0).u8(4),
            "pgoutput Truncate at byte 5: invalid Truncate option bits: 0x04",
        ),
        (
            Msg::new(b'R')
                .u32(6)
                .cstr("s")
                .cstr("t")
                .u8(b'd')
                .i16(1)
                .u8(3)
                .cstr("c")
                .u32(23)
                .i32(-1),
            "pgoutput Relation at byte 12: invalid column flags: 0x03",
        ),
        (
            Msg::new(b'S').u32(1).u8(2),
            "pgoutput Stream Start at byte 5: invalid first segment flag: 0x02",
        ),
        (Msg::new(b'P').u8(1), "pgoutput Prepare at byte 1: invalid Prepare flags: 0x01"),
        (
            Msg::new(b'r').u8(0x80),
            "pgoutput Rollback Prepared at byte 1: invalid Rollback Prepared flags: 0x80",
        ),
    ];
    for (m, text) in cases {
        assert_eq!(err(&mut d, m.bytes()).to_string(), text);
    }
}

#[test]
fn strings() {
    let mut d = decoder(1);
    let e = err(&mut d, Msg::new(b'O').u64(1).raw(b"no nul").bytes());
    assert_eq!(
        e.to_string(),
        "pgoutput Origin at byte 9: unterminated string for origin name: no NUL byte in the 6 bytes left"
    );
    let r = Msg::new(b'R').u32(6).cstr("s").raw(b"ta\xffble\0").u8(b'd').i16(0);
    let e = err(&mut d, r.bytes());
    assert_eq!(e.to_string(), "pgoutput Relation at byte 9: relation name is not valid UTF-8");
    assert!(d.relation(6).is_none());
}

#[test]
fn stream_block_rules() {
    let mut d = streaming();
    let start = Msg::new(b'S').u32(700).u8(0);
    assert_eq!(
        err(&mut d, start.bytes()).to_string(),
        "pgoutput Stream Start at byte 0: Stream Start inside a stream block (no Stream Stop)"
    );
    for m in [
        Msg::new(b'B').u64(1).i64(2).u32(3),
        Msg::new(b'c').u32(700).u8(0).u64(1).u64(2).i64(3),
        Msg::new(b'A').u32(700).u32(700),
    ] {
        assert_eq!(
            err(&mut d, m.bytes()).kind,
            DecodeErrorKind::StreamState {
                detail: "transaction boundary inside a stream block (no Stream Stop)"
            }
        );
    }
    assert!(d.in_stream());
    d.decode(b"E").expect("stop");
    assert!(!d.in_stream());
    assert!(d.decode(Msg::new(b'A').u32(700).u32(700).bytes()).is_ok());
}

#[test]
fn two_phase_messages_by_layout() {
    // Layouts as documented; the golden v3 capture has real ones too.
    let mut d = decoder(3);
    let gid = "tx-ü";
    assert_eq!(
        d.decode(Msg::new(b'b').u64(10).u64(20).i64(30).u32(40).cstr(gid).bytes()),
        Ok(Message::BeginPrepare(PreparedTransaction {
            prepare_lsn: 10,
            end_lsn: 20,
            prepare_time: 30,
            xid: 40,
            gid: gid.into()
        }))
    );
    assert_eq!(
        d.decode(Msg::new(b'p').u8(0).u64(11).u64(21).i64(-31).u32(41).cstr(gid).bytes()),
        Ok(Message::StreamPrepare(PreparedTransaction {
            prepare_lsn: 11,
            end_lsn: 21,
            prepare_time: -31,
            xid: 41,
            gid: gid.into()
        }))
    );
    assert_eq!(
        d.decode(Msg::new(b'r').u8(0).u64(1).u64(2).i64(3).i64(4).u32(5).cstr("").bytes()),
        Ok(Message::RollbackPrepared(RollbackPrepared {
            prepare_end_lsn: 1,
            rollback_end_lsn: 2,
            prepare_time: 3,
            rollback_time: 4,
            xid: 5,
            gid: String::new()
        }))
    );
}

// ------------------------------------------------------------ CopyData ----

#[test]
fn standby_status_update_layout() {
    let update = StandbyStatusUpdate {
        write_lsn: 0x0102_0304_0506_0708,
        flush_lsn: 0x1112_1314_1516_1718,
        apply_lsn: 0x2122_2324_2526_2728,
        client_time: -2,
        reply_requested: true,
    };
    let bytes = update.encode();
    let mut expected = vec![b'r'];
    expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    expected.extend_from_slice(&[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]);
    expected.extend_from_slice(&[0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28]);
    expected.extend_from_slice(&[0xff; 7]);
    expected.extend_from_slice(&[0xfe, 1]);
    assert_eq!(bytes, expected);
    assert_eq!(bytes.len(), StandbyStatusUpdate::ENCODED_LEN);
    assert_eq!(StandbyStatusUpdate::decode(&bytes), Ok(update));
}

#[test]
fn copydata_errors() {
    assert_eq!(
        decode_copy_data(b"").map_err(|e| e.to_string()),
        Err("replication CopyData message at byte 0: empty message".into())
    );
    assert_eq!(
        decode_copy_data(b"x").map_err(|e| e.to_string()),
        Err("replication CopyData message at byte 0: unknown message type 'x' (0x78)".into())
    );
    let mut k = Msg::new(b'k').u64(1).i64(2).u8(2);
    assert_eq!(
        decode_copy_data(k.bytes()).map_err(|e| e.to_string()),
        Err(
            "replication CopyData primary keepalive at byte 17: invalid reply requested flag: 0x02"
                .into()
        )
    );
    k = Msg::new(b'w').u64(1).i64(2);
    assert_eq!(
        decode_copy_data(k.bytes()).map_err(|e| e.to_string()),
        Err("replication CopyData XLogData at byte 17: truncated: need 8 bytes for send time, 0 left".into())
    );
    // An XLogData frame with an empty body is valid at this layer.
    let w = Msg::new(b'w').u64(1).u64(2).i64(3);
    assert_eq!(
        decode_copy_data(w.bytes()),
        Ok(CopyData::XLogData(XLogData { wal_start: 1, wal_end: 2, send_time: 3, data: &[] }))
    );
    // The client's 'r' is not something the server sends.
    let r = StandbyStatusUpdate::default().encode();
    assert!(decode_copy_data(&r).is_err());
    assert_eq!(
        StandbyStatusUpdate::decode(&r[..20]).map_err(|e| e.to_string()),
        Err("replication CopyData standby status update at byte 17: truncated: need 8 bytes for apply LSN, 3 left".into())
    );
    assert!(StandbyStatusUpdate::decode(b"k").is_err());
}
