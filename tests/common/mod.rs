//! Shared helpers for the integration tests. They talk to the real Kafka (and
//! later PostgreSQL and MariaDB) that `scripts/services up` starts; the
//! connection settings come from `eval "$(scripts/services env)"`, which
//! `scripts/test` does. Without them the tests fail, saying so.

#![allow(dead_code)]

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// An environment variable the harness sets.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the services and export their settings with \
             `scripts/services up && eval \"$(scripts/services env)\"`, or run `scripts/test`"
        )
    })
}

pub fn bootstrap() -> String {
    env("LOGTAP_KAFKA_BOOTSTRAP")
}

/// A topic name no other test run has used.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}{}x{}", std::process::id(), nanos % 1_000_000_000)
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

/// Reads every record of `topic` (all partitions, from the beginning) until
/// `expected` records arrived or `timeout` passed; returns what arrived,
/// ordered by partition then offset.
pub fn consume_all(topic: &str, expected: usize, timeout: Duration) -> Vec<Got> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("logtap-test-"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
    let partitions = md.topics()[0].partitions().len() as i32;
    assert!(partitions > 0, "topic {topic} has no partitions");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning).expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < expected && start.elapsed() < timeout {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|x| (x.key.to_string(), x.value.map(<[u8]>::to_vec).unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Got {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers,
            });
        }
    }
    out.sort_by_key(|g| (g.partition, g.offset));
    out
}

/// Runs one of Kafka's own Java tools from the harness's jar directory.
pub fn java_tool(class: &str, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let libs = env("LOGTAP_KAFKA_LIBS");
    let mut cmd = Command::new("java");
    cmd.arg("-cp").arg(format!("{libs}/*"));
    if let Ok(log4j) = std::env::var("LOGTAP_KAFKA_TOOLS_LOG4J") {
        cmd.arg(format!("-Dlog4j2.configurationFile=file:{log4j}"));
    }
    cmd.arg(class).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("java");
    {
        let mut sin = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            sin.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("java output");
    assert!(
        out.status.success(),
        "{class} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
