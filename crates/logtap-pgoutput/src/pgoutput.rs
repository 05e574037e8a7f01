//! pgoutput, PostgreSQL's logical replication output plugin: every message
//! of protocol versions 1 to 4, decoded into owned, typed values.
//!
//! # The stream, and the state it needs
//!
//! A pgoutput stream is not a sequence of independent messages. Three things
//! carry over from one message to the next, and [`Decoder`] owns them:
//!
//! - **The protocol version** the client asked for in START_REPLICATION
//!   (`proto_version`). It decides which messages may appear (streaming from
//!   2, two-phase from 3) and the layout of Stream Abort (4).
//! - **Whether we are inside a Stream Start/Stop block.** With `streaming`
//!   on (v2+), the server sends the changes of a large in-progress
//!   transaction in blocks, and inside a block the data messages (Relation,
//!   Type, Insert, Update, Delete, Truncate, Message) carry the xid of the
//!   (sub)transaction that made the change as an extra leading field. The
//!   same byte layout is therefore ambiguous without this bit.
//! - **The relation cache.** Row changes name their table by OID only; the
//!   column names, types and key flags come once per session in a Relation
//!   message, sent again whenever the table's definition changes. Tuples
//!   are only meaningful against that description, so the decoder keeps the
//!   latest one per OID ([`Decoder::relation`]) and checks every tuple's
//!   column count against it.
//!
//! A change for a relation not in the cache is a typed error
//! ([`DecodeErrorKind::UnknownRelation`]), not a silent pass-through: the
//! server always describes a relation before its first change in a session,
//! so a miss means a decoder that was fed a partial stream or a desync, and
//! the consumer could not interpret the tuple anyway. Truncate is not
//! checked: it carries no tuple.
//!
//! Like PostgreSQL's own subscriber, the cache is one map for all
//! transactions: a Relation message sent inside a streamed transaction
//! replaces the entry even if that transaction later aborts. The server
//! resends the description whenever it may differ from what it last sent.
//!
//! # Decoding is all or nothing
//!
//! [`Decoder::decode`] reads the whole message before it changes any
//! state: on `Err` the relation cache and the stream flag are as they were.
//! A message must be consumed exactly: leftover bytes are an error, never
//! ignored, so a misread layout cannot go unnoticed.
//!
//! # Conventions
//!
//! - LSNs are plain `u64` (`0/16B3748` is `0x0000_0000_016B_3748`).
//! - Timestamps are `i64` microseconds since the PostgreSQL epoch,
//!   2000-01-01 00:00:00 UTC (see [`crate::copydata::pg_micros_to_unix`]).
//! - Names (schemas, tables, columns, types, origins, GIDs, message
//!   prefixes) are decoded as UTF-8; a non-UTF-8 name is an error. logtap
//!   assumes `server_encoding = UTF8` (the only sane choice for a CDC
//!   source feeding JSON). Column values are left as bytes: their encoding
//!   and meaning are the type converter's business.
//! - Flag bytes with bits the protocol does not define are an error:
//!   PostgreSQL changes such fields only together with the protocol
//!   version, so unknown bits mean a misread stream.
//!
//! Layouts follow PostgreSQL's "Logical Replication Message Formats"
//! (protocol-logicalrep-message-formats) and were checked against bytes
//! captured from PostgreSQL 15 (`tests/golden/`).

use std::collections::HashMap;

use crate::error::{pgoutput_type_name, Failure};
use crate::reader::{ReadResult, Reader};

pub use crate::error::{DecodeError, DecodeErrorKind};
pub use crate::messages::{
    Begin, Column, Commit, CommitPrepared, Delete, Insert, LogicalMessage, Message, OldTuple,
    Origin, PreparedTransaction, Relation, ReplicaIdentity, RollbackPrepared, StreamAbort,
    StreamAbortInfo, StreamCommit, StreamStart, Truncate, TupleData, TupleValue, TypeMessage,
    Update,
};

/// Lowest protocol version this decoder speaks.
pub const MIN_PROTOCOL_VERSION: u32 = 1;
/// Highest protocol version this decoder speaks (PostgreSQL 16+).
pub const MAX_PROTOCOL_VERSION: u32 = 4;

/// The requested `proto_version` is outside 1..=4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unsupported pgoutput protocol version {0} (supported: 1 to 4)")]
pub struct UnsupportedProtocolVersion(pub u32);

