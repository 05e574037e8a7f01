//! The walsender's CopyData payloads in START_REPLICATION's CopyBoth mode.
//!
//! After `START_REPLICATION SLOT ... LOGICAL`, every CopyData message from
//! the server is either
//!
//! - `w` **XLogData**: `wal_start` u64, `wal_end` u64, `send_time` i64, then
//!   one complete pgoutput message (hand it to
//!   [`Decoder::decode`](crate::pgoutput::Decoder::decode)), or
//! - `k` **primary keepalive**: `wal_end` u64, `send_time` i64,
//!   `reply_requested` u8,
//!
//! and the client sends `r` **standby status updates** ([`StandbyStatusUpdate`])
//! carrying the positions it has written, flushed and applied.
//!
//! What the LSNs mean, as observed on PostgreSQL 15 (see
//! `tests/golden/copydata.hex`):
//!
//! - XLogData `wal_start` and `wal_end` are equal, and are the LSN the
//!   walsender associates with the message (a change's record, the end of a
//!   commit). They are **0** on some frames: the Relation message of a
//!   transaction arrives with `wal_start = wal_end = 0`. They are labels, not
//!   a resume position; the position to confirm is a Commit's `end_lsn`.
//! - Keepalive `wal_end` is the end of WAL the walsender has processed.
//!   With nothing in flight, confirming it as `flush_lsn` lets the server
//!   recycle WAL of an idle slot (ARCHITECTURE.md invariant 6).
//! - `reply_requested` in a keepalive means: answer now, or be disconnected
//!   at `wal_sender_timeout`.
//!
//! Times are microseconds since the PostgreSQL epoch, 2000-01-01 00:00:00
//! UTC; [`unix_micros_to_pg`] and [`pg_micros_to_unix`] convert.
//!
//! No IO: the caller reads CopyData messages from its connection and
//! writes the bytes of [`StandbyStatusUpdate::encode`] as CopyData.

use crate::error::{copydata_type_name, CopyDataError, DecodeErrorKind};
use crate::reader::{ReadResult, Reader};

/// Microseconds from the Unix epoch (1970-01-01) to the PostgreSQL epoch
/// (2000-01-01), both UTC: 10957 days.
pub const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// Converts microseconds since the Unix epoch to microseconds since the
/// PostgreSQL epoch. Saturates instead of overflowing, so PostgreSQL's
/// `infinity` timestamps (`i64::MAX`/`i64::MIN`) stay infinite.
pub fn unix_micros_to_pg(unix_micros: i64) -> i64 {
    unix_micros.saturating_sub(PG_EPOCH_UNIX_MICROS)
}

/// Converts microseconds since the PostgreSQL epoch to microseconds since
/// the Unix epoch (saturating, like [`unix_micros_to_pg`]).
pub fn pg_micros_to_unix(pg_micros: i64) -> i64 {
    pg_micros.saturating_add(PG_EPOCH_UNIX_MICROS)
}

/// One decoded server-to-client CopyData payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyData<'a> {
    /// `w`: a pgoutput message and the LSNs the walsender attached to it.
    XLogData(XLogData<'a>),
    /// `k`: the server's position, and whether it wants a status update.
    PrimaryKeepalive(PrimaryKeepalive),
}

/// `w` XLogData. `data` borrows from the CopyData payload, so decoding the
/// frame copies nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XLogData<'a> {
    /// Start of the WAL data in this message (see the module docs: may be 0).
    pub wal_start: u64,
    /// The server's current end of WAL, as it reports it for this message.
    pub wal_end: u64,
    /// Server clock at sending, µs since 2000-01-01 UTC.
    pub send_time: i64,
    /// One pgoutput message.
    pub data: &'a [u8],
}

/// `k` primary keepalive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrimaryKeepalive {
    /// The server's current end of WAL.
    pub wal_end: u64,
    /// Server clock at sending, µs since 2000-01-01 UTC.
    pub send_time: i64,
    /// The server asks for an immediate standby status update.
    pub reply_requested: bool,
}

/// Decodes one CopyData payload sent by the walsender.
///
/// Unknown frame types are an error rather than skipped: the walsender
/// sends only `w` and `k` in logical replication, so anything else means
/// the caller is not where it thinks it is in the protocol.
pub fn decode_copy_data(payload: &[u8]) -> Result<CopyData<'_>, CopyDataError> {
    let Some(&tag) = payload.first() else {
        return Err(CopyDataError { offset: 0, message_type: None, kind: DecodeErrorKind::Empty });
    };
    let mut r = Reader::new(payload);
    let known = copydata_type_name(tag).is_some().then_some(tag);
    let decoded = match tag {
        b'w' => decode_xlogdata(&mut r).map(CopyData::XLogData),
        b'k' => decode_keepalive(&mut r).map(CopyData::PrimaryKeepalive),
        byte => Err(r.fail(DecodeErrorKind::UnknownMessageType { byte })),
    };
    decoded.map_err(|f| f.into_copydata(known))
}

