//! The pipeline: source → encoder → router → sink, and the commit loop that
//! stores the acknowledged position.
//!
//! Ordering: records are handed to the sink in source order, one at a time,
//! so per-partition order in Kafka is source order (invariant 1). Positions:
//! the source's checkpoints go into the shared tracker *after* the records
//! they cover, and the commit loop stores only `tracker.committed()`, so a
//! stored position never passes an unacknowledged record (invariant 2). The
//! stored position is written and flushed before the source hears of it.

use crate::commit::Committer;
use logtap_core::{
    Encoder, OffsetStore, PipelineError, SharedTracker, Sink, SinkRecord, Source, SourceItem,
    StoredOffset,
};
use logtap_kafka::Router;
use logtap_runtime::now_us;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What the pipeline needs besides its source and sink.
pub struct PipelineParts<'a> {
    pub name: &'a str,
    /// What the store held when the attempt started (later writes keep
    /// its snapshot progress).
    pub stored: Option<StoredOffset>,
    pub encoder: Encoder,
    /// Columns left out of the values (`column.*.list`), if any.
    pub columns: Option<logtap_core::ColumnFilter>,
    /// Operations sent as no record (`skipped.operations`).
    pub skipped: Vec<logtap_core::Op>,
    /// Whether both halves of an update that changed the key are skipped
    /// as an update (Debezium's MySQL and MariaDB connectors), rather than
    /// each as its own operation (its PostgreSQL connector).
    pub skip_key_changes_as_updates: bool,
    /// The transaction topic, when transaction metadata is on.
    pub transactions: Option<String>,
    pub router: Router,
    pub tracker: SharedTracker,
    pub offsets: std::sync::Arc<dyn OffsetStore>,
    pub commit_interval: Duration,
    pub drain_timeout: Duration,
    /// Becomes `true` when logtap should stop (SIGTERM, SIGINT).
    pub shutdown: watch::Receiver<bool>,
    /// Send a heartbeat record to this topic every this often.
    pub heartbeat: Option<(String, Duration)>,
    /// Run this statement on the source at each heartbeat.
    pub heartbeat_action: Option<String>,
    /// What `/readyz` decides on (see `crate::telemetry`).
    pub health: crate::telemetry::Health,
    /// Warn when the oldest record in flight has waited this long for its
    /// acknowledgement (`kafka.delivery_timeout_ms`; zero: never).
    pub stall_after: Duration,
}

/// How often the source is asked how much it holds back on the server.
const LAG_EVERY: Duration = Duration::from_secs(10);

/// Why the pipeline stopped without an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Asked to stop; everything in flight was drained and stored.
    Shutdown,
    /// The source has nothing more to give.
    SourceFinished,
}

