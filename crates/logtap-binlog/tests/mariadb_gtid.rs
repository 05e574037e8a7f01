//! MariaDB GTIDs and positions, MySQL GTIDs and sets: parsing, formatting,
//! errors that name the bad part, position/set semantics, and properties
//! against naive models.

use std::collections::{BTreeMap, BTreeSet};

use logtap_binlog::{GtidError, GtidPosition, MariadbGtid, MysqlGtid, MysqlGtidSet};
use mysql_common::binlog::events::{GtidEvent, PreviousGtidsEvent, PreviousGtidsSid};
use mysql_common::packets::GnoInterval;
use proptest::prelude::*;

const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const U2: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

fn err<T: std::fmt::Debug>(r: Result<T, GtidError>) -> GtidError {
    r.expect_err("should not parse")
}

// ---- MariaDB GTID ----------------------------------------------------------

#[test]
fn mariadb_gtid_parse_and_display() {
    let g: MariadbGtid = "0-1-42".parse().expect("parses");
    assert_eq!(g, MariadbGtid::new(0, 1, 42));
    assert_eq!(g.to_string(), "0-1-42");
    let max = "4294967295-4294967295-18446744073709551615";
    assert_eq!(max.parse::<MariadbGtid>().expect("max").to_string(), max);
    assert_eq!(" 1-2-3\n".parse::<MariadbGtid>().expect("trimmed"), MariadbGtid::new(1, 2, 3));
}

#[test]
fn mariadb_gtid_errors_name_the_part() {
    let e = err("0-x-3".parse::<MariadbGtid>());
    assert_eq!((e.what, e.part.as_str()), ("server_id", "x"));
    assert!(e.to_string().contains("\"x\""), "{e}");
    let e = err("4294967296-1-1".parse::<MariadbGtid>());
    assert_eq!((e.what, e.part.as_str()), ("domain_id", "4294967296"));
    assert_eq!(e.reason, "out of range");
    let e = err("0-1-18446744073709551616".parse::<MariadbGtid>());
    assert_eq!(e.what, "seq_no");
    for bad in ["", "0-1", "0-1-2-3", "0--1", "+0-1-2", "0-1-2 ", "0 -1-2"] {
        // (trailing space is trimmed by FromStr; that case must parse)
        if bad == "0-1-2 " {
            assert!(bad.parse::<MariadbGtid>().is_ok());
            continue;
        }
        let e = err(bad.parse::<MariadbGtid>());
        assert!(!e.to_string().is_empty(), "{bad}");
    }
    assert_eq!(err("0-1".parse::<MariadbGtid>()).what, "MariaDB GTID");
}

// ---- MariaDB GTID position -------------------------------------------------

#[test]
fn position_parse_format_and_order() {
    let p: GtidPosition = "1-2-7, 0-1-42".parse().expect("parses");
    assert_eq!(p.to_string(), "0-1-42,1-2-7");
    assert_eq!(p.len(), 2);
    assert_eq!(p.get(1), Some(&MariadbGtid::new(1, 2, 7)));
    assert_eq!("".parse::<GtidPosition>().expect("empty"), GtidPosition::new());
    assert_eq!("  ".parse::<GtidPosition>().expect("blank").to_string(), "");
}

#[test]
fn position_errors_name_the_part() {
    let e = err("0-1-42,1-x-7".parse::<GtidPosition>());
    assert_eq!((e.what, e.part.as_str()), ("server_id", "x"));
    assert_eq!(e.input, "0-1-42,1-x-7");
    let e = err("0-1-42,0-2-43".parse::<GtidPosition>());
    assert_eq!(e.part, "0-2-43");
    assert!(e.reason.contains("domain 0"), "{e}");
    let e = err("0-1-42,,1-2-3".parse::<GtidPosition>());
    assert_eq!(e.part, "");
}

#[test]
fn position_update_contains_covers() {
    let mut p: GtidPosition = "0-1-42".parse().expect("parses");
    assert!(p.contains(&MariadbGtid::new(0, 1, 42)));
    assert!(p.contains(&MariadbGtid::new(0, 9, 41)), "server_id is not part of ordering");
    assert!(!p.contains(&MariadbGtid::new(0, 1, 43)));
    assert!(!p.contains(&MariadbGtid::new(1, 1, 1)), "unknown domain");

    assert_eq!(p.update(MariadbGtid::new(0, 2, 43)), Some(MariadbGtid::new(0, 1, 42)));
    assert_eq!(p.update(MariadbGtid::new(1, 2, 1)), None);
    assert_eq!(p.to_string(), "0-2-43,1-2-1");

    let older: GtidPosition = "0-1-40,1-2-1".parse().expect("parses");
    assert!(p.covers(&older));
    assert!(!older.covers(&p));
    assert!(p.covers(&GtidPosition::new()));
    let other_domain: GtidPosition = "2-1-1".parse().expect("parses");
    assert!(!p.covers(&other_domain));
    assert_eq!(p.remove(1), Some(MariadbGtid::new(1, 2, 1)));
    assert_eq!(p.to_string(), "0-2-43");
}

