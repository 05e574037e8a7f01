//! MariaDB column types through the real server, binlog and Kafka, as
//! Debezium's MySQL/MariaDB connector writes them: default modes with
//! `schemas.enable`, and the other decimal, BIGINT UNSIGNED, time and binary
//! modes. Expected values are computed here from the inserted literals
//! (days since the epoch, unscaled decimals, WKB), not copied from output.
#![allow(clippy::unwrap_used)]
#![recursion_limit = "256"]

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use common::{read_at_least, Got, MyFixture};
use serde_json::{json, Value as Json};
use std::time::Duration;

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the epoch of a UTC date and time of day.
fn epoch_ms(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> i64 {
    (days(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000
}

/// A Kafka Connect Decimal's bytes: the unscaled value as Java's
/// `BigInteger.toByteArray()` (shortest two's complement, big-endian), base64.
fn unscaled(v: i128) -> String {
    let b = v.to_be_bytes();
    let mut i = 0;
    while i < 15 && ((b[i] == 0 && b[i + 1] & 0x80 == 0) || (b[i] == 0xff && b[i + 1] & 0x80 != 0))
    {
        i += 1;
    }
    STANDARD.encode(&b[i..])
}

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// Little-endian WKB of a point.
fn wkb_point(x: f64, y: f64) -> Vec<u8> {
    let mut w = vec![1u8];
    w.extend(1u32.to_le_bytes());
    w.extend(x.to_le_bytes());
    w.extend(y.to_le_bytes());
    w
}

fn wkb_linestring(points: &[(f64, f64)]) -> Vec<u8> {
    let mut w = vec![1u8];
    w.extend(2u32.to_le_bytes());
    w.extend((points.len() as u32).to_le_bytes());
    for (x, y) in points {
        w.extend(x.to_le_bytes());
        w.extend(y.to_le_bytes());
    }
    w
}

const DDL: [&str; 3] = [
    "CREATE TABLE t (
       id int NOT NULL, k varchar(10) NOT NULL,
       c_tinyint tinyint, c_tinyint_u tinyint unsigned, c_smallint smallint,
       c_smallint_u smallint unsigned, c_mediumint mediumint, c_mediumint_u mediumint unsigned,
       c_int int NOT NULL, c_int_u int unsigned, c_bigint bigint, c_bigint_u bigint unsigned,
       c_decimal decimal(10,2), c_decimal_neg decimal(10,2), c_float float, c_double double,
       c_bit1 bit(1), c_bit10 bit(10),
       c_char char(5), c_varchar varchar(20), c_text text, c_emoji varchar(20),
       c_binary binary(4), c_varbinary varbinary(10), c_blob blob,
       c_date date, c_datetime datetime, c_datetime3 datetime(3), c_datetime6 datetime(6),
       c_timestamp timestamp NULL DEFAULT NULL, c_timestamp3 timestamp(3) NULL DEFAULT NULL,
       c_timestamp6 timestamp(6) NULL DEFAULT NULL,
       c_time time, c_time6 time(6), c_time_neg time, c_year year,
       c_enum enum('sad','ok','happy'), c_set set('a','b','c'),
       c_json json, c_json_plain json,
       c_geometry geometry, c_point point, c_linestring linestring,
       PRIMARY KEY (id, k))",
    "CREATE TABLE tk (d decimal(6,2), dt datetime(3), b binary(2), e enum('x','y'), v int,
       PRIMARY KEY (d, dt, b, e))",
    "CREATE TABLE tm (id int PRIMARY KEY, c_decimal decimal(10,2), c_bigint_u bigint unsigned,
       c_datetime6 datetime(6), c_datetime datetime, c_time time(3), c_date date,
       c_binary binary(4), c_blob blob, c_timestamp timestamp(3) NULL DEFAULT NULL)",
];

