//! The MySQL/MariaDB source: binlog stream, MariaDB events, GTID sets, type
//! conversion (binary JSON included), snapshots and watermarks.
//!
//! Owns: every byte exchanged with MySQL or MariaDB. Does not own: Kafka, offsets.
//!
//! Status: the sans-IO pieces (MariaDB's own binlog events and GTID sets,
//! conversion of row values into Debezium's values) are being built first;
//! the binlog connection and the source itself are not written yet, and the
//! binary refuses a `[mysql]` section.

pub mod check;
pub mod config;
pub mod conn;
pub mod mariadb;
pub mod source;
pub mod types;

pub use config::MysqlConfig;
pub use source::MysqlSource;
