//! TLS to PostgreSQL: every `sslmode` on both connections logtap opens (the
//! hand-written walsender and the tokio-postgres catalog connection), against
//! the harness's server, which has `ssl = on` with a certificate for
//! 127.0.0.1 and localhost signed by `LOGTAP_PG_SSLROOTCERT`.
//!
//! Whether a session is really encrypted is asked of the server
//! (`pg_stat_ssl`), not taken from the client's word. Failures that the real
//! server cannot produce come from stand-ins on 127.0.0.2: a proxy to the
//! real server (a certificate that does not name the host connected to) and
//! a server that refuses TLS.
#![allow(clippy::unwrap_used)]

mod common;

use common::env;
use logtap_core::Secret;
use logtap_postgres::catalog;
use logtap_postgres::config::SslMode;
use logtap_postgres::walsender::{ConnectParams, WalSender, WalSenderError};
use logtap_postgres::PostgresConfig;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ALL_MODES: [SslMode; 5] =
    [SslMode::Disable, SslMode::Prefer, SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull];

fn port() -> u16 {
    env("LOGTAP_PG_PORT").parse().expect("LOGTAP_PG_PORT is a port number")
}

fn root_cert() -> String {
    let path = env("LOGTAP_PG_SSLROOTCERT");
    assert!(
        Path::new(&path).is_file(),
        "LOGTAP_PG_SSLROOTCERT={path} does not exist: run `scripts/services up` \
         (it makes the test CA)"
    );
    path
}

/// The root certificate the harness's CA needs for `mode`: verify-* cannot
/// do without; the others get none, so they do not verify.
fn root_cert_for(mode: SslMode) -> Option<String> {
    matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull).then(root_cert)
}

/// The SCRAM-only role from `LOGTAP_PG_SCRAM_URL`: (user, password).
fn scram_user() -> (String, String) {
    let url = env("LOGTAP_PG_SCRAM_URL");
    let cfg: tokio_postgres::Config = url.parse().expect("LOGTAP_PG_SCRAM_URL parses");
    let user = cfg.get_user().expect("user in LOGTAP_PG_SCRAM_URL").to_string();
    let password =
        String::from_utf8(cfg.get_password().expect("password in LOGTAP_PG_SCRAM_URL").to_vec())
            .expect("UTF-8 password");
    (user, password)
}

fn params(host: &str, port: u16, mode: SslMode, rootcert: Option<String>) -> ConnectParams {
    ConnectParams {
        host: host.to_string(),
        port,
        user: env("LOGTAP_PG_USER"),
        password: Some(Secret::new(env("LOGTAP_PG_PASSWORD"))),
        database: env("LOGTAP_PG_DB"),
        application_name: "logtap-pg-tls-test".into(),
        connect_timeout: Duration::from_secs(10),
        sslmode: mode,
        sslrootcert: rootcert,
    }
}

fn harness(mode: SslMode, rootcert: Option<String>) -> ConnectParams {
    params(&env("LOGTAP_PG_HOST"), port(), mode, rootcert)
}

/// `[postgres]` as logtap's config file would give it, parsed and
/// validated like the binary does.
fn pg_config(
    host: &str,
    port: u16,
    mode: SslMode,
    rootcert: Option<&str>,
    user: &str,
    password: &str,
) -> PostgresConfig {
    let rootcert = rootcert.map(|r| format!("sslrootcert = {r:?}\n")).unwrap_or_default();
    let text = format!(
        "host = {host:?}\nport = {port}\nuser = {user:?}\ndatabase = {db:?}\n\
         sslmode = {mode:?}\n{rootcert}",
        db = env("LOGTAP_PG_DB"),
        mode = mode.as_str(),
    );
    let mut cfg: PostgresConfig = toml::from_str(&text).expect("test [postgres] parses");
    cfg.password = Some(Secret::new(password));
    cfg.validate().expect("test [postgres] is valid");
    cfg
}