const ROW1: &str = "INSERT INTO t VALUES (1, 'a',
    -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
    -9223372036854775808, 18446744073709551615,
    12345.67, -0.50, 1.5, 2.25, b'1', b'1000000001',
    'ab', 'héllo', 'text', 'emoji 😀👋',
    X'0102', X'00ff00', X'deadbeef',
    '2024-02-29', '2024-02-29 12:34:56', '2024-02-29 12:34:56.123', '2024-02-29 12:34:56.123456',
    '2024-01-02 03:04:05', '2024-01-02 03:04:05.12', '2024-01-02 03:04:05.000001',
    '12:34:56', '12:34:56.789123', '-838:59:59', 2024,
    'ok', 'c,a', '{\"a\": [1, 2]}', '{\"b\": null}',
    ST_GeomFromText('POINT(1 2)', 4326), ST_GeomFromText('POINT(3.5 -4.25)'),
    ST_GeomFromText('LINESTRING(0 0,1 1)'))";

const TM_ROW: &str = "INSERT INTO tm VALUES (1, 12345.67, 18446744073709551615,
    '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56', '12:34:56.789', '2024-02-29',
    X'0102', X'fbff', '2024-01-02 03:04:05.12')";

fn record<'a>(got: &'a [Got], key_part: &str) -> &'a Got {
    got.iter()
        .find(|g| g.key_str().contains(key_part) && g.value.is_some())
        .unwrap_or_else(|| panic!("no record with key {key_part}: {got:?}"))
}

