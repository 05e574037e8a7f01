//! Real MySQL 9.7.4 binlog bytes (`binlog_row_metadata = FULL`, GTIDs on,
//! checksums CRC32), resolved with `table_columns` for MySQL: MySQL gives no
//! character set to GEOMETRY columns in the TABLE_MAP (MariaDB does), so
//! counting them as MariaDB does shifted every later column's character
//! set (and, with one charset per column, stopped the source at the first
//! table with a spatial column).
//!
//! Written by this SQL on the harness's MySQL 9.7 (`scripts/services`),
//! between two `FLUSH BINARY LOGS`; the bytes are that file, whole:
//!
//! ```sql
//! SET NAMES utf8mb4; SET SESSION time_zone = '+00:00';
//! CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci; USE shop;
//! CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(20), loc POINT,
//!   l1 VARCHAR(10) CHARACTER SET latin1, shape GEOMETRY, note TEXT,
//!   code CHAR(3) CHARACTER SET ascii, raw VARBINARY(4), e ENUM('a','bé') CHARACTER SET utf8mb4);
//! FLUSH BINARY LOGS;
//! INSERT INTO items VALUES
//!  (1, 'café', ST_GeomFromText('POINT(1 2)'), 'caf', ST_GeomFromText('LINESTRING(0 0,1 1)'),
//!   'nöte', 'abc', 0x00ff, 'bé'),
//!  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
//! UPDATE items SET l1 = 'xyz', note = 'n2' WHERE id = 1;
//! DELETE FROM items WHERE id = 2;
//! FLUSH BINARY LOGS;
//! ```
#![allow(clippy::unwrap_used)]

use base64::Engine;
use logtap_core::envelope::value_json;
use logtap_mysql::types::{
    column_schema, table_columns, Charset, ColumnType, Flavor, GeometryKind, TypeOptions,
};
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::EventData;
use mysql_common::binlog::BinlogFile;
use serde_json::{json, Value as Json};

const BINLOG: &str = "
/mJpbhU0EWsPAQAAAHsAAAB/AAAAAAAEADkuNy40LTIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAABMADQAIAAAAAAQABAAAAGMABBoIAAAAAAAAAgAAAAoKCioqABI0AAooAAABovbo3RU0EWsjAQAAAEcAAADGAAAAgAABAAAA
AAAAAMOa78fu+RHxr7MC/AAAAAEBAAAAAAAAAAEAAAAAAAAABAAAAAAAAAA/5+SVFTQRayEBAAAATwAAABUBAAAAAADDmu/H7vkR
8a+zAvwAAAABBAAAAAAAAAACAAAAAAAAAAABAAAAAAAAAFWF/kC3YQb85AFQYgEAvq2hdBU0EWsCAQAAAEsAAABgAQAACAAOAAAA
AAAAAAQAAB0AAAAAAAABIACgRQAAAAAGA3N0ZAT/AP8A/wAS/wBzaG9wAEJFR0lOqHLpXBU0EWsTAQAAAJQAAAD0AQAAAABYAAAA
AAABAARzaG9wAAVpdGVtcwAJAw//D//8/g/+DVAABAoABAL+AwQA9wH+AQEBAAMJ/P8ACPz/AAs/BwIBAAQlAmlkBG5hbWUDbG9j
AmwxBXNoYXBlBG5vdGUEY29kZQNyYXcBZQoD/P8ABgcCAWEDYsOpCAEADAL/gOGcEEsVNBFrHgEAAACXAAAAiwIAAAAAWAAAAAAA
EQACAAn//wAAAQAAAAVjYWbDqRkAAAAAAAAAAQEAAAAAAAAAAADwPwAAAAAAAABAA2NhZi0AAAAAAAAAAQIAAAACAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAPA/AAAAAAAA8D8FAG7DtnRlA2FiYwIA/wL+AQIAAAB7PTucFTQRaxABAAAAHwAAAKoCAAAAACwAAAAA
AAAAw0d2dxU0EWshAQAAAE8AAAD5AgAAAAAAw5rvx+75EfGvswL8AAAAAQUAAAAAAAAAAgEAAAAAAAAAAgAAAAAAAAChif5At2EG
/FMCUGIBAJ9ojO4VNBFrAgEAAABUAAAATQMAAAgADgAAAAAAAAAEAAAmAAAAAAAAASAAoEUAAAAABgNzdGQE/wD/AP8ACQEAAAAA
AAAAEv8Ac2hvcABCRUdJTisYdocVNBFrEwEAAACUAAAA4QMAAAAAWAAAAAAAAQAEc2hvcAAFaXRlbXMACQMP/w///P4P/g1QAAQK
AAQC/gMEAPcB/gEBAQADCfz/AAj8/wALPwcCAQAEJQJpZARuYW1lA2xvYwJsMQVzaGFwZQRub3RlBGNvZGUDcmF3AWUKA/z/AAYH
AgFhA2LDqQgBAAwC/4AeGpCSFTQRax8BAAAA/QAAAN4EAAAAAFgAAAAAABEAAgAJ/////wAAAQAAAAVjYWbDqRkAAAAAAAAAAQEA
AAAAAAAAAADwPwAAAAAAAABAA2NhZi0AAAAAAAAAAQIAAAACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAPA/AAAAAAAA8D8FAG7D
tnRlA2FiYwIA/wIAAAEAAAAFY2Fmw6kZAAAAAAAAAAEBAAAAAAAAAAAA8D8AAAAAAAAAQAN4eXotAAAAAAAAAAECAAAAAgAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAADwPwAAAAAAAPA/AgBuMgNhYmMCAP8ChNqjYhU0EWsQAQAAAB8AAAD9BAAAAAAtAAAAAAAAAN35
/1kVNBFrIQEAAABPAAAATAUAAAAAAMOa78fu+RHxr7MC/AAAAAEGAAAAAAAAAAIBAAAAAAAAAAMAAAAAAAAAsov+QLdhBvx3AVBi
AQCIR1XkFTQRawIBAAAASwAAAJcFAAAIAA4AAAAAAAAABAAAHQAAAAAAAAEgAKBFAAAAAAYDc3RkBP8A/wD/ABL/AHNob3AAQkVH
SU7x++KCFTQRaxMBAAAAlAAAACsGAAAAAFgAAAAAAAEABHNob3AABWl0ZW1zAAkDD/8P//z+D/4NUAAECgAEAv4DBAD3Af4BAQEA
Awn8/wAI/P8ACz8HAgEABCUCaWQEbmFtZQNsb2MCbDEFc2hhcGUEbm90ZQRjb2RlA3JhdwFlCgP8/wAGBwIBYQNiw6kIAQAMAv+A
73RiOxU0EWsgAQAAACoAAABVBgAAAABYAAAAAAARAAIACf///gECAAAA4f4KdRU0EWsQAQAAAB8AAAB0BgAAAAAuAAAAAAAAANdb
CZoVNBFrBAEAAAAsAAAAoAYAAAAABAAAAAAAAABiaW5sb2cuMDAwMDA30/rkjw==
";