#[test]
fn position_serde_is_the_display_string() {
    let p: GtidPosition = "0-1-42,1-2-7".parse().expect("parses");
    let json = serde_json::to_string(&p).expect("serialises");
    assert_eq!(json, "\"0-1-42,1-2-7\"");
    assert_eq!(serde_json::from_str::<GtidPosition>(&json).expect("back"), p);
    let g = MariadbGtid::new(3, 4, 5);
    assert_eq!(serde_json::to_string(&g).expect("ser"), "\"3-4-5\"");
    assert!(serde_json::from_str::<GtidPosition>("\"0-1\"").is_err());
}

// ---- MySQL GTID and GTID set ----------------------------------------------

#[test]
fn mysql_set_parse_and_format() {
    let s: MysqlGtidSet = format!("{U2}:1-3,{U1}:1-5:7-9").parse().expect("parses");
    assert_eq!(s.to_string(), format!("{U1}:1-5:7-9,{U2}:1-3"));
    // @@gtid_executed style: upper case, ",\n" separators, single gnos.
    let s: MysqlGtidSet =
        format!("{}:1-5:7,\n{}:3", U1.to_uppercase(), U2).parse().expect("parses");
    assert_eq!(s.to_string(), format!("{U1}:1-5:7,{U2}:3"));
    // 32 hex digits without dashes.
    let s: MysqlGtidSet = format!("{}:1", U1.replace('-', "")).parse().expect("parses");
    assert_eq!(s.to_string(), format!("{U1}:1"));
    assert!("".parse::<MysqlGtidSet>().expect("empty").is_empty());
}

#[test]
fn mysql_set_merges_intervals() {
    for (input, want) in [
        (format!("{U1}:1-5:6-9"), format!("{U1}:1-9")),
        (format!("{U1}:7-9:1-5"), format!("{U1}:1-5:7-9")),
        (format!("{U1}:1-5:3-8"), format!("{U1}:1-8")),
        (format!("{U1}:4:1-10:12"), format!("{U1}:1-10:12")),
        (format!("{U1}:1-3,{U1}:4-5"), format!("{U1}:1-5")),
        (format!("{U1}:1:3:5:2:4"), format!("{U1}:1-5")),
    ] {
        let s: MysqlGtidSet = input.parse().expect("parses");
        assert_eq!(s.to_string(), want, "{input}");
    }
}

#[test]
fn mysql_set_add_and_contains() {
    let mut s: MysqlGtidSet = format!("{U1}:1-5:7-9").parse().expect("parses");
    let g = |t: &str| t.parse::<MysqlGtid>().expect("gtid");
    assert!(s.contains(&g(&format!("{U1}:5"))));
    assert!(!s.contains(&g(&format!("{U1}:6"))));
    assert!(!s.contains(&g(&format!("{U2}:1"))));
    assert!(s.add(&g(&format!("{U1}:6"))));
    assert!(!s.add(&g(&format!("{U1}:6"))), "already there");
    assert_eq!(s.to_string(), format!("{U1}:1-9"));
    assert!(s.add(&g(&format!("{U2}:1"))));
    assert_eq!(s.to_string(), format!("{U1}:1-9,{U2}:1"));
    assert_eq!(g(&format!("{U1}:tag_x:5")).to_string(), format!("{U1}:tag_x:5"));
}

#[test]
fn mysql_set_tags() {
    let s: MysqlGtidSet =
        format!("{U1}:1-5:tag_b:7:TAG_A:1-3,{U2}:only:4").parse().expect("parses");
    assert_eq!(s.to_string(), format!("{U1}:1-5:tag_a:1-3:tag_b:7,{U2}:only:4"));
    let tagged: MysqlGtid = format!("{U1}:tag_a:2").parse().expect("gtid");
    let untagged: MysqlGtid = format!("{U1}:7").parse().expect("gtid");
    assert!(s.contains(&tagged));
    assert!(!s.contains(&untagged), "7 is tagged tag_b, not untagged");
    let sids = s.to_sids();
    assert_eq!(sids.len(), 4);
    assert_eq!(sids[0].to_string(), format!("{U1}:1-5"));
    assert_eq!(sids[1].to_string(), format!("{U1}:tag_a:1-3"));
}

