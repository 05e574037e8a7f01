//! librdkafka's own log lines and client errors, held to one line of a
//! kind every few seconds. While a broker is down librdkafka reports every
//! failed connection attempt from every client (hundreds a minute); what
//! an operator needs is the line that says what is wrong, how often it
//! recurs, and logtap's own stall warning (`src/pipeline.rs`).

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
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

/// The last failure a client of this process reported (an error event or
/// an error log line), whether or not its line was written:
/// `logtap check` and the unreachable-broker errors name it, since
/// librdkafka's own answer to a metadata request whose connection failed
/// for a wrong password or CA is only "broker transport failure".
static LAST_FAILURE: Mutex<Option<String>> = Mutex::new(None);

fn remember(text: String) {
    *LAST_FAILURE.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(text);
}

/// What a client last reported going wrong, if anything.
pub fn last_failure() -> Option<String> {
    LAST_FAILURE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// The fix for a client failure, by what librdkafka said about it: a
/// refused SASL login, a broker certificate that does not verify or does
/// not name the host, TLS spoken to a plain listener or the other way
/// round; anything else is a broker that cannot be reached.
pub fn fix_for(failure: Option<&str>) -> &'static str {
    let f = failure.unwrap_or_default();
    if f.contains("SASL authentication") || f.contains("Authentication failed") {
        "check kafka.sasl_username, its password (kafka.sasl_password_env or \
         kafka.sasl_password_file) and kafka.sasl_mechanism, which the broker must enable"
    } else if f.contains("ostname") || f.contains("does not match") {
        "the broker's certificate does not name the host logtap connected to: use in \
         kafka.bootstrap_servers (and the broker's advertised listeners) a name the \
         certificate carries"
    } else if f.contains("certificate verify failed") || f.contains("could not be verified") {
        "check kafka.ssl_ca_location: it must hold the CA that signed the broker's certificate"
    } else if f.contains("SSL handshake failed") || f.contains("ApiVersion") {
        "check that kafka.security_protocol matches the listener at kafka.bootstrap_servers \
         (SSL or SASL_SSL for a TLS listener, PLAINTEXT or SASL_PLAINTEXT otherwise)"
    } else {
        "check kafka.bootstrap_servers, that the broker is up, and that \
         kafka.security_protocol is the one of its listener"
    }
}

/// A librdkafka log line, rate-limited per kind (debug lines pass).
pub fn log(level: RDKafkaLogLevel, fac: &str, message: &str) {
    if matches!(level, RDKafkaLogLevel::Debug) {
        tracing::debug!(target: "librdkafka", "{fac} {message}");
        return;
    }
    if !matches!(level, RDKafkaLogLevel::Warning | RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info)
    {
        remember(message.to_string());
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
    // "All brokers down" follows the failure that brought each one down.
    if error.rdkafka_error_code() != Some(RDKafkaErrorCode::AllBrokersDown) {
        remember(format!("{error}: {reason}"));
    }
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
    fn each_failure_gets_its_own_fix() {
        let sasl = "sasl_ssl://h:9094/bootstrap: SASL authentication error: Authentication \
                    failed during authentication due to invalid credentials";
        assert!(fix_for(Some(sasl)).contains("kafka.sasl_username"));
        let ca = "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed";
        assert!(fix_for(Some(ca)).contains("kafka.ssl_ca_location"));
        let host = "SSL handshake failed: Hostname mismatch";
        assert!(fix_for(Some(host)).contains("does not name the host"));
        assert!(fix_for(Some("SSL handshake failed: wrong version number"))
            .contains("kafka.security_protocol matches"));
        assert!(fix_for(None).contains("that the broker is up"));
    }

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
