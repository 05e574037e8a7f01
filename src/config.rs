//! `logtap.toml`: loading, environment overrides, secrets, validation.
//!
//! Every section denies unknown fields, so a misspelt option is an error and
//! not a silently ignored setting. Any value can be overridden from the
//! environment: `LOGTAP__KAFKA__BOOTSTRAP_SERVERS=host:9092` sets
//! `kafka.bootstrap_servers` (sections and keys separated by `__`; the value is
//! read as TOML when it parses as a number, boolean or array, else as a string).
//! Secrets are never written in the file: they come from an environment
//! variable or a file named there, and are never logged (`Debug` hides them).

mod env;
mod secrets;
mod wording;

use env::{apply_override, ENV_PREFIX};
use logtap_core::SnapshotConfig;
use logtap_kafka::{KafkaConfig, Routing};
use logtap_mysql::MysqlConfig;
use logtap_postgres::PostgresConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use wording::friendly;

/// The configuration, read and checked: exactly one source, secrets
/// resolved, every mode typed.
#[derive(Debug, Clone)]
pub struct Config {
    /// Debezium's `topic.prefix`: topic names, schema names, the key of the
    /// stored position.
    pub topic_prefix: String,
    /// The one source.
    pub source: SourceConfig,
    pub record: RecordConfig,
    pub sink: SinkConfig,
    pub kafka: Option<KafkaConfig>,
    pub offsets: OffsetsConfig,
    pub log: LogConfig,
    pub heartbeat: HeartbeatConfig,
    pub snapshot: SnapshotConfig,
    pub metrics: MetricsConfig,
    /// Kafka Connect transforms, in order (`[[transform]]`).
    pub transforms: Vec<TransformConfig>,
}

/// The source section of the file: `[postgres]`, `[mysql]` or `[demo]`,
/// exactly one (the section's name is the tag).
#[derive(Debug, Clone)]
pub enum SourceConfig {
    Postgres(PostgresConfig),
    Mysql(MysqlConfig),
    Demo(DemoConfig),
}

impl SourceConfig {
    /// The source's column include and exclude lists (Debezium's
    /// `column.include.list` / `column.exclude.list`).
    pub fn column_lists(&self) -> (&[String], &[String]) {
        match self {
            SourceConfig::Postgres(c) => (&c.column_include_list, &c.column_exclude_list),
            SourceConfig::Mysql(c) => (&c.column_include_list, &c.column_exclude_list),
            SourceConfig::Demo(_) => (&[], &[]),
        }
    }
}

/// The whole configuration file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Logical name of this source, as Debezium's `topic.prefix`: the first
    /// part of every topic name, of record schema names, and the key of the
    /// stored position. Changing it starts over from no position.
    pub topic_prefix: String,
    /// The built-in demo source: synthetic changes to `inventory.customers`.
    #[serde(default)]
    pub demo: Option<DemoConfig>,
    /// The PostgreSQL source.
    #[serde(default)]
    pub postgres: Option<PostgresConfig>,
    /// The MySQL/MariaDB source.
    #[serde(default)]
    pub mysql: Option<MysqlConfig>,
    /// Record format.
    #[serde(default)]
    pub record: RecordConfig,
    /// Where records go and how much may be in flight.
    #[serde(default)]
    pub sink: SinkConfig,
    /// Kafka connection, producer and topics; required when `sink.kind = "kafka"`.
    #[serde(default)]
    pub kafka: Option<KafkaConfig>,
    /// Offset store.
    pub offsets: OffsetsConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Heartbeat records.
    #[serde(default)]
    pub heartbeat: HeartbeatConfig,
    /// Snapshots: mode, chunk size, pause between chunks.
    #[serde(default)]
    pub snapshot: SnapshotConfig,
    /// Prometheus metrics and health endpoints.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Kafka Connect transforms applied to change records, in order.
    #[serde(default, rename = "transform")]
    pub transforms: Vec<TransformConfig>,
}

