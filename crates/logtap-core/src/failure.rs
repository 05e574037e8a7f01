//! What a source does with a change it cannot convert: Debezium's
//! `event.processing.failure.handling.mode`.
//!
//! A legal value the Debezium representation cannot hold (a PostgreSQL
//! `timestamp` in year 294276 is past epoch microseconds in an int64) stops
//! the stream at that change, and every restart stops at it again. `fail`
//! keeps that (the default, as Debezium's): nothing is lost silently. `warn`
//! and `skip` let the stream go on without that one change; its position is
//! still passed, so the stored position moves past it and a restart does not
//! meet it again. Only [`ErrorKind::Conversion`] is ever skipped: protocol
//! bytes that do not decode, or a row that does not match its table, stop
//! whatever the mode.

use crate::error::ErrorKind;
use crate::error::PipelineError;
use serde::Deserialize;

/// Debezium's `event.processing.failure.handling.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureHandling {
    /// Stop at the change (an operator decides).
    #[default]
    Fail,
    /// Log the change's position, table and key with the reason, skip it.
    Warn,
    /// Skip it, logged at debug level only.
    Skip,
}

impl FailureHandling {
    /// `Ok(())` when the change that raised `err` is to be skipped (after
    /// logging it as the mode says and counting it in
    /// `logtap_events_skipped_total{table}`), else `err` back. `what` names
    /// the change: its position and key as far as they could be read.
    pub fn on_error(
        self,
        err: PipelineError,
        table: &str,
        what: &str,
    ) -> Result<(), PipelineError> {
        if err.kind != ErrorKind::Conversion || self == FailureHandling::Fail {
            return Err(err);
        }
        metrics::counter!("logtap_events_skipped_total", "table" => table.to_string()).increment(1);
        match self {
            FailureHandling::Fail => Err(err),
            FailureHandling::Warn => {
                tracing::warn!(change = what, error = %err, "skipped a change it cannot process (event_processing_failure_handling_mode = warn)");
                Ok(())
            }
            FailureHandling::Skip => {
                tracing::debug!(change = what, error = %err, "skipped a change it cannot process (event_processing_failure_handling_mode = skip)");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_conversion_errors_are_skipped_and_only_when_asked() {
        let conv = || PipelineError::new(ErrorKind::Conversion, "year 294276");
        assert!(FailureHandling::Fail.on_error(conv(), "t", "c").is_err());
        assert!(FailureHandling::Warn.on_error(conv(), "t", "c").is_ok());
        assert!(FailureHandling::Skip.on_error(conv(), "t", "c").is_ok());
        for mode in [FailureHandling::Warn, FailureHandling::Skip] {
            let decode = PipelineError::decode("bad bytes");
            assert_eq!(mode.on_error(decode, "t", "c").map_err(|e| e.kind), Err(ErrorKind::Decode));
        }
    }
}
