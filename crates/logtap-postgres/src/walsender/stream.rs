//! Framing: backend messages read from, and frontend messages written to,
//! either half of the socket (plain TCP or TLS).

use super::error::{server_error, server_fields, WalSenderError};
use bytes::{Buf, BytesMut};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Either half of a plain TCP socket or of a TLS stream; boxed because the
/// two are different types and one virtual call per 64 KiB read or per
/// message written costs nothing next to the syscall.
pub(super) type ReadHalf = Box<dyn AsyncRead + Send + Sync + Unpin>;
pub(super) type WriteHalf = Box<dyn AsyncWrite + Send + Sync + Unpin>;

/// The reading side of a connection: buffered backend messages.
pub struct Reader {
    pub(super) half: ReadHalf,
    pub(super) buf: BytesMut,
    pub(super) addr: String,
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
pub(super) const MAX_MESSAGE_LEN: u32 = (1 << 30) + (1 << 20);

/// What [`Reader::next`] found.
pub(super) enum Incoming {
    Msg(Message),
    CopyBothResponse,
}

impl Reader {
    /// The next backend message. Cancel-safe: bytes are only consumed once a
    /// whole message is buffered.
    pub(super) async fn next(&mut self) -> Result<Incoming, WalSenderError> {
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
                Incoming::Msg(other) => between_data(other, "during replication")?,
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
pub(super) fn stream_notice(
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

/// A message other than the ones a caller waits for while streaming or
/// starting to: an error ends it, a notice is logged (or ends it, see
/// [`stream_notice`]), a parameter change is skipped, anything else is a
/// protocol error in `context`.
pub(super) fn between_data(m: Message, context: &'static str) -> Result<(), WalSenderError> {
    match m {
        Message::ErrorResponse(body) => Err(server_error(&body)),
        Message::NoticeResponse(body) => stream_notice(&body).map_or(Ok(()), Err),
        Message::ParameterStatus(_) => Ok(()),
        other => Err(WalSenderError::Protocol { context, what: message_name(&other).into() }),
    }
}

pub(super) fn message_name(m: &Message) -> &'static str {
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
    pub(super) half: WriteHalf,
    pub(super) addr: String,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Writer {
    pub(super) async fn write(&mut self, buf: &[u8]) -> Result<(), WalSenderError> {
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
