//! The envelope against the JSON Kafka Connect's `JsonConverter` writes for
//! Debezium's records: the `customers` example of Debezium's PostgreSQL
//! documentation, with the field order, optionality and names of Debezium 3.x
//! (envelope version 2, `ts_us`/`ts_ns`, transaction block after source).
#![allow(clippy::unwrap_used)]

use logtap_core::{
    ChangeEvent, Encoder, EnvelopeOptions, Field, Lsn, Op, RecordNames, Schema, SourcePosition,
    Struct, TableId, Value,
};
use std::sync::Arc;

fn customers(op: Op) -> ChangeEvent {
    let table = TableId::new("public", "customers");
    let names = RecordNames::new("dbserver1", &table);
    let key_schema =
        Arc::new(Schema::structure(&names.key, vec![Field::new("id", Schema::int32())]));
    let value_schema = Arc::new(Schema::structure(
        &names.value,
        vec![
            Field::new("id", Schema::int32()),
            Field::new("first_name", Schema::string()),
            Field::new("last_name", Schema::string()),
            Field::new("email", Schema::string()),
        ],
    ));
    let source_schema = Arc::new(logtap_core::event::source_schema(
        "io.debezium.connector.postgresql.Source",
        vec![
            Field::new("schema", Schema::string()),
            Field::new("table", Schema::string()),
            Field::new("txId", Schema::int64().optional()),
            Field::new("lsn", Schema::int64().optional()),
            Field::new("xmin", Schema::int64().optional()),
        ],
    ));
    let row = |email: &str| {
        Struct::new(
            value_schema.clone(),
            vec![
                Value::Int32(1),
                Value::String("Anne".into()),
                Value::String("Kretchmar".into()),
                Value::String(email.into()),
            ],
        )
        .unwrap()
    };
    let source = Struct::new(
        source_schema,
        vec![
            Value::String("3.0.0.Final".into()),
            Value::String("postgresql".into()),
            Value::String("dbserver1".into()),
            Value::Int64(1559033904863),
            Value::String("false".into()),
            Value::String("postgres".into()),
            Value::String("[\"24023119\",\"24023128\"]".into()),
            Value::Int64(1559033904863123),
            Value::Int64(1559033904863123000),
            Value::String("public".into()),
            Value::String("customers".into()),
            Value::Int64(555),
            Value::Int64(24023128),
            Value::Null,
        ],
    )
    .unwrap();
    let (before, after) = match op {
        Op::Create => (None, Some(row("annek@noanswer.org"))),
        Op::Update => (Some(row("annek@noanswer.org")), Some(row("anne@example.com"))),
        _ => (Some(row("annek@noanswer.org")), None),
    };
    ChangeEvent {
        table,
        op,
        key: Some(Struct::new(key_schema.clone(), vec![Value::Int32(1)]).unwrap()),
        key_schema: Some(key_schema),
        value_schema,
        before,
        after,
        source,
        processed_at_us: 1559033904863456,
        transaction: None,
        headers: vec![],
        position: SourcePosition::Postgres { lsn: Lsn(24023128), tx: None },
    }
}

fn text(bytes: &Option<Vec<u8>>) -> String {
    String::from_utf8(bytes.clone().expect("present")).unwrap()
}

