//! `logtap config from-debezium FILE`: a Debezium connector configuration
//! (Kafka Connect's connector JSON, a connector `.properties`, or Debezium
//! Server's `application.properties`) printed as the equivalent logtap
//! TOML. Every property is either carried (to the logtap option with the
//! same meaning) or listed at the end with the reason it is not: none is
//! dropped silently. Secrets are never copied: the password becomes an
//! environment variable to set.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The translated configuration and what could not be carried.
#[derive(Debug, Default)]
pub struct Translation {
    pub toml: String,
    /// (Debezium property, why logtap does not take it).
    pub not_carried: Vec<(String, String)>,
    /// The properties carried into the TOML.
    pub carried: Vec<String>,
}

/// Reads `text` as connector JSON or properties (Debezium Server's
/// `debezium.source.*` keys are taken without the prefix).
pub fn parse(text: &str) -> Result<BTreeMap<String, String>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(text).context("the file starts with `{` but is not JSON")?;
        let name = v.get("name").and_then(|n| n.as_str()).map(str::to_string);
        let config = v.get("config").unwrap_or(&v);
        let Some(map) = config.as_object() else {
            bail!("the JSON has no `config` object (Kafka Connect's connector JSON)")
        };
        let mut out: BTreeMap<String, String> = map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect();
        if let Some(n) = name {
            out.entry("name".into()).or_insert(n);
        }
        return Ok(out);
    }
    let mut out = BTreeMap::new();
    for (k, v) in properties(text) {
        match k.strip_prefix("debezium.source.") {
            Some(inner) => out.insert(inner.to_string(), v),
            None => out.insert(k, v),
        };
    }
    Ok(out)
}

/// Java `.properties` lines: `key=value`, `key: value` or `key value`,
/// `#`/`!` comments, a trailing `\` continues the line.
fn properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\').filter(|l| !l.ends_with('\\')) {
            logical.push_str(cont);
            continue;
        }
        logical.push_str(line);
        let whole = std::mem::take(&mut logical);
        let split = whole
            .char_indices()
            .find(|(i, c)| "=: ".contains(*c) && !whole[..*i].ends_with('\\'))
            .map(|(i, _)| i);
        let (k, v) = match split {
            Some(i) => (&whole[..i], whole[i + 1..].trim_start_matches(['=', ':', ' '])),
            None => (whole.as_str(), ""),
        };
        out.push((unescape(k.trim()), unescape(v.trim())));
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Which source section the connector class asks for.
#[derive(Clone, Copy, PartialEq)]
enum Source {
    Postgres,
    Mysql,
}

/// Debezium property → logtap option of the source section, same value.
const SAME_VALUE: &[(&str, &str, Option<Source>)] = &[
    ("database.hostname", "host", None),
    ("database.port", "port", None),
    ("database.user", "user", None),
    ("database.dbname", "database", Some(Source::Postgres)),
    ("slot.name", "slot_name", Some(Source::Postgres)),
    ("publication.name", "publication_name", Some(Source::Postgres)),
    ("publication.autocreate.mode", "publication_autocreate_mode", Some(Source::Postgres)),
    ("database.sslmode", "sslmode", Some(Source::Postgres)),
    ("database.sslrootcert", "sslrootcert", Some(Source::Postgres)),
    ("database.ssl.mode", "ssl_mode", Some(Source::Mysql)),
    ("database.server.id", "server_id", Some(Source::Mysql)),
    ("decimal.handling.mode", "decimal_handling_mode", None),
    ("time.precision.mode", "time_precision_mode", None),
    ("binary.handling.mode", "binary_handling_mode", None),
    ("interval.handling.mode", "interval_handling_mode", Some(Source::Postgres)),
    ("bigint.unsigned.handling.mode", "bigint_unsigned_handling_mode", Some(Source::Mysql)),
    ("event.processing.failure.handling.mode", "event_processing_failure_handling_mode", None),
    ("include.unknown.datatypes", "include_unknown_datatypes", Some(Source::Postgres)),
    ("include.schema.changes", "include_schema_changes", Some(Source::Mysql)),
    ("enable.time.adjuster", "enable_time_adjuster", Some(Source::Mysql)),
    ("status.update.interval.ms", "status_interval_ms", Some(Source::Postgres)),
    ("connect.timeout.ms", "connect_timeout_ms", Some(Source::Mysql)),
    ("heartbeat.interval.ms", "heartbeat.interval_ms", None),
    ("topic.heartbeat.prefix", "heartbeat.topic_prefix", None),
    ("heartbeat.action.query", "heartbeat.action_query", None),
    ("snapshot.mode", "snapshot.mode", None),
    ("signal.data.collection", "snapshot.signal_data_collection", None),
    ("incremental.snapshot.chunk.size", "snapshot.chunk_size", None),
    ("tombstones.on.delete", "record.tombstones_on_delete", None),
    ("provide.transaction.metadata", "record.provide_transaction_metadata", None),
    ("topic.transaction", "record.transaction_topic", None),
];

