//! Kafka for the tests: topics made and dropped, and every partition read
//! to its high watermark (retried with a new consumer when a read stalls).

use super::*;

pub fn bootstrap() -> String {
    env("LOGTAP_KAFKA_BOOTSTRAP")
}

/// One record read back from Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Got {
    pub fn key_str(&self) -> String {
        String::from_utf8_lossy(self.key.as_deref().unwrap_or_default()).into_owned()
    }
    pub fn value_json(&self) -> serde_json::Value {
        match &self.value {
            None => serde_json::Value::Null,
            Some(v) => serde_json::from_slice(v).expect("value is JSON"),
        }
    }
}

/// Everything one topic holds, read the one way that can prove "nothing
/// lost": the high watermark of every partition is taken first, then each
/// partition is read from its low watermark up to that mark, offset by
/// offset. Reading stops at the marks, never at a record count (a replayed
/// duplicate would satisfy a count while a later record is still missing),
/// and offsets must arrive one after the other, so nothing is skipped
/// unseen (a reset to the end would be one: it is switched off). Call it
/// only after logtap has stored the position the test checks (stopped with
/// SIGTERM, or its stored position seen past the workload): records
/// acknowledged before that are then below the marks.
#[derive(Debug, Clone)]
pub struct TopicRead {
    pub records: Vec<Got>,
    /// (partition, low, high) as the broker reported them before the read.
    pub watermarks: Vec<(i32, i64, i64)>,
}

impl TopicRead {
    /// Change records only (tombstones left out).
    pub fn changes(&self) -> impl Iterator<Item = &Got> {
        self.records.iter().filter(|g| g.value.is_some())
    }
}

/// (partition, low, high) of each partition of a topic.
type Watermarks = Vec<(i32, i64, i64)>;

/// A new consumer (explicit offsets only) and each partition's (low, high)
/// watermarks of `topic`, or what failed.
fn partition_watermarks(topic: &str) -> Result<(BaseConsumer, Watermarks), String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("logtap-read-"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        // Explicit offsets only: a reset would silently skip records.
        .set("auto.offset.reset", "error")
        .create()
        .expect("consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| format!("metadata of {topic}: {e}"))?;
    let partitions = match md.topics().first() {
        Some(t) if t.error().is_none() => t.partitions().len() as i32,
        _ => 0,
    };
    let mut watermarks = Vec::new();
    for p in 0..partitions {
        let (lo, hi) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .map_err(|e| format!("watermarks of {topic} [{p}]: {e}"))?;
        watermarks.push((p, lo, hi));
    }
    Ok((consumer, watermarks))
}

/// Reads `topic` as [`TopicRead`] describes; an absent topic reads empty.
pub fn read_topic(topic: &str) -> TopicRead {
    // A broker just back from a fault may refuse a request or two, and a
    // consumer that asked it then can go on answering "unknown partition"
    // from its own metadata for over a minute while the broker is fine (a
    // CI run: the broker had its leaders back 3 s after a SIGCONT, and the
    // consumer that asked during those 3 s was refused for the next 60 s:
    // "Meta data fetch error: UnknownPartition"; another: AllBrokersDown
    // for 60 s after a kill -9 while the controller came back). So an
    // attempt that stops moving is dropped and a new consumer reads again,
    // for up to 180 s.
    let start = Instant::now();
    loop {
        let read = partition_watermarks(topic).and_then(|(consumer, watermarks)| {
            let records = read_to_watermarks(&consumer, topic, &watermarks)?;
            Ok(TopicRead { records, watermarks })
        });
        match read {
            Ok(read) => return read,
            Err(e) if start.elapsed() > Duration::from_secs(180) => panic!("{e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// Every record of `topic` below `watermarks`' high marks, in offset order
/// per partition; an error when 30 s pass without a record.
fn read_to_watermarks(
    consumer: &BaseConsumer,
    topic: &str,
    watermarks: &Watermarks,
) -> Result<Vec<Got>, String> {
    let mut tpl = TopicPartitionList::new();
    let mut next: std::collections::BTreeMap<i32, (i64, i64)> = Default::default();
    for &(p, lo, hi) in watermarks {
        if hi > lo {
            tpl.add_partition_offset(topic, p, Offset::Offset(lo)).expect("tpl");
            next.insert(p, (lo, hi));
        }
    }
    let mut records = Vec::new();
    if !next.is_empty() {
        consumer.assign(&tpl).expect("assign");
    }
    let mut moved = Instant::now();
    // Consumer errors (a broker connection down, ...) are retried by
    // librdkafka; nothing can be skipped unseen, since every offset up to
    // the high watermark must arrive in order. They are reported if the
    // read stops moving.
    let mut errors = Vec::new();
    while next.values().any(|(n, hi)| n < hi) {
        if moved.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "{topic}: partitions not read up to their high watermarks, nothing for 30 s: (partition, next, high) {:?}; consumer errors {errors:?}",
                next.iter().map(|(p, (n, h))| (p, n, h)).collect::<Vec<_>>()
            ));
        }
        let Some(m) = consumer.poll(Duration::from_millis(200)) else { continue };
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        let Some((n, hi)) = next.get_mut(&m.partition()) else { continue };
        if m.offset() >= *hi {
            continue;
        }
        assert_eq!(
            m.offset(),
            *n,
            "{topic} [{}]: offset {} read where {} was next (a gap in a delete-policy topic)",
            m.partition(),
            m.offset(),
            n
        );
        *n += 1;
        moved = Instant::now();
        records.push(got(&m));
    }
    records.sort_by_key(|g| (g.partition, g.offset));
    Ok(records)
}

fn got(m: &rdkafka::message::BorrowedMessage<'_>) -> Got {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|x| (x.key.to_string(), x.value.map(<[u8]>::to_vec).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    Got {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers,
    }
}

/// Reads `topic` (as [`read_topic`]) again and again until `done` holds for
/// what it holds, or `timeout` passes; returns the last read either way, for
/// the caller's assertion. A wait, not a proof: tests that check "nothing
/// lost" read once more after logtap has stored its position.
pub fn read_topic_until(
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&[Got]) -> bool,
) -> Vec<Got> {
    let start = Instant::now();
    loop {
        let read = read_topic(topic).records;
        if done(&read) || start.elapsed() > timeout {
            return read;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Waits until `topic` holds at least `n` records; returns all it holds.
pub fn read_at_least(topic: &str, n: usize, timeout: Duration) -> Vec<Got> {
    read_topic_until(topic, timeout, |r| r.len() >= n)
}

/// Deletes `topics` (a test that creates many partitions gives them back, so
/// repeated runs do not fill the broker's heap).
/// Creates `topic` with `partitions` partitions (replication factor 1), so
/// that logtap, finding it, does not create it with the configured count.
pub async fn create_topic(topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin");
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = admin.create_topics([&new], &AdminOptions::new()).await.expect("create topic");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
}

pub async fn delete_topics(topics: &[&str]) {
    use rdkafka::admin::{AdminClient, AdminOptions};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin");
    let _ = admin.delete_topics(topics, &AdminOptions::new()).await;
}
