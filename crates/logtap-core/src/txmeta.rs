//! Debezium's transaction metadata (`provide.transaction.metadata`): a
//! BEGIN and an END record per source transaction on `<prefix>.transaction`,
//! and the `transaction` block (`id`, `total_order`,
//! `data_collection_order`) in each change record.
//!
//! The sources say where transactions begin and end ([`TxBoundary`]) and
//! give each change its transaction's id; the [`TxMonitor`] counts, as
//! Debezium's `TransactionMonitor` does, in the one place every source's
//! items pass (the pipeline, after skipped operations are dropped: a skipped
//! change is not counted, as in Debezium). Its counts of an open transaction
//! travel with each checkpoint and are stored with the position
//! ([`TxProgress`]), as Debezium stores them in its offset: a restart inside
//! a transaction goes on counting where the stored position stands, and the
//! resent BEGIN of that transaction is not sent again.

use crate::event::ChangeEvent;
use crate::schema::{Field, Schema, Struct, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where a source transaction begins or ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxBoundary {
    pub end: bool,
    /// The transaction as Debezium's offset names it (PostgreSQL: the xid;
    /// MySQL: the GTID, or `file=...,pos=...`; MariaDB: the GTID).
    pub raw_id: String,
    /// The id this record shows (PostgreSQL: `<xid>:<LSN of the message>`,
    /// which differs between a transaction's BEGIN, changes and END, as in
    /// Debezium; elsewhere the raw id).
    pub id: String,
    /// The record's `ts_ms` (the commit time as the source knows it).
    pub ts_ms: i64,
}

/// The counts of the open transaction, stored with a position inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TxProgress {
    /// The raw id (see [`TxBoundary::raw_id`]).
    pub id: String,
    /// Changes counted so far.
    pub total: u64,
    /// Changes per table (`schema.table`), in the order the tables first
    /// appeared: the order END lists them in depends on it.
    #[serde(default)]
    pub per_table: Vec<(String, u64)>,
}

/// A BEGIN or END record's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    pub end: bool,
    pub id: String,
    pub ts_ms: i64,
    /// END only: the changes of the transaction, and per table.
    pub event_count: Option<u64>,
    pub data_collections: Option<Vec<(String, u64)>>,
}

/// Counts the changes of the transaction being read.
#[derive(Debug, Clone, Default)]
pub struct TxMonitor {
    open: Option<TxProgress>,
    /// The capacity Debezium's per-table `HashMap` has grown to: it is
    /// cleared, never shrunk, between transactions, and its iteration
    /// order (END's `data_collections`) depends on it.
    capacity: usize,
}

impl TxMonitor {
    /// A monitor that goes on with `restored` (the stored position is
    /// inside that transaction).
    pub fn new(restored: Option<TxProgress>) -> Self {
        let mut m = TxMonitor { open: restored, capacity: 0 };
        m.grow();
        m
    }

    /// A transaction begins or ends: the record to send, if any. The BEGIN
    /// of the transaction a restart resumes inside is not sent again; an
    /// END without a BEGIN seen (the stream started inside it) is not sent.
    pub fn boundary(&mut self, b: &TxBoundary) -> Option<TxRecord> {
        if b.end {
            let open = self.open.take()?;
            let order = java_hash_order(&open.per_table, self.capacity);
            return Some(TxRecord {
                end: true,
                id: b.id.clone(),
                ts_ms: b.ts_ms,
                event_count: Some(open.total),
                data_collections: Some(order),
            });
        }
        if self.open.as_ref().is_some_and(|o| o.id == b.raw_id) {
            return None;
        }
        self.open = Some(TxProgress { id: b.raw_id.clone(), ..TxProgress::default() });
        Some(TxRecord {
            end: false,
            id: b.id.clone(),
            ts_ms: b.ts_ms,
            event_count: None,
            data_collections: None,
        })
    }

    /// Numbers a change of the open transaction (one the source gave a
    /// transaction block); a change outside any leaves its block unset.
    pub fn change(&mut self, event: &mut ChangeEvent) {
        let Some(block) = &mut event.transaction else { return };
        let Some(open) = &mut self.open else {
            event.transaction = None;
            return;
        };
        open.total += 1;
        let table = event.table.to_string();
        let n = match open.per_table.iter_mut().find(|(t, _)| *t == table) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                open.per_table.push((table, 1));
                1
            }
        };
        block.total_order = open.total as i64;
        block.data_collection_order = n as i64;
        self.grow();
    }

    /// The open transaction's counts, for a checkpoint inside it.
    pub fn progress(&self) -> Option<TxProgress> {
        self.open.clone()
    }

    fn grow(&mut self) {
        let n = self.open.as_ref().map_or(0, |o| o.per_table.len());
        self.capacity = self.capacity.max(java_capacity(n));
    }
}

/// The table capacity a `java.util.HashMap` with the default load factor
/// reaches holding `n` entries: 16, doubled while more than three quarters
/// full.
fn java_capacity(n: usize) -> usize {
    let mut cap = 16;
    while n * 4 > cap * 3 {
        cap *= 2;
    }
    cap
}