/// One Kafka Connect transform (`[[transform]]`), with Debezium's option
/// names in snake case. Built: `io.debezium.transforms.ExtractNewRecordState`
/// ("unwrap").
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// The transform's class (`type`): `io.debezium.transforms.ExtractNewRecordState`
    /// (or `unwrap`).
    #[serde(rename = "type")]
    pub kind: String,
    /// `delete.tombstone.handling.mode`: `tombstone` (default), `drop`,
    /// `rewrite`, `rewrite-with-tombstone`, `delete-to-tombstone`.
    #[serde(default)]
    pub delete_tombstone_handling_mode: Option<String>,
    /// `add.fields`: `op`, `ts_ms`, source fields (`table`, `lsn`,
    /// `source.ts_ms`, ...), appended to the row in this order.
    #[serde(default)]
    pub add_fields: Vec<String>,
    /// `add.fields.prefix` (`__`).
    #[serde(default)]
    pub add_fields_prefix: Option<String>,
}

impl TransformConfig {
    /// The unwrap settings, or what is wrong with them.
    pub fn unwrap(&self) -> Result<logtap_core::unwrap::Unwrap, String> {
        if !matches!(self.kind.as_str(), "io.debezium.transforms.ExtractNewRecordState" | "unwrap")
        {
            return Err(format!(
                "`{}` is not built: the transform logtap has is io.debezium.transforms.ExtractNewRecordState",
                self.kind
            ));
        }
        let mut u = logtap_core::unwrap::Unwrap::default();
        if let Some(m) = &self.delete_tombstone_handling_mode {
            u.delete_handling = logtap_core::unwrap::DeleteHandling::parse(m).ok_or_else(|| {
                format!("delete_tombstone_handling_mode `{m}` is not one of drop, tombstone, rewrite, rewrite-with-tombstone, delete-to-tombstone")
            })?;
        }
        u.add_fields = self.add_fields.clone();
        if let Some(p) = &self.add_fields_prefix {
            u.add_fields_prefix = p.clone();
        }
        Ok(u)
    }
}

/// The metrics and health listener (off unless `listen` is set).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `address:port` to serve `/metrics`, `/healthz` and `/readyz` on,
    /// e.g. `127.0.0.1:9187`; unset serves nothing.
    #[serde(default)]
    pub listen: Option<String>,
}

/// Heartbeat records, as Debezium's `heartbeat.interval.ms` and
/// `topic.heartbeat.prefix`: a record on `<topic_prefix>.<topic_prefix of
/// the config>` every interval, so consumers (and alerts) see logtap alive
/// while the captured tables are idle.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// Milliseconds between heartbeats; 0 (Debezium's default) sends none.
    #[serde(default)]
    pub interval_ms: u64,
    /// The heartbeat topic's prefix.
    #[serde(default = "default_heartbeat_prefix")]
    pub topic_prefix: String,
    /// A statement run on the source database at each heartbeat (Debezium's
    /// `heartbeat.action.query`), e.g. an upsert into a small captured table.
    #[serde(default)]
    pub action_query: Option<String>,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            interval_ms: 0,
            topic_prefix: default_heartbeat_prefix(),
            action_query: None,
        }
    }
}

fn default_heartbeat_prefix() -> String {
    "__debezium-heartbeat".into()
}

/// Settings of the demo source.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Number of changes to produce before stopping; 0 produces forever.
    #[serde(default = "default_demo_changes")]
    pub changes: u64,
    /// Pause between changes, in milliseconds.
    #[serde(default = "default_demo_interval_ms")]
    pub interval_ms: u64,
}

fn default_demo_changes() -> u64 {
    20
}
fn default_demo_interval_ms() -> u64 {
    50
}

/// How events become records.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    /// Write `{schema, payload}` as Kafka Connect's JSON converter does with
    /// `schemas.enable=true`; off writes the bare payload.
    #[serde(default)]
    pub schemas_enable: bool,
    /// Follow each delete with a tombstone (null value), as Debezium's
    /// `tombstones.on.delete` (default true) does.
    #[serde(default = "default_true")]
    pub tombstones_on_delete: bool,
    /// `per_table` (`<prefix>.<namespace>.<table>`, Debezium's naming),
    /// `per_namespace` or `single`.
    #[serde(default)]
    pub routing: Routing,
    /// The topic when `routing = "single"`; defaults to `topic_prefix`.
    #[serde(default)]
    pub single_topic: Option<String>,
    /// Operations to send no records for (Debezium's `skipped.operations`):
    /// `c`, `u`, `d`, `t` (or `none`). An update that changes the key is an
    /// update (its delete and create are skipped with it), as in Debezium;
    /// snapshot reads cannot be skipped. Empty: every operation (Debezium's
    /// default skips truncates; PostgreSQL's `emit_truncate` is the other
    /// way to do that).
    #[serde(default)]
    pub skipped_operations: Vec<String>,
    /// Debezium's `provide.transaction.metadata`: a BEGIN and an END record
    /// per source transaction on `<topic_prefix>.<transaction_topic>`, and
    /// the `transaction` block (`id`, `total_order`,
    /// `data_collection_order`) in every streamed change record.
    #[serde(default)]
    pub provide_transaction_metadata: bool,
    /// Debezium's `topic.transaction`: the suffix of the transaction topic.
    #[serde(default = "default_transaction_topic")]
    pub transaction_topic: String,
}

