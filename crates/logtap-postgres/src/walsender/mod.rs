//! A walsender connection: the replication protocol spoken on a TCP socket.
//!
//! tokio-postgres cannot open `replication=database` connections or enter
//! CopyBoth mode, so this module speaks the frontend/backend protocol itself,
//! using `postgres-protocol` for message framing and authentication (trust,
//! cleartext, md5, SCRAM-SHA-256). After `START_REPLICATION` the socket is
//! split: the read half yields CopyData payloads, the write half sends standby
//! status updates, so a status update never waits behind a slow reader.
//!
//! TLS follows libpq (see [`SslMode`]): an 8-byte SSLRequest, one byte back
//! (`S` or `N`), then the TLS handshake on the same socket and the ordinary
//! protocol inside it. Exactly one byte is read before the handshake, so
//! plaintext the server (or someone in between) sends after the `S` cannot
//! be mistaken for protected data (CVE-2021-23222). The OpenSSL context is
//! built by [`tls_connector`], which the catalog connection uses too, so both
//! connections verify the server the same way. With TLS, SCRAM binds to the
//! channel (SCRAM-SHA-256-PLUS, `tls-server-end-point`) when the server
//! offers it, as libpq's default `channel_binding=prefer` does.
//!
//! The parts, as rust-postgres keeps them apart: [`error`] (the error type
//! and the SQLSTATE table), [`stream`] (message framing on either half of
//! the socket), [`auth`] (startup authentication) and [`tls`] (SSLRequest,
//! handshake, verification).

mod auth;
mod error;
mod stream;
mod tls;

pub use error::{sqlstate_kind, WalSenderError};
pub use stream::{Reader, Writer};
pub(crate) use tls::{tls_connector, verifies_host, verify_failure};

use crate::config::SslMode;
use bytes::BytesMut;
use error::server_error;
use logtap_core::Secret;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use std::time::Duration;
use stream::{between_data, Incoming, ReadHalf, WriteHalf};
use tls::{negotiate_tls, tls_server_end_point, Negotiated};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Where and as whom to connect: the one description of a walsender
/// connection (the source builds it from `PostgresConfig`).
#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub database: String,
    pub application_name: String,
    /// Bounds the TCP connect and the TLS negotiation together.
    pub connect_timeout: Duration,
    /// Whether to ask for TLS and what to verify; libpq's meanings.
    pub sslmode: SslMode,
    /// PEM file of trusted CA certificates, or `system` (see
    /// `PostgresConfig::sslrootcert`). Given with `prefer`/`require`, the
    /// chain is verified as with `verify-ca`, like libpq does.
    pub sslrootcert: Option<String>,
}

/// A walsender connection before `START_REPLICATION`.
#[derive(Debug)]
pub struct WalSender {
    reader: Reader,
    writer: Writer,
    /// `server_version_num`-style number from the startup parameters.
    server_version: Option<u32>,
    /// The negotiated protocol (`TLSv1.3`), or `None` on plain TCP.
    tls_version: Option<&'static str>,
    /// `tls-server-end-point` data for SCRAM-SHA-256-PLUS: the hash of the
    /// server's certificate. `None` on plain TCP, or if the certificate's
    /// signature algorithm names no usable hash (e.g. Ed25519).
    channel_binding: Option<Vec<u8>>,
}

/// Rows of a simple query, every column as text (`None` for NULL).
pub type TextRows = Vec<Vec<Option<String>>>;

