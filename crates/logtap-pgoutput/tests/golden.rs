//! Golden tests: bytes captured from PostgreSQL 15.18 (see
//! `tests/golden/capture.sh` and `capture_copydata.py`), decoded and checked
//! field by field; every proper prefix of every message must fail cleanly.
//!
//! OIDs, xids, LSNs and timestamps below are those of the capture run.
#![allow(clippy::unwrap_used)]

mod common;

use common::golden;
use logtap_pgoutput::pgoutput::MAX_PROTOCOL_VERSION;
use logtap_pgoutput::*;

// Object ids of the capture run.
const MOOD: u32 = 16468;
const BASIC: u32 = 16475;
const FULL_RI: u32 = 16483;
const NOTHING_RI: u32 = 16490;
const INDEX_RI: u32 = 16496;
const UNICODE_TABLE: u32 = 16503;
const STREAM: u32 = 16508;

const INT4: u32 = 23;
const INT8: u32 = 20;
const TEXT: u32 = 25;
const NUMERIC: u32 = 1700;
const VARCHAR: u32 = 1043;
const VARCHAR_ARRAY: u32 = 1015;
const TIMESTAMPTZ: u32 = 1184;

fn t(s: &str) -> TupleValue {
    TupleValue::Text(s.as_bytes().to_vec())
}

fn b(bytes: &[u8]) -> TupleValue {
    TupleValue::Binary(bytes.to_vec())
}

fn tuple(values: Vec<TupleValue>) -> TupleData {
    TupleData(values)
}

fn col(is_key: bool, name: &str, type_oid: u32, type_modifier: i32) -> Column {
    Column { is_key, name: name.to_owned(), type_oid, type_modifier }
}

/// Decodes a whole golden file; every message must decode.
fn decode_file(file: &str, version: u32) -> (Decoder, Vec<Message>) {
    let mut decoder = Decoder::new(version).expect("version");
    let messages = golden(file)
        .iter()
        .enumerate()
        .map(|(i, m)| decoder.decode(m).unwrap_or_else(|e| panic!("{file} message {i}: {e}")))
        .collect();
    (decoder, messages)
}

fn relation_msg(m: &Message) -> &Relation {
    match m {
        Message::Relation { relation, .. } => relation,
        other => panic!("expected Relation, got {other:?}"),
    }
}

// ---------------------------------------------------------------- v1 ------

#[test]
fn v1_begin_type_relation_insert_commit() {
    let (decoder, m) = decode_file("v1.hex", 1);
    assert_eq!(
        m[0],
        Message::Begin(Begin { final_lsn: 0x19E_5B50, commit_time: 848_688_445_571_024, xid: 805 })
    );
    // A user-defined enum column: its type is described before the relation.
    assert_eq!(
        m[1],
        Message::Type(TypeMessage {
            xid: None,
            id: MOOD,
            namespace: "gold".into(),
            name: "mood".into(),
        })
    );
    // The generated column `g` and the dropped column `doomed` are not sent.
    let basic = Relation {
        id: BASIC,
        namespace: "gold".into(),
        name: "basic".into(),
        replica_identity: ReplicaIdentity::Default,
        columns: vec![
            col(true, "id", INT4, -1),
            col(false, "name", TEXT, -1),
            col(false, "score", NUMERIC, ((10 << 16) | 2) + 4),
            col(false, "m", MOOD, -1),
            col(false, "big", TEXT, -1),
            col(false, "tags", VARCHAR_ARRAY, 24),
        ],
    };
    assert_eq!(m[2], Message::Relation { xid: None, relation: basic.clone() });
    assert_eq!(decoder.relation(BASIC), Some(&basic));
    assert_eq!(
        m[3],
        Message::Insert(Insert {
            xid: None,
            relation_id: BASIC,
            new: tuple(vec![
                t("1"),
                t("alice"),
                t("12.50"),
                t("happy"),
                TupleValue::Null,
                t("{a,\"b c\"}"),
            ]),
        })
    );
    assert_eq!(
        m[4],
        Message::Insert(Insert {
            xid: None,
            relation_id: BASIC,
            new: tuple(vec![
                t("2"),
                TupleValue::Null,
                TupleValue::Null,
                TupleValue::Null,
                TupleValue::Null,
                TupleValue::Null,
            ]),
        })
    );
    // commit_lsn is the Begin's final_lsn; end_lsn is one record later.
    assert_eq!(
        m[5],
        Message::Commit(Commit {
            commit_lsn: 0x19E_5B50,
            end_lsn: 0x19E_5B80,
            commit_time: 848_688_445_571_024,
        })
    );
}

