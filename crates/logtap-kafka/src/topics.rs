//! Topic creation: a topic is created the first time a record is routed to
//! it, with the configured partitions, replication factor and cleanup policy.
//! Topics that exist are left as they are (logtap never alters a topic).

use crate::config::{KafkaConfig, TopicConfig};
use crate::logs::QuietContext;
use logtap_core::{ErrorKind, PipelineError};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// Knows which topics exist and creates the missing ones.
pub struct TopicManager {
    admin: Arc<AdminClient<QuietContext>>,
    /// The admin client's settings, for the clients `cluster_summary` makes.
    client_config: ClientConfig,
    config: TopicConfig,
    /// Partition count of each topic known to exist.
    known: HashMap<String, i32>,
}

impl std::fmt::Debug for TopicManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicManager").field("known", &self.known).finish_non_exhaustive()
    }
}

impl TopicManager {
    pub fn new(config: &KafkaConfig) -> Result<Self, PipelineError> {
        let mut cc = ClientConfig::new();
        for (k, v) in config.connection_settings() {
            cc.set(k, v);
        }
        let admin: AdminClient<QuietContext> =
            cc.create_with_context(QuietContext).map_err(|e| {
                PipelineError::config(format!("cannot create the Kafka admin client: {e}"))
            })?;
        Ok(TopicManager {
            admin: Arc::new(admin),
            client_config: cc,
            config: config.topics.clone(),
            known: HashMap::new(),
        })
    }

    /// A blocking check that the cluster answers this client's metadata
    /// request within `timeout`.
    pub fn metadata_probe(&self, timeout: Duration) -> impl Fn() -> bool + Send + Sync + 'static {
        let admin = Arc::clone(&self.admin);
        move || admin.inner().fetch_metadata(None, timeout).is_ok()
    }

    /// Number of brokers and topics the cluster reports within `timeout`:
    /// proves it is reachable. Asked through a producer of its own, whose
    /// events (unlike the admin client's) are polled, so that the error
    /// names what the client last reported going wrong (a refused login, a
    /// certificate that does not verify) and the fix for it.
    pub async fn cluster_summary(
        &self,
        timeout: Duration,
    ) -> Result<(usize, usize), PipelineError> {
        let cc = self.client_config.clone();
        let md = tokio::task::spawn_blocking(move || {
            let producer: BaseProducer<QuietContext> = cc.create_with_context(QuietContext)?;
            let md = producer.client().fetch_metadata(None, timeout);
            if md.is_err() {
                producer.poll(Duration::from_millis(200));
            }
            md
        })
        .await
        .map_err(|e| PipelineError::internal(format!("metadata task failed: {e}")))?
        .map_err(|e| {
            let failure = crate::logs::last_failure();
            let said = failure.as_deref().map(|f| format!(" (the client: {f})"));
            PipelineError::new(
                ErrorKind::Delivery,
                format!(
                    "cannot read Kafka metadata within {} s: {e}{}: {}",
                    timeout.as_secs(),
                    said.unwrap_or_default(),
                    crate::logs::fix_for(failure.as_deref())
                ),
            )
        })?;
        Ok((md.brokers().len(), md.topics().len()))
    }

    /// Partition count of `topic` per the broker, or `None` if it does not exist.
    pub async fn partitions(&self, topic: &str) -> Result<Option<i32>, PipelineError> {
        let admin = Arc::clone(&self.admin);
        let name = topic.to_string();
        let md = tokio::task::spawn_blocking(move || {
            admin.inner().fetch_metadata(Some(&name), METADATA_TIMEOUT)
        })
        .await
        .map_err(|e| PipelineError::internal(format!("metadata task failed: {e}")))?
        .map_err(|e| {
            PipelineError::new(
                ErrorKind::Delivery,
                format!("cannot read Kafka metadata for topic `{topic}`: {e}"),
            )
        })?;
        let Some(t) = md.topics().iter().find(|t| t.name() == topic) else { return Ok(None) };
        match t.error() {
            None => Ok(Some(t.partitions().len() as i32)),
            Some(e) if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition => {
                Ok(None)
            }
            Some(e) => Err(PipelineError::new(
                ErrorKind::Delivery,
                format!("Kafka metadata for topic `{topic}`: {}", RDKafkaErrorCode::from(e)),
            )),
        }
    }

    /// Makes sure `topic` exists, creating it if allowed.
    pub async fn ensure(&mut self, topic: &str) -> Result<i32, PipelineError> {
        if let Some(&n) = self.known.get(topic) {
            return Ok(n);
        }
        if let Some(n) = self.partitions(topic).await? {
            self.known.insert(topic.to_string(), n);
            return Ok(n);
        }
        if !self.config.create {
            return Err(PipelineError::config(format!(
                "topic `{topic}` does not exist and kafka.topics.create is false: create it, or set kafka.topics.create = true"
            )));
        }
        self.create(topic).await?;
        // Creation is asynchronous on the broker: wait until metadata shows it.
        for _ in 0..100 {
            if let Some(n) = self.partitions(topic).await? {
                self.known.insert(topic.to_string(), n);
                return Ok(n);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(PipelineError::new(
            ErrorKind::Delivery,
            format!("topic `{topic}` was created but does not show in metadata"),
        ))
    }

    async fn create(&self, topic: &str) -> Result<(), PipelineError> {
        let mut nt = NewTopic::new(
            topic,
            self.config.partitions,
            TopicReplication::Fixed(self.config.replication_factor),
        )
        .set("cleanup.policy", &self.config.cleanup_policy);
        for (k, v) in &self.config.config {
            nt = nt.set(k, v);
        }
        let opts = AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT));
        let results = self.admin.create_topics([&nt], &opts).await.map_err(|e| {
            PipelineError::new(ErrorKind::Delivery, format!("cannot create topic `{topic}`: {e}"))
        })?;
        for r in results {
            match r {
                Ok(_) => tracing::info!(
                    topic,
                    partitions = self.config.partitions,
                    replication_factor = self.config.replication_factor,
                    cleanup_policy = %self.config.cleanup_policy,
                    "created topic"
                ),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(creation_refused(topic, &self.config, code)),
            }
        }
        Ok(())
    }
}

