//! Debezium's stored positions, as Kafka Connect keeps them (its offsets
//! topic, or the file store of Debezium Server and the embedded engine),
//! turned into logtap's, so logtap resumes exactly after the last change
//! Debezium committed. No IO: the caller reads the records.
//!
//! A record's key is `["<connector name>", {"server": "<topic.prefix>"}]`
//! and its value the connector's offset map (JSON), or null once the offset
//! was deleted; the last record of a key wins.

use logtap_core::{Lsn, PgTxProgress, SourcePosition};
use serde_json::{Map, Value};

/// A stored record: key and value bytes (`None` value: deleted).
pub type Record = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Which Debezium connector wrote the offset (MariaDB's has the MySQL shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebeziumConnector {
    Postgres,
    Mysql,
}

/// One connector's last stored offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The connector's `name`.
    pub connector: String,
    /// Its partition's `server`: the connector's `topic.prefix`.
    pub server: String,
    pub offset: Map<String, Value>,
}

/// Why a Debezium offset cannot become logtap's position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DebeziumOffsetError {
    #[error("no Debezium offset is stored for topic.prefix `{prefix}`{}", found_list(.found))]
    NotFound { prefix: String, found: Vec<String> },
    #[error("several Debezium connectors stored offsets for topic.prefix `{prefix}` ({}): name one with --connector", .connectors.join(", "))]
    Ambiguous { prefix: String, connectors: Vec<String> },
    #[error("the offset has no `{0}`: it is not a {1} connector's offset (import it with the matching [postgres] or [mysql] section)")]
    Missing(&'static str, &'static str),
    #[error("`{key}` is {value}, not {expected}")]
    Malformed { key: &'static str, value: String, expected: &'static str },
    #[error("Debezium stopped inside its initial snapshot (`snapshot` = {0}): its offset does not say which rows were read. Let Debezium finish the snapshot and import again, or start logtap without the import (it takes its own snapshot)")]
    SnapshotInProgress(String),
    #[error("Debezium stopped inside an incremental snapshot: logtap cannot resume Debezium's chunks. Let it finish (or stop it with a stop-snapshot signal), let Debezium commit, and import again; then `logtap snapshot` re-reads the tables if needed")]
    IncrementalSnapshotInProgress,
}

fn found_list(found: &[String]) -> String {
    if found.is_empty() {
        " (the store holds no Debezium offset at all: is it the right topic or file?)".into()
    } else {
        format!(
            " (stored: {}): logtap reads Debezium's topics only with the same prefix, set topic_prefix to Debezium's topic.prefix",
            found.join(", ")
        )
    }
}

/// The last offset of every Debezium connector among `records` (key,
/// value) in store order; keys that are not a Kafka Connect source
/// partition are ignored, a null value deletes.
pub fn latest(records: Vec<Record>) -> Vec<Stored> {
    let mut out: Vec<Stored> = Vec::new();
    for (key, value) in records {
        let Some((connector, server)) = key.as_deref().and_then(partition) else { continue };
        out.retain(|s| !(s.connector == connector && s.server == server));
        let offset = value.and_then(|v| serde_json::from_slice::<Map<String, Value>>(&v).ok());
        if let Some(offset) = offset {
            out.push(Stored { connector, server, offset });
        }
    }
    out
}

/// `["name", {"server": "prefix"}]` → (name, prefix).
fn partition(key: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(key).ok()?;
    let [name, part] = v.as_array()?.as_slice() else { return None };
    Some((name.as_str()?.to_string(), part.get("server")?.as_str()?.to_string()))
}

/// The offset stored for `prefix` (and `connector`, when given).
pub fn pick<'a>(
    stored: &'a [Stored],
    prefix: &str,
    connector: Option<&str>,
) -> Result<&'a Stored, DebeziumOffsetError> {
    let mine: Vec<&Stored> = stored
        .iter()
        .filter(|s| s.server == prefix && connector.is_none_or(|c| c == s.connector))
        .collect();
    match mine.as_slice() {
        [one] => Ok(one),
        [] => Err(DebeziumOffsetError::NotFound {
            prefix: prefix.to_string(),
            found: stored
                .iter()
                .map(|s| format!("connector `{}` with topic.prefix `{}`", s.connector, s.server))
                .collect(),
        }),
        many => Err(DebeziumOffsetError::Ambiguous {
            prefix: prefix.to_string(),
            connectors: many.iter().map(|s| format!("`{}`", s.connector)).collect(),
        }),
    }
}

/// logtap's position for a Debezium offset: the next change logtap sends
/// is the one Debezium would have sent next after a restart.
pub fn to_position(
    kind: DebeziumConnector,
    offset: &Map<String, Value>,
) -> Result<SourcePosition, DebeziumOffsetError> {
    refuse_snapshots(offset)?;
    match kind {
        DebeziumConnector::Postgres => postgres(offset),
        DebeziumConnector::Mysql => mysql(offset),
    }
}

fn refuse_snapshots(offset: &Map<String, Value>) -> Result<(), DebeziumOffsetError> {
    // Debezium writes `snapshot` while its initial snapshot runs (and
    // `last_snapshot_record` on the last row); after it, neither.
    if let Some(v) = offset.get("snapshot").filter(|v| !is_false(v)) {
        if !offset.get("last_snapshot_record").is_some_and(|l| l == &Value::Bool(true)) {
            return Err(DebeziumOffsetError::SnapshotInProgress(v.to_string()));
        }
    }
    if offset.keys().any(|k| k.starts_with("incremental_snapshot_")) {
        return Err(DebeziumOffsetError::IncrementalSnapshotInProgress);
    }
    Ok(())
}