/// Debezium's list properties (comma-separated regular expressions).
const LISTS: &[(&str, &str, Option<Source>)] = &[
    ("schema.include.list", "schema_include_list", Some(Source::Postgres)),
    ("schema.exclude.list", "schema_exclude_list", Some(Source::Postgres)),
    ("database.include.list", "database_include_list", Some(Source::Mysql)),
    ("database.exclude.list", "database_exclude_list", Some(Source::Mysql)),
    ("table.include.list", "table_include_list", None),
    ("table.exclude.list", "table_exclude_list", None),
    ("column.include.list", "column_include_list", None),
    ("column.exclude.list", "column_exclude_list", None),
];

/// Properties whose job logtap does otherwise, or that do not apply.
const KNOWN_ELSEWHERE: &[(&str, &str)] = &[
    ("connector.class", "the section ([postgres] or [mysql]) says it"),
    ("name", "the connector's name: give it to `logtap offsets import --from-debezium --connector` when several connectors share the topic prefix"),
    ("tasks.max", "logtap runs one task per source (as Debezium's connectors do)"),
    ("database.password", "secrets are not copied: set the environment variable named by password_env"),
    ("offset.storage", "logtap keeps its own offsets ([offsets]); take Debezium's with `logtap offsets import --from-debezium`"),
    ("offset.storage.file.filename", "give it to `logtap offsets import --from-debezium --file`"),
    ("offset.storage.topic", "give it to `logtap offsets import --from-debezium --topic`"),
    ("offset.flush.interval.ms", "logtap stores its position as soon as Kafka acknowledged the records before it"),
    ("schema.history.internal", "logtap reads table definitions from the server's catalog"),
];

/// The TOML for `props`.
pub fn translate(props: &BTreeMap<String, String>) -> Result<Translation> {
    let class = props.get("connector.class").map(String::as_str).unwrap_or("");
    let source = if class.ends_with("PostgresConnector") {
        Source::Postgres
    } else if class.ends_with("MySqlConnector") || class.ends_with("MariaDbConnector") {
        Source::Mysql
    } else {
        bail!("connector.class `{class}` is not Debezium's PostgreSQL, MySQL or MariaDB connector")
    };
    let mut sections: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let section_name = if source == Source::Postgres { "postgres" } else { "mysql" };
    let mut t = Translation::default();
    let mut used = std::collections::BTreeSet::new();
    let toml_value = |key: &str, v: &str| -> String {
        let numeric = key.ends_with("_ms") || ["port", "server_id", "chunk_size"].contains(&key);
        let boolean = matches!(v, "true" | "false")
            && !key.ends_with("mode")
            && key != "heartbeat.action_query";
        if (numeric && v.parse::<u64>().is_ok()) || boolean {
            v.to_string()
        } else {
            toml::Value::String(snake_mode(key, v)).to_string()
        }
    };
    for (dbz, ours, v) in applicable(props, SAME_VALUE, source, &mut used, &mut t) {
        let (section, key) = match ours.split_once('.') {
            Some((s, k)) => (s, k),
            None => (section_name, ours),
        };
        const MODES: [&str; 5] = ["initial", "no_data", "initial_only", "when_needed", "always"];
        if dbz == "snapshot.mode" && !MODES.contains(&snake_mode(key, v).as_str()) {
            t.not_carried.push((
                dbz.to_string(),
                format!("`{v}` is not built (logtap has {})", MODES.join(", ")),
            ));
            continue;
        }
        sections.entry(section).or_default().push(format!("{key} = {}", toml_value(key, v)));
    }
    for (_, ours, v) in applicable(props, LISTS, source, &mut used, &mut t) {
        let list = logtap_core::filter::split_debezium_list(v);
        let items: Vec<String> =
            list.iter().map(|e| toml::Value::String(e.clone()).to_string()).collect();
        sections.entry(section_name).or_default().push(format!("{ours} = [{}]", items.join(", ")));
    }
    if props.contains_key("database.password") {
        sections
            .entry(section_name)
            .or_default()
            .push("password_env = \"LOGTAP_SOURCE_PASSWORD\"   # set it to the connector's database.password".into());
    }
    special(props, source, &mut sections, &mut t, &mut used);
    for (key, why) in KNOWN_ELSEWHERE {
        for k in props.keys().filter(|k| k == key || k.starts_with(&format!("{key}."))) {
            if used.insert(k.clone()) && !(k == "database.password" || k == "connector.class") {
                t.not_carried.push((k.clone(), why.to_string()));
            }
        }
    }
    for k in props.keys().filter(|k| !used.contains(*k)) {
        t.not_carried.push((k.clone(), not_built(k)));
    }
    t.carried =
        props.keys().filter(|k| !t.not_carried.iter().any(|(n, _)| n == *k)).cloned().collect();
    t.toml = render(props, &sections);
    Ok(t)
}