#[test]
fn v1_toast_unchanged_and_key_change() {
    let (_, m) = decode_file("v1.hex", 1);
    // The insert carries the full out-of-line value...
    let Message::Insert(insert) = &m[7] else { panic!("{:?}", m[7]) };
    let TupleValue::Text(big) = &insert.new.0[4] else { panic!("{:?}", insert.new.0[4]) };
    assert_eq!(big.len(), 4800);
    assert!(big.starts_with(b"c4ca4238a0b923820dcc509a6f75849b")); // md5('1')
                                                                   // ...the update that leaves it alone sends 'u' instead.
    assert_eq!(
        m[10],
        Message::Update(Update {
            xid: None,
            relation_id: BASIC,
            old: None,
            new: tuple(vec![
                t("3"),
                t("toast2"),
                t("1.00"),
                t("ok"),
                TupleValue::UnchangedToast,
                TupleValue::Null,
            ]),
        })
    );
    // Key change under REPLICA IDENTITY DEFAULT: 'K' with the old key only,
    // every other column null.
    assert_eq!(
        m[13],
        Message::Update(Update {
            xid: None,
            relation_id: BASIC,
            old: Some(OldTuple::Key(tuple(vec![
                t("1"),
                TupleValue::Null,
                TupleValue::Null,
                TupleValue::Null,
                TupleValue::Null,
                TupleValue::Null,
            ]))),
            new: tuple(vec![
                t("10"),
                t("alice"),
                t("12.50"),
                t("happy"),
                TupleValue::Null,
                t("{a,\"b c\"}"),
            ]),
        })
    );
    assert_eq!(
        m[16],
        Message::Delete(Delete {
            xid: None,
            relation_id: BASIC,
            old: OldTuple::Key(tuple(vec![
                t("2"),
                TupleValue::Null,
                TupleValue::Null,
                TupleValue::Null,
                TupleValue::Null,
                TupleValue::Null,
            ])),
        })
    );
}

#[test]
fn v1_replica_identities() {
    let (decoder, m) = decode_file("v1.hex", 1);
    // FULL: every column is flagged as key, old rows come whole with 'O'.
    let full = relation_msg(&m[19]);
    assert_eq!(full.id, FULL_RI);
    assert_eq!(full.replica_identity, ReplicaIdentity::Full);
    assert_eq!(full.columns, vec![col(true, "id", INT4, -1), col(true, "v", TEXT, -1)]);
    assert_eq!(
        m[24],
        Message::Update(Update {
            xid: None,
            relation_id: FULL_RI,
            old: Some(OldTuple::Full(tuple(vec![t("1"), t("a")]))),
            new: tuple(vec![t("1"), t("b")]),
        })
    );
    assert_eq!(
        m[27],
        Message::Delete(Delete {
            xid: None,
            relation_id: FULL_RI,
            old: OldTuple::Full(tuple(vec![t("2"), TupleValue::Null])),
        })
    );
    // NOTHING: no key columns at all.
    let nothing = relation_msg(&m[30]);
    assert_eq!((nothing.id, nothing.replica_identity), (NOTHING_RI, ReplicaIdentity::Nothing));
    assert!(nothing.columns.iter().all(|c| !c.is_key));
    // USING INDEX on (a, b): exactly those two are key columns, and the old
    // key tuple has values for them only.
    let index = relation_msg(&m[34]);
    assert_eq!((index.id, index.replica_identity), (INDEX_RI, ReplicaIdentity::Index));
    assert_eq!(
        index.columns,
        vec![
            col(true, "a", INT4, -1),
            col(true, "b", INT4, -1),
            col(false, "c", TEXT, -1),
            col(false, "id", INT4, -1),
        ]
    );
    assert_eq!(
        m[38],
        Message::Update(Update {
            xid: None,
            relation_id: INDEX_RI,
            old: Some(OldTuple::Key(tuple(vec![
                t("1"),
                t("2"),
                TupleValue::Null,
                TupleValue::Null
            ]))),
            new: tuple(vec![t("5"), t("2"), t("y"), t("1")]),
        })
    );
    assert_eq!(
        m[41],
        Message::Delete(Delete {
            xid: None,
            relation_id: INDEX_RI,
            old: OldTuple::Key(tuple(vec![t("5"), t("2"), TupleValue::Null, TupleValue::Null])),
        })
    );
    assert!(decoder.relation(NOTHING_RI).is_some() && decoder.relation(INDEX_RI).is_some());
}