/// Runs until shutdown, the end of the source, or an error. On the way out it
/// drains the sink and stores the final acknowledged position.
pub async fn run<S: Source, K: Sink>(
    source: &mut S,
    sink: &mut K,
    parts: PipelineParts<'_>,
) -> Result<Stopped, PipelineError> {
    let mut committer = Committer::new(parts.offsets.clone(), parts.name, parts.stored.clone());
    let mut ticker = tokio::time::interval(parts.commit_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = parts.shutdown.clone();
    let mut stop_wait = parts.shutdown.clone();
    let mut heartbeat = parts.heartbeat.as_ref().map(|(topic, every)| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + *every, *every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        (topic.clone(), t)
    });
    let mut progress = crate::progress::ProgressView::default();
    let mut lag = tokio::time::interval(LAG_EVERY);
    lag.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_committed = parts.tracker.committed();
    let _stall = StallWatch::spawn(parts.tracker.clone(), parts.stall_after, parts.health.clone());
    let limits = parts.tracker.limits();
    metrics::gauge!("logtap_in_flight_records_limit").set(limits.max_records as f64);
    metrics::gauge!("logtap_in_flight_bytes_limit").set(limits.max_bytes as f64);
    // Whether the last item taken from the source was handled whole (a
    // shutdown can interrupt its sending).
    let mut whole = true;
    // Counts the open transaction's changes from where the stored position
    // stands (transaction metadata on).
    let mut tx = parts.transactions.as_ref().map(|_| {
        logtap_core::TxMonitor::new(parts.stored.as_ref().and_then(|s| s.transaction.clone()))
    });
    let outcome = loop {
        if *shutdown.borrow() {
            if whole {
                take_ready_checkpoints(source, &parts, tx.as_ref()).await;
            }
            break Ok(Stopped::Shutdown);
        }
        tokio::select! {
            _ = shutdown.changed() => continue,
            _ = ticker.tick() => {
                committer.start(&parts.tracker, source.source_id());
                last_committed = observe(&parts, last_committed.take());
            }
            written = committer.written(), if committer.is_writing() => {
                let told = match written {
                    Ok(position) => source.committed(&position).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = told {
                    break Err(e);
                }
            }
            _ = lag.tick() => {
                if let Some(bytes) = source.lag_bytes().await {
                    metrics::gauge!("logtap_source_lag_bytes").set(bytes as f64);
                }
            }
            topic = next_heartbeat(&mut heartbeat) => {
                if let Err(e) = send_heartbeat(source, sink, &parts, topic, &mut stop_wait).await {
                    break Err(e);
                }
            }
            item = source.next() => {
                let item = match item {
                    Ok(Some(item)) => item,
                    Ok(None) => break Ok(Stopped::SourceFinished),
                    Err(e) => break Err(e),
                };
                if let SourceItem::Checkpoint(c) = &item {
                    progress.update(c.snapshot.as_ref());
                }
                // Sending may wait on backpressure; a shutdown interrupts the
                // wait (what was not sent is not acknowledged, so not stored).
                whole = false;
                let handled = tokio::select! {
                    r = handle(item, sink, &parts, &mut tx) => {
                        whole = true;
                        r
                    }
                    _ = wait_true(&mut stop_wait) => Ok(()),
                };
                if let Err(e) = handled {
                    break Err(e);
                }
            }
        }
        if let Some(f) = parts.tracker.failure() {
            let mut e = f.to_error("");
            e.message.push_str("; stopping at the last acknowledged position");
            break Err(e);
        }
    };
    // Drain: wait for what is in flight, then store the final position. Even
    // after an error this stores what *was* acknowledged, which shortens the
    // replay on restart and is always safe.
    let drained = sink.flush(parts.drain_timeout).await;
    let stored = last_commit(source, &parts, &mut committer).await;
    source.close().await;
    let outcome = outcome?;
    drained?;
    stored?;
    Ok(outcome)
}

/// The in-flight gauges, and health's progress: everything acknowledged,
/// or the committed checkpoint moved since `last`; returns it now.
fn observe(
    parts: &PipelineParts<'_>,
    last: Option<logtap_core::Checkpoint>,
) -> Option<logtap_core::Checkpoint> {
    let (records, bytes) = parts.tracker.in_flight();
    metrics::gauge!("logtap_in_flight_records").set(records as f64);
    metrics::gauge!("logtap_in_flight_bytes").set(bytes as f64);
    let committed = parts.tracker.committed();
    if records == 0 || committed != last {
        parts.health.progressed();
    }
    committed
}

/// A heartbeat: the action query first, then Debezium's heartbeat record
/// to `topic`, acknowledged like any record; it covers no position, so it
/// neither holds back nor moves the stored one. A shutdown interrupts it.
async fn send_heartbeat<S: Source, K: Sink>(
    source: &mut S,
    sink: &mut K,
    parts: &PipelineParts<'_>,
    topic: String,
    stop_wait: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), PipelineError> {
    if let Some(sql) = &parts.heartbeat_action {
        source.heartbeat_action(sql).await?;
    }
    let rec = parts.encoder.encode_heartbeat(parts.name, now_us() / 1000);
    let record = SinkRecord { topic, key: rec.key, value: rec.value, headers: rec.headers };
    tokio::select! {
        r = sink.send(record) => r,
        _ = wait_true(stop_wait) => Ok(()),
    }
}

/// Notices when Kafka stops acknowledging: the oldest record in flight has
/// waited longer than `after`. logtap never gives a record up by time: a
/// record failed for its age lets later records of its partition reach
/// Kafka before its replay (invariant 1), so waiting is the only order-safe
/// answer to an outage. This says so, once every `after`, instead. A task
/// of its own: the pipeline loop itself waits in `send` while the in-flight
/// window is full, which is exactly when Kafka is stalled.
///
/// One exception: a stall that lasts [`StallWatch::GIVE_UP_FACTOR`] times
/// `after` while Kafka answers metadata requests without a break (the
/// producer's, or another client's: `KafkaSink::probe`) is no outage but a
/// producer that will not move again (seen in broker pauses). Only the answered part counts, so a producer
/// just back from an outage of any length gets the whole allowance. The
/// oldest record is given up
/// ([`SharedTracker::give_up_oldest`]): the attempt ends, the requests in
/// flight are voided (the broker has answered them, see `KafkaSink::flush`)
/// and the restart sends everything after the stored position again with a
/// new producer.
struct StallWatch {
    after: Duration,
    retired: u64,
    since: Instant,
    warned: Option<Instant>,
    /// Since when the Kafka probe has answered without a break.
    answering_since: Option<Instant>,
    gave_up: bool,
}

/// What one look at the tracker found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stall {
    Moving,
    /// Acknowledgements came again after a warning, this long after the last.
    Recovered(Duration),
    Warn(Duration),
    GiveUp(Duration),
}

