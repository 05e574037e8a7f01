//! A walsender connection: the replication protocol spoken on a TCP socket.
//!
//! tokio-postgres cannot open `replication=database` connections or enter
//! CopyBoth mode, so this module speaks the frontend/backend protocol itself,
//! using `postgres-protocol` for message framing and authentication (trust,
//! cleartext, md5, SCRAM-SHA-256). After `START_REPLICATION` the socket is
//! split: the read half yields CopyData payloads, the write half sends standby
//! status updates, so a status update never waits behind a slow reader.

use bytes::{Buf, BytesMut};
use logtap_core::Secret;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::backend::{ErrorResponseBody, Message};
use postgres_protocol::message::frontend;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub database: String,
    pub application_name: String,
    pub connect_timeout: Duration,
}

/// A failure on the walsender connection.
#[derive(Debug, thiserror::Error)]
pub enum WalSenderError {
    #[error("cannot connect to PostgreSQL at {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("PostgreSQL connection to {addr}: {source}")]
    Io { addr: String, source: std::io::Error },
    #[error("PostgreSQL closed the replication connection to {addr}")]
    Closed { addr: String },
    #[error("PostgreSQL {severity} {code}: {message}{}{}", fmt_opt(" DETAIL: ", detail), fmt_opt(" HINT: ", hint))]
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

    /// Lost connections and server restarts are worth a retry; everything
    /// else (auth, missing slot, protocol surprises) needs an operator.
    pub fn is_retryable(&self) -> bool {
        match self {
            WalSenderError::Connect { .. }
            | WalSenderError::Io { .. }
            | WalSenderError::Closed { .. } => true,
            // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now,
            // 53300 too many connections, 08xxx connection exceptions.
            WalSenderError::Server { code, .. } => {
                code.starts_with("08") || ["57P01", "57P02", "57P03", "53300"].contains(&code.as_str())
            }
            _ => false,
        }
    }
}

fn field_text(f: &postgres_protocol::message::backend::ErrorField<'_>) -> String {
    String::from_utf8_lossy(f.value_bytes()).into_owned()
}

fn server_error(body: &ErrorResponseBody) -> WalSenderError {
    let mut severity = String::from("ERROR");
    let mut code = String::new();
    let mut message = String::new();
    let mut detail = None;
    let mut hint = None;
    let mut fields = body.fields();
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

/// The reading side of a connection: buffered backend messages.
#[derive(Debug)]
pub struct Reader {
    half: OwnedReadHalf,
    buf: BytesMut,
    addr: String,
}

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
            // CopyBothResponse ('W') is not known to postgres-protocol's parser.
            if self.buf.len() >= 5 && self.buf[0] == b'W' {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
                if self.buf.len() > len {
                    self.buf.advance(len + 1);
                    return Ok(Incoming::CopyBothResponse);
                }
            } else if let Some(m) = Message::parse(&mut self.buf).map_err(|e| WalSenderError::Protocol {
                context: "while reading",
                what: e.to_string(),
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
                Incoming::Msg(Message::CopyDone) => return Ok(None),
                Incoming::Msg(Message::ErrorResponse(body)) => return Err(server_error(&body)),
                Incoming::Msg(Message::NoticeResponse(body)) => log_notice(&body),
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

fn log_notice(body: &postgres_protocol::message::backend::NoticeResponseBody) {
    let mut fields = body.fields();
    while let Ok(Some(f)) = fallible_iterator::FallibleIterator::next(&mut fields) {
        if f.type_() == b'M' {
            tracing::info!(notice = %field_text(&f), "PostgreSQL notice");
        }
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
#[derive(Debug)]
pub struct Writer {
    half: OwnedWriteHalf,
    addr: String,
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
            .map_err(|e| WalSenderError::Protocol { context: "encoding CopyData", what: e.to_string() })?
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
}

/// Rows of a simple query, every column as text (`None` for NULL).
pub type TextRows = Vec<Vec<Option<String>>>;

impl WalSender {
    /// Connects with `replication=database` and authenticates.
    pub async fn connect(params: &ConnectParams) -> Result<Self, WalSenderError> {
        let addr = format!("{}:{}", params.host, params.port);
        let stream = tokio::time::timeout(params.connect_timeout, TcpStream::connect(&addr))
            .await
            .map_err(|_| WalSenderError::Connect {
                addr: addr.clone(),
                source: std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
            })?
            .map_err(|source| WalSenderError::Connect { addr: addr.clone(), source })?;
        stream.set_nodelay(true).ok();
        let (r, w) = stream.into_split();
        let mut conn = WalSender {
            reader: Reader { half: r, buf: BytesMut::with_capacity(64 * 1024), addr: addr.clone() },
            writer: Writer { half: w, addr },
            server_version: None,
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
        .map_err(|e| WalSenderError::Protocol { context: "encoding startup", what: e.to_string() })?;
        conn.writer.write(&buf).await?;
        conn.authenticate(params).await?;
        Ok(conn)
    }

    async fn authenticate(&mut self, params: &ConnectParams) -> Result<(), WalSenderError> {
        let auth_err = |message: String| WalSenderError::Auth { user: params.user.clone(), message };
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
                    let mut has_scram = false;
                    let mut mechs = body.mechanisms();
                    while let Ok(Some(m)) = fallible_iterator::FallibleIterator::next(&mut mechs) {
                        has_scram |= m == SCRAM_SHA_256;
                    }
                    if !has_scram {
                        return Err(auth_err("the server offers no SASL mechanism logtap supports (SCRAM-SHA-256)".into()));
                    }
                    let s = ScramSha256::new(&password()?, ChannelBinding::unsupported());
                    frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut buf)
                        .map_err(|e| auth_err(e.to_string()))?;
                    self.writer.write(&buf).await?;
                    scram = Some(s);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let s = scram.as_mut().ok_or_else(|| auth_err("SASL continue without start".into()))?;
                    s.update(body.data()).map_err(|e| auth_err(format!("SCRAM: {e}")))?;
                    frontend::sasl_response(s.message(), &mut buf).map_err(|e| auth_err(e.to_string()))?;
                    self.writer.write(&buf).await?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let s = scram.as_mut().ok_or_else(|| auth_err("SASL final without start".into()))?;
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

    /// Runs one replication command or query; returns its rows as text.
    pub async fn simple_query(&mut self, sql: &str) -> Result<TextRows, WalSenderError> {
        let mut buf = BytesMut::new();
        frontend::query(sql, &mut buf)
            .map_err(|e| WalSenderError::Protocol { context: "encoding query", what: e.to_string() })?;
        self.writer.write(&buf).await?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            match self.reader.next().await? {
                Incoming::Msg(Message::DataRow(row)) => {
                    let mut values = Vec::new();
                    let buf = row.buffer();
                    let mut ranges = row.ranges();
                    while let Ok(Some(range)) = fallible_iterator::FallibleIterator::next(&mut ranges) {
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
    pub async fn start_replication(mut self, sql: &str) -> Result<(Reader, Writer), WalSenderError> {
        let mut buf = BytesMut::new();
        frontend::query(sql, &mut buf)
            .map_err(|e| WalSenderError::Protocol { context: "encoding query", what: e.to_string() })?;
        self.writer.write(&buf).await?;
        loop {
            match self.reader.next().await? {
                Incoming::CopyBothResponse => return Ok((self.reader, self.writer)),
                Incoming::Msg(Message::ErrorResponse(body)) => return Err(server_error(&body)),
                Incoming::Msg(Message::NoticeResponse(body)) => log_notice(&body),
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
