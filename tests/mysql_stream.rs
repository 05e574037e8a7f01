//! The MySQL source end to end: real MariaDB 10.11 or MySQL 9.7 (see
//! `MyServer`; ROW binlog, FULL image and metadata, GTID), real Kafka, the
//! `logtap` binary. Each test has
//! its own database, topic prefix and server id, and starts logtap at the
//! GTID position taken after creating its tables, so the tests run in
//! parallel and none depends on when logtap connects.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    gtid_seq, last_gtid, my_order, my_root, my_threads, read_at_least, read_topic,
    read_topic_until, replay_violations, seq, wait_until, Got, Logtap, MyFixture, MyServer,
};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn op(g: &Got) -> String {
    g.value_json()["op"].as_str().unwrap_or("tombstone").to_string()
}

fn ops(rs: &[Got]) -> Vec<String> {
    rs.iter().map(op).collect()
}

/// Records grouped by their key, in partition order (a key has one partition).
fn by_key(rs: &[Got]) -> BTreeMap<String, Vec<Got>> {
    let mut m: BTreeMap<String, Vec<Got>> = BTreeMap::new();
    for g in rs {
        m.entry(g.key_str()).or_default().push(g.clone());
    }
    m
}

/// Exact JSON text, so column order counts too.
fn assert_row(got: &Json, want: Json, what: &str) {
    assert_eq!(got.to_string(), want.to_string(), "{what}");
}

/// Reads a topic until `n` records arrived, then waits and reads it again to
/// make sure nothing more comes (each change exactly once).
fn exactly(topic: &str, n: usize, l: &Logtap) -> Vec<Got> {
    let got = read_at_least(topic, n, Duration::from_secs(60));
    assert_eq!(got.len(), n, "records of {topic}; logtap log:\n{}", l.log_text());
    std::thread::sleep(Duration::from_secs(2));
    let again = read_topic(topic).records;
    assert_eq!(again.len(), n, "more records than changes in {topic}:\n{}", l.log_text());
    got
}

