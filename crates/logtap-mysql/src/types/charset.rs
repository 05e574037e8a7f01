//! Character sets: from the collation ids of the binlog's optional metadata
//! to a decoder that turns column bytes into the same string Debezium gets
//! from `new String(bytes, javaCharset)`, with the Java charset Connector/J
//! maps each MySQL character set to (`latin1` is `Cp1252`, `ucs2` is
//! `UnicodeBig`, ...). Malformed input becomes U+FFFD, as Java's decoders
//! replace it.
//!
//! Only the Unicode character sets, `latin1` and `ascii` are decoded; a
//! column in any other character set is refused when the table is resolved
//! (never decoded wrongly).

use mysql_common::collations::{Collation, CollationId};

/// The collation id of the `binary` character set.
pub const BINARY_COLLATION: u16 = 63;

/// A character set logtap decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// `utf8mb4`, `utf8mb3` (`utf8`): Java `UTF-8`.
    Utf8,
    /// `latin1`: Java `Cp1252` (as Connector/J maps it), so 0x80-0x9f are
    /// the Windows-1252 punctuation and its five holes are U+FFFD.
    Latin1,
    /// `ascii`: Java `US-ASCII`, bytes above 0x7f are U+FFFD.
    Ascii,
    /// `ucs2`: Java `UnicodeBig` (UTF-16, big-endian unless a byte-order
    /// mark says otherwise).
    Ucs2,
    /// `utf16`: Java `UTF-16` (the same).
    Utf16,
    /// `utf16le`: Java `UTF-16LE`.
    Utf16Le,
    /// `utf32`: Java `UTF-32` (big-endian).
    Utf32,
}

impl Charset {
    /// The charset of a MySQL character set name, if logtap decodes it.
    pub fn from_mysql_name(name: &str) -> Option<Charset> {
        Some(match name {
            "utf8mb4" | "utf8mb3" | "utf8" => Charset::Utf8,
            "latin1" => Charset::Latin1,
            "ascii" => Charset::Ascii,
            "ucs2" => Charset::Ucs2,
            "utf16" => Charset::Utf16,
            "utf16le" => Charset::Utf16Le,
            "utf32" => Charset::Utf32,
            _ => return None,
        })
    }

    /// The MySQL name (`utf8mb4` for both UTF-8 sets).
    pub fn mysql_name(self) -> &'static str {
        match self {
            Charset::Utf8 => "utf8mb4",
            Charset::Latin1 => "latin1",
            Charset::Ascii => "ascii",
            Charset::Ucs2 => "ucs2",
            Charset::Utf16 => "utf16",
            Charset::Utf16Le => "utf16le",
            Charset::Utf32 => "utf32",
        }
    }

    /// Decodes column bytes.
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Charset::Latin1 => bytes.iter().map(|&b| cp1252(b)).collect(),
            Charset::Ascii => {
                bytes.iter().map(|&b| if b < 0x80 { char::from(b) } else { '\u{fffd}' }).collect()
            }
            Charset::Ucs2 | Charset::Utf16 => decode_utf16(bytes, true, true),
            Charset::Utf16Le => decode_utf16(bytes, false, false),
            Charset::Utf32 => decode_utf32(bytes),
        }
    }
}

/// The MySQL character set name of a collation id, for MySQL's ids (from
/// mysql_common's table of MySQL 8 collations) and MariaDB's own ranges
/// (`_mysql561` collations, `_nopad` collations at id + 1024, the
/// `uca1400` collations from 2048 on).
pub fn charset_name(collation: u16) -> Option<&'static str> {
    let id = collation;
    let mariadb = match id {
        576..=578 => Some("utf8mb3"),
        608..=610 => Some("utf8mb4"),
        640..=642 => Some("ucs2"),
        672..=674 => Some("utf16"),
        736..=738 => Some("utf32"),
        1024..=2047 => return charset_name(id - 1024),
        2048..=4095 => match id >> 8 {
            8 => Some("utf8mb3"),
            9 => Some("utf8mb4"),
            10 => Some("ucs2"),
            11 => Some("utf16"),
            12 => Some("utf32"),
            _ => None,
        },
        _ => None,
    };
    if mariadb.is_some() {
        return mariadb;
    }
    let c = Collation::from(CollationId::from(id));
    if c.id() == CollationId::UNKNOWN_COLLATION_ID {
        return None;
    }
    // mysql_common's table predates the utf8mb3 rename.
    let name = if c.charset() == "utf8" { "utf8mb3" } else { c.charset() };
    MYSQL_CHARSETS.iter().copied().find(|&n| n == name)
}