fn harness_config(mode: SslMode, rootcert: Option<&str>) -> PostgresConfig {
    pg_config(
        &env("LOGTAP_PG_HOST"),
        port(),
        mode,
        rootcert,
        &env("LOGTAP_PG_USER"),
        &env("LOGTAP_PG_PASSWORD"),
    )
}

/// Runs IDENTIFY_SYSTEM and asks the server whether this walsender session
/// is encrypted (a `replication=database` walsender also takes SQL).
async fn identify_and_ssl(ws: &mut WalSender) -> bool {
    let rows = ws.simple_query("IDENTIFY_SYSTEM").await.expect("IDENTIFY_SYSTEM");
    assert_eq!(rows.len(), 1, "IDENTIFY_SYSTEM returns one row: {rows:?}");
    assert_eq!(rows[0].len(), 4, "systemid, timeline, xlogpos, dbname: {rows:?}");
    let systemid = rows[0][0].as_deref().unwrap_or_default();
    assert!(
        !systemid.is_empty() && systemid.chars().all(|c| c.is_ascii_digit()),
        "systemid {systemid:?}"
    );
    assert_eq!(
        rows[0][3].as_deref(),
        Some(env("LOGTAP_PG_DB").as_str()),
        "dbname of the walsender"
    );
    let ssl = ws
        .simple_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .await
        .expect("pg_stat_ssl on the walsender");
    match ssl.first().and_then(|r| r.first()).and_then(|v| v.as_deref()) {
        Some("t") => true,
        Some("f") => false,
        other => panic!("pg_stat_ssl.ssl of the walsender: {other:?}"),
    }
}

async fn catalog_ssl(client: &tokio_postgres::Client) -> bool {
    client
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .expect("pg_stat_ssl on the catalog connection")
        .get(0)
}

/// A CA that signed nothing the server has, made with the openssl CLI.
fn throwaway_ca(dir: &Path) -> PathBuf {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args(["-days", "2", "-subj", "/CN=not the logtap test CA"])
        .arg("-keyout")
        .arg(dir.join("wrong-ca.key"))
        .arg("-out")
        .arg(dir.join("wrong-ca.crt"))
        .output()
        .expect("run the openssl command");
    assert!(out.status.success(), "openssl req: {}", String::from_utf8_lossy(&out.stderr));
    dir.join("wrong-ca.crt")
}

/// Listens on 127.0.0.2 (any 127/8 address reaches loopback on Linux) and
/// forwards every connection to the harness's server: the same server and
/// certificate, but reached by an address the certificate does not name.
async fn proxy_on_127_0_0_2() -> u16 {
    let listener = TcpListener::bind("127.0.0.2:0").await.expect("bind 127.0.0.2 (loopback alias)");
    let port = listener.local_addr().expect("proxy address").port();
    let upstream = format!("{}:{}", env("LOGTAP_PG_HOST"), self::port());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    port
}

/// A "server" on 127.0.0.2 that answers every SSLRequest with `N`, like a
/// PostgreSQL with `ssl = off`, then records the next 8 bytes the client
/// sends (the start of a StartupMessage if it carries on in plain text)
/// and closes.
async fn server_refusing_tls() -> (u16, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.2:0").await.expect("bind 127.0.0.2 (loopback alias)");
    let port = listener.local_addr().expect("stand-in address").port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 8];
                if s.read_exact(&mut request).await.is_err() {
                    return;
                }
                // Length 8, code 80877103: an SSLRequest.
                assert_eq!(
                    request,
                    [0, 0, 0, 8, 4, 210, 22, 47],
                    "the client's first message is an SSLRequest"
                );
                s.write_all(b"N").await.expect("answer N");
                let mut next = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    let mut b = [0u8; 8];
                    if s.read_exact(&mut b).await.is_ok() {
                        next.extend_from_slice(&b);
                        // Read the rest of the message too: closing with
                        // unread data would reset the connection.
                        let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                        let mut rest = vec![0u8; len.saturating_sub(8).min(1 << 16)];
                        let _ = s.read_exact(&mut rest).await;
                    }
                })
                .await;
                let _ = tx.send(next);
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn walsender_runs_identify_system_in_every_sslmode_encrypted_unless_disabled() {
    for mode in ALL_MODES {
        let mut ws = WalSender::connect(&harness(mode, root_cert_for(mode)))
            .await
            .unwrap_or_else(|e| panic!("walsender with sslmode={mode}: {e}"));
        let encrypted = identify_and_ssl(&mut ws).await;
        // The harness's server has TLS, so `prefer` must get it.
        assert_eq!(
            encrypted,
            mode != SslMode::Disable,
            "server's pg_stat_ssl for the walsender, sslmode={mode}"
        );
        assert_eq!(ws.tls_version().is_some(), encrypted, "tls_version() with sslmode={mode}");
        if let Some(v) = ws.tls_version() {
            assert!(v == "TLSv1.2" || v == "TLSv1.3", "protocol {v} with sslmode={mode}");
        }
    }
}

