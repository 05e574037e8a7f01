//! The MySQL/MariaDB source: binlog stream, MariaDB events, GTID sets, type
//! conversion (binary JSON included), snapshots and watermarks.
//!
//! Owns: every byte exchanged with MySQL or MariaDB. Does not own: Kafka, offsets.
//!
//! Not written yet: see the README's "Status" section.
