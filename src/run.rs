//! `logtap run`: logging, signals, and the retry loop around one pipeline
//! attempt. What is retried is decided by the error's kind
//! (`logtap_core::error`), nowhere else.

use crate::config::{Config, LogFormat, SinkKind, SourceConfig};
use crate::pipeline::{self, AbortOnDrop, PipelineParts, Stopped};
use crate::store::open_offsets;
use crate::{demo, stdout_sink};
use anyhow::{Context, Result};
use logtap_core::{
    Encoder, EnvelopeOptions, ErrorKind, Limits, OffsetStore, Op, PipelineError, Policy,
    SharedTracker, Source,
};
use logtap_kafka::{KafkaSink, Router};
use logtap_postgres::PostgresSource;
use std::io::IsTerminal;
use std::time::Duration;
use tokio::sync::watch;

pub fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cfg.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cfg.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

/// Watches SIGTERM and SIGINT; the receiver turns `true` on the first one.
/// The log says how long the drain may wait for Kafka and how to cut it short.
fn shutdown_signal(drain_timeout_s: u64) -> Result<watch::Receiver<bool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::spawn(async move {
        let signal = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            "{signal}: draining in-flight records, waiting up to {drain_timeout_s} s for Kafka \
             (sink.drain_timeout_s); a second signal exits at once"
        );
        let _ = tx.send(true);
        // A second signal means "now": the drain is taking too long.
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("second signal: exiting without waiting for the drain (the stored position is safe; the unacknowledged window will be replayed)");
        std::process::exit(130);
    });
    Ok(rx)
}

