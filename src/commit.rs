//! Storing the acknowledged position without holding up the pipeline.
//!
//! A store is slow next to a record: the file store fsyncs, the Kafka store
//! commits a transaction (~100 ms on the test broker). Written inline in the
//! pipeline loop, a store that takes as long as the commit interval left the
//! loop storing nearly all the time: a 100,000-row transaction moved by one
//! to four changes per write, ~600 changes/s. So one write runs at a time
//! on a blocking thread, always of the newest acknowledged position when it
//! starts, while the loop goes on reading and sending.
//!
//! Order is unchanged (invariant 2): only `tracker.committed()` is written,
//! and the source hears of a position only after its write has returned.

use logtap_core::{
    Checkpoint, OffsetError, OffsetStore, PipelineError, SharedTracker, SourcePosition,
    StoredOffset,
};
use logtap_runtime::now_us;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Writes positions to the store, one at a time, in the background.
pub struct Committer {
    store: Arc<dyn OffsetStore>,
    name: String,
    /// What the store holds (or will once `writing` returns Ok).
    last_stored: Option<StoredOffset>,
    writing: Option<JoinHandle<Result<StoredOffset, OffsetError>>>,
}

impl Committer {
    /// `stored`: what the store held when the attempt started.
    pub fn new(store: Arc<dyn OffsetStore>, name: &str, stored: Option<StoredOffset>) -> Self {
        Committer { store, name: name.to_string(), last_stored: stored, writing: None }
    }

    /// Starts writing the tracker's committed position, unless a write is
    /// still running (the next tick writes the newest) or it is stored.
    pub fn start(&mut self, tracker: &SharedTracker, source_id: Option<String>) {
        if self.writing.is_some() {
            return;
        }
        let Some(offset) = self.due(tracker, source_id) else { return };
        let (store, name) = (self.store.clone(), self.name.clone());
        self.writing =
            Some(tokio::task::spawn_blocking(move || store.store(&name, &offset).map(|()| offset)));
    }

    /// Whether a write is running (then [`Committer::written`] will end).
    pub fn is_writing(&self) -> bool {
        self.writing.is_some()
    }

    /// Waits for the running write; the position it stored, for the source.
    /// Never ends when none runs (for a `select!` branch guarded by
    /// [`Committer::is_writing`]).
    pub async fn written(&mut self) -> Result<SourcePosition, PipelineError> {
        let Some(handle) = self.writing.as_mut() else {
            return std::future::pending().await;
        };
        let joined = handle.await;
        self.writing = None;
        let offset = joined.map_err(|e| {
            PipelineError::internal(format!("the offset store's writer stopped: {e}"))
        })??;
        let snapshot_last_key = offset.snapshot.as_ref().and_then(|s| s.last_key.as_ref());
        tracing::debug!(position = %offset.position, ?snapshot_last_key, "stored position");
        let position = offset.position.clone();
        self.last_stored = Some(offset);
        Ok(position)
    }

    /// Waits for a running write, then writes the newest position if it
    /// moved: the last store of an attempt. Returns the stored positions
    /// the source has not heard of yet (at most two), oldest first.
    pub async fn finish(
        &mut self,
        tracker: &SharedTracker,
        source_id: Option<String>,
    ) -> Result<Vec<SourcePosition>, PipelineError> {
        let mut done = Vec::new();
        if self.is_writing() {
            done.push(self.written().await?);
        }
        self.start(tracker, source_id);
        if self.is_writing() {
            done.push(self.written().await?);
        }
        Ok(done)
    }

    /// The offset to write, if the committed checkpoint moved since the
    /// last write.
    fn due(&self, tracker: &SharedTracker, source_id: Option<String>) -> Option<StoredOffset> {
        let Checkpoint { position, snapshot, transaction } = tracker.committed()?;
        let stored = self.last_stored.as_ref();
        if stored.is_some_and(|o| {
            o.position == position && o.snapshot == snapshot && o.transaction == transaction
        }) {
            return None;
        }
        let updated_at_ms = now_us() / 1000;
        Some(StoredOffset { position, source_id, snapshot, transaction, updated_at_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logtap_core::{Limits, Lsn};
    use std::sync::Mutex;
    use std::time::Duration;

    /// A store that takes a while, like a Kafka transaction, and fails when told.
    #[derive(Default)]
    struct SlowStore {
        writes: Mutex<Vec<SourcePosition>>,
        fail: std::sync::atomic::AtomicBool,
    }

    impl OffsetStore for SlowStore {
        fn load(&self, _: &str) -> Result<Option<StoredOffset>, OffsetError> {
            Ok(None)
        }
        fn store(&self, source: &str, offset: &StoredOffset) -> Result<(), OffsetError> {
            std::thread::sleep(Duration::from_millis(50));
            if self.fail.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(OffsetError {
                    store: "slow".into(),
                    what: "cannot write",
                    source_name: source.into(),
                    locked: false,
                    transient: true,
                    detail: "told to".into(),
                });
            }
            self.writes.lock().unwrap().push(offset.position.clone());
            Ok(())
        }
        fn remove(&self, _: &str) -> Result<bool, OffsetError> {
            Ok(false)
        }
        fn list(&self) -> Result<Vec<(String, StoredOffset)>, OffsetError> {
            Ok(vec![])
        }
    }

    fn at(lsn: u64) -> SourcePosition {
        SourcePosition::Postgres { lsn: Lsn(lsn), tx: None }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_write_at_a_time_and_the_last_one_is_the_newest_position() {
        let store = Arc::new(SlowStore::default());
        let tracker = SharedTracker::new(Limits { max_records: 10, max_bytes: 1000 }, None);
        let mut c = Committer::new(store.clone(), "s", None);
        c.start(&tracker, None);
        assert!(!c.is_writing(), "nothing committed, nothing to write");
        tracker.checkpoint(at(1));
        c.start(&tracker, None);
        tracker.checkpoint(at(2));
        c.start(&tracker, None); // still writing 1: not a second write
        assert_eq!(c.written().await.unwrap(), at(1));
        tracker.checkpoint(at(3));
        assert_eq!(c.finish(&tracker, None).await.unwrap(), vec![at(3)]);
        assert_eq!(*store.writes.lock().unwrap(), vec![at(1), at(3)]);
        c.start(&tracker, None);
        assert!(!c.is_writing(), "3 is stored: nothing to write");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_is_an_error_and_is_written_again() {
        let store = Arc::new(SlowStore::default());
        let tracker = SharedTracker::new(Limits { max_records: 10, max_bytes: 1000 }, None);
        let mut c = Committer::new(store.clone(), "s", None);
        tracker.checkpoint(at(1));
        store.fail.store(true, std::sync::atomic::Ordering::Relaxed);
        c.start(&tracker, None);
        let e = c.written().await.unwrap_err();
        assert!(e.message.contains("told to"), "{e}");
        store.fail.store(false, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(c.finish(&tracker, None).await.unwrap(), vec![at(1)]);
    }
}
