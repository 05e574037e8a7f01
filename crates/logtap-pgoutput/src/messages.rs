//! The typed pgoutput messages the decoder (`pgoutput.rs`) produces: owned
//! values, one struct per message of protocol versions 1 to 4, with the
//! conventions of that module (LSNs as `u64`, timestamps in microseconds
//! since the PostgreSQL epoch, column values as the server's bytes).

/// One decoded pgoutput message.
///
/// `xid: Option<u32>` fields are the leading xid that data messages carry
/// inside a Stream Start/Stop block (the xid of the subtransaction that made
/// the change, which may differ from the Stream Start's top-level xid);
/// `None` outside stream blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `B`: a transaction starts (sent before its first published change).
    Begin(Begin),
    /// `C`: the transaction of the last Begin committed.
    Commit(Commit),
    /// `O`: the transaction was replayed from another origin (sent after
    /// Begin or Stream Start).
    Origin(Origin),
    /// `R`: describes a table; the decoder caches it.
    Relation {
        /// Streamed transaction xid, inside a stream block.
        xid: Option<u32>,
        /// The description.
        relation: Relation,
    },
    /// `Y`: names a non-built-in data type used by a following Relation.
    Type(TypeMessage),
    /// `I`: a row was inserted.
    Insert(Insert),
    /// `U`: a row was updated.
    Update(Update),
    /// `D`: a row was deleted.
    Delete(Delete),
    /// `T`: tables were truncated.
    Truncate(Truncate),
    /// `M`: `pg_logical_emit_message` (sent only with `messages 'true'`).
    LogicalMessage(LogicalMessage),
    /// `S` (v2+): a block of a streamed in-progress transaction starts.
    StreamStart(StreamStart),
    /// `E` (v2+): the current stream block ends.
    StreamStop,
    /// `c` (v2+): a streamed transaction committed.
    StreamCommit(StreamCommit),
    /// `A` (v2+): a streamed transaction or subtransaction aborted.
    StreamAbort(StreamAbort),
    /// `b` (v3+): a transaction being prepared starts (two-phase).
    BeginPrepare(PreparedTransaction),
    /// `P` (v3+): the transaction of the last Begin Prepare was prepared.
    Prepare(PreparedTransaction),
    /// `K` (v3+): a prepared transaction was committed.
    CommitPrepared(CommitPrepared),
    /// `r` (v3+): a prepared transaction was rolled back.
    RollbackPrepared(RollbackPrepared),
    /// `p` (v3+): a streamed transaction was prepared.
    StreamPrepare(PreparedTransaction),
}

/// `B` Begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    /// LSN of the transaction's commit record.
    pub final_lsn: u64,
    /// Commit time, µs since 2000-01-01 UTC (the origin's commit time for
    /// replayed transactions).
    pub commit_time: i64,
    /// Transaction id.
    pub xid: u32,
}

/// `C` Commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// LSN of the commit record (equals the Begin's `final_lsn`).
    pub commit_lsn: u64,
    /// End of the commit record: the position to confirm once the
    /// transaction is safely downstream, and to resume after.
    pub end_lsn: u64,
    /// Commit time, µs since 2000-01-01 UTC.
    pub commit_time: i64,
}

/// `O` Origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// LSN of the commit on the origin server.
    pub commit_lsn: u64,
    /// Replication origin name.
    pub name: String,
}

/// A table as described by a Relation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Table OID: the key row changes refer to.
    pub id: u32,
    /// Schema name (PostgreSQL's empty short form is expanded to
    /// `pg_catalog`).
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// The table's `REPLICA IDENTITY`, which decides what old values
    /// Update and Delete carry.
    pub replica_identity: ReplicaIdentity,
    /// Published columns in table order, without dropped and generated
    /// columns; tuples have exactly these columns.
    pub columns: Vec<Column>,
}

/// `pg_class.relreplident`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// `d`: the primary key (old key sent only when it changes).
    Default,
    /// `n`: nothing; updates and deletes cannot be published.
    Nothing,
    /// `f`: the full old row is sent with every update and delete.
    Full,
    /// `i`: the columns of a chosen unique index.
    Index,
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Part of the replica identity (with `Full`, every column is).
    pub is_key: bool,
    /// Column name.
    pub name: String,
    /// `pg_type` OID of the column's type.
    pub type_oid: u32,
    /// `atttypmod`: e.g. `varchar(20)` is 24 (20 + 4), `numeric(10,2)` is
    /// `((10 << 16) | 2) + 4`; -1 when there is none.
    pub type_modifier: i32,
}

/// `Y` Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMessage {
    /// Streamed transaction xid, inside a stream block.
    pub xid: Option<u32>,
    /// Type OID.
    pub id: u32,
    /// Schema of the type (empty short form expanded to `pg_catalog`).
    pub namespace: String,
    /// Type name.
    pub name: String,
}

/// Column values of one row, in [`Relation::columns`] order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TupleData(pub Vec<TupleValue>);

