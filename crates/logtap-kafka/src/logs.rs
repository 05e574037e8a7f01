//! librdkafka's own log lines and client errors, held to one line of a
//! kind every few seconds. While a broker is down librdkafka reports every
//! failed connection attempt from every client (hundreds a minute); what
//! an operator needs is the line that says what is wrong, how often it
//! recurs, and logtap's own stall warning (`src/pipeline.rs`).

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one line of a kind this often.
const EVERY: Duration = Duration::from_secs(10);

/// When each kind of line was last written, and how many of it were held
/// back since. Shared by every client of the process.
static SEEN: Mutex<Option<HashMap<String, (Instant, u64)>>> = Mutex::new(None);

/// `Some(held back since the last one)` when a line of `kind` is due.
fn admit(kind: &str, now: Instant) -> Option<u64> {
    let mut seen = SEEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let seen = seen.get_or_insert_with(HashMap::new);
    match seen.get_mut(kind) {
        Some((at, held)) if now.duration_since(*at) < EVERY => {
            *held += 1;
            None
        }
        Some((at, held)) => {
            let n = *held;
            (*at, *held) = (now, 0);
            Some(n)
        }
        None => {
            seen.insert(kind.to_string(), (now, 0));
            Some(0)
        }
    }
}

/// A line's kind: its text without numbers (addresses, ports, timings and
/// counts vary between repeats of the same trouble).
fn kind_of(fac: &str, text: &str) -> String {
    let mut kind: String = fac.to_string();
    kind.extend(text.chars().filter(|c| !c.is_ascii_digit()).take(80));
    kind
}

fn held_note(held: u64) -> String {
    if held == 0 {
        String::new()
    } else {
        format!(" ({held} more like it in the last {} s)", EVERY.as_secs())
    }
}

/// A librdkafka log line, rate-limited per kind (debug lines pass).
pub fn log(level: RDKafkaLogLevel, fac: &str, message: &str) {
    if matches!(level, RDKafkaLogLevel::Debug) {
        tracing::debug!(target: "librdkafka", "{fac} {message}");
        return;
    }
    let Some(held) = admit(&kind_of(fac, message), Instant::now()) else { return };
    let more = held_note(held);
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", "{fac} {message}{more}"),
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", "{fac} {message}{more}"),
        _ => tracing::info!(target: "librdkafka", "{fac} {message}{more}"),
    }
}

/// A client-wide error (all brokers down, a connection refused): what
/// the producer retries by itself, so a warning, rate-limited per code.
pub fn error(error: &KafkaError, reason: &str) {
    let kind = format!("error {:?}", error.rdkafka_error_code());
    let Some(held) = admit(&kind, Instant::now()) else { return };
    tracing::warn!(target: "librdkafka", "Kafka client: {error}: {reason}{}", held_note(held));
}

/// The context of logtap's clients that need nothing else from one.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuietContext;

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log(level, fac, message);
    }

    fn error(&self, e: KafkaError, reason: &str) {
        error(&e, reason);
    }
}

impl ProducerContext for QuietContext {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, _: ()) {}
}

impl ConsumerContext for QuietContext {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_of_a_kind_every_few_seconds_with_the_count_held_back() {
        let t0 = Instant::now();
        let kind = kind_of("FAIL", "127.0.0.1:9092/1: Connect failed (after 0ms)");
        assert_eq!(kind, kind_of("FAIL", "127.0.0.1:9093/1: Connect failed (after 12ms)"));
        assert_eq!(admit(&kind, t0), Some(0));
        assert_eq!(admit(&kind, t0 + Duration::from_secs(1)), None);
        assert_eq!(admit(&kind, t0 + Duration::from_secs(2)), None);
        assert_eq!(admit("another kind", t0 + Duration::from_secs(2)), Some(0));
        assert_eq!(admit(&kind, t0 + EVERY + Duration::from_secs(1)), Some(2));
    }
}