#[tokio::test]
async fn catalog_connection_is_encrypted_in_every_sslmode_but_disable() {
    for mode in ALL_MODES {
        let rootcert = root_cert_for(mode);
        let client = catalog::connect(&harness_config(mode, rootcert.as_deref()))
            .await
            .unwrap_or_else(|e| panic!("catalog connection with sslmode={mode}: {e}"));
        assert_eq!(
            catalog_ssl(&client).await,
            mode != SslMode::Disable,
            "pg_stat_ssl.ssl with sslmode={mode}"
        );
    }
}

#[tokio::test]
async fn default_sslmode_is_prefer_and_gets_tls() {
    let text = format!(
        "host = {:?}\nport = {}\nuser = {:?}\ndatabase = {:?}\n",
        env("LOGTAP_PG_HOST"),
        port(),
        env("LOGTAP_PG_USER"),
        env("LOGTAP_PG_DB")
    );
    let cfg: PostgresConfig = toml::from_str(&text).expect("parses");
    assert_eq!(cfg.sslmode, SslMode::Prefer);
    let client = catalog::connect(&cfg).await.expect("catalog connection with the default sslmode");
    assert!(catalog_ssl(&client).await, "the default (prefer) uses TLS when the server has it");
}

#[tokio::test]
async fn verify_full_to_127_0_0_1_fails_clearly_with_a_ca_that_did_not_sign_the_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = throwaway_ca(dir.path()).display().to_string();
    let addr = format!("{}:{}", env("LOGTAP_PG_HOST"), port());
    for mode in [SslMode::VerifyFull, SslMode::VerifyCa] {
        let e = WalSender::connect(&harness(mode, Some(wrong.clone())))
            .await
            .expect_err("a certificate from another CA must not verify");
        let msg = e.to_string();
        eprintln!("walsender, {mode}, wrong CA: {msg}");
        assert!(matches!(e, WalSenderError::Tls { .. }), "a TLS error: {e:?}");
        assert!(
            !e.is_retryable(),
            "a certificate that does not verify is not worth a retry: {msg}"
        );
        for part in
            [addr.as_str(), &format!("sslmode={mode}"), "does not verify", &wrong, "local issuer"]
        {
            assert!(msg.contains(part), "walsender error names {part:?}: {msg}");
        }

        let e = catalog::connect(&harness_config(mode, Some(&wrong)))
            .await
            .expect_err("catalog: a certificate from another CA must not verify");
        eprintln!("catalog, {mode}, wrong CA: {}", e.message);
        assert_eq!(e.kind, logtap_core::ErrorKind::Tls, "{e}");
        assert_eq!(e.policy(), logtap_core::Policy::Stop, "{e}");
        for part in
            [addr.as_str(), &format!("sslmode={mode}"), "does not verify", &wrong, "local issuer"]
        {
            assert!(e.message.contains(part), "catalog error names {part:?}: {}", e.message);
        }
    }
    // The right CA, same everything else: the failure above was the CA.
    let mut ws = WalSender::connect(&harness(SslMode::VerifyFull, Some(root_cert())))
        .await
        .expect("verify-full");
    assert!(identify_and_ssl(&mut ws).await);
}

