//! The state machine driven by recorded pgoutput messages (protocol v1,
//! PostgreSQL 15, `logtap-pgoutput/tests/golden/v1.hex`), no server:
//! checkpoints at commits and keepalives, key changes, TOAST, the catalog
//! questions it asks.

use super::*;
use crate::catalog::{CatalogColumn, CatalogType};

/// The recorded messages, each given the LSN of its position in the file
/// (the file has no XLogData headers; Begin and Commit carry their own).
fn recorded() -> Vec<(u64, Vec<u8>)> {
    let text = include_str!("../../logtap-pgoutput/tests/golden/v1.hex");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
        .map(|(i, l)| {
            let bytes = (0..l.len())
                .step_by(2)
                .map(|j| u8::from_str_radix(&l[j..j + 2], 16).unwrap())
                .collect();
            (0x1000 + i as u64, bytes)
        })
        .collect()
}

fn machine(extra: &str) -> PgMachine {
    let cfg: PostgresConfig = toml::from_str(&format!(
        "host = \"h\"\nuser = \"u\"\ndatabase = \"logtap\"\ntable_include_list = [\"gold.basic\", \"gold.full_ri\"]\n{extra}"
    ))
    .unwrap();
    let opts = TypeOptions::from_config(&cfg);
    PgMachine::new(cfg, "gp", Decoder::new(1).unwrap(), opts, 0)
}

/// The catalog, as the driver would answer it: `id` is the key and NOT NULL,
/// `name` defaults to 'anon'; the enum `gold.mood`.
fn answer(m: &mut PgMachine, need: Need, asked: &mut Vec<String>) {
    match need {
        Need::Shape(rel) => {
            asked.push(format!("shape {}.{}", rel.namespace, rel.name));
            let columns = rel
                .columns
                .iter()
                .map(|c| CatalogColumn {
                    name: c.name.clone(),
                    not_null: c.name == "id",
                    default_expr: (c.name == "name").then(|| "'anon'::text".to_string()),
                })
                .collect();
            m.shape_read(rel, (columns, vec!["id".to_string()]));
        }
        Need::Types(oid) => {
            asked.push(format!("type {oid}"));
            let mood = CatalogType {
                oid,
                name: "mood".into(),
                typtype: 'e',
                element: 0,
                base: 0,
                base_typmod: -1,
                labels: vec!["sad".into(), "ok".into(), "happy".into()],
            };
            m.types_read(oid, vec![mood]);
        }
    }
}

/// Runs the messages (a keepalive after each, at the message's LSN) and
/// returns the items as text lines and the questions asked.
fn run(m: &mut PgMachine) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut asked = Vec::new();
    for (lsn, data) in recorded() {
        while let Some(need) = m.input(Input::XLogData { wal_start: lsn, data: &data }).unwrap() {
            answer(m, need, &mut asked);
        }
        m.input(Input::Keepalive { wal_end: lsn }).unwrap();
        while let Some(item) = m.pending.pop_front() {
            out.push(describe(&item));
        }
    }
    (out, asked)
}

fn describe(item: &SourceItem) -> String {
    use logtap_core::envelope::struct_json;
    match item {
        SourceItem::Change(e) => format!(
            "{} {} key={} before={} after={}{}",
            e.op.code(),
            e.table,
            e.key.as_ref().map_or("null".into(), |k| struct_json(k).to_string()),
            e.before.as_ref().map_or("null".into(), |s| struct_json(s).to_string()),
            e.after.as_ref().map_or("null".into(), |s| struct_json(s).to_string()),
            e.headers.iter().map(|(k, _)| format!(" +{k}")).collect::<String>(),
        ),
        SourceItem::SchemaChange(_) => "schema change".into(),
        SourceItem::Checkpoint(p) => format!("at {p}"),
    }
}

