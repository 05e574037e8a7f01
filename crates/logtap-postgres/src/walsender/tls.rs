//! TLS as libpq does it: the SSLRequest, one byte back, the handshake, and
//! the verification the sslmode asks for (shared with the catalog connection).

use super::error::WalSenderError;
use super::ConnectParams;
use crate::config::SslMode;
use bytes::BytesMut;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::ssl::{ErrorCode, Ssl, SslConnector, SslMethod, SslRef, SslVerifyMode, SslVersion};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509VerifyResult, X509};
use postgres_protocol::message::frontend;
use std::pin::Pin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

/// A socket after TLS negotiation.
pub(super) enum Negotiated {
    Tls(SslStream<TcpStream>),
    /// `prefer`, and the server answered `N`: plain text on the same socket.
    Plain(TcpStream),
}

/// SSLRequest, then the handshake; an `N` is an error unless the sslmode is
/// `prefer`.
pub(super) async fn negotiate_tls(
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
pub(super) fn handshake_error(
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
pub(super) fn tls_ssl(
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
pub(super) fn tls_server_end_point(ssl: &SslRef) -> Option<Vec<u8>> {
    let cert = ssl.peer_certificate()?;
    let algorithms = cert.signature_algorithm().object().nid().signature_algorithms()?;
    let md = match algorithms.digest {
        Nid::MD5 | Nid::SHA1 => MessageDigest::sha256(),
        nid => MessageDigest::from_nid(nid)?,
    };
    cert.digest(md).ok().map(|d| d.to_vec())
}
