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

use crate::config::SslMode;
use bytes::{Buf, BytesMut};
use logtap_core::{ErrorKind, Secret};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::ssl::{ErrorCode, Ssl, SslConnector, SslMethod, SslRef, SslVerifyMode, SslVersion};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509VerifyResult, X509};
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{
    ChannelBinding, ScramSha256, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
};
use postgres_protocol::message::backend::{ErrorResponseBody, Message};
use postgres_protocol::message::frontend;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_openssl::SslStream;

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

fn fmt_opt(label: &str, v: &Option<String>) -> String {
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

fn field_text(f: &postgres_protocol::message::backend::ErrorField<'_>) -> String {
    String::from_utf8_lossy(f.value_bytes()).into_owned()
}

fn server_error(body: &ErrorResponseBody) -> WalSenderError {
    server_fields(body.fields())
}

/// An error's or notice's fields (they share their format).
fn server_fields(
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

/// Either half of a plain TCP socket or of a TLS stream; boxed because the
/// two are different types and one virtual call per 64 KiB read or per
/// message written costs nothing next to the syscall.
type ReadHalf = Box<dyn AsyncRead + Send + Sync + Unpin>;
type WriteHalf = Box<dyn AsyncWrite + Send + Sync + Unpin>;

/// The reading side of a connection: buffered backend messages.
pub struct Reader {
    half: ReadHalf,
    buf: BytesMut,
    addr: String,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("addr", &self.addr)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

/// Largest backend message accepted: 1 GiB of data plus headroom.
const MAX_MESSAGE_LEN: u32 = (1 << 30) + (1 << 20);

/// What [`Reader::next`] found.
enum Incoming {
    Msg(Message),
    CopyBothResponse,
}

impl Reader {
    /// The next backend message. Cancel-safe: bytes are only consumed once a
    /// whole message is buffered.
    async fn next(&mut self) -> Result<Incoming, WalSenderError> {
        loop {
            // A corrupt length must be an error, not a huge allocation: no
            // backend message is larger than PostgreSQL's 1 GiB field limit.
            if self.buf.len() >= 5 {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
                if len > MAX_MESSAGE_LEN {
                    return Err(WalSenderError::Protocol {
                        context: "while reading",
                        what: format!(
                            "message type {:?} claims {len} bytes (more than {MAX_MESSAGE_LEN})",
                            char::from(self.buf[0])
                        ),
                    });
                }
            }
            // CopyBothResponse ('W') is not known to postgres-protocol's parser.
            if self.buf.len() >= 5 && self.buf[0] == b'W' {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                    as usize;
                if self.buf.len() > len {
                    self.buf.advance(len + 1);
                    return Ok(Incoming::CopyBothResponse);
                }
            } else if let Some(m) = Message::parse(&mut self.buf).map_err(|e| {
                WalSenderError::Protocol { context: "while reading", what: e.to_string() }
            })? {
                return Ok(Incoming::Msg(m));
            }
            let n = self
                .half
                .read_buf(&mut self.buf)
                .await
                .map_err(|source| WalSenderError::Io { addr: self.addr.clone(), source })?;
            if n == 0 {
                return Err(WalSenderError::Closed { addr: self.addr.clone() });
            }
        }
    }

    /// In CopyBoth mode: the payload of the next CopyData, or `None` when the
    /// server ends the copy. Notices are logged and skipped.
    pub async fn copy_data(&mut self) -> Result<Option<bytes::Bytes>, WalSenderError> {
        loop {
            match self.next().await? {
                Incoming::Msg(Message::CopyData(body)) => return Ok(Some(body.into_bytes())),
                // A server shutting down ends the copy (CopyDone, or straight
                // to CommandComplete): the stream is over, not corrupt.
                Incoming::Msg(
                    Message::CopyDone | Message::CommandComplete(_) | Message::ReadyForQuery(_),
                ) => return Ok(None),
                Incoming::Msg(Message::ErrorResponse(body)) => return Err(server_error(&body)),
                Incoming::Msg(Message::NoticeResponse(body)) => {
                    if let Some(e) = stream_notice(&body) {
                        return Err(e);
                    }
                }
                Incoming::Msg(Message::ParameterStatus(_)) => {}
                Incoming::Msg(other) => {
                    return Err(WalSenderError::Protocol {
                        context: "during replication",
                        what: message_name(&other).into(),
                    })
                }
                Incoming::CopyBothResponse => {
                    return Err(WalSenderError::Protocol {
                        context: "during replication",
                        what: "a second CopyBothResponse".into(),
                    })
                }
            }
        }
    }
}

/// A notice on the replication stream: logged, except the one PostgreSQL
/// 18's pgoutput sends for a publication that no longer exists (a WARNING,
/// 55000, "skipped loading publication", where older servers fail with
/// 42704): it then sends nothing of that publication, so going on would
/// skip changes silently. It ends the stream as the older servers' error
/// does.
fn stream_notice(
    body: &postgres_protocol::message::backend::NoticeResponseBody,
) -> Option<WalSenderError> {
    let notice = server_fields(body.fields());
    match &notice {
        _ if notice.is_missing_publication() => Some(notice),
        WalSenderError::Server { code, message, .. } => {
            tracing::info!(notice = %message, code = %code, "PostgreSQL notice");
            None
        }
        _ => None,
    }
}

fn message_name(m: &Message) -> &'static str {
    match m {
        Message::CommandComplete(_) => "CommandComplete",
        Message::DataRow(_) => "DataRow",
        Message::RowDescription(_) => "RowDescription",
        Message::ReadyForQuery(_) => "ReadyForQuery",
        Message::CopyOutResponse(_) => "CopyOutResponse",
        Message::CopyInResponse(_) => "CopyInResponse",
        Message::EmptyQueryResponse => "EmptyQueryResponse",
        _ => "another message",
    }
}

/// The writing side of a connection.
pub struct Writer {
    half: WriteHalf,
    addr: String,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Writer {
    async fn write(&mut self, buf: &[u8]) -> Result<(), WalSenderError> {
        self.half
            .write_all(buf)
            .await
            .map_err(|source| WalSenderError::Io { addr: self.addr.clone(), source })
    }

    /// Sends a CopyData message (in CopyBoth mode: a standby status update).
    pub async fn copy_data(&mut self, payload: &[u8]) -> Result<(), WalSenderError> {
        let mut buf = BytesMut::with_capacity(payload.len() + 5);
        frontend::CopyData::new(payload)
            .map_err(|e| WalSenderError::Protocol {
                context: "encoding CopyData",
                what: e.to_string(),
            })?
            .write(&mut buf);
        self.write(&buf).await
    }
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

    async fn authenticate(&mut self, params: &ConnectParams) -> Result<(), WalSenderError> {
        let auth_err =
            |message: String| WalSenderError::Auth { user: params.user.clone(), message };
        let password = || {
            params.password.as_ref().map(|p| p.expose().as_bytes().to_vec()).ok_or_else(|| {
                auth_err("the server asks for a password but none is configured (postgres.password_env or postgres.password_file)".into())
            })
        };
        let mut scram: Option<ScramSha256> = None;
        loop {
            let msg = match self.reader.next().await? {
                Incoming::Msg(m) => m,
                Incoming::CopyBothResponse => {
                    return Err(WalSenderError::Protocol {
                        context: "during authentication",
                        what: "CopyBothResponse".into(),
                    })
                }
            };
            let mut buf = BytesMut::new();
            match msg {
                Message::AuthenticationOk => {}
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(&password()?, &mut buf)
                        .map_err(|e| auth_err(e.to_string()))?;
                    self.writer.write(&buf).await?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = md5_hash(params.user.as_bytes(), &password()?, body.salt());
                    frontend::password_message(hash.as_bytes(), &mut buf)
                        .map_err(|e| auth_err(e.to_string()))?;
                    self.writer.write(&buf).await?;
                }
                Message::AuthenticationSasl(body) => {
                    let (mut has_scram, mut has_plus) = (false, false);
                    let mut mechs = body.mechanisms();
                    while let Ok(Some(m)) = fallible_iterator::FallibleIterator::next(&mut mechs) {
                        has_scram |= m == SCRAM_SHA_256;
                        has_plus |= m == SCRAM_SHA_256_PLUS;
                    }
                    // RFC 5802's gs2 flag: `p` binds to the TLS channel; `y`
                    // says we could have but the server did not offer it (a
                    // server that did would see a downgrade and refuse);
                    // `n` that we cannot (plain TCP).
                    let (mechanism, binding) = match (&self.channel_binding, has_plus) {
                        (Some(cb), true) => {
                            (SCRAM_SHA_256_PLUS, ChannelBinding::tls_server_end_point(cb.clone()))
                        }
                        (Some(_), false) if has_scram => {
                            (SCRAM_SHA_256, ChannelBinding::unrequested())
                        }
                        (None, _) if has_scram => (SCRAM_SHA_256, ChannelBinding::unsupported()),
                        _ => {
                            return Err(auth_err(
                                "the server offers no SASL mechanism logtap supports \
                                 (SCRAM-SHA-256, SCRAM-SHA-256-PLUS)"
                                    .into(),
                            ))
                        }
                    };
                    let s = ScramSha256::new(&password()?, binding);
                    frontend::sasl_initial_response(mechanism, s.message(), &mut buf)
                        .map_err(|e| auth_err(e.to_string()))?;
                    self.writer.write(&buf).await?;
                    scram = Some(s);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| auth_err("SASL continue without start".into()))?;
                    s.update(body.data()).map_err(|e| auth_err(format!("SCRAM: {e}")))?;
                    frontend::sasl_response(s.message(), &mut buf)
                        .map_err(|e| auth_err(e.to_string()))?;
                    self.writer.write(&buf).await?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| auth_err("SASL final without start".into()))?;
                    s.finish(body.data()).map_err(|e| auth_err(format!("SCRAM: {e}")))?;
                }
                Message::ParameterStatus(body) => {
                    if let (Ok(name), Ok(value)) = (body.name(), body.value()) {
                        if name == "server_version" {
                            self.server_version = parse_server_version(value);
                        }
                    }
                }
                Message::BackendKeyData(_) | Message::NoticeResponse(_) => {}
                Message::ReadyForQuery(_) => return Ok(()),
                Message::ErrorResponse(body) => return Err(server_error(&body)),
                other => {
                    return Err(auth_err(format!(
                        "unexpected {} during authentication",
                        message_name(&other)
                    )))
                }
            }
        }
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

    /// Runs one replication command or query; returns its rows as text.
    pub async fn simple_query(&mut self, sql: &str) -> Result<TextRows, WalSenderError> {
        let mut buf = BytesMut::new();
        frontend::query(sql, &mut buf).map_err(|e| WalSenderError::Protocol {
            context: "encoding query",
            what: e.to_string(),
        })?;
        self.writer.write(&buf).await?;
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
        let mut buf = BytesMut::new();
        frontend::query(sql, &mut buf).map_err(|e| WalSenderError::Protocol {
            context: "encoding query",
            what: e.to_string(),
        })?;
        self.writer.write(&buf).await?;
        loop {
            match self.reader.next().await? {
                Incoming::CopyBothResponse => return Ok((self.reader, self.writer)),
                Incoming::Msg(Message::ErrorResponse(body)) => return Err(server_error(&body)),
                Incoming::Msg(Message::NoticeResponse(body)) => {
                    if let Some(e) = stream_notice(&body) {
                        return Err(e);
                    }
                }
                Incoming::Msg(Message::ParameterStatus(_)) => {}
                Incoming::Msg(other) => {
                    return Err(WalSenderError::Protocol {
                        context: "starting replication",
                        what: message_name(&other).into(),
                    })
                }
            }
        }
    }
}

/// A socket after TLS negotiation.
enum Negotiated {
    Tls(SslStream<TcpStream>),
    /// `prefer`, and the server answered `N`: plain text on the same socket.
    Plain(TcpStream),
}

/// SSLRequest, then the handshake; an `N` is an error unless the sslmode is
/// `prefer`.
async fn negotiate_tls(
    mut stream: TcpStream,
    connector: &SslConnector,
    params: &ConnectParams,
    addr: &str,
) -> Result<Negotiated, WalSenderError> {
    let io_err = |source: std::io::Error| WalSenderError::Io { addr: addr.to_string(), source };
    let tls_err = |message: String| WalSenderError::Tls {
        addr: addr.to_string(),
        sslmode: params.sslmode,
        message,
    };
    let mut buf = BytesMut::new();
    frontend::ssl_request(&mut buf);
    stream.write_all(&buf).await.map_err(io_err)?;
    // Exactly one byte: anything after it belongs to the TLS handshake.
    let mut answer = [0u8; 1];
    match stream.read_exact(&mut answer).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(WalSenderError::Closed { addr: addr.to_string() })
        }
        Err(e) => return Err(io_err(e)),
    }
    match answer[0] {
        b'S' => {}
        b'N' if params.sslmode.requires_tls() => {
            return Err(WalSenderError::TlsRefused {
                addr: addr.to_string(),
                sslmode: params.sslmode,
            })
        }
        b'N' => {
            tracing::debug!(%addr, "server refused TLS, continuing in plain text (sslmode=prefer)");
            return Ok(Negotiated::Plain(stream));
        }
        // Not PostgreSQL, or one older than 7.0. An `E` (error message)
        // here comes from an unauthenticated party; libpq does not show it.
        other => {
            return Err(WalSenderError::Protocol {
                context: "in answer to the SSLRequest",
                what: format!("byte 0x{other:02x} instead of S or N"),
            })
        }
    }
    let ssl = tls_ssl(connector, params.sslmode, &params.host)
        .map_err(|e| tls_err(format!("OpenSSL setup: {e}")))?;
    let mut tls =
        SslStream::new(ssl, stream).map_err(|e| tls_err(format!("OpenSSL setup: {e}")))?;
    if let Err(e) = Pin::new(&mut tls).connect().await {
        return Err(handshake_error(&e, tls.ssl().verify_result(), params, addr));
    }
    Ok(Negotiated::Tls(tls))
}

