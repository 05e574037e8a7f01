//! A sink that prints each record as one JSON line on standard output:
//! `{"topic": ..., "key": ..., "value": ..., "headers": {...}}`, key and value
//! embedded as JSON. For trying logtap without Kafka, and for measuring
//! logtap without a broker.
//!
//! A record counts as acknowledged once its line is written and flushed.
//! Lines go to a writer thread, which writes what has queued up and
//! flushes when the queue is empty: one flush per burst instead of one per
//! line, and a quiet source's last line is out at once. Key and value are
//! embedded as the encoder wrote them (checked to be JSON, not parsed into
//! a tree and written again).

use logtap_core::{DeliveryError, ErrorKind, PipelineError, Seq, SharedTracker, Sink, SinkRecord};
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// See the module documentation.
#[derive(Debug)]
pub struct StdoutSink {
    tracker: SharedTracker,
    lines: mpsc::Sender<(Seq, Vec<u8>)>,
}

impl StdoutSink {
    pub fn new(tracker: SharedTracker) -> Self {
        let (lines, queue) = mpsc::channel();
        let acks = tracker.clone();
        std::thread::Builder::new()
            .name("stdout-sink".into())
            .spawn(move || write_lines(&queue, &acks, &mut std::io::stdout()))
            .expect("spawning the stdout writer thread");
        StdoutSink { tracker, lines }
    }
}

/// Writes queued lines until the sink is dropped: all that are queued, then
/// a flush, then their acknowledgements (failed ones if the write failed).
fn write_lines(
    queue: &mpsc::Receiver<(Seq, Vec<u8>)>,
    tracker: &SharedTracker,
    out: &mut impl Write,
) {
    let mut batch = Vec::new();
    while let Ok(first) = queue.recv() {
        batch.push(first);
        batch.extend(queue.try_iter().take(4096));
        let mut written = Ok(());
        for (_, line) in &batch {
            written = written.and_then(|()| out.write_all(line));
        }
        let written = written.and_then(|()| out.flush());
        for (seq, _) in batch.drain(..) {
            let result = written.as_ref().map(|_| ()).map_err(|e| DeliveryError {
                message: format!("cannot write to standard output: {e}"),
                kind: ErrorKind::DeliveryRejected,
            });
            let _ = tracker.ack(seq, result);
        }
    }
}

/// `bytes` as JSON to embed: as they are when they are JSON (the encoder's
/// output always is), else as a JSON string of their text.
fn embed(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.extend_from_slice(b"null"),
        Some(b) if serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok() => {
            out.extend_from_slice(b);
        }
        Some(b) => {
            let text = String::from_utf8_lossy(b);
            let _ = serde_json::to_writer(&mut *out, &text);
        }
    }
}

/// One record's line, newline included.
fn line(record: &SinkRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(record.payload_len() + record.topic.len() + 48);
    out.extend_from_slice(b"{\"topic\":");
    let _ = serde_json::to_writer(&mut out, &record.topic);
    out.extend_from_slice(b",\"key\":");
    embed(&mut out, record.key.as_deref());
    out.extend_from_slice(b",\"value\":");
    embed(&mut out, record.value.as_deref());
    if !record.headers.is_empty() {
        let headers: serde_json::Map<String, serde_json::Value> = record
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned().into()))
            .collect();
        out.extend_from_slice(b",\"headers\":");
        let _ = serde_json::to_writer(&mut out, &headers);
    }
    out.extend_from_slice(b"}\n");
    out
}

impl Sink for StdoutSink {
    async fn send(&mut self, record: SinkRecord) -> Result<(), PipelineError> {
        let seq = self.tracker.register(record.payload_len()).await.map_err(|f| f.to_error(""))?;
        self.lines
            .send((seq, line(&record)))
            .map_err(|_| PipelineError::internal("the standard output writer thread stopped"))
    }

    /// Waits until every line sent is written and acknowledged.
    async fn flush(&mut self, timeout: Duration) -> Result<(), PipelineError> {
        let until = Instant::now() + timeout;
        while self.tracker.in_flight().0 > 0 {
            if Instant::now() >= until {
                return Err(PipelineError::new(
                    ErrorKind::DeliveryRejected,
                    format!("standard output did not take the last lines in {timeout:?}"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        match self.tracker.failure() {
            Some(f) => Err(f.to_error("")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logtap_core::Limits;

    fn record(key: &[u8], value: Option<&[u8]>, headers: Vec<(String, Vec<u8>)>) -> SinkRecord {
        SinkRecord {
            topic: "p.public.t".into(),
            key: Some(key.to_vec()),
            value: value.map(<[u8]>::to_vec),
            headers,
        }
    }

    #[test]
    fn lines_embed_json_as_written_and_anything_else_as_text() {
        let l = line(&record(br#"{"id":1}"#, Some(br#"{"op":"c","n":1.50}"#), vec![]));
        assert_eq!(
            l,
            b"{\"topic\":\"p.public.t\",\"key\":{\"id\":1},\"value\":{\"op\":\"c\",\"n\":1.50}}\n"
        );
        let l = line(&record(b"not json", None, vec![("h".into(), b"v".to_vec())]));
        let v: serde_json::Value = serde_json::from_slice(&l).unwrap();
        assert_eq!(v["key"], "not json");
        assert_eq!(v["value"], serde_json::Value::Null);
        assert_eq!(v["headers"]["h"], "v");
    }

    #[tokio::test]
    async fn every_line_is_written_in_order_before_it_is_acknowledged() {
        let tracker = SharedTracker::new(Limits { max_records: 8, max_bytes: 1 << 20 }, None);
        let (lines, queue) = mpsc::channel();
        let acks = tracker.clone();
        let writer = std::thread::spawn(move || {
            let mut out = Vec::new();
            write_lines(&queue, &acks, &mut out);
            out
        });
        let mut sink = StdoutSink { tracker: tracker.clone(), lines };
        for i in 0..100 {
            let key = format!("{{\"id\":{i}}}");
            sink.send(record(key.as_bytes(), Some(b"{}"), vec![])).await.unwrap();
        }
        sink.flush(Duration::from_secs(5)).await.unwrap();
        assert_eq!(tracker.in_flight().0, 0);
        drop(sink);
        let out = writer.join().unwrap();
        let ids: Vec<i64> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_slice::<serde_json::Value>(l).unwrap()["key"]["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ids, (0..100).collect::<Vec<_>>());
    }
}
