//! The Kafka producer and its delivery reports.
//!
//! Records are produced in the order the pipeline hands them over. With
//! `enable.idempotence=true` librdkafka keeps that order per partition even
//! across retries, and with `acks=all` a delivery report means the record is
//! on every in-sync replica. Each report acknowledges the record's sequence
//! number in the shared tracker; that is the only way a position advances.

use crate::config::KafkaConfig;
use crate::topics::TopicManager;
use logtap_core::{DeliveryError, ErrorKind, PipelineError, SharedTracker, Sink, SinkRecord};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer,
};
use rdkafka::ClientContext;
use std::sync::Arc;
use std::time::Duration;

/// Routes librdkafka's delivery reports into the tracker.
#[derive(Debug, Clone)]
pub struct AckContext {
    tracker: SharedTracker,
}

impl ClientContext for AckContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        crate::logs::log(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        crate::logs::error(&error, reason);
    }
}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        let outcome = match result {
            // librdkafka reports a record delivered without an offset when it
            // "implicitly acks" it: an earlier request failed, a later one for
            // the same partition succeeded, and librdkafka concludes the
            // earlier records were stored too. The broker accepts any first
            // sequence number from a producer it has no state for (a new
            // partition, a new producer id), so that conclusion can be false
            // and the records lost. Only a report with the offset the broker
            // gave counts; anything else stops the position here, and the
            // restart from the stored position sends the record again.
            Ok(msg) if msg.offset() < 0 => Err(DeliveryError {
                message: format!(
                    "record for topic `{}` partition {} not confirmed: librdkafka reported it \
                     delivered without an offset, only because a later request succeeded",
                    msg.topic(),
                    msg.partition()
                ),
                kind: ErrorKind::Delivery,
            }),
            Ok(msg) => {
                tracing::trace!(
                    seq,
                    topic = msg.topic(),
                    partition = msg.partition(),
                    offset = msg.offset(),
                    "delivered"
                );
                Ok(())
            }
            Err((e, msg)) => Err(DeliveryError {
                message: format!(
                    "delivery to topic `{}` partition {} failed: {e}",
                    msg.topic(),
                    msg.partition()
                ),
                kind: kind_of(e.rdkafka_error_code()),
            }),
        };
        if let Err(e) = &outcome {
            let kind = format!("{:?}", e.kind).to_lowercase();
            metrics::counter!("logtap_kafka_delivery_errors_total", "kind" => kind).increment(1);
        }
        if let Err(e) = self.tracker.ack(seq as u64, outcome) {
            // Cannot happen unless librdkafka reports a record twice; the
            // position does not move on a confused report, so log and go on.
            tracing::error!(error = %e, "unexpected delivery report");
        }
    }
}

/// Produces [`SinkRecord`]s to Kafka; see the module documentation.
pub struct KafkaSink {
    producer: ThreadedProducer<AckContext>,
    tracker: SharedTracker,
    topics: TopicManager,
    stuck: StuckFailpoint,
}

/// A test hook for a fault no broker can be made to produce on demand: a
/// producer that librdkafka never moves again while Kafka answers (seen
/// once in many broker pauses). With `LOGTAP_FAILPOINT_STUCK_PRODUCER=N`
/// the first producer of the process hands its first N records to
/// librdkafka and keeps every later one to itself, unacknowledged, so the
/// stall watch's give-up and the restart run against a real broker
/// (`kafka_faults::a_producer_kafka_answers_but_never_acknowledges_is_replaced`).
/// Once stuck, the producer's own metadata requests count as unanswered
/// too, as they were in the pause that showed it: only the topic manager's
/// client answers the probe. Unset, it does nothing.
#[derive(Debug, Default)]
struct StuckFailpoint {
    /// Records still to send before sticking; `None`: never sticks.
    left: Option<u64>,
    /// Set once it sticks (read by [`KafkaSink::probe`]).
    stuck: Arc<std::sync::atomic::AtomicBool>,
}

impl StuckFailpoint {
    fn from_env() -> Self {
        static FIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let n = std::env::var("LOGTAP_FAILPOINT_STUCK_PRODUCER").ok().and_then(|v| v.parse().ok());
        match n {
            Some(n) if !FIRED.swap(true, std::sync::atomic::Ordering::Relaxed) => {
                tracing::warn!(after = n, "failpoint: this producer sticks after {n} records");
                StuckFailpoint { left: Some(n), stuck: Arc::default() }
            }
            _ => StuckFailpoint::default(),
        }
    }

    /// Whether the next record is kept back.
    fn holds(&mut self) -> bool {
        match &mut self.left {
            None => false,
            Some(0) => {
                self.stuck.store(true, std::sync::atomic::Ordering::Relaxed);
                true
            }
            Some(n) => {
                *n -= 1;
                false
            }
        }
    }
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink").finish_non_exhaustive()
    }
}

/// The kind of a producer error, by its rdkafka code: refusals a retry
/// cannot change stop the pipeline, the rest are retried.
fn kind_of(code: Option<RDKafkaErrorCode>) -> ErrorKind {
    match code {
        Some(
            RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed
            | RDKafkaErrorCode::TransactionalIdAuthorizationFailed,
        ) => ErrorKind::Privileges,
        Some(RDKafkaErrorCode::InvalidConfig) => ErrorKind::Config,
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::Fatal,
        ) => ErrorKind::DeliveryRejected,
        _ => ErrorKind::Delivery,
    }
}

fn classify(e: &KafkaError) -> PipelineError {
    PipelineError::new(kind_of(e.rdkafka_error_code()), format!("Kafka producer: {e}"))
}