#[tokio::test]
async fn require_and_prefer_verify_the_chain_when_given_a_root_certificate_like_libpq() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = throwaway_ca(dir.path()).display().to_string();
    for mode in [SslMode::Require, SslMode::Prefer] {
        let e = WalSender::connect(&harness(mode, Some(wrong.clone())))
            .await
            .expect_err("with a root certificate the chain is verified");
        assert!(e.to_string().contains("does not verify"), "sslmode={mode}: {e}");
        let mut ws = WalSender::connect(&harness(mode, Some(root_cert())))
            .await
            .expect("the right root certificate");
        assert!(identify_and_ssl(&mut ws).await);
    }
}

#[tokio::test]
async fn verify_full_to_localhost_succeeds_when_the_certificate_names_it() {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(root_cert().replace("ca.crt", "server.crt"))
        .output()
        .expect("run the openssl command");
    let sans = String::from_utf8_lossy(&out.stdout);
    // The harness makes it with DNS:localhost (scripts/services.d/postgres.sh):
    // without it this test would prove nothing, so that is a failure.
    assert!(
        out.status.success() && sans.contains("DNS:localhost"),
        "the harness's server certificate should name DNS:localhost: {sans}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ws =
        WalSender::connect(&params("localhost", port(), SslMode::VerifyFull, Some(root_cert())))
            .await
            .expect("verify-full to localhost");
    assert!(identify_and_ssl(&mut ws).await);
    let cfg = pg_config(
        "localhost",
        port(),
        SslMode::VerifyFull,
        Some(&root_cert()),
        &env("LOGTAP_PG_USER"),
        &env("LOGTAP_PG_PASSWORD"),
    );
    let client = catalog::connect(&cfg).await.expect("catalog verify-full to localhost");
    assert!(catalog_ssl(&client).await);
}

#[tokio::test]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    // Same server and certificate, reached as 127.0.0.2, which the
    // certificate does not name.
    let port = proxy_on_127_0_0_2().await;
    let e = WalSender::connect(&params("127.0.0.2", port, SslMode::VerifyFull, Some(root_cert())))
        .await
        .expect_err("verify-full to an address the certificate does not name");
    let msg = e.to_string();
    eprintln!("walsender, host mismatch: {msg}");
    for part in [
        format!("127.0.0.2:{port}"),
        "sslmode=verify-full".into(),
        "host name".into(),
        "mismatch".into(),
    ] {
        assert!(msg.contains(&part), "walsender error names {part:?}: {msg}");
    }
    let cfg = |mode| {
        pg_config(
            "127.0.0.2",
            port,
            mode,
            Some(&root_cert()),
            &env("LOGTAP_PG_USER"),
            &env("LOGTAP_PG_PASSWORD"),
        )
    };
    let e = catalog::connect(&cfg(SslMode::VerifyFull))
        .await
        .expect_err("catalog: verify-full to 127.0.0.2");
    eprintln!("catalog, host mismatch: {}", e.message);
    assert!(
        e.message.contains("mismatch") && e.message.contains("sslmode=verify-full"),
        "{}",
        e.message
    );

    let mut ws =
        WalSender::connect(&params("127.0.0.2", port, SslMode::VerifyCa, Some(root_cert())))
            .await
            .expect("verify-ca does not check the host name");
    assert!(identify_and_ssl(&mut ws).await);
    let client =
        catalog::connect(&cfg(SslMode::VerifyCa)).await.expect("catalog: verify-ca to 127.0.0.2");
    assert!(catalog_ssl(&client).await);
}

