//! The Kafka sink against the real broker from `scripts/services`: records
//! come back with their key, value, headers and the partition Kafka's Java
//! client would pick; acks drive the committed position; a refused record
//! stops it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{bootstrap, delete_topics, java_tool, read_at_least, read_topic, unique};
use logtap_core::{Limits, SharedTracker, Sink, SinkRecord, SourcePosition};
use logtap_kafka::{KafkaConfig, KafkaSink};
use std::collections::HashMap;
use std::time::Duration;

fn config(partitions: i32) -> KafkaConfig {
    let mut c = KafkaConfig::new(bootstrap());
    c.linger_ms = 1;
    c.topics.partitions = partitions;
    c.validate().expect("valid config");
    c
}

fn seq(n: u64) -> SourcePosition {
    SourcePosition::Sequence { seq: n }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_round_trip_in_key_order_with_headers_under_a_small_in_flight_bound() {
    let topic = unique("sink-roundtrip-");
    let tracker = SharedTracker::new(Limits { max_records: 32, max_bytes: 1 << 20 }, None);
    let mut sink = KafkaSink::new(&config(6), tracker.clone()).expect("sink");
    let mut max_in_flight = 0;
    for i in 0..600u64 {
        let key = format!(r#"{{"id":{}}}"#, i % 41);
        sink.send(SinkRecord {
            topic: topic.clone(),
            key: Some(key.into_bytes()),
            value: Some(format!(r#"{{"n":{i}}}"#).into_bytes()),
            headers: vec![("logtap.test".into(), i.to_string().into_bytes())],
        })
        .await
        .expect("send");
        tracker.checkpoint(seq(i + 1));
        max_in_flight = max_in_flight.max(tracker.in_flight().0);
    }
    sink.flush(Duration::from_secs(60)).await.expect("flush");
    assert_eq!(tracker.committed().map(|c| c.position), Some(seq(600)));
    assert!(tracker.is_idle());
    assert!(max_in_flight <= 32, "in flight reached {max_in_flight}, limit 32");

    let got = read_at_least(&topic, 600, Duration::from_secs(60));
    assert_eq!(got.len(), 600, "records read back");
    let mut partition_of: HashMap<String, i32> = HashMap::new();
    let mut last_n: HashMap<String, i64> = HashMap::new();
    for g in &got {
        let key = g.key_str();
        let n = g.value_json()["n"].as_i64().expect("n");
        assert_eq!(g.headers, vec![("logtap.test".to_string(), n.to_string().into_bytes())]);
        assert_eq!(key, format!(r#"{{"id":{}}}"#, n % 41));
        let p = *partition_of.entry(key.clone()).or_insert(g.partition);
        assert_eq!(p, g.partition, "key {key} in two partitions");
        let prev = last_n.insert(key.clone(), n).unwrap_or(-1);
        assert!(n > prev, "key {key}: record {n} after {prev} (order broken)");
    }
    let used: std::collections::HashSet<_> = partition_of.values().collect();
    assert!(used.len() > 1, "41 keys over 6 partitions all landed in one");
}

/// A new topic shows in the broker's metadata before each of its partitions
/// has a log. A first produce request arriving in between fails
/// (NOT_LEADER_OR_FOLLOWER); a second one, pipelined behind it, may arrive
/// once the log exists and be accepted, since the broker takes any first
/// sequence number from a producer it has no state for. librdkafka then
/// counts the first request's records as delivered ("implicitly acked by
/// subsequent batch success") although the broker never stored them. The
/// sink must not lose them: every acknowledged record is in the topic, in
/// key order. Records go out a millisecond apart so that several requests
/// are in flight while the partitions are being created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_sent_while_a_topic_is_being_created_are_all_in_kafka() {
    let rounds = 10;
    let per_round = 200u64;
    for round in 0..rounds {
        let topic = unique("sink-new-");
        let tracker = SharedTracker::new(Limits { max_records: 10_000, max_bytes: 1 << 24 }, None);
        let mut sink = KafkaSink::new(&config(48), tracker.clone()).expect("sink");
        for i in 0..per_round {
            let sent = sink
                .send(SinkRecord {
                    topic: topic.clone(),
                    key: Some(format!(r#"{{"id":{}}}"#, i % 97).into_bytes()),
                    value: Some(format!(r#"{{"n":{i}}}"#).into_bytes()),
                    headers: vec![],
                })
                .await;
            if sent.is_err() {
                break; // an earlier record failed; checked below
            }
            tracker.checkpoint(seq(i + 1));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // A delivery the sink cannot prove stops the position (and is
        // replayed by the pipeline); what it did acknowledge must be there.
        let _ = sink.flush(Duration::from_secs(60)).await;
        let acked = match tracker.committed().map(|c| c.position) {
            Some(SourcePosition::Sequence { seq }) => seq,
            _ => 0,
        };
        let read = read_topic(&topic);
        let mut last: HashMap<i64, i64> = HashMap::new();
        let mut present = std::collections::HashSet::new();
        for g in &read.records {
            let n = g.value_json()["n"].as_i64().expect("n");
            let id = n % 97;
            if let Some(prev) = last.insert(id, n) {
                assert!(n > prev, "round {round}: key {id}: record {n} after {prev}");
            }
            present.insert(n as u64);
        }
        let missing: Vec<u64> = (0..acked).filter(|n| !present.contains(n)).collect();
        assert!(
            missing.is_empty(),
            "round {round}: records {missing:?} acknowledged (position {acked}) but not in {topic}; watermarks {:?}",
            read.watermarks
        );
        assert_eq!(
            acked,
            per_round,
            "round {round}: not every record was acknowledged: {:?}",
            tracker.failure()
        );
        delete_topics(&[&topic]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_match_kafkas_java_client() {
    let ours = unique("murmur-ours-");
    let theirs = unique("murmur-java-");
    let tracker = SharedTracker::new(Limits { max_records: 1000, max_bytes: 1 << 24 }, None);
    let mut sink = KafkaSink::new(&config(7), tracker.clone()).expect("sink");
    let mut keys: Vec<String> = (0..150).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
    keys.extend((0..50).map(|i| format!(r#"{{"tenant":"t{}","order_id":"ü-{i}"}}"#, i % 3)));
    keys.push(r#"{"id":-2147483648}"#.into());
    for k in &keys {
        sink.send(SinkRecord {
            topic: ours.clone(),
            key: Some(k.clone().into_bytes()),
            value: Some(b"{}".to_vec()),
            headers: vec![],
        })
        .await
        .expect("send");
    }
    sink.flush(Duration::from_secs(60)).await.expect("flush");
    // The reference topic, same partition count, filled by Kafka's own
    // console producer (the Java client's default partitioner).
    let mut tm = logtap_kafka::TopicManager::new(&config(7)).expect("admin");
    assert_eq!(tm.ensure(&theirs).await.expect("create"), 7);
    let input: String = keys.iter().map(|k| format!("{k}\t-\n")).collect();
    java_tool(
        "org.apache.kafka.tools.ConsoleProducer",
        &[
            "--bootstrap-server",
            &bootstrap(),
            "--topic",
            &theirs,
            "--reader-property",
            "parse.key=true",
            "--reader-property",
            "key.separator=\t",
        ],
        Some(&input),
    );
    let a = read_at_least(&ours, keys.len(), Duration::from_secs(60));
    let b = read_at_least(&theirs, keys.len(), Duration::from_secs(60));
    assert_eq!(a.len(), keys.len());
    assert_eq!(b.len(), keys.len(), "records from the Java console producer");
    let pa: HashMap<String, i32> = a.iter().map(|g| (g.key_str(), g.partition)).collect();
    let pb: HashMap<String, i32> = b.iter().map(|g| (g.key_str(), g.partition)).collect();
    for k in &keys {
        assert_eq!(pa.get(k), pb.get(k), "key {k}: logtap vs Java client partition");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_stops_the_position_and_names_the_topic() {
    let topic = unique("sink-refused-");
    let tracker = SharedTracker::new(Limits { max_records: 100, max_bytes: 1 << 24 }, None);
    let mut cfg = config(1);
    cfg.message_max_bytes = 10_000;
    let mut sink = KafkaSink::new(&cfg, tracker.clone()).expect("sink");
    for i in 0..3u64 {
        sink.send(SinkRecord {
            topic: topic.clone(),
            key: Some(b"k".to_vec()),
            value: Some(b"small".to_vec()),
            headers: vec![],
        })
        .await
        .expect("send");
        tracker.checkpoint(seq(i + 1));
    }
    sink.flush(Duration::from_secs(30)).await.expect("first three delivered");
    assert_eq!(tracker.committed().map(|c| c.position), Some(seq(3)));
    let err = sink
        .send(SinkRecord {
            topic: topic.clone(),
            key: Some(b"k".to_vec()),
            value: Some(vec![b'x'; 50_000]),
            headers: vec![],
        })
        .await
        .expect_err("oversize record must be refused");
    assert!(err.message.contains(&topic), "error should name the topic: {}", err.message);
    tracker.checkpoint(seq(4));
    let _ = sink.flush(Duration::from_secs(30)).await;
    assert_eq!(
        tracker.committed().map(|c| c.position),
        Some(seq(3)),
        "position must stop before the refused record"
    );
    assert_eq!(
        tracker.failure().map(|f| (f.kind, f.kind.policy())),
        Some((logtap_core::ErrorKind::DeliveryRejected, logtap_core::Policy::Stop)),
        "an oversize record cannot succeed on retry"
    );
    let next = sink
        .send(SinkRecord { topic, key: None, value: Some(b"after".to_vec()), headers: vec![] })
        .await;
    assert!(next.is_err(), "nothing is sent after a failure");
}