/// A background task that ends with its owner (the stall watch, the
/// Kafka probe): dropping it aborts the task.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl StallWatch {
    const EVERY: Duration = Duration::from_millis(500);
    const GIVE_UP_FACTOR: u32 = 4;

    fn new(after: Duration, now: Instant) -> Self {
        StallWatch {
            after,
            retired: 0,
            since: now,
            warned: None,
            answering_since: None,
            gave_up: false,
        }
    }

    fn spawn(
        tracker: SharedTracker,
        after: Duration,
        health: crate::telemetry::Health,
    ) -> Option<AbortOnDrop> {
        if after.is_zero() {
            return None;
        }
        let mut watch = StallWatch::new(after, Instant::now());
        Some(AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Self::EVERY).await;
                let (retired, in_flight) = (tracker.retired(), tracker.in_flight().0);
                match watch.tick(Instant::now(), retired, in_flight, health.kafka_reachable()) {
                    Stall::Moving => {}
                    Stall::Recovered(waited) => tracing::info!(
                        waited_s = waited.as_secs(),
                        "Kafka acknowledges records again"
                    ),
                    Stall::Warn(waited) => tracing::warn!(
                        waited_s = waited.as_secs(),
                        in_flight,
                        kafka_answers = health.kafka_reachable(),
                        "Kafka has not acknowledged the oldest record in flight for {} s; \
                         waiting for it (records are never given up by time, so none can be \
                         overtaken); check the brokers and kafka.bootstrap_servers",
                        waited.as_secs()
                    ),
                    Stall::GiveUp(waited) => {
                        let why = format!(
                            "Kafka answers metadata requests but has not acknowledged the oldest \
                             record in flight for {} s: replacing the producer (the attempt \
                             restarts from the stored position; records after it are sent again)",
                            waited.as_secs()
                        );
                        tracing::warn!(in_flight, "{why}");
                        tracker.give_up_oldest(why);
                    }
                }
            }
        })))
    }

    /// One look at the tracker's in-order acknowledged count, the records
    /// in flight, and whether Kafka's last probe answered.
    fn tick(&mut self, now: Instant, retired: u64, in_flight: usize, answering: bool) -> Stall {
        self.answering_since = answering.then(|| self.answering_since.unwrap_or(now));
        if retired != self.retired || in_flight == 0 {
            let waited = now.duration_since(self.since);
            self.retired = retired;
            self.since = now;
            return match self.warned.take() {
                Some(_) => Stall::Recovered(waited),
                None => Stall::Moving,
            };
        }
        let waited = now.duration_since(self.since);
        // Only the part of the stall during which Kafka answered counts: a
        // producer just back from an outage gets the whole allowance.
        let answered =
            self.answering_since.map_or(Duration::ZERO, |s| now.duration_since(s.max(self.since)));
        if !self.gave_up && answered >= self.after * Self::GIVE_UP_FACTOR {
            self.gave_up = true;
            return Stall::GiveUp(waited);
        }
        let due = self.warned.is_none_or(|w| now.duration_since(w) >= self.after);
        if waited >= self.after && due {
            self.warned = Some(now);
            return Stall::Warn(waited);
        }
        Stall::Moving
    }
}

