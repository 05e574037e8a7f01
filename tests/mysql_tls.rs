//! TLS to MariaDB and MySQL, against the harness's servers: MariaDB with a
//! certificate for 127.0.0.1 signed by the harness's test CA, MySQL 9.7 with
//! the certificate it made for itself at initialisation (its own CA, and no
//! host name in it). Every `ssl_mode` that verifies is tried: the right CA
//! passes `check` and carries changes, another CA fails with an error that
//! names TLS and the fix, and `verify_identity` fails on a certificate that
//! does not name the host while `verify_ca` accepts it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{env, logtap_cli, other_ca, read_at_least, MyFixture, MyServer};
use std::time::Duration;

/// `check` on the fixture's config with these TLS lines: (passed, output).
fn check_with(f: &MyFixture, name: &str, tls: &str) -> (bool, String) {
    let path = f.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, f.config(tls)).unwrap();
    logtap_cli("check", &path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verifying_ssl_mode_against_the_servers_certificate() {
    let f = MyFixture::new("mytls", &["CREATE TABLE t (id int PRIMARY KEY, v text)"]).await;
    let ca = env("LOGTAP_MYSQL_SSL_CA");
    let mysql = MyServer::get() == MyServer::MySql;
    for mode in ["disabled", "preferred", "required"] {
        let (ok, text) = check_with(&f, mode, &format!("ssl_mode = \"{mode}\""));
        assert!(ok, "ssl_mode = {mode}:\n{text}");
    }
    let (ok, text) =
        check_with(&f, "verify_ca", &format!("ssl_mode = \"verify_ca\"\nssl_ca = \"{ca}\""));
    assert!(ok, "verify_ca with the server's CA:\n{text}");

    // The server's certificate names 127.0.0.1 on MariaDB (the harness's);
    // MySQL's own names no host.
    let identity = format!("ssl_mode = \"verify_identity\"\nssl_ca = \"{ca}\"");
    let (ok, text) = check_with(&f, "verify_identity", &identity);
    if mysql {
        assert!(!ok, "verify_identity must refuse a certificate without the host:\n{text}");
        assert!(text.contains("TLS") && text.contains("ssl_mode"), "say why and how:\n{text}");
    } else {
        assert!(ok, "verify_identity with a certificate for 127.0.0.1:\n{text}");
    }

    let wrong = format!("ssl_mode = \"verify_ca\"\nssl_ca = \"{}\"", other_ca(f.dir.path()));
    let (ok, text) = check_with(&f, "wrong_ca", &wrong);
    assert!(!ok, "verify_ca with another CA must fail:\n{text}");
    assert!(text.contains("TLS") && text.contains("ssl_ca"), "say why and how:\n{text}");

    // Changes stream over a verified connection (the binlog dump's too).
    let verified = if mysql { "verify_ca" } else { "verify_identity" };
    let tls = format!("ssl_mode = \"{verified}\"\nssl_ca = \"{ca}\"");
    let l = f.start(&tls, "");
    f.exec(&["INSERT INTO t VALUES (1, 'a'), (2, 'b')"]).await;
    let got = read_at_least(&f.topic("t"), 2, Duration::from_secs(60));
    assert_eq!(got.len(), 2, "{}", l.log_text());
    l.stop();
    f.drop_db().await;
}