/// Stateful pgoutput decoder for one replication session.
///
/// Create one per START_REPLICATION, with the `proto_version` that was
/// requested, and feed it every pgoutput message in order (the `data` of
/// each XLogData frame). A new session needs a new decoder: the server
/// resends Relation messages at the start of each session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoder {
    protocol_version: u32,
    in_stream: bool,
    relations: HashMap<u32, Relation>,
}

impl Decoder {
    /// A decoder for the given negotiated protocol version (1 to 4).
    pub fn new(protocol_version: u32) -> Result<Self, UnsupportedProtocolVersion> {
        if !(MIN_PROTOCOL_VERSION..=MAX_PROTOCOL_VERSION).contains(&protocol_version) {
            return Err(UnsupportedProtocolVersion(protocol_version));
        }
        Ok(Decoder { protocol_version, in_stream: false, relations: HashMap::new() })
    }

    /// The protocol version given to [`new`](Self::new).
    pub fn protocol_version(&self) -> u32 {
        self.protocol_version
    }

    /// True between a Stream Start and its Stream Stop.
    pub fn in_stream(&self) -> bool {
        self.in_stream
    }

    /// The latest Relation message seen for `oid`.
    pub fn relation(&self, oid: u32) -> Option<&Relation> {
        self.relations.get(&oid)
    }