#[tokio::test]
async fn a_server_refusing_tls_fails_require_and_gets_plain_text_with_prefer() {
    let (port, mut next) = server_refusing_tls().await;
    for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
        let e = WalSender::connect(&params("127.0.0.2", port, mode, root_cert_for(mode)))
            .await
            .expect_err("TLS required but refused");
        let msg = e.to_string();
        eprintln!("walsender, {mode}, refused: {msg}");
        assert!(matches!(e, WalSenderError::TlsRefused { .. }) && !e.is_retryable(), "{e:?}");
        assert!(
            msg.contains(&format!(
                "server at 127.0.0.2:{port} does not accept TLS (sslmode={mode})"
            )),
            "walsender: {msg}"
        );
        assert_eq!(
            next.recv().await,
            Some(Vec::new()),
            "nothing sent after the N with sslmode={mode}"
        );
    }
    let e = catalog::connect(&pg_config("127.0.0.2", port, SslMode::Require, None, "cdc", "cdc"))
        .await
        .expect_err("catalog: TLS required but refused");
    eprintln!("catalog, require, refused: {}", e.message);
    assert!(
        e.message
            .contains(&format!("server at 127.0.0.2:{port} does not accept TLS (sslmode=require)")),
        "{}",
        e.message
    );
    assert_eq!((e.kind, e.policy()), (logtap_core::ErrorKind::Tls, logtap_core::Policy::Stop));
    next.recv().await;

    // prefer carries on in plain text on the same socket: a StartupMessage
    // (length, then protocol 3.0) follows the N. The stand-in then hangs up.
    let e = WalSender::connect(&params("127.0.0.2", port, SslMode::Prefer, None))
        .await
        .expect_err("the stand-in closes after the SSLRequest");
    assert!(matches!(e, WalSenderError::Closed { .. }), "{e:?}");
    let startup = next.recv().await.expect("the stand-in reports");
    assert_eq!(
        startup.get(4..8),
        Some(&[0u8, 3, 0, 0][..]),
        "StartupMessage, protocol 3.0, after N: {startup:?}"
    );
}

#[tokio::test]
async fn scram_authenticates_over_tls_and_in_plain_text() {
    let (user, password) = scram_user();
    for (mode, rootcert) in [
        (SslMode::VerifyFull, Some(root_cert())),
        (SslMode::Require, None),
        (SslMode::Disable, None),
    ] {
        let mut p = harness(mode, rootcert.clone());
        p.user = user.clone();
        p.password = Some(Secret::new(password.clone()));
        let mut ws = WalSender::connect(&p)
            .await
            .unwrap_or_else(|e| panic!("{user} with sslmode={mode}: {e}"));
        assert_eq!(identify_and_ssl(&mut ws).await, mode != SslMode::Disable, "sslmode={mode}");
        let rows = ws.simple_query("SELECT current_user").await.expect("current_user");
        assert_eq!(rows[0][0].as_deref(), Some(user.as_str()));

        let cfg =
            pg_config(&env("LOGTAP_PG_HOST"), port(), mode, rootcert.as_deref(), &user, &password);
        let client = catalog::connect(&cfg)
            .await
            .unwrap_or_else(|e| panic!("catalog {user} sslmode={mode}: {e}"));
        assert_eq!(catalog_ssl(&client).await, mode != SslMode::Disable);
    }
    // The role really needs its password: the SCRAM above was not a trust login.
    let mut p = harness(SslMode::VerifyFull, Some(root_cert()));
    p.user = user.clone();
    p.password = None;
    let e = WalSender::connect(&p).await.expect_err("no password for a SCRAM role");
    assert!(matches!(e, WalSenderError::Auth { .. }), "{e:?}");
}

