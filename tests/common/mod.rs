//! Shared helpers for the integration tests. They talk to the real Kafka (and
//! later PostgreSQL and MariaDB) that `scripts/services up` starts; the
//! connection settings come from `eval "$(scripts/services env)"`, which
//! `scripts/test` does. Without them the tests fail, saying so.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

pub mod snapshots;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::time::{Duration, Instant};

mod http;
mod kafka;
mod mysql;
mod pg;
mod process;
mod replay;
mod toxiproxy;
mod txmeta;

// Each test file uses some of them.
#[allow(unused_imports)]
pub use {http::*, kafka::*, mysql::*, pg::*, process::*, replay::*, toxiproxy::*, txmeta::*};

/// An environment variable the harness sets.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the services and export their settings with \
             `scripts/services up && eval \"$(scripts/services env)\"`, or run `scripts/test`"
        )
    })
}

/// A topic name no other test run has used.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}{}x{}", std::process::id(), nanos % 1_000_000_000)
}