#[test]
fn create_without_schemas_is_the_bare_payload() {
    let recs = Encoder::new(EnvelopeOptions::default()).encode(&customers(Op::Create));
    assert_eq!(recs.len(), 1);
    assert_eq!(text(&recs[0].key), r#"{"id":1}"#);
    assert_eq!(
        text(&recs[0].value),
        concat!(
            r#"{"before":null,"after":{"id":1,"first_name":"Anne","last_name":"Kretchmar","email":"annek@noanswer.org"},"#,
            r#""source":{"version":"3.0.0.Final","connector":"postgresql","name":"dbserver1","ts_ms":1559033904863,"snapshot":"false","db":"postgres","sequence":"[\"24023119\",\"24023128\"]","ts_us":1559033904863123,"ts_ns":1559033904863123000,"schema":"public","table":"customers","txId":555,"lsn":24023128,"xmin":null},"#,
            r#""transaction":null,"op":"c","ts_ms":1559033904863,"ts_us":1559033904863456,"ts_ns":1559033904863456000}"#
        )
    );
}

#[test]
fn key_with_schemas_matches_the_json_converter() {
    let enc = Encoder::new(EnvelopeOptions {
        schemas_enable: true,
        tombstones_on_delete: true,
        unwrap: None,
    });
    let recs = enc.encode(&customers(Op::Create));
    assert_eq!(
        text(&recs[0].key),
        r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"dbserver1.public.customers.Key"},"payload":{"id":1}}"#
    );
}

#[test]
fn value_schema_matches_the_json_converter() {
    let enc = Encoder::new(EnvelopeOptions {
        schemas_enable: true,
        tombstones_on_delete: true,
        unwrap: None,
    });
    let recs = enc.encode(&customers(Op::Update));
    let v: serde_json::Value = serde_json::from_slice(recs[0].value.as_ref().unwrap()).unwrap();
    let row_fields = r#"[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"first_name"},{"type":"string","optional":false,"field":"last_name"},{"type":"string","optional":false,"field":"email"}]"#;
    let expected_schema = format!(
        concat!(
            r#"{{"type":"struct","fields":["#,
            r#"{{"type":"struct","fields":{rf},"optional":true,"name":"dbserver1.public.customers.Value","field":"before"}},"#,
            r#"{{"type":"struct","fields":{rf},"optional":true,"name":"dbserver1.public.customers.Value","field":"after"}},"#,
            r#"{{"type":"struct","fields":["#,
            r#"{{"type":"string","optional":false,"field":"version"}},"#,
            r#"{{"type":"string","optional":false,"field":"connector"}},"#,
            r#"{{"type":"string","optional":false,"field":"name"}},"#,
            r#"{{"type":"int64","optional":false,"field":"ts_ms"}},"#,
            r#"{{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"}},"default":"false","field":"snapshot"}},"#,
            r#"{{"type":"string","optional":false,"field":"db"}},"#,
            r#"{{"type":"string","optional":true,"field":"sequence"}},"#,
            r#"{{"type":"int64","optional":true,"field":"ts_us"}},"#,
            r#"{{"type":"int64","optional":true,"field":"ts_ns"}},"#,
            r#"{{"type":"string","optional":false,"field":"schema"}},"#,
            r#"{{"type":"string","optional":false,"field":"table"}},"#,
            r#"{{"type":"int64","optional":true,"field":"txId"}},"#,
            r#"{{"type":"int64","optional":true,"field":"lsn"}},"#,
            r#"{{"type":"int64","optional":true,"field":"xmin"}}"#,
            r#"],"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,"field":"source"}},"#,
            r#"{{"type":"struct","fields":[{{"type":"string","optional":false,"field":"id"}},{{"type":"int64","optional":false,"field":"total_order"}},{{"type":"int64","optional":false,"field":"data_collection_order"}}],"optional":true,"name":"event.block","version":1,"field":"transaction"}},"#,
            r#"{{"type":"string","optional":false,"field":"op"}},"#,
            r#"{{"type":"int64","optional":true,"field":"ts_ms"}},"#,
            r#"{{"type":"int64","optional":true,"field":"ts_us"}},"#,
            r#"{{"type":"int64","optional":true,"field":"ts_ns"}}"#,
            r#"],"optional":false,"name":"dbserver1.public.customers.Envelope","version":2}}"#
        ),
        rf = row_fields
    );
    assert_eq!(serde_json::to_string(&v["schema"]).unwrap(), expected_schema);
    assert_eq!(v["payload"]["op"], "u");
    assert_eq!(v["payload"]["before"]["email"], "annek@noanswer.org");
    assert_eq!(v["payload"]["after"]["email"], "anne@example.com");
}