fn is_false(v: &Value) -> bool {
    matches!(v, Value::Bool(false) | Value::Null) || v.as_str() == Some("false")
}

/// PostgreSQL: `lsn_commit` is the end of the last transaction Debezium
/// saw commit (what it confirms to the slot). When the last record stored
/// was a row change (`messageType`), `lsn_proc` is that change's WAL
/// position inside transaction `txId`, which commits after `lsn_commit`:
/// its changes up to there are not sent again. Without `lsn_proc` (older
/// offsets, or right after Debezium's snapshot) Debezium itself resends
/// everything after `lsn`, and so does logtap.
fn postgres(offset: &Map<String, Value>) -> Result<SourcePosition, DebeziumOffsetError> {
    let lsn_proc = lsn(offset, "lsn_proc")?;
    let last = lsn(offset, "lsn")?;
    let commit = lsn(offset, "lsn_commit")?
        .or(lsn_proc)
        .or(last)
        .ok_or(DebeziumOffsetError::Missing("lsn", "PostgreSQL"))?;
    let row_change = matches!(
        offset.get("messageType").and_then(Value::as_str),
        Some("INSERT" | "UPDATE" | "DELETE" | "TRUNCATE")
    );
    let xid = count(offset, "txId")?.and_then(|x| u32::try_from(x).ok());
    let tx = match (lsn_proc, xid) {
        // Not `p > commit`: a transaction that began before the last
        // commit has changes below it.
        (Some(p), Some(xid)) if row_change => Some(PgTxProgress::Through { sent_through: p, xid }),
        _ => None,
    };
    Ok(SourcePosition::Postgres { lsn: commit, tx })
}

fn lsn(offset: &Map<String, Value>, key: &'static str) -> Result<Option<Lsn>, DebeziumOffsetError> {
    match offset.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(|n| Some(Lsn(n))).ok_or_else(|| DebeziumOffsetError::Malformed {
            key,
            value: v.to_string(),
            expected: "a number (an LSN)",
        }),
    }
}

/// MySQL/MariaDB: `file`/`pos` (and `gtids`) are where the transaction in
/// progress starts, `event` and `row` how much of it was processed.
fn mysql(offset: &Map<String, Value>) -> Result<SourcePosition, DebeziumOffsetError> {
    let file = offset
        .get("file")
        .and_then(Value::as_str)
        .ok_or(DebeziumOffsetError::Missing("file", "MySQL/MariaDB"))?
        .to_string();
    let pos = count(offset, "pos")?.ok_or(DebeziumOffsetError::Missing("pos", "MySQL/MariaDB"))?;
    let gtid_set = match offset.get("gtids") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.split_whitespace().collect::<String>()),
        Some(v) => {
            return Err(DebeziumOffsetError::Malformed {
                key: "gtids",
                value: v.to_string(),
                expected: "a GTID set text",
            })
        }
    };
    Ok(SourcePosition::Mysql {
        file,
        pos,
        gtid_set,
        skip_events: count(offset, "event")?.unwrap_or(0),
        skip_rows: count(offset, "row")?.unwrap_or(0),
        debezium_events: true,
    })
}

fn count(
    offset: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<u64>, DebeziumOffsetError> {
    match offset.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| DebeziumOffsetError::Malformed {
            key,
            value: v.to_string(),
            expected: "a non-negative number",
        }),
    }
}

/// Debezium's offset for logtap's `position`, from which Debezium sends
/// the changes after it, and a caveat when that cannot be exact: a
/// position inside a transaction that Debezium's offset cannot express
/// becomes the transaction's start (Debezium then sends all of that
/// transaction again: duplicates, never a gap).
pub fn from_position(position: &SourcePosition) -> (Map<String, Value>, Option<String>) {
    let mut o = Map::new();
    let mut caveat = None;
    match position {
        SourcePosition::Postgres { lsn, tx } => {
            // Without `lsn_proc` Debezium sends every transaction that
            // commits after `lsn`, with no search: exactly logtap's rule.
            o.insert("lsn".into(), lsn.0.into());
            o.insert("ts_usec".into(), 0.into());
            match tx {
                Some(PgTxProgress::Through { sent_through, xid }) => {
                    o.insert("lsn_commit".into(), lsn.0.into());
                    o.insert("lsn_proc".into(), sent_through.0.into());
                    o.insert("lsn".into(), sent_through.0.into());
                    o.insert("txId".into(), (*xid).into());
                    o.insert("messageType".into(), "INSERT".into());
                }
                Some(PgTxProgress::Changes { commit_lsn, changes }) => {
                    caveat = Some(format!(
                        "logtap stopped after {changes} changes of the transaction committing at {commit_lsn}: Debezium will send that transaction again from its start"
                    ));
                }
                None => {}
            }
        }
        SourcePosition::Mysql { file, pos, gtid_set, skip_events, skip_rows, debezium_events } => {
            o.insert("file".into(), file.clone().into());
            o.insert("pos".into(), (*pos).into());
            if let Some(g) = gtid_set {
                o.insert("gtids".into(), g.clone().into());
            }
            if *debezium_events {
                o.insert("event".into(), (*skip_events).into());
                o.insert("row".into(), (*skip_rows).into());
            } else if *skip_events > 0 || *skip_rows > 0 {
                caveat = Some(format!(
                    "logtap stopped inside the transaction at {file}:{pos} (after {skip_events} row events and {skip_rows} rows): Debezium will send that transaction again from its start"
                ));
            }
        }
        SourcePosition::Sequence { .. } => {}
    }
    (o, caveat)
}

/// Kafka Connect's key for a Debezium connector's offset.
pub fn partition_key(connector: &str, prefix: &str) -> Vec<u8> {
    serde_json::json!([connector, {"server": prefix}]).to_string().into_bytes()
}
