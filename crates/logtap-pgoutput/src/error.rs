//! Error types shared by the CopyData and pgoutput decoders.
//!
//! Both decoders report the same kinds of failure (a field runs past the end
//! of the message, a length is negative, a string is not UTF-8, ...), so the
//! kind is one enum. The wrapper differs: [`DecodeError`] names the pgoutput
//! message, [`CopyDataError`] the walsender frame, because the same letter
//! means different things in the two layers (`r` is Rollback Prepared in
//! pgoutput and a standby status update in CopyData).

use std::fmt;

/// A pgoutput message that could not be decoded.
///
/// `offset` is the byte offset, from the start of the message (its type
/// byte is at 0), of the field that could not be read: the place to look in
/// a hex dump. `message_type` is the message's type byte when it is a known
/// pgoutput type, `None` for empty input and unknown types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pgoutput {} at byte {offset}: {kind}", pgoutput_name(*message_type))]
pub struct DecodeError {
    /// Byte offset of the failing field within the message.
    pub offset: usize,
    /// The message's type byte (`'I'` for Insert, ...), if known.
    pub message_type: Option<char>,
    /// What went wrong.
    pub kind: DecodeErrorKind,
}

/// A walsender CopyData payload that could not be decoded.
///
/// Same conventions as [`DecodeError`]; `message_type` is `'w'`, `'k'` or
/// `'r'` when the frame type is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replication CopyData {} at byte {offset}: {kind}", copydata_name(*message_type))]
pub struct CopyDataError {
    /// Byte offset of the failing field within the CopyData payload.
    pub offset: usize,
    /// The frame's type byte, if known.
    pub message_type: Option<char>,
    /// What went wrong.
    pub kind: DecodeErrorKind,
}

/// Why a message could not be decoded.
///
/// `what` fields name the protocol field being read ("column length",
/// "relation name", ...), so the text of an error is enough to find the
/// problem without the source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Zero bytes: not even a type byte.
    #[error("empty message")]
    Empty,
    /// The type byte is not one this decoder knows.
    #[error("unknown message type {}", ByteName(*byte))]
    UnknownMessageType {
        /// The type byte.
        byte: u8,
    },
    /// A known message that the negotiated protocol version cannot carry:
    /// either the server and client disagree on the version, or the stream
    /// is out of sync and this byte is not really a type byte.
    #[error("{name} messages need protocol version {required}, the decoder was set up for version {negotiated}")]
    NotInProtocolVersion {
        /// Name of the message type.
        name: &'static str,
        /// First protocol version with this message.
        required: u32,
        /// Version the decoder was created with.
        negotiated: u32,
    },
    /// A fixed-size field or a counted byte string runs past the end.
    #[error("truncated: need {need} bytes for {what}, {left} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        need: usize,
        /// Bytes left in the message.
        left: usize,
    },
    /// A NUL-terminated string has no NUL before the end of the message.
    #[error("unterminated string for {what}: no NUL byte in the {left} bytes left")]
    UnterminatedString {
        /// The field being read.
        what: &'static str,
        /// Bytes left in the message when the string started.
        left: usize,
    },
    /// A string is not UTF-8 (the decoder assumes `server_encoding` UTF8;
    /// the offset points at the first invalid byte).
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field being read.
        what: &'static str,
    },
    /// A length or count field is negative.
    #[error("negative {what}: {value}")]
    Negative {
        /// The field being read.
        what: &'static str,
        /// The value found.
        value: i64,
    },
    /// A flags byte has bits this protocol version does not define, or a
    /// boolean byte is neither 0 nor 1. PostgreSQL changes such fields only
    /// with a new protocol version, so this means a misread stream.
    #[error("invalid {what}: 0x{value:02x}")]
    InvalidFlags {
        /// The field being read.
        what: &'static str,
        /// The byte found.
        value: u8,
    },
    /// A tuple column starts with a byte other than `n`, `u`, `t` or `b`.
    #[error("unknown tuple column kind {}", ByteName(*byte))]
    UnknownColumnKind {
        /// The byte found.
        byte: u8,
    },
    /// An Update or Delete has a tuple tag other than the ones allowed at
    /// that place (`K`, `O`, `N`).
    #[error("expected {expected}, found {}", ByteName(*byte))]
    UnexpectedTupleTag {
        /// What was allowed, in words.
        expected: &'static str,
        /// The byte found.
        byte: u8,
    },
    /// A Relation message has a replica identity other than `d`, `n`, `f`,
    /// `i`.
    #[error("unknown replica identity {}", ByteName(*byte))]
    UnknownReplicaIdentity {
        /// The byte found.
        byte: u8,
    },
    /// A row change names a relation no Relation message has described.
    /// The server always sends the Relation message first in a session, so
    /// this is a protocol violation or a decoder fed a partial stream.
    #[error("unknown relation {oid} (no Relation message seen)")]
    UnknownRelation {
        /// The relation OID.
        oid: u32,
    },
    /// A tuple's column count differs from its relation's.
    #[error("tuple has {found} columns, relation {oid} has {expected}")]
    ColumnCountMismatch {
        /// The relation OID.
        oid: u32,
        /// Columns in the cached Relation message.
        expected: usize,
        /// Columns in the tuple.
        found: usize,
    },
    /// A message arrived where the Stream Start/Stop bracketing forbids it.
    #[error("{detail}")]
    StreamState {
        /// What was wrong.
        detail: &'static str,
    },
    /// Bytes left over after a complete message.
    #[error("{count} trailing bytes after a complete message")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

