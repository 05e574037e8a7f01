//! MariaDB GTIDs and GTID positions.
//!
//! A MariaDB GTID is `domain_id-server_id-seq_no`. Replication domains are
//! independent streams (one per independently written master, typically
//! one: domain 0); within a domain, seq_no orders transactions — it is
//! strictly increasing under gtid_strict_mode, and a new master continues
//! the domain's numbering. server_id only says who wrote the transaction;
//! it takes no part in ordering.
//!
//! A GTID *position* (the shape of `@@gtid_slave_pos` /
//! `@@gtid_current_pos`, and what a replica sends in
//! `@slave_connect_state`) is therefore at most one GTID per domain: the
//! last one applied. The position after a transaction is the old position
//! with that transaction's domain replaced by its GTID
//! ([`GtidPosition::update`]), and a transaction is already covered by a
//! position when the position's GTID for that domain has a seq_no at least
//! as large ([`GtidPosition::contains`]). This is why logtap can store a
//! MariaDB resume point as a short string and hand it back to the server
//! unchanged.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A GTID string, GTID position or GTID set that does not parse, or a GTID
/// component out of range. Names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {part:?} in {input:?}: {reason}")]
pub struct GtidError {
    /// What kind of part is wrong ("MariaDB GTID", "domain_id", "UUID",
    /// "interval", ...).
    pub what: &'static str,
    /// The offending part, as written.
    pub part: String,
    /// The whole input it came from.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl GtidError {
    pub(super) fn new(
        what: &'static str,
        part: &str,
        input: &str,
        reason: impl Into<String>,
    ) -> Self {
        Self { what, part: part.to_owned(), input: input.to_owned(), reason: reason.into() }
    }
}

/// Parses a decimal number made of ASCII digits only (no sign, no
/// whitespace), naming `what` on failure.
pub(super) fn parse_decimal<T: FromStr>(
    what: &'static str,
    part: &str,
    input: &str,
) -> Result<T, GtidError> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GtidError::new(what, part, input, "not a decimal number"));
    }
    part.parse::<T>().map_err(|_| GtidError::new(what, part, input, "out of range"))
}

/// One MariaDB GTID: `domain_id-server_id-seq_no`, e.g. `0-1-42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MariadbGtid {
    /// Replication domain (`gtid_domain_id` of the writing session).
    pub domain_id: u32,
    /// Server that wrote the transaction (`server_id` of the session).
    pub server_id: u32,
    /// Sequence number within the domain; 0 is never used by a server.
    pub seq_no: u64,
}

impl MariadbGtid {
    /// A GTID from its parts.
    pub fn new(domain_id: u32, server_id: u32, seq_no: u64) -> Self {
        Self { domain_id, server_id, seq_no }
    }

    fn parse_in(s: &str, input: &str) -> Result<Self, GtidError> {
        let mut parts = s.split('-');
        let (Some(d), Some(sv), Some(n), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(GtidError::new(
                "MariaDB GTID",
                s,
                input,
                "expected domain_id-server_id-seq_no",
            ));
        };
        Ok(Self {
            domain_id: parse_decimal("domain_id", d, input)?,
            server_id: parse_decimal("server_id", sv, input)?,
            seq_no: parse_decimal("seq_no", n, input)?,
        })
    }
}

impl fmt::Display for MariadbGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain_id, self.server_id, self.seq_no)
    }
}

impl FromStr for MariadbGtid {
    type Err = GtidError;

    /// Parses `domain-server-seq` (decimal, no spaces inside).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_in(s.trim(), s)
    }
}

/// A MariaDB GTID position: at most one GTID per replication domain, the
/// last transaction applied in it (`@@gtid_slave_pos` style, e.g.
/// `0-1-42,1-2-7`).
///
/// Formats with domains in ascending order, so equal positions print
/// equally.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GtidPosition {
    by_domain: BTreeMap<u32, MariadbGtid>,
}

impl GtidPosition {
    /// The empty position (nothing applied in any domain).
    pub fn new() -> Self {
        Self::default()
    }

    /// The position after `gtid`'s transaction: `gtid` replaces whatever
    /// the position held for its domain. Returns the replaced GTID.
    ///
    /// No ordering check: MariaDB itself moves the position backwards in a
    /// domain when told to (a replica reset, or non-strict mode); use
    /// [`GtidPosition::contains`] first to detect a replayed transaction.
    pub fn update(&mut self, gtid: MariadbGtid) -> Option<MariadbGtid> {
        self.by_domain.insert(gtid.domain_id, gtid)
    }

    /// The GTID the position holds for `domain_id`.
    pub fn get(&self, domain_id: u32) -> Option<&MariadbGtid> {
        self.by_domain.get(&domain_id)
    }

    /// Removes a domain (e.g. after `FLUSH BINARY LOGS DELETE_DOMAIN_ID`).
    pub fn remove(&mut self, domain_id: u32) -> Option<MariadbGtid> {
        self.by_domain.remove(&domain_id)
    }

    /// `gtid`'s transaction is at or before this position: the position
    /// has `gtid`'s domain with a seq_no >= `gtid.seq_no`. The server_id
    /// does not take part, as in MariaDB.
    pub fn contains(&self, gtid: &MariadbGtid) -> bool {
        self.get(gtid.domain_id).is_some_and(|cur| cur.seq_no >= gtid.seq_no)
    }

    /// Every domain of `other` is in this position at the same or a later
    /// seq_no (this position is at or after `other` in every domain
    /// `other` knows).
    pub fn covers(&self, other: &GtidPosition) -> bool {
        other.iter().all(|g| self.contains(g))
    }

    /// The GTIDs, by ascending domain.
    pub fn iter(&self) -> impl Iterator<Item = &MariadbGtid> + '_ {
        self.by_domain.values()
    }

    /// Number of domains.
    pub fn len(&self) -> usize {
        self.by_domain.len()
    }

    /// No domain at all.
    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }
}

impl fmt::Display for GtidPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.by_domain.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{g}")?;
        }
        Ok(())
    }
}

impl FromStr for GtidPosition {
    type Err = GtidError;

    /// Parses a comma-separated list of GTIDs, whitespace around each
    /// allowed; the empty (or all-blank) string is the empty position. Two
    /// GTIDs in one domain are an error, as in MariaDB.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pos = GtidPosition::new();
        if s.trim().is_empty() {
            return Ok(pos);
        }
        for part in s.split(',') {
            let gtid = MariadbGtid::parse_in(part.trim(), s)?;
            if pos.update(gtid).is_some() {
                return Err(GtidError::new(
                    "MariaDB GTID",
                    part.trim(),
                    s,
                    format!("a second GTID for domain {}", gtid.domain_id),
                ));
            }
        }
        Ok(pos)
    }
}

impl FromIterator<MariadbGtid> for GtidPosition {
    /// Later GTIDs of a domain replace earlier ones, as [`update`] does.
    ///
    /// [`update`]: GtidPosition::update
    fn from_iter<I: IntoIterator<Item = MariadbGtid>>(iter: I) -> Self {
        let mut pos = GtidPosition::new();
        for g in iter {
            pos.update(g);
        }
        pos
    }
}

/// Serialises as the display string (`"0-1-42"`), for offset stores.
impl serde::Serialize for MariadbGtid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MariadbGtid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Serialises as the display string (`"0-1-42,1-2-7"`), for offset stores.
impl serde::Serialize for GtidPosition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for GtidPosition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