/// A failed handshake as an error worth reading: the verification result
/// when the certificate was the problem (OpenSSL's own message then only
/// says "certificate verify failed"), the transport error when the network
/// was, OpenSSL's error stack otherwise.
fn handshake_error(
    e: &openssl::ssl::Error,
    verify: X509VerifyResult,
    params: &ConnectParams,
    addr: &str,
) -> WalSenderError {
    if let Some(io) = e.io_error() {
        return WalSenderError::Io {
            addr: addr.to_string(),
            source: std::io::Error::new(io.kind(), format!("during the TLS handshake: {io}")),
        };
    }
    if e.code() == ErrorCode::SYSCALL && e.ssl_error().is_none() {
        // EOF in the middle of the handshake: the server went away.
        return WalSenderError::Closed { addr: addr.to_string() };
    }
    let message = if verify != X509VerifyResult::OK {
        let rootcert = params.sslrootcert.as_deref();
        verify_failure(params.sslmode, rootcert, &params.host, verify.error_string())
    } else {
        format!("TLS handshake failed: {e}")
    };
    WalSenderError::Tls { addr: addr.to_string(), sslmode: params.sslmode, message }
}

/// What to say when the server's certificate does not verify, the same for
/// both connections: what was checked, against which trust, and OpenSSL's
/// reason (`unable to get local issuer certificate`, `IP address mismatch`).
pub(crate) fn verify_failure(
    mode: SslMode,
    rootcert: Option<&str>,
    host: &str,
    reason: &str,
) -> String {
    let against = match rootcert {
        Some("system") => "the system's trust store".to_string(),
        Some(path) => format!("postgres.sslrootcert `{path}`"),
        None => "no root certificate".to_string(),
    };
    let what = if verifies_host(mode) { "chain and host name" } else { "chain" };
    format!(
        "the server's certificate does not verify ({what} checked against {against}, \
         host `{host}`): {reason}"
    )
}