#[test]
fn v1_utf8_names_and_type_modifiers() {
    let (_, m) = decode_file("v1.hex", 1);
    assert_eq!(
        *relation_msg(&m[44]),
        Relation {
            id: UNICODE_TABLE,
            namespace: "gold ü".into(),
            name: "Täble".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![
                col(true, "id", INT8, -1),
                col(false, "ünïcode", VARCHAR, 24),
                col(false, "ts", TIMESTAMPTZ, -1),
            ],
        }
    );
    assert_eq!(
        m[45],
        Message::Insert(Insert {
            xid: None,
            relation_id: UNICODE_TABLE,
            new: tuple(vec![t("1"), t("grüße"), t("2024-02-29 12:34:56.789+00")]),
        })
    );
}

#[test]
fn v1_logical_messages() {
    let (_, m) = decode_file("v1.hex", 1);
    // Transactional: inside its transaction, flagged, at its own LSN.
    assert!(matches!(m[47], Message::Begin(Begin { xid: 818, .. })));
    assert_eq!(
        m[49],
        Message::LogicalMessage(LogicalMessage {
            xid: None,
            transactional: true,
            lsn: 0x19E_7B08,
            prefix: "p".into(),
            content: b"x".to_vec(),
        })
    );
    assert!(matches!(m[50], Message::Commit(_)));
    // Non-transactional: on its own, no Begin/Commit around it, binary
    // content kept as bytes.
    assert_eq!(
        m[51],
        Message::LogicalMessage(LogicalMessage {
            xid: None,
            transactional: false,
            lsn: 0x19E_7B78,
            prefix: "nontx".into(),
            content: vec![0x00, 0xff, 0x01],
        })
    );
    assert!(matches!(m[52], Message::Begin(_)));
}

#[test]
fn v1_truncate() {
    let (_, m) = decode_file("v1.hex", 1);
    // TRUNCATE resends the Relation messages first.
    assert_eq!(relation_msg(&m[53]).id, FULL_RI);
    assert_eq!(
        m[54],
        Message::Truncate(Truncate {
            xid: None,
            cascade: false,
            restart_identity: false,
            relation_ids: vec![FULL_RI],
        })
    );
    assert_eq!(relation_msg(&m[57]).id, NOTHING_RI);
    assert_eq!(relation_msg(&m[58]).id, INDEX_RI);
    assert_eq!(
        m[59],
        Message::Truncate(Truncate {
            xid: None,
            cascade: true,
            restart_identity: true,
            relation_ids: vec![NOTHING_RI, INDEX_RI],
        })
    );
}

#[test]
fn v1_origin() {
    let (_, m) = decode_file("v1.hex", 1);
    // pg_replication_origin_xact_setup('0/12345678', '2024-01-02 03:04:05+00'):
    // the Begin and Commit carry the origin's commit time.
    let origin_time = unix_micros_to_pg(1_704_164_645_000_000);
    assert_eq!(
        m[61],
        Message::Begin(Begin { final_lsn: 0x19E_ACD0, commit_time: origin_time, xid: 823 })
    );
    assert_eq!(
        m[62],
        Message::Origin(Origin { commit_lsn: 0x1234_5678, name: "gold_origin".into() })
    );
    assert!(matches!(&m[64], Message::Insert(i) if i.new == tuple(vec![t("4"), t("from origin")])));
    assert_eq!(
        m[65],
        Message::Commit(Commit {
            commit_lsn: 0x19E_ACD0,
            end_lsn: 0x19E_AD18,
            commit_time: origin_time,
        })
    );
    assert_eq!(m.len(), 66);
}

