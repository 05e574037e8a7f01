//! logtap's Kafka side: the rdkafka producer (idempotent, `acks=all`,
//! Java-compatible murmur2 partitioning), topic routing and creation, and the
//! delivery reports that acknowledge records in the shared ack tracker.
//!
//! Owns: everything said to Kafka. Does not own: source logic, the envelope
//! (that is `logtap-core`), deciding which position to store.

pub mod config;
pub mod logs;
pub mod offsets;
pub mod read_topic;
pub mod router;
pub mod sink;
pub mod topics;

pub use config::{ConfigError, KafkaConfig, TopicConfig};
pub use offsets::KafkaOffsetStore;
pub use router::{Router, Routing};
pub use sink::KafkaSink;
pub use topics::TopicManager;
