//! Where in the source's log an event sits, and what a resume needs.
//!
//! A `SourcePosition` is stored in the offset store and handed back to the
//! source on restart, so it must name a point from which replaying yields every
//! change after the last acknowledged one: for PostgreSQL that is an LSN the
//! slot can restart from (the end of a committed transaction), for MySQL a GTID
//! set or binlog file/offset plus the events and rows of a partly sent
//! transaction to skip.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A PostgreSQL log sequence number, shown as PostgreSQL shows it (`16/B374D848`).
///
/// Stored and exported in that text form, so an operator can compare a
/// stored position with `pg_replication_slots`; read back from the text or
/// from the plain number earlier versions stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Lsn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Text(String),
            Number(u64),
        }
        match Stored::deserialize(d)? {
            Stored::Number(n) => Ok(Lsn(n)),
            Stored::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// A `X/Y` string that is not an LSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an LSN (expected two hexadecimal numbers like 16/B374D848)")]
pub struct LsnParseError(pub String);

impl std::str::FromStr for Lsn {
    type Err = LsnParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || LsnParseError(s.to_string());
        let (hi, lo) = s.split_once('/').ok_or_else(err)?;
        let hi = u32::from_str_radix(hi, 16).map_err(|_| err())?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| err())?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

/// How far into a transaction a PostgreSQL position is. The server
/// resends a transaction whole after a restart (logtap does not ask for
/// streaming), so what was sent of it is skipped, and a big transaction
/// interrupted resumes where Kafka stopped acknowledging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PgTxProgress {
    /// logtap's own: the transaction committing at `commit_lsn` (pgoutput's
    /// Begin `final_lsn`, the same at every resend) had its first `changes`
    /// row changes sent.
    Changes { commit_lsn: Lsn, changes: u64 },
    /// Taken over from Debezium (`lsn_proc` of a row change, `txId`): the
    /// first transaction committing after the position, when its xid is
    /// `xid`, had its row changes at WAL positions up to and including
    /// `sent_through` sent, which is how Debezium itself resumes (it counts
    /// by WAL position, not by change). Another xid first: nothing skipped.
    Through { sent_through: Lsn, xid: u32 },
}

/// A resumable point in a source's change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourcePosition {
    /// PostgreSQL: the slot resumes streaming at transactions committing
    /// after `lsn`; `tx`, inside the first of them, says how much of it
    /// was already sent.
    Postgres {
        lsn: Lsn,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tx: Option<PgTxProgress>,
    },
    /// MySQL/MariaDB: resume at the GTID set when present, else at `file`/`pos`;
    /// then skip `skip_events` events and `skip_rows` rows already sent.
    Mysql {
        file: String,
        pos: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gtid_set: Option<String>,
        #[serde(default)]
        skip_events: u64,
        #[serde(default)]
        skip_rows: u64,
        /// `skip_events` counts every binlog event of the transaction, its
        /// BEGIN (MariaDB: its GTID event) as the first, as Debezium's
        /// `event` does (a position taken over from Debezium); logtap's own
        /// count ROWS events only.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        debezium_events: bool,
    },
    /// The built-in demo source: the number of changes already produced.
    Sequence { seq: u64 },
}

impl fmt::Display for SourcePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourcePosition::Postgres { lsn, tx: None } => write!(f, "lsn {lsn}"),
            SourcePosition::Postgres {
                lsn,
                tx: Some(PgTxProgress::Changes { commit_lsn, changes }),
            } => write!(
                f,
                "lsn {lsn} (then {changes} changes of the transaction committing at {commit_lsn})"
            ),
            SourcePosition::Postgres {
                lsn,
                tx: Some(PgTxProgress::Through { sent_through, xid }),
            } => write!(f, "lsn {lsn} (then transaction {xid}'s changes up to {sent_through})"),
            SourcePosition::Mysql { file, pos, gtid_set, skip_events, skip_rows, .. } => {
                write!(f, "binlog {file}:{pos}")?;
                if let Some(g) = gtid_set {
                    write!(f, " gtid {g}")?;
                }
                if *skip_events > 0 || *skip_rows > 0 {
                    write!(f, " (skip {skip_events} events, {skip_rows} rows)")?;
                }
                Ok(())
            }
            SourcePosition::Sequence { seq } => write!(f, "sequence {seq}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trips_through_postgres_notation() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn.0, 0x16_B374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert!("16B374D848".parse::<Lsn>().is_err());
        assert!("x/1".parse::<Lsn>().is_err());
    }

    #[test]
    fn positions_serialize_with_a_kind_tag() {
        let p = SourcePosition::Postgres { lsn: Lsn(42), tx: None };
        let s = serde_json::to_string(&p).unwrap();
        assert_eq!(s, r#"{"kind":"postgres","lsn":"0/2A"}"#);
        assert_eq!(serde_json::from_str::<SourcePosition>(&s).unwrap(), p);
        let tx = Some(PgTxProgress::Changes { commit_lsn: Lsn(99), changes: 7 });
        let p = SourcePosition::Postgres { lsn: Lsn(42), tx };
        let s = serde_json::to_string(&p).unwrap();
        assert_eq!(s, r#"{"kind":"postgres","lsn":"0/2A","tx":{"commit_lsn":"0/63","changes":7}}"#);
        assert_eq!(serde_json::from_str::<SourcePosition>(&s).unwrap(), p);
        let tx = Some(PgTxProgress::Through { sent_through: Lsn(77), xid: 5 });
        let p = SourcePosition::Postgres { lsn: Lsn(42), tx };
        let s = serde_json::to_string(&p).unwrap();
        assert_eq!(s, r#"{"kind":"postgres","lsn":"0/2A","tx":{"sent_through":"0/4D","xid":5}}"#);
        assert_eq!(serde_json::from_str::<SourcePosition>(&s).unwrap(), p);
    }

    #[test]
    fn positions_stored_as_numbers_by_earlier_versions_still_load() {
        let old = r#"{"kind":"postgres","lsn":42,"tx":{"commit_lsn":99,"changes":7}}"#;
        let tx = Some(PgTxProgress::Changes { commit_lsn: Lsn(99), changes: 7 });
        let p = SourcePosition::Postgres { lsn: Lsn(42), tx };
        assert_eq!(serde_json::from_str::<SourcePosition>(old).unwrap(), p);
        let bad = r#"{"kind":"postgres","lsn":"2A"}"#;
        assert!(serde_json::from_str::<SourcePosition>(bad)
            .unwrap_err()
            .to_string()
            .contains("not an LSN"));
    }
}