#[test]
fn changes_come_with_checkpoints_at_commits_key_changes_and_toast() {
    let (out, _) = run(&mut machine(""));
    assert_eq!(
        out[..3],
        [
            r#"c gold.basic key={"id":1} before=null after={"id":1,"name":"alice","score":"BOI=","m":"happy","big":null,"tags":["a","b c"]}"#,
            // `name` is NULL: written as the column's default, as Kafka
            // Connect's JsonConverter writes Debezium's records.
            r#"c gold.basic key={"id":2} before=null after={"id":2,"name":"anon","score":null,"m":null,"big":null,"tags":null}"#,
            "at lsn 0/19E5B80",
        ],
        "{out:#?}"
    );
    // An update that leaves a TOASTed value unchanged.
    assert!(
        out.iter().any(|l| l.starts_with(r#"u gold.basic key={"id":3}"#)
            && l.contains(r#""big":"__debezium_unavailable_value""#)),
        "{out:#?}"
    );
    // An update of the key: delete of the old key, create of the new one,
    // with Debezium's headers, then the commit.
    let d = out.iter().position(|l| l.starts_with(r#"d gold.basic key={"id":1}"#)).unwrap();
    assert!(out[d].ends_with("+__debezium.newkey"), "{}", out[d]);
    assert!(out[d + 1].starts_with(r#"c gold.basic key={"id":10}"#), "{}", out[d + 1]);
    assert!(out[d + 1].ends_with("+__debezium.oldkey"), "{}", out[d + 1]);
    assert_eq!(out[d + 2], "at lsn 0/19E72F8");
    // REPLICA IDENTITY FULL: whole before images.
    assert!(
        out.contains(
            &r#"u gold.full_ri key={"id":1} before={"id":1,"v":"a"} after={"id":1,"v":"b"}"#
                .to_string()
        ),
        "{out:#?}"
    );
    assert!(
        out.contains(&"t gold.full_ri key=null before=null after=null".to_string()),
        "{out:#?}"
    );
    // Tables not captured give nothing; checkpoints only move forward.
    assert!(!out.iter().any(|l| l.contains("nothing_ri") || l.contains("index_ri")), "{out:#?}");
    let lsns: Vec<&String> = out.iter().filter(|l| l.starts_with("at ")).collect();
    assert!(lsns.windows(2).all(|w| w[0] < w[1]), "{lsns:#?}");
}

#[test]
fn keepalives_are_checkpoints_only_between_transactions_and_only_forward() {
    let mut m = machine("");
    let mut asked = Vec::new();
    let msgs = recorded();
    let mut feed = |m: &mut PgMachine, i: usize| {
        let (lsn, data) = &msgs[i];
        while let Some(need) = m.input(Input::XLogData { wal_start: *lsn, data }).unwrap() {
            answer(m, need, &mut asked);
        }
    };
    let drain = |m: &mut PgMachine| m.pending.drain(..).map(|i| describe(&i)).collect::<Vec<_>>();
    feed(&mut m, 0); // Begin
    m.input(Input::Keepalive { wal_end: 0x0200_0000 }).unwrap();
    assert!(drain(&mut m).is_empty(), "a keepalive inside a transaction is no checkpoint");
    for i in 1..=5 {
        feed(&mut m, i); // Type, Relation, two Inserts, Commit
    }
    assert_eq!(drain(&mut m).last().unwrap(), "at lsn 0/19E5B80");
    m.input(Input::Keepalive { wal_end: 0x19E_5B00 }).unwrap();
    assert!(drain(&mut m).is_empty(), "a keepalive behind the last checkpoint is none");
    m.input(Input::Keepalive { wal_end: 0x200_0000 }).unwrap();
    assert_eq!(drain(&mut m), ["at lsn 0/2000000"]);
}

#[test]
fn the_catalog_is_asked_before_anything_changes() {
    let mut m = machine("");
    let msgs = recorded();
    let (lsn, relation) = &msgs[2];
    let input = Input::XLogData { wal_start: *lsn, data: relation };
    // Unanswered, the same question comes back and nothing is yielded.
    for _ in 0..2 {
        assert!(matches!(m.input(input).unwrap(), Some(Need::Shape(r)) if r.name == "basic"));
        assert!(m.pending.is_empty());
    }
    let (_, asked) = run(&mut machine(""));
    assert_eq!(asked[..3], ["shape gold.basic", "type 16468", "shape gold.full_ri"], "{asked:#?}");
    // The enum type is asked for once.
    assert_eq!(asked.iter().filter(|a| a.starts_with("type")).count(), 1, "{asked:#?}");
}

#[test]
fn a_column_of_a_type_the_catalog_does_not_have_is_left_out() {
    let mut m = machine("");
    let mut out = Vec::new();
    for (lsn, data) in recorded().into_iter().take(6) {
        while let Some(need) = m.input(Input::XLogData { wal_start: lsn, data: &data }).unwrap() {
            match need {
                Need::Types(oid) => m.types_read(oid, vec![]),
                other => answer(&mut m, other, &mut Vec::new()),
            }
        }
        out.extend(m.pending.drain(..).map(|i| describe(&i)));
    }
    assert_eq!(
        out[0],
        r#"c gold.basic key={"id":1} before=null after={"id":1,"name":"alice","score":"BOI=","big":null,"tags":["a","b c"]}"#
    );
}
