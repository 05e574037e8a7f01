//! A bounds-checked big-endian cursor over one message.
//!
//! Every read checks the bytes left first and fails with the offset of the
//! field and its name, so no decoder needs an index expression that could
//! panic, and no length read from the wire is trusted before the bytes it
//! claims are known to be there.

use crate::error::{DecodeErrorKind, Failure};

pub(crate) type ReadResult<T> = Result<T, Failure>;

#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Offset of the next byte to read, from the start of the message.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// A failure at the current offset.
    pub(crate) fn fail(&self, kind: DecodeErrorKind) -> Failure {
        self.fail_at(self.pos, kind)
    }

    pub(crate) fn fail_at(&self, offset: usize, kind: DecodeErrorKind) -> Failure {
        Failure { offset, kind }
    }

    fn truncated(&self, what: &'static str, need: usize) -> Failure {
        self.fail(DecodeErrorKind::Truncated { what, need, left: self.remaining() })
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> ReadResult<&'a [u8]> {
        match self.rest().split_at_checked(n) {
            Some((head, _)) => {
                self.pos += n;
                Ok(head)
            }
            None => Err(self.truncated(what, n)),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> ReadResult<[u8; N]> {
        match self.rest().split_first_chunk::<N>() {
            Some((head, _)) => {
                self.pos += N;
                Ok(*head)
            }
            None => Err(self.truncated(what, N)),
        }
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> ReadResult<u8> {
        self.array::<1>(what).map(|[b]| b)
    }

    pub(crate) fn i16(&mut self, what: &'static str) -> ReadResult<i16> {
        self.array(what).map(i16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> ReadResult<u32> {
        self.array(what).map(u32::from_be_bytes)
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> ReadResult<i32> {
        self.array(what).map(i32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> ReadResult<u64> {
        self.array(what).map(u64::from_be_bytes)
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> ReadResult<i64> {
        self.array(what).map(i64::from_be_bytes)
    }

    /// A byte that must be 0 (false) or 1 (true).
    pub(crate) fn bool(&mut self, what: &'static str) -> ReadResult<bool> {
        let start = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(self.fail_at(start, DecodeErrorKind::InvalidFlags { what, value })),
        }
    }

    /// A flags byte whose bits outside `known` must be clear.
    pub(crate) fn flags(&mut self, known: u8, what: &'static str) -> ReadResult<u8> {
        let start = self.pos;
        let value = self.u8(what)?;
        if value & !known != 0 {
            return Err(self.fail_at(start, DecodeErrorKind::InvalidFlags { what, value }));
        }
        Ok(value)
    }

    /// A NUL-terminated UTF-8 string (PostgreSQL's `String` type).
    pub(crate) fn cstring(&mut self, what: &'static str) -> ReadResult<String> {
        let start = self.pos;
        let rest = self.rest();
        let Some(len) = rest.iter().position(|&b| b == 0) else {
            return Err(self.fail(DecodeErrorKind::UnterminatedString { what, left: rest.len() }));
        };
        let bytes = rest.get(..len).unwrap_or(&[]);
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                self.pos += len + 1;
                Ok(s.to_owned())
            }
            Err(e) => {
                Err(self.fail_at(start + e.valid_up_to(), DecodeErrorKind::InvalidUtf8 { what }))
            }
        }
    }

    /// An `Int32` length followed by that many bytes. The length is checked
    /// against the bytes left before anything is allocated.
    pub(crate) fn counted_bytes(
        &mut self,
        len_what: &'static str,
        what: &'static str,
    ) -> ReadResult<Vec<u8>> {
        let start = self.pos;
        let len = self.i32(len_what)?;
        let len = usize::try_from(len).map_err(|_| {
            self.fail_at(start, DecodeErrorKind::Negative { what: len_what, value: i64::from(len) })
        })?;
        self.take(len, what).map(<[u8]>::to_vec)
    }

    /// Fails unless every byte has been read.
    pub(crate) fn finish(&self) -> ReadResult<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(self.fail(DecodeErrorKind::TrailingBytes { count })),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_tracks_offset() {
        let mut r = Reader::new(&[0x01, 0x00, 0x02, 0xff, 0xff, 0xff, 0xfe, b'a', 0]);
        assert_eq!(r.u8("a").ok(), Some(1));
        assert_eq!(r.i16("b").ok(), Some(2));
        assert_eq!(r.i32("c").ok(), Some(-2));
        assert_eq!(r.offset(), 7);
        assert_eq!(r.cstring("d").ok().as_deref(), Some("a"));
        assert!(r.finish().is_ok());
    }

    #[test]
    fn truncation_reports_field_and_offset() {
        let mut r = Reader::new(&[0, 0, 0]);
        let err = r.u32("relation id").err();
        let err = err.map(|f| (f.offset, f.kind));
        assert_eq!(
            err,
            Some((0, DecodeErrorKind::Truncated { what: "relation id", need: 4, left: 3 }))
        );
    }

    #[test]
    fn huge_counted_length_fails_without_allocating() {
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 1, 2]);
        let err = r.counted_bytes("column length", "column value").err();
        assert_eq!(
            err.map(|f| (f.offset, f.kind)),
            Some((
                4,
                DecodeErrorKind::Truncated {
                    what: "column value",
                    need: i32::MAX as usize,
                    left: 2
                }
            ))
        );
    }

    #[test]
    fn invalid_utf8_points_at_the_bad_byte() {
        let mut r = Reader::new(&[b'o', b'k', 0xc3, 0x28, 0]);
        let err = r.cstring("relation name").err();
        assert_eq!(
            err.map(|f| (f.offset, f.kind)),
            Some((2, DecodeErrorKind::InvalidUtf8 { what: "relation name" }))
        );
    }
}
