//! PostgreSQL shut down and restarted under a running logtap: it retries,
//! resumes from its stored position, and nothing is lost. A test binary of
//! its own, so the restart does not disturb other tests (cargo runs test
//! binaries one at a time).
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    drop_slot, env, pg_superuser, read_at_least, read_topic, read_topic_until, Got, PgFixture,
};
use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_is_retried_and_nothing_is_lost() {
    let f = PgFixture::new("pgrestart", "id int PRIMARY KEY").await;
    let t = &f.table;
    let l = f.start();
    f.pg.batch_execute(&format!("INSERT INTO {t} SELECT generate_series(1, 100);")).await.unwrap();
    let topic = f.topic();
    assert_eq!(read_at_least(&topic, 100, Duration::from_secs(30)).len(), 100);

    // The server under test (scripts/services env): pg/ for the system's
    // major, pg-<major>/ for one from npm.
    let data = env("LOGTAP_PG_DATA");
    let pg_ctl = format!("{}/pg_ctl", env("LOGTAP_PG_BIN"));
    // The restarted server inherits pg_ctl's stdout/stderr: no pipes, or
    // waiting for their end would wait for the server to stop.
    let log = env("LOGTAP_PG_LOG");
    let status = Command::new("runuser")
        .args([
            "-u", "postgres", "--", &pg_ctl, "-D", &data, "-m", "fast", "-w", "-l", &log, "restart",
        ])
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "pg_ctl restart failed; see {log}");

    let pg = pg_superuser().await;
    pg.batch_execute(&format!("INSERT INTO {t} SELECT generate_series(101, 200);")).await.unwrap();
    let ids = |got: &[Got]| -> HashSet<i64> {
        got.iter().map(|g| g.value_json()["after"]["id"].as_i64().unwrap()).collect()
    };
    read_topic_until(&topic, Duration::from_secs(90), |got| ids(got).len() == 200);
    let log = l.stop();
    drop_slot(&pg, &f.slot()).await;
    // Stopped with its position stored: each row is there (replays may repeat some).
    let got = read_topic(&topic).records;
    assert_eq!(ids(&got), (1..=200).collect::<HashSet<i64>>(), "rows after the restart:\n{log}");
    assert!(log.contains("retrying"), "the lost server should be logged:\n{log}");
}
