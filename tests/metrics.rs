//! `[metrics] listen`: `/metrics` parses as Prometheus text and its counters
//! equal what reached Kafka; `/healthz` answers; `/readyz` turns unready
//! while PostgreSQL is stopped or Kafka is paused and ready again after.
//! Against the real PostgreSQL and Kafka (PostgreSQL source).
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    drop_slot, env, free_port, get, read_topic, services_up, wait_confirmed, wait_until, Logtap,
    PgFixture,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// One test at a time: the readiness test stops the servers.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The fixture's config with an initial snapshot and the metrics listener.
fn with_metrics(f: &PgFixture, port: u16, snapshot: &str) -> String {
    let cfg = f.config.replace("mode = \"no_data\"", &format!("mode = \"{snapshot}\""));
    assert!(cfg.contains(&format!("mode = \"{snapshot}\"")), "{cfg}");
    format!("{cfg}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n")
}

/// The samples of `/metrics`, parsed by a Prometheus text parser, as
/// `name{label="v",...}` → value.
fn scrape(port: u16) -> BTreeMap<String, f64> {
    let (code, body) = get(port, "/metrics").expect("metrics listener");
    assert_eq!(code, 200, "{body}");
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let mut labels: Vec<String> =
                s.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            labels.sort();
            let name = if labels.is_empty() {
                s.metric
            } else {
                format!("{}{{{}}}", s.metric, labels.join(","))
            };
            let v = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                other => panic!("{name}: unexpected {other:?}"),
            };
            (name, v)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_count_what_reached_kafka() {
    let _serial = SERIAL.lock().await;
    let f = PgFixture::new("metrics", "id int PRIMARY KEY, n int").await;
    let t = &f.table;
    f.pg.batch_execute(&format!("INSERT INTO {t} SELECT g, 0 FROM generate_series(1, 50) g"))
        .await
        .unwrap();
    let port = free_port();
    let l = Logtap::start(f.dir.path(), &with_metrics(&f, port, "initial"));
    assert!(
        wait_until(Duration::from_secs(60), || l.log_text().contains("snapshot finished")),
        "{}",
        l.log_text()
    );
    // A workload of known shape: 30 inserts, 20 updates, 10 deletes, each
    // its own transaction.
    for i in 51..=80 {
        f.pg.batch_execute(&format!("INSERT INTO {t} VALUES ({i}, 0)")).await.unwrap();
    }
    for i in 1..=20 {
        f.pg.batch_execute(&format!("UPDATE {t} SET n = 1 WHERE id = {i}")).await.unwrap();
    }
    for i in 21..=30 {
        f.pg.batch_execute(&format!("DELETE FROM {t} WHERE id = {i}")).await.unwrap();
    }
    wait_confirmed(&f.pg, &f.slot(), &l).await;
    let m = scrape(port);
    let health = get(port, "/healthz").unwrap();
    let log = l.stop();
    drop_slot(&f.pg, &f.slot()).await;

    // What Kafka holds, by op (tombstones are not events).
    let mut in_kafka: BTreeMap<String, f64> = BTreeMap::new();
    for g in read_topic(&f.topic()).records.iter().filter(|g| g.value.is_some()) {
        *in_kafka.entry(g.value_json()["op"].as_str().unwrap().to_string()).or_default() += 1.0;
    }
    let want: BTreeMap<String, f64> =
        [("c", 30.0), ("d", 10.0), ("r", 50.0), ("u", 20.0)].map(|(k, v)| (k.into(), v)).into();
    assert_eq!(in_kafka, want, "records in Kafka:\n{log}");
    for (op, n) in &want {
        let key = format!("logtap_events_total{{op=\"{op}\"}}");
        assert_eq!(m.get(&key), Some(n), "{key}: {m:#?}");
    }
    let scanned = format!("logtap_snapshot_rows_scanned_total{{table=\"public.{t}\"}}");
    assert_eq!(m.get(&scanned), Some(&50.0), "{m:#?}");
    assert!(m["logtap_transactions_committed_total"] >= 60.0, "{m:#?}");
    assert_eq!(m["logtap_snapshot_running"], 0.0);
    assert_eq!(m["logtap_snapshot_tables_remaining"], 0.0);
    assert_eq!(m["logtap_source_connected"], 1.0);
    assert_eq!(m["logtap_kafka_reachable"], 1.0);
    assert_eq!(m["logtap_in_flight_records"], 0.0, "{m:#?}");
    assert!(m["logtap_in_flight_records_limit"] > 0.0);
    assert!(m["logtap_milliseconds_since_last_event"] >= 0.0);
    assert!(m.contains_key("logtap_milliseconds_behind_source"), "{m:#?}");
    assert!(m.contains_key("logtap_source_lag_bytes"), "{m:#?}");
    assert_eq!(health.0, 200);
}

/// Polls `/readyz` until its status is `code` (and the body says `why`).
fn wait_ready(port: u16, code: u16, why: &str, l: &Logtap, what: &str) {
    let mut last = None;
    let ok = wait_until(Duration::from_secs(90), || {
        last = get(port, "/readyz");
        last.as_ref().is_some_and(|(c, b)| *c == code && b.contains(why))
    });
    assert!(ok, "{what}: /readyz said {last:?}, expected {code} {why:?}:\n{}", l.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_source_and_kafka() {
    let _serial = SERIAL.lock().await;
    let f = PgFixture::new("ready", "id int PRIMARY KEY").await;
    let port = free_port();
    let l = Logtap::start(f.dir.path(), &with_metrics(&f, port, "no_data"));
    wait_ready(port, 200, "ready", &l, "at start");
    let (healthy, out) = l.cli("healthcheck");
    assert!(healthy && out.contains("healthy"), "{out}");

    // Kafka paused: its metadata requests time out.
    let pid_file = format!("{}/kafka/kafka.pid", env("LOGTAP_SERVICES_DIR"));
    let kafka = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let kill = |sig: &str| {
        assert!(std::process::Command::new("kill").args([sig, &kafka]).status().unwrap().success())
    };
    kill("-STOP");
    // Resumed even if the wait fails, so the other tests get their broker.
    let paused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_ready(port, 503, "Kafka does not answer", &l, "Kafka paused")
    }));
    kill("-CONT");
    paused.unwrap();
    wait_ready(port, 200, "ready", &l, "Kafka back");

    // PostgreSQL stopped: the source is not connected until it is back.
    let pg_ctl = format!("{}/pg_ctl", env("LOGTAP_PG_BIN"));
    let stopped = std::process::Command::new("runuser")
        .args([
            "-u",
            "postgres",
            "--",
            &pg_ctl,
            "-D",
            &env("LOGTAP_PG_DATA"),
            "-m",
            "fast",
            "-w",
            "stop",
        ])
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(stopped.success(), "pg_ctl stop failed; logtap:\n{}", l.log_text());
    let down = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_ready(port, 503, "the source is not connected", &l, "PostgreSQL stopped")
    }));
    tokio::task::block_in_place(services_up);
    down.unwrap();
    wait_ready(port, 200, "ready", &l, "PostgreSQL back");
    assert_eq!(get(port, "/healthz").map(|(c, _)| c), Some(200));
    let log = l.stop();
    let pg = common::pg_superuser().await;
    drop_slot(&pg, &f.slot()).await;
    assert!(log.contains("retrying"), "{log}");
}
