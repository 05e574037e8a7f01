//! Debezium's transaction metadata as read back after faults: the
//! numbers a change got, and the BEGIN/END records of its transaction.

use super::*;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

/// What a change was given: its transaction, `total_order`,
/// `data_collection_order`, table and place in the log.
type Numbers = (String, i64, i64, String, (i64, i64));

/// A transaction's END: `event_count` and the count per table.
type End = (i64, BTreeMap<String, i64>);

/// A change's identity (table, operation, source position) and its place
/// in the log (PostgreSQL: LSN; MySQL/MariaDB: event position and row).
fn identity(v: &Json) -> (String, (i64, i64)) {
    let s = &v["source"];
    let at = match s["lsn"].as_i64() {
        Some(lsn) => (lsn, 0),
        None => (s["pos"].as_i64().unwrap(), s["row"].as_i64().unwrap()),
    };
    (format!("{} {} {:?}", table_of(s), v["op"], at), at)
}

/// `schema.table` (PostgreSQL) or `database.table`, as Debezium names the
/// data collection.
fn table_of(source: &Json) -> String {
    let ns = source.get("schema").unwrap_or(&source["db"]);
    format!("{}.{}", ns.as_str().unwrap(), source["table"].as_str().unwrap())
}

/// The transaction a change or BEGIN/END belongs to: PostgreSQL ids are
/// `<xid>:<lsn>` (the LSN differs within one), others the GTID.
fn raw_tx(id: &str) -> String {
    match id.split_once(':') {
        Some((xid, _)) if xid.bytes().all(|b| b.is_ascii_digit()) => xid.to_string(),
        _ => id.to_string(),
    }
}

/// Checks the transaction metadata of `changes` (records of the change
/// topics, a change possibly delivered twice) against `txs` (the
/// transaction topic): a change resent carries the numbers it had; each
/// transaction's `total_order` runs 1..N in log order, its
/// `data_collection_order` 1..n per table; each of its ENDs says N and the
/// per-table counts; it has a BEGIN. Returns a summary.
pub fn check_transaction_numbers(changes: &[Got], txs: &[Got]) -> String {
    // identity -> (tx, total_order, dc_order, table, log place)
    let mut seen: BTreeMap<String, Numbers> = BTreeMap::new();
    let mut twice = 0;
    for g in changes.iter().filter(|g| g.value.is_some()) {
        let v = g.value_json();
        let block = &v["transaction"];
        assert!(block.is_object(), "a streamed change without a transaction block: {v}");
        let (id, at) = identity(&v);
        let tx = raw_tx(block["id"].as_str().unwrap());
        let numbers = (
            tx,
            block["total_order"].as_i64().unwrap(),
            block["data_collection_order"].as_i64().unwrap(),
            table_of(&v["source"]),
            at,
        );
        match seen.get(&id) {
            Some(first) => {
                assert_eq!(first, &numbers, "{id} numbered differently when sent again");
                twice += 1;
            }
            None => {
                seen.insert(id, numbers);
            }
        }
    }
    let mut per_tx: BTreeMap<String, Vec<(i64, i64, i64, String)>> = BTreeMap::new();
    for (tx, total, dc, table, at) in seen.values() {
        per_tx.entry(tx.clone()).or_default().push((
            at.0 * 1_000_000 + at.1,
            *total,
            *dc,
            table.clone(),
        ));
    }
    let (begins, ends) = boundaries(txs);
    for (tx, mut list) in per_tx.clone() {
        list.sort();
        let totals: Vec<i64> = list.iter().map(|c| c.1).collect();
        let want: Vec<i64> = (1..=list.len() as i64).collect();
        assert_eq!(totals, want, "transaction {tx}: total_order in log order");
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for (_, _, dc, table) in &list {
            let n = counts.entry(table.clone()).or_insert(0);
            *n += 1;
            assert_eq!(*dc, *n, "transaction {tx}: data_collection_order of {table} in log order");
        }
        assert!(begins.contains(&tx), "transaction {tx} has no BEGIN");
        let end = ends.get(&tx).unwrap_or_else(|| panic!("transaction {tx} has no END"));
        assert_eq!(end.0, list.len() as i64, "transaction {tx}: END's event_count");
        assert_eq!(end.1, counts, "transaction {tx}: END's data_collections");
    }
    format!(
        "{} changes ({twice} delivered again) in {} transactions numbered as Debezium numbers them",
        seen.len(),
        per_tx.len()
    )
}

/// The transactions with a BEGIN, and each END's (event_count, per-table
/// counts), checking that an END sent twice says the same.
fn boundaries(txs: &[Got]) -> (BTreeSet<String>, BTreeMap<String, End>) {
    let mut begins = BTreeSet::new();
    let mut ends: BTreeMap<String, End> = BTreeMap::new();
    for g in txs.iter().filter(|g| g.value.is_some()) {
        let v = g.value_json();
        let tx = raw_tx(v["id"].as_str().unwrap());
        if v["status"] == "BEGIN" {
            begins.insert(tx);
            continue;
        }
        let collections = v["data_collections"].as_array().unwrap().iter();
        let counts = collections
            .map(|c| {
                (
                    c["data_collection"].as_str().unwrap().to_string(),
                    c["event_count"].as_i64().unwrap(),
                )
            })
            .collect();
        let end = (v["event_count"].as_i64().unwrap(), counts);
        if let Some(first) = ends.get(&tx) {
            assert_eq!(first, &end, "transaction {tx}: two ENDs differ");
        }
        ends.insert(tx, end);
    }
    (begins, ends)
}
