//! Why a MariaDB event could not be decoded, with the byte offset of the
//! fault (from the start of the event).

/// Why a MariaDB event could not be decoded.
///
/// Offsets count bytes from the start of the EVENT (the common header is
/// bytes 0..19, the body starts at 19), as `mariadb-binlog --hexdump`
/// shows them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MariadbDecodeError {
    /// The bytes end before a field does.
    #[error("{what} truncated at byte {offset}: {needed} bytes needed, {available} available")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Where the missing field starts.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// The event is longer than its fields.
    #[error("{what}: {count} unexpected trailing bytes at byte {offset}")]
    TrailingBytes {
        /// What was being decoded.
        what: &'static str,
        /// Where the unexpected bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("invalid {what} at byte {offset}: {reason}")]
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// Where the bad field starts.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The CRC32 trailer does not match the event's bytes.
    #[error("CRC32 mismatch at byte {offset}: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Where the trailer starts.
        offset: usize,
        /// The trailer's value.
        stored: u32,
        /// The CRC32 of the bytes before it.
        computed: u32,
    },
    /// A type code below 160: a MySQL event type, decode it with
    /// mysql_common.
    #[error("event type {event_type} is not a MariaDB event type (160..=171)")]
    NotMariadbEvent {
        /// The type code.
        event_type: u8,
    },
    /// A type code above MariaDB's last known one.
    #[error("unknown event type {event_type}")]
    UnknownEventType {
        /// The type code.
        event_type: u8,
    },
    /// A MariaDB event type logtap recognises and refuses, rather than
    /// skipping data it cannot read.
    #[error("unsupported MariaDB event {name} ({event_type}): {reason}")]
    Unsupported {
        /// The type code.
        event_type: u8,
        /// The server's name for it.
        name: &'static str,
        /// Why, and what to change.
        reason: &'static str,
    },
}

impl MariadbDecodeError {
    /// Byte offset within the event, when the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Self::Truncated { offset, .. }
            | Self::TrailingBytes { offset, .. }
            | Self::Invalid { offset, .. }
            | Self::ChecksumMismatch { offset, .. } => Some(*offset),
            Self::NotMariadbEvent { .. }
            | Self::UnknownEventType { .. }
            | Self::Unsupported { .. } => None,
        }
    }
}
