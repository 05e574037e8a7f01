//! The common binlog event header (format v4) and the CRC32 trailer:
//! what every event of either server starts and may end with.

use super::crc32::Crc32;
use super::error::MariadbDecodeError;
use super::reader::Reader;

/// Length of the common event header (binlog format v4).
pub const EVENT_HEADER_LEN: usize = 19;

/// Length of the CRC32 trailer of a checksummed event.
pub const CHECKSUM_LEN: usize = 4;

/// Header flag `LOG_EVENT_BINLOG_IN_USE_F`: set on a file's
/// FORMAT_DESCRIPTION_EVENT while the server writes the file, cleared on
/// close WITHOUT rewriting the event's CRC. The CRC is therefore computed as
/// if the flag were clear.
pub const LOG_EVENT_BINLOG_IN_USE_F: u16 = 0x0001;

/// Header flag `LOG_EVENT_IGNORABLE_F`: a reader that does not know the
/// event type may skip the event. MariaDB's dump thread sets it on the
/// START_ENCRYPTION_EVENT it forwards to replicas.
pub const LOG_EVENT_IGNORABLE_F: u16 = 0x0080;

/// FORMAT_DESCRIPTION_EVENT's type code (shared with MySQL).
const FORMAT_DESCRIPTION_EVENT: u8 = 15;

/// The common 19-byte header in front of every binlog event.
///
/// All fields are kept raw so [`EventHeader::to_bytes`] reproduces the
/// original bytes exactly, which the CRC32 check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventHeader {
    /// Seconds since the Unix epoch when the statement started.
    pub timestamp: u32,
    /// Event type code (MariaDB's own are 160..=171).
    pub event_type: u8,
    /// Server that ORIGINALLY wrote the event (kept by replicas with
    /// log_slave_updates). For a GTID event this is the GTID's server_id.
    pub server_id: u32,
    /// Size of the whole event: header, body and CRC32 trailer if any.
    pub event_size: u32,
    /// Position of the NEXT event in the server's binlog file (0 in some
    /// artificial events the server sends, e.g. a fake ROTATE).
    pub log_pos: u32,
    /// `LOG_EVENT_*_F` flags.
    pub flags: u16,
}

impl EventHeader {
    /// Parses the header at the start of `event`.
    ///
    /// Only the first 19 bytes are read; `event_size` is checked to be at
    /// least 19 (an event can never be smaller than its header).
    pub fn parse(event: &[u8]) -> Result<Self, MariadbDecodeError> {
        let mut r = Reader::new(event, 0, "event header");
        let header = Self {
            timestamp: r.u32()?,
            event_type: r.u8()?,
            server_id: r.u32()?,
            event_size: r.u32()?,
            log_pos: r.u32()?,
            flags: u16::from_le_bytes(r.array()?),
        };
        if (header.event_size as usize) < EVENT_HEADER_LEN {
            return Err(MariadbDecodeError::Invalid {
                what: "event header",
                offset: 9,
                reason: format!(
                    "event_size {} is smaller than the {EVENT_HEADER_LEN}-byte header",
                    header.event_size
                ),
            });
        }
        Ok(header)
    }

    /// The header's 19 bytes, as they were on the wire.
    pub fn to_bytes(&self) -> [u8; EVENT_HEADER_LEN] {
        let mut out = [0u8; EVENT_HEADER_LEN];
        out[0..4].copy_from_slice(&self.timestamp.to_le_bytes());
        out[4] = self.event_type;
        out[5..9].copy_from_slice(&self.server_id.to_le_bytes());
        out[9..13].copy_from_slice(&self.event_size.to_le_bytes());
        out[13..17].copy_from_slice(&self.log_pos.to_le_bytes());
        out[17..19].copy_from_slice(&self.flags.to_le_bytes());
        out
    }

    /// `LOG_EVENT_IGNORABLE_F` is set: a reader may skip this event if it
    /// does not know its type.
    pub fn is_ignorable(&self) -> bool {
        self.flags & LOG_EVENT_IGNORABLE_F != 0
    }
}

impl From<&mysql_common::binlog::events::BinlogEventHeader> for EventHeader {
    fn from(h: &mysql_common::binlog::events::BinlogEventHeader) -> Self {
        Self {
            timestamp: h.timestamp(),
            event_type: h.event_type_raw(),
            server_id: h.server_id(),
            event_size: h.event_size(),
            log_pos: h.log_pos(),
            flags: h.flags_raw(),
        }
    }
}

/// The CRC32 an event's trailer must hold: over the header and `data` (the
/// body without the trailer).
///
/// Works for every event type, MySQL's included (mysql_common splits the
/// trailer off into `Event::checksum()` but never verifies it). For a
/// FORMAT_DESCRIPTION_EVENT `data` must include the checksum-algorithm byte
/// (mysql_common's `Event::data()` has it removed; append
/// `footer().get_checksum_alg()`), and the in-use flag is masked as the
/// server does.
pub fn event_crc32(header: &EventHeader, data: &[u8]) -> u32 {
    let mut h = *header;
    if h.event_type == FORMAT_DESCRIPTION_EVENT {
        h.flags &= !LOG_EVENT_BINLOG_IN_USE_F;
    }
    let mut crc = Crc32::new();
    crc.update(&h.to_bytes());
    crc.update(data);
    crc.finalize()
}

/// Checks the CRC32 trailer of a whole event (header + body + 4-byte CRC).
///
/// For any event type. Also checks that the header's `event_size` matches
/// `event.len()`.
pub fn verify_event_checksum(event: &[u8]) -> Result<(), MariadbDecodeError> {
    let header = EventHeader::parse(event)?;
    check_size(&header, event.len())?;
    split_checksum(&header, &event[EVENT_HEADER_LEN..]).map(|_| ())
}

pub(super) fn check_size(header: &EventHeader, len: usize) -> Result<(), MariadbDecodeError> {
    if header.event_size as usize != len {
        return Err(MariadbDecodeError::Invalid {
            what: "event header",
            offset: 9,
            reason: format!("event_size is {} but the event has {len} bytes", header.event_size),
        });
    }
    Ok(())
}

/// Splits the trailer off `body` and verifies it; returns the body without
/// it.
pub(super) fn split_checksum<'a>(
    header: &EventHeader,
    body: &'a [u8],
) -> Result<&'a [u8], MariadbDecodeError> {
    let Some(data_len) = body.len().checked_sub(CHECKSUM_LEN) else {
        return Err(MariadbDecodeError::Truncated {
            what: "CRC32 trailer",
            offset: EVENT_HEADER_LEN,
            needed: CHECKSUM_LEN,
            available: body.len(),
        });
    };
    let (data, trailer) = body.split_at(data_len);
    let mut stored = [0u8; CHECKSUM_LEN];
    stored.copy_from_slice(trailer);
    let stored = u32::from_le_bytes(stored);
    let computed = event_crc32(header, data);
    if stored != computed {
        return Err(MariadbDecodeError::ChecksumMismatch {
            offset: EVENT_HEADER_LEN + data_len,
            stored,
            computed,
        });
    }
    Ok(data)
}
