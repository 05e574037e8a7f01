//! Error kinds and the one policy table that decides what logtap does about
//! each: retry from the stored position, stop for an operator, or stop
//! because the stored position can no longer be read.
//!
//! Every error is classified once, where it is raised, from a typed fact
//! (a SQLSTATE compared as a code, a MySQL error number, an rdkafka error
//! code, an IO error in the cause chain, a variant of a protocol error);
//! nothing downstream looks at message text to decide. The run loop asks
//! [`ErrorKind::policy`] and prints [`ErrorKind::fix`] when it stops.

/// What went wrong, as far as deciding what to do next is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A connection was refused, reset or timed out, or the server is
    /// shutting down, starting up or out of connection slots.
    Connection,
    /// The server refused the credentials.
    Authentication,
    /// The user lacks a privilege (replication, a table, a binlog command).
    Privileges,
    /// TLS could not be set up or the certificate does not verify.
    Tls,
    /// A setting in logtap's configuration is wrong or contradicts another.
    Config,
    /// The server is not set up for change capture (wal_level, binlog
    /// format, a slot of another plugin or database, a missing publication).
    ServerSetup,
    /// Another client holds the replication slot (often logtap's own
    /// previous connection, not yet gone on the server).
    SlotInUse,
    /// The stored position cannot be read any more: the slot was dropped or
    /// lost its WAL, the binlog file was purged, another client consumed it.
    PositionLost,
    /// The stored position belongs to another server, slot or source type.
    WrongSource,
    /// Bytes from the server that do not decode as the protocol says.
    Decode,
    /// A type, event or feature logtap does not handle.
    Unsupported,
    /// A value of a row that cannot be converted into its column's Debezium
    /// representation (the only kind `event_processing_failure_handling_mode`
    /// may skip, see [`crate::failure`]).
    Conversion,
    /// The server refused a request for a reason no other kind covers; its
    /// own message (and code) says why.
    Refused,
    /// Kafka did not acknowledge in time or is unavailable.
    Delivery,
    /// Kafka refused a record in a way a retry cannot change (too large,
    /// not authorized, topic missing while creation is off).
    DeliveryRejected,
    /// The offset store cannot be read or written.
    OffsetStore,
    /// Another process holds the offset store.
    OffsetStoreBusy,
    /// A logtap bug (an invariant of its own code failed).
    Internal,
}

/// What the run loop does about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Reconnect after a backoff and resume from the stored position.
    Retry,
    /// Stop: an operator must change something first.
    Stop,
    /// Stop: the stored position is unusable; starting over (`logtap
    /// reset`, and a new snapshot) is the way forward.
    Reset,
}

/// One row of the policy table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub policy: Policy,
    /// What the operator can do, printed when logtap stops.
    pub fix: &'static str,
}

impl ErrorKind {
    /// Every kind, for tests and documentation.
    pub const ALL: [ErrorKind; 18] = [
        ErrorKind::Connection,
        ErrorKind::Authentication,
        ErrorKind::Privileges,
        ErrorKind::Tls,
        ErrorKind::Config,
        ErrorKind::ServerSetup,
        ErrorKind::SlotInUse,
        ErrorKind::PositionLost,
        ErrorKind::WrongSource,
        ErrorKind::Decode,
        ErrorKind::Unsupported,
        ErrorKind::Conversion,
        ErrorKind::Refused,
        ErrorKind::Delivery,
        ErrorKind::DeliveryRejected,
        ErrorKind::OffsetStore,
        ErrorKind::OffsetStoreBusy,
        ErrorKind::Internal,
    ];

