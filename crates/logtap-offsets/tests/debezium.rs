//! Debezium offsets (in the shapes Debezium 3.6 stores them) to logtap
//! positions, and the choice among a store's records.

#![allow(clippy::unwrap_used)]

use logtap_core::{Lsn, PgTxProgress, SourcePosition};
use logtap_offsets::debezium::{self, DebeziumConnector, DebeziumOffsetError};
use serde_json::{json, Map, Value};

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn record(name: &str, server: &str, value: Option<Value>) -> debezium::Record {
    let key = json!([name, {"server": server}]).to_string().into_bytes();
    (Some(key), value.map(|v| v.to_string().into_bytes()))
}

#[test]
fn postgres_inside_a_transaction_resumes_after_its_last_change() {
    let o = map(json!({"lsn_proc": 5000, "lsn": 5000, "txId": 760, "ts_usec": 1,
        "lsn_commit": 4000, "messageType": "UPDATE"}));
    let p = debezium::to_position(DebeziumConnector::Postgres, &o).unwrap();
    let tx = Some(PgTxProgress::Through { sent_through: Lsn(5000), xid: 760 });
    assert_eq!(p, SourcePosition::Postgres { lsn: Lsn(4000), tx });
}

#[test]
fn postgres_after_a_commit_or_a_snapshot_resumes_at_the_next_transaction() {
    let o = map(json!({"lsn_proc": 6000, "lsn": 6000, "txId": 760, "lsn_commit": 6000,
        "messageType": "COMMIT"}));
    let p = debezium::to_position(DebeziumConnector::Postgres, &o).unwrap();
    assert_eq!(p, SourcePosition::Postgres { lsn: Lsn(6000), tx: None });
    // Right after Debezium's snapshot: only `lsn` (and it resends all after).
    let o = map(json!({"lsn": 486867208, "txId": 48233, "ts_usec": 1796631578900976i64}));
    let p = debezium::to_position(DebeziumConnector::Postgres, &o).unwrap();
    assert_eq!(p, SourcePosition::Postgres { lsn: Lsn(486867208), tx: None });
}

#[test]
fn mysql_keeps_debeziums_event_and_row_counts() {
    let o = map(json!({"file": "binlog.000003", "pos": 1234, "gtids": "u:1-10,\nv:1-3",
        "event": 3, "row": 2, "ts_sec": 1, "server_id": 1}));
    let p = debezium::to_position(DebeziumConnector::Mysql, &o).unwrap();
    assert_eq!(
        p,
        SourcePosition::Mysql {
            file: "binlog.000003".into(),
            pos: 1234,
            gtid_set: Some("u:1-10,v:1-3".into()),
            skip_events: 3,
            skip_rows: 2,
            debezium_events: true,
        }
    );
}

#[test]
fn mariadb_offsets_have_the_mysql_shape_with_domain_server_seq_gtids() {
    let o = map(json!({"file": "mariadb-bin.000002", "pos": 4321, "gtids": "0-1-25",
        "event": 2, "ts_sec": 1, "server_id": 1}));
    let p = debezium::to_position(DebeziumConnector::Mysql, &o).unwrap();
    let SourcePosition::Mysql { gtid_set, skip_events, skip_rows, debezium_events, .. } = p else {
        panic!("{p:?}")
    };
    assert_eq!(
        (gtid_set.as_deref(), skip_events, skip_rows, debezium_events),
        (Some("0-1-25"), 2, 0, true)
    );
}

#[test]
fn snapshots_in_progress_and_foreign_offsets_are_refused() {
    let o = map(json!({"lsn": 1, "snapshot": "INITIAL", "last_snapshot_record": false}));
    let e = debezium::to_position(DebeziumConnector::Postgres, &o).unwrap_err();
    assert!(matches!(e, DebeziumOffsetError::SnapshotInProgress(_)), "{e}");
    let o = map(json!({"file": "b.1", "pos": 4, "incremental_snapshot_collections": "x"}));
    let e = debezium::to_position(DebeziumConnector::Mysql, &o).unwrap_err();
    assert_eq!(e, DebeziumOffsetError::IncrementalSnapshotInProgress);
    let o = map(json!({"file": "b.1", "pos": 4}));
    let e = debezium::to_position(DebeziumConnector::Postgres, &o).unwrap_err();
    assert!(e.to_string().contains("not a PostgreSQL connector's offset"), "{e}");
}

#[test]
fn the_last_record_of_a_key_wins_and_a_null_deletes() {
    let stored = debezium::latest(vec![
        record("a", "p", Some(json!({"lsn": 1}))),
        record("a", "p", Some(json!({"lsn": 2}))),
        record("b", "p", Some(json!({"lsn": 3}))),
        record("b", "p", None),
        (Some(b"not a partition".to_vec()), Some(b"{}".to_vec())),
    ]);
    assert_eq!(stored.len(), 1);
    let got = debezium::pick(&stored, "p", None).unwrap();
    assert_eq!(got.offset["lsn"], 2);
    let e = debezium::pick(&stored, "q", None).unwrap_err();
    assert!(e.to_string().contains("connector `a` with topic.prefix `p`"), "{e}");
    let two = debezium::latest(vec![
        record("a", "p", Some(json!({"lsn": 1}))),
        record("b", "p", Some(json!({"lsn": 3}))),
    ]);
    assert!(matches!(debezium::pick(&two, "p", None), Err(DebeziumOffsetError::Ambiguous { .. })));
    assert_eq!(debezium::pick(&two, "p", Some("b")).unwrap().offset["lsn"], 3);
}

#[test]
fn positions_go_back_to_debeziums_offsets() {
    let p = SourcePosition::Postgres { lsn: Lsn(4000), tx: None };
    let (o, caveat) = debezium::from_position(&p);
    assert_eq!((o["lsn"].as_u64(), o.get("lsn_proc"), caveat), (Some(4000), None, None));
    assert_eq!(debezium::to_position(DebeziumConnector::Postgres, &o).unwrap(), p);
    let through = SourcePosition::Postgres {
        lsn: Lsn(4000),
        tx: Some(PgTxProgress::Through { sent_through: Lsn(5000), xid: 7 }),
    };
    let (o, _) = debezium::from_position(&through);
    assert_eq!(debezium::to_position(DebeziumConnector::Postgres, &o).unwrap(), through);
    let mid = SourcePosition::Postgres {
        lsn: Lsn(4000),
        tx: Some(PgTxProgress::Changes { commit_lsn: Lsn(6000), changes: 3 }),
    };
    let (o, caveat) = debezium::from_position(&mid);
    assert!(caveat.unwrap().contains("again from its start"));
    assert_eq!(
        debezium::to_position(DebeziumConnector::Postgres, &o).unwrap(),
        SourcePosition::Postgres { lsn: Lsn(4000), tx: None }
    );
    let my = SourcePosition::Mysql {
        file: "binlog.000003".into(),
        pos: 1234,
        gtid_set: Some("u:1-10".into()),
        skip_events: 2,
        skip_rows: 1,
        debezium_events: false,
    };
    let (o, caveat) = debezium::from_position(&my);
    assert!(caveat.is_some() && o.get("event").is_none(), "{o:?}");
    assert_eq!(
        String::from_utf8(debezium::partition_key("c", "p")).unwrap(),
        r#"["c",{"server":"p"}]"#
    );
}