/// `String.hashCode()` spread as `HashMap` spreads it (`h ^ (h >>> 16)`).
fn java_hash(s: &str) -> u32 {
    let h = s.encode_utf16().fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)));
    h ^ (h >> 16)
}

/// The order a `HashMap` of this capacity, filled in `entries`' order,
/// iterates in: by bucket, and within a bucket in insertion order (resizes
/// keep it). Buckets of eight or more colliding tables (tree bins) are not
/// modelled.
fn java_hash_order(entries: &[(String, u64)], capacity: usize) -> Vec<(String, u64)> {
    let mask = capacity.max(java_capacity(entries.len())) as u32 - 1;
    let mut out = entries.to_vec();
    out.sort_by_key(|(t, _)| java_hash(t) & mask);
    out
}

/// The key and value structs of a BEGIN or END record, with Debezium's
/// schemas (`TransactionMetadataKey`, `TransactionMetadataValue`, version 1).
pub fn tx_structs(r: &TxRecord) -> (Struct, Struct) {
    let key_schema = Arc::new(
        Schema::structure(
            "io.debezium.connector.common.TransactionMetadataKey",
            vec![Field::new("id", Schema::string())],
        )
        .version(1),
    );
    let collection = Arc::new(
        Schema::structure(
            "event.collection",
            vec![
                Field::new("data_collection", Schema::string()),
                Field::new("event_count", Schema::int64()),
            ],
        )
        .version(1),
    );
    let value_schema = Arc::new(
        Schema::structure(
            "io.debezium.connector.common.TransactionMetadataValue",
            vec![
                Field::new("status", Schema::string()),
                Field::new("id", Schema::string()),
                Field::new("event_count", Schema::int64().optional()),
                Field::new(
                    "data_collections",
                    Schema::array((*collection).clone().optional()).optional(),
                ),
                Field::new("ts_ms", Schema::int64()),
            ],
        )
        .version(1),
    );
    let collections = r.data_collections.as_ref().map(|c| {
        let one = |(t, n): &(String, u64)| {
            Value::Struct(Struct {
                schema: collection.clone(),
                values: vec![Value::String(t.clone()), Value::Int64(*n as i64)],
            })
        };
        Value::Array(c.iter().map(one).collect())
    });
    let key = Struct { schema: key_schema, values: vec![Value::String(r.id.clone())] };
    let value = Struct {
        schema: value_schema,
        values: vec![
            Value::String(if r.end { "END" } else { "BEGIN" }.into()),
            Value::String(r.id.clone()),
            r.event_count.map_or(Value::Null, |n| Value::Int64(n as i64)),
            collections.unwrap_or(Value::Null),
            Value::Int64(r.ts_ms),
        ],
    };
    (key, value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn boundary(end: bool, raw: &str) -> TxBoundary {
        TxBoundary { end, raw_id: raw.into(), id: format!("{raw}:x"), ts_ms: 7 }
    }

    #[test]
    fn capacity_grows_as_javas_hash_map_does() {
        assert_eq!(java_capacity(0), 16);
        assert_eq!(java_capacity(12), 16);
        assert_eq!(java_capacity(13), 32);
        assert_eq!(java_capacity(24), 32);
        assert_eq!(java_capacity(25), 64);
    }

    #[test]
    fn string_hash_is_javas() {
        let h = "diff.pg_types"
            .encode_utf16()
            .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)));
        assert_eq!(h as i32, 60_215_290, "Java's \"diff.pg_types\".hashCode()");
    }

    /// END's `data_collections` in the order a Java `HashMap` iterates:
    /// 300 cases written by Java itself (`tests/data/JavaHashOrder.java`),
    /// some after a bigger transaction grew the map.
    #[test]
    fn data_collections_are_in_javas_hash_map_order() {
        let cases = include_str!("../tests/data/java_hash_order.txt");
        for line in cases.lines() {
            let mut parts = line.split('|');
            let prior: usize = parts.next().unwrap().parse().unwrap();
            let put: Vec<(String, u64)> =
                parts.next().unwrap().split(',').map(|t| (t.to_string(), 1)).collect();
            let want: Vec<&str> = parts.next().unwrap().split(',').collect();
            let got = java_hash_order(&put, java_capacity(prior));
            let got: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn a_resumed_transaction_is_not_begun_again_and_counts_on() {
        let restored = TxProgress { id: "9".into(), total: 3, per_table: vec![("s.t".into(), 3)] };
        let mut m = TxMonitor::new(Some(restored));
        assert_eq!(m.boundary(&boundary(false, "9")), None);
        let end = m.boundary(&boundary(true, "9")).unwrap();
        assert_eq!(end.event_count, Some(3));
        assert!(m.boundary(&boundary(false, "10")).is_some());
        assert_eq!(m.boundary(&boundary(true, "11")).unwrap().event_count, Some(0));
        assert_eq!(m.boundary(&boundary(true, "12")), None, "no END without a BEGIN");
    }
}
