//! MySQL GTIDs and GTID sets (`uuid:1-5:7-9,uuid2:1-3`).
//!
//! MySQL numbers transactions per source UUID (`server_uuid`): GTID
//! `uuid:gno`, gno from 1 up to 2^63-1. Because a replica may apply
//! transactions of one source out of order (multi-threaded replicas) and
//! several sources write concurrently, the executed set is a SET of
//! intervals per UUID (`@@gtid_executed`), not a position; resuming sends
//! the whole set (COM_BINLOG_DUMP_GTID) and the server skips what it
//! contains. MySQL 8.4 adds tags: `uuid:tag:gno` is a distinct GTID from
//! `uuid:gno`, and the text form lists a UUID's untagged intervals first,
//! then each tag (ascending) with its intervals:
//! `uuid:1-5:tag_a:1-3:tag_b:7`.
//!
//! mysql_common has `Sid`/`GnoInterval` (the COM_BINLOG_DUMP_GTID wire
//! form, with a `FromStr` for one UUID) but no set semantics: no interval
//! merging, no membership test, no multi-UUID parsing, and its parser
//! computes `end + 1` unchecked (a debug-build panic for gno 2^64-1). So
//! the set lives here, and converts to `Sid`s for the dump command
//! ([`MysqlGtidSet::to_sids`]) and from PREVIOUS_GTIDS events
//! ([`MysqlGtidSet::from_previous_gtids`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use mysql_common::binlog::events::{GtidEvent as MysqlGtidEvent, PreviousGtidsEvent};
use mysql_common::packets::{GnoInterval, Sid, Tag};
use mysql_common::uuid::Uuid;

use super::gtid::{parse_decimal, GtidError};

/// Largest gno MySQL assigns (GNO_END - 1 = 2^63 - 1).
pub const MAX_GNO: u64 = i64::MAX as u64;

/// A (UUID, tag) pair: the unit MySQL numbers transactions in. An empty
/// tag is "untagged" and sorts first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Tsid {
    uuid: [u8; 16],
    tag: String,
}

/// One MySQL GTID: `uuid:gno` or (8.4+) `uuid:tag:gno`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MysqlGtid {
    uuid: [u8; 16],
    tag: Option<String>,
    gno: u64,
}

impl MysqlGtid {
    /// A GTID from its parts; gno must be in 1..=2^63-1 and the tag, if
    /// any, a valid MySQL tag (`[a-z_][a-z0-9_]{0,31}`, case-insensitive,
    /// stored lower-case).
    pub fn new(uuid: [u8; 16], tag: Option<&str>, gno: u64) -> Result<Self, GtidError> {
        let input = format!("{}:{}", Uuid::from_bytes(uuid).hyphenated(), gno);
        check_gno("gno", gno, &gno.to_string(), &input)?;
        let tag = tag.map(|t| normalize_tag(t, &input)).transpose()?;
        Ok(Self { uuid, tag, gno })
    }

    /// The source UUID's 16 bytes.
    pub fn uuid(&self) -> [u8; 16] {
        self.uuid
    }

    /// The tag, lower-case; `None` for an untagged GTID.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The transaction number.
    pub fn gno(&self) -> u64 {
        self.gno
    }

    fn tsid(&self) -> Tsid {
        Tsid { uuid: self.uuid, tag: self.tag.clone().unwrap_or_default() }
    }
}

impl TryFrom<&MysqlGtidEvent> for MysqlGtid {
    type Error = GtidError;

    /// The GTID of a MySQL GTID_EVENT / GTID_TAGGED_LOG_EVENT as
    /// mysql_common decodes it. Fails for an ANONYMOUS-style gno outside
    /// 1..=2^63-1.
    fn try_from(ev: &MysqlGtidEvent) -> Result<Self, Self::Error> {
        MysqlGtid::new(ev.sid(), ev.tag().map(|t| t.as_str()), ev.gno())
    }
}

impl fmt::Display for MysqlGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Uuid::from_bytes(self.uuid).hyphenated())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        write!(f, ":{}", self.gno)
    }
}

impl FromStr for MysqlGtid {
    type Err = GtidError;

    /// Parses `uuid:gno` or `uuid:tag:gno`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let parts: Vec<&str> = t.split(':').collect();
        let (uuid, tag, gno) = match parts.as_slice() {
            [u, g] => (*u, None, *g),
            [u, tag, g] => (*u, Some(*tag), *g),
            _ => {
                return Err(GtidError::new("MySQL GTID", t, s, "expected uuid:gno or uuid:tag:gno"))
            }
        };
        let uuid = parse_uuid(uuid, s)?;
        let gno = parse_decimal("gno", gno, s)?;
        check_gno("gno", gno, &gno.to_string(), s)?;
        let tag = tag.map(|t| normalize_tag(t, s)).transpose()?;
        Ok(Self { uuid, tag, gno })
    }
}