#[test]
fn v1_binary_values() {
    let (_, text) = decode_file("v1.hex", 1);
    let (_, bin) = decode_file("v1-binary.hex", 1);
    assert_eq!(text.len(), bin.len());
    // Same WAL: everything but the tuple values is identical.
    for (i, (a, b)) in text.iter().zip(&bin).enumerate() {
        if matches!(a, Message::Begin(_) | Message::Commit(_) | Message::Relation { .. }) {
            assert_eq!(a, b, "message {i}");
        }
    }
    assert_eq!(
        bin[3],
        Message::Insert(Insert {
            xid: None,
            relation_id: BASIC,
            new: tuple(vec![
                b(&[0, 0, 0, 1]),
                b(b"alice"),
                // numeric_send 12.50: ndigits 2, weight 0, sign +, dscale 2,
                // base-10000 digits 12, 5000
                b(&[0, 2, 0, 0, 0, 0, 0, 2, 0, 12, 0x13, 0x88]),
                b(b"happy"),
                TupleValue::Null,
                // array_send: 1 dimension, no nulls, element type varchar
                b(&[
                    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, 0x13, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1,
                    b'a', 0, 0, 0, 3, b'b', b' ', b'c',
                ]),
            ]),
        })
    );
    // 'u' does not depend on the value format.
    assert!(matches!(&bin[10], Message::Update(u) if u.new.0[4] == TupleValue::UnchangedToast));
    // timestamptz_send is µs since 2000-01-01, the same epoch as the
    // protocol's own timestamps.
    let Message::Insert(insert) = &bin[45] else { panic!("{:?}", bin[45]) };
    let TupleValue::Binary(ts) = &insert.new.0[2] else { panic!("{:?}", insert.new.0[2]) };
    let ts = i64::from_be_bytes(ts.as_slice().try_into().expect("8 bytes"));
    assert_eq!(pg_micros_to_unix(ts), 1_709_210_096_789_000); // 2024-02-29T12:34:56.789Z
}

// ------------------------------------------------------- v2 streaming -----

#[test]
fn v2_streamed_commit() {
    let mut decoder = Decoder::new(2).expect("v2");
    let msgs = golden("v2-stream.hex");
    let mut m = Vec::new();
    for (i, bytes) in msgs.iter().enumerate() {
        m.push(decoder.decode(bytes).unwrap_or_else(|e| panic!("message {i}: {e}")));
        // The decoder tracks the block: true from Stream Start to Stream Stop.
        let expect_in_stream = !matches!(
            &m[i],
            Message::StreamStop | Message::StreamCommit(_) | Message::StreamAbort(_)
        );
        assert_eq!(decoder.in_stream(), expect_in_stream, "after message {i}");
    }
    assert_eq!(m[0], Message::StreamStart(StreamStart { xid: 824, first_segment: true }));
    // Inside a block the data messages carry the xid.
    assert_eq!(
        m[1],
        Message::Type(TypeMessage {
            xid: Some(824),
            id: MOOD,
            namespace: "gold".into(),
            name: "mood".into(),
        })
    );
    assert_eq!(
        m[2],
        Message::Relation {
            xid: Some(824),
            relation: Relation {
                id: STREAM,
                namespace: "gold".into(),
                name: "stream".into(),
                replica_identity: ReplicaIdentity::Default,
                columns: vec![
                    col(true, "id", INT4, -1),
                    col(false, "v", TEXT, -1),
                    col(false, "m", MOOD, -1),
                ],
            },
        }
    );
    assert_eq!(
        m[3],
        Message::Insert(Insert {
            xid: Some(824),
            relation_id: STREAM,
            new: tuple(vec![t("1"), t("r1"), t("ok")]),
        })
    );
    assert_eq!(m[9], Message::StreamStop);
    assert_eq!(m[10], Message::StreamStart(StreamStart { xid: 824, first_segment: false }));
    assert_eq!(
        m[25],
        Message::LogicalMessage(LogicalMessage {
            xid: Some(824),
            transactional: true,
            lsn: 0x1A0_C940,
            prefix: "wm".into(),
            content: b"in stream".to_vec(),
        })
    );
    assert_eq!(
        m[26],
        Message::Update(Update {
            xid: Some(824),
            relation_id: STREAM,
            old: None,
            new: tuple(vec![t("1"), t("updated"), t("ok")]),
        })
    );
    assert_eq!(
        m[28],
        Message::Delete(Delete {
            xid: Some(824),
            relation_id: STREAM,
            old: OldTuple::Key(tuple(vec![t("3"), TupleValue::Null, TupleValue::Null])),
        })
    );
    assert_eq!(
        m[30],
        Message::Truncate(Truncate {
            xid: Some(824),
            cascade: false,
            restart_identity: false,
            relation_ids: vec![FULL_RI],
        })
    );
    assert_eq!(m[31], Message::StreamStop);
    assert_eq!(
        m[32],
        Message::StreamCommit(StreamCommit {
            xid: 824,
            commit_lsn: 0x1A0_D6A0,
            end_lsn: 0x1A0_D810,
            commit_time: 848_688_446_037_978,
        })
    );
}

