//! No secret in any output: `check`, `run` at debug log level, `status`,
//! the metrics and health endpoints, and a connection that fails, with
//! passwords from an environment variable and from a file, against the real
//! PostgreSQL (a role that must authenticate with SCRAM), MariaDB / MySQL
//! and Kafka (SASL settings a plain listener refuses). Each secret is
//! unique to the run, so finding it anywhere is a leak, not a coincidence.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    drop_slot, env, free_port, get, my_root, pg_superuser, read_at_least, unique, wait_until,
    Logtap, MyFixture, PgFixture,
};
use mysql_async::prelude::Queryable;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Everything logtap printed or served in one scenario, by where it came from.
#[derive(Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    fn add(&mut self, what: &str, text: String) {
        self.0.push((what.to_string(), text));
    }

    /// Fails naming the output and the line where any of `secrets` appears.
    fn assert_free_of(&self, secrets: &[&str]) {
        for (what, text) in &self.0 {
            for secret in secrets {
                if let Some(line) = text.lines().find(|l| l.contains(secret)) {
                    panic!("a secret appears in {what}: {line}");
                }
            }
        }
    }
}

/// `logtap <sub> --config <config>` with `vars` set: (succeeded, stdout+stderr).
fn cli(sub: &str, config: &Path, vars: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(sub.split_whitespace())
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "debug")
        .envs(vars.iter().copied())
        .output()
        .expect("logtap cli");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `logtap run` at debug level on `config` until it exits or `limit`
/// passes (then stopped): its log.
fn run_until_stopped(dir: &Path, config: &str, vars: &[(&str, &str)], limit: Duration) -> String {
    let path = dir.join(format!("{}.toml", unique("cfg")));
    std::fs::write(&path, config).unwrap();
    let mut vars = vars.to_vec();
    vars.push(("RUST_LOG", "debug"));
    let mut l = Logtap::start_with_env(dir, &path, &vars);
    wait_until(limit, || matches!(l.child.try_wait(), Ok(Some(_))));
    let _ = Command::new("kill").args(["-TERM", &l.child.id().to_string()]).status();
    wait_until(Duration::from_secs(30), || matches!(l.child.try_wait(), Ok(Some(_))));
    l.log_text()
}

/// A working capture: `check`, then `run` at debug level with metrics while
/// `write` makes three changes on `topic` once logtap's log says `ready`, `status`, `/metrics`,
/// `/healthz` and `/readyz` while it runs; then a stop. Returns the outputs.
async fn working_capture(
    dir: &Path,
    config: &str,
    vars: &[(&str, &str)],
    topic: &str,
    ready: &str,
    write: impl std::future::Future<Output = ()>,
) -> Outputs {
    let port = free_port();
    let config = format!("{config}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n");
    let path = dir.join("logtap.toml");
    std::fs::write(&path, &config).unwrap();
    let mut out = Outputs::default();
    let (ok, text) = cli("check", &path, vars);
    assert!(ok, "check must pass with the right secret:\n{text}");
    out.add("check", text);
    let mut vars = vars.to_vec();
    vars.push(("RUST_LOG", "debug"));
    let l = Logtap::start_with_env(dir, &path, &vars);
    let started = wait_until(Duration::from_secs(60), || l.log_text().contains(ready));
    assert!(started, "logtap never said `{ready}`:\n{}", l.log_text());
    write.await;
    let got = read_at_least(topic, 3, Duration::from_secs(60));
    assert_eq!(got.len(), 3, "the changes must arrive:\n{}", l.log_text());
    for path in ["/metrics", "/healthz", "/readyz"] {
        let (_, body) = get(port, path).unwrap_or_else(|| panic!("{path} answers"));
        out.add(path, body);
    }
    let (ok, text) = cli("status", &path, &vars);
    assert!(ok, "status:\n{text}");
    out.add("status", text);
    out.add("run (debug)", l.stop());
    out
}