#[test]
fn mysql_set_errors_name_the_part() {
    let cases = [
        (format!("{U1}:0"), "gno", "0"),
        (format!("{U1}:5-3"), "interval", "5-3"),
        (format!("{U1}:1-9223372036854775808"), "interval end", "9223372036854775808"),
        (format!("{U1}:1-x"), "interval end", "x"),
        ("nonsense:1".to_owned(), "UUID", "nonsense"),
        (U1.to_string(), "UUID block", U1),
        (format!("{U1}:1:tag"), "UUID block", ""),
        (format!("{U1}:tag1:tag2:1"), "tag", "tag1"),
        (format!("{U1}:bad-tag:1"), "tag", "bad-tag"),
        (format!("{U1}:1,"), "UUID", ""),
    ];
    for (input, what, part) in cases {
        let e = err(input.parse::<MysqlGtidSet>());
        assert_eq!(e.what, what, "{input}: {e}");
        if !part.is_empty() {
            assert_eq!(e.part, part, "{input}: {e}");
        }
        assert_eq!(e.input, input);
    }
    // 9223372036854775808 overflows i64, not u64: it is caught by range,
    // and u64 overflow by parsing; neither panics.
    assert!(format!("{U1}:18446744073709551615").parse::<MysqlGtidSet>().is_err());
    assert!(format!("{U1}:18446744073709551616").parse::<MysqlGtidSet>().is_err());
    assert!(MysqlGtid::new([0; 16], None, 0).is_err());
    assert!(MysqlGtid::new([0; 16], Some("Bad Tag"), 1).is_err());
}

#[test]
fn mysql_set_from_and_to_mysql_common() {
    let uuid = *mysql_common::uuid::Uuid::parse_str(U1).expect("uuid").as_bytes();
    let ev = PreviousGtidsEvent::new(vec![PreviousGtidsSid::new(
        uuid,
        None,
        vec![GnoInterval::new(1, 6), GnoInterval::new(7, 10)],
    )]);
    let s = MysqlGtidSet::from_previous_gtids(&ev).expect("valid");
    assert_eq!(s.to_string(), format!("{U1}:1-5:7-9"));
    let sids = s.to_sids();
    assert_eq!(sids.len(), 1);
    assert_eq!(sids[0].uuid(), uuid);
    let ivs: Vec<(u64, u64)> = sids[0].intervals().iter().map(|i| (i.start(), i.end())).collect();
    assert_eq!(ivs, vec![(1, 6), (7, 10)], "GnoInterval end is exclusive");

    let bad = PreviousGtidsEvent::new(vec![PreviousGtidsSid::new(
        uuid,
        None,
        vec![GnoInterval::new(5, 5)],
    )]);
    assert!(MysqlGtidSet::from_previous_gtids(&bad).is_err());

    let g = MysqlGtid::try_from(&GtidEvent::new(uuid, 42)).expect("gtid");
    assert_eq!(g.to_string(), format!("{U1}:42"));
    assert!(MysqlGtid::try_from(&GtidEvent::new(uuid, 0)).is_err());
}

#[test]
fn mysql_set_union_subset_serde() {
    let a: MysqlGtidSet = format!("{U1}:1-5").parse().expect("a");
    let b: MysqlGtidSet = format!("{U1}:3-9,{U2}:1").parse().expect("b");
    let mut u = a.clone();
    u.union_with(&b);
    assert_eq!(u.to_string(), format!("{U1}:1-9,{U2}:1"));
    assert!(a.is_subset_of(&u));
    assert!(b.is_subset_of(&u));
    assert!(!u.is_subset_of(&a));
    assert!(MysqlGtidSet::new().is_subset_of(&a));
    let json = serde_json::to_string(&u).expect("ser");
    assert_eq!(serde_json::from_str::<MysqlGtidSet>(&json).expect("de"), u);
}

// ---- properties --------------------------------------------------------------

fn uuid_n(n: u8) -> [u8; 16] {
    let mut u = [0x11u8; 16];
    u[15] = n;
    u
}