/// Every character set MySQL 8 and MariaDB 11 have.
const MYSQL_CHARSETS: &[&str] = &[
    "armscii8", "ascii", "big5", "binary", "cp1250", "cp1251", "cp1256", "cp1257", "cp850",
    "cp852", "cp866", "cp932", "dec8", "eucjpms", "euckr", "gb18030", "gb2312", "gbk", "geostd8",
    "greek", "hebrew", "hp8", "keybcs2", "koi8r", "koi8u", "latin1", "latin2", "latin5", "latin7",
    "macce", "macroman", "sjis", "swe7", "tis620", "ucs2", "ujis", "utf16", "utf16le", "utf32",
    "utf8mb3", "utf8mb4",
];

/// Windows-1252 as Java decodes it.
fn cp1252(b: u8) -> char {
    const HIGH: [u16; 32] = [
        0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
        0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
        0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178,
    ];
    match b {
        0x80..=0x9f => char::from_u32(u32::from(HIGH[usize::from(b - 0x80)])).unwrap_or('\u{fffd}'),
        _ => char::from(b),
    }
}

/// UTF-16; `bom` honours (and drops) a leading byte-order mark, as Java's
/// `UTF-16` decoder does. A trailing odd byte and unpaired surrogates are
/// U+FFFD.
fn decode_utf16(bytes: &[u8], big_endian: bool, bom: bool) -> String {
    let mut be = big_endian;
    let mut body = bytes;
    if bom && bytes.len() >= 2 {
        match (bytes[0], bytes[1]) {
            (0xfe, 0xff) => {
                be = true;
                body = &bytes[2..];
            }
            (0xff, 0xfe) => {
                be = false;
                body = &bytes[2..];
            }
            _ => {}
        }
    }
    let units = body.chunks_exact(2).map(|p| {
        if be {
            u16::from_be_bytes([p[0], p[1]])
        } else {
            u16::from_le_bytes([p[0], p[1]])
        }
    });
    let mut s: String = char::decode_utf16(units).map(|r| r.unwrap_or('\u{fffd}')).collect();
    if body.len() % 2 == 1 {
        s.push('\u{fffd}');
    }
    s
}

/// UTF-32, big-endian; invalid code points and a partial unit are U+FFFD.
fn decode_utf32(bytes: &[u8]) -> String {
    let mut s: String = bytes
        .chunks_exact(4)
        .map(|p| char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]])).unwrap_or('\u{fffd}'))
        .collect();
    if !bytes.len().is_multiple_of(4) {
        s.push('\u{fffd}');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collations() {
        assert_eq!(charset_name(45), Some("utf8mb4"));
        assert_eq!(charset_name(255), Some("utf8mb4"));
        assert_eq!(charset_name(33), Some("utf8mb3"));
        assert_eq!(charset_name(8), Some("latin1"));
        assert_eq!(charset_name(63), Some("binary"));
        assert_eq!(charset_name(1069), Some("utf8mb4"));
        assert_eq!(charset_name(1071), Some("latin1"));
        assert_eq!(charset_name(2305), Some("utf8mb4"));
        assert_eq!(charset_name(608), Some("utf8mb4"));
        assert_eq!(charset_name(28), Some("gbk"));
        assert_eq!(charset_name(5000), None);
    }

    #[test]
    fn decoders() {
        assert_eq!(Charset::Latin1.decode(b"caf\xe9 \x80\x81"), "café €\u{fffd}");
        assert_eq!(Charset::Ascii.decode(b"a\xe9"), "a\u{fffd}");
        assert_eq!(Charset::Utf16.decode(&[0, b'x', 0xd8, 0x34, 0xdd, 0x1e]), "x𝄞");
        assert_eq!(Charset::Utf16.decode(&[0xff, 0xfe, b'x', 0]), "x");
        assert_eq!(Charset::Utf16Le.decode(&[b'x', 0, 0x34, 0xd8]), "x\u{fffd}");
        assert_eq!(Charset::Utf32.decode(&[0, 1, 0xd1, 0x1e, 0, 0]), "𝄞\u{fffd}");
        assert_eq!(Charset::Utf8.decode(b"h\xc3\xa9\xff"), "hé\u{fffd}");
    }
}