#[test]
fn v2_streamed_aborts() {
    let (decoder, m) = decode_file("v2-stream.hex", 2);
    // A whole streamed transaction rolled back: subxid = xid.
    assert_eq!(
        m[51],
        Message::StreamAbort(StreamAbort { xid: 825, subxid: 825, abort_info: None })
    );
    // ROLLBACK TO SAVEPOINT of a streamed subtransaction: the inserts made
    // in the subtransaction carry its xid (827), not the top-level one...
    assert!(matches!(&m[65], Message::Insert(i) if i.xid == Some(826)));
    assert!(matches!(&m[66], Message::Insert(i) if i.xid == Some(827)));
    assert_eq!(
        m[78],
        Message::StreamAbort(StreamAbort { xid: 826, subxid: 827, abort_info: None })
    );
    // ...and work after the rollback runs in a new subtransaction (828),
    // in a later block of the same top-level transaction.
    assert_eq!(m[79], Message::StreamStart(StreamStart { xid: 826, first_segment: false }));
    assert_eq!(
        m[82],
        Message::Insert(Insert {
            xid: Some(828),
            relation_id: STREAM,
            new: tuple(vec![t("4000"), t("after rollback to savepoint"), TupleValue::Null]),
        })
    );
    assert!(matches!(m[84], Message::StreamCommit(StreamCommit { xid: 826, .. })));
    assert!(!decoder.in_stream());
}

#[test]
fn v2_stream_bytes_are_misread_without_stream_state() {
    // The same Insert bytes mean something else outside a block: the xid
    // would be read as the relation OID. The decoder must know the state.
    let msgs = golden("v2-stream.hex");
    let mut decoder = Decoder::new(2).expect("v2");
    for bytes in &msgs[..3] {
        decoder.decode(bytes).expect("Stream Start, Type, Relation");
    }
    assert!(decoder.relation(STREAM).is_some());
    decoder.decode(b"E").expect("Stream Stop");
    let err = decoder.decode(&msgs[3]).expect_err("no longer in the block");
    assert_eq!(err.kind, DecodeErrorKind::UnknownRelation { oid: 824 });
}

// ------------------------------------------------------- v3 two-phase -----