async fn q(c: &mut mysql_async::Conn, sql: &str) {
    c.query_drop(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Kills logtap's server threads not killed before: its binlog dump
/// threads (`dump`) or its other connections (the catalog reader's),
/// waiting up to 30 s for one to exist (after a kill, logtap reconnects).
async fn kill_new_threads(
    root: &mut mysql_async::Conn,
    l: &Logtap,
    dump: bool,
    killed: &mut Vec<u64>,
    round: u32,
) {
    let pid = l.child.id();
    let mut threads = Vec::new();
    for _ in 0..150 {
        threads = my_threads(root, pid, dump).await;
        threads.retain(|t| !killed.contains(t));
        if !threads.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let what = if dump { "binlog dump thread" } else { "catalog connection" };
    assert!(
        !threads.is_empty(),
        "round {round}: no (new) {what} of logtap (pid {pid}):\n{}",
        l.log_text()
    );
    for t in threads {
        q(root, &format!("KILL {t}")).await;
        killed.push(t);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_transactions_arrive_once_per_key_in_commit_order() {
    let f = MyFixture::new(
        "myi",
        &[
            "CREATE TABLE a (id int PRIMARY KEY, v varchar(20) NOT NULL)",
            "CREATE TABLE b (id int PRIMARY KEY, note text, big longtext)",
            "CREATE TABLE c (k1 int, k2 varchar(10), n int, PRIMARY KEY (k1, k2))",
            "CREATE TABLE d (v int)",
        ],
    )
    .await;
    let l = f.start("", "");
    let t0 = now_ms();
    let (mut c1, mut c2, mut c3) = (f.conn().await, f.conn().await, f.conn().await);
    let (id1, id3) = (c1.id(), c3.id());
    // A row far larger than one network packet of the binlog stream.
    let big: String = (0..300_000).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();

    q(&mut c1, "BEGIN").await;
    q(&mut c1, "INSERT INTO a VALUES (1, 'x')").await;
    q(&mut c2, "BEGIN").await;
    q(&mut c2, &format!("INSERT INTO b VALUES (1, 'n', '{big}')")).await;
    q(&mut c2, "INSERT INTO c VALUES (1, 'k', 1)").await;
    q(&mut c2, "COMMIT").await;
    let g1 = last_gtid(&mut c2).await;
    q(&mut c3, "BEGIN").await;
    q(&mut c3, "INSERT INTO a VALUES (10, 'r')").await;
    q(&mut c3, "INSERT INTO c VALUES (9, 'z', 9)").await;
    // The first transaction began first and commits second.
    q(&mut c1, "UPDATE a SET v = 'y' WHERE id = 1").await;
    q(&mut c1, "INSERT INTO a VALUES (2, 'z')").await;
    q(&mut c1, "COMMIT").await;
    let g2 = last_gtid(&mut c1).await;
    q(&mut c3, "ROLLBACK").await;
    q(&mut c2, "UPDATE b SET note = 'n2' WHERE id = 1").await;
    let g3 = last_gtid(&mut c2).await;
    q(&mut c2, "UPDATE a SET id = 3 WHERE id = 2").await;
    let g4 = last_gtid(&mut c2).await;
    q(&mut c1, "UPDATE c SET n = 2 WHERE k1 = 1").await;
    let g5 = last_gtid(&mut c1).await;
    q(&mut c3, "BEGIN").await;
    q(&mut c3, "DELETE FROM a WHERE id = 1").await;
    q(&mut c3, "INSERT INTO a VALUES (1, 'again')").await;
    q(&mut c3, "COMMIT").await;
    let g6 = last_gtid(&mut c3).await;
    q(&mut c1, "INSERT INTO c VALUES (2, 'a', 1), (2, 'b', 2), (3, 'a', 3)").await;
    let g7 = last_gtid(&mut c1).await;
    q(&mut c1, "UPDATE c SET n = n * 10 WHERE k1 = 2").await;
    let g7b = last_gtid(&mut c1).await;
    q(&mut c2, "DELETE FROM c WHERE k1 = 3").await;
    q(&mut c1, "BEGIN").await;
    q(&mut c1, "INSERT INTO a VALUES (20, 'keep')").await;
    q(&mut c1, "SAVEPOINT s").await;
    q(&mut c1, "INSERT INTO a VALUES (21, 'gone')").await;
    q(&mut c1, "ROLLBACK TO SAVEPOINT s").await;
    q(&mut c1, "COMMIT").await;
    q(&mut c2, "INSERT INTO d VALUES (1), (2)").await;
    q(&mut c2, "DELETE FROM d WHERE v = 1").await;
    // A new binlog file mid-stream.
    q(&mut c1, "FLUSH BINARY LOGS").await;
    q(&mut c3, "INSERT INTO a VALUES (30, 'after rotate')").await;
    let g12 = last_gtid(&mut c3).await;
    for g in [&g1, &g2, &g3, &g4, &g5, &g6, &g7, &g7b, &g12] {
        assert!(MyServer::get().is_gtid(g), "last GTID {g:?}");
    }

    // Then four connections at once, each on its own keys: per key an
    // insert, four updates and a delete, one transaction per step, and a
    // rolled-back transaction after each step.
    let db = f.db.clone();
    let workers = (0..4i32).map(|w| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut c = my_root(Some(&db)).await;
            for r in 0..6i32 {
                q(&mut c, "BEGIN").await;
                for j in 0..5 {
                    let k = 1000 * (w + 1) + j;
                    let sql = match r {
                        0 => format!("INSERT INTO a VALUES ({k}, 'w{w}r0')"),
                        5 => format!("DELETE FROM a WHERE id = {k}"),
                        _ => format!("UPDATE a SET v = 'w{w}r{r}' WHERE id = {k}"),
                    };
                    q(&mut c, &sql).await;
                }
                let sql = match r {
                    0 => format!("INSERT INTO c VALUES ({}, 'x', 0)", 100 + w),
                    5 => format!("DELETE FROM c WHERE k1 = {}", 100 + w),
                    _ => format!("UPDATE c SET n = {r} WHERE k1 = {}", 100 + w),
                };
                q(&mut c, &sql).await;
                q(&mut c, "COMMIT").await;
                tokio::time::sleep(Duration::from_millis(u64::from((w * 7 + r * 3) as u32 % 5)))
                    .await;
                q(&mut c, "BEGIN").await;
                q(
                    &mut c,
                    &format!("INSERT INTO a VALUES ({}, 'rolled back')", 1000 * (w + 1) + 500 + r),
                )
                .await;
                q(
                    &mut c,
                    &format!(
                        "UPDATE a SET v = 'rolled back' WHERE id BETWEEN {} AND {}",
                        1000 * (w + 1),
                        1000 * (w + 1) + 4
                    ),
                )
                .await;
                q(&mut c, "ROLLBACK").await;
            }
        })
    });
    for w in workers.collect::<Vec<_>>() {
        w.await.unwrap();
    }

    // Table a: 11 records from the scripted part, 7 per key from the workers.
    let ra = exactly(&f.topic("a"), 11 + 20 * 7, &l);
    let rb = exactly(&f.topic("b"), 2, &l);
    let rc = exactly(&f.topic("c"), 9 + 4 * 7, &l);
    read_at_least(&f.topic("d"), 3, Duration::from_secs(30));
    let log = l.stop();
    let rd = read_topic(&f.topic("d")).records;

    let ka = by_key(&ra);
    assert_eq!(ops(&ka[r#"{"id":1}"#]), ["c", "u", "d", "tombstone", "c"], "{log}");
    assert_eq!(ops(&ka[r#"{"id":2}"#]), ["c", "d", "tombstone"]);
    assert_eq!(ops(&ka[r#"{"id":3}"#]), ["c"]);
    assert_eq!(ops(&ka[r#"{"id":20}"#]), ["c"]);
    assert_eq!(ops(&ka[r#"{"id":30}"#]), ["c"]);
    for rolled_back in [r#"{"id":10}"#, r#"{"id":21}"#] {
        assert!(!ka.contains_key(rolled_back), "rolled-back row {rolled_back} was sent");
    }
    assert!(ra.iter().all(|g| !g.value_json().to_string().contains("rolled back")));

    // Values and images: before is the full row (binlog_row_image = FULL).
    let k1: Vec<Json> = ka[r#"{"id":1}"#].iter().map(Got::value_json).collect();
    assert_row(&k1[0]["after"], json!({"id": 1, "v": "x"}), "insert");
    assert_eq!(k1[0]["before"], Json::Null);
    assert_row(&k1[1]["before"], json!({"id": 1, "v": "x"}), "update before");
    assert_row(&k1[1]["after"], json!({"id": 1, "v": "y"}), "update after");
    assert_row(&k1[2]["before"], json!({"id": 1, "v": "y"}), "delete before");
    assert_eq!(k1[2]["after"], Json::Null);
    assert_row(&k1[4]["after"], json!({"id": 1, "v": "again"}), "insert after delete");

    // GTIDs: the transaction's own, as the server reports it to its session.
    let gtid = |v: &Json| v["source"]["gtid"].as_str().unwrap_or("none").to_string();
    assert_eq!(gtid(&k1[0]), g2, "the first insert is in the second commit");
    assert_eq!(gtid(&k1[1]), g2);
    assert_eq!(gtid(&k1[2]), g6);
    assert_eq!(gtid(&k1[4]), g6);
    assert!(my_order(&k1[0]) < my_order(&k1[1]), "insert before update in one transaction");
    assert!(my_order(&k1[2]) < my_order(&k1[4]), "delete before insert in one transaction");

    let server = MyServer::get();
    eprintln!("a {} record: {}", server.name(), k1[0]);
    // The source block of a record.
    let s = &k1[0]["source"];
    assert_eq!(s["connector"], server.connector(), "{s}");
    assert_eq!(s["name"], f.prefix.as_str());
    assert_eq!(s["db"], f.db.as_str());
    assert_eq!(s["table"], "a");
    assert_eq!(s["snapshot"], "false");
    assert_eq!(s["server_id"], 1);
    assert_eq!(s["sequence"], Json::Null);
    assert_eq!(s["query"], Json::Null);
    assert_eq!(s["row"], 0);
    assert!(s["version"].as_str().is_some_and(|v| !v.is_empty()), "{s}");
    assert!(s["file"].as_str().is_some_and(|v| v.starts_with("binlog.")), "{s}");
    assert!(s["pos"].as_u64().is_some_and(|p| p > 4), "{s}");
    assert!(
        s["thread"].is_null() || s["thread"].as_u64() == Some(u64::from(id1)),
        "thread {} is not the writing connection {id1}",
        s["thread"]
    );
    let ts = s["ts_ms"].as_i64().expect("source.ts_ms");
    assert!(ts >= t0 / 1000 * 1000 - 1000 && ts <= now_ms(), "source.ts_ms {ts} (test began {t0})");
    // The commit time: to the microsecond on MySQL (the GTID event's
    // original_commit_timestamp, as Debezium's), whole seconds on MariaDB.
    let ts_us = |v: &Json| v["source"]["ts_us"].as_i64().expect("source.ts_us");
    assert_eq!(ts_us(&k1[0]) / 1000, ts, "{s}");
    assert_eq!(s["ts_ns"].as_i64(), Some(ts_us(&k1[0]) * 1000), "{s}");
    let changes: Vec<&Json> = k1.iter().filter(|v| v["source"].is_object()).collect();
    let whole = changes.iter().filter(|v| ts_us(v) % 1_000_000 == 0).count();
    match server {
        MyServer::MySql => {
            assert!(whole < changes.len(), "every ts_us a whole second on MySQL: {changes:#?}")
        }
        MyServer::MariaDb => {
            assert_eq!(whole, changes.len(), "MariaDB logs whole seconds: {changes:#?}")
        }
    }
    let v0 = &k1[0];
    assert!(v0["ts_ms"].as_i64().unwrap() >= ts, "{v0}");
    assert_eq!(v0["ts_us"].as_i64().unwrap() / 1000, v0["ts_ms"].as_i64().unwrap());
    assert_eq!(v0["ts_ns"].as_i64().unwrap() / 1000, v0["ts_us"].as_i64().unwrap());
    let k6 = &ka[r#"{"id":1}"#][2].value_json();
    assert!(
        k6["source"]["thread"].is_null() || k6["source"]["thread"].as_u64() == Some(u64::from(id3)),
        "{k6}"
    );

    // Key change: delete of the old key with __debezium.newkey, tombstone, create with __debezium.oldkey.
    let k2 = &ka[r#"{"id":2}"#];
    assert_eq!(k2[1].headers, vec![("__debezium.newkey".to_string(), br#"{"id":3}"#.to_vec())]);
    assert_eq!(k2[1].value_json()["source"]["gtid"], g4.as_str());
    assert_eq!(k2[2].headers, k2[1].headers, "the tombstone carries the delete's headers");
    let k3 = &ka[r#"{"id":3}"#];
    assert_eq!(k3[0].headers, vec![("__debezium.oldkey".to_string(), br#"{"id":2}"#.to_vec())]);
    assert_row(&k3[0].value_json()["after"], json!({"id": 3, "v": "z"}), "new key row");
    assert_eq!(k3[0].value_json()["source"]["gtid"], g4.as_str());
    // After the binlog rotation: another file, still in order.
    let k30 = ka[r#"{"id":30}"#][0].value_json();
    assert_eq!(gtid(&k30), g12);
    assert!(
        k30["source"]["file"].as_str() > k1[4]["source"]["file"].as_str(),
        "rotated file {} vs {}",
        k30["source"]["file"],
        k1[4]["source"]["file"]
    );

    // The workers' keys: every committed step once, in commit order.
    for w in 0..4 {
        for j in 0..5 {
            let k = 1000 * (w + 1) + j;
            let rs = &ka[&format!("{{\"id\":{k}}}")];
            assert_eq!(ops(rs), ["c", "u", "u", "u", "u", "d", "tombstone"], "key {k}");
            let vals: Vec<Json> = rs.iter().map(Got::value_json).collect();
            for r in 0..5 {
                assert_row(&vals[r]["after"], json!({"id": k, "v": format!("w{w}r{r}")}), "step");
                if r > 0 {
                    assert_eq!(vals[r]["before"], vals[r - 1]["after"], "key {k} step {r}");
                    assert!(
                        gtid_seq(&gtid(&vals[r])) > gtid_seq(&gtid(&vals[r - 1])),
                        "key {k}: step {r} not after step {}",
                        r - 1
                    );
                }
            }
            assert_eq!(vals[5]["before"], vals[4]["after"]);
        }
    }

    // Table b: the 300 kB value, then an update keeping it (FULL image).
    let b: Vec<Json> = rb.iter().map(Got::value_json).collect();
    assert_eq!(b[0]["after"]["big"].as_str().map(str::len), Some(big.len()));
    assert_eq!(b[0]["after"]["big"], big.as_str());
    assert_eq!(gtid(&b[0]), g1);
    assert_eq!(b[1]["before"]["note"], "n");
    assert_eq!(b[1]["after"]["note"], "n2");
    assert_eq!(b[1]["after"]["big"], big.as_str());
    assert_eq!(gtid(&b[1]), g3);

    // Table c: composite keys, multi-row events and their row numbers.
    let kc = by_key(&rc);
    assert_eq!(ops(&kc[r#"{"k1":1,"k2":"k"}"#]), ["c", "u"]);
    let u = kc[r#"{"k1":1,"k2":"k"}"#][1].value_json();
    assert_row(&u["before"], json!({"k1": 1, "k2": "k", "n": 1}), "c before");
    assert_row(&u["after"], json!({"k1": 1, "k2": "k", "n": 2}), "c after");
    assert_eq!(gtid(&u), g5);
    assert!(!kc.contains_key(r#"{"k1":9,"k2":"z"}"#), "rolled-back row of c");
    assert_eq!(ops(&kc[r#"{"k1":3,"k2":"a"}"#]), ["c", "d", "tombstone"]);
    let inserted: Vec<Json> =
        ["{\"k1\":2,\"k2\":\"a\"}", "{\"k1\":2,\"k2\":\"b\"}", "{\"k1\":3,\"k2\":\"a\"}"]
            .iter()
            .map(|k| kc[*k][0].value_json())
            .collect();
    for (i, v) in inserted.iter().enumerate() {
        assert_eq!(gtid(v), g7);
        assert_eq!(v["source"]["row"], i, "row number in the multi-row insert: {v}");
        assert_eq!(v["source"]["pos"], inserted[0]["source"]["pos"], "one rows event");
    }
    let updated: Vec<Json> = ["{\"k1\":2,\"k2\":\"a\"}", "{\"k1\":2,\"k2\":\"b\"}"]
        .iter()
        .map(|k| kc[*k][1].value_json())
        .collect();
    assert_eq!(gtid(&updated[0]), g7b);
    assert_eq!(
        (updated[0]["source"]["row"].clone(), updated[1]["source"]["row"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(updated[1]["after"]["n"], 20);
    for w in 0..4 {
        let key = format!("{{\"k1\":{},\"k2\":\"x\"}}", 100 + w);
        assert_eq!(ops(&kc[&key]), ["c", "u", "u", "u", "u", "d", "tombstone"], "key {key}");
    }

    // Table d has no primary key: null keys.
    let dv: Vec<&Got> = rd.iter().filter(|g| g.value.is_some()).collect();
    assert_eq!(dv.len(), 3, "keyless table records: {rd:?}");
    assert!(dv.iter().all(|g| g.key.is_none()), "keyless table records have null keys");
    // The delete is followed by a tombstone, null key too (as Debezium's).
    let tombstones: Vec<&Got> = rd.iter().filter(|g| g.value.is_none()).collect();
    assert_eq!(tombstones.len(), 1, "keyless table tombstones: {rd:?}");
    assert!(tombstones[0].key.is_none());
    assert_eq!(
        dv.iter().map(|g| op(g)).collect::<HashSet<_>>(),
        ["c", "d"].iter().map(|s| s.to_string()).collect()
    );
    f.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_added_and_dropped_mid_stream_are_decoded_with_the_new_layout() {
    let f = MyFixture::new("myddl", &["CREATE TABLE t (id int PRIMARY KEY, v varchar(10))"]).await;
    let l = f.start("", "");
    f.exec(&[
        "INSERT INTO t VALUES (1, 'a')",
        "ALTER TABLE t ADD COLUMN n int NOT NULL DEFAULT 5 AFTER id",
        "INSERT INTO t VALUES (2, 7, 'b')",
        "UPDATE t SET v = 'a2' WHERE id = 1",
        "ALTER TABLE t DROP COLUMN v",
        "INSERT INTO t VALUES (3, 9)",
        "UPDATE t SET n = n + 1 WHERE id = 2",
        "ALTER TABLE t MODIFY n bigint NOT NULL",
        "INSERT INTO t VALUES (4, 5000000000)",
        "ALTER TABLE t RENAME COLUMN n TO m, ADD COLUMN s varchar(5) DEFAULT 'd'",
        "INSERT INTO t (id, m) VALUES (5, 1)",
        "DELETE FROM t WHERE id = 3",
        "ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (id, m)",
        "INSERT INTO t VALUES (6, 2, 'x')",
    ])
    .await;
    // Nine changes and the tombstone of the delete.
    let got = exactly(&f.topic("t"), 10, &l);
    l.stop();
    // One partition per key: order the records by their place in the binlog.
    let mut vals: Vec<(String, Json)> =
        got.iter().filter(|g| g.value.is_some()).map(|g| (g.key_str(), g.value_json())).collect();
    vals.sort_by_key(|(_, v)| my_order(v));
    let want = [
        (r#"{"id":1}"#, "c", Json::Null, json!({"id": 1, "v": "a"})),
        (r#"{"id":2}"#, "c", Json::Null, json!({"id": 2, "n": 7, "v": "b"})),
        (
            r#"{"id":1}"#,
            "u",
            json!({"id": 1, "n": 5, "v": "a"}),
            json!({"id": 1, "n": 5, "v": "a2"}),
        ),
        (r#"{"id":3}"#, "c", Json::Null, json!({"id": 3, "n": 9})),
        (r#"{"id":2}"#, "u", json!({"id": 2, "n": 7}), json!({"id": 2, "n": 8})),
        (r#"{"id":4}"#, "c", Json::Null, json!({"id": 4, "n": 5_000_000_000i64})),
        (r#"{"id":5}"#, "c", Json::Null, json!({"id": 5, "m": 1, "s": "d"})),
        (r#"{"id":3}"#, "d", json!({"id": 3, "m": 9, "s": "d"}), Json::Null),
        (r#"{"id":6,"m":2}"#, "c", Json::Null, json!({"id": 6, "m": 2, "s": "x"})),
    ];
    assert_eq!(vals.len(), want.len(), "{vals:?}");
    for ((key, v), (wkey, wop, wbefore, wafter)) in vals.iter().zip(want) {
        let what = format!("{wop} of {wkey}: {v}");
        assert_eq!(key, wkey, "{what}");
        assert_eq!(v["op"], wop, "{what}");
        assert_row(&v["before"], wbefore, &what);
        assert_row(&v["after"], wafter, &what);
    }
    f.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_and_exclude_lists_select_the_tables() {
    let ddl = [
        "CREATE TABLE keep1 (id int PRIMARY KEY)",
        "CREATE TABLE keep2 (id int PRIMARY KEY)",
        "CREATE TABLE skip (id int PRIMARY KEY)",
    ];
    let f = MyFixture::new("myfilt", &ddl).await;
    // Another database with a table of the same name, not in database_include_list.
    let other = format!("{}_other", f.db);
    let mut root = my_root(None).await;
    q(&mut root, &format!("CREATE DATABASE `{other}`")).await;
    q(&mut root, &format!("CREATE TABLE `{other}`.keep1 (id int PRIMARY KEY)")).await;
    let (db, p) = (&f.db, &f.prefix);
    let inc = f.start(&format!("table_include_list = [\"{db}.keep1\", \"{db}.keep2\"]"), "");
    let pexc = format!("{p}x");
    let exc = f.start_as(&pexc, &format!("table_exclude_list = [\"{db}.skip\"]"), "");
    // Debezium's meaning: whole-name regular expressions, case ignored.
    let pre = format!("{p}r");
    let upper = db.to_uppercase();
    let re = f.start_as(&pre, &format!("table_include_list = ['{upper}\\.KEEP\\d']"), "");
    f.exec(&[
        "INSERT INTO skip VALUES (1), (2)",
        &format!("INSERT INTO `{other}`.keep1 VALUES (1)"),
        "INSERT INTO keep1 VALUES (1)",
        "BEGIN",
        "INSERT INTO keep2 VALUES (1)",
        "UPDATE skip SET id = 3 WHERE id = 2",
        "INSERT INTO keep1 VALUES (2)",
        "COMMIT",
        "DELETE FROM skip",
        // Written last: once it arrives, everything before it was read.
        "INSERT INTO keep2 VALUES (2)",
    ])
    .await;
    for (l, prefix) in [(&inc, p.as_str()), (&exc, pexc.as_str()), (&re, pre.as_str())] {
        let keep2 = read_at_least(&format!("{prefix}.{db}.keep2"), 2, Duration::from_secs(60));
        assert_eq!(keep2.len(), 2, "{prefix}: keep2:\n{}", l.log_text());
        let keep1 = read_topic(&format!("{prefix}.{db}.keep1")).records;
        assert_eq!(keep1.len(), 2, "{prefix}: keep1");
        let skipped = read_topic(&format!("{prefix}.{db}.skip")).records;
        assert_eq!(skipped.len(), 0, "{prefix}: records of an excluded table: {skipped:?}");
        let foreign = read_topic(&format!("{prefix}.{other}.keep1")).records;
        assert_eq!(foreign.len(), 0, "{prefix}: records of a database not included");
    }
    inc.stop();
    exc.stop();
    re.stop();
    q(&mut root, &format!("DROP DATABASE `{other}`")).await;
    f.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_binlog_connection_is_reopened_and_nothing_is_lost() {
    let f = MyFixture::new("mykill", &["CREATE TABLE t (id int PRIMARY KEY, n int)"]).await;
    let l = f.start("", "");
    let mut root = my_root(Some(&f.db)).await;
    q(&mut root, &format!("INSERT INTO t SELECT seq, 0 FROM {}", seq(1, 100))).await;
    let topic = f.topic("t");
    assert_eq!(read_at_least(&topic, 100, Duration::from_secs(60)).len(), 100, "{}", l.log_text());

    let mut killed = Vec::new();
    for round in 0..2u32 {
        // logtap's dump thread (a new one after the first kill: it reconnected).
        kill_new_threads(&mut root, &l, true, &mut killed, round).await;
        // Changes while the connection is down, in several transactions.
        let base = 100 + round * 100;
        for i in 0..10 {
            let (from, to) = (base + i * 10 + 1, base + i * 10 + 10);
            q(
                &mut root,
                &format!("INSERT INTO t SELECT seq, {round} FROM {}", seq(from.into(), to.into())),
            )
            .await;
        }
        q(&mut root, &format!("UPDATE t SET n = n + 1 WHERE id <= {}", 10 * (round + 1))).await;
    }
    // 300 inserts, 10 + 20 updates.
    let want = 330;
    let distinct = |got: &[Got]| got.len() - replay_violations(got).1;
    read_topic_until(&topic, Duration::from_secs(90), |got| distinct(got) >= want);
    let log = l.stop();
    // Stopped with its position stored: everything it sent is below the marks.
    let got = read_topic(&topic).records;
    let (violations, replayed) = replay_violations(&got);
    eprintln!("{} records, {replayed} replayed, dump threads killed: {killed:?}", got.len());
    assert!(violations.is_empty(), "{violations:#?}");
    let ids: HashSet<i64> = got
        .iter()
        .filter(|g| g.value_json()["op"] == "c")
        .map(|g| g.value_json()["after"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 300, "rows after killed connections:\n{log}");
    assert_eq!(got.len() - replayed, want, "distinct records after killed connections:\n{log}");
    // The reconnection was a reconnection, not a restart of the process.
    assert!(killed.len() >= 2, "{killed:?}");
    f.drop_db().await;
}

/// The column defaults come from a second connection (information_schema),
/// read again after every DDL. Killing that connection, then changing a
/// default (a DDL that leaves the TABLE_MAP as it was), makes the next read
/// find it dead: logtap reads on a new connection, loses and reorders
/// nothing, and each change is first sent with the default of its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_catalog_connection_loses_nothing_and_defaults_follow_the_ddl() {
    let f =
        MyFixture::new("mycat", &["CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 5)"])
            .await;
    let l = f.start("", "[record]\nschemas_enable = true\n");
    let mut root = my_root(Some(&f.db)).await;
    q(&mut root, &format!("INSERT INTO t (id) SELECT seq FROM {}", seq(1, 20))).await;
    let topic = f.topic("t");
    assert_eq!(read_at_least(&topic, 20, Duration::from_secs(60)).len(), 20, "{}", l.log_text());
    let mut killed = Vec::new();
    for round in 1..=3u32 {
        kill_new_threads(&mut root, &l, false, &mut killed, round).await;
        q(&mut root, &format!("ALTER TABLE t ALTER COLUMN n SET DEFAULT {}", 5 + round)).await;
        let from = u64::from(round) * 20 + 1;
        q(&mut root, &format!("INSERT INTO t (id) SELECT seq FROM {}", seq(from, from + 19))).await;
        // The next round's DDL only after this round's rows were sent.
        let want = 20 * (round as usize + 1);
        let distinct = |got: &[Got]| got.len() - replay_violations(got).1;
        read_topic_until(&topic, Duration::from_secs(90), |got| distinct(got) >= want);
    }
    let log = l.stop();
    let got = read_topic(&topic).records;
    let (violations, replayed) = replay_violations(&got);
    assert!(violations.is_empty(), "{violations:#?}\n{log}");
    let mut first: BTreeMap<i64, Json> = BTreeMap::new();
    for g in &got {
        let v = g.value_json();
        first.entry(v["payload"]["after"]["id"].as_i64().unwrap()).or_insert(v);
    }
    assert_eq!(first.keys().copied().collect::<Vec<_>>(), (1..=80).collect::<Vec<_>>(), "{log}");
    for (id, v) in &first {
        let n = v["schema"]["fields"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == "n")
            .unwrap_or_else(|| panic!("no field n: {v}"))
            .clone();
        let round = (id - 1) / 20;
        assert_eq!(n["default"], json!(5 + round), "id {id}: {n}\n{log}");
        assert_eq!(v["payload"]["after"]["n"], json!(5 + round), "id {id}");
    }
    eprintln!("{} records, {replayed} replayed, catalog connections killed: {killed:?}", got.len());
    // A dead idle catalog connection is replaced, not a reason to restart
    // (a retry for another reason is allowed: the checks above hold anyway).
    let retries: Vec<&str> = log.lines().filter(|l| l.contains("retrying")).collect();
    eprintln!("retries: {retries:#?}");
    assert!(!retries.iter().any(|l| l.contains("catalog")), "{log}");
    assert!(killed.len() >= 3, "{killed:?}");
    f.drop_db().await;
}

/// Each DDL statement gives one schema-change record on the topic
/// `<topic_prefix>`, in its place: killed with SIGKILL between two DDL
/// statements (one of them run while logtap is down), logtap restarts
/// from its stored position and neither a schema-change record nor a row
/// is lost; each statement is first described with the columns it left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_changes_are_recorded_once_each_across_a_kill() {
    let f = MyFixture::new("myddl", &["CREATE TABLE t (id int PRIMARY KEY, n int)"]).await;
    let cfg = format!("{}[record]\nschemas_enable = true\n", f.config(""));
    // The fixture's start point is before the first DDL: no wait needed.
    let mut l = Some(Logtap::start(f.dir.path(), &cfg));
    let mut root = my_root(Some(&f.db)).await;
    let topic = f.topic("t");
    let mut logs = String::new();
    for round in 1..=5u64 {
        q(&mut root, &format!("ALTER TABLE t ADD COLUMN c{round} int DEFAULT {round}")).await;
        let from = round * 10;
        q(&mut root, &format!("INSERT INTO t (id) SELECT seq FROM {}", seq(from, from + 9))).await;
        if round == 3 {
            // Round 3 ran while logtap was down.
            l = Some(Logtap::start(f.dir.path(), &cfg));
        }
        read_topic_until(&topic, Duration::from_secs(60), |got| {
            got.iter().map(Got::key_str).collect::<HashSet<_>>().len() >= 10 * round as usize
        });
        if round == 2 {
            let killed = l.take().unwrap();
            logs.push_str(&killed.log_text());
            killed.kill9();
        }
    }
    logs.push_str(&l.take().unwrap().stop());
    let (violations, _) = replay_violations(&read_topic(&topic).records);
    assert!(violations.is_empty(), "{violations:#?}");
    let ids: HashSet<String> = read_topic(&topic).records.iter().map(Got::key_str).collect();
    assert_eq!(ids.len(), 50, "{logs}");
    // The schema changes of this test's database, first occurrences.
    let mut first: BTreeMap<String, Json> = BTreeMap::new();
    for g in read_topic(&f.prefix).records {
        let v = g.value_json();
        if v["payload"]["databaseName"] == f.db.as_str() {
            let ddl = v["payload"]["ddl"].as_str().unwrap().to_string();
            first.entry(ddl).or_insert(v);
        }
    }
    assert_eq!(first.len(), 5, "{:#?}\n{logs}", first.keys());
    for round in 1..=5u64 {
        let ddl = format!("ALTER TABLE t ADD COLUMN c{round} int DEFAULT {round}");
        let v =
            first.get(&ddl).unwrap_or_else(|| panic!("no record of {ddl}: {:#?}", first.keys()));
        let change = &v["payload"]["tableChanges"][0];
        assert_eq!(change["type"], "ALTER");
        assert_eq!(change["id"], format!("\"{}\".\"t\"", f.db));
        let columns: Vec<&str> = change["table"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        let mut want = vec!["id".to_string(), "n".to_string()];
        want.extend((1..=round).map(|i| format!("c{i}")));
        assert_eq!(columns, want, "{ddl}");
        let last = &change["table"]["columns"][columns.len() - 1];
        assert_eq!(last["defaultValueExpression"], round.to_string(), "{ddl}");
        assert_eq!(v["payload"]["source"]["db"], f.db.as_str());
        assert_eq!(v["payload"]["source"]["table"], "t");
    }
    f.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_stored_binlog_position_and_a_clean_restart_sends_nothing_twice() {
    let f = MyFixture::new("mystat", &["CREATE TABLE t (id int PRIMARY KEY, n int)"]).await;
    let l = f.start("", "");
    let mut root = my_root(Some(&f.db)).await;
    for i in 0..5 {
        q(&mut root, &format!("INSERT INTO t SELECT seq, 0 FROM {}", seq(i * 10 + 1, i * 10 + 10)))
            .await;
    }
    let ours = last_gtid(&mut root).await;
    let topic = f.topic("t");
    assert_eq!(read_at_least(&topic, 50, Duration::from_secs(60)).len(), 50, "{}", l.log_text());

    // While running: the position comes from the mirror file, and reaches our last transaction.
    let parse = |text: &str| -> Option<(String, u64, String)> {
        let line = text.lines().find(|l| l.contains("(this config)"))?;
        let rest = line.split("binlog ").nth(1)?;
        let (file, rest) = rest.split_once(':')?;
        let pos: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let gtid = rest.split("gtid ").nth(1)?.split_whitespace().next()?.to_string();
        Some((file.to_string(), pos.parse().ok()?, gtid))
    };
    let mut text = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            text = l.cli("status").1;
            parse(&text).is_some_and(|(_, _, g)| gtid_seq(&g) >= gtid_seq(&ours))
        }),
        "status while running does not reach {ours}:\n{text}"
    );
    let config = l.config.clone();
    let log = l.stop();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logtap"))
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let (file, pos, gtid) =
        parse(&text).unwrap_or_else(|| panic!("no binlog position in status:\n{text}\n{log}"));
    assert!(text.contains(&format!("{} (this config): binlog {file}:{pos}", f.prefix)), "{text}");
    assert!(
        gtid_seq(&gtid) >= gtid_seq(&ours),
        "stored {gtid} is before our last transaction {ours}"
    );
    let now = common::binlog_point(&mut root).await;
    assert!(
        gtid_seq(&gtid) <= gtid_seq(&now.gtid),
        "stored {gtid} is past the server's {}",
        now.gtid
    );
    // Name and size (MySQL adds a third column, Encrypted).
    let logs: Vec<(String, u64)> = root
        .query_map("SHOW BINARY LOGS", |r: mysql_async::Row| {
            (r.get::<String, _>(0).unwrap(), r.get::<u64, _>(1).unwrap())
        })
        .await
        .unwrap();
    let size = logs.iter().find(|(name, _)| *name == file).map(|(_, s)| *s);
    assert!(
        size.is_some_and(|s| pos <= s && pos >= 4),
        "stored {file}:{pos} is not within a binlog file of the server: {logs:?}"
    );

    // A restart after a clean stop resumes after what was sent: no duplicates.
    let l = Logtap::start_on(f.dir.path(), &config);
    q(&mut root, "INSERT INTO t VALUES (51, 0)").await;
    q(&mut root, "UPDATE t SET n = 1 WHERE id = 1").await;
    read_at_least(&topic, 52, Duration::from_secs(60));
    let log = l.stop();
    let got = read_topic(&topic).records;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for g in &got {
        *counts.entry(format!("{} {}", g.key_str(), op(g))).or_default() += 1;
    }
    let dups: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert_eq!(got.len(), 52, "records after a clean restart (duplicates: {dups:?}):\n{log}");
    assert!(dups.is_empty(), "{dups:?}");
    f.drop_db().await;
}

/// A position the server does not have (here a binlog file it never had;
/// after a purge it is the same answer, error 1236) is a lost position, not a
/// lost connection: logtap stops at once with exit status 3 and says how to
/// start over, instead of retrying forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binlog_position_the_server_does_not_have_stops_with_the_reset_status() {
    let f = MyFixture::new("mylost", &["CREATE TABLE t (id int PRIMARY KEY)"]).await;
    let gone = common::BinlogPoint {
        gtid: String::new(),
        file: "logtap-purged-bin.000001".into(),
        pos: 4,
    };
    let cfg = common::my_config(&f.prefix, &[&f.db], &gone, &f.dir.path().join("off"), "");
    let mut l = Logtap::start(f.dir.path(), &cfg);
    let mut status = None;
    assert!(
        wait_until(Duration::from_secs(60), || {
            status = l.child.try_wait().expect("try_wait");
            status.is_some()
        }),
        "logtap kept running on a position the server does not have:\n{}",
        l.log_text()
    );
    let log = l.log_text();
    assert_eq!(status.and_then(|s| s.code()), Some(3), "exit status for a lost position:\n{log}");
    assert!(log.contains("error 1236") && log.contains("logtap-purged-bin.000001"), "{log}");
    assert!(log.contains("fix: ") && log.contains("logtap reset"), "{log}");
    assert!(!log.contains("retrying"), "a lost position must not be retried:\n{log}");
    f.drop_db().await;
}

/// `[heartbeat] action_query` on MySQL/MariaDB: run on the catalog
/// connection at each heartbeat, its upserts into a captured table arrive as
/// changes, in order; the heartbeat records go to their own topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_action_query_runs_on_the_source_each_interval() {
    let f = MyFixture::new(
        "myhb",
        &[
            "CREATE TABLE hb (id int PRIMARY KEY, n int NOT NULL)",
            // logtap's user only reads; the action query writes.
            "GRANT INSERT, UPDATE ON hb TO 'cdc'@'%', 'cdc'@'localhost'",
        ],
    )
    .await;
    let action =
        format!("INSERT INTO `{}`.hb VALUES (1, 1) ON DUPLICATE KEY UPDATE n = n + 1", f.db);
    let l = f.start("", &format!("\n[heartbeat]\ninterval_ms = 300\naction_query = {action:?}\n"));
    let got = read_at_least(&f.topic("hb"), 3, Duration::from_secs(60));
    let beats =
        read_at_least(&format!("__debezium-heartbeat.{}", f.prefix), 3, Duration::from_secs(30));
    let log = l.stop();
    assert!(
        got.len() >= 3 && beats.len() >= 3,
        "{} changes, {} heartbeats:\n{log}",
        got.len(),
        beats.len()
    );
    let ns: Vec<i64> = read_topic(&f.topic("hb"))
        .records
        .iter()
        .map(|g| g.value_json()["after"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, (1..=ns.len() as i64).collect::<Vec<_>>(), "{log}");
    f.drop_db().await;
}

/// `offsets set` repositions by GTID and by file/position once the server
/// said it has the binlog there: the change before the position is not
/// sent, the one after it is. A file the server does not keep, an offset
/// inside an event and a GTID ahead of the server are refused, and leave
/// the stored position as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_set_repositions_where_the_server_has_the_binlog() {
    let f = MyFixture::new("myset", &["CREATE TABLE t (id int PRIMARY KEY)"]).await;
    let topic = f.topic("t");
    let mut root = my_root(Some(&f.db)).await;
    let l = f.start("", "");
    q(&mut root, "INSERT INTO t VALUES (1)").await;
    read_at_least(&topic, 1, Duration::from_secs(60));
    let config = l.config.clone();
    l.stop();
    q(&mut root, "INSERT INTO t VALUES (2)").await;
    let at = common::binlog_point(&mut root).await;
    q(&mut root, "INSERT INTO t VALUES (3)").await;
    let cli = |sub: &str| common::logtap_cli(sub, &config);
    let stored = cli("offsets show").1;
    let ahead = match MyServer::get() {
        MyServer::MariaDb => "0-1-999999999".to_string(),
        MyServer::MySql => format!("{}:1-999999999", at.gtid.split(':').next().unwrap().trim()),
    };
    for (bad, why) in [
        ("--file nosuch-bin.000001 --pos 4".to_string(), "has no binlog file"),
        (format!("--file {} --pos {}", at.file, at.pos - 1), "not where an event starts"),
        (format!("--gtid-set {ahead}"), "ahead of the server"),
    ] {
        let (ok, out) = cli(&format!("offsets set {bad}"));
        assert!(!ok && out.contains(why) && out.contains("nothing was stored"), "{bad}: {out}");
        assert_eq!(cli("offsets show").1, stored, "{bad} changed the stored position");
    }
    let ids = |got: &[Got]| -> Vec<i64> {
        got.iter()
            .filter(|g| g.value.is_some())
            .filter_map(|g| g.value_json()["after"]["id"].as_i64())
            .collect()
    };
    // By GTID: 2 is before the position, 3 after it.
    let gtids: String = at.gtid.split_whitespace().collect();
    let (ok, out) = cli(&format!("offsets set --gtid-set {gtids}"));
    assert!(ok, "{out}");
    let l = f.start("", "");
    let got = read_topic_until(&topic, Duration::from_secs(60), |g| ids(g).contains(&3));
    l.stop();
    let mut by_gtid = ids(&got);
    by_gtid.sort_unstable();
    assert_eq!(by_gtid, [1, 3], "by GTID");
    // By file and position: back to the same point, so 3 comes again.
    let (ok, out) = cli(&format!("offsets set --file {} --pos {}", at.file, at.pos));
    assert!(ok && out.contains("was stored at"), "{out}");
    let l = f.start("", "");
    let got = read_topic_until(&topic, Duration::from_secs(60), |g| ids(g).len() == 3);
    let log = l.stop();
    let mut by_file = ids(&got);
    by_file.sort_unstable();
    assert_eq!(by_file, [1, 3, 3], "by file and position:\n{log}");
}