    /// Decodes one pgoutput message and updates the decoder's state.
    ///
    /// On error nothing changes (see the module docs); the error names the
    /// message type and the byte offset of the field that failed.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Message, DecodeError> {
        let Some(&tag) = bytes.first() else {
            return Err(DecodeError {
                offset: 0,
                message_type: None,
                kind: DecodeErrorKind::Empty,
            });
        };
        let Some(name) = pgoutput_type_name(tag) else {
            return Err(DecodeError {
                offset: 0,
                message_type: None,
                kind: DecodeErrorKind::UnknownMessageType { byte: tag },
            });
        };
        let mut r = Reader::new(bytes);
        let message = self
            .check_allowed(tag, name)
            .and_then(|()| {
                r.u8("message type")?;
                self.decode_body(tag, &mut r)
            })
            .and_then(|message| r.finish().map(|()| message))
            .map_err(|f| f.into_pgoutput(Some(tag)))?;
        self.apply(&message);
        Ok(message)
    }

    /// Version and stream-block rules, checked before reading anything.
    fn check_allowed(&self, tag: u8, name: &'static str) -> ReadResult<()> {
        let required = match tag {
            b'S' | b'E' | b'c' | b'A' => 2,
            b'b' | b'P' | b'K' | b'r' | b'p' => 3,
            _ => 1,
        };
        if self.protocol_version < required {
            return Err(Failure {
                offset: 0,
                kind: DecodeErrorKind::NotInProtocolVersion {
                    name,
                    required,
                    negotiated: self.protocol_version,
                },
            });
        }
        let detail = match tag {
            b'S' if self.in_stream => "Stream Start inside a stream block (no Stream Stop)",
            b'E' if !self.in_stream => "Stream Stop outside a stream block",
            b'B' | b'C' | b'c' | b'A' | b'b' | b'P' | b'K' | b'r' | b'p' if self.in_stream => {
                "transaction boundary inside a stream block (no Stream Stop)"
            }
            _ => return Ok(()),
        };
        Err(Failure { offset: 0, kind: DecodeErrorKind::StreamState { detail } })
    }

    /// State changes, applied only once the whole message has decoded.
    fn apply(&mut self, message: &Message) {
        match message {
            Message::Relation { relation, .. } => {
                self.relations.insert(relation.id, relation.clone());
            }
            Message::StreamStart(_) => self.in_stream = true,
            Message::StreamStop => self.in_stream = false,
            _ => {}
        }
    }

    /// The leading xid of data messages, present only inside stream blocks.
    fn stream_xid(&self, r: &mut Reader<'_>) -> ReadResult<Option<u32>> {
        if self.in_stream {
            r.u32("streamed transaction xid").map(Some)
        } else {
            Ok(None)
        }
    }

    fn decode_body(&self, tag: u8, r: &mut Reader<'_>) -> ReadResult<Message> {
        Ok(match tag {
            b'B' => Message::Begin(Begin {
                final_lsn: r.u64("final LSN")?,
                commit_time: r.i64("commit timestamp")?,
                xid: r.u32("xid")?,
            }),
            b'C' => {
                r.flags(0, "Commit flags")?;
                Message::Commit(Commit {
                    commit_lsn: r.u64("commit LSN")?,
                    end_lsn: r.u64("end LSN")?,
                    commit_time: r.i64("commit timestamp")?,
                })
            }
            b'O' => Message::Origin(Origin {
                commit_lsn: r.u64("origin commit LSN")?,
                name: r.cstring("origin name")?,
            }),
            b'R' => {
                let xid = self.stream_xid(r)?;
                Message::Relation { xid, relation: read_relation(r)? }
            }
            b'Y' => Message::Type(TypeMessage {
                xid: self.stream_xid(r)?,
                id: r.u32("type OID")?,
                namespace: read_namespace(r, "type namespace")?,
                name: r.cstring("type name")?,
            }),
            b'I' | b'U' | b'D' => self.decode_row_change(tag, r)?,
            b'T' => {
                let xid = self.stream_xid(r)?;
                Message::Truncate(read_truncate(r, xid)?)
            }
            b'M' => {
                let xid = self.stream_xid(r)?;
                let flags = r.flags(MESSAGE_TRANSACTIONAL, "Message flags")?;
                Message::LogicalMessage(LogicalMessage {
                    xid,
                    transactional: flags & MESSAGE_TRANSACTIONAL != 0,
                    lsn: r.u64("message LSN")?,
                    prefix: r.cstring("message prefix")?,
                    content: r.counted_bytes("content length", "message content")?,
                })
            }
            b'S' => Message::StreamStart(StreamStart {
                xid: r.u32("xid")?,
                first_segment: r.bool("first segment flag")?,
            }),
            b'E' => Message::StreamStop,
            b'c' => {
                let xid = r.u32("xid")?;
                r.flags(0, "Stream Commit flags")?;
                Message::StreamCommit(StreamCommit {
                    xid,
                    commit_lsn: r.u64("commit LSN")?,
                    end_lsn: r.u64("end LSN")?,
                    commit_time: r.i64("commit timestamp")?,
                })
            }
            b'A' => Message::StreamAbort(self.read_stream_abort(r)?),
            b'b' | b'P' | b'p' | b'K' | b'r' => decode_two_phase(tag, r)?,
            // check_allowed has rejected every other byte.
            byte => return Err(r.fail_at(0, DecodeErrorKind::UnknownMessageType { byte })),
        })
    }

    /// An Insert, Update or Delete: the relation, then its tuples.
    fn decode_row_change(&self, tag: u8, r: &mut Reader<'_>) -> ReadResult<Message> {
        let xid = self.stream_xid(r)?;
        let relation = self.read_relation_id(r)?;
        Ok(match tag {
            b'I' => {
                expect_tag(r, |b| b == b'N', "'N' (new tuple)")?;
                Message::Insert(Insert {
                    xid,
                    relation_id: relation.id,
                    new: read_tuple(r, relation)?,
                })
            }
            b'U' => {
                let first = expect_tag(
                    r,
                    |b| matches!(b, b'K' | b'O' | b'N'),
                    "'K' (old key), 'O' (old row) or 'N' (new tuple)",
                )?;
                let old = match first {
                    b'N' => None,
                    kind => {
                        let old = read_old(r, relation, kind)?;
                        expect_tag(r, |b| b == b'N', "'N' (new tuple)")?;
                        Some(old)
                    }
                };
                Message::Update(Update {
                    xid,
                    relation_id: relation.id,
                    old,
                    new: read_tuple(r, relation)?,
                })
            }
            b'D' => {
                let kind =
                    expect_tag(r, |b| matches!(b, b'K' | b'O'), "'K' (old key) or 'O' (old row)")?;
                Message::Delete(Delete {
                    xid,
                    relation_id: relation.id,
                    old: read_old(r, relation, kind)?,
                })
            }
            _ => return Err(r.fail_at(0, DecodeErrorKind::UnknownMessageType { byte: tag })),
        })
    }

    /// The relation OID of a row change, resolved in the cache.
    fn read_relation_id(&self, r: &mut Reader<'_>) -> ReadResult<&Relation> {
        let at = r.offset();
        let oid = r.u32("relation OID")?;
        self.relations
            .get(&oid)
            .ok_or_else(|| r.fail_at(at, DecodeErrorKind::UnknownRelation { oid }))
    }

    /// Stream Abort: xid and subxid; from v4, abort LSN and time follow
    /// only when the client asked for `streaming = parallel`. The decoder is
    /// not told the streaming mode, and does not need to be: the message
    /// ends after the subxid or after both extra fields, so under v4 the
    /// length tells the two layouts apart.
    fn read_stream_abort(&self, r: &mut Reader<'_>) -> ReadResult<StreamAbort> {
        let xid = r.u32("xid")?;
        let subxid = r.u32("subtransaction xid")?;
        let abort_info = if self.protocol_version >= 4 && r.remaining() > 0 {
            Some(StreamAbortInfo {
                abort_lsn: r.u64("abort LSN")?,
                abort_time: r.i64("abort timestamp")?,
            })
        } else {
            None
        };
        Ok(StreamAbort { xid, subxid, abort_info })
    }
}

