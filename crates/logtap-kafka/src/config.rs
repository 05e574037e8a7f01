//! Kafka sink settings (`[kafka]` in logtap.toml).

use logtap_core::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Producer, topic and security settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` list of brokers to bootstrap from.
    pub bootstrap_servers: String,
    /// Client id shown in broker logs and quotas.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// Batch compression: `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    #[serde(default = "default_compression")]
    pub compression: String,
    /// How long the producer waits to fill a batch (librdkafka `linger.ms`).
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u32,
    /// Largest batch in bytes (librdkafka `batch.size`).
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
    /// Largest record the producer accepts (librdkafka `message.max.bytes`);
    /// larger rows fail with an error naming the topic.
    #[serde(default = "default_message_max_bytes")]
    pub message_max_bytes: u32,
    /// How long the oldest record in flight may wait for Kafka's
    /// acknowledgement before logtap warns that Kafka is stalled (and again
    /// every that often); 0: never warn. Records are never given up by
    /// time: librdkafka's `message.timeout.ms` is always 0 (as Kafka
    /// Connect's `delivery.timeout.ms` is its maximum), because a record
    /// failed for its age lets the later records of its partition reach
    /// Kafka before its replay.
    #[serde(default = "default_delivery_timeout_ms")]
    pub delivery_timeout_ms: u32,
    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    #[serde(default = "default_security_protocol")]
    pub security_protocol: String,
    /// SASL mechanism, e.g. `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`.
    #[serde(default)]
    pub sasl_mechanism: Option<String>,
    /// SASL user name.
    #[serde(default)]
    pub sasl_username: Option<String>,
    /// SASL password, resolved by the binary from `sasl_password_env` or
    /// `sasl_password_file` (never written in the file itself).
    #[serde(skip)]
    pub sasl_password: Option<Secret>,
    /// Environment variable holding the SASL password.
    #[serde(default)]
    pub sasl_password_env: Option<String>,
    /// File holding the SASL password (trailing newline ignored).
    #[serde(default)]
    pub sasl_password_file: Option<String>,
    /// CA bundle for TLS to the brokers.
    #[serde(default)]
    pub ssl_ca_location: Option<String>,
    /// Topic creation and routing.
    #[serde(default)]
    pub topics: TopicConfig,
    /// Extra librdkafka settings passed through as they are. A key that a
    /// typed option above sets, or that logtap's guarantees depend on
    /// (`enable.idempotence`, `acks`, `partitioner`, ...), is an error.
    #[serde(default)]
    pub librdkafka: BTreeMap<String, String>,
}

/// How topics are named and created.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// Create missing topics (the broker's auto-creation is usually off).
    #[serde(default = "default_true")]
    pub create: bool,
    /// Partitions of created topics.
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Replication factor of created topics.
    #[serde(default = "default_replication_factor")]
    pub replication_factor: i32,
    /// `cleanup.policy` of created topics: `delete` or `compact` (compaction
    /// keeps the last record per key, which tombstones then remove).
    #[serde(default = "default_cleanup_policy")]
    pub cleanup_policy: String,
    /// Extra topic configs for created topics (e.g. `retention.ms`).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            create: true,
            partitions: default_partitions(),
            replication_factor: default_replication_factor(),
            cleanup_policy: default_cleanup_policy(),
            config: BTreeMap::new(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_client_id() -> String {
    "logtap".into()
}
fn default_compression() -> String {
    "zstd".into()
}
fn default_linger_ms() -> u32 {
    5
}
fn default_batch_size() -> u32 {
    1_000_000
}
fn default_message_max_bytes() -> u32 {
    1_000_000
}
fn default_delivery_timeout_ms() -> u32 {
    30_000
}
fn default_security_protocol() -> String {
    "PLAINTEXT".into()
}
fn default_partitions() -> i32 {
    1
}
fn default_replication_factor() -> i32 {
    1
}
fn default_cleanup_policy() -> String {
    "delete".into()
}

/// librdkafka keys logtap sets itself; the passthrough map may not touch them.
const RESERVED: &[(&str, &str)] = &[
    ("bootstrap.servers", "kafka.bootstrap_servers"),
    ("metadata.broker.list", "kafka.bootstrap_servers"),
    ("client.id", "kafka.client_id"),
    ("compression.type", "kafka.compression"),
    ("compression.codec", "kafka.compression"),
    ("linger.ms", "kafka.linger_ms"),
    ("queue.buffering.max.ms", "kafka.linger_ms"),
    ("batch.size", "kafka.batch_size"),
    ("message.max.bytes", "kafka.message_max_bytes"),
    ("message.timeout.ms", "kafka.delivery_timeout_ms"),
    ("delivery.timeout.ms", "kafka.delivery_timeout_ms"),
    ("security.protocol", "kafka.security_protocol"),
    ("sasl.mechanism", "kafka.sasl_mechanism"),
    ("sasl.mechanisms", "kafka.sasl_mechanism"),
    ("sasl.username", "kafka.sasl_username"),
    ("sasl.password", "kafka.sasl_password_env / kafka.sasl_password_file"),
    ("ssl.ca.location", "kafka.ssl_ca_location"),
    ("enable.idempotence", "logtap's ordering guarantee (always true)"),
    ("acks", "logtap's durability guarantee (always all)"),
    ("request.required.acks", "logtap's durability guarantee (always all)"),
    ("partitioner", "Debezium-compatible partitioning (always murmur2_random)"),
    ("allow.auto.create.topics", "kafka.topics.create (logtap creates topics itself)"),
    ("max.in.flight.requests.per.connection", "logtap's ordering guarantee"),
    ("max.in.flight", "logtap's ordering guarantee"),
    ("queue.buffering.max.messages", "logtap's in-flight limits ([sink] max_in_flight_records)"),
    ("queue.buffering.max.kbytes", "logtap's in-flight limits ([sink] max_in_flight_bytes)"),
];

/// A setting that cannot be used, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), message: message.into() }
}