fn default_transaction_topic() -> String {
    "transaction".into()
}

impl RecordConfig {
    /// Whether records of `op` are skipped.
    pub fn skips(&self, op: logtap_core::Op) -> bool {
        self.skipped_operations.iter().any(|s| s == op.code())
    }
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            schemas_enable: false,
            tombstones_on_delete: true,
            routing: Routing::PerTable,
            single_topic: None,
            skipped_operations: Vec::new(),
            provide_transaction_metadata: false,
            transaction_topic: default_transaction_topic(),
        }
    }
}

/// Which sink, and the in-flight bounds (ARCHITECTURE.md invariant 4).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// `kafka`, or `stdout` to print JSON lines without a broker.
    #[serde(default)]
    pub kind: SinkKind,
    /// Records sent but not yet acknowledged, at most.
    #[serde(default = "default_max_in_flight_records")]
    pub max_in_flight_records: usize,
    /// Key+value bytes sent but not yet acknowledged, at most.
    #[serde(default = "default_max_in_flight_bytes")]
    pub max_in_flight_bytes: usize,
    /// How often the acknowledged position is stored, in milliseconds.
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
    /// On shutdown, how long to wait for in-flight records, in seconds.
    #[serde(default = "default_drain_timeout_s")]
    pub drain_timeout_s: u64,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            kind: SinkKind::Kafka,
            max_in_flight_records: default_max_in_flight_records(),
            max_in_flight_bytes: default_max_in_flight_bytes(),
            commit_interval_ms: default_commit_interval_ms(),
            drain_timeout_s: default_drain_timeout_s(),
        }
    }
}

/// Where records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    #[default]
    Kafka,
    Stdout,
}

fn default_true() -> bool {
    true
}
fn default_max_in_flight_records() -> usize {
    20_000
}
fn default_max_in_flight_bytes() -> usize {
    64 * 1024 * 1024
}
fn default_commit_interval_ms() -> u64 {
    1000
}
fn default_drain_timeout_s() -> u64 {
    30
}

/// The offset store.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OffsetsConfig {
    /// `sled` (a local directory, the default) or `kafka` (a compacted topic
    /// on the `[kafka]` cluster: no local disk needed).
    #[serde(default)]
    pub kind: OffsetsKind,
    /// Directory of the sled database holding positions (`kind = "sled"`).
    /// One logtap process at a time may use it.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The compacted topic holding positions (`kind = "kafka"`), one record
    /// per source, keyed by `topic_prefix`.
    #[serde(default = "default_offsets_topic")]
    pub topic: String,
}

/// Where positions are stored.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OffsetsKind {
    #[default]
    Sled,
    Kafka,
}

fn default_offsets_topic() -> String {
    "logtap-offsets".into()
}