/// A second file: a VECTOR column, which MySQL does give a character set
/// (binary) in the TABLE_MAP, next to JSON (none) and latin1 TEXT. Written by
///
/// ```sql
/// SET NAMES utf8mb4; SET SESSION time_zone = '+00:00';
/// CREATE DATABASE vecdb CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci; USE vecdb;
/// CREATE TABLE v (id INT NOT NULL PRIMARY KEY, vec VECTOR(3), j JSON, note TEXT CHARACTER SET latin1);
/// FLUSH BINARY LOGS;
/// INSERT INTO v VALUES (1, STRING_TO_VECTOR('[1.5,-2,0.25]'), '{"a": [1, 2]}', 'café'), (2, NULL, NULL, NULL);
/// FLUSH BINARY LOGS;
/// ```
const VECTOR_BINLOG: &str = "
/mJpbp9oEWsPAQAAAHsAAAB/AAAAAAAEADkuNy40LTIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAABMADQAIAAAAAAQABAAAAGMABBoIAAAAAAAAAgAAAAoKCioqABI0AAooAAABcN68JZ9oEWsjAQAAAEcAAADGAAAAgAABAAAA
AAAAAD6bjSnvFRHxqE0C/AAAAAEBAAAAAAAAAAEAAAAAAAAASwgAAAAAAAAHyOGnn2gRayEBAAAATwAAABUBAAAAAAA+m40p7xUR
8ahNAvwAAAABSwgAAAAAAAACAAAAAAAAAAABAAAAAAAAALsZqmK6YQb8awFQYgEA83Ue0Z9oEWsCAQAAAEwAAABhAQAACACaAAAA
AAAAAAUAAB0AAAAAAAABIACgRQAAAAAGA3N0ZAT/AP8A/wAS/wB2ZWNkYgBCRUdJThopZ7mfaBFrEwEAAABTAAAAtAEAAAAAeQAA
AAAAAQAFdmVjZGIAAXYABAPy9fwDBAQCDgEBAAMCPwgNAQMEDgJpZAN2ZWMBagRub3RlCAEADAHw/WoYOZ9oEWseAQAAAF4AAAAS
AgAAAAB5AAAAAAARAAIABP8AAQAAAAwAAAAAAMA/AAAAwAAAgD4XAAAAAAEAFgALAAEAAgwAYQIACgAFAQAFAgAEAGNhZukOAgAA
AGNnuqufaBFrEAEAAAAfAAAAMQIAAAAAtyEAAAAAAAB1AjZWn2gRawQBAAAALAAAAF0CAAAAAAQAAAAAAAAAYmlubG9nLjAwMDAw
OHcYHRY=
";

fn binlog() -> Vec<u8> {
    decode(BINLOG)
}

