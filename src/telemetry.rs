//! Metrics and health on an optional local HTTP listener (`[metrics]
//! listen`): `/metrics` in Prometheus' text format, `/healthz` (the process
//! answers) and `/readyz` (the source is connected, Kafka answers, and the
//! position moves when there is work).
//!
//! The figures are those of Debezium's streaming and snapshot JMX beans,
//! under Prometheus' naming. Code anywhere records them through the
//! `metrics` facade (the source crates count committed transactions and
//! filtered events, the Kafka crate delivery errors, the pipeline the rest);
//! without a listener no recorder is installed and they cost nothing.
//! `metrics-exporter-prometheus` writes the exposition format; the few
//! figures that are a function of the time of the scrape (milliseconds
//! since the last event) are set just before it renders.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use metrics::{describe_counter, describe_gauge, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// With work in flight and no acknowledgement for this long, logtap is
/// not ready: the position has stopped moving.
pub const STALL: Duration = Duration::from_secs(60);

/// What `/readyz` decides on, shared by the run loop, the pipeline and the
/// Kafka probe. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Health(Arc<HealthInner>);

#[derive(Debug)]
struct HealthInner {
    /// The source is connected and the pipeline runs (Debezium's `Connected`).
    connected: AtomicBool,
    /// The last probe of Kafka's metadata answered (always true without Kafka).
    kafka_reachable: AtomicBool,
    /// When the pipeline last saw the position move or nothing in flight (ms since the epoch).
    progress_ms: AtomicI64,
    /// When the last change event was seen (ms since the epoch; 0: none yet).
    last_event_ms: AtomicI64,
}

impl Default for Health {
    fn default() -> Self {
        Health(Arc::new(HealthInner {
            connected: AtomicBool::new(false),
            kafka_reachable: AtomicBool::new(true),
            progress_ms: AtomicI64::new(now_ms()),
            last_event_ms: AtomicI64::new(0),
        }))
    }
}

fn now_ms() -> i64 {
    (logtap_runtime::now_us() / 1000) as i64
}

impl Health {
    pub fn set_connected(&self, up: bool) {
        self.0.connected.store(up, Ordering::Relaxed);
        metrics::gauge!("logtap_source_connected").set(if up { 1.0 } else { 0.0 });
        if up {
            // A new attempt starts with nothing in flight.
            self.0.progress_ms.store(now_ms(), Ordering::Relaxed);
        }
    }

    pub fn set_kafka_reachable(&self, up: bool) {
        self.0.kafka_reachable.store(up, Ordering::Relaxed);
        metrics::gauge!("logtap_kafka_reachable").set(if up { 1.0 } else { 0.0 });
    }

    /// Whether the last probe of Kafka's metadata answered.
    pub fn kafka_reachable(&self) -> bool {
        self.0.kafka_reachable.load(Ordering::Relaxed)
    }

