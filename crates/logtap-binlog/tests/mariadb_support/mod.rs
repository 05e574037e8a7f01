//! Shared by the mariadb_* tests: the golden events captured from a real
//! MariaDB 10.11 (tests/golden/mariadb, see capture.sh there).
#![allow(dead_code)]

/// One event from events.txt / encrypted.txt.
#[derive(Debug, Clone)]
pub struct Golden {
    /// Binlog file name, e.g. `binlog.000007`.
    pub file: String,
    /// Byte offset of the event in that file.
    pub pos: u32,
    /// Event type code.
    pub event_type: u8,
    /// The file has binlog_checksum=CRC32.
    pub checksum: bool,
    /// Header + body (+ CRC32).
    pub bytes: Vec<u8>,
}

pub const EVENTS: &str = include_str!("../golden/mariadb/events.txt");
pub const ENCRYPTED: &str = include_str!("../golden/mariadb/encrypted.txt");
pub const MARIADB_BINLOG: &str = include_str!("../golden/mariadb/mariadb-binlog.txt");

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub fn parse(text: &str) -> Vec<Golden> {
    text.lines()
        .filter(|l| l.starts_with("E "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 6, "bad golden line {l}");
            Golden {
                file: f[1].to_owned(),
                pos: f[2].parse().expect("pos"),
                event_type: f[3].parse().expect("type"),
                checksum: match f[4] {
                    "crc32" => true,
                    "none" => false,
                    other => panic!("bad checksum column {other}"),
                },
                bytes: unhex(f[5]),
            }
        })
        .collect()
}

/// All golden events: events.txt then encrypted.txt.
pub fn all() -> Vec<Golden> {
    let mut v = parse(EVENTS);
    v.extend(parse(ENCRYPTED));
    v
}

/// The golden events of MariaDB's own types (160..=171).
pub fn mariadb_events() -> Vec<Golden> {
    all().into_iter().filter(|g| g.event_type >= 160).collect()
}

/// The files of events.txt rebuilt byte for byte (magic + events), in
/// file order. Every captured file was extracted whole.
pub fn files() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for g in parse(EVENTS) {
        if out.last().map(|(n, _)| n != &g.file).unwrap_or(true) {
            out.push((g.file.clone(), b"\xfebin".to_vec()));
        }
        let (_, bytes) = out.last_mut().expect("pushed above");
        assert_eq!(bytes.len(), g.pos as usize, "{} not contiguous at {}", g.file, g.pos);
        bytes.extend_from_slice(&g.bytes);
    }
    out
}