#[test]
fn v3_two_phase() {
    let (_, m) = decode_file("v3-twophase.hex", 3);
    let begin = PreparedTransaction {
        prepare_lsn: 0x1A6_2350,
        end_lsn: 0x1A6_2450,
        prepare_time: 848_688_446_322_107,
        xid: 829,
        gid: "gold_gid_1".into(),
    };
    assert_eq!(m[0], Message::BeginPrepare(begin.clone()));
    assert_eq!(
        m[2],
        Message::Insert(Insert {
            xid: None,
            relation_id: FULL_RI,
            new: tuple(vec![t("10"), t("prepared")]),
        })
    );
    // Begin Prepare announces the positions that Prepare then confirms.
    assert_eq!(m[3], Message::Prepare(begin));
    assert_eq!(
        m[4],
        Message::CommitPrepared(CommitPrepared {
            commit_lsn: 0x1A6_2450,
            end_lsn: 0x1A6_2490,
            commit_time: 848_688_446_322_277,
            xid: 829,
            gid: "gold_gid_1".into(),
        })
    );
    assert!(
        matches!(&m[7], Message::Prepare(p) if p.gid == "gold_gid_2" && p.end_lsn == 0x1A6_2628)
    );
    assert_eq!(
        m[8],
        Message::RollbackPrepared(RollbackPrepared {
            prepare_end_lsn: 0x1A6_2628,
            rollback_end_lsn: 0x1A6_2668,
            prepare_time: 848_688_446_322_503,
            rollback_time: 848_688_446_322_563,
            xid: 830,
            gid: "gold_gid_2".into(),
        })
    );
    // A prepared transaction big enough to be streamed.
    assert_eq!(m[9], Message::StreamStart(StreamStart { xid: 831, first_segment: true }));
    assert!(matches!(&m[12], Message::Insert(i) if i.xid == Some(831)));
    assert_eq!(m[34], Message::StreamStop);
    assert_eq!(
        m[35],
        Message::StreamPrepare(PreparedTransaction {
            prepare_lsn: 0x1A8_4428,
            end_lsn: 0x1A8_4528,
            prepare_time: 848_688_446_326_090,
            xid: 831,
            gid: "gold_gid_3".into(),
        })
    );
    assert_eq!(
        m[36],
        Message::CommitPrepared(CommitPrepared {
            commit_lsn: 0x1A8_4528,
            end_lsn: 0x1A8_4568,
            commit_time: 848_688_446_326_371,
            xid: 831,
            gid: "gold_gid_3".into(),
        })
    );
}

#[test]
fn later_versions_decode_earlier_captures() {
    // Nothing in v1..v3 changes in later versions, so a v4 decoder reads
    // every capture the same way.
    for (file, version) in [("v1.hex", 1), ("v2-stream.hex", 2), ("v3-twophase.hex", 3)] {
        let (_, expected) = decode_file(file, version);
        for later in version + 1..=MAX_PROTOCOL_VERSION {
            assert_eq!(decode_file(file, later).1, expected, "{file} as v{later}");
        }
    }
}

#[test]
fn earlier_versions_reject_later_messages() {
    let msgs = golden("v2-stream.hex");
    let err = Decoder::new(1).expect("v1").decode(&msgs[0]).expect_err("S in v1");
    assert_eq!(
        err.to_string(),
        "pgoutput Stream Start at byte 0: Stream Start messages need protocol version 2, \
         the decoder was set up for version 1"
    );
    let msgs = golden("v3-twophase.hex");
    let err = Decoder::new(2).expect("v2").decode(&msgs[0]).expect_err("b in v2");
    assert!(matches!(
        err.kind,
        DecodeErrorKind::NotInProtocolVersion { required: 3, negotiated: 2, .. }
    ));
}

// ------------------------------------------------------------ CopyData ----

