//! Kafka over TLS with SASL, against the harness broker's SASL_SSL listener
//! (scripts/services: a certificate for 127.0.0.1 signed by the test CA,
//! PLAIN and SCRAM-SHA-256/512 users): PostgreSQL changes reach Kafka
//! through it with positions stored in Kafka through it too, every
//! mechanism passes `check`, and a wrong password, a CA that did not sign
//! the broker's certificate, or a security protocol that is not the
//! listener's fail `check` with an error naming the cause and its fix, and
//! `run` says the same cause in its log.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    drop_slot, env, logtap_cli, other_ca, read_at_least, unique, wait_until, Logtap, PgFixture,
};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `config` with its `[kafka]` bootstrap line replaced by the SASL_SSL
/// listener's, the given mechanism, protocol and CA file, and the
/// harness's user with its password from the environment.
fn over_sasl_ssl(config: &str, protocol: &str, mechanism: &str, ca: &str) -> String {
    let plain = format!("bootstrap_servers = \"{}\"\n", env("LOGTAP_KAFKA_BOOTSTRAP"));
    assert!(config.contains(&plain), "{config}");
    let secure = format!(
        "bootstrap_servers = \"{}\"\nsecurity_protocol = \"{protocol}\"\n\
         sasl_mechanism = \"{mechanism}\"\nsasl_username = \"{}\"\n\
         sasl_password_env = \"LOGTAP_KAFKA_SASL_PASSWORD\"\nssl_ca_location = \"{ca}\"\n",
        env("LOGTAP_KAFKA_SASL_SSL_BOOTSTRAP"),
        env("LOGTAP_KAFKA_SASL_USER"),
    );
    config.replace(&plain, &secure)
}

/// `[offsets]` in Kafka (topic `topic`) instead of the fixture's sled path.
fn offsets_in_kafka(config: &str, sled: &Path, topic: &str) -> String {
    let sled = format!("[offsets]\npath = \"{}\"\n", sled.display());
    assert!(config.contains(&sled), "{config}");
    config.replace(&sled, &format!("[offsets]\nkind = \"kafka\"\ntopic = \"{topic}\"\n"))
}

fn write(dir: &Path, name: &str, config: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, config).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_changes_and_positions_go_through_scram_over_tls() {
    let f = PgFixture::new("ktls", "id int PRIMARY KEY, v text").await;
    let ca = env("LOGTAP_KAFKA_SSL_CA");
    let offsets_topic = format!("{}-offsets", f.prefix);
    let config = offsets_in_kafka(
        &over_sasl_ssl(&f.config, "SASL_SSL", "SCRAM-SHA-256", &ca),
        &f.dir.path().join("off"),
        &offsets_topic,
    );
    let path = write(f.dir.path(), "logtap.toml", &config);
    let (ok, text) = logtap_cli("check", &path);
    assert!(ok && text.contains("kafka: reachable"), "check over SASL_SSL:\n{text}");

    let l = Logtap::start_on(f.dir.path(), &path);
    assert!(wait_until(Duration::from_secs(30), || l.log_text().contains("streaming")));
    f.pg.batch_execute(&format!("INSERT INTO {} VALUES (1, 'a'), (2, 'b'), (3, 'c')", f.table))
        .await
        .unwrap();
    let got = read_at_least(&f.topic(), 3, Duration::from_secs(60));
    assert_eq!(got.len(), 3, "{}", l.log_text());
    let log = l.stop();
    // No authentication was refused. A connection the broker dropped during
    // the handshake (librdkafka says "SASL authentication error: ...
    // Broker transport failure"; seen in CI just after the fault tests had
    // restarted the broker) is a transport fault that is retried, not a
    // refusal.
    let refused = log
        .lines()
        .filter(|l| l.contains("SASL authentication error") || l.contains("Authentication failed"))
        .filter(|l| !l.contains("Broker transport failure"))
        .collect::<Vec<_>>();
    assert!(refused.is_empty(), "{refused:#?}\n{log}");
    // The position went into Kafka (a transactional topic) through the same
    // listener, and `status` reads it back through it.
    let (ok, status) = logtap_cli("status", &path);
    assert!(ok && status.contains("lsn"), "status over SASL_SSL:\n{status}");
    drop_slot(&f.pg, &f.slot()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_and_scram_sha_512_over_tls_pass_check() {
    let f = PgFixture::new("ktlsm", "id int PRIMARY KEY").await;
    let ca = env("LOGTAP_KAFKA_SSL_CA");
    for mechanism in ["PLAIN", "SCRAM-SHA-512"] {
        let config = over_sasl_ssl(&f.config, "SASL_SSL", mechanism, &ca);
        let path = write(f.dir.path(), &format!("{mechanism}.toml"), &config);
        let (ok, text) = logtap_cli("check", &path);
        assert!(ok && text.contains("kafka: reachable"), "{mechanism} over TLS:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_ca_or_protocol_is_named_with_its_fix() {
    let f = PgFixture::new("ktlsbad", "id int PRIMARY KEY").await;
    let dir = f.dir.path();
    let ca = env("LOGTAP_KAFKA_SSL_CA");
    let wrong_password = over_sasl_ssl(&f.config, "SASL_SSL", "SCRAM-SHA-256", &ca)
        .replace("LOGTAP_KAFKA_SASL_PASSWORD", "LOGTAP_TEST_WRONG_KAFKA_PASSWORD");
    let cases = [
        (
            "a wrong password",
            wrong_password.clone(),
            Some("SASL authentication error"),
            "kafka.sasl_username",
        ),
        (
            "another CA",
            over_sasl_ssl(&f.config, "SASL_SSL", "SCRAM-SHA-256", &other_ca(dir)),
            Some("certificate verify failed"),
            "kafka.ssl_ca_location",
        ),
        (
            "plain text to the TLS listener",
            // librdkafka reports no cause here: the fix names the protocol.
            over_sasl_ssl(&f.config, "SASL_PLAINTEXT", "SCRAM-SHA-256", &ca),
            None,
            "kafka.security_protocol",
        ),
    ];
    for (what, config, cause, fix) in &cases {
        let path = write(dir, &format!("{}.toml", unique("bad")), config);
        let out = Command::new(env!("CARGO_BIN_EXE_logtap"))
            .args(["check", "--config"])
            .arg(&path)
            .env("LOGTAP_TEST_WRONG_KAFKA_PASSWORD", "not-the-password")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{what}: check must fail");
        let said = cause.is_none_or(|c| text.contains(c));
        assert!(said && text.contains(fix), "{what}: check must say why:\n{text}");
    }
    // `run` keeps trying, saying why in its log.
    let path = write(dir, "run.toml", &wrong_password);
    let l = Logtap::start_with_env(
        dir,
        &path,
        &[("LOGTAP_TEST_WRONG_KAFKA_PASSWORD", "not-the-password")],
    );
    let said =
        wait_until(Duration::from_secs(60), || l.log_text().contains("SASL authentication error"));
    assert!(said, "run must log the refused login:\n{}", l.log_text());
    l.kill9();
    drop_slot(&f.pg, &f.slot()).await;
}