proptest! {
    #[test]
    fn mariadb_gtid_roundtrips(d: u32, s: u32, n: u64) {
        let g = MariadbGtid::new(d, s, n);
        prop_assert_eq!(g.to_string().parse::<MariadbGtid>().expect("roundtrip"), g);
    }

    #[test]
    fn position_roundtrips_and_keeps_the_last_gtid_per_domain(
        gtids in proptest::collection::vec((0u32..4, any::<u32>(), any::<u64>()), 0..12)
    ) {
        let gtids: Vec<MariadbGtid> =
            gtids.into_iter().map(|(d, s, n)| MariadbGtid::new(d, s, n)).collect();
        let pos: GtidPosition = gtids.iter().copied().collect();
        let mut model = BTreeMap::new();
        for g in &gtids {
            model.insert(g.domain_id, *g);
        }
        prop_assert_eq!(pos.iter().copied().collect::<Vec<_>>(), model.values().copied().collect::<Vec<_>>());
        prop_assert_eq!(pos.to_string().parse::<GtidPosition>().expect("roundtrip"), pos.clone());
        for g in &gtids {
            let last = model[&g.domain_id];
            prop_assert_eq!(pos.contains(g), g.seq_no <= last.seq_no);
        }
    }

    #[test]
    fn mysql_set_matches_a_naive_model(
        adds in proptest::collection::vec((0u8..3, 1u64..60), 0..80),
        probe_uuid in 0u8..3,
    ) {
        let mut set = MysqlGtidSet::new();
        let mut model = BTreeSet::new();
        for (u, gno) in &adds {
            let g = MysqlGtid::new(uuid_n(*u), None, *gno).expect("valid");
            prop_assert_eq!(set.add(&g), model.insert((*u, *gno)));
        }
        for gno in 1..62u64 {
            let g = MysqlGtid::new(uuid_n(probe_uuid), None, gno).expect("valid");
            prop_assert_eq!(set.contains(&g), model.contains(&(probe_uuid, gno)));
        }
        let text = set.to_string();
        let back: MysqlGtidSet = text.parse().expect("own output parses");
        prop_assert_eq!(&back, &set);
        // Maximal intervals: no "a-b:c" with c == b + 1 in the output.
        for block in text.split(',') {
            let mut prev_end: Option<u64> = None;
            for part in block.split(':').skip(1) {
                let (s, e) = match part.split_once('-') {
                    Some((s, e)) => (s.parse::<u64>().expect("s"), e.parse::<u64>().expect("e")),
                    None => { let n = part.parse::<u64>().expect("n"); (n, n) }
                };
                if let Some(p) = prev_end {
                    prop_assert!(s > p + 1, "{} not merged", text);
                }
                prev_end = Some(e);
            }
        }
    }

    #[test]
    fn mysql_union_and_subset_match_the_model(
        a in proptest::collection::btree_set((0u8..2, 1u64..30), 0..30),
        b in proptest::collection::btree_set((0u8..2, 1u64..30), 0..30),
    ) {
        let build = |m: &BTreeSet<(u8, u64)>| {
            let mut s = MysqlGtidSet::new();
            for (u, g) in m {
                s.add(&MysqlGtid::new(uuid_n(*u), None, *g).expect("valid"));
            }
            s
        };
        let (sa, sb) = (build(&a), build(&b));
        let mut u = sa.clone();
        u.union_with(&sb);
        prop_assert_eq!(&u, &build(&a.union(&b).copied().collect()));
        prop_assert_eq!(sa.is_subset_of(&sb), a.is_subset(&b));
    }

    #[test]
    fn parsers_never_panic(s in "\\PC{0,60}") {
        let _ = s.parse::<MariadbGtid>();
        let _ = s.parse::<GtidPosition>();
        let _ = s.parse::<MysqlGtidSet>();
        let _ = s.parse::<MysqlGtid>();
    }

    #[test]
    fn set_parser_never_panics_on_near_miss_input(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(U1.to_owned()), Just(":".to_owned()), Just(",".to_owned()),
                Just("-".to_owned()), Just("tag".to_owned()), Just("0".to_owned()),
                Just("18446744073709551615".to_owned()), Just("9223372036854775807".to_owned()),
                "[0-9]{1,3}",
            ],
            0..12,
        )
    ) {
        let s: String = parts.concat();
        if let Ok(set) = s.parse::<MysqlGtidSet>() {
            prop_assert_eq!(set.to_string().parse::<MysqlGtidSet>().expect("reparse"), set);
        }
    }
}