pub async fn run(cfg: Config) -> Result<()> {
    let offsets = open_offsets(&cfg, true, true).await?;
    let shutdown = shutdown_signal(cfg.sink.drain_timeout_s)?;
    let health = crate::telemetry::Health::default();
    if let Some(listen) = &cfg.metrics.listen {
        crate::telemetry::serve(listen, health.clone()).await?;
    }
    const FIRST_BACKOFF: Duration = Duration::from_millis(500);
    let mut backoff = FIRST_BACKOFF;
    let mut slot_busy_since: Option<std::time::Instant> = None;
    loop {
        let started = std::time::Instant::now();
        let outcome = run_once(&cfg, &offsets, shutdown.clone(), &health).await;
        health.set_connected(false);
        // A run that went well for a while earns a quick retry again.
        if started.elapsed() > Duration::from_secs(60) {
            backoff = FIRST_BACKOFF;
        }
        match outcome {
            Ok(Stopped::Shutdown) => {
                tracing::info!("stopped; final position stored");
                return Ok(());
            }
            Ok(Stopped::SourceFinished) => {
                tracing::info!("source finished; final position stored");
                return Ok(());
            }
            Err(e) if busy_too_long(&e, &mut slot_busy_since, SLOT_BUSY_FOR) => {
                let fix = format!(
                    "another client has held the slot for over {} s: stop it (the server pid \
                     is in the message; pg_terminate_backend(pid) ends it) or give this logtap \
                     its own postgres.slot_name",
                    SLOT_BUSY_FOR.as_secs()
                );
                return Err(anyhow::Error::new(
                    PipelineError { kind: ErrorKind::Refused, ..e }.with_fix(fix),
                ));
            }
            Err(e) if e.policy() == Policy::Retry && !*shutdown.borrow() => {
                tracing::warn!(error = %e, retry_in = ?backoff, "retrying from the stored position");
                let mut stop = shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s) => {
                        tracing::info!("stopped while waiting to retry; the stored position is unchanged");
                        return Ok(());
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(anyhow::Error::new(e)),
        }
    }
}

/// How long a slot may stay in use by another client before logtap stops
/// retrying: long enough for its own previous connection to go away (the
/// server notices a dead client within `wal_sender_timeout`, 60 s).
const SLOT_BUSY_FOR: Duration = Duration::from_secs(150);

/// Whether `e` is a slot in use that has stayed so since `since` for
/// longer than `limit` (any other outcome resets the clock).
fn busy_too_long(
    e: &PipelineError,
    since: &mut Option<std::time::Instant>,
    limit: Duration,
) -> bool {
    if e.kind != ErrorKind::SlotInUse {
        *since = None;
        return false;
    }
    since.get_or_insert_with(std::time::Instant::now).elapsed() > limit
}

/// One attempt: a fresh tracker, source and sink from the stored position.
async fn run_once(
    cfg: &Config,
    offsets: &std::sync::Arc<dyn OffsetStore>,
    shutdown: watch::Receiver<bool>,
    health: &crate::telemetry::Health,
) -> Result<Stopped, PipelineError> {
    let stored = offsets.load(&cfg.topic_prefix)?;
    let stored_id = stored.as_ref().and_then(|s| s.source_id.clone());
    // The tracker starts from the stored checkpoint (position and snapshot
    // progress); the source from its position.
    let stored_checkpoint = stored.clone().map(|s| logtap_core::Checkpoint {
        position: s.position,
        snapshot: s.snapshot,
        transaction: s.transaction,
    });
    let position = stored_checkpoint.as_ref().map(|c| c.position.clone());
    match &position {
        Some(p) => tracing::info!(source = %cfg.topic_prefix, position = %p, "resuming"),
        None => {
            tracing::info!(source = %cfg.topic_prefix, "no stored position: starting from the beginning")
        }
    }
    let tracker = SharedTracker::new(
        Limits {
            max_records: cfg.sink.max_in_flight_records,
            max_bytes: cfg.sink.max_in_flight_bytes,
        },
        stored_checkpoint.clone(),
    );
    let router =
        Router::new(&cfg.topic_prefix, cfg.record.routing, cfg.record.single_topic.clone());
    let heartbeat = (cfg.heartbeat.interval_ms > 0).then(|| {
        let every = Duration::from_millis(cfg.heartbeat.interval_ms);
        (router.heartbeat_topic(&cfg.heartbeat.topic_prefix), every)
    });
    let parts = PipelineParts {
        name: &cfg.topic_prefix,
        stored,
        encoder: Encoder::new(EnvelopeOptions {
            schemas_enable: cfg.record.schemas_enable,
            tombstones_on_delete: cfg.record.tombstones_on_delete,
            unwrap: cfg.transforms.first().and_then(|t| t.unwrap().ok()),
        }),
        columns: {
            let (include, exclude) = cfg.source.column_lists();
            // Validated when the configuration was loaded.
            // Debezium's PostgreSQL connector (alone) marks a filtered-out
            // key column optional in the key schema.
            let loosen_keys = matches!(cfg.source, SourceConfig::Postgres(_));
            logtap_core::ColumnFilter::new(include, exclude, loosen_keys)
                .map_err(|e| PipelineError::config(e.to_string()))?
        },
        skipped: [Op::Create, Op::Update, Op::Delete, Op::Truncate]
            .into_iter()
            .filter(|&op| cfg.record.skips(op))
            .collect(),
        skip_key_changes_as_updates: matches!(cfg.source, SourceConfig::Mysql(_)),
        transactions: cfg
            .record
            .provide_transaction_metadata
            .then(|| router.transaction_topic(&cfg.record.transaction_topic)),
        router,
        tracker: tracker.clone(),
        offsets: offsets.clone(),
        commit_interval: Duration::from_millis(cfg.sink.commit_interval_ms),
        drain_timeout: Duration::from_secs(cfg.sink.drain_timeout_s),
        shutdown,
        heartbeat,
        heartbeat_action: cfg.heartbeat.action_query.clone(),
        health: health.clone(),
        stall_after: Duration::from_millis(
            cfg.kafka.as_ref().map_or(0, |k| u64::from(k.delivery_timeout_ms)),
        ),
    };
    match &cfg.source {
        SourceConfig::Postgres(pg) => {
            let pg = logtap_postgres::PostgresConfig {
                tx_metadata: cfg.record.provide_transaction_metadata,
                ..pg.clone()
            };
            let mut source = PostgresSource::start(
                pg,
                &cfg.topic_prefix,
                stored_checkpoint.as_ref(),
                stored_id.as_deref(),
                &cfg.snapshot,
            )
            .await?;
            with_sink(cfg, &mut source, tracker, parts).await
        }
        SourceConfig::Mysql(my) => {
            let my = logtap_mysql::MysqlConfig {
                tx_metadata: cfg.record.provide_transaction_metadata,
                ..my.clone()
            };
            let mut source = logtap_mysql::MysqlSource::start(
                my,
                &cfg.topic_prefix,
                stored_checkpoint.as_ref(),
                stored_id.as_deref(),
                &cfg.snapshot,
            )
            .await?;
            with_sink(cfg, &mut source, tracker, parts).await
        }
        SourceConfig::Demo(demo_cfg) => {
            let mut source =
                demo::DemoSource::new(demo_cfg.clone(), &cfg.topic_prefix, position.as_ref())?;
            with_sink(cfg, &mut source, tracker, parts).await
        }
    }
}

/// Runs the pipeline from `source` into the configured sink.
async fn with_sink<S: Source>(
    cfg: &Config,
    source: &mut S,
    tracker: SharedTracker,
    parts: PipelineParts<'_>,
) -> Result<Stopped, PipelineError> {
    // The source is started (connected) by now.
    parts.health.set_connected(true);
    match cfg.sink.kind {
        SinkKind::Stdout => {
            parts.health.set_kafka_reachable(true);
            let mut sink = stdout_sink::StdoutSink::new(tracker);
            pipeline::run(source, &mut sink, parts).await
        }
        SinkKind::Kafka => {
            let kcfg =
                cfg.kafka.as_ref().ok_or_else(|| PipelineError::config("no [kafka] section"))?;
            let mut sink = KafkaSink::new(kcfg, tracker)?;
            let _probe = KafkaProbe::start(&sink, parts.health.clone());
            pipeline::run(source, &mut sink, parts).await
        }
    }
}

/// Asks Kafka for metadata every few seconds while a pipeline runs, for
/// `/readyz` and `logtap_kafka_reachable`; stops when dropped.
struct KafkaProbe {
    _task: AbortOnDrop,
}

impl KafkaProbe {
    const EVERY: Duration = Duration::from_secs(5);

    fn start(sink: &KafkaSink, health: crate::telemetry::Health) -> Self {
        let probe = std::sync::Arc::new(sink.probe(Duration::from_secs(3)));
        let task = AbortOnDrop(tokio::spawn(async move {
            loop {
                let p = probe.clone();
                let up = tokio::task::spawn_blocking(move || p()).await.unwrap_or(false);
                health.set_kafka_reachable(up);
                tokio::time::sleep(Self::EVERY).await;
            }
        }));
        KafkaProbe { _task: task }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_slot_stops_once_it_stays_busy_and_anything_else_resets_the_clock() {
        let busy = PipelineError::new(ErrorKind::SlotInUse, "slot in use by pid 7");
        let lost = PipelineError::connection("closed");
        let mut since = None;
        let long = Duration::from_secs(3600);
        assert!(!busy_too_long(&busy, &mut since, long), "the first time starts the clock");
        assert!(since.is_some());
        assert!(!busy_too_long(&busy, &mut since, long), "not yet for an hour");
        assert!(busy_too_long(&busy, &mut since, Duration::ZERO), "past the limit");
        assert!(!busy_too_long(&lost, &mut since, Duration::ZERO), "another kind never stops");
        assert!(since.is_none(), "and resets the clock");
    }
}