/// The OpenSSL client context for `mode` (`None` for `disable`): which CAs
/// are trusted and whether the chain is verified. The host name is checked
/// per connection, see [`verifies_host`]. Used by both connections, so the
/// catalog connection and the walsender always agree on what is trusted.
///
/// Only `rootcert` is trusted, not the system store as well (unless it is
/// `system`): a private CA for the database must not be widened to every
/// public CA. libpq behaves the same way.
pub(crate) fn tls_connector(
    mode: SslMode,
    rootcert: Option<&str>,
) -> Result<Option<SslConnector>, String> {
    if mode == SslMode::Disable {
        return Ok(None);
    }
    let setup = |e: openssl::error::ErrorStack| format!("OpenSSL setup: {e}");
    // Loads the system's default verify paths, kept for `system`.
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(setup)?;
    // libpq's default ssl_min_protocol_version.
    b.set_min_proto_version(Some(SslVersion::TLS1_2)).map_err(setup)?;
    match rootcert {
        None | Some("system") => {}
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read postgres.sslrootcert `{path}`: {e}"))?;
            let certs = X509::stack_from_pem(&pem).map_err(|e| {
                format!("postgres.sslrootcert `{path}` is not a PEM certificate file: {e}")
            })?;
            if certs.is_empty() {
                return Err(format!(
                    "postgres.sslrootcert `{path}` holds no PEM certificate \
                     (-----BEGIN CERTIFICATE-----)"
                ));
            }
            let mut store = X509StoreBuilder::new().map_err(setup)?;
            for cert in certs {
                store.add_cert(cert).map_err(|e| format!("postgres.sslrootcert `{path}`: {e}"))?;
            }
            b.set_cert_store(store.build());
        }
    }
    // `require`/`prefer` without a root certificate encrypt but accept any
    // certificate; with one they verify the chain, as libpq does.
    let verify = mode.verifies_chain() || rootcert.is_some();
    b.set_verify(if verify { SslVerifyMode::PEER } else { SslVerifyMode::NONE });
    Ok(Some(b.build()))
}