fn assert_columns(after: &Json, expected: &Json, what: &str) {
    for (k, want) in expected.as_object().unwrap() {
        assert_eq!(&after[k], want, "{what}: column {k}");
    }
    // And no column was left out of the expectation.
    let got: Vec<&String> = after.as_object().unwrap().keys().collect();
    let want: Vec<&String> = expected.as_object().unwrap().keys().collect();
    assert_eq!(got, want, "{what}: columns, in table order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_arrives_as_debezium_json() {
    let f = MyFixture::new("mytypes", &DDL).await;
    let db = f.db.clone();
    let l = f
        .start(&format!("json_columns = [\"{db}.t.c_json\"]"), "[record]\nschemas_enable = true\n");
    f.exec(&[
        ROW1,
        "INSERT INTO t (id, k, c_int) VALUES (2, 'b', 0)",
        "UPDATE t SET c_int = 43, c_varchar = 'changed' WHERE id = 1",
        "DELETE FROM t WHERE id = 2",
        "INSERT INTO tk VALUES (1.50, '2024-02-29 12:34:56.5', X'01', 'y', 1)",
        TM_ROW,
    ])
    .await;
    let got = read_at_least(&f.topic("t"), 5, Duration::from_secs(60));
    let tk = read_at_least(&f.topic("tk"), 1, Duration::from_secs(30));
    let tm = read_at_least(&f.topic("tm"), 1, Duration::from_secs(30));
    let log = l.stop();
    assert_eq!(got.len(), 5, "c, c, u, d, tombstone:\n{log}");

    let v = record(&got, "\"id\":1").value_json();
    assert_eq!(v["payload"]["op"], "c");
    let after = &v["payload"]["after"];
    let dt = epoch_ms(2024, 2, 29, 12, 34, 56);
    let mysql = common::MyServer::get() == common::MyServer::MySql;
    let expected = json!({
        "id": 1, "k": "a",
        "c_tinyint": -128, "c_tinyint_u": 255, "c_smallint": -32768, "c_smallint_u": 65535,
        "c_mediumint": -8388608, "c_mediumint_u": 16777215, "c_int": -2147483648i64,
        "c_int_u": 4294967295u64, "c_bigint": i64::MIN,
        // bigint.unsigned.handling.mode = long: a Java long, wrapped.
        "c_bigint_u": -1,
        "c_decimal": unscaled(1_234_567), "c_decimal_neg": unscaled(-50),
        "c_float": 1.5, "c_double": 2.25,
        // BIT(10) b'1000000001' (513) as little-endian bytes.
        "c_bit1": true, "c_bit10": b64(&513u16.to_le_bytes()),
        "c_char": "ab", "c_varchar": "héllo", "c_text": "text", "c_emoji": "emoji 😀👋",
        // BINARY(4) is padded with zeros to its length.
        "c_binary": b64(&[1, 2, 0, 0]), "c_varbinary": b64(&[0, 0xff, 0]),
        "c_blob": b64(&[0xde, 0xad, 0xbe, 0xef]),
        "c_date": days(2024, 2, 29),
        "c_datetime": dt, "c_datetime3": dt + 123, "c_datetime6": (dt + 123) * 1000 + 456,
        "c_timestamp": "2024-01-02T03:04:05Z", "c_timestamp3": "2024-01-02T03:04:05.120Z",
        "c_timestamp6": "2024-01-02T03:04:05.000001Z",
        "c_time": (12 * 3600 + 34 * 60 + 56) * 1_000_000i64,
        "c_time6": (12 * 3600 + 34 * 60 + 56) * 1_000_000i64 + 789_123,
        "c_time_neg": -(838 * 3600 + 59 * 60 + 59) * 1_000_000i64,
        "c_year": 2024, "c_enum": "ok", "c_set": "a,c",
        // MySQL's binary JSON as Debezium renders it (compact); MariaDB's
        // JSON is LONGTEXT in the binlog, passed on as typed (Debezium
        // 3.6.1's MariaDB connector does the same, tests/differential).
        "c_json": if mysql { "{\"a\":[1,2]}" } else { "{\"a\": [1, 2]}" },
        "c_json_plain": if mysql { "{\"b\":null}" } else { "{\"b\": null}" },
        // MySQL reads WKT in SRID 4326 as latitude-longitude and stores
        // longitude first; MariaDB keeps the order written.
        "c_geometry": {
            "wkb": b64(&if mysql { wkb_point(2.0, 1.0) } else { wkb_point(1.0, 2.0) }),
            "srid": 4326
        },
        "c_point": {"x": 3.5, "y": -4.25, "wkb": b64(&wkb_point(3.5, -4.25)), "srid": null},
        "c_linestring": {"wkb": b64(&wkb_linestring(&[(0.0, 0.0), (1.0, 1.0)])), "srid": null},
    });
    assert_columns(after, &expected, "row 1");

    // Row 2: NULLs everywhere but the key and the NOT NULL column.
    let v2 = record(&got, "\"id\":2").value_json();
    for (k, _) in expected.as_object().unwrap() {
        let want = match k.as_str() {
            "id" => json!(2),
            "k" => json!("b"),
            "c_int" => json!(0),
            _ => Json::Null,
        };
        assert_eq!(v2["payload"]["after"][k], want, "row 2: column {k}");
    }

    // The update: before and after images; the delete and its tombstone.
    let u = got.iter().find(|g| g.value.is_some() && g.value_json()["payload"]["op"] == "u");
    let u = u.expect("update record").value_json();
    assert_columns(&u["payload"]["before"], &expected, "update before");
    let mut changed = expected.clone();
    changed["c_int"] = json!(43);
    changed["c_varchar"] = json!("changed");
    assert_columns(&u["payload"]["after"], &changed, "update after");
    let d = got.iter().position(|g| g.value.is_some() && g.value_json()["payload"]["op"] == "d");
    let d = d.expect("delete record");
    assert_eq!(got[d].value_json()["payload"]["before"]["id"], 2);
    assert_eq!(got.get(d + 1).map(|g| g.value.is_none()), Some(true), "tombstone after the delete");
    assert_eq!(got[d + 1].key, got[d].key);

    // Keys: the primary key columns, schema and payload.
    let key: Json = serde_json::from_slice(got[0].key.as_ref().unwrap()).unwrap();
    assert_eq!(key["schema"]["name"], format!("{}.{db}.t.Key", f.prefix));
    assert_eq!(key["schema"]["optional"], false);
    let kf: Vec<(Json, Json, Json)> = key["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["field"].clone(), x["type"].clone(), x["optional"].clone()))
        .collect();
    assert_eq!(
        kf,
        vec![
            (json!("id"), json!("int32"), json!(false)),
            (json!("k"), json!("string"), json!(false))
        ]
    );
    let k1 = record(&got, "\"id\":1");
    let k1: Json = serde_json::from_slice(k1.key.as_ref().unwrap()).unwrap();
    assert_eq!(k1["payload"].to_string(), r#"{"id":1,"k":"a"}"#);
    // A key of a decimal, a DATETIME(3), a BINARY and an ENUM.
    assert_eq!(tk.len(), 1, "{log}");
    let tkey: Json = serde_json::from_slice(tk[0].key.as_ref().unwrap()).unwrap();
    assert_eq!(
        tkey["payload"],
        json!({"d": unscaled(150), "dt": dt + 500, "b": b64(&[1, 0]), "e": "y"})
    );
    assert_eq!(tk[0].value_json()["payload"]["after"]["v"], 1);

    // Schemas, as Debezium names them.
    let fields_of = |v: &Json, name: &str| -> Vec<Json> {
        v["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["field"] == name)
            .unwrap_or_else(|| panic!("no {name} in the envelope schema"))["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let fields = fields_of(&v, "after");
    let field = |name: &str| {
        fields
            .iter()
            .find(|x| x["field"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no field {name}"))
    };
    assert_eq!(v["schema"]["name"], format!("{}.{db}.t.Envelope", f.prefix));
    assert_eq!(v["schema"]["fields"][1]["name"], format!("{}.{db}.t.Value", f.prefix));
    let typ = |name: &str| (field(name)["type"].clone(), field(name)["optional"].clone());
    assert_eq!(typ("c_int"), (json!("int32"), json!(false)));
    assert_eq!(typ("c_tinyint"), (json!("int16"), json!(true)));
    assert_eq!(typ("c_tinyint_u"), (json!("int16"), json!(true)));
    assert_eq!(typ("c_smallint_u"), (json!("int32"), json!(true)));
    assert_eq!(typ("c_mediumint"), (json!("int32"), json!(true)));
    assert_eq!(typ("c_int_u"), (json!("int64"), json!(true)));
    assert_eq!(typ("c_bigint_u"), (json!("int64"), json!(true)));
    assert_eq!(typ("c_float"), (json!("float"), json!(true)));
    assert_eq!(typ("c_double"), (json!("double"), json!(true)));
    assert_eq!(typ("c_bit1"), (json!("boolean"), json!(true)));
    assert_eq!(typ("c_blob"), (json!("bytes"), json!(true)));
    assert_eq!(typ("c_varchar"), (json!("string"), json!(true)));
    let named = |name: &str| field(name)["name"].clone();
    assert_eq!(named("c_decimal"), "org.apache.kafka.connect.data.Decimal");
    assert_eq!(
        field("c_decimal")["parameters"],
        json!({"scale": "2", "connect.decimal.precision": "10"})
    );
    assert_eq!(named("c_bit10"), "io.debezium.data.Bits");
    assert_eq!(field("c_bit10")["parameters"], json!({"length": "10"}));
    assert_eq!(named("c_date"), "io.debezium.time.Date");
    assert_eq!(named("c_datetime"), "io.debezium.time.Timestamp");
    assert_eq!(named("c_datetime3"), "io.debezium.time.Timestamp");
    assert_eq!(named("c_datetime6"), "io.debezium.time.MicroTimestamp");
    assert_eq!(named("c_timestamp"), "io.debezium.time.ZonedTimestamp");
    assert_eq!(named("c_time"), "io.debezium.time.MicroTime");
    assert_eq!(named("c_year"), "io.debezium.time.Year");
    assert_eq!(named("c_enum"), "io.debezium.data.Enum");
    assert_eq!(field("c_enum")["parameters"]["allowed"], "sad,ok,happy");
    assert_eq!(named("c_set"), "io.debezium.data.EnumSet");
    assert_eq!(field("c_set")["parameters"]["allowed"], "a,b,c");
    assert_eq!(named("c_json"), "io.debezium.data.Json");
    if mysql {
        assert_eq!(named("c_json_plain"), "io.debezium.data.Json", "MySQL's binlog knows JSON");
    } else {
        assert_eq!(named("c_json_plain"), Json::Null, "a JSON column not in json_columns");
    }
    assert_eq!(typ("c_json_plain").0, "string");
    assert_eq!(named("c_geometry"), "io.debezium.data.geometry.Geometry");
    assert_eq!(named("c_point"), "io.debezium.data.geometry.Point");
    let source = fields_of(&v, "source");
    let source_schema =
        v["schema"]["fields"].as_array().unwrap().iter().find(|x| x["field"] == "source").unwrap();
    let connector = common::MyServer::get().connector();
    assert_eq!(source_schema["name"], format!("io.debezium.connector.{connector}.Source"));
    for name in ["file", "pos", "row", "gtid", "server_id", "thread", "query", "db", "table"] {
        assert!(source.iter().any(|x| x["field"] == name), "source field {name}");
    }

    // The default modes on the modes table (compared with the other modes below).
    assert_eq!(tm.len(), 1, "{log}");
    let a = &tm[0].value_json()["payload"]["after"];
    assert_eq!(a["c_decimal"], unscaled(1_234_567));
    assert_eq!(a["c_bigint_u"], -1);
    assert_eq!(a["c_datetime6"], (dt + 123) * 1000 + 456);
    assert_eq!(a["c_time"], (12 * 3600 + 34 * 60 + 56) * 1_000_000i64 + 789_000);
    assert_eq!(a["c_binary"], b64(&[1, 2, 0, 0]));
    assert_eq!(a["c_blob"], b64(&[0xfb, 0xff]));
    f.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_bigint_time_and_binary_modes() {
    let f = MyFixture::new("mymodes", &DDL).await;
    let db = f.db.clone();
    let only_tm = format!("table_include_list = [\"{db}.tm\"]");
    let (pm, pd) = (format!("{}m", f.prefix), format!("{}d", f.prefix));
    let lm = f.start_as(
        &pm,
        &format!(
            "{only_tm}\ndecimal_handling_mode = \"string\"\nbigint_unsigned_handling_mode = \"precise\"\n\
             time_precision_mode = \"connect\"\nbinary_handling_mode = \"hex\""
        ),
        "[record]\nschemas_enable = true\n",
    );
    let ld = f.start_as(
        &pd,
        &format!(
            "{only_tm}\ndecimal_handling_mode = \"double\"\nbinary_handling_mode = \"base64-url-safe\""
        ),
        "",
    );
    f.exec(&[TM_ROW]).await;
    let m = read_at_least(&format!("{pm}.{db}.tm"), 1, Duration::from_secs(60));
    let d = read_at_least(&format!("{pd}.{db}.tm"), 1, Duration::from_secs(30));
    let (logm, logd) = (lm.stop(), ld.stop());
    assert_eq!(m.len(), 1, "{logm}");
    assert_eq!(d.len(), 1, "{logd}");

    let dt = epoch_ms(2024, 2, 29, 12, 34, 56);
    let v = m[0].value_json();
    let expected = json!({
        "id": 1, "c_decimal": "12345.67",
        // precise: Decimal(20, 0) bytes of 18446744073709551615.
        "c_bigint_u": unscaled(18_446_744_073_709_551_615),
        // connect: milliseconds everywhere, TIME an int32.
        "c_datetime6": dt + 123, "c_datetime": dt,
        "c_time": (12 * 3600 + 34 * 60 + 56) * 1000 + 789, "c_date": days(2024, 2, 29),
        "c_binary": "01020000", "c_blob": "fbff",
        "c_timestamp": "2024-01-02T03:04:05.120Z",
    });
    assert_columns(&v["payload"]["after"], &expected, "string/precise/connect/hex");
    let fields = v["schema"]["fields"][1]["fields"].as_array().unwrap().clone();
    let field = |name: &str| fields.iter().find(|x| x["field"] == name).cloned().unwrap();
    assert_eq!(field("c_decimal")["type"], "string");
    assert_eq!(field("c_bigint_u")["name"], "org.apache.kafka.connect.data.Decimal");
    assert_eq!(
        field("c_bigint_u")["parameters"],
        json!({"scale": "0", "connect.decimal.precision": "20"})
    );
    assert_eq!(field("c_datetime6")["name"], "org.apache.kafka.connect.data.Timestamp");
    assert_eq!(field("c_time")["name"], "org.apache.kafka.connect.data.Time");
    assert_eq!(field("c_time")["type"], "int32");
    assert_eq!(field("c_date")["name"], "org.apache.kafka.connect.data.Date");
    assert_eq!(field("c_binary")["type"], "string");

    let a = &d[0].value_json()["after"];
    assert_eq!(a["c_decimal"], 12345.67);
    assert_eq!(a["c_binary"], URL_SAFE.encode([1, 2, 0, 0]));
    assert_eq!(a["c_blob"], URL_SAFE.encode([0xfb, 0xff]));
    assert_eq!(a["c_blob"], "-_8=");
    assert_eq!(a["c_bigint_u"], -1);
    f.drop_db().await;
}

/// A row reads the same from a snapshot as from the binlog: the same rows
/// (every type of this file's tables, NULLs and a second set of edge
/// values) are sent once by a logtap streaming them from before their
/// INSERTs and once by a logtap snapshotting the tables afterwards; each
/// row's `after` and the value schema must be equal. One exception, on
/// MySQL: a JSON value, which MySQL sends a client as its own text
/// (`{"a": [1, 2]}`) and the binlog as binary JSON, rendered as Debezium's
/// binlog client does (`{"a":[1,2]}`); Debezium's own snapshots differ the
/// same way. There the two must be the same JSON document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_reads_the_same_from_the_snapshot_and_from_the_binlog() {
    let mysql = common::MyServer::get() == common::MyServer::MySql;
    let f = MyFixture::new("mysnapid", &DDL).await;
    let db = f.db.clone();
    f.exec(&[
        ROW1,
        "INSERT INTO t (id, k, c_int) VALUES (2, 'b', 0)",
        "INSERT INTO t VALUES (3, 'ü''x',
            127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
            -12345678.99, 0.01, -3.4e38, -1.7976931348623157e308, b'0', b'0000000001',
            '', 'x\\'\"\\\\y', '', '',
            X'', X'', X'',
            '1000-01-01', '9999-12-31 23:59:59', '1970-01-01 00:00:00.001', '2038-01-19 03:14:07.999999',
            '1970-01-01 00:00:01', '2038-01-19 03:14:07.99', '2001-02-03 04:05:06.5',
            '00:00:00', '-00:00:00.000001', '838:59:59', 1901,
            'happy', '', '[]', '{\"k\": \"é\", \"n\": 1.5e300, \"t\": true}',
            ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), ST_GeomFromText('POINT(0 0)', 3857),
            ST_GeomFromText('LINESTRING(1 2,3 4,5 6)'))",
        "INSERT INTO tk VALUES (1.50, '2024-02-29 12:34:56.5', X'01', 'y', 1)",
        "INSERT INTO tk VALUES (-1.50, '1999-12-31 23:59:59.999', X'ff00', 'x', 2)",
        TM_ROW,
        // An INVISIBLE column is in the binlog's rows, and in the snapshot's
        // (the SELECT names every column).
        "CREATE TABLE tv (id int PRIMARY KEY, h varchar(10) INVISIBLE DEFAULT 'hid')",
        "INSERT INTO tv (id) VALUES (1)",
        // Keys of other kinds, paged one row a chunk (chunk_size = 1):
        // unsigned, TIMESTAMP, a latin1 string in its collation, binary.
        "CREATE TABLE tu (u bigint unsigned, ts timestamp(3) NOT NULL DEFAULT '2000-01-01',
            k varchar(10) CHARACTER SET latin1, b varbinary(4), PRIMARY KEY (u, ts, k, b))",
        "INSERT INTO tu VALUES (18446744073709551615, '2024-01-01 00:00:00.5', 'é', X'00'),
            (1, '1970-01-01 00:00:01', 'e', X'ff'), (1, '2038-01-01 00:00:00', 'E''', X''),
            (1, '2038-01-01 00:00:00', 'z', X'00ff'), (1, '2038-01-01 00:00:00', 'z', X'0100')",
    ])
    .await;
    let json_cols = format!("json_columns = [\"{db}.t.c_json\"]");
    let sections = "[record]\nschemas_enable = true\n";
    // Streams the INSERTs (the fixture's start point is before them).
    let streamed = f.start_as(&format!("{}s", f.prefix), &json_cols, sections);
    // Snapshots the tables from the binlog's end: no change to stream.
    let mut root = f.conn().await;
    let now = common::binlog_point(&mut root).await;
    let _ = root.disconnect().await;
    let dir = f.dir.path().join("snap");
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("{}r", f.prefix);
    let cfg = common::my_config(&prefix, &[&db], &now, &dir.join("off"), &json_cols);
    // MySQL's snapshot watermarks are rows of a signal table (never sent,
    // never snapshotted).
    let signal = if mysql {
        let user = common::env("LOGTAP_MYSQL_USER");
        f.exec(&[
            "CREATE TABLE sig (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
            &format!("GRANT INSERT, DELETE ON `{db}`.sig TO '{user}'@'%', '{user}'@'localhost'"),
        ])
        .await;
        format!("signal_data_collection = \"{db}.sig\"\n")
    } else {
        String::new()
    };
    let snap = common::Logtap::start(
        &dir,
        &format!("{cfg}{sections}[snapshot]\nmode = \"initial\"\nchunk_size = 1\n{signal}"),
    );
    for (table, n) in [("t", 3), ("tk", 2), ("tm", 1), ("tv", 1), ("tu", 5)] {
        let c = read_at_least(&format!("{}s.{db}.{table}", f.prefix), n, Duration::from_secs(60));
        let r = read_at_least(&format!("{prefix}.{db}.{table}"), n, Duration::from_secs(60));
        assert_eq!((c.len(), r.len()), (n, n), "{table}: records\n{}", snap.log_text());
        for c in &c {
            let cv = c.value_json();
            assert_eq!(cv["payload"]["op"], "c");
            let key = |g: &Got| -> Json {
                serde_json::from_slice::<Json>(g.key.as_deref().unwrap()).unwrap()["payload"]
                    .clone()
            };
            let r = r
                .iter()
                .find(|r| key(r) == key(c))
                .unwrap_or_else(|| panic!("{table}: no read with key {}", c.key_str()));
            let rv = r.value_json();
            assert_eq!(rv["payload"]["op"], "r", "{table}");
            let (mut ra, mut ca) = (rv["payload"]["after"].clone(), cv["payload"]["after"].clone());
            if mysql && table == "t" {
                for col in ["c_json", "c_json_plain"] {
                    let doc =
                        |v: &Json| v.as_str().map(|t| serde_json::from_str::<Json>(t).unwrap());
                    assert_eq!(doc(&ra[col]), doc(&ca[col]), "{table}: {col} as a document");
                    ra[col] = Json::Null;
                    ca[col] = Json::Null;
                }
            }
            assert_columns(&ra, &ca, table);
            // Equal but for the topic prefix in the names.
            let unnamed = |v: &Json, p: &str| v.to_string().replace(&format!("\"{p}."), "\"");
            assert_eq!(
                unnamed(&rv["schema"], &prefix),
                unnamed(&cv["schema"], &format!("{}s", f.prefix)),
                "{table}: value schema"
            );
            let src = &rv["payload"]["source"];
            assert!(src["snapshot"] != "false", "{table}: source.snapshot {src}");
            assert!(src["file"].as_str().is_some_and(|f| !f.is_empty()), "{src}");
        }
    }
    streamed.stop();
    snap.stop();
    f.drop_db().await;
}
