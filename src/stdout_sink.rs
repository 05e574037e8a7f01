//! A sink that prints each record as one JSON line on standard output:
//! `{"topic": ..., "key": ..., "value": ..., "headers": {...}}`, key and value
//! embedded as JSON. For trying logtap without Kafka; a record counts as
//! acknowledged once the line is written and flushed.

use logtap_core::{PipelineError, SharedTracker, Sink, SinkRecord};
use serde_json::{Map, Value};
use std::io::Write;
use std::time::Duration;

/// See the module documentation.
#[derive(Debug)]
pub struct StdoutSink {
    tracker: SharedTracker,
}

impl StdoutSink {
    pub fn new(tracker: SharedTracker) -> Self {
        StdoutSink { tracker }
    }
}

fn embed(bytes: &Option<Vec<u8>>) -> Value {
    match bytes {
        None => Value::Null,
        Some(b) => serde_json::from_slice(b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned())),
    }
}

impl Sink for StdoutSink {
    async fn send(&mut self, record: SinkRecord) -> Result<(), PipelineError> {
        let seq = self.tracker.register(record.payload_len()).await.map_err(|f| f.to_error(""))?;
        let mut line = Map::new();
        line.insert("topic".into(), Value::String(record.topic.clone()));
        line.insert("key".into(), embed(&record.key));
        line.insert("value".into(), embed(&record.value));
        if !record.headers.is_empty() {
            let h = record
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(String::from_utf8_lossy(v).into_owned())))
                .collect();
            line.insert("headers".into(), Value::Object(h));
        }
        let mut out = std::io::stdout().lock();
        let written = serde_json::to_writer(&mut out, &Value::Object(line))
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        let result = written.as_ref().map(|_| ()).map_err(|e| logtap_core::DeliveryError {
            message: format!("stdout: {e}"),
            kind: logtap_core::ErrorKind::DeliveryRejected,
        });
        let _ = self.tracker.ack(seq, result);
        written.map_err(|e| {
            PipelineError::new(
                logtap_core::ErrorKind::DeliveryRejected,
                format!("cannot write to standard output: {e}"),
            )
        })
    }

    async fn flush(&mut self, _timeout: Duration) -> Result<(), PipelineError> {
        Ok(())
    }
}