fn decode(b64: &str) -> Vec<u8> {
    let text: String = b64.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// Every row image of the file, as {column: value} with default options.
fn rows(flavor: Flavor) -> Vec<Json> {
    rows_of(&binlog(), flavor)
}

fn rows_of(bytes: &[u8], flavor: Flavor) -> Vec<Json> {
    let mut tme_cols = None;
    let mut out = Vec::new();
    for ev in BinlogFile::new(BinlogVersion::Version4, bytes).unwrap() {
        let ev = ev.unwrap();
        match ev.read_data().unwrap() {
            Some(EventData::TableMapEvent(tme)) => {
                let cols = table_columns(&tme, flavor).unwrap();
                tme_cols = Some((tme.into_owned(), cols));
            }
            Some(EventData::RowsEvent(re)) => {
                let (tme, cols) = tme_cols.as_ref().unwrap();
                for r in re.rows(tme) {
                    let (before, after) = r.unwrap();
                    for row in [before, after].into_iter().flatten() {
                        let mut m = serde_json::Map::new();
                        for (i, c) in cols.columns.iter().enumerate() {
                            let conv =
                                column_schema(&c.column_type, c.nullable, &TypeOptions::default());
                            let v = conv.convert(row.as_ref(i).unwrap()).unwrap();
                            m.insert(c.name.clone(), value_json(&v));
                        }
                        out.push(Json::Object(m));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn geometry_columns_take_no_character_set_on_mysql() {
    let bytes = binlog();
    let tme = BinlogFile::new(BinlogVersion::Version4, &bytes[..])
        .unwrap()
        .map(|ev| ev.unwrap())
        .find_map(|ev| match ev.read_data().unwrap() {
            Some(EventData::TableMapEvent(t)) => Some(t.into_owned()),
            _ => None,
        })
        .unwrap();
    let cols = table_columns(&tme, Flavor::Mysql).unwrap();
    let types: Vec<(&str, &ColumnType)> =
        cols.columns.iter().map(|c| (c.name.as_str(), &c.column_type)).collect();
    let text = |t: &ColumnType| match t {
        ColumnType::Text { charset } => Some(*charset),
        _ => None,
    };
    assert_eq!(types[0].0, "id");
    assert_eq!(text(types[1].1), Some(Charset::Utf8), "name: {types:?}");
    assert!(matches!(types[2].1, ColumnType::Geometry { kind: GeometryKind::Point }), "{types:?}");
    assert_eq!(text(types[3].1), Some(Charset::Latin1), "l1 after a POINT: {types:?}");
    assert!(matches!(types[4].1, ColumnType::Geometry { .. }), "{types:?}");
    assert_eq!(text(types[5].1), Some(Charset::Utf8), "note after a GEOMETRY: {types:?}");
    assert_eq!(text(types[6].1), Some(Charset::Ascii), "code: {types:?}");
    assert!(!matches!(types[7].1, ColumnType::Text { .. }), "raw is binary: {types:?}");
    assert_eq!(cols.primary_key, vec![0]);
}

#[test]
fn rows_after_spatial_columns_decode_with_their_own_character_sets() {
    let rows = rows(Flavor::Mysql);
    // insert ×2, update before/after, delete.
    assert_eq!(rows.len(), 5, "{rows:#?}");
    let r = &rows[0];
    assert_eq!(r["id"], 1);
    assert_eq!(r["name"], "café");
    assert_eq!(r["l1"], "caf");
    assert_eq!(r["note"], "nöte");
    assert_eq!(r["code"], "abc");
    assert_eq!(r["e"], "bé");
    assert_eq!(r["loc"]["x"], 1.0);
    assert_eq!(r["loc"]["y"], 2.0);
    assert_eq!(
        rows[1],
        json!({"id": 2, "name": null, "loc": null, "l1": null, "shape": null,
        "note": null, "code": null, "raw": null, "e": null})
    );
    assert_eq!(rows[3]["l1"], "xyz");
    assert_eq!(rows[3]["note"], "n2");
    assert_eq!(rows[4]["id"], 2);
}

#[test]
fn counted_as_on_mariadb_the_character_sets_would_not_fit() {
    let bytes = binlog();
    for ev in BinlogFile::new(BinlogVersion::Version4, &bytes[..]).unwrap() {
        if let Some(EventData::TableMapEvent(tme)) = ev.unwrap().read_data().unwrap() {
            // Either refused or decoded with shifted character sets: never equal.
            if let Ok(cols) = table_columns(&tme, Flavor::Mariadb) {
                let mysql = table_columns(&tme, Flavor::Mysql).unwrap();
                assert_ne!(cols, mysql);
            }
            return;
        }
    }
    panic!("no TABLE_MAP in the capture");
}

#[test]
fn a_vector_column_takes_a_character_set_on_mysql() {
    // Before VECTOR counted: "2 character sets for 1 character columns".
    let rows = rows_of(&decode(VECTOR_BINLOG), Flavor::Mysql);
    assert_eq!(
        rows,
        vec![
            json!({"id": 1, "vec": [1.5, -2.0, 0.25], "j": "{\"a\":[1,2]}", "note": "café"}),
            json!({"id": 2, "vec": null, "j": null, "note": null}),
        ]
    );
}
