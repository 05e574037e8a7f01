//! Reads every record of a topic, each partition to the high watermark
//! taken before reading, outside any consumer group (nothing committed).
//! `logtap offsets import --from-debezium` reads Kafka Connect's offsets
//! topic with it: 25 partitions by default, a key always in the same one,
//! so the order within a partition is the order of a key's writes.

use crate::config::KafkaConfig;
use crate::logs::QuietContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A record's key and value (`None`: a tombstone).
pub type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Every record of `topic`, partition by partition, each in log order.
/// Fails when the topic does not exist or is not read to its end within
/// `timeout`.
pub fn read_topic(
    config: &KafkaConfig,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<KeyValue>, String> {
    let mut cc = crate::offsets::reader_config(config, "logtap-topic-reader");
    cc.set("enable.partition.eof", "false");
    let consumer: BaseConsumer<QuietContext> =
        cc.create_with_context(QuietContext).map_err(|e| e.to_string())?;
    let meta = consumer.fetch_metadata(Some(topic), timeout).map_err(|e| e.to_string())?;
    let partitions: Vec<i32> = meta
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(format!("topic `{topic}` does not exist"));
    }
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(|e| format!("partition {p}: watermarks: {e}"))?;
        if high > low {
            ends.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning).map_err(|e| e.to_string())?;
        }
    }
    let mut out: BTreeMap<i32, Vec<KeyValue>> = BTreeMap::new();
    if ends.is_empty() {
        return Ok(vec![]);
    }
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    while !ends.is_empty() {
        if Instant::now() > deadline {
            return Err(format!("not read to its end in {} s", timeout.as_secs()));
        }
        match consumer.poll(Duration::from_millis(200)) {
            // Transaction markers take offsets but are never delivered:
            // the consumer's position says when a partition is passed.
            None => passed(&consumer, topic, &mut ends)?,
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => return Err(e.to_string()),
            Some(Ok(m)) => {
                let kv = (m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec));
                out.entry(m.partition()).or_default().push(kv);
                if ends.get(&m.partition()).is_some_and(|end| m.offset() + 1 >= *end) {
                    ends.remove(&m.partition());
                }
            }
        }
    }
    Ok(out.into_values().flatten().collect())
}

/// Drops from `ends` the partitions the consumer's position has reached.
fn passed(
    consumer: &BaseConsumer<QuietContext>,
    topic: &str,
    ends: &mut BTreeMap<i32, i64>,
) -> Result<(), String> {
    let positions = consumer.position().map_err(|e| e.to_string())?;
    for e in positions.elements_for_topic(topic) {
        if let Offset::Offset(at) = e.offset() {
            if ends.get(&e.partition()).is_some_and(|end| at >= *end) {
                ends.remove(&e.partition());
            }
        }
    }
    Ok(())
}