/// The properties that map to something other than one option.
/// The rows of `table` whose Debezium property is set, as (property,
/// logtap option, value); each is marked used, and one of the other
/// source kind's is listed as not carried instead.
fn applicable<'a>(
    props: &'a BTreeMap<String, String>,
    table: &[(&'static str, &'static str, Option<Source>)],
    source: Source,
    used: &mut std::collections::BTreeSet<String>,
    t: &mut Translation,
) -> Vec<(&'static str, &'static str, &'a String)> {
    let mut out = Vec::new();
    for (dbz, ours, only) in table {
        let Some(v) = props.get(*dbz) else { continue };
        used.insert(dbz.to_string());
        if only.is_some_and(|s| s != source) {
            t.not_carried
                .push((dbz.to_string(), format!("a {} connector property", other(source))));
        } else {
            out.push((*dbz, *ours, v));
        }
    }
    out
}

/// `transforms`: an ExtractNewRecordState becomes `[[transform]]` with
/// the options logtap has; any other transform, and other options, are
/// listed as not carried (by the catch-all).
fn transforms(
    props: &BTreeMap<String, String>,
    sections: &mut BTreeMap<&str, Vec<String>>,
    used: &mut std::collections::BTreeSet<String>,
) {
    let Some(list) = props.get("transforms") else { return };
    let names: Vec<&str> = list.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    let unwraps: Vec<&&str> = names
        .iter()
        .filter(|n| {
            props.get(&format!("transforms.{n}.type")).map(String::as_str)
                == Some("io.debezium.transforms.ExtractNewRecordState")
        })
        .collect();
    let [name] = unwraps.as_slice() else { return };
    if names.len() != 1 {
        return;
    }
    used.insert("transforms".into());
    let key = |k: &str| format!("transforms.{name}.{k}");
    used.insert(key("type"));
    let lines = sections.entry("transform").or_default();
    lines.push("type = \"io.debezium.transforms.ExtractNewRecordState\"".into());
    if let Some(m) = props.get(&key("delete.tombstone.handling.mode")) {
        used.insert(key("delete.tombstone.handling.mode"));
        lines.push(format!("delete_tombstone_handling_mode = {}", toml::Value::String(m.clone())));
    }
    if let Some(f) = props.get(&key("add.fields")) {
        used.insert(key("add.fields"));
        let items: Vec<String> = f
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| toml::Value::String(x.into()).to_string())
            .collect();
        lines.push(format!("add_fields = [{}]", items.join(", ")));
    }
    if let Some(p) = props.get(&key("add.fields.prefix")) {
        used.insert(key("add.fields.prefix"));
        lines.push(format!("add_fields_prefix = {}", toml::Value::String(p.clone())));
    }
}

