//! Startup authentication: trust, cleartext, MD5 and SCRAM-SHA-256 (with
//! channel binding over TLS when the server offers it).

use super::error::{server_error, WalSenderError};
use super::parse_server_version;
use super::stream::{message_name, Incoming};
use bytes::BytesMut;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{
    ChannelBinding, ScramSha256, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::{ConnectParams, WalSender};

impl WalSender {
    pub(super) async fn authenticate(
        &mut self,
        params: &ConnectParams,
    ) -> Result<(), WalSenderError> {
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
}
