//! Loading the golden captures in `tests/golden/`.

#![allow(dead_code)]

use std::path::PathBuf;

/// The messages of a golden file, in order: one hex string per line, lines
/// starting with `#` are comments.
pub fn golden(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| hex(l).unwrap_or_else(|| panic!("{name}: bad hex line {l}")))
        .collect()
}

pub fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Builds protocol messages by hand, big-endian, from the documented
/// layouts.
#[derive(Debug, Default, Clone)]
pub struct Msg(pub Vec<u8>);

impl Msg {
    pub fn new(tag: u8) -> Self {
        Msg(vec![tag])
    }
    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    pub fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// A NUL-terminated string.
    pub fn cstr(mut self, s: &str) -> Self {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        self
    }
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    /// `t` + Int32 length + bytes.
    pub fn text(self, s: &str) -> Self {
        let len = i32::try_from(s.len()).expect("short");
        self.u8(b't').i32(len).raw(s.as_bytes())
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A Relation message (outside a stream block) for `oid` with `n` int4
/// columns `c0..`, the first one the key.
pub fn relation_msg(oid: u32, n: i16) -> Msg {
    let mut m = Msg::new(b'R').u32(oid).cstr("public").cstr("t").u8(b'd').i16(n);
    for i in 0..n {
        m = m.u8(u8::from(i == 0)).cstr(&format!("c{i}")).u32(23).i32(-1);
    }
    m
}
