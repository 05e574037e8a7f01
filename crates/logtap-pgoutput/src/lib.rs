//! Sans-IO decoding of PostgreSQL logical replication: the CopyData frames
//! of the walsender (`w` XLogData, `k` keepalive, and the client's `r`
//! standby status update) and every pgoutput message of protocol versions 1
//! to 4, with the state they need (relation cache, stream block flag).
//!
//! Owns: bytes in, owned typed messages out; typed errors that name the
//! message and the byte offset of the failing field; never a panic on any
//! input, never an allocation sized by an unchecked length.
//!
//! Does not own: sockets, tokio, the replication connection and its
//! commands (`logtap-postgres`), converting column text/binary values into
//! Debezium values, or deciding which LSN is safe to confirm.
//!
//! Typical use, per replication session:
//!
//! ```
//! use logtap_pgoutput::{decode_copy_data, CopyData, Decoder, Message};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut decoder = Decoder::new(1)?; // the proto_version sent in START_REPLICATION
//! // one CopyData payload from the server: XLogData carrying a Begin
//! let frame = [
//!     b'w', 0, 0, 0, 0, 1, 0x9e, 0x5b, 0x50, 0, 0, 0, 0, 1, 0x9e, 0x5b, 0x50, 0, 3, 3, 0xe0,
//!     0xad, 0x52, 0xbf, 0xd0, b'B', 0, 0, 0, 0, 1, 0x9e, 0x5b, 0x50, 0, 3, 3, 0xe0, 0xad, 0x52,
//!     0xbf, 0xd0, 0, 0, 3, 0x25,
//! ];
//! match decode_copy_data(&frame)? {
//!     CopyData::XLogData(x) => match decoder.decode(x.data)? {
//!         Message::Begin(begin) => assert_eq!(begin.xid, 805),
//!         other => panic!("unexpected {other:?}"),
//!     },
//!     CopyData::PrimaryKeepalive(_) => {}
//! }
//! # Ok(())
//! # }
//! ```

pub mod copydata;
mod error;
mod messages;
pub mod pgoutput;
mod reader;

pub use copydata::{
    decode_copy_data, pg_micros_to_unix, unix_micros_to_pg, CopyData, PrimaryKeepalive,
    StandbyStatusUpdate, XLogData,
};
pub use error::CopyDataError;
pub use pgoutput::{
    Begin, Column, Commit, CommitPrepared, DecodeError, DecodeErrorKind, Decoder, Delete, Insert,
    LogicalMessage, Message, OldTuple, Origin, PreparedTransaction, Relation, ReplicaIdentity,
    RollbackPrepared, StreamAbort, StreamAbortInfo, StreamCommit, StreamStart, Truncate, TupleData,
    TupleValue, TypeMessage, UnsupportedProtocolVersion, Update,
};