fn special(
    props: &BTreeMap<String, String>,
    source: Source,
    sections: &mut BTreeMap<&str, Vec<String>>,
    t: &mut Translation,
    used: &mut std::collections::BTreeSet<String>,
) {
    transforms(props, sections, used);
    if let Some(ops) = props.get("skipped.operations") {
        used.insert("skipped.operations".into());
        let ops: Vec<&str> = ops.split(',').map(str::trim).filter(|o| !o.is_empty()).collect();
        let truncate = ops.contains(&"t");
        if source == Source::Postgres {
            sections.entry("postgres").or_default().push(format!("emit_truncate = {}", !truncate));
        }
        let rest: Vec<String> = ops
            .iter()
            .filter(|o| ["c", "u", "d"].contains(o))
            .map(|o| toml::Value::String(o.to_string()).to_string())
            .collect();
        if !rest.is_empty() {
            sections
                .entry("record")
                .or_default()
                .push(format!("skipped_operations = [{}]", rest.join(", ")));
        }
    }
    for k in ["bootstrap.servers", "debezium.sink.kafka.producer.bootstrap.servers"] {
        if let Some(v) = props.get(k) {
            used.insert(k.into());
            sections
                .entry("kafka")
                .or_default()
                .push(format!("bootstrap_servers = {}", toml::Value::String(v.clone())));
        }
    }
    for k in ["key.converter", "value.converter"] {
        if let Some(v) = props.get(k) {
            used.insert(k.into());
            if !v.ends_with("JsonConverter") {
                t.not_carried.push((
                    k.into(),
                    format!("`{v}`: logtap writes Kafka Connect's JSON converter format only (Avro is not built yet)"),
                ));
            }
        }
    }
    if props.get("plugin.name").is_some_and(|p| p != "pgoutput") {
        t.not_carried.push((
            "plugin.name".into(),
            "logtap decodes pgoutput only: it creates its slot with pgoutput (slot_name must then name a new slot)".into(),
        ));
    }
    used.insert("plugin.name".into());
    for k in ["key.converter.schemas.enable", "value.converter.schemas.enable"] {
        if let Some(v) = props.get(k) {
            used.insert(k.into());
            if k.starts_with("value") {
                sections.entry("record").or_default().push(format!("schemas_enable = {v}"));
            }
        }
    }
    if props.contains_key("topic.prefix") {
        used.insert("topic.prefix".into());
    }
    if let Some(v) = props.get("debezium.sink.type") {
        used.insert("debezium.sink.type".into());
        if v != "kafka" {
            t.not_carried.push((
                "debezium.sink.type".into(),
                format!("`{v}`: logtap writes to Kafka (or standard output), not to {v}"),
            ));
        }
    }
}

/// Debezium's value spelled as logtap's (modes are snake_case here).
fn snake_mode(key: &str, v: &str) -> String {
    match (key, v) {
        ("mode", "schema_only") | ("mode", "never") => "no_data".into(),
        (k, v) if k.ends_with("mode") && k != "sslmode" => v.to_lowercase(),
        _ => v.to_string(),
    }
}

fn other(source: Source) -> &'static str {
    match source {
        Source::Postgres => "MySQL/MariaDB",
        Source::Mysql => "PostgreSQL",
    }
}

/// Why an unknown property is not carried.
fn not_built(k: &str) -> String {
    if k.starts_with("transforms") {
        "only io.debezium.transforms.ExtractNewRecordState, alone, with delete.tombstone.handling.mode / add.fields / add.fields.prefix, is built".into()
    } else if k.starts_with("column.") {
        "column masks, hashes, truncation and type propagation are not built yet (column.include.list / column.exclude.list are)".into()
    } else if k.starts_with("debezium.") || k.starts_with("quarkus.") {
        "a Debezium Server setting with no logtap counterpart".into()
    } else {
        "logtap has no option for it".into()
    }
}

