//! The ack tracker: which source position is safe to store.
//!
//! Records are registered in source order and get increasing sequence numbers.
//! The sink acknowledges them in whatever order Kafka's partitions answer. A
//! source position (a *checkpoint*, such as the commit of a transaction) is
//! attached to the last record registered before it. The committed position is
//! the checkpoint of the highest entry such that it and **every entry before
//! it** has been acknowledged: storing it, or reporting it to PostgreSQL as
//! `flush_lsn`, can never skip a record that Kafka has not confirmed
//! (invariant 2). A failed delivery is never retired, so the committed
//! position stops just before it and stays there; the caller must stop and
//! restart from the stored position (invariant 3), which replays the failed
//! record.
//!
//! The tracker also bounds what is in flight (invariant 4): at most
//! `max_records` unretired entries and `max_bytes` unacknowledged payload
//! bytes. [`AckTracker::try_register`] refuses when full; the async wrapper in
//! the sink waits for acks and retries, which stops the source from being read.
//! A single record larger than `max_bytes` is admitted only when nothing else
//! is in flight, so it cannot deadlock the pipeline.

use crate::error::{ErrorKind, PipelineError};
use crate::traits::Checkpoint;
use std::collections::VecDeque;

/// Sequence number of a registered record.
pub type Seq = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Acked,
    Failed,
}

#[derive(Debug)]
struct Entry {
    state: State,
    bytes: usize,
    /// The source position reached once this entry and all before it are acked.
    checkpoint: Option<Checkpoint>,
}

/// Limits on what may be in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_records: usize,
    pub max_bytes: usize,
}

/// The tracker is full; wait for acknowledgements and try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// A delivery that failed, kept so the caller can report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailure {
    pub seq: Seq,
    pub error: String,
    /// Decides whether the pipeline retries: a record too large or not
    /// authorized stops it instead of replaying the same failure forever.
    pub kind: ErrorKind,
    /// The record was given up, not failed by Kafka: the producer stopped
    /// acknowledging while Kafka went on answering it (see
    /// [`AckTracker::give_up_oldest`]).
    pub given_up: bool,
}

impl DeliveryFailure {
    /// The pipeline's error for this failure, of its kind, after `context`.
    pub fn to_error(&self, context: &str) -> PipelineError {
        PipelineError::new(self.kind, format!("{context}{}", self.error))
    }
}

/// Why a record was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    pub message: String,
    pub kind: ErrorKind,
}

impl From<String> for DeliveryError {
    /// A transient failure (e.g. a delivery timeout while the broker is down).
    fn from(message: String) -> Self {
        DeliveryError { message, kind: ErrorKind::Delivery }
    }
}

impl From<&str> for DeliveryError {
    fn from(message: &str) -> Self {
        DeliveryError { message: message.to_string(), kind: ErrorKind::Delivery }
    }
}

/// An acknowledgement for a sequence number that is not in flight.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("acknowledgement for record {seq}, which is not in flight (in flight: {first}..{next})")]
pub struct UnknownSeq {
    pub seq: Seq,
    pub first: Seq,
    pub next: Seq,
}

/// See the module documentation.
#[derive(Debug)]
pub struct AckTracker {
    limits: Limits,
    /// Entries `first_seq .. first_seq + entries.len()`, not yet retired.
    entries: VecDeque<Entry>,
    first_seq: Seq,
    unacked_bytes: usize,
    committed: Option<Checkpoint>,
    failure: Option<DeliveryFailure>,
}

impl AckTracker {
    /// A tracker starting from `committed` (the stored position, if any).
    pub fn new(limits: Limits, committed: Option<Checkpoint>) -> Self {
        AckTracker {
            limits: Limits { max_records: limits.max_records.max(1), max_bytes: limits.max_bytes },
            entries: VecDeque::new(),
            first_seq: 0,
            unacked_bytes: 0,
            committed,
            failure: None,
        }
    }