/// The error for a topic the broker refused to create: a kind that stops
/// the pipeline only when retrying cannot change the answer.
fn creation_refused(topic: &str, config: &TopicConfig, code: RDKafkaErrorCode) -> PipelineError {
    let msg = format!(
        "cannot create topic `{topic}` ({} partitions, replication factor {}): {code}",
        config.partitions, config.replication_factor
    );
    match code {
        // Wrong in the request, or refused for good.
        RDKafkaErrorCode::InvalidPartitions
        | RDKafkaErrorCode::InvalidConfig
        | RDKafkaErrorCode::InvalidTopic
        | RDKafkaErrorCode::PolicyViolation => PipelineError::config(msg),
        RDKafkaErrorCode::TopicAuthorizationFailed
        | RDKafkaErrorCode::ClusterAuthorizationFailed => {
            PipelineError::new(ErrorKind::Privileges, msg)
        }
        // A broker that has just started is not yet counted as available,
        // so the controller reports too few brokers for the replication
        // factor; the factor may also really be too high for the cluster.
        RDKafkaErrorCode::InvalidReplicationFactor => PipelineError::new(
            ErrorKind::Delivery,
            format!(
                "{msg}: fewer brokers available than kafka.topics.replication_factor (brokers \
             still starting, or the setting is too high for the cluster)"
            ),
        ),
        _ => PipelineError::new(ErrorKind::Delivery, msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logtap_core::Policy;

    fn class(code: RDKafkaErrorCode) -> Policy {
        let config = KafkaConfig::new("127.0.0.1:9092").topics;
        creation_refused("t", &config, code).policy()
    }

    #[test]
    fn a_refusal_retrying_cannot_change_is_fatal_and_others_are_retried() {
        assert_eq!(class(RDKafkaErrorCode::InvalidConfig), Policy::Stop);
        assert_eq!(class(RDKafkaErrorCode::TopicAuthorizationFailed), Policy::Stop);
        assert_eq!(class(RDKafkaErrorCode::InvalidPartitions), Policy::Stop);
        // What a broker answers in the second after it started.
        assert_eq!(class(RDKafkaErrorCode::InvalidReplicationFactor), Policy::Retry);
        assert_eq!(class(RDKafkaErrorCode::NotController), Policy::Retry);
        assert_eq!(class(RDKafkaErrorCode::RequestTimedOut), Policy::Retry);
    }

    #[test]
    fn a_refused_replication_factor_names_the_setting() {
        let config = KafkaConfig::new("127.0.0.1:9092").topics;
        let e = creation_refused("a.b.c", &config, RDKafkaErrorCode::InvalidReplicationFactor);
        assert!(e.message.contains("`a.b.c`"), "{}", e.message);
        assert!(e.message.contains("kafka.topics.replication_factor"), "{}", e.message);
    }
}