fn render(props: &BTreeMap<String, String>, sections: &BTreeMap<&str, Vec<String>>) -> String {
    let mut out = String::from("# Translated by `logtap config from-debezium`.\n");
    let prefix = props.get("topic.prefix").cloned().unwrap_or_else(|| "CHANGE_ME".into());
    let _ = writeln!(out, "topic_prefix = {}", toml::Value::String(prefix));
    for name in ["postgres", "mysql", "snapshot", "heartbeat", "record", "kafka", "transform"] {
        let Some(lines) = sections.get(name) else { continue };
        let header = if name == "transform" { "[[transform]]" } else { &format!("[{name}]") };
        let _ = writeln!(out, "\n{header}");
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
    if !sections.contains_key("kafka") {
        out.push_str("\n[kafka]\nbootstrap_servers = \"CHANGE_ME:9092\"\n");
    }
    out.push_str("\n[offsets]\npath = \"/var/lib/logtap/offsets\"\n");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CONNECT_JSON: &str = r#"{"name": "inventory-connector", "config": {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1", "database.hostname": "db.internal", "database.port": "5432",
        "database.user": "debezium", "database.password": "s3cret", "database.dbname": "inventory",
        "topic.prefix": "dbserver1", "plugin.name": "pgoutput", "slot.name": "debezium",
        "schema.include.list": "inventory",
        "table.include.list": "inventory.orders,inventory\\.order_.*",
        "snapshot.mode": "schema_only", "binary.handling.mode": "base64-url-safe",
        "skipped.operations": "t,d", "value.converter": "io.confluent.connect.avro.AvroConverter",
        "transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "column.exclude.list": "inventory.customers.ssn", "database.server.id": "5"}}"#;

    const SERVER_PROPERTIES: &str = "\
debezium.sink.type=kafka
debezium.sink.kafka.producer.bootstrap.servers=kafka:9092
debezium.source.connector.class=io.debezium.connector.mysql.MySqlConnector
debezium.source.database.hostname=mysql
debezium.source.database.port=3306
debezium.source.database.user=cdc
debezium.source.database.password=pw
debezium.source.database.server.id=184054
debezium.source.topic.prefix=shop
debezium.source.database.include.list=shop
debezium.source.table.include.list=shop.orders,\\
  shop.customers
debezium.source.offset.storage.file.filename=data/offsets.dat
debezium.source.include.schema.changes=false
debezium.source.provide.transaction.metadata=true
debezium.source.topic.transaction=tx
";

    /// Loads the TOML as `logtap run` would (the password from the env).
    fn loads(toml: &str) -> crate::config::Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logtap.toml");
        std::fs::write(&path, toml.replace("CHANGE_ME", "localhost")).unwrap();
        std::env::set_var("LOGTAP_SOURCE_PASSWORD", "x");
        crate::config::Config::load(&path).unwrap()
    }

    #[test]
    fn a_connect_json_translates_every_property_or_says_why_not() {
        let props = parse(CONNECT_JSON).unwrap();
        let t = translate(&props).unwrap();
        let cfg = loads(&t.toml);
        assert_eq!(cfg.topic_prefix, "dbserver1");
        let crate::config::SourceConfig::Postgres(pg) = &cfg.source else { panic!("{}", t.toml) };
        assert_eq!((pg.slot_name.as_str(), pg.database.as_str()), ("debezium", "inventory"));
        assert!(pg.captures("inventory", "order_lines") && !pg.captures("inventory", "users"));
        assert!(!pg.emit_truncate);
        assert!(!t.toml.contains("s3cret"), "no secret copied:\n{}", t.toml);
        let why: BTreeMap<_, _> = t.not_carried.iter().cloned().collect();
        assert!(t.toml.contains("[[transform]]"), "{}", t.toml);
        assert_eq!(cfg.transforms.len(), 1);
        assert_eq!(pg.column_exclude_list, ["inventory.customers.ssn"]);
        assert_eq!(cfg.record.skipped_operations, ["d"], "t is emit_truncate = false");
        for k in ["value.converter", "database.server.id", "tasks.max", "name"] {
            assert!(why.contains_key(k), "{k} not listed: {why:?}");
        }
        assert!(why["value.converter"].contains("Avro"));
        // Carried or listed: every property, once.
        assert_eq!(t.carried.len() + t.not_carried.len(), props.len(), "{t:?}");
        for k in [
            "database.hostname",
            "table.include.list",
            "snapshot.mode",
            "slot.name",
            "column.exclude.list",
        ] {
            assert!(t.carried.iter().any(|c| c == k), "{k}: {t:?}");
        }
        assert!(t.toml.contains("mode = \"no_data\""), "{}", t.toml);
    }

    #[test]
    fn debezium_server_properties_translate_with_their_prefix_removed() {
        let t = translate(&parse(SERVER_PROPERTIES).unwrap()).unwrap();
        let cfg = loads(&t.toml);
        let crate::config::SourceConfig::Mysql(my) = &cfg.source else { panic!("{}", t.toml) };
        assert_eq!(my.server_id, Some(184054));
        assert!(my.captures("shop", "customers") && !my.captures("shop", "audit"));
        assert!(!my.include_schema_changes);
        assert!(cfg.record.provide_transaction_metadata);
        assert_eq!(cfg.record.transaction_topic, "tx");
        assert_eq!(cfg.kafka.as_ref().unwrap().bootstrap_servers, "kafka:9092");
        let keys: Vec<&str> = t.not_carried.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["offset.storage.file.filename"], "{:?}", t.not_carried);
    }

    #[test]
    fn another_connector_is_refused() {
        let props =
            parse(r#"{"connector.class": "io.debezium.connector.sqlserver.SqlServerConnector"}"#);
        assert!(translate(&props.unwrap()).is_err());
    }
}