    /// Registers a record of `bytes` payload bytes, or refuses when full.
    pub fn try_register(&mut self, bytes: usize) -> Result<Seq, Full> {
        let empty = self.entries.is_empty();
        if !empty
            && (self.entries.len() >= self.limits.max_records
                || self.unacked_bytes.saturating_add(bytes) > self.limits.max_bytes)
        {
            return Err(Full);
        }
        let seq = self.next_seq();
        self.entries.push_back(Entry { state: State::Pending, bytes, checkpoint: None });
        self.unacked_bytes += bytes;
        Ok(seq)
    }

    /// Records that the source has reached `position`: once every record
    /// registered so far is acknowledged, `position` is committed. Needs no
    /// room, so a source can always report progress.
    pub fn checkpoint(&mut self, position: impl Into<Checkpoint>) {
        let position = position.into();
        match self.entries.back_mut() {
            Some(last) => last.checkpoint = Some(position),
            None => self.committed = Some(position),
        }
    }

    /// Marks `seq` delivered (`Ok`) or failed (`Err` with the reason).
    pub fn ack(&mut self, seq: Seq, result: Result<(), DeliveryError>) -> Result<(), UnknownSeq> {
        let idx = seq
            .checked_sub(self.first_seq)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < self.entries.len())
            .ok_or(UnknownSeq { seq, first: self.first_seq, next: self.next_seq() })?;
        let entry = &mut self.entries[idx];
        if entry.state == State::Failed && self.failure.as_ref().is_some_and(|f| f.given_up) {
            // A late report for a record given up: the failure stands.
            return Ok(());
        }
        if entry.state != State::Pending {
            return Err(UnknownSeq { seq, first: self.first_seq, next: self.next_seq() });
        }
        self.unacked_bytes -= entry.bytes;
        match result {
            Ok(()) => entry.state = State::Acked,
            Err(e) => {
                entry.state = State::Failed;
                if self.failure.is_none() {
                    self.failure = Some(DeliveryFailure {
                        seq,
                        error: e.message,
                        kind: e.kind,
                        given_up: false,
                    });
                }
            }
        }
        self.retire();
        Ok(())
    }

    /// Gives up on the oldest record in flight as if its delivery had
    /// failed, so the pipeline's failure path (stop sending, drain, restart
    /// from the stored position with a new producer) runs. For a producer
    /// that Kafka answers but that no longer acknowledges: waiting on it
    /// would wait forever. False when nothing is in flight.
    pub fn give_up_oldest(&mut self, message: String) -> bool {
        let Some(front) = self.entries.front_mut() else {
            return false;
        };
        if front.state == State::Pending {
            front.state = State::Failed;
            self.unacked_bytes -= front.bytes;
        }
        if self.failure.is_none() {
            let seq = self.first_seq;
            let kind = ErrorKind::Delivery;
            self.failure = Some(DeliveryFailure { seq, error: message, kind, given_up: true });
        }
        true
    }

    fn retire(&mut self) {
        while let Some(front) = self.entries.front() {
            if front.state != State::Acked {
                break;
            }
            if let Some(entry) = self.entries.pop_front() {
                if let Some(cp) = entry.checkpoint {
                    self.committed = Some(cp);
                }
            }
            self.first_seq += 1;
        }
    }

    /// The highest position at or before which everything is acknowledged.
    pub fn committed(&self) -> Option<&Checkpoint> {
        self.committed.as_ref()
    }

    /// The first failed delivery, if any. Once set, the committed position
    /// never moves past it.
    pub fn failure(&self) -> Option<&DeliveryFailure> {
        self.failure.as_ref()
    }

    /// Entries not yet retired (pending, failed, or acked behind a pending one).
    pub fn in_flight_records(&self) -> usize {
        self.entries.len()
    }

    /// Payload bytes not yet acknowledged.
    pub fn in_flight_bytes(&self) -> usize {
        self.unacked_bytes
    }

    /// Nothing is waiting for an acknowledgement.
    pub fn is_idle(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many records were acknowledged in order so far: it stays put
    /// while the oldest record in flight waits, however many behind it are
    /// acknowledged (what "Kafka is stalled" is measured by).
    pub fn retired(&self) -> Seq {
        self.first_seq
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn next_seq(&self) -> Seq {
        self.first_seq + self.entries.len() as u64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::position::SourcePosition;
    use crate::traits::SnapshotProgress;

    fn pos(n: u64) -> Checkpoint {
        SourcePosition::Sequence { seq: n }.into()
    }

    #[test]
    fn snapshot_progress_is_committed_with_its_position_only_after_the_acks() {
        let mut t = AckTracker::new(roomy(), Some(pos(1)));
        let chunk = |last: i64| Checkpoint {
            position: SourcePosition::Sequence { seq: 1 },
            snapshot: Some(SnapshotProgress {
                pending_tables: vec!["public.t".into()],
                last_key: Some(serde_json::json!({ "id": last })),
                ..Default::default()
            }),
            transaction: None,
        };
        let a = t.try_register(10).unwrap();
        let b = t.try_register(10).unwrap();
        t.checkpoint(chunk(1024));
        t.ack(b, Ok(())).unwrap();
        assert_eq!(t.committed(), Some(&pos(1)), "a chunk is not committed before all its rows");
        t.ack(a, Ok(())).unwrap();
        assert_eq!(t.committed(), Some(&chunk(1024)));
    }

    fn roomy() -> Limits {
        Limits { max_records: 1_000_000, max_bytes: usize::MAX }
    }

    #[test]
    fn out_of_order_acks_commit_only_the_contiguous_prefix() {
        let mut t = AckTracker::new(roomy(), None);
        let a = t.try_register(10).unwrap();
        t.checkpoint(pos(1));
        let b = t.try_register(10).unwrap();
        t.checkpoint(pos(2));
        let c = t.try_register(10).unwrap();
        t.checkpoint(pos(3));
        t.ack(c, Ok(())).unwrap();
        assert_eq!(t.committed(), None, "c acked but a and b are not");
        t.ack(a, Ok(())).unwrap();
        assert_eq!(t.committed(), Some(&pos(1)));
        t.ack(b, Ok(())).unwrap();
        assert_eq!(t.committed(), Some(&pos(3)));
        assert!(t.is_idle());
    }

    #[test]
    fn checkpoint_with_nothing_in_flight_commits_at_once() {
        let mut t = AckTracker::new(roomy(), Some(pos(5)));
        assert_eq!(t.committed(), Some(&pos(5)));
        t.checkpoint(pos(6));
        assert_eq!(t.committed(), Some(&pos(6)));
    }

    #[test]
    fn a_record_given_up_stops_the_position_there_and_ignores_its_late_report() {
        let mut t = AckTracker::new(roomy(), None);
        assert!(!t.give_up_oldest("stuck".into()), "nothing in flight, nothing to give up");
        let a = t.try_register(1).unwrap();
        t.checkpoint(pos(1));
        let b = t.try_register(1).unwrap();
        t.checkpoint(pos(2));
        t.ack(a, Ok(())).unwrap();
        assert!(t.give_up_oldest("stuck".into()));
        let f = t.failure().cloned().unwrap();
        assert_eq!((f.seq, f.given_up, f.kind), (b, true, ErrorKind::Delivery));
        assert_eq!(t.in_flight_bytes(), 0, "its bytes are no longer awaited");
        t.ack(b, Ok(())).unwrap();
        assert_eq!(t.committed(), Some(&pos(1)), "a late report does not move past it");
        assert_eq!(t.failure(), Some(&f));
    }

    #[test]
    fn a_failed_delivery_stops_the_position_for_good() {
        let mut t = AckTracker::new(roomy(), None);
        let a = t.try_register(1).unwrap();
        t.checkpoint(pos(1));
        let b = t.try_register(1).unwrap();
        t.checkpoint(pos(2));
        let c = t.try_register(1).unwrap();
        t.checkpoint(pos(3));
        t.ack(a, Ok(())).unwrap();
        t.ack(b, Err("broker down".into())).unwrap();
        t.ack(c, Ok(())).unwrap();
        t.checkpoint(pos(4));
        assert_eq!(t.committed(), Some(&pos(1)));
        assert_eq!(t.failure().map(|f| f.seq), Some(b));
        assert_eq!(t.failure().map(|f| f.error.as_str()), Some("broker down"));
        assert_eq!(
            t.failure().map(|f| f.kind),
            Some(ErrorKind::Delivery),
            "plain messages are transient"
        );
    }

    #[test]
    fn double_and_unknown_acks_are_rejected() {
        let mut t = AckTracker::new(roomy(), None);
        let a = t.try_register(1).unwrap();
        let b = t.try_register(1).unwrap();
        t.ack(b, Ok(())).unwrap();
        assert!(t.ack(b, Ok(())).is_err(), "second ack of b");
        assert!(t.ack(99, Ok(())).is_err());
        t.ack(a, Ok(())).unwrap();
        assert!(t.ack(a, Ok(())).is_err(), "a is retired");
    }

    #[test]
    fn in_flight_is_bounded_by_records_and_bytes() {
        let mut t = AckTracker::new(Limits { max_records: 3, max_bytes: 100 }, None);
        let a = t.try_register(10).unwrap();
        let _b = t.try_register(10).unwrap();
        let _c = t.try_register(10).unwrap();
        assert_eq!(t.try_register(1), Err(Full), "record limit");
        t.ack(a, Ok(())).unwrap();
        assert!(t.try_register(70).is_ok());
        assert_eq!(t.in_flight_bytes(), 90);
        assert_eq!(t.try_register(1), Err(Full), "record limit again");

        let mut t = AckTracker::new(Limits { max_records: 100, max_bytes: 100 }, None);
        let a = t.try_register(60).unwrap();
        assert_eq!(t.try_register(41), Err(Full), "byte limit");
        assert!(t.try_register(40).is_ok());
        t.ack(a, Ok(())).unwrap();
        assert!(t.try_register(60).is_ok());
    }

    #[test]
    fn acked_records_behind_a_pending_one_still_count_against_the_record_limit() {
        let mut t = AckTracker::new(Limits { max_records: 2, max_bytes: 1000 }, None);
        let _a = t.try_register(1).unwrap();
        let b = t.try_register(1).unwrap();
        t.ack(b, Ok(())).unwrap();
        assert_eq!(t.try_register(1), Err(Full));
    }

    #[test]
    fn an_oversize_record_is_admitted_alone() {
        let mut t = AckTracker::new(Limits { max_records: 10, max_bytes: 100 }, None);
        let a = t.try_register(1000).unwrap();
        assert_eq!(t.try_register(1), Err(Full));
        t.ack(a, Ok(())).unwrap();
        assert!(t.try_register(1).is_ok());
    }

    proptest! {
        /// Whatever order acks come in, the committed position is always the
        /// checkpoint of the longest fully acked prefix, and never passes a
        /// failed record.
        #[test]
        fn shuffled_acks_never_commit_past_an_unacked_record(
            order in Just((0..40u64).collect::<Vec<_>>()).prop_shuffle(),
            fail_at in proptest::option::of(0..40u64),
        ) {
            let mut t = AckTracker::new(roomy(), None);
            for i in 0..40u64 {
                let s = t.try_register(8).unwrap();
                prop_assert_eq!(s, i);
                t.checkpoint(pos(i + 1));
            }
            let mut acked = [false; 40];
            for &s in &order {
                let r = if Some(s) == fail_at { Err("boom".into()) } else { Ok(()) };
                t.ack(s, r).unwrap();
                acked[s as usize] = Some(s) != fail_at;
                let prefix = acked.iter().take_while(|a| **a).count() as u64;
                let expect = if prefix == 0 { None } else { Some(pos(prefix)) };
                prop_assert_eq!(t.committed(), expect.as_ref());
            }
            match fail_at {
                Some(f) => {
                    let expect = if f == 0 { None } else { Some(pos(f)) };
                    prop_assert_eq!(t.committed(), expect.as_ref());
                    prop_assert_eq!(t.failure().map(|x| x.seq), Some(f));
                }
                None => {
                    prop_assert_eq!(t.committed(), Some(&pos(40)));
                    prop_assert!(t.is_idle());
                    prop_assert_eq!(t.in_flight_bytes(), 0);
                }
            }
        }
    }
}