/// A MySQL GTID set: per (UUID, tag), a sorted list of disjoint,
/// non-adjacent, inclusive gno intervals (`@@gtid_executed` style).
///
/// Adding a GTID merges it into its neighbours, so `uuid:1-5` plus
/// `uuid:6` is `uuid:1-6`. Formats with UUIDs ascending (lower-case,
/// hyphenated), untagged intervals before tags, and `,` between UUIDs (MySQL
/// prints `,\n`; it parses both).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MysqlGtidSet {
    /// Never holds an empty interval list.
    sets: BTreeMap<Tsid, Vec<(u64, u64)>>,
}

impl MysqlGtidSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// No GTID at all.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Adds one transaction; returns false if it was already in the set.
    pub fn add(&mut self, gtid: &MysqlGtid) -> bool {
        if self.contains(gtid) {
            return false;
        }
        self.insert_interval(gtid.tsid(), gtid.gno, gtid.gno);
        true
    }

    /// The transaction is in the set.
    pub fn contains(&self, gtid: &MysqlGtid) -> bool {
        self.sets.get(&gtid.tsid()).is_some_and(|ivs| {
            // First interval whose end is >= gno; the gno is in the set iff
            // that interval starts at or before it.
            let i = ivs.partition_point(|&(_, end)| end < gtid.gno);
            ivs.get(i).is_some_and(|&(start, _)| start <= gtid.gno)
        })
    }

    /// Adds every GTID of `other`.
    pub fn union_with(&mut self, other: &MysqlGtidSet) {
        for (tsid, ivs) in &other.sets {
            for &(start, end) in ivs {
                self.insert_interval(tsid.clone(), start, end);
            }
        }
    }

    /// Every GTID of this set is in `other`.
    pub fn is_subset_of(&self, other: &MysqlGtidSet) -> bool {
        self.sets.iter().all(|(tsid, ivs)| {
            let Some(theirs) = other.sets.get(tsid) else {
                return false;
            };
            ivs.iter().all(|&(start, end)| {
                // Intervals in a set are maximal, so a contained interval
                // lies inside ONE interval of the other set.
                let i = theirs.partition_point(|&(_, e)| e < start);
                theirs.get(i).is_some_and(|&(s, e)| s <= start && end <= e)
            })
        })
    }

    /// The set as mysql_common `Sid`s for COM_BINLOG_DUMP_GTID (one per
    /// UUID and tag; `GnoInterval`'s end is exclusive).
    pub fn to_sids(&self) -> Vec<Sid<'static>> {
        self.sets
            .iter()
            .map(|(tsid, ivs)| {
                let mut sid = Sid::new(tsid.uuid).with_intervals(
                    ivs.iter()
                        // end <= MAX_GNO, so end + 1 cannot overflow.
                        .map(|&(start, end)| GnoInterval::new(start, end + 1))
                        .collect(),
                );
                if !tsid.tag.is_empty() {
                    // Tags in the set were validated by Tag::new on the way
                    // in, so this succeeds; skip the tag rather than panic
                    // if it ever did not.
                    if let Ok(tag) = Tag::new(tsid.tag.clone()) {
                        sid = sid.with_tag(tag);
                    }
                }
                sid
            })
            .collect()
    }

    /// The set a MySQL PREVIOUS_GTIDS_EVENT carries (the executed set
    /// before the file's first transaction).
    pub fn from_previous_gtids(ev: &PreviousGtidsEvent<'_>) -> Result<Self, GtidError> {
        let mut set = MysqlGtidSet::new();
        for sid in ev.sids() {
            let uuid = sid.uuid();
            let input = Uuid::from_bytes(uuid).hyphenated().to_string();
            let tag = match sid.tag() {
                Some(t) => normalize_tag(t.as_str(), &input)?,
                None => String::new(),
            };
            for iv in sid.intervals() {
                // GnoInterval's end is exclusive.
                let (start, end_excl) = (iv.start(), iv.end());
                let part = format!("{start}-{end_excl} (end exclusive)");
                if start == 0 || end_excl <= start || end_excl - 1 > MAX_GNO {
                    return Err(GtidError::new(
                        "interval",
                        &part,
                        &input,
                        "empty or outside 1..=2^63-1",
                    ));
                }
                set.insert_interval(Tsid { uuid, tag: tag.clone() }, start, end_excl - 1);
            }
        }
        Ok(set)
    }

    /// Inserts [start, end] (valid, inclusive) and merges neighbours.
    fn insert_interval(&mut self, tsid: Tsid, start: u64, end: u64) {
        let ivs = self.sets.entry(tsid).or_default();
        // First interval that ends at or after start - 1 (i.e. overlaps or
        // touches the new one from the left).
        let i = ivs.partition_point(|&(_, e)| e.saturating_add(1) < start);
        let mut new = (start, end);
        let mut j = i;
        while let Some(&(s, e)) = ivs.get(j) {
            if s > new.1.saturating_add(1) {
                break;
            }
            new = (new.0.min(s), new.1.max(e));
            j += 1;
        }
        ivs.splice(i..j, std::iter::once(new));
    }
}