#[test]
fn delete_is_followed_by_a_tombstone_unless_disabled() {
    let on = Encoder::new(EnvelopeOptions::default()).encode(&customers(Op::Delete));
    assert_eq!(on.len(), 2);
    assert_eq!(on[1].key, on[0].key);
    assert_eq!(on[1].value, None);
    let v: serde_json::Value = serde_json::from_slice(on[0].value.as_ref().unwrap()).unwrap();
    assert_eq!(v["op"], "d");
    assert!(v["after"].is_null());
    let off = Encoder::new(EnvelopeOptions {
        schemas_enable: false,
        tombstones_on_delete: false,
        unwrap: None,
    })
    .encode(&customers(Op::Delete));
    assert_eq!(off.len(), 1);
}

#[test]
fn a_keyless_delete_is_followed_by_a_tombstone_with_a_null_key() {
    // As Debezium 3.6 writes it (tests/differential: all three servers).
    let mut e = customers(Op::Delete);
    e.key = None;
    let recs = Encoder::new(EnvelopeOptions::default()).encode(&e);
    assert_eq!(recs.len(), 2, "the delete and its tombstone");
    assert_eq!((recs[0].key.as_ref(), recs[1].key.as_ref()), (None, None));
    assert!(recs[0].value.is_some() && recs[1].value.is_none());
}