impl WalSender {
    /// Connects with `replication=database`, negotiates TLS as
    /// `params.sslmode` says, and authenticates.
    pub async fn connect(params: &ConnectParams) -> Result<Self, WalSenderError> {
        let addr = format!("{}:{}", params.host, params.port);
        // Before any connect: an unreadable CA file is a configuration error,
        // not worth a network round trip (nor a retry).
        let connector =
            tls_connector(params.sslmode, params.sslrootcert.as_deref()).map_err(|message| {
                WalSenderError::Tls { addr: addr.clone(), sslmode: params.sslmode, message }
            })?;
        let deadline = Instant::now() + params.connect_timeout;
        let stream = tokio::time::timeout_at(deadline, TcpStream::connect(&addr))
            .await
            .map_err(|_| WalSenderError::Connect {
                addr: addr.clone(),
                source: std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
            })?
            .map_err(|source| WalSenderError::Connect { addr: addr.clone(), source })?;
        stream.set_nodelay(true).ok();
        let negotiated = match connector {
            None => Negotiated::Plain(stream),
            Some(connector) => {
                tokio::time::timeout_at(deadline, negotiate_tls(stream, &connector, params, &addr))
                    .await
                    .map_err(|_| WalSenderError::Connect {
                        addr: addr.clone(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("TLS negotiation timed out (sslmode={})", params.sslmode),
                        ),
                    })??
            }
        };
        let (reader, writer): (ReadHalf, WriteHalf);
        let (tls_version, channel_binding) = match negotiated {
            Negotiated::Tls(tls) => {
                let version = tls.ssl().version_str();
                let binding = tls_server_end_point(tls.ssl());
                tracing::debug!(
                    %addr,
                    version,
                    cipher = tls.ssl().current_cipher().map(|c| c.name()).unwrap_or("?"),
                    "replication connection uses TLS"
                );
                let (r, w) = tokio::io::split(tls);
                (reader, writer) = (Box::new(r), Box::new(w));
                (Some(version), binding)
            }
            Negotiated::Plain(stream) => {
                let (r, w) = stream.into_split();
                (reader, writer) = (Box::new(r), Box::new(w));
                (None, None)
            }
        };
        let mut conn = WalSender {
            reader: Reader {
                half: reader,
                buf: BytesMut::with_capacity(64 * 1024),
                addr: addr.clone(),
            },
            writer: Writer { half: writer, addr },
            server_version: None,
            tls_version,
            channel_binding,
        };
        let mut buf = BytesMut::new();
        frontend::startup_message(
            [
                ("user", params.user.as_str()),
                ("database", params.database.as_str()),
                ("replication", "database"),
                ("application_name", params.application_name.as_str()),
                ("client_encoding", "UTF8"),
            ],
            &mut buf,
        )
        .map_err(|e| WalSenderError::Protocol {
            context: "encoding startup",
            what: e.to_string(),
        })?;
        conn.writer.write(&buf).await?;
        conn.authenticate(params).await?;
        Ok(conn)
    }
    /// The server's version as `server_version_num` (e.g. 150018), if known.
    pub fn server_version(&self) -> Option<u32> {
        self.server_version
    }

    /// The TLS protocol in use (`TLSv1.3`), or `None` on plain TCP (sslmode
    /// `disable`, or `prefer` against a server without TLS).
    pub fn tls_version(&self) -> Option<&'static str> {
        self.tls_version
    }

    /// Sends `sql` as a simple Query message.
    async fn send_query(&mut self, sql: &str) -> Result<(), WalSenderError> {
        let mut buf = BytesMut::new();
        frontend::query(sql, &mut buf).map_err(|e| WalSenderError::Protocol {
            context: "encoding query",
            what: e.to_string(),
        })?;
        self.writer.write(&buf).await
    }

    /// Runs one replication command or query; returns its rows as text.
    pub async fn simple_query(&mut self, sql: &str) -> Result<TextRows, WalSenderError> {
        self.send_query(sql).await?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            match self.reader.next().await? {
                Incoming::Msg(Message::DataRow(row)) => {
                    let mut values = Vec::new();
                    let buf = row.buffer();
                    let mut ranges = row.ranges();
                    while let Ok(Some(range)) =
                        fallible_iterator::FallibleIterator::next(&mut ranges)
                    {
                        values.push(range.map(|r| String::from_utf8_lossy(&buf[r]).into_owned()));
                    }
                    rows.push(values);
                }
                Incoming::Msg(Message::ErrorResponse(body)) => error = Some(server_error(&body)),
                Incoming::Msg(Message::ReadyForQuery(_)) => {
                    return match error {
                        Some(e) => Err(e),
                        None => Ok(rows),
                    }
                }
                Incoming::Msg(_) => {}
                Incoming::CopyBothResponse => {
                    return Err(WalSenderError::Protocol {
                        context: "after a query",
                        what: "CopyBothResponse".into(),
                    })
                }
            }
        }
    }

    /// Sends `START_REPLICATION ...` and waits for CopyBoth mode; returns the
    /// two halves for streaming.
    pub async fn start_replication(
        mut self,
        sql: &str,
    ) -> Result<(Reader, Writer), WalSenderError> {
        self.send_query(sql).await?;
        loop {
            match self.reader.next().await? {
                Incoming::CopyBothResponse => return Ok((self.reader, self.writer)),
                Incoming::Msg(other) => between_data(other, "starting replication")?,
            }
        }
    }
}

/// `15.18 (Debian 15.18-0+deb12u1)` → 150018; `9.6.1` → 90601.
pub(super) fn parse_server_version(v: &str) -> Option<u32> {
    let head = v.split_whitespace().next()?;
    // Leading digits of each part: `18beta1` is major 18.
    let mut parts = head.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>()
    });
    let major = parts.next()?.ok()?;
    let minor = parts.next().and_then(Result::ok).unwrap_or(0);
    if major >= 10 {
        Some(major * 10000 + minor)
    } else {
        let patch = parts.next().and_then(Result::ok).unwrap_or(0);
        Some(major * 10000 + minor * 100 + patch)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn server_versions_parse_like_server_version_num() {
        assert_eq!(parse_server_version("15.18 (Debian 15.18-0+deb12u1)"), Some(150018));
        assert_eq!(parse_server_version("16.4"), Some(160004));
        assert_eq!(parse_server_version("18beta1"), Some(180000));
        assert_eq!(parse_server_version("9.6.1"), Some(90601));
        assert_eq!(parse_server_version(""), None);
    }
}