impl fmt::Display for MysqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last_uuid: Option<[u8; 16]> = None;
        for (tsid, ivs) in &self.sets {
            if last_uuid != Some(tsid.uuid) {
                if last_uuid.is_some() {
                    f.write_str(",")?;
                }
                write!(f, "{}", Uuid::from_bytes(tsid.uuid).hyphenated())?;
                last_uuid = Some(tsid.uuid);
            }
            if !tsid.tag.is_empty() {
                write!(f, ":{}", tsid.tag)?;
            }
            for &(start, end) in ivs {
                if start == end {
                    write!(f, ":{start}")?;
                } else {
                    write!(f, ":{start}-{end}")?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for MysqlGtidSet {
    type Err = GtidError;

    /// Parses `uuid:1-5:7,uuid2[:tag]:1-3`: comma-separated UUID blocks,
    /// whitespace and newlines around the parts allowed, the empty string
    /// is the empty set. In a block, a part starting with a digit is an
    /// interval (`n` or `a-b`, 1 <= a <= b <= 2^63-1), anything else a tag
    /// applying to the intervals after it; every tag must be followed by at
    /// least one interval. A UUID may appear in several blocks; the sets
    /// are merged.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = MysqlGtidSet::new();
        if s.trim().is_empty() {
            return Ok(set);
        }
        for block in s.split(',') {
            let block = block.trim();
            let mut parts = block.split(':').map(str::trim);
            let uuid = parse_uuid(parts.next().unwrap_or_default(), s)?;
            let mut tsid = Tsid { uuid, tag: String::new() };
            // Whether the current (UUID or tag) heading has had an interval.
            let mut has_interval = false;
            for part in parts {
                if part.starts_with(|c: char| c.is_ascii_digit()) {
                    let (start, end) = parse_interval(part, s)?;
                    set.insert_interval(tsid.clone(), start, end);
                    has_interval = true;
                } else {
                    if !tsid.tag.is_empty() && !has_interval {
                        return Err(GtidError::new(
                            "tag",
                            &tsid.tag,
                            s,
                            "not followed by an interval",
                        ));
                    }
                    tsid.tag = normalize_tag(part, s)?;
                    has_interval = false;
                }
            }
            if !has_interval {
                return Err(GtidError::new(
                    "UUID block",
                    block,
                    s,
                    "no interval after the UUID or tag",
                ));
            }
        }
        Ok(set)
    }
}

/// Serialises as the display string, for offset stores.
impl serde::Serialize for MysqlGtidSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MysqlGtidSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn parse_uuid(part: &str, input: &str) -> Result<[u8; 16], GtidError> {
    let p = part.trim();
    // Only the two spellings MySQL prints/accepts: 8-4-4-4-12 hex, or 32
    // hex digits. (The uuid crate also takes braces and "urn:uuid:".)
    let ok_shape = (p.len() == 36
        && p.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        }))
        || (p.len() == 32 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if !ok_shape {
        return Err(GtidError::new("UUID", p, input, "expected 8-4-4-4-12 hex digits"));
    }
    Uuid::parse_str(p)
        .map(|u| *u.as_bytes())
        .map_err(|e| GtidError::new("UUID", p, input, e.to_string()))
}

fn check_gno(what: &'static str, gno: u64, part: &str, input: &str) -> Result<(), GtidError> {
    if gno == 0 || gno > MAX_GNO {
        return Err(GtidError::new(what, part, input, "outside 1..=9223372036854775807"));
    }
    Ok(())
}

fn parse_interval(part: &str, input: &str) -> Result<(u64, u64), GtidError> {
    let (start, end) = match part.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim(), b.trim());
            let start = parse_decimal::<u64>("interval start", a, input)?;
            check_gno("interval start", start, a, input)?;
            let end = parse_decimal::<u64>("interval end", b, input)?;
            check_gno("interval end", end, b, input)?;
            (start, end)
        }
        None => {
            let n = parse_decimal::<u64>("gno", part, input)?;
            check_gno("gno", n, part, input)?;
            (n, n)
        }
    };
    if end < start {
        return Err(GtidError::new("interval", part, input, "end is before start"));
    }
    Ok((start, end))
}

/// Lower-cases and validates a tag with mysql_common's rules.
fn normalize_tag(tag: &str, input: &str) -> Result<String, GtidError> {
    let lower = tag.trim().to_ascii_lowercase();
    Tag::new(lower.clone()).map_err(|e| GtidError::new("tag", tag, input, e.to_string()))?;
    Ok(lower)
}