#[test]
fn copydata_frames() {
    let frames = golden("copydata.hex");
    let decoded: Vec<CopyData<'_>> =
        frames.iter().map(|f| decode_copy_data(f).expect("frame")).collect();
    assert_eq!(
        decoded[0],
        CopyData::PrimaryKeepalive(PrimaryKeepalive {
            wal_end: 0x1AA_5FD8,
            send_time: 848_688_482_116_038,
            reply_requested: false,
        })
    );
    let mut decoder = Decoder::new(1).expect("v1");
    let mut pgoutput = Vec::new();
    for frame in &decoded[1..5] {
        let CopyData::XLogData(x) = frame else { panic!("{frame:?}") };
        pgoutput.push((x.wal_start, x.wal_end, decoder.decode(x.data).expect("pgoutput")));
    }
    assert!(matches!(
        pgoutput[0],
        (0x1AA_5FD8, 0x1AA_5FD8, Message::Begin(Begin { xid: 843, final_lsn: 0x1AA_60D8, .. }))
    ));
    // The Relation message's frame has no WAL position at all.
    assert!(matches!(&pgoutput[1], (0, 0, Message::Relation { relation, .. })
        if relation.namespace == "public" && relation.name == "gold_cd"));
    assert!(matches!(&pgoutput[2], (0x1AA_5FD8, 0x1AA_5FD8, Message::Insert(i))
        if i.new == tuple(vec![t("1"), t("hello")])));
    // The Commit's frame is labelled with the commit's end_lsn.
    assert!(matches!(
        pgoutput[3],
        (
            0x1AA_6108,
            0x1AA_6108,
            Message::Commit(Commit { commit_lsn: 0x1AA_60D8, end_lsn: 0x1AA_6108, .. })
        )
    ));
    // Keepalives after the transaction report at least its end.
    for frame in &decoded[5..] {
        let CopyData::PrimaryKeepalive(k) = frame else { panic!("{frame:?}") };
        assert!(k.wal_end >= 0x1AA_6108);
    }
    // The last one asks for a reply (half of wal_sender_timeout passed).
    assert_eq!(
        decoded.last(),
        Some(&CopyData::PrimaryKeepalive(PrimaryKeepalive {
            wal_end: 0x1AB_33F8,
            send_time: 848_688_512_118_969,
            reply_requested: true,
        }))
    );
    // Server clock at capture time, through the epoch helper: a plausible
    // Unix time (after 2020-01-01).
    assert!(pg_micros_to_unix(848_688_482_116_038) > 1_577_836_800_000_000);
}

// ------------------------------------------------------------ prefixes ----

/// Every proper prefix of every golden message fails, with the decoder in
/// the state it had before that message, and leaves that state untouched.
#[test]
fn every_prefix_of_every_message_is_an_error() {
    let mut checked = 0usize;
    for (file, version) in
        [("v1.hex", 1), ("v1-binary.hex", 1), ("v2-stream.hex", 2), ("v3-twophase.hex", 3)]
    {
        let mut decoder = Decoder::new(version).expect("version");
        for (i, msg) in golden(file).iter().enumerate() {
            for len in 0..msg.len() {
                let before = decoder.clone();
                let mut probe = decoder.clone();
                let err = probe
                    .decode(&msg[..len])
                    .expect_err(&format!("{file} message {i}, prefix {len}"));
                assert!(
                    matches!(
                        err.kind,
                        DecodeErrorKind::Empty
                            | DecodeErrorKind::Truncated { .. }
                            | DecodeErrorKind::UnterminatedString { .. }
                    ),
                    "{file} message {i}, prefix {len}: {err}"
                );
                assert!(err.offset <= len, "{file} message {i}: offset past the input");
                assert_eq!(probe, before, "{file} message {i}: state changed on error");
                checked += 1;
            }
            decoder.decode(msg).expect("whole message");
        }
    }
    assert!(checked > 15_000, "only {checked} prefixes");
}

#[test]
fn every_prefix_of_every_copydata_frame() {
    for frame in golden("copydata.hex") {
        for len in 0..frame.len() {
            let prefix = &frame[..len];
            match decode_copy_data(prefix) {
                // An XLogData frame is self-delimiting only up to its
                // header; a shorter body is the pgoutput decoder's to catch.
                Ok(CopyData::XLogData(x)) => {
                    assert!(len >= 25);
                    assert_eq!(x.data, &frame[25..len]);
                    let mut decoder = Decoder::new(1).expect("v1");
                    assert!(decoder.decode(x.data).is_err());
                }
                Ok(other) => panic!("prefix {len} of {frame:?} decoded as {other:?}"),
                Err(e) => assert!(
                    matches!(e.kind, DecodeErrorKind::Empty | DecodeErrorKind::Truncated { .. }),
                    "{e}"
                ),
            }
        }
    }
}