/// At a shutdown: registers the checkpoints the source already has ready
/// (each change's follows it), up to its next change, which is not sent.
/// A drained stop then stores everything it delivered: no change sent and
/// acknowledged before the stop comes again after the restart.
async fn take_ready_checkpoints<S: Source>(
    source: &mut S,
    parts: &PipelineParts<'_>,
    tx: Option<&logtap_core::TxMonitor>,
) {
    // `Source::next` is cancel-safe; a zero timeout polls it once.
    while let Ok(Ok(Some(SourceItem::Checkpoint(mut c)))) =
        tokio::time::timeout(Duration::ZERO, source.next()).await
    {
        c.transaction = tx.and_then(logtap_core::TxMonitor::progress);
        parts.tracker.checkpoint(*c);
    }
}

/// Whether `item` is a change whose operation is skipped: no record, its
/// position passes with the checkpoint that follows it.
fn item_skipped(item: &SourceItem, parts: &PipelineParts<'_>) -> bool {
    let SourceItem::Change(e) = item else { return false };
    let op = if parts.skip_key_changes_as_updates && e.is_key_change_half() {
        logtap_core::Op::Update
    } else {
        e.op
    };
    parts.skipped.contains(&op)
}

/// The heartbeat topic when the next heartbeat is due; never without one.
async fn next_heartbeat(heartbeat: &mut Option<(String, tokio::time::Interval)>) -> String {
    match heartbeat {
        Some((topic, interval)) => {
            interval.tick().await;
            topic.clone()
        }
        None => std::future::pending().await,
    }
}

async fn wait_true(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            // The sender is gone: nobody can ask for a stop any more.
            std::future::pending::<()>().await;
        }
    }
}

async fn handle<K: Sink>(
    item: SourceItem,
    sink: &mut K,
    parts: &PipelineParts<'_>,
    tx: &mut Option<logtap_core::TxMonitor>,
) -> Result<(), PipelineError> {
    match item {
        SourceItem::Change(_) if item_skipped(&item, parts) => Ok(()),
        SourceItem::Change(mut event) => {
            if let Some(tx) = tx {
                tx.change(&mut event);
            }
            if let Some(columns) = &parts.columns {
                columns.apply(&mut event);
            }
            metrics::counter!("logtap_events_total", "op" => event.op.code()).increment(1);
            if event.op == logtap_core::Op::Read {
                metrics::counter!("logtap_snapshot_rows_scanned_total", "table" => event.table.to_string())
                    .increment(1);
            }
            let read_ms = event.processed_at_us / 1000;
            if let Some(logtap_core::Value::Int64(ts_ms)) = event.source.get("ts_ms") {
                metrics::gauge!("logtap_milliseconds_behind_source")
                    .set((read_ms - ts_ms).max(0) as f64);
            }
            parts.health.event_seen(read_ms);
            let topic = parts.router.topic(&event.table);
            for rec in parts.encoder.encode(&event) {
                sink.send(SinkRecord {
                    topic: topic.clone(),
                    key: rec.key,
                    value: rec.value,
                    headers: rec.headers,
                })
                .await?;
            }
            Ok(())
        }
        SourceItem::SchemaChange(event) => {
            let rec = parts.encoder.encode_schema_change(&event);
            sink.send(SinkRecord {
                topic: parts.router.schema_change_topic(),
                key: rec.key,
                value: rec.value,
                headers: rec.headers,
            })
            .await
        }
        SourceItem::Checkpoint(mut position) => {
            position.transaction = tx.as_ref().and_then(logtap_core::TxMonitor::progress);
            parts.tracker.checkpoint(*position);
            Ok(())
        }
        SourceItem::Transaction(boundary) => {
            let (Some(tx), Some(topic)) = (tx, &parts.transactions) else { return Ok(()) };
            let Some(record) = tx.boundary(&boundary) else { return Ok(()) };
            let rec = parts.encoder.encode_transaction(&record);
            sink.send(SinkRecord {
                topic: topic.clone(),
                key: rec.key,
                value: rec.value,
                headers: rec.headers,
            })
            .await
        }
    }
}

