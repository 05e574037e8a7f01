//! Offsets in Kafka (`[offsets] kind = "kafka"`): each source's stored
//! position (with its snapshot progress) as one record in a compacted
//! topic, keyed by the source's name, so logtap can run with no local disk.
//!
//! The same contract as the sled store: `store` returns only once the
//! position is durable (here: a committed Kafka transaction, `acks=all`),
//! and the pipeline calls it only after every record before the position
//! was acknowledged. The store's producer is transactional with a
//! `transactional.id` derived from the source: opening the store fences
//! any other producer with that id, so a second logtap on the same source
//! makes the first one's next `store` fail (the sled store's lock, in
//! Kafka's terms), and a fenced process never overwrites a newer position.
//! At open the topic is read to its end (read-committed) into memory;
//! `load` and `list` answer from there.

use crate::config::KafkaConfig;
use crate::logs::QuietContext;
use crate::topics::TopicManager;
use logtap_core::{OffsetError, OffsetStore, StoredOffset};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// How long one store (a transaction) or the reading at open may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// See the module documentation.
pub struct KafkaOffsetStore {
    topic: String,
    /// `None` when opened read-only (`logtap status`: it must not fence
    /// the running logtap).
    producer: Option<ThreadedProducer<QuietContext>>,
    cache: Mutex<BTreeMap<String, StoredOffset>>,
}

impl std::fmt::Debug for KafkaOffsetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaOffsetStore").field("topic", &self.topic).finish_non_exhaustive()
    }
}

impl KafkaOffsetStore {
    /// Opens the store on `topic` (created compacted, one partition, if
    /// missing) for the source `owner` and reads every stored position;
    /// with `write`, fences other writers for `owner` first.
    pub async fn open(
        config: &KafkaConfig,
        topic: &str,
        owner: &str,
        write: bool,
    ) -> Result<Self, OffsetError> {
        let fail = |what: &'static str, detail: String| OffsetError {
            store: format!("Kafka topic `{topic}`"),
            what,
            source_name: owner.to_string(),
            locked: false,
            transient: true,
            detail,
        };
        let mut topic_cfg = config.clone();
        topic_cfg.topics.partitions = 1;
        topic_cfg.topics.cleanup_policy = "compact".into();
        topic_cfg.topics.config.clear();
        topic_cfg.topics.create = true;
        let mut topics =
            TopicManager::new(&topic_cfg).map_err(|e| fail("cannot connect", e.message))?;
        topics.ensure(topic).await.map_err(|e| fail("cannot create the topic", e.message))?;

        let producer = if write {
            let mut pc = ClientConfig::new();
            for (k, v) in config.producer_settings(16, 1 << 20) {
                pc.set(k, v);
            }
            pc.set("transactional.id", format!("logtap-offsets-{owner}"));
            pc.set("transaction.timeout.ms", "60000");
            pc.set("message.timeout.ms", TIMEOUT.as_millis().to_string());
            let producer: ThreadedProducer<QuietContext> = pc
                .create_with_context(QuietContext)
                .map_err(|e| fail("cannot create the producer", e.to_string()))?;
            let p = producer.clone();
            // Fences the producer of an earlier process for this source,
            // and completes or aborts its open transaction.
            tokio::task::spawn_blocking(move || p.init_transactions(TIMEOUT))
                .await
                .map_err(|e| fail("cannot start", e.to_string()))?
                .map_err(|e| fail("cannot start its transactions", e.to_string()))?;
            Some(producer)
        } else {
            None
        };