fn decode_xlogdata<'a>(r: &mut Reader<'a>) -> ReadResult<XLogData<'a>> {
    r.u8("message type")?;
    let wal_start = r.u64("WAL start")?;
    let wal_end = r.u64("WAL end")?;
    let send_time = r.i64("send time")?;
    let data = r.take(r.remaining(), "message data")?;
    Ok(XLogData { wal_start, wal_end, send_time, data })
}

fn decode_keepalive(r: &mut Reader<'_>) -> ReadResult<PrimaryKeepalive> {
    r.u8("message type")?;
    let wal_end = r.u64("WAL end")?;
    let send_time = r.i64("send time")?;
    let reply_requested = r.bool("reply requested flag")?;
    r.finish()?;
    Ok(PrimaryKeepalive { wal_end, send_time, reply_requested })
}

/// The client's `r` standby status update.
///
/// What PostgreSQL does with the positions: `flush_lsn` becomes the slot's
/// `confirmed_flush_lsn`, the point a restart resumes from and before which
/// WAL may be recycled. Send it only for positions whose every record has
/// been acknowledged downstream (ARCHITECTURE.md invariant 2); `write_lsn` and
/// `apply_lsn` are informational (`pg_stat_replication`), and logtap sends
/// the same value in all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StandbyStatusUpdate {
    /// Last WAL byte + 1 received and written by the client.
    pub write_lsn: u64,
    /// Last WAL byte + 1 durably stored by the client.
    pub flush_lsn: u64,
    /// Last WAL byte + 1 applied by the client.
    pub apply_lsn: u64,
    /// Client clock, µs since 2000-01-01 UTC (see [`unix_micros_to_pg`]).
    pub client_time: i64,
    /// Ask the server to answer immediately with a keepalive.
    pub reply_requested: bool,
}

impl StandbyStatusUpdate {
    /// Length of the encoded payload: type byte, three LSNs, time, flag.
    pub const ENCODED_LEN: usize = 1 + 8 + 8 + 8 + 8 + 1;

    /// The CopyData payload to send to the server.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        out.push(b'r');
        out.extend_from_slice(&self.write_lsn.to_be_bytes());
        out.extend_from_slice(&self.flush_lsn.to_be_bytes());
        out.extend_from_slice(&self.apply_lsn.to_be_bytes());
        out.extend_from_slice(&self.client_time.to_be_bytes());
        out.push(u8::from(self.reply_requested));
        out
    }

    /// Decodes an `r` payload: the server's view of [`encode`](Self::encode),
    /// for tests and fake servers.
    pub fn decode(payload: &[u8]) -> Result<Self, CopyDataError> {
        let known = payload.first().copied().filter(|&b| b == b'r');
        Self::read(payload).map_err(|f| f.into_copydata(known))
    }

    fn read(payload: &[u8]) -> ReadResult<Self> {
        let mut r = Reader::new(payload);
        match r.u8("message type") {
            Ok(b'r') => {}
            Ok(byte) => {
                return Err(r.fail_at(0, DecodeErrorKind::UnknownMessageType { byte }));
            }
            Err(_) => return Err(r.fail(DecodeErrorKind::Empty)),
        }
        let update = StandbyStatusUpdate {
            write_lsn: r.u64("write LSN")?,
            flush_lsn: r.u64("flush LSN")?,
            apply_lsn: r.u64("apply LSN")?,
            client_time: r.i64("client time")?,
            reply_requested: r.bool("reply requested flag")?,
        };
        r.finish()?;
        Ok(update)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn epoch_conversion() {
        // 2000-01-01T00:00:00Z
        assert_eq!(unix_micros_to_pg(946_684_800_000_000), 0);
        assert_eq!(pg_micros_to_unix(0), 946_684_800_000_000);
        assert_eq!(pg_micros_to_unix(i64::MAX), i64::MAX);
        assert_eq!(unix_micros_to_pg(i64::MIN), i64::MIN);
    }

    #[test]
    fn keepalive_rejects_trailing_bytes() {
        let mut k = vec![b'k'];
        k.extend_from_slice(&[0; 17]);
        assert!(decode_copy_data(&k).is_ok());
        k.push(0);
        let err = decode_copy_data(&k).err();
        assert_eq!(
            err.map(|e| (e.offset, e.kind)),
            Some((18, DecodeErrorKind::TrailingBytes { count: 1 }))
        );
    }
}