/// The attempt's last store (after the drain), and the source told of it.
async fn last_commit<S: Source>(
    source: &mut S,
    parts: &PipelineParts<'_>,
    committer: &mut Committer,
) -> Result<(), PipelineError> {
    for position in committer.finish(&parts.tracker, source.source_id()).await? {
        source.committed(&position).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_warns_every_period_and_gives_up_only_while_kafka_answers() {
        let s = |n: u64| Duration::from_secs(n);
        let t0 = Instant::now();
        let mut w = StallWatch::new(s(6), t0);
        assert_eq!(w.tick(t0 + s(1), 5, 10, true), Stall::Moving, "acks moved");
        assert_eq!(w.tick(t0 + s(6), 5, 10, false), Stall::Moving, "5 s without acks");
        assert_eq!(w.tick(t0 + s(7), 5, 10, false), Stall::Warn(s(6)));
        assert_eq!(w.tick(t0 + s(10), 5, 10, false), Stall::Moving, "warned once a period");
        assert_eq!(w.tick(t0 + s(13), 5, 10, false), Stall::Warn(s(12)));
        // Kafka down: however long, no give-up (an outage is waited out).
        assert_eq!(w.tick(t0 + s(60), 5, 10, false), Stall::Warn(s(59)));
        // Kafka answers again; the producer does not move.
        assert_eq!(w.tick(t0 + s(61), 5, 10, true), Stall::Moving);
        assert_eq!(w.tick(t0 + s(66), 5, 10, true), Stall::Warn(s(65)), "answering 5 s only");
        // Kafka away again for a moment: the answering time starts over.
        assert_eq!(w.tick(t0 + s(70), 5, 10, false), Stall::Moving);
        assert_eq!(w.tick(t0 + s(71), 5, 10, true), Stall::Moving);
        assert_eq!(w.tick(t0 + s(72), 5, 10, true), Stall::Warn(s(71)));
        assert_eq!(w.tick(t0 + s(94), 5, 10, true), Stall::Warn(s(93)), "answering 23 s");
        assert_eq!(w.tick(t0 + s(95), 5, 10, true), Stall::GiveUp(s(94)), "answering 24 s");
        assert_eq!(w.tick(t0 + s(110), 5, 10, true), Stall::Warn(s(109)), "given up once");
        assert_eq!(w.tick(t0 + s(111), 6, 10, true), Stall::Recovered(s(110)));
        assert_eq!(w.tick(t0 + s(112), 6, 0, true), Stall::Moving);
    }

    #[test]
    fn a_short_stall_is_never_given_up() {
        let s = |n: u64| Duration::from_secs(n);
        let t0 = Instant::now();
        let mut w = StallWatch::new(s(6), t0);
        // Kafka seen answering from the first look, at 1 s.
        for i in 1..25 {
            assert_ne!(w.tick(t0 + s(i), 0, 1, true), Stall::GiveUp(s(i)), "{i} s");
        }
        assert_eq!(w.tick(t0 + s(25), 0, 1, true), Stall::GiveUp(s(25)));
    }
}