impl KafkaConfig {
    /// A config with defaults for everything but the brokers.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        KafkaConfig {
            bootstrap_servers: bootstrap_servers.into(),
            client_id: default_client_id(),
            compression: default_compression(),
            linger_ms: default_linger_ms(),
            batch_size: default_batch_size(),
            message_max_bytes: default_message_max_bytes(),
            delivery_timeout_ms: default_delivery_timeout_ms(),
            security_protocol: default_security_protocol(),
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            sasl_password_env: None,
            sasl_password_file: None,
            ssl_ca_location: None,
            topics: TopicConfig::default(),
            librdkafka: BTreeMap::new(),
        }
    }

    /// Checks every field; errors name it as `kafka.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bootstrap_servers.trim().is_empty() {
            return Err(bad("kafka.bootstrap_servers", "must list at least one host:port"));
        }
        for server in self.bootstrap_servers.split(',') {
            let server = server.trim();
            let port_ok = server
                .rsplit_once(':')
                .map(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
                .unwrap_or(false);
            if !port_ok {
                return Err(bad(
                    "kafka.bootstrap_servers",
                    format!("`{server}` is not host:port (e.g. 127.0.0.1:9092)"),
                ));
            }
        }
        if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&self.compression.as_str()) {
            return Err(bad(
                "kafka.compression",
                format!("`{}` is not one of none, gzip, snappy, lz4, zstd", self.compression),
            ));
        }
        if !["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
            .contains(&self.security_protocol.as_str())
        {
            return Err(bad(
                "kafka.security_protocol",
                format!(
                    "`{}` is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
                    self.security_protocol
                ),
            ));
        }
        if self.security_protocol.starts_with("SASL") && self.sasl_mechanism.is_none() {
            return Err(bad("kafka.sasl_mechanism", "required with a SASL security_protocol"));
        }
        if self.batch_size == 0 {
            return Err(bad("kafka.batch_size", "must be at least 1"));
        }
        if self.message_max_bytes < 1000 {
            return Err(bad("kafka.message_max_bytes", "must be at least 1000"));
        }
        let t = &self.topics;
        if t.partitions < 1 {
            return Err(bad("kafka.topics.partitions", "must be at least 1"));
        }
        if t.replication_factor < 1 {
            return Err(bad("kafka.topics.replication_factor", "must be at least 1"));
        }
        if !["delete", "compact", "compact,delete", "delete,compact"]
            .contains(&t.cleanup_policy.as_str())
        {
            return Err(bad(
                "kafka.topics.cleanup_policy",
                format!("`{}` is not delete, compact or compact,delete", t.cleanup_policy),
            ));
        }
        if t.config.contains_key("cleanup.policy") {
            return Err(bad(
                "kafka.topics.config.\"cleanup.policy\"",
                "conflicts with kafka.topics.cleanup_policy; set it there",
            ));
        }
        for key in self.librdkafka.keys() {
            if let Some((_, owner)) = RESERVED.iter().find(|(k, _)| k == key) {
                return Err(bad(
                    format!("kafka.librdkafka.\"{key}\""),
                    format!("conflicts with {owner}; remove it from the passthrough map"),
                ));
            }
        }
        Ok(())
    }

    /// The settings of [`Self::producer_settings`] any client needs to reach
    /// the cluster (address, client id, security), for the admin client and
    /// consumers, which warn about producer-only settings.
    pub fn connection_settings(&self) -> Vec<(String, String)> {
        self.producer_settings(1, 1)
            .into_iter()
            .filter(|(k, _)| {
                k.starts_with("bootstrap")
                    || k.starts_with("security")
                    || k.starts_with("sasl")
                    || k.starts_with("ssl")
                    || k == "client.id"
            })
            .collect()
    }

    /// The librdkafka settings for the producer, typed options first, then
    /// the passthrough map. `max_records`/`max_bytes` are the in-flight limits,
    /// so librdkafka's own queue never refuses what the tracker admitted.
    pub fn producer_settings(&self, max_records: usize, max_bytes: usize) -> Vec<(String, String)> {
        let mut s: Vec<(String, String)> = vec![
            ("bootstrap.servers".into(), self.bootstrap_servers.clone()),
            ("client.id".into(), self.client_id.clone()),
            ("enable.idempotence".into(), "true".into()),
            ("acks".into(), "all".into()),
            // One produce request per broker connection at a time. With
            // several in flight, a request that fails (a partition not yet
            // ready, a leader moving) can be overtaken by the next one for
            // the same partition; the broker accepts that one when it has no
            // state for the producer yet, and librdkafka then takes the
            // failed records for stored. With one in flight, a failed request
            // is retried before anything behind it is sent.
            ("max.in.flight.requests.per.connection".into(), "1".into()),
            // murmur2 of the key bytes, as Kafka's Java client partitions keyed
            // records; random for null keys.
            ("partitioner".into(), "murmur2_random".into()),
            ("compression.type".into(), self.compression.clone()),
            ("linger.ms".into(), self.linger_ms.to_string()),
            ("batch.size".into(), self.batch_size.to_string()),
            ("message.max.bytes".into(), self.message_max_bytes.to_string()),
            // Never fail a record by its age: librdkafka fails the oldest
            // queued records of a partition at their timeout and then sends
            // the later ones (an epoch bump skips the gap), so after the
            // restart's replay a key's earlier change lands behind its later
            // one. Without a timeout a record leaves librdkafka only
            // delivered, refused for good (which stops logtap) or purged by
            // logtap itself (which sends nothing after it on that producer).
            ("message.timeout.ms".into(), "0".into()),
            ("queue.buffering.max.messages".into(), (max_records.max(1) + 1000).to_string()),
            (
                "queue.buffering.max.kbytes".into(),
                (max_bytes / 1024 + 2 * self.message_max_bytes as usize / 1024 + 1024)
                    .min(i32::MAX as usize)
                    .to_string(),
            ),
            ("security.protocol".into(), self.security_protocol.to_lowercase()),
        ];
        if let Some(m) = &self.sasl_mechanism {
            s.push(("sasl.mechanism".into(), m.clone()));
        }
        if let Some(u) = &self.sasl_username {
            s.push(("sasl.username".into(), u.clone()));
        }
        if let Some(p) = &self.sasl_password {
            s.push(("sasl.password".into(), p.expose().to_string()));
        }
        if let Some(ca) = &self.ssl_ca_location {
            s.push(("ssl.ca.location".into(), ca.clone()));
        }
        for (k, v) in &self.librdkafka {
            s.push((k.clone(), v.clone()));
        }
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_conflicts_name_the_key_and_the_owner() {
        let mut c = KafkaConfig::new("127.0.0.1:9092");
        c.librdkafka.insert("acks".into(), "1".into());
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "kafka.librdkafka.\"acks\"");
        assert!(e.message.contains("durability"), "{e}");

        let mut c = KafkaConfig::new("127.0.0.1:9092");
        c.librdkafka.insert("linger.ms".into(), "1".into());
        assert!(c.validate().unwrap_err().message.contains("kafka.linger_ms"));

        let mut c = KafkaConfig::new("127.0.0.1:9092");
        c.librdkafka.insert("socket.keepalive.enable".into(), "true".into());
        c.validate().unwrap();
        assert!(c
            .producer_settings(10, 10)
            .contains(&("socket.keepalive.enable".into(), "true".into())));
    }

    #[test]
    fn bad_values_name_their_field() {
        let e = KafkaConfig::new("localhost").validate().unwrap_err();
        assert_eq!(e.field, "kafka.bootstrap_servers");
        let mut c = KafkaConfig::new("a:1,b:2");
        c.compression = "brotli".into();
        assert_eq!(c.validate().unwrap_err().field, "kafka.compression");
        let mut c = KafkaConfig::new("a:1");
        c.topics.partitions = 0;
        assert_eq!(c.validate().unwrap_err().field, "kafka.topics.partitions");
    }

    #[test]
    fn guarantees_are_always_set() {
        let s = KafkaConfig::new("a:1").producer_settings(100, 1 << 20);
        for (k, v) in [
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("partitioner", "murmur2_random"),
            ("message.timeout.ms", "0"),
        ] {
            assert!(s.contains(&(k.to_string(), v.to_string())), "{k}");
        }
    }
}
