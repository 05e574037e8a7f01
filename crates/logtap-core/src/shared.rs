//! The ack tracker shared between the pipeline, which registers records and
//! checkpoints, and a sink's delivery callbacks, which acknowledge them.
//! Registering waits (without blocking a thread) while the tracker is full:
//! that wait is the backpressure that stops the source from being read.

use crate::ack::{AckTracker, DeliveryError, DeliveryFailure, Limits, Seq, UnknownSeq};
use crate::traits::Checkpoint;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// A cloneable handle to one [`AckTracker`].
#[derive(Debug, Clone)]
pub struct SharedTracker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tracker: Mutex<AckTracker>,
    changed: Notify,
}

impl SharedTracker {
    pub fn new(limits: Limits, committed: Option<Checkpoint>) -> Self {
        SharedTracker {
            inner: Arc::new(Inner {
                tracker: Mutex::new(AckTracker::new(limits, committed)),
                changed: Notify::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, AckTracker> {
        // A panic while holding this lock leaves the tracker consistent (every
        // method mutates it in one step), so a poisoned lock is still usable.
        self.inner.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a record, waiting for room. Fails at once if a delivery has
    /// failed: nothing more should be sent before a restart.
    pub async fn register(&self, bytes: usize) -> Result<Seq, DeliveryFailure> {
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut t = self.lock();
                if let Some(f) = t.failure() {
                    return Err(f.clone());
                }
                if let Ok(seq) = t.try_register(bytes) {
                    return Ok(seq);
                }
            }
            notified.await;
        }
    }

    /// Acknowledges `seq` (see [`AckTracker::ack`]) and wakes waiters.
    pub fn ack(&self, seq: Seq, result: Result<(), DeliveryError>) -> Result<(), UnknownSeq> {
        let r = self.lock().ack(seq, result);
        self.inner.changed.notify_waiters();
        r
    }

    /// See [`AckTracker::give_up_oldest`]; wakes a send waiting for room.
    pub fn give_up_oldest(&self, message: String) -> bool {
        let r = self.lock().give_up_oldest(message);
        self.inner.changed.notify_waiters();
        r
    }

    pub fn checkpoint(&self, position: impl Into<Checkpoint>) {
        self.lock().checkpoint(position);
        self.inner.changed.notify_waiters();
    }

    pub fn committed(&self) -> Option<Checkpoint> {
        self.lock().committed().cloned()
    }

    pub fn failure(&self) -> Option<DeliveryFailure> {
        self.lock().failure().cloned()
    }

    pub fn in_flight(&self) -> (usize, usize) {
        let t = self.lock();
        (t.in_flight_records(), t.in_flight_bytes())
    }

    pub fn limits(&self) -> Limits {
        self.lock().limits()
    }

    /// See [`AckTracker::retired`].
    pub fn retired(&self) -> u64 {
        self.lock().retired()
    }

    pub fn is_idle(&self) -> bool {
        self.lock().is_idle()
    }

    /// Waits until nothing is in flight or a delivery has failed.
    pub async fn wait_settled(&self) -> Result<(), DeliveryFailure> {
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let t = self.lock();
                if let Some(f) = t.failure() {
                    return Err(f.clone());
                }
                if t.is_idle() {
                    return Ok(());
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn register_waits_for_room_and_resumes_after_an_ack() {
        let t = SharedTracker::new(Limits { max_records: 2, max_bytes: 1 << 20 }, None);
        let a = t.register(1).await.unwrap();
        let _b = t.register(1).await.unwrap();
        let t2 = t.clone();
        let waiter = tokio::spawn(async move { t2.register(1).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "third record must wait: the tracker is full");
        t.ack(a, Ok(())).unwrap();
        let c = tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert_eq!(c.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_failure_wakes_waiters_with_the_error() {
        let t = SharedTracker::new(Limits { max_records: 1, max_bytes: 1 << 20 }, None);
        let a = t.register(1).await.unwrap();
        let t2 = t.clone();
        let waiter = tokio::spawn(async move { t2.register(1).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        t.ack(a, Err("message too large".into())).unwrap();
        let r = tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert_eq!(r.unwrap_err().error, "message too large");
        assert!(t.wait_settled().await.is_err());
    }
}