/// A byte shown as `'Z' (0x5a)` when it is printable ASCII, else `0x00`.
struct ByteName(u8);

impl fmt::Display for ByteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}' (0x{:02x})", char::from(self.0), self.0)
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

/// Name of a pgoutput message type, for error texts.
pub(crate) fn pgoutput_type_name(byte: u8) -> Option<&'static str> {
    Some(match byte {
        b'B' => "Begin",
        b'C' => "Commit",
        b'O' => "Origin",
        b'R' => "Relation",
        b'Y' => "Type",
        b'I' => "Insert",
        b'U' => "Update",
        b'D' => "Delete",
        b'T' => "Truncate",
        b'M' => "Message",
        b'S' => "Stream Start",
        b'E' => "Stream Stop",
        b'c' => "Stream Commit",
        b'A' => "Stream Abort",
        b'b' => "Begin Prepare",
        b'P' => "Prepare",
        b'K' => "Commit Prepared",
        b'r' => "Rollback Prepared",
        b'p' => "Stream Prepare",
        _ => return None,
    })
}

fn pgoutput_name(message_type: Option<char>) -> &'static str {
    message_type
        .and_then(|c| u8::try_from(c).ok())
        .and_then(pgoutput_type_name)
        .unwrap_or("message")
}

pub(crate) fn copydata_type_name(byte: u8) -> Option<&'static str> {
    Some(match byte {
        b'w' => "XLogData",
        b'k' => "primary keepalive",
        b'r' => "standby status update",
        _ => return None,
    })
}

fn copydata_name(message_type: Option<char>) -> &'static str {
    message_type
        .and_then(|c| u8::try_from(c).ok())
        .and_then(copydata_type_name)
        .unwrap_or("message")
}

/// A failure inside a [`Reader`](crate::reader::Reader), before it is
/// wrapped with the message type of the layer that was decoding.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) offset: usize,
    pub(crate) kind: DecodeErrorKind,
}

impl Failure {
    pub(crate) fn into_pgoutput(self, message_type: Option<u8>) -> DecodeError {
        DecodeError {
            offset: self.offset,
            message_type: message_type.map(char::from),
            kind: self.kind,
        }
    }

    pub(crate) fn into_copydata(self, message_type: Option<u8>) -> CopyDataError {
        CopyDataError {
            offset: self.offset,
            message_type: message_type.map(char::from),
            kind: self.kind,
        }
    }
}
