//! The walsender connection's error type, and what each SQLSTATE means for
//! the pipeline (one table, shared with the catalog connection).

use crate::config::SslMode;
use logtap_core::ErrorKind;
use postgres_protocol::message::backend::ErrorResponseBody;

/// A failure on the walsender connection.
#[derive(Debug, thiserror::Error)]
pub enum WalSenderError {
    #[error("cannot connect to PostgreSQL at {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    /// The server answered the SSLRequest with `N` (it runs with
    /// `ssl = off`) and the sslmode does not allow plain text.
    #[error(
        "PostgreSQL server at {addr} does not accept TLS (sslmode={sslmode}): it refused the \
         SSLRequest; turn on ssl in its postgresql.conf, or set postgres.sslmode = \"prefer\" \
         to allow plain text"
    )]
    TlsRefused { addr: String, sslmode: SslMode },
    /// TLS could not be set up: unreadable CA file, failed handshake, a
    /// certificate that does not verify. Needs an operator, never retried.
    #[error("TLS to PostgreSQL at {addr} (sslmode={sslmode}): {message}")]
    Tls { addr: String, sslmode: SslMode, message: String },
    #[error("PostgreSQL connection to {addr}: {source}")]
    Io { addr: String, source: std::io::Error },
    #[error("PostgreSQL closed the replication connection to {addr}")]
    Closed { addr: String },
    #[error(
        "PostgreSQL {severity} {code}: {message}{}{}",
        fmt_opt(" DETAIL: ", detail),
        fmt_opt(" HINT: ", hint)
    )]
    Server {
        severity: String,
        code: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    #[error("authentication for user `{user}`: {message}")]
    Auth { user: String, message: String },
    #[error("unexpected message from PostgreSQL {context}: {what}")]
    Protocol { context: &'static str, what: String },
}

pub(super) fn fmt_opt(label: &str, v: &Option<String>) -> String {
    v.as_ref().map(|s| format!("{label}{s}")).unwrap_or_default()
}

impl WalSenderError {
    /// The SQLSTATE of a server error, if this is one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            WalSenderError::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The kind of this failure, from its variant and, for a server
    /// error, its SQLSTATE (see [`sqlstate_kind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            WalSenderError::Connect { .. }
            | WalSenderError::Io { .. }
            | WalSenderError::Closed { .. } => ErrorKind::Connection,
            WalSenderError::TlsRefused { .. } | WalSenderError::Tls { .. } => ErrorKind::Tls,
            WalSenderError::Auth { .. } => ErrorKind::Authentication,
            WalSenderError::Protocol { .. } => ErrorKind::Decode,
            WalSenderError::Server { code, .. } => sqlstate_kind(code),
        }
    }

    /// On the replication stream: the publication is gone. PostgreSQL up
    /// to 17 fails with undefined_object (42704; the slot cannot vanish
    /// while it is read, so that is the publication); 18 warns with
    /// object_not_in_prerequisite_state (55000) and goes on without it.
    pub fn is_missing_publication(&self) -> bool {
        match self {
            WalSenderError::Server { severity, code, .. } => {
                code == "42704" || (code == "55000" && severity == "WARNING")
            }
            _ => false,
        }
    }

    /// Lost connections and server restarts are worth a retry; everything
    /// else (auth, missing slot, protocol surprises) needs an operator.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }
}

/// The kind of a PostgreSQL server error by its SQLSTATE, compared as a
/// code (Appendix A of the PostgreSQL documentation).
pub fn sqlstate_kind(code: &str) -> ErrorKind {
    match code {
        // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
        // now (starting up), 53300 too many connections, 08xxx connection
        // exceptions.
        "57P01" | "57P02" | "57P03" | "53300" => ErrorKind::Connection,
        c if c.starts_with("08") => ErrorKind::Connection,
        // invalid_password, invalid_authorization_specification
        "28P01" | "28000" => ErrorKind::Authentication,
        // insufficient_privilege
        "42501" => ErrorKind::Privileges,
        // object_in_use: a replication slot active for another process.
        "55006" => ErrorKind::SlotInUse,
        // undefined_object names no object by its code: a slot, a
        // publication, a type. A refusal here; the places that know which
        // object their statement names reclassify it (START_REPLICATION: a
        // slot gone is PositionLost; the stream: a publication dropped is
        // ServerSetup) and give the fix for it.
        "42704" => ErrorKind::Refused,
        // feature_not_supported
        "0A000" => ErrorKind::Unsupported,
        // object_not_in_prerequisite_state: wal_level, max_replication_slots.
        "55000" => ErrorKind::ServerSetup,
        _ => ErrorKind::Refused,
    }
}

pub(super) fn field_text(f: &postgres_protocol::message::backend::ErrorField<'_>) -> String {
    String::from_utf8_lossy(f.value_bytes()).into_owned()
}

pub(super) fn server_error(body: &ErrorResponseBody) -> WalSenderError {
    server_fields(body.fields())
}

/// An error's or notice's fields (they share their format).
pub(super) fn server_fields(
    mut fields: postgres_protocol::message::backend::ErrorFields<'_>,
) -> WalSenderError {
    let mut severity = String::from("ERROR");
    let mut code = String::new();
    let mut message = String::new();
    let mut detail = None;
    let mut hint = None;
    while let Ok(Some(f)) = fallible_iterator::FallibleIterator::next(&mut fields) {
        match f.type_() {
            b'V' | b'S' => severity = field_text(&f),
            b'C' => code = field_text(&f),
            b'M' => message = field_text(&f),
            b'D' => detail = Some(field_text(&f)),
            b'H' => hint = Some(field_text(&f)),
            _ => {}
        }
    }
    WalSenderError::Server { severity, code, message, detail, hint }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_slot_needs_a_reset_a_shutdown_retries_and_a_bad_password_stops() {
        use logtap_core::Policy;
        let server = |code: &str| WalSenderError::Server {
            severity: "FATAL".into(),
            code: code.into(),
            message: String::new(),
            detail: None,
            hint: None,
        };
        // Which object is missing is known only where the statement is.
        assert_eq!(server("42704").kind(), ErrorKind::Refused);
        assert_eq!(server("42704").kind().policy(), Policy::Stop);
        for code in ["57P01", "57P02", "57P03", "53300", "08006"] {
            assert_eq!(server(code).kind(), ErrorKind::Connection, "{code}");
        }
        assert_eq!(server("55006").kind(), ErrorKind::SlotInUse);
        assert!(server("55006").is_retryable());
        assert_eq!(server("28P01").kind(), ErrorKind::Authentication);
        assert_eq!(server("42501").kind(), ErrorKind::Privileges);
        assert_eq!(server("55000").kind(), ErrorKind::ServerSetup);
        assert_eq!(server("XX000").kind(), ErrorKind::Refused);
        let reset = WalSenderError::Io {
            addr: "a".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        };
        assert_eq!(reset.kind().policy(), Policy::Retry);
        let odd = WalSenderError::Protocol { context: "in a test", what: "byte 0x7f".into() };
        assert_eq!(odd.kind(), ErrorKind::Decode);
        assert_eq!(odd.kind().policy(), Policy::Stop);
    }
}