/// Bit 0 of a Message's flags: the message is part of its transaction.
const MESSAGE_TRANSACTIONAL: u8 = 1;
/// Truncate option bits.
const TRUNCATE_CASCADE: u8 = 1;
const TRUNCATE_RESTART_IDENTITY: u8 = 2;
/// Relation column flag bit 0: the column is part of the replica identity.
const COLUMN_IS_KEY: u8 = 1;

/// A two-phase commit message (protocol 3+): BEGIN PREPARE, PREPARE,
/// STREAM PREPARE, COMMIT PREPARED, ROLLBACK PREPARED.
fn decode_two_phase(tag: u8, r: &mut Reader<'_>) -> ReadResult<Message> {
    Ok(match tag {
        b'b' => Message::BeginPrepare(read_prepared(r, false)?),
        b'P' => Message::Prepare(read_prepared(r, true)?),
        b'p' => Message::StreamPrepare(read_prepared(r, true)?),
        b'K' => {
            r.flags(0, "Commit Prepared flags")?;
            Message::CommitPrepared(CommitPrepared {
                commit_lsn: r.u64("commit LSN")?,
                end_lsn: r.u64("end LSN")?,
                commit_time: r.i64("commit timestamp")?,
                xid: r.u32("xid")?,
                gid: r.cstring("GID")?,
            })
        }
        b'r' => {
            r.flags(0, "Rollback Prepared flags")?;
            Message::RollbackPrepared(RollbackPrepared {
                prepare_end_lsn: r.u64("prepare end LSN")?,
                rollback_end_lsn: r.u64("rollback end LSN")?,
                prepare_time: r.i64("prepare timestamp")?,
                rollback_time: r.i64("rollback timestamp")?,
                xid: r.u32("xid")?,
                gid: r.cstring("GID")?,
            })
        }
        _ => return Err(r.fail_at(0, DecodeErrorKind::UnknownMessageType { byte: tag })),
    })
}

/// One tag byte, which must satisfy `allowed`.
fn expect_tag(
    r: &mut Reader<'_>,
    allowed: impl Fn(u8) -> bool,
    expected: &'static str,
) -> ReadResult<u8> {
    let at = r.offset();
    let byte = r.u8("tuple tag")?;
    if allowed(byte) {
        Ok(byte)
    } else {
        Err(r.fail_at(at, DecodeErrorKind::UnexpectedTupleTag { expected, byte }))
    }
}

/// A namespace name; the empty string is PostgreSQL's short form for
/// `pg_catalog` and is expanded here so consumers never see it.
fn read_namespace(r: &mut Reader<'_>, what: &'static str) -> ReadResult<String> {
    let name = r.cstring(what)?;
    Ok(if name.is_empty() { "pg_catalog".to_owned() } else { name })
}

/// A count field (`Int16`/`Int32`) that must not be negative.
fn non_negative(r: &Reader<'_>, at: usize, what: &'static str, value: i64) -> ReadResult<usize> {
    usize::try_from(value).map_err(|_| r.fail_at(at, DecodeErrorKind::Negative { what, value }))
}

/// Fails unless `count` items of at least `min_size` bytes each can fit in
/// what is left, so a count read from the wire never sizes an allocation
/// beyond the input.
fn check_fits(r: &Reader<'_>, count: usize, min_size: usize, what: &'static str) -> ReadResult<()> {
    let need = count.saturating_mul(min_size);
    if need > r.remaining() {
        return Err(r.fail(DecodeErrorKind::Truncated { what, need, left: r.remaining() }));
    }
    Ok(())
}