impl OffsetsConfig {
    /// Where positions are, for messages.
    pub fn describe(&self) -> String {
        match (self.kind, &self.path) {
            (OffsetsKind::Sled, Some(p)) => p.display().to_string(),
            (OffsetsKind::Sled, None) => "(no offsets.path)".into(),
            (OffsetsKind::Kafka, _) => format!("Kafka topic `{}`", self.topic),
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `human` or `json`.
    #[serde(default)]
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `logtap=debug,info`; the
    /// `RUST_LOG` environment variable wins when set.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Human, level: default_log_level() }
    }
}

fn default_log_level() -> String {
    "info".into()
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// A configuration problem, naming the file and the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config file {path}: environment variable {var}: {message}")]
    Env { path: String, var: String, message: String },
    #[error("config file {path}: {field}: {message}")]
    Invalid { path: String, field: String, message: String },
}

impl RawConfig {
    /// The checked configuration (after [`RawConfig::validate`]).
    fn into_config(self) -> Result<Config, (String, String)> {
        let source = match (self.postgres, self.mysql, self.demo) {
            (Some(p), None, None) => SourceConfig::Postgres(p),
            (None, Some(m), None) => SourceConfig::Mysql(m),
            (None, None, Some(d)) => SourceConfig::Demo(d),
            _ => return Err(("postgres".into(), "configure exactly one source".into())),
        };
        Ok(Config {
            topic_prefix: self.topic_prefix,
            source,
            record: self.record,
            sink: self.sink,
            kafka: self.kafka,
            offsets: self.offsets,
            log: self.log,
            heartbeat: self.heartbeat,
            snapshot: self.snapshot,
            metrics: self.metrics,
            transforms: self.transforms,
        })
    }
}

impl Config {
    /// Reads, overrides from the environment, resolves secrets, validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::from_str_with_env(&text, path, std::env::vars())
    }

    /// As [`Config::load`], from text and an explicit environment (for tests).
    pub fn from_str_with_env(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let p = path.display().to_string();
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::Parse { path: p.clone(), message: e.to_string() }
        })?;
        let mut overrides: Vec<(String, String)> =
            env.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
        overrides.sort();
        for (var, value) in overrides.clone() {
            apply_override(&mut table, &var, &value).map_err(|message| ConfigError::Env {
                path: p.clone(),
                var: var.clone(),
                message,
            })?;
        }
        let mut config: RawConfig = match toml::Value::Table(table).try_into() {
            Ok(c) => c,
            Err(e) => return Err(blame(text, &p, &e, &overrides)),
        };
        config.resolve_secrets().map_err(|(field, message)| ConfigError::Invalid {
            path: p.clone(),
            field,
            message,
        })?;
        config
            .validate()
            .and_then(|()| config.into_config())
            .map_err(|(field, message)| ConfigError::Invalid { path: p.clone(), field, message })
    }
}

impl RawConfig {
    fn resolve_secrets(&mut self) -> Result<(), (String, String)> {
        use secrets::SecretRef;
        if let Some(p) = &mut self.postgres {
            p.password = SecretRef {
                section: "postgres",
                name: "password",
                env: p.password_env.as_deref(),
                file: p.password_file.as_deref(),
            }
            .resolve()?;
        }
        if let Some(m) = &mut self.mysql {
            m.password = SecretRef {
                section: "mysql",
                name: "password",
                env: m.password_env.as_deref(),
                file: m.password_file.as_deref(),
            }
            .resolve()?;
        }
        if let Some(k) = &mut self.kafka {
            k.sasl_password = SecretRef {
                section: "kafka",
                name: "sasl_password",
                env: k.sasl_password_env.as_deref(),
                file: k.sasl_password_file.as_deref(),
            }
            .resolve()?;
        }
        Ok(())
    }

