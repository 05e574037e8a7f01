//! Checked little-endian reads over a byte slice.
//!
//! Every read checks the remaining length first and reports a shortfall as
//! [`MariadbDecodeError::Truncated`] carrying the byte offset from the start
//! of the EVENT (not of the slice): a body reader is created with
//! `base = 19` so offsets line up with `mariadb-binlog --hexdump` output.

use super::error::MariadbDecodeError;

#[derive(Debug)]
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` within the event.
    base: usize,
    /// What is being decoded, for error messages ("GTID event", ...).
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8], base: usize, what: &'static str) -> Self {
        Self { buf, pos: 0, base, what }
    }

    /// Offset of the next unread byte, counted from the start of the event.
    pub(super) fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], MariadbDecodeError> {
        let available = self.remaining();
        if n > available {
            return Err(MariadbDecodeError::Truncated {
                what: self.what,
                offset: self.offset(),
                needed: n,
                available,
            });
        }
        let start = self.pos;
        self.pos += n;
        // In bounds: n <= remaining was checked above.
        Ok(&self.buf[start..start + n])
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], MariadbDecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, MariadbDecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u32(&mut self) -> Result<u32, MariadbDecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(super) fn i32(&mut self) -> Result<i32, MariadbDecodeError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64, MariadbDecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Everything not read yet.
    pub(super) fn rest(&mut self) -> &'a [u8] {
        let start = self.pos.min(self.buf.len());
        self.pos = self.buf.len();
        &self.buf[start..]
    }

    /// Fails if bytes are left: the event is longer than its fields say.
    pub(super) fn finish(self) -> Result<(), MariadbDecodeError> {
        if self.remaining() > 0 {
            return Err(MariadbDecodeError::TrailingBytes {
                what: self.what,
                offset: self.offset(),
                count: self.remaining(),
            });
        }
        Ok(())
    }
}