/// Whether `mode` checks that the certificate names the host connected to:
/// only `verify-full`. Set on each session's `ConnectConfiguration`.
pub(crate) fn verifies_host(mode: SslMode) -> bool {
    mode == SslMode::VerifyFull
}

/// One TLS session to `host`: SNI for host names (not for addresses, as
/// libpq), and the host name or IP address check for `verify-full`.
fn tls_ssl(
    connector: &SslConnector,
    mode: SslMode,
    host: &str,
) -> Result<Ssl, openssl::error::ErrorStack> {
    let mut c = connector.configure()?;
    c.set_verify_hostname(verifies_host(mode));
    c.into_ssl(host)
}

/// RFC 5929's `tls-server-end-point`: the hash of the server's certificate,
/// with the certificate's own signature hash (SHA-256 for MD5 and SHA-1),
/// as PostgreSQL computes it for SCRAM-SHA-256-PLUS.
fn tls_server_end_point(ssl: &SslRef) -> Option<Vec<u8>> {
    let cert = ssl.peer_certificate()?;
    let algorithms = cert.signature_algorithm().object().nid().signature_algorithms()?;
    let md = match algorithms.digest {
        Nid::MD5 | Nid::SHA1 => MessageDigest::sha256(),
        nid => MessageDigest::from_nid(nid)?,
    };
    cert.digest(md).ok().map(|d| d.to_vec())
}

/// `15.18 (Debian 15.18-0+deb12u1)` → 150018; `9.6.1` → 90601.
fn parse_server_version(v: &str) -> Option<u32> {
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

    #[test]
    fn server_versions_parse_like_server_version_num() {
        assert_eq!(parse_server_version("15.18 (Debian 15.18-0+deb12u1)"), Some(150018));
        assert_eq!(parse_server_version("16.4"), Some(160004));
        assert_eq!(parse_server_version("18beta1"), Some(180000));
        assert_eq!(parse_server_version("9.6.1"), Some(90601));
        assert_eq!(parse_server_version(""), None);
    }
}
