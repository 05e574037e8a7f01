//! Sans-IO decoding of PostgreSQL logical replication: the CopyData frames of
//! the walsender (`w` XLogData, `k` keepalive) and every pgoutput message,
//! protocol versions 1 to 4, with the relation cache they need.
//!
//! Owns: bytes in, typed messages out, typed errors with byte offsets.
//! Does not own: sockets, tokio, type conversion to Debezium values.
//!
//! Not written yet: the PostgreSQL source is the next piece of work after the
//! foundation. This crate exists now so the workspace has its final shape.
