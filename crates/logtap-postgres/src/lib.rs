//! The PostgreSQL source: walsender connection, slot and publication
//! management, type conversion to Debezium values, snapshots and watermarks.
//!
//! Owns: every byte exchanged with PostgreSQL. Does not own: Kafka, offsets.
//!
//! Not written yet: see the README's "Status" section.
