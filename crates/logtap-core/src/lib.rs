//! logtap's core: the one change event type both sources produce, Kafka
//! Connect schemas and values, source positions, the ack tracker that decides
//! which position is safe to store, the Debezium-compatible JSON envelope,
//! and the `Source`/`Sink`/`OffsetStore` seams.
//!
//! Owns: data types and pure logic. Does not own: any IO (sockets, files,
//! clocks other than values passed in), any database or Kafka specifics.

pub mod ack;
pub mod check;
pub mod chunked;
pub mod chunks;
pub mod clock;
pub mod columns;
pub mod convert;
pub mod dblog;
pub mod decimal;
pub mod envelope;
pub mod error;
pub mod event;
pub mod failure;
pub mod filter;
pub mod human;
pub mod payload;
pub mod position;
pub mod schema;
pub mod secret;
pub mod shared;
pub mod snapshot;
pub mod traits;
pub mod txmeta;
pub mod unwrap;

pub use ack::{AckTracker, DeliveryError, DeliveryFailure, Limits, Seq};
pub use columns::ColumnFilter;
pub use envelope::{EncodedRecord, Encoder, EnvelopeOptions};
pub use error::{ErrorKind, PipelineError, Policy};
pub use event::{ChangeEvent, Op, RecordNames, RowKey, TableId, TransactionBlock};
pub use failure::FailureHandling;
pub use filter::{FilterCache, FilterError, NameFilter};
pub use position::{Lsn, PgTxProgress, SourcePosition};
pub use schema::{ConnectType, Field, Schema, Struct, Value};
pub use secret::Secret;
pub use shared::SharedTracker;
pub use snapshot::{SnapshotConfig, SnapshotMode, SnapshotPlan};
pub use traits::{
    Checkpoint, OffsetError, OffsetStore, Sink, SinkRecord, SnapshotProgress, Source, SourceItem,
    StoredOffset,
};
pub use txmeta::{TxBoundary, TxMonitor, TxProgress, TxRecord};
