//! Crashes and restarts around the MySQL source (MariaDB or MySQL, see
//! `MyServer`): logtap killed with SIGKILL again and again during a
//! 100k-change workload (with transaction metadata, whose numbers must
//! survive the kills too), and the server restarted under a running logtap. The topics, replayed by a
//! consumer that keeps the newest change per key, must equal the table.
//! A test binary of its own, so the server restart does not disturb other
//! tests (cargo runs test binaries one at a time); its two tests take turns.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    env, kill9_six_times, my_order, my_root, read_at_least, read_topic, read_topic_until,
    replay_rows, replay_violations, row_diff, seq, services_up, wait_exited, Got, Logtap,
    MyFixture, MyServer,
};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// The server restart must not happen during the other test.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The topic replayed in binlog order (see [`replay_rows`]).
fn replay(records: &[Got]) -> common::Replayed {
    replay_rows(records, my_order)
}

async fn table_rows(c: &mut mysql_async::Conn) -> BTreeMap<i64, Json> {
    let rows: Vec<(i64, i64, String)> =
        c.query("SELECT id, n, pad FROM t ORDER BY id").await.unwrap();
    rows.into_iter().map(|(id, n, pad)| (id, json!({"id": id, "n": n, "pad": pad}))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_a_100k_change_workload_loses_nothing() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let t_start = Instant::now();
    let f = MyFixture::new(
        "mykill9",
        &["CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, pad varchar(20) NOT NULL)"],
    )
    .await;
    // With transaction metadata: its numbers must survive the kills too.
    let cfg = f.config("") + "[record]\nprovide_transaction_metadata = true\n";
    let first = Logtap::start(f.dir.path(), &cfg);

    // Transactions of about 1000 changes: 600 inserts, then updates of the
    // previous transaction's even ids, deletes of ids = 1 mod 10 two
    // transactions back and key changes (+10,000,000) of ids = 7 mod 15
    // three back; no row changes twice in one transaction.
    let db = f.db.clone();
    let workload = tokio::spawn(async move {
        let mut c = my_root(Some(&db)).await;
        let range = |i: u64| (i * 600 + 1, i * 600 + 600);
        let mut changes = 0u64;
        let mut i = 0u64;
        while changes < 100_000 {
            c.query_drop("BEGIN").await.unwrap();
            let (a, b) = range(i);
            c.query_drop(format!(
                "INSERT INTO t SELECT seq, 0, concat('p', seq) FROM {}",
                seq(a, b)
            ))
            .await
            .unwrap();
            changes += c.affected_rows();
            let steps = [
                (1, "UPDATE t SET n = n + 1, pad = concat(pad, 'u') WHERE id % 2 = 0"),
                (2, "DELETE FROM t WHERE id % 10 = 1"),
                (3, "UPDATE t SET id = id + 10000000 WHERE id % 15 = 7"),
            ];
            for (back, sql) in steps {
                if i >= back {
                    let (a, b) = range(i - back);
                    c.query_drop(format!("{sql} AND id BETWEEN {a} AND {b}")).await.unwrap();
                    changes += c.affected_rows();
                }
            }
            c.query_drop("COMMIT").await.unwrap();
            i += 1;
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        (changes, i)
    });

    let (running, kills) = kill9_six_times(first, f.dir.path(), &cfg, 500, 1200, |_| true).await;
    let (changes, transactions) = workload.await.unwrap();
    let workload_done = t_start.elapsed();
    let mut root = f.conn().await;
    let expected = table_rows(&mut root).await;
    let topic = f.topic("t");
    read_topic_until(&topic, Duration::from_secs(120), |got| replay(got).rows == expected);
    let l = running;
    let log = l.stop();
    // Stopped with its position stored: the whole topic, replayed, is the table.
    let records = read_topic(&topic).records;
    let last = replay(&records);
    let done = last.rows == expected;
    let (violations, replayed) = replay_violations(&records);
    eprintln!(
        "{kills} kills; {transactions} transactions, {changes} changes; {} records ({replayed} replayed); \
         {} rows at the end; workload {:?}, all {:?}",
        records.len(),
        expected.len(),
        workload_done,
        t_start.elapsed()
    );
    assert!(kills >= 5);
    assert!(changes >= 100_000);
    assert!(done, "replayed topic != table: {}\n{log}", row_diff(&last.rows, &expected));
    assert!(
        last.backwards.is_empty(),
        "keys whose first deliveries went backwards: {:#?}",
        last.backwards
    );
    assert!(violations.is_empty(), "not a suffix replay: {violations:#?}");
    let txs = read_topic(&format!("{}.transaction", f.prefix)).records;
    eprintln!("{}", common::check_transaction_numbers(&records, &txs));
    f.drop_db().await;
}

/// Stops the harness's server (SHUTDOWN as root) and starts it again with
/// `scripts/services up`, which starts what is not running.
async fn restart_server() {
    let mut root = my_root(None).await;
    let pid_file: String = root.query_first("SELECT @@pid_file").await.unwrap().unwrap();
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let _ = root.query_drop("SHUTDOWN").await;
    drop(root);
    wait_exited(&pid, MyServer::get().name(), Duration::from_secs(60));
    services_up();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_is_retried_and_nothing_is_lost() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let _ = env("LOGTAP_SERVICES_DIR");
    let f = MyFixture::new("myrestart", &["CREATE TABLE t (id int PRIMARY KEY, n int)"]).await;
    let l = f.start("", "");
    f.exec(&[&format!("INSERT INTO t SELECT seq, 0 FROM {}", seq(1, 100))]).await;
    let topic = f.topic("t");
    assert_eq!(read_at_least(&topic, 100, Duration::from_secs(60)).len(), 100, "{}", l.log_text());

    restart_server().await;
    f.exec(&[
        &format!("INSERT INTO t SELECT seq, 1 FROM {}", seq(101, 150)),
        &format!("INSERT INTO t SELECT seq, 1 FROM {}", seq(151, 200)),
        "UPDATE t SET n = 2 WHERE id <= 10",
    ])
    .await;
    let distinct = |got: &[Got]| got.len() - replay_violations(got).1;
    read_topic_until(&topic, Duration::from_secs(120), |got| distinct(got) >= 210);
    let log = l.stop();
    // Stopped with its position stored: everything it sent is below the marks.
    let got = read_topic(&topic).records;
    let (violations, replayed) = replay_violations(&got);
    let ids: HashSet<i64> = got
        .iter()
        .filter(|g| g.value_json()["op"] == "c")
        .map(|g| g.value_json()["after"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 200, "rows after the restart:\n{log}");
    assert_eq!(got.len() - replayed, 210, "distinct records after the restart:\n{log}");
    assert!(violations.is_empty(), "{violations:#?}");
    let updated: HashSet<i64> = got
        .iter()
        .filter(|g| g.value_json()["op"] == "u" && g.value_json()["after"]["n"] == 2)
        .map(|g| g.value_json()["after"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(updated, (1..=10).collect(), "updates after the restart");
    // The restarted server writes a new binlog file; the records after the
    // restart come from it.
    let file = |g: &Got| g.value_json()["source"]["file"].as_str().unwrap_or("").to_string();
    let before = got.iter().filter(|g| g.value_json()["after"]["n"] == 0).map(file).max();
    let after = got.iter().filter(|g| g.value_json()["after"]["n"] == 1).map(file).min();
    assert!(after > before, "binlog files: before the restart {before:?}, after {after:?}");
    f.drop_db().await;
}