    /// The position moved, or nothing is in flight.
    pub fn progressed(&self) {
        self.0.progress_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// A change event was read at `at_ms` (its `processed_at`: no clock
    /// read per event).
    pub fn event_seen(&self, at_ms: i64) {
        self.0.last_event_ms.store(at_ms, Ordering::Relaxed);
    }

    /// Why logtap is not ready, if it is not.
    fn not_ready(&self) -> Vec<String> {
        let mut why = Vec::new();
        if !self.0.connected.load(Ordering::Relaxed) {
            why.push("the source is not connected".to_string());
        }
        if !self.0.kafka_reachable.load(Ordering::Relaxed) {
            why.push("Kafka does not answer".to_string());
        }
        let stalled = now_ms() - self.0.progress_ms.load(Ordering::Relaxed);
        if stalled > STALL.as_millis() as i64 {
            why.push(format!(
                "records have been in flight for {} s without the position moving",
                stalled / 1000
            ));
        }
        why
    }
}

/// Registers the help text of every figure logtap exports.
fn describe() {
    describe_counter!(
        "logtap_events_total",
        "Change events sent, by op (c, u, d, r, t); Debezium's TotalNumberOf*EventsSeen"
    );
    describe_counter!(
        "logtap_events_filtered_total",
        "Row changes of tables the source does not capture, skipped; Debezium's NumberOfEventsFiltered"
    );
    describe_counter!(
        "logtap_transactions_committed_total",
        "Source transactions seen committed; Debezium's NumberOfCommittedTransactions"
    );
    describe_counter!(
        "logtap_kafka_delivery_errors_total",
        "Records Kafka did not acknowledge, by error kind"
    );
    describe_gauge!(
        "logtap_milliseconds_behind_source",
        Unit::Milliseconds,
        "Time between a change's commit on the source and logtap reading it, for the last event; Debezium's MilliSecondsBehindSource"
    );
    describe_gauge!(
        "logtap_milliseconds_since_last_event",
        Unit::Milliseconds,
        "Time since the last change event (-1: none yet); Debezium's MilliSecondsSinceLastEvent"
    );
    describe_gauge!("logtap_in_flight_records", "Records sent to Kafka and not yet acknowledged");
    describe_gauge!(
        "logtap_in_flight_bytes",
        Unit::Bytes,
        "Bytes of records sent to Kafka and not yet acknowledged"
    );
    describe_gauge!("logtap_in_flight_records_limit", "sink.max_in_flight_records");
    describe_gauge!("logtap_in_flight_bytes_limit", Unit::Bytes, "sink.max_in_flight_bytes");
    describe_gauge!(
        "logtap_source_connected",
        "1 while the source is connected and the pipeline runs; Debezium's Connected"
    );
    describe_gauge!("logtap_kafka_reachable", "1 while Kafka answers metadata requests");
    describe_gauge!(
        "logtap_source_lag_bytes",
        Unit::Bytes,
        "WAL the slot holds back (PostgreSQL: current WAL position minus confirmed_flush_lsn)"
    );
    describe_gauge!(
        "logtap_snapshot_running",
        "1 while a snapshot runs; Debezium's SnapshotRunning"
    );
    describe_counter!(
        "logtap_snapshot_rows_scanned_total",
        "Rows read by snapshots and sent, per table; Debezium's RowsScanned"
    );
    describe_gauge!(
        "logtap_snapshot_tables_remaining",
        "Tables the running snapshot has still to read; Debezium's RemainingTableCount"
    );
    describe_gauge!(
        "logtap_snapshot_duration_seconds",
        Unit::Seconds,
        "How long the running (or last) snapshot has run in this process; Debezium's SnapshotDurationInSeconds"
    );
}

#[derive(Clone)]
struct AppState {
    prometheus: PrometheusHandle,
    health: Health,
}

/// Installs the Prometheus recorder and serves `/metrics`, `/healthz` and
/// `/readyz` on `listen` until the process ends.
pub async fn serve(listen: &str, health: Health) -> anyhow::Result<()> {
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| anyhow::anyhow!("metrics.listen `{listen}` is not an address:port ({e})"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("metrics.listen {addr}: cannot listen: {e}"))?;
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    describe();
    metrics::gauge!("logtap_source_connected").set(0.0);
    metrics::gauge!("logtap_kafka_reachable").set(1.0);
    let app = Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(AppState { prometheus, health });
    tracing::info!(listen = %addr, "metrics on http://{addr}/metrics, health on /healthz and /readyz");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(())
}

async fn render(State(s): State<AppState>) -> String {
    let last = s.health.0.last_event_ms.load(Ordering::Relaxed);
    let since = if last == 0 { -1.0 } else { (now_ms() - last) as f64 };
    metrics::gauge!("logtap_milliseconds_since_last_event").set(since);
    s.prometheus.render()
}

async fn ready(State(s): State<AppState>) -> (StatusCode, String) {
    let why = s.health.not_ready();
    if why.is_empty() {
        (StatusCode::OK, "ready\n".into())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", why.join("; ")))
    }
}