    /// Checks the settings together; the error names the field at fault.
    fn validate(&self) -> Result<(), (String, String)> {
        self.validate_layout()?;
        if let Some(listen) = &self.metrics.listen {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                return invalid(
                    "metrics.listen",
                    "must be an address:port, e.g. \"127.0.0.1:9187\" (\"0.0.0.0:9187\" for every interface)",
                );
            }
        }
        if let Some(p) = &self.postgres {
            p.validate()?;
        }
        if let Some(m) = &self.mysql {
            m.validate().map_err(|(f, e)| (format!("mysql.{f}"), e))?;
        }
        self.validate_delivery()?;
        self.validate_snapshot_and_heartbeat()
    }

    /// The topic prefix, one source, where positions are stored.
    fn validate_layout(&self) -> Result<(), (String, String)> {
        let bad = invalid;
        if self.topic_prefix.is_empty()
            || !self.topic_prefix.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return bad(
                "topic_prefix",
                "must be non-empty and use only letters, digits, `.`, `_` and `-` (it starts every topic name)",
            );
        }
        let sources = [self.postgres.is_some(), self.mysql.is_some(), self.demo.is_some()];
        match sources.iter().filter(|s| **s).count() {
            0 => {
                return bad(
                    "postgres",
                    "no source configured: add a [postgres], [mysql] (or [demo]) section",
                )
            }
            1 => {}
            _ => {
                return bad(
                    if self.demo.is_some() { "demo" } else { "mysql" },
                    "configure one source: [postgres], [mysql] or [demo], not several",
                )
            }
        }
        match (self.offsets.kind, &self.offsets.path) {
            (OffsetsKind::Sled, None) => {
                return bad(
                    "offsets.path",
                    "is required: the directory for stored positions (or set offsets.kind = \"kafka\" to keep them in Kafka)",
                )
            }
            (OffsetsKind::Kafka, Some(_)) => {
                return bad("offsets.path", "is for kind = \"sled\"; with kind = \"kafka\" positions live in offsets.topic")
            }
            (OffsetsKind::Kafka, None) if self.kafka.is_none() => {
                return bad("offsets.kind", "\"kafka\" needs a [kafka] section (the cluster the offsets topic is on)")
            }
            _ => {}
        }
        Ok(())
    }

    /// What records become and how they reach the sink.
    fn validate_delivery(&self) -> Result<(), (String, String)> {
        let bad = invalid;
        if let Some(op) = self
            .record
            .skipped_operations
            .iter()
            .find(|o| !["c", "u", "d", "t", "none"].contains(&o.as_str()))
        {
            return Err((
                "record.skipped_operations".into(),
                format!("`{op}` is not an operation: give c, u, d, t or none (snapshot reads cannot be skipped)"),
            ));
        }
        if self.record.routing == Routing::Single
            && self.record.single_topic.as_deref().is_some_and(str::is_empty)
        {
            return bad("record.single_topic", "must not be empty");
        }
        if self.sink.max_in_flight_records == 0 {
            return bad("sink.max_in_flight_records", "must be at least 1");
        }
        if self.sink.max_in_flight_bytes < 1024 {
            return bad("sink.max_in_flight_bytes", "must be at least 1024");
        }
        if self.sink.commit_interval_ms == 0 {
            return bad("sink.commit_interval_ms", "must be at least 1");
        }
        match (&self.sink.kind, &self.kafka) {
            (SinkKind::Kafka, None) => {
                return bad("kafka", "sink.kind is \"kafka\" but there is no [kafka] section")
            }
            (_, Some(k)) => k.validate().map_err(|e| (e.field, e.message))?,
            _ => {}
        }
        Ok(())
    }

    /// Snapshots, heartbeats, transforms.
    fn validate_snapshot_and_heartbeat(&self) -> Result<(), (String, String)> {
        let bad = invalid;
        if self.snapshot.chunk_size == 0 {
            return bad("snapshot.chunk_size", "must be at least 1");
        }
        if let Some(t) = &self.snapshot.signal_data_collection {
            if t.split_once('.').is_none_or(|(s, n)| s.is_empty() || n.is_empty()) {
                return bad("snapshot.signal_data_collection", "must be schema.table");
            }
        }
        if self.heartbeat.interval_ms != 0 && self.heartbeat.interval_ms < 100 {
            return bad("heartbeat.interval_ms", "must be 0 (off) or at least 100");
        }
        if self.heartbeat.topic_prefix.is_empty() {
            return bad("heartbeat.topic_prefix", "must not be empty");
        }
        if self.transforms.len() > 1 {
            return bad("transform", "one transform (ExtractNewRecordState) is built; list one");
        }
        for t in &self.transforms {
            if let Err(e) = t.unwrap() {
                return bad("transform", &e);
            }
        }
        match &self.heartbeat.action_query {
            Some(q) if q.trim().is_empty() => {
                return bad("heartbeat.action_query", "must not be empty (leave it out instead)")
            }
            Some(_) if self.heartbeat.interval_ms == 0 => {
                return bad(
                    "heartbeat.action_query",
                    "runs at each heartbeat: set heartbeat.interval_ms too",
                )
            }
            Some(_) if self.demo.is_some() => {
                return bad(
                    "heartbeat.action_query",
                    "the demo source has no database to run it on",
                )
            }
            _ => {}
        }
        if self.offsets.path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return bad("offsets.path", "must name a directory");
        }
        Ok(())
    }
}