        let t = topic.to_string();
        let cc = consumer_config(config);
        let cache = tokio::task::spawn_blocking(move || read_all(&cc, &t))
            .await
            .map_err(|e| fail("cannot read", e.to_string()))?
            .map_err(|e| fail("cannot read", e))?;
        tracing::info!(topic, sources = cache.len(), "offsets in Kafka");
        Ok(KafkaOffsetStore { topic: topic.to_string(), producer, cache: Mutex::new(cache) })
    }

    /// Writes `value` (a tombstone when `None`) under `source` in one
    /// committed transaction.
    fn write(&self, source: &str, value: Option<&[u8]>) -> Result<(), OffsetError> {
        let Some(producer) = &self.producer else {
            return Err(OffsetError {
                store: format!("Kafka topic `{}`", self.topic),
                what: "cannot write (opened read-only)",
                source_name: source.to_string(),
                locked: false,
                transient: false,
                detail: "a logtap bug".into(),
            });
        };
        let fail = |what: &'static str, e: KafkaError| {
            let fenced = matches!(
                e.rdkafka_error_code(),
                Some(RDKafkaErrorCode::Fenced | RDKafkaErrorCode::ProducerFenced)
            );
            // Fenced, or a fatal producer error: this store is done;
            // anything else (Kafka away, a timeout) may pass.
            let fatal = fenced || e.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal);
            OffsetError {
                store: format!("Kafka topic `{}`", self.topic),
                what,
                source_name: source.to_string(),
                locked: false,
                transient: !fatal,
                detail: if fenced {
                    format!("another logtap process opened the offsets of this source since ({e})")
                } else {
                    e.to_string()
                },
            }
        };
        producer.begin_transaction().map_err(|e| fail("cannot begin a transaction", e))?;
        let mut record = BaseRecord::<str, [u8]>::to(&self.topic).key(source);
        if let Some(v) = value {
            record = record.payload(v);
        }
        if let Err((e, _)) = producer.send(record) {
            let _ = producer.abort_transaction(TIMEOUT);
            return Err(fail("cannot write", e));
        }
        producer.commit_transaction(TIMEOUT).map_err(|e| {
            let _ = producer.abort_transaction(TIMEOUT);
            fail("cannot commit", e)
        })
    }
}

/// A read-committed consumer of the topic, outside any group.
fn consumer_config(config: &KafkaConfig) -> ClientConfig {
    let mut cc = reader_config(config, "logtap-offsets-reader");
    cc.set("enable.partition.eof", "true").set("auto.offset.reset", "earliest");
    cc
}

/// A read-committed consumer that assigns partitions itself and commits
/// nothing (`group.id` only names it to the broker).
pub(crate) fn reader_config(config: &KafkaConfig, group: &str) -> ClientConfig {
    let mut cc = ClientConfig::new();
    for (k, v) in config.connection_settings() {
        cc.set(k, v);
    }
    cc.set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed");
    cc
}

/// Every source's last stored position in `topic` (a tombstone removes).
fn read_all(cc: &ClientConfig, topic: &str) -> Result<BTreeMap<String, StoredOffset>, String> {
    let consumer: BaseConsumer<QuietContext> =
        cc.create_with_context(QuietContext).map_err(|e| e.to_string())?;
    let (low, high) =
        consumer.fetch_watermarks(topic, 0, TIMEOUT).map_err(|e| format!("watermarks: {e}"))?;
    let mut out = BTreeMap::new();
    if high <= low {
        return Ok(out);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning).map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::time::Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(500)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(out),
            Some(Err(e)) => return Err(e.to_string()),
            Some(Ok(m)) => {
                let Some(key) = m.key().map(|k| String::from_utf8_lossy(k).into_owned()) else {
                    continue;
                };
                match m.payload() {
                    None => {
                        out.remove(&key);
                    }
                    Some(v) => {
                        let offset: StoredOffset = serde_json::from_slice(v).map_err(|e| {
                            format!(
                                "the record of `{key}` at offset {} is not a stored position: {e}",
                                m.offset()
                            )
                        })?;
                        out.insert(key, offset);
                    }
                }
            }
        }
    }
    Err(format!("not read to its end (offset {high}) in {} s", TIMEOUT.as_secs()))
}

impl OffsetStore for KafkaOffsetStore {
    fn load(&self, source: &str) -> Result<Option<StoredOffset>, OffsetError> {
        Ok(self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(source).cloned())
    }

    fn store(&self, source: &str, offset: &StoredOffset) -> Result<(), OffsetError> {
        let json = serde_json::to_vec(offset).map_err(|e| OffsetError {
            store: format!("Kafka topic `{}`", self.topic),
            what: "cannot encode",
            source_name: source.to_string(),
            locked: false,
            transient: false,
            detail: e.to_string(),
        })?;
        self.write(source, Some(&json))?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(source.to_string(), offset.clone());
        Ok(())
    }

    fn remove(&self, source: &str) -> Result<bool, OffsetError> {
        let had = self.load(source)?.is_some();
        if had {
            self.write(source, None)?;
            self.cache.lock().unwrap_or_else(|e| e.into_inner()).remove(source);
        }
        Ok(had)
    }

    fn list(&self) -> Result<Vec<(String, StoredOffset)>, OffsetError> {
        Ok(self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
