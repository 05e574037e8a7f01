//! The MySQL/MariaDB source: binlog stream, MariaDB events, GTID sets, type
//! conversion (binary JSON included).
//!
//! Owns: every byte exchanged with MySQL or MariaDB. Does not own: Kafka, offsets.
//!
//! Layout: [`conn`] (mysql_async connections and server facts), [`source`]
//! (the binlog stream turned into change events, positions and resume),
//! [`catalog`] (what `information_schema` adds: defaults, UUID columns,
//! table structures), [`ddl`] and [`schema_change`] (DDL statements into
//! Debezium's schema-change records, sans-IO), [`check`] (`logtap check`),
//! [`mariadb`] (MariaDB's own events and GTID sets, sans-IO), [`types`]
//! (Debezium's MySQL type mapping and column defaults, sans-IO), [`config`]
//! (`[mysql]` settings), `snapshot` (a snapshot's chunk reader; what to
//! read and where its rows go is the state machine's, `machine_snapshot.rs`).

pub mod catalog;
pub mod check;
pub mod config;
pub mod conn;
pub mod ddl;
mod grants;
mod machine;
mod query;
pub mod reposition;
pub mod schema_change;
pub mod snapshot;
pub mod source;
mod source_block;
mod start;
pub mod status;
pub mod types;

pub use config::MysqlConfig;
pub use source::MysqlSource;