#[tokio::test]
async fn a_wrong_password_over_tls_names_the_user() {
    let (user, _) = scram_user();
    let mut p = harness(SslMode::VerifyFull, Some(root_cert()));
    p.user = user.clone();
    p.password = Some(Secret::new("not-the-password"));
    let e = WalSender::connect(&p).await.expect_err("wrong password");
    let msg = e.to_string();
    eprintln!("walsender, wrong password: {msg}");
    assert!(
        msg.contains(&user) && msg.contains("password"),
        "walsender error names the user: {msg}"
    );
    assert_eq!(e.sqlstate(), Some("28P01"), "{msg}");
    assert!(!e.is_retryable());

    let cfg = pg_config(
        &env("LOGTAP_PG_HOST"),
        port(),
        SslMode::VerifyFull,
        Some(&root_cert()),
        &user,
        "not-the-password",
    );
    let e = catalog::connect(&cfg).await.expect_err("catalog: wrong password");
    eprintln!("catalog, wrong password: {}", e.message);
    assert!(
        e.message.contains(&user) && e.message.contains("sslmode=verify-full"),
        "catalog error: {}",
        e.message
    );
    assert_eq!(
        (e.kind, e.policy()),
        (logtap_core::ErrorKind::Authentication, logtap_core::Policy::Stop)
    );
}

#[tokio::test]
async fn an_unreadable_root_certificate_fails_before_connecting_and_names_the_file() {
    let missing = "/nonexistent/logtap-test/ca.crt".to_string();
    // Port 9 on 127.0.0.2: nothing listens, so reaching the network would
    // give a connect error instead of the file's.
    let e = WalSender::connect(&params("127.0.0.2", 9, SslMode::VerifyFull, Some(missing.clone())))
        .await
        .expect_err("missing CA file");
    let msg = e.to_string();
    eprintln!("walsender, missing CA file: {msg}");
    assert!(
        msg.contains(&missing)
            && msg.contains("sslmode=verify-full")
            && msg.contains("sslrootcert"),
        "{msg}"
    );
    assert!(!e.is_retryable());

    let dir = tempfile::tempdir().expect("tempdir");
    let not_pem = dir.path().join("ca.crt");
    std::fs::write(&not_pem, "not a certificate\n").expect("write");
    let not_pem = not_pem.display().to_string();
    let e = catalog::connect(&pg_config(
        "127.0.0.2",
        9,
        SslMode::VerifyCa,
        Some(&not_pem),
        "cdc",
        "cdc",
    ))
    .await
    .expect_err("a CA file without certificates");
    eprintln!("catalog, CA file without certificates: {}", e.message);
    assert!(
        e.message.contains(&not_pem) && e.message.contains("no PEM certificate"),
        "{}",
        e.message
    );
    assert_eq!((e.kind, e.policy()), (logtap_core::ErrorKind::Tls, logtap_core::Policy::Stop));
}

#[test]
fn verify_modes_need_a_root_certificate_and_unknown_modes_are_refused() {
    let base = "host = \"h\"\nuser = \"u\"\ndatabase = \"d\"\n";
    let parse = |extra: &str| -> PostgresConfig {
        toml::from_str(&format!("{base}{extra}")).expect("parses")
    };
    for mode in ["verify-ca", "verify-full"] {
        let (field, msg) =
            parse(&format!("sslmode = {mode:?}")).validate().expect_err("no sslrootcert");
        assert_eq!(field, "postgres.sslrootcert");
        assert!(msg.contains(mode), "{msg}");
        parse(&format!("sslmode = {mode:?}\nsslrootcert = \"/etc/ca.pem\""))
            .validate()
            .expect("with sslrootcert");
    }
    // The mode is typed: a spelling that is not libpq's is refused when the
    // file is read, naming the field and the accepted values.
    let msg = toml::from_str::<PostgresConfig>(&format!("{base}sslmode = \"verify_full\""))
        .expect_err("libpq spells it verify-full")
        .to_string();
    assert!(msg.contains("sslmode"), "names the field: {msg}");
    assert!(msg.contains("verify-full"), "lists the valid values: {msg}");
    parse("sslmode = \"disable\"").validate().expect("disable");
    parse("sslmode = \"require\"\nsslrootcert = \"system\"")
        .validate()
        .expect("require with the system store");
}
