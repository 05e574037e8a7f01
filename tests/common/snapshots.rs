//! What the snapshot tests of both sources share: a consumer's replay of
//! a snapshotted topic (reads and changes, and any read older than a change
//! sent before it), and the writers' random numbers.

use super::Got;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Debezium's placeholder for a PostgreSQL TOAST value an update left
/// unchanged.
pub const UNAVAILABLE: &str = "__debezium_unavailable_value";

/// A tiny deterministic generator (xorshift), seeded per run and printed.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as i64
    }
}

/// A consumer's view of a keyed topic: per key, in offset order (one key
/// is one partition), reads and changes applied, an unchanged TOAST
/// placeholder keeping the value before it. Also every read that does not
/// equal the state the last change before it left: a read older than a
/// change already sent (invariant 5).
pub fn replay_keyed(records: &[Got]) -> (BTreeMap<String, Value>, Vec<String>) {
    let mut state: HashMap<String, Option<Value>> = HashMap::new();
    let mut last_change: HashMap<String, Option<Value>> = HashMap::new();
    let mut stale = Vec::new();
    for g in records.iter().filter(|g| g.value.is_some()) {
        let v = g.value_json();
        let key = g.key_str();
        let op = v["op"].as_str().unwrap();
        let merged = |after: &Value, prev: Option<&Value>| {
            let mut after = after.clone();
            if let (Some(obj), Some(prev)) = (after.as_object_mut(), prev) {
                for (k, val) in obj.iter_mut() {
                    if val == UNAVAILABLE {
                        *val = prev[k].clone();
                    }
                }
            }
            after
        };
        match op {
            "c" | "u" => {
                let prev = state.get(&key).cloned().flatten();
                let row = merged(&v["after"], prev.as_ref());
                state.insert(key.clone(), Some(row.clone()));
                last_change.insert(key, Some(row));
            }
            "d" => {
                state.insert(key.clone(), None);
                last_change.insert(key, None);
            }
            "r" => {
                let row = v["after"].clone();
                if let Some(before) = last_change.get(&key) {
                    // A TOAST value the change left out (and no earlier
                    // record gave) is not compared.
                    let agrees = match before {
                        None => false,
                        Some(b) => b
                            .as_object()
                            .unwrap()
                            .iter()
                            .all(|(k, v)| v == UNAVAILABLE || row[k] == *v),
                    };
                    if !agrees {
                        stale.push(format!(
                            "{key} at partition {} offset {}: read {row} after a change to {before:?}",
                            g.partition, g.offset
                        ));
                    }
                }
                state.insert(key, Some(row));
            }
            other => panic!("unexpected op {other}: {v}"),
        }
    }
    (state.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect(), stale)
}

/// A consumer's view of the keyless topic: records in the order logtap
/// sent them (the topic's one partition), rows by their column `x`, which
/// the test keeps unique.
pub fn replay_keyless(records: &[Got]) -> BTreeMap<String, Value> {
    // In the order logtap sent them: the topic has one partition. (Not by
    // source.lsn: a read carries the position where its chunk closed,
    // while a change committed after that point may have been written to
    // the WAL before it, so a delete would sort before the read it follows.)
    assert!(records.iter().all(|g| g.partition == 0), "the keyless topic has one partition");
    let changes: Vec<Value> =
        records.iter().filter(|g| g.value.is_some()).map(Got::value_json).collect();
    let mut rows = BTreeMap::new();
    for v in changes {
        let before_x = v["before"]["x"].to_string();
        match v["op"].as_str().unwrap() {
            "d" => {
                rows.remove(&before_x);
            }
            "u" => {
                rows.remove(&before_x);
                rows.insert(v["after"]["x"].to_string(), v["after"].clone());
            }
            _ => {
                rows.insert(v["after"]["x"].to_string(), v["after"].clone());
            }
        }
    }
    rows
}