#[test]
fn connect_values_render_as_the_json_converter_does() {
    use logtap_core::envelope::{schema_json, value_json};
    let dec = Schema::bytes()
        .named("org.apache.kafka.connect.data.Decimal")
        .version(1)
        .param("scale", "2");
    assert_eq!(
        schema_json(&dec).to_string(),
        r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}}"#
    );
    // 123.45 at scale 2 is unscaled 12345 = 0x3039.
    assert_eq!(value_json(&Value::Bytes(vec![0x30, 0x39])).to_string(), r#""MDk=""#);
    assert_eq!(value_json(&Value::Float64(f64::NAN)).to_string(), r#""NaN""#);
    assert_eq!(value_json(&Value::Float64(f64::NEG_INFINITY)).to_string(), r#""-Infinity""#);
    assert_eq!(value_json(&Value::Float64(1.5)).to_string(), "1.5");
    assert_eq!(value_json(&Value::Float32(0.1)).to_string(), "0.1");
    assert_eq!(value_json(&Value::Float32(f32::INFINITY)).to_string(), r#""Infinity""#);
    let arr = Schema::array(Schema::string().optional()).optional();
    assert_eq!(
        schema_json(&arr).to_string(),
        r#"{"type":"array","items":{"type":"string","optional":true},"optional":true}"#
    );
    assert_eq!(
        value_json(&Value::Array(vec![Value::String("a".into()), Value::Null])).to_string(),
        r#"["a",null]"#
    );
    let map = Schema::map(Schema::string(), Schema::int32());
    assert_eq!(
        schema_json(&map).to_string(),
        r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false}"#
    );
    assert_eq!(
        value_json(&Value::Map(vec![(Value::String("k".into()), Value::Int32(1))])).to_string(),
        r#"{"k":1}"#
    );
    assert_eq!(
        value_json(&Value::Map(vec![(Value::Int32(7), Value::Int32(1))])).to_string(),
        "[[7,1]]"
    );
}

#[test]
fn a_null_field_with_a_default_is_written_as_the_default() {
    // Kafka Connect's JsonConverter (replace.null.with.default = true) and
    // Struct.get: Debezium's records show the default where the value is null.
    use logtap_core::envelope::struct_json;
    use logtap_core::{Field, Struct, Value};
    let schema = std::sync::Arc::new(Schema::structure(
        "t.Value",
        vec![
            Field::new("qty", Schema::int32().with_default(Value::Int32(7))),
            Field::new(
                "note",
                Schema::string().optional().with_default(Value::String("none".into())),
            ),
            Field::new("v", Schema::string().optional()),
        ],
    ));
    let s = Struct { schema, values: vec![Value::Null, Value::Null, Value::Null] };
    assert_eq!(struct_json(&s).to_string(), r#"{"qty":7,"note":"none","v":null}"#);
    let s = Struct { values: vec![Value::Int32(3), Value::String("x".into()), Value::Null], ..s };
    assert_eq!(struct_json(&s).to_string(), r#"{"qty":3,"note":"x","v":null}"#);
}

/// ExtractNewRecordState, mode by mode (the defaults and `rewrite` are
/// also checked against the Java transform in tests/differential.rs).
mod unwrap {
    use super::*;
    use logtap_core::unwrap::{DeleteHandling, Unwrap};

    fn enc(mode: DeleteHandling, add_fields: &[&str]) -> Encoder {
        let unwrap = Unwrap {
            delete_handling: mode,
            add_fields: add_fields.iter().map(|s| s.to_string()).collect(),
            ..Unwrap::default()
        };
        Encoder::new(EnvelopeOptions { unwrap: Some(unwrap), ..EnvelopeOptions::default() })
    }

    fn values(e: &Encoder, op: Op) -> Vec<Option<String>> {
        e.encode(&customers(op))
            .iter()
            .map(|r| r.value.as_ref().map(|v| String::from_utf8(v.clone()).unwrap()))
            .collect()
    }

    #[test]
    fn rows_replace_the_envelope_and_deletes_follow_the_mode() {
        let row =
            r#"{"id":1,"first_name":"Anne","last_name":"Kretchmar","email":"annek@noanswer.org"}"#;
        let e = enc(DeleteHandling::Tombstone, &[]);
        assert_eq!(values(&e, Op::Create), vec![Some(row.to_string())]);
        // A null value with a schema: the JSON null, not a Kafka tombstone.
        assert_eq!(values(&e, Op::Delete), vec![Some("null".to_string())]);
        assert_eq!(values(&enc(DeleteHandling::DeleteToTombstone, &[]), Op::Delete), vec![None]);
        assert!(values(&enc(DeleteHandling::Drop, &[]), Op::Delete).is_empty());
        let deleted = row.replace('}', r#","__deleted":"true"}"#);
        assert_eq!(
            values(&enc(DeleteHandling::RewriteWithTombstone, &[]), Op::Delete),
            vec![Some(deleted.clone()), None]
        );
        assert_eq!(values(&enc(DeleteHandling::Rewrite, &[]), Op::Delete), vec![Some(deleted)]);
        for mode in [DeleteHandling::Tombstone, DeleteHandling::Rewrite, DeleteHandling::Drop] {
            assert!(values(&enc(mode, &[]), Op::Truncate).is_empty(), "{mode:?}");
        }
    }

    #[test]
    fn added_fields_are_named_and_placed_as_debeziums() {
        let e = enc(
            DeleteHandling::Rewrite,
            &["op", "table", "source.ts_ms", "ts_ms", "db:DB", "id", "no_such_field"],
        );
        let v: serde_json::Value =
            serde_json::from_str(values(&e, Op::Update)[0].as_deref().unwrap()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "first_name",
                "last_name",
                "email",
                "__deleted",
                "__op",
                "__table",
                "__source_ts_ms",
                "__ts_ms",
                "__DB",
                "__id"
            ]
        );
        assert_eq!(v["__op"], "u");
        assert_eq!(v["__table"], "customers");
        assert_eq!(v["__source_ts_ms"], 1559033904863i64);
        assert_eq!(v["__ts_ms"], 1559033904863i64);
        assert_eq!(v["__DB"], "postgres");
        assert!(v["__id"].is_null(), "no transaction block");
    }
}