/// A capture whose secret is wrong: `check` fails and `run` stops or
/// retries; both outputs.
fn failing_capture(dir: &Path, config: &str, vars: &[(&str, &str)], what: &str) -> Outputs {
    let path = dir.join("wrong.toml");
    std::fs::write(&path, config).unwrap();
    let mut out = Outputs::default();
    let (ok, text) = cli("check", &path, vars);
    assert!(!ok, "check must fail with the wrong secret:\n{text}");
    assert!(text.to_lowercase().contains(what), "check must say why ({what}):\n{text}");
    out.add("check (wrong secret)", text);
    let log = run_until_stopped(dir, config, vars, Duration::from_secs(20));
    assert!(log.to_lowercase().contains(what), "run must say why ({what}):\n{log}");
    out.add("run (wrong secret)", log);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passwords_from_a_file_and_the_environment_appear_nowhere() {
    let f = PgFixture::new("secpg", "id int PRIMARY KEY, v text").await;
    let role = f.prefix.to_lowercase().replace('-', "_");
    let secret = format!("Pg-{}-s3cret", unique("pw"));
    let wrong = format!("Wrong-{}-s3cret", unique("pw"));
    f.pg.batch_execute(&format!(
        "SET password_encryption = 'scram-sha-256';
         CREATE ROLE {role} LOGIN REPLICATION PASSWORD '{secret}' IN ROLE password_only;
         GRANT CREATE ON DATABASE {db} TO {role};
         ALTER TABLE {t} OWNER TO {role};",
        db = env("LOGTAP_PG_DB"),
        t = f.table,
    ))
    .await
    .unwrap();
    let dir = f.dir.path();
    let file = dir.join("pg-password");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let user_line = format!("user = \"{}\"", env("LOGTAP_PG_USER"));
    assert!(f.config.contains(&user_line), "{}", f.config);
    let base = f.config.replace(&user_line, &format!("user = \"{role}\""));
    let from_file = base.replace(
        "password_env = \"LOGTAP_PG_PASSWORD\"",
        &format!("password_file = \"{}\"", file.display()),
    );
    let pg = pg_superuser().await;
    let table = f.table.clone();
    // Written once logtap streams: changes before its slot exists are not streamed.
    let write = async move {
        pg.batch_execute(&format!("INSERT INTO {table} VALUES (1, 'a'), (2, 'b'), (3, 'c')"))
            .await
            .unwrap();
    };
    let mut all = working_capture(dir, &from_file, &[], &f.topic(), "streaming", write).await;
    let from_env = base.replace("LOGTAP_PG_PASSWORD", "LOGTAP_TEST_PG_SECRET");
    let failing =
        failing_capture(dir, &from_env, &[("LOGTAP_TEST_PG_SECRET", &wrong)], "authentication");
    all.0.extend(failing.0);
    all.assert_free_of(&[&secret, &wrong]);
    drop_slot(&f.pg, &f.slot()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_passwords_from_the_environment_and_a_file_appear_nowhere() {
    let f = MyFixture::new("secmy", &["CREATE TABLE t (id INT PRIMARY KEY, v TEXT)"]).await;
    let user = f.prefix.replace('-', "_");
    let secret = format!("My-{}-s3cret", unique("pw"));
    let wrong = format!("Wrong-{}-s3cret", unique("pw"));
    let mut root = my_root(None).await;
    root.query_drop(format!(
        "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{secret}';
         GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '{user}'@'127.0.0.1'"
    ))
    .await
    .unwrap();
    let user_line = format!("user = \"{}\"", env("LOGTAP_MYSQL_USER"));
    let base = f.config("");
    assert!(base.contains(&user_line), "{base}");
    let base = base.replace(&user_line, &format!("user = \"{user}\""));
    let from_env = base.replace("LOGTAP_MYSQL_PASSWORD", "LOGTAP_TEST_MY_SECRET");
    let conn = f.conn();
    let write = async move {
        let mut c = conn.await;
        c.query_drop("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')").await.unwrap();
        let _ = c.disconnect().await;
    };
    let dir = f.dir.path();
    let vars = [("LOGTAP_TEST_MY_SECRET", secret.as_str())];
    let mut all =
        working_capture(dir, &from_env, &vars, &f.topic("t"), "starting the binlog stream", write)
            .await;
    let file = dir.join("my-password");
    std::fs::write(&file, &wrong).unwrap();
    let from_file = base.replace(
        "password_env = \"LOGTAP_MYSQL_PASSWORD\"",
        &format!("password_file = \"{}\"", file.display()),
    );
    all.0.extend(failing_capture(dir, &from_file, &[], "access denied").0);
    all.assert_free_of(&[&secret, &wrong]);
    root.query_drop(format!("DROP USER '{user}'@'127.0.0.1'")).await.unwrap();
    f.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_source_kafka_sasl_password_appears_nowhere_when_the_broker_refuses() {
    let f = PgFixture::new("seckafka", "id int PRIMARY KEY").await;
    let secret = format!("Kafka-{}-s3cret", unique("pw"));
    let sasl = "security_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"SCRAM-SHA-256\"\n\
                sasl_username = \"logtap\"\nsasl_password_env = \"LOGTAP_TEST_KAFKA_SECRET\"\n";
    let config = f.config.replacen("[kafka]\n", &format!("[kafka]\n{sasl}"), 1);
    assert!(config.contains(sasl), "{config}");
    let vars = [("LOGTAP_TEST_KAFKA_SECRET", secret.as_str())];
    let path = f.dir.path().join("sasl.toml");
    std::fs::write(&path, &config).unwrap();
    let mut out = Outputs::default();
    let (ok, text) = cli("check", &path, &vars);
    assert!(!ok, "check must fail against a broker without SASL:\n{text}");
    out.add("check (SASL refused)", text);
    let log = run_until_stopped(f.dir.path(), &config, &vars, Duration::from_secs(20));
    assert!(log.contains("kafka") || log.contains("Kafka"), "run must talk of Kafka:\n{log}");
    out.add("run (SASL refused)", log);
    out.assert_free_of(&[&secret]);
    drop_slot(&f.pg, &f.slot()).await;
}
