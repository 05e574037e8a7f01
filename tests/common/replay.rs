//! What the records say once replayed: per-key order by source position,
//! the final rows, and how they differ from the tables.

use super::*;

/// Checks that each partition's records are the sequence of distinct
/// records in order, where a restart may only replay a run that ends where
/// the sequence had got to (at-least-once from a stored position): after a
/// repeated record, the next ones repeat the records that followed it, until
/// the replay has caught up; only then may a record never seen before come.
/// A tombstone is identified by the record of its key before it. Returns
/// the violations (empty when fine) and the number of replayed records.
pub fn replay_violations(records: &[Got]) -> (Vec<String>, usize) {
    use std::collections::HashMap;
    let mut violations = Vec::new();
    let mut replayed = 0;
    // Per partition: the distinct records in order, their indexes, the replay cursor.
    type Partition = (Vec<String>, HashMap<String, usize>, usize);
    let mut parts: HashMap<i32, Partition> = HashMap::new();
    let mut last_of_key: HashMap<(i32, String), String> = HashMap::new();
    for g in records {
        let key = (g.partition, g.key_str());
        let id = match &g.value {
            None => format!(
                "tombstone after {}",
                last_of_key.get(&key).cloned().unwrap_or_else(|| "nothing".into())
            ),
            Some(_) => {
                let v = g.value_json();
                let s = &v["source"];
                format!(
                    "{} {} {}:{} row {} op {} key {}",
                    v["source"]["table"], s["gtid"], s["file"], s["pos"], s["row"], v["op"], key.1
                )
            }
        };
        last_of_key.insert(key, id.clone());
        let (seq, index, cursor) = parts.entry(g.partition).or_default();
        match index.get(&id) {
            Some(&i) => {
                // A replay: starts anywhere at or before the cursor, then follows the sequence.
                replayed += 1;
                if i > *cursor {
                    violations.push(format!(
                        "partition {} offset {}: {id} repeated ahead of the replay position",
                        g.partition, g.offset
                    ));
                }
                *cursor = i + 1;
            }
            None => {
                if *cursor != seq.len() {
                    violations.push(format!(
                        "partition {} offset {}: new record {id} while replaying ({} of {} records replayed); the replay skipped {}",
                        g.partition,
                        g.offset,
                        *cursor,
                        seq.len(),
                        seq[*cursor]
                    ));
                }
                index.insert(id.clone(), seq.len());
                seq.push(id);
                *cursor = seq.len();
            }
        }
    }
    (violations, replayed)
}

/// Replays change records into an id → row map as a consumer that ignores
/// changes older than what it applied would: per id (column `id` of the
/// after or before image) the change latest by `order` (its position in the
/// source) wins. Also lists the ids whose first deliveries went backwards in
/// that order (a reordering; replays of a suffix are not).
pub fn replay_rows<O: Ord + Clone + std::hash::Hash + std::fmt::Debug>(
    records: &[Got],
    order: impl Fn(&serde_json::Value) -> O,
) -> Replayed {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let mut rows: BTreeMap<i64, (O, Option<serde_json::Value>)> = BTreeMap::new();
    let mut backwards = Vec::new();
    let mut seen: HashSet<(i64, O, String)> = HashSet::new();
    let mut last_new: HashMap<i64, O> = HashMap::new();
    for g in records {
        let v = g.value_json();
        if v.is_null() {
            continue;
        }
        let op = v["op"].as_str().expect("op").to_string();
        let id = v["after"]["id"].as_i64().or(v["before"]["id"].as_i64()).expect("id");
        let at = order(&v);
        if seen.insert((id, at.clone(), op.clone())) {
            if let Some(prev) = last_new.insert(id, at.clone()) {
                if at < prev {
                    backwards.push(format!("id {id}: {op} at {at:?} after {prev:?}"));
                }
            }
        }
        let row = if op == "d" { None } else { Some(v["after"].clone()) };
        let e = rows.entry(id).or_insert((at.clone(), row.clone()));
        if at >= e.0 {
            *e = (at, row);
        }
    }
    Replayed {
        rows: rows.into_iter().filter_map(|(k, (_, r))| r.map(|r| (k, r))).collect(),
        backwards,
        changes: seen.len(),
    }
}

/// What [`replay_rows`] found.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// id → row after the newest change of each id (deleted ids absent).
    pub rows: std::collections::BTreeMap<i64, serde_json::Value>,
    /// Ids whose first deliveries went backwards in source order.
    pub backwards: Vec<String>,
    /// Distinct changes (id, position, op) among the change records; the
    /// rest of the change records are replayed duplicates.
    pub changes: usize,
}

/// The ids whose rows differ between a replayed topic and a table, for a
/// failure message.
pub fn row_diff(
    topic: &std::collections::BTreeMap<i64, serde_json::Value>,
    table: &std::collections::BTreeMap<i64, serde_json::Value>,
) -> String {
    let mut out = Vec::new();
    for (k, v) in topic {
        if table.get(k) != Some(v) {
            out.push(format!("id {k}: topic {v} table {:?}", table.get(k)));
        }
    }
    for (k, v) in table {
        if !topic.contains_key(k) {
            out.push(format!("id {k}: missing from the topic, table {v}"));
        }
    }
    let n = out.len();
    out.truncate(10);
    format!("{n} differences, first: {out:#?}")
}
