//! logtap's PostgreSQL source: the walsender connection, slot and
//! publication management, conversion of pgoutput rows into Debezium's
//! values, and `logtap check` for PostgreSQL.
//!
//! Owns: every byte exchanged with PostgreSQL (decoding of the pgoutput
//! protocol itself is `logtap-pgoutput`'s). Does not own: Kafka, offsets,
//! deciding which position is safe to confirm (it confirms what the pipeline
//! reports as committed).

pub mod catalog;
pub mod check;
pub mod config;
mod machine;
pub mod snapshot;
pub mod source;
mod start;
pub mod status;
pub mod takeover;
pub mod types;
pub mod walsender;

pub use config::PostgresConfig;
pub use source::PostgresSource;