/// One column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// `n`: SQL NULL (also every non-key column of an old key tuple).
    Null,
    /// `u`: a TOASTed value the update did not change; the server does not
    /// send it and the consumer cannot know it.
    UnchangedToast,
    /// `t`: the type's text output.
    Text(Vec<u8>),
    /// `b`: the type's binary send format (with `binary 'true'`).
    Binary(Vec<u8>),
}

/// Old values of an Update or Delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// `K`: replica identity columns only; all other columns are `Null`.
    Key(TupleData),
    /// `O`: the whole old row (`REPLICA IDENTITY FULL`).
    Full(TupleData),
}

impl OldTuple {
    /// The values, whichever kind.
    pub fn tuple(&self) -> &TupleData {
        match self {
            OldTuple::Key(t) | OldTuple::Full(t) => t,
        }
    }
}

/// `I` Insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// Streamed transaction xid, inside a stream block.
    pub xid: Option<u32>,
    /// OID of a cached [`Relation`].
    pub relation_id: u32,
    /// The new row.
    pub new: TupleData,
}

/// `U` Update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Streamed transaction xid, inside a stream block.
    pub xid: Option<u32>,
    /// OID of a cached [`Relation`].
    pub relation_id: u32,
    /// Old key when the replica identity changed (`Default`/`Index`), the
    /// old row with `Full`, `None` when the key did not change.
    pub old: Option<OldTuple>,
    /// The new row; unchanged TOASTed columns are `UnchangedToast`.
    pub new: TupleData,
}

/// `D` Delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// Streamed transaction xid, inside a stream block.
    pub xid: Option<u32>,
    /// OID of a cached [`Relation`].
    pub relation_id: u32,
    /// The deleted row's key, or whole row with `Full`.
    pub old: OldTuple,
}

/// `T` Truncate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    /// Streamed transaction xid, inside a stream block.
    pub xid: Option<u32>,
    /// `TRUNCATE ... CASCADE`.
    pub cascade: bool,
    /// `TRUNCATE ... RESTART IDENTITY`.
    pub restart_identity: bool,
    /// OIDs of the truncated (published) tables.
    pub relation_ids: Vec<u32>,
}

/// `M` logical decoding message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalMessage {
    /// Streamed transaction xid, inside a stream block.
    pub xid: Option<u32>,
    /// Emitted with `transactional = true`: delivered within its
    /// transaction, at commit. Otherwise delivered immediately, outside any
    /// Begin/Commit, even if the emitting transaction later aborts.
    pub transactional: bool,
    /// LSN of the message record.
    pub lsn: u64,
    /// The prefix given to `pg_logical_emit_message`.
    pub prefix: String,
    /// The content, as bytes.
    pub content: Vec<u8>,
}

/// `S` Stream Start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamStart {
    /// Top-level transaction id.
    pub xid: u32,
    /// The first block of this transaction.
    pub first_segment: bool,
}

/// `c` Stream Commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCommit {
    /// Top-level transaction id.
    pub xid: u32,
    /// LSN of the commit record.
    pub commit_lsn: u64,
    /// End of the commit record (see [`Commit::end_lsn`]).
    pub end_lsn: u64,
    /// Commit time, µs since 2000-01-01 UTC.
    pub commit_time: i64,
}

/// `A` Stream Abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamAbort {
    /// Top-level transaction id.
    pub xid: u32,
    /// The aborted subtransaction, or `xid` again when the whole
    /// transaction aborted.
    pub subxid: u32,
    /// Present with protocol v4 and `streaming = parallel` only.
    pub abort_info: Option<StreamAbortInfo>,
}

/// Extra Stream Abort fields of protocol v4 parallel streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamAbortInfo {
    /// LSN of the abort record.
    pub abort_lsn: u64,
    /// Abort time, µs since 2000-01-01 UTC.
    pub abort_time: i64,
}

/// Begin Prepare `b`, Prepare `P` and Stream Prepare `p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedTransaction {
    /// LSN of the PREPARE TRANSACTION record.
    pub prepare_lsn: u64,
    /// End of that record.
    pub end_lsn: u64,
    /// Prepare time, µs since 2000-01-01 UTC.
    pub prepare_time: i64,
    /// Transaction id.
    pub xid: u32,
    /// The user's transaction identifier (`PREPARE TRANSACTION 'gid'`).
    pub gid: String,
}

/// `K` Commit Prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPrepared {
    /// LSN of the COMMIT PREPARED record.
    pub commit_lsn: u64,
    /// End of that record.
    pub end_lsn: u64,
    /// Commit time, µs since 2000-01-01 UTC.
    pub commit_time: i64,
    /// Transaction id.
    pub xid: u32,
    /// The prepared transaction's GID.
    pub gid: String,
}

/// `r` Rollback Prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackPrepared {
    /// End of the PREPARE TRANSACTION record.
    pub prepare_end_lsn: u64,
    /// End of the ROLLBACK PREPARED record.
    pub rollback_end_lsn: u64,
    /// Prepare time, µs since 2000-01-01 UTC.
    pub prepare_time: i64,
    /// Rollback time, µs since 2000-01-01 UTC.
    pub rollback_time: i64,
    /// Transaction id.
    pub xid: u32,
    /// The prepared transaction's GID.
    pub gid: String,
}