    /// The policy table: the only place that decides retry or stop.
    pub const fn rule(self) -> Rule {
        use Policy::*;
        let (policy, fix) = match self {
            ErrorKind::Connection => (
                Retry,
                "none needed while it passes: logtap reconnects and resumes from the stored \
                 position; if it persists, check that the server is up and reachable at the \
                 configured host and port",
            ),
            ErrorKind::Authentication => (
                Stop,
                "check the user and its password (password, password_env or password_file) and \
                 the server's authentication rules (pg_hba.conf, the MySQL account's plugin)",
            ),
            ErrorKind::Privileges => {
                (Stop, "grant the privileges `logtap check` reports as missing, then start again")
            }
            ErrorKind::Tls => (
                Stop,
                "fix the TLS settings (sslmode/ssl_mode, the root certificate) or the server's \
                 certificate; `logtap check` shows what the server offers",
            ),
            ErrorKind::Config => (
                Stop,
                "correct the named setting in the configuration file; `logtap check` validates it",
            ),
            ErrorKind::ServerSetup => (
                Stop,
                "change the server setting named above (`logtap check` lists every one), then \
                 start again",
            ),
            ErrorKind::SlotInUse => (
                Retry,
                "none needed while it passes: the previous connection is going away; if it \
                 persists, stop the other client that reads the slot",
            ),
            ErrorKind::PositionLost => (
                Reset,
                "the changes after the stored position are gone from the server: run `logtap \
                 reset` to start over (a new snapshot brings the tables back), and keep the slot \
                 or binlog longer (max_slot_wal_keep_size, binlog_expire_logs_seconds)",
            ),
            ErrorKind::WrongSource => (
                Reset,
                "the offsets belong to another server, slot or source: use another topic_prefix \
                 or offsets.path for this source, or run `logtap reset` to start over",
            ),
            ErrorKind::Decode => (
                Stop,
                "the server sent bytes logtap cannot decode at the position named above; the \
                 stored position is unchanged; please report it with this message",
            ),
            ErrorKind::Unsupported => (
                Stop,
                "see the README's list of what is not supported; leave the table out of the \
                 capture (publication, table filters) or change the column type",
            ),
            ErrorKind::Conversion => (
                Stop,
                "the value named above cannot be put in its column's Debezium type; to go on \
                 without that change, set event_processing_failure_handling_mode = \"warn\" (logs \
                 and skips it) or \"skip\" in the source's section and start again, or change \
                 the value on the server",
            ),
            ErrorKind::Refused => (
                Stop,
                "the server's message above says what it refused; fix that on the server or in \
                 the configuration, then start again",
            ),
            ErrorKind::Delivery => (
                Retry,
                "none needed while it passes: unacknowledged records are sent again from the \
                 stored position; if it persists, check kafka.bootstrap_servers and the brokers",
            ),
            ErrorKind::DeliveryRejected => (
                Stop,
                "Kafka refused the record: raise the topic's max.message.bytes (and the \
                 producer's message.max.bytes), grant the ACLs, or allow topic creation",
            ),
            ErrorKind::OffsetStore => {
                (Stop, "check offsets.path (its directory, disk space and permissions) or, with offsets.kind = \"kafka\", the offsets topic and the message")
            }
            ErrorKind::OffsetStoreBusy => (
                Retry,
                "another logtap process uses this offsets.path; stop it or give this one its own",
            ),
            ErrorKind::Internal => (Stop, "a logtap bug: please report it with this message"),
        };
        Rule { policy, fix }
    }

    pub const fn policy(self) -> Policy {
        self.rule().policy
    }

    pub const fn fix(self) -> &'static str {
        self.rule().fix
    }

    /// Whether the run loop reconnects after this error.
    pub const fn is_retryable(self) -> bool {
        matches!(self.policy(), Policy::Retry)
    }
}

/// An IO error somewhere in `e`'s cause chain: the connection, not the
/// request, failed (drivers wrap the socket error in their own types).
pub fn io_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cause: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cause = c.source();
    }
    None
}

/// An error from a source or sink, classified once where it is raised
/// (see [`crate::error`] for the kinds and the policy table).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PipelineError {
    pub kind: ErrorKind,
    pub message: String,
    /// A fix for this error in particular, where the kind's own fix text
    /// would not be true (the same SQLSTATE names different missing
    /// objects; only the place that raised it knows which).
    pub fix: Option<String>,
    #[source]
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl PipelineError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PipelineError { kind, message: message.into(), fix: None, cause: None }
    }
    /// A setting of logtap's configuration is wrong.
    pub fn config(message: impl Into<String>) -> Self {
        PipelineError::new(ErrorKind::Config, message)
    }
    /// A lost or refused connection, worth a retry.
    pub fn connection(message: impl Into<String>) -> Self {
        PipelineError::new(ErrorKind::Connection, message)
    }
    /// Bytes from the server that do not decode.
    pub fn decode(message: impl Into<String>) -> Self {
        PipelineError::new(ErrorKind::Decode, message)
    }
    /// A logtap bug.
    pub fn internal(message: impl Into<String>) -> Self {
        PipelineError::new(ErrorKind::Internal, message)
    }
    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Box::new(cause));
        self
    }

    /// Replaces the kind's fix text with one for this error.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// What the operator can do: this error's own fix, else its kind's.
    pub fn fix(&self) -> &str {
        self.fix.as_deref().unwrap_or(self.kind.fix())
    }

    /// What the run loop does about it.
    pub fn policy(&self) -> Policy {
        self.kind.policy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_table_retries_only_what_can_pass_by_itself() {
        let retried: Vec<ErrorKind> =
            ErrorKind::ALL.iter().copied().filter(|k| k.is_retryable()).collect();
        assert_eq!(
            retried,
            [
                ErrorKind::Connection,
                ErrorKind::SlotInUse,
                ErrorKind::Delivery,
                ErrorKind::OffsetStoreBusy
            ]
        );
        let reset: Vec<ErrorKind> =
            ErrorKind::ALL.iter().copied().filter(|k| k.policy() == Policy::Reset).collect();
        assert_eq!(reset, [ErrorKind::PositionLost, ErrorKind::WrongSource]);
    }

    #[test]
    fn every_kind_tells_the_operator_something() {
        for k in ErrorKind::ALL {
            assert!(k.fix().len() > 30, "{k:?} has no useful fix text");
        }
    }

    #[test]
    fn an_io_error_is_found_through_wrappers() {
        #[derive(Debug, thiserror::Error)]
        #[error("wrapped")]
        struct Wrap(#[source] std::io::Error);
        let e = Wrap(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(io_cause(&e).map(|e| e.kind()), Some(std::io::ErrorKind::ConnectionReset));
        let plain = std::fmt::Error;
        assert!(io_cause(&plain).is_none());
    }
}