impl KafkaSink {
    /// A check that Kafka answers (a metadata request with `timeout`), to
    /// run off the async workers: it blocks. The producer's own client is
    /// asked first, then the topic manager's, a client of its own: a
    /// producer whose client no longer reaches a broker that answers others
    /// is the stuck producer the stall watch replaces, not an outage (seen
    /// once after a broker pause: no acknowledgement and no metadata for
    /// minutes while the broker served every other client).
    pub fn probe(&self, timeout: std::time::Duration) -> impl Fn() -> bool + Send + Sync + 'static {
        let producer = self.producer.clone();
        let others = self.topics.metadata_probe(timeout);
        let stuck = Arc::clone(&self.stuck.stuck);
        move || {
            let own = !stuck.load(std::sync::atomic::Ordering::Relaxed)
                && producer.client().fetch_metadata(None, timeout).is_ok();
            own || others()
        }
    }

    /// Connects a producer using `config`. `tracker` receives every delivery
    /// report; its limits also size librdkafka's queue.
    pub fn new(config: &KafkaConfig, tracker: SharedTracker) -> Result<Self, PipelineError> {
        // The tracker's limits size librdkafka's queue, so that its QueueFull
        // is the exception and the tracker is the flow control.
        let limits = tracker.limits();
        let mut cc = ClientConfig::new();
        for (k, v) in config.producer_settings(limits.max_records, limits.max_bytes) {
            cc.set(k, v);
        }
        let producer: ThreadedProducer<AckContext> =
            cc.create_with_context(AckContext { tracker: tracker.clone() }).map_err(|e| {
                PipelineError::config(format!("cannot create the Kafka producer: {e}"))
                    .with_cause(e)
            })?;
        let topics = TopicManager::new(config)?;
        Ok(KafkaSink { producer, tracker, topics, stuck: StuckFailpoint::from_env() })
    }

    /// The topic manager, to create or inspect topics ahead of time.
    pub fn topics(&self) -> &TopicManager {
        &self.topics
    }
}

impl Sink for KafkaSink {
    async fn send(&mut self, record: SinkRecord) -> Result<(), PipelineError> {
        self.topics.ensure(&record.topic).await?;
        let seq = self
            .tracker
            .register(record.payload_len())
            .await
            .map_err(|f| f.to_error("not sending more: an earlier "))?;
        if self.stuck.holds() {
            return Ok(());
        }
        let opaque =
            usize::try_from(seq).map_err(|_| PipelineError::internal("sequence overflow"))?;
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (k, v) in &record.headers {
            headers = headers.insert(Header { key: k, value: Some(v) });
        }
        let mut base: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(&record.topic, opaque).headers(headers);
        if let Some(k) = &record.key {
            base = base.key(k.as_slice());
        }
        if let Some(v) = &record.value {
            base = base.payload(v.as_slice());
        }
        loop {
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    base = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => {
                    let err = classify(&e);
                    let _ = self.tracker.ack(
                        seq,
                        Err(DeliveryError {
                            message: format!("record for topic `{}` refused: {e}", record.topic),
                            kind: err.kind,
                        }),
                    );
                    return Err(PipelineError {
                        message: format!(
                            "{} (topic `{}`, {} bytes)",
                            err.message,
                            record.topic,
                            record.payload_len()
                        ),
                        ..err
                    });
                }
            }
        }
    }

    async fn flush(&mut self, timeout: Duration) -> Result<(), PipelineError> {
        if let Some(f) = self.tracker.failure() {
            // After a failed record, later ones must not reach Kafka ahead of
            // its replay: drop what is still queued (it stays unacknowledged,
            // so the stored position is unaffected). Requests already sent
            // are waited for: one the broker has not read yet could still be
            // appended after the restart's records. Not so for a record given
            // up after Kafka answered metadata requests for four delivery
            // timeouts: a running broker reads an open connection's requests
            // in order and a closed one's are gone, so none sent before can
            // be appended later; they are voided.
            let purge = PurgeConfig::default().queue();
            self.producer.purge(if f.given_up { purge.inflight() } else { purge });
        }
        let producer = self.producer.clone();
        let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(|e| PipelineError::internal(format!("flush task failed: {e}")))?;
        if let Some(f) = self.tracker.failure() {
            return Err(f.to_error(""));
        }
        flushed.map_err(|e| {
            PipelineError::new(
                ErrorKind::Delivery,
                format!("Kafka did not acknowledge every record within {timeout:?}: {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logtap_core::Policy;

    #[test]
    fn a_refused_record_stops_and_an_unavailable_broker_is_retried() {
        let policy = |c| kind_of(Some(c)).policy();
        assert_eq!(policy(RDKafkaErrorCode::MessageSizeTooLarge), Policy::Stop);
        assert_eq!(policy(RDKafkaErrorCode::TopicAuthorizationFailed), Policy::Stop);
        assert_eq!(policy(RDKafkaErrorCode::UnknownTopicOrPartition), Policy::Stop);
        assert_eq!(policy(RDKafkaErrorCode::InvalidTopic), Policy::Stop);
        assert_eq!(policy(RDKafkaErrorCode::MessageTimedOut), Policy::Retry);
        assert_eq!(policy(RDKafkaErrorCode::BrokerTransportFailure), Policy::Retry);
        assert_eq!(policy(RDKafkaErrorCode::AllBrokersDown), Policy::Retry);
        assert_eq!(kind_of(None), ErrorKind::Delivery);
    }
}