/// A validation error: the field at fault and what is wrong with it.
fn invalid(field: &str, message: &str) -> Result<(), (String, String)> {
    Err((field.to_string(), message.to_string()))
}

/// The error for a configuration that does not deserialize, put on what
/// is at fault: the file (read again on its own, so the error has its line
/// and column), or else the environment override of the field named.
fn blame(
    text: &str,
    path: &str,
    e: &toml::de::Error,
    overrides: &[(String, String)],
) -> ConfigError {
    let field =
        e.to_string().split("in `").nth(1).and_then(|r| r.split('`').next()).map(str::to_string);
    if let Err(in_file) = toml::from_str::<RawConfig>(text) {
        let message = friendly(&in_file.to_string());
        // An unknown key names itself; for it the path in `e` (from the
        // merged table) names a neighbouring section instead.
        let message = match &field {
            Some(f) if !message.contains("unknown field") => format!("{f}: {message}"),
            _ => message,
        };
        return ConfigError::Parse { path: path.into(), message };
    }
    let message = friendly(e.message());
    let var = field.as_deref().and_then(|f| {
        let wanted = format!("{ENV_PREFIX}{}", f.replace('.', "__")).to_uppercase();
        overrides.iter().map(|(k, _)| k).find(|k| k.to_uppercase() == wanted)
    });
    match var {
        Some(var) => ConfigError::Env { path: path.into(), var: var.clone(), message },
        None => ConfigError::Env {
            path: path.into(),
            var: overrides.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", "),
            message: format!("{message} (in `{}`)", field.unwrap_or_default()),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
topic_prefix = "demo"
[demo]
[kafka]
bootstrap_servers = "127.0.0.1:9092"
[offsets]
path = "/tmp/x"
"#;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_str_with_env(
            text,
            Path::new("logtap.toml"),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.sink.kind, SinkKind::Kafka);
        assert!(c.record.tombstones_on_delete);
        assert!(!c.record.schemas_enable);
        let k = c.kafka.unwrap();
        assert_eq!(k.compression, "zstd");
        assert_eq!(k.topics.partitions, 1);
    }

    #[test]
    fn offsets_kind_decides_which_settings_it_needs() {
        let kafka = MINIMAL.replace("path = \"/tmp/x\"", "kind = \"kafka\"");
        let c = load(&kafka, &[]).unwrap();
        assert_eq!(
            (c.offsets.kind, c.offsets.topic.as_str()),
            (OffsetsKind::Kafka, "logtap-offsets")
        );
        let e = load(&kafka.replace("[kafka]\nbootstrap_servers = \"127.0.0.1:9092\"\n", ""), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("offsets.kind") && e.contains("[kafka]"), "{e}");
        let e = load(&MINIMAL.replace("path = \"/tmp/x\"", ""), &[]).unwrap_err().to_string();
        assert!(e.contains("offsets.path") && e.contains("required"), "{e}");
        let e = load(&MINIMAL.replace("[offsets]", "[offsets]\nkind = \"kafka\""), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("offsets.path"), "{e}");
        let e =
            load(&format!("{MINIMAL}[metrics]\nlisten = \"9187\"\n"), &[]).unwrap_err().to_string();
        assert!(e.contains("metrics.listen"), "{e}");
    }

    #[test]
    fn unknown_fields_are_errors_that_name_them() {
        let e = load(&MINIMAL.replace("[demo]", "[demo]\nchangez = 3"), &[]).unwrap_err();
        assert!(e.to_string().contains("changez"), "{e}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let e = load(&MINIMAL.replace("127.0.0.1:9092", "nohost"), &[]).unwrap_err().to_string();
        assert!(e.contains("kafka.bootstrap_servers") && e.contains("nohost"), "{e}");
        let e = load(&MINIMAL.replace("\"demo\"", "\"a b\""), &[]).unwrap_err().to_string();
        assert!(e.contains("topic_prefix"), "{e}");
    }

    #[test]
    fn errors_point_at_the_line_or_the_variable_and_suggest_the_name() {
        let base = "topic_prefix = \"x\"\n[offsets]\npath = \"/tmp/o\"\n[postgres]\nhost = \"h\"\nuser = \"u\"\ndatabase = \"d\"\n[kafka]\nbootstrap_servers = \"a:1\"\n";
        let e = load(&base.replace("user = \"u\"", "user = \"u\"\nport = 99999"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 7") && e.contains("from 0 to 65535") && !e.contains("u16"), "{e}");
        let e = load(&format!("[source]\nkind = \"x\"\n{base}"), &[]).unwrap_err().to_string();
        assert!(e.contains("line 1") && !e.contains("kafka:"), "names only what is wrong: {e}");
        let e = load(&base.replace("user = \"u\"", "password = \"p\""), &[]).unwrap_err();
        assert!(e.to_string().contains("set `password_env`"), "{e}");
        let e = load(&base.replace("database", "databse"), &[]).unwrap_err().to_string();
        assert!(e.contains("did you mean `database`?"), "{e}");
        let e = load(&base.replace("topic_prefix", "topic.prefix"), &[]).unwrap_err().to_string();
        assert!(e.contains("logtap's `topic_prefix`"), "{e}");
        let e = load(&format!("{base}[snapshot]\nmode = \"schema_only\"\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("Debezium's `schema_only` is logtap's `no_data`"), "{e}");
        let e = load(base, &[("LOGTAP__POSTGRES__PORT", "abc")]).unwrap_err().to_string();
        assert!(e.contains("environment variable LOGTAP__POSTGRES__PORT"), "{e}");
    }

    #[test]
    fn environment_overrides_any_value() {
        let c = load(
            MINIMAL,
            &[
                ("LOGTAP__KAFKA__BOOTSTRAP_SERVERS", "10.0.0.1:9093"),
                ("LOGTAP__KAFKA__LINGER_MS", "0"),
                ("LOGTAP__RECORD__SCHEMAS_ENABLE", "true"),
                ("LOGTAP__SINK__KIND", "stdout"),
            ],
        )
        .unwrap();
        let k = c.kafka.unwrap();
        assert_eq!(k.bootstrap_servers, "10.0.0.1:9093");
        assert_eq!(k.linger_ms, 0);
        assert!(c.record.schemas_enable);
        assert_eq!(c.sink.kind, SinkKind::Stdout);
    }

    #[test]
    fn secrets_come_from_files_and_are_not_in_debug_output() {
        let dir = std::env::temp_dir().join(format!("logtap-secret-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        let text = MINIMAL.replace(
            "bootstrap_servers = \"127.0.0.1:9092\"",
            &format!(
                "bootstrap_servers = \"127.0.0.1:9092\"\nsecurity_protocol = \"SASL_SSL\"\nsasl_mechanism = \"PLAIN\"\nsasl_username = \"u\"\nsasl_password_file = \"{}\"",
                dir.display()
            ),
        );
        let c = load(&text, &[]).unwrap();
        std::fs::remove_file(&dir).ok();
        let k = c.kafka.as_ref().unwrap();
        assert_eq!(k.sasl_password.as_ref().map(|s| s.expose()), Some("s3cret"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret"), "secret leaked into Debug: {dbg}");
    }

    #[test]
    fn mysql_settings_are_validated_by_name() {
        let my = "[mysql]\nhost = \"127.0.0.1\"\nuser = \"cdc\"\n";
        let c = load(&MINIMAL.replace("[demo]", my), &[]).unwrap();
        assert!(matches!(&c.source, SourceConfig::Mysql(m) if m.port == 3306));
        let e = load(&MINIMAL.replace("[demo]", &format!("{my}ssl_mode = \"sometimes\"")), &[])
            .unwrap_err();
        assert!(e.to_string().contains("mysql.ssl_mode"), "{e}");
        let e = load(&MINIMAL.replace("[demo]", &format!("[demo]\n{my}")), &[]).unwrap_err();
        assert!(e.to_string().contains("configure one source"), "{e}");
    }

    /// Debezium's filter meaning: whole-name regular expressions, case
    /// ignored, schemas and tables; a bad expression names its field.
    #[test]
    fn postgres_filters_are_debeziums_regular_expressions() {
        let pg = "[postgres]\nhost = \"h\"\nuser = \"cdc\"\ndatabase = \"app\"\n";
        let lists = r#"schema_include_list = ["sales_.*"]
table_include_list = ['sales_\w+\.order.*', "sales_eu.returns"]
table_exclude_list = [".*_archive"]"#;
        let c = load(&MINIMAL.replace("[demo]", &format!("{pg}{lists}")), &[]).unwrap();
        let SourceConfig::Postgres(p) = &c.source else { panic!("not postgres") };
        assert!(p.captures("sales_eu", "orders"));
        assert!(p.captures("SALES_US", "Order_Lines"));
        assert!(p.captures("sales_eu", "returns"));
        assert!(!p.captures("sales_us", "returns"));
        assert!(!p.captures("sales_eu", "orders_archive"));
        assert!(!p.captures("public", "orders"), "schema list");
        assert!(!p.captures("old_sales_eu", "orders"), "anchored");
        let bad = format!("{pg}table_include_list = [\"public.(orders\"]");
        let e = load(&MINIMAL.replace("[demo]", &bad), &[]).unwrap_err().to_string();
        assert!(e.contains("postgres.table_include_list") && e.contains("public.(orders"), "{e}");
        let both = format!(
            "{pg}column_include_list = [\"public.t.a\"]\ncolumn_exclude_list = [\"public.t.b\"]"
        );
        let e = load(&MINIMAL.replace("[demo]", &both), &[]).unwrap_err().to_string();
        assert!(e.contains("postgres.column_exclude_list") && e.contains("not both"), "{e}");
        let bad = format!("{pg}column_exclude_list = [\"public.t.(b\"]");
        let e = load(&MINIMAL.replace("[demo]", &bad), &[]).unwrap_err().to_string();
        assert!(e.contains("postgres.column_exclude_list"), "{e}");
    }

    #[test]
    fn skipped_operations_are_debeziums_codes() {
        let ok = load(&format!("{MINIMAL}[record]\nskipped_operations = [\"u\", \"d\"]\n"), &[]);
        let ok = ok.unwrap();
        assert!(
            ok.record.skips(logtap_core::Op::Update) && !ok.record.skips(logtap_core::Op::Create)
        );
        let e = load(&format!("{MINIMAL}[record]\nskipped_operations = [\"r\"]\n"), &[]);
        let e = e.unwrap_err().to_string();
        assert!(e.contains("record.skipped_operations") && e.contains("`r`"), "{e}");
    }

    #[test]
    fn heartbeat_settings_are_validated_by_name() {
        let hb =
            |extra: &str| MINIMAL.replace("[offsets]", &format!("[heartbeat]\n{extra}\n[offsets]"));
        let c = load(&hb("interval_ms = 500"), &[]).unwrap();
        assert_eq!(c.heartbeat.interval_ms, 500);
        assert_eq!(c.heartbeat.topic_prefix, "__debezium-heartbeat");
        for (extra, says) in [
            ("interval_ms = 5", "heartbeat.interval_ms"),
            ("interval_ms = 500\ntopic_prefix = \"\"", "heartbeat.topic_prefix"),
            ("action_query = \"SELECT 1\"", "set heartbeat.interval_ms"),
            ("interval_ms = 500\naction_query = \"SELECT 1\"", "demo source"),
        ] {
            let e = load(&hb(extra), &[]).unwrap_err().to_string();
            assert!(e.contains(says), "{extra}: {e}");
        }
    }

    #[test]
    fn postgres_settings_are_validated_by_name() {
        let pg = "[postgres]\nhost = \"127.0.0.1\"\nuser = \"cdc\"\ndatabase = \"app\"\n";
        let c = load(&MINIMAL.replace("[demo]", pg), &[]).unwrap();
        assert!(matches!(&c.source, SourceConfig::Postgres(p) if p.slot_name == "logtap"));
        let e = load(&MINIMAL.replace("[demo]", &format!("{pg}slot_name = \"Bad-Name\"")), &[])
            .unwrap_err();
        assert!(e.to_string().contains("postgres.slot_name"), "{e}");
        let e = load(
            &MINIMAL.replace("[demo]", &format!("{pg}decimal_handling_mode = \"exact\"")),
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("postgres.decimal_handling_mode"), "{e}");
        let e = load(
            &MINIMAL.replace(
                "[demo]",
                "[demo]\n[postgres]\nhost = \"h\"\nuser = \"u\"\ndatabase = \"d\"",
            ),
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("one source"), "{e}");
    }
}