fn read_relation(r: &mut Reader<'_>) -> ReadResult<Relation> {
    let id = r.u32("relation OID")?;
    let namespace = read_namespace(r, "relation namespace")?;
    let name = r.cstring("relation name")?;
    let at = r.offset();
    let replica_identity = match r.u8("replica identity")? {
        b'd' => ReplicaIdentity::Default,
        b'n' => ReplicaIdentity::Nothing,
        b'f' => ReplicaIdentity::Full,
        b'i' => ReplicaIdentity::Index,
        byte => return Err(r.fail_at(at, DecodeErrorKind::UnknownReplicaIdentity { byte })),
    };
    let at = r.offset();
    let count = r.i16("column count")?;
    let count = non_negative(r, at, "column count", i64::from(count))?;
    // flags, empty name + NUL, type OID, type modifier
    check_fits(r, count, 1 + 1 + 4 + 4, "column descriptions")?;
    let mut columns = Vec::with_capacity(count);
    for _ in 0..count {
        let flags = r.flags(COLUMN_IS_KEY, "column flags")?;
        columns.push(Column {
            is_key: flags & COLUMN_IS_KEY != 0,
            name: r.cstring("column name")?,
            type_oid: r.u32("column type OID")?,
            type_modifier: r.i32("column type modifier")?,
        });
    }
    Ok(Relation { id, namespace, name, replica_identity, columns })
}

/// TupleData, whose column count must match `relation`.
fn read_tuple(r: &mut Reader<'_>, relation: &Relation) -> ReadResult<TupleData> {
    let at = r.offset();
    let count = r.i16("tuple column count")?;
    let count = non_negative(r, at, "tuple column count", i64::from(count))?;
    if count != relation.columns.len() {
        return Err(r.fail_at(
            at,
            DecodeErrorKind::ColumnCountMismatch {
                oid: relation.id,
                expected: relation.columns.len(),
                found: count,
            },
        ));
    }
    check_fits(r, count, 1, "tuple columns")?;
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        let at = r.offset();
        values.push(match r.u8("column kind")? {
            b'n' => TupleValue::Null,
            b'u' => TupleValue::UnchangedToast,
            b't' => TupleValue::Text(r.counted_bytes("column length", "column value")?),
            b'b' => TupleValue::Binary(r.counted_bytes("column length", "column value")?),
            byte => return Err(r.fail_at(at, DecodeErrorKind::UnknownColumnKind { byte })),
        });
    }
    Ok(TupleData(values))
}

fn read_old(r: &mut Reader<'_>, relation: &Relation, kind: u8) -> ReadResult<OldTuple> {
    let tuple = read_tuple(r, relation)?;
    Ok(if kind == b'O' { OldTuple::Full(tuple) } else { OldTuple::Key(tuple) })
}

fn read_truncate(r: &mut Reader<'_>, xid: Option<u32>) -> ReadResult<Truncate> {
    let at = r.offset();
    let count = r.i32("relation count")?;
    let count = non_negative(r, at, "relation count", i64::from(count))?;
    let options = r.flags(TRUNCATE_CASCADE | TRUNCATE_RESTART_IDENTITY, "Truncate option bits")?;
    check_fits(r, count, 4, "relation OIDs")?;
    let mut relation_ids = Vec::with_capacity(count);
    for _ in 0..count {
        relation_ids.push(r.u32("relation OID")?);
    }
    Ok(Truncate {
        xid,
        cascade: options & TRUNCATE_CASCADE != 0,
        restart_identity: options & TRUNCATE_RESTART_IDENTITY != 0,
        relation_ids,
    })
}

/// Begin Prepare (no flags byte), Prepare and Stream Prepare (flags byte
/// first): otherwise the same fields.
fn read_prepared(r: &mut Reader<'_>, has_flags: bool) -> ReadResult<PreparedTransaction> {
    if has_flags {
        r.flags(0, "Prepare flags")?;
    }
    Ok(PreparedTransaction {
        prepare_lsn: r.u64("prepare LSN")?,
        end_lsn: r.u64("end LSN")?,
        prepare_time: r.i64("prepare timestamp")?,
        xid: r.u32("xid")?,
        gid: r.cstring("GID")?,
    })
}
