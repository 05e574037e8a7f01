//! MySQL/MariaDB source settings (`[mysql]` in logtap.toml). Names follow
//! Debezium's MySQL connector where one exists (`database.server.id`
//! becomes `server_id`, `bigint.unsigned.handling.mode` becomes
//! `bigint_unsigned_handling_mode`, and so on).

use crate::types::{BigIntUnsignedMode, BinaryMode, DecimalMode, TimePrecisionMode, TypeOptions};
use logtap_core::Secret;
use serde::Deserialize;

/// Connection, replica identity, tables and value conversion.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MysqlConfig {
    /// Host name or address of the server (a primary, or a replica with
    /// `log_slave_updates` / `log_replica_updates` on).
    pub host: String,
    /// TCP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// User with REPLICATION SLAVE, REPLICATION CLIENT (BINLOG MONITOR on
    /// MariaDB 10.5+) and SELECT on the captured tables.
    pub user: String,
    /// Resolved by the binary from `password_env` or `password_file`.
    #[serde(skip)]
    pub password: Option<Secret>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the password (trailing newline ignored).
    #[serde(default)]
    pub password_file: Option<String>,
    /// The server id logtap registers with, as a replica does. It must
    /// differ from the server's own and from every other replica's and
    /// binlog reader's, or the server disconnects one of them. Default: a
    /// number derived from `topic_prefix` (in 5,400,000..5,500,000), so two
    /// logtap instances with different prefixes do not clash.
    #[serde(default)]
    pub server_id: Option<u32>,
    /// TLS: `disabled`, `preferred` (the default: TLS when the server
    /// offers it, certificate not verified), `required` (TLS, certificate
    /// not verified), `verify_ca` (chain checked against `ssl_ca`) or
    /// `verify_identity` (chain and host name), as Debezium's
    /// `database.ssl.mode`.
    #[serde(default)]
    pub ssl_mode: SslMode,
    /// PEM file with the CA certificate(s) for `verify_ca` / `verify_identity`.
    #[serde(default)]
    pub ssl_ca: Option<String>,
    /// Resume by GTID when the server has GTIDs (MariaDB always; MySQL with
    /// `gtid_mode = ON`); false uses binlog file and position only.
    #[serde(default = "default_true")]
    pub use_gtid: bool,
    /// Where to start when no position is stored: a GTID position
    /// (MariaDB `0-1-100,1-2-7`, MySQL `uuid:1-100`). Default: the server's
    /// current end of binlog (nothing before it is read; snapshots come with
    /// their own issue).
    #[serde(default)]
    pub initial_gtid: Option<String>,
    /// Where to start when no position is stored, as `file:pos`
    /// (`binlog.000003:4`); used when `initial_gtid` is not set.
    #[serde(default)]
    pub initial_binlog: Option<String>,
    /// Databases to capture (Debezium's `database.include.list`): regular
    /// expressions matching the whole name, case ignored (an exact name is
    /// one). Empty means every database except the system ones (mysql,
    /// sys, information_schema, performance_schema).
    #[serde(default)]
    pub database_include_list: Vec<String>,
    /// Databases never to capture (`database.exclude.list`).
    #[serde(default)]
    pub database_exclude_list: Vec<String>,
    /// Tables to capture (`table.include.list`): regular expressions
    /// matching the whole `db.table`, case ignored. Empty means every
    /// table of the captured databases.
    #[serde(default)]
    pub table_include_list: Vec<String>,
    /// Tables never to capture (`table.exclude.list`), the same way.
    #[serde(default)]
    pub table_exclude_list: Vec<String>,
    /// The lists above compiled, at their first use.
    #[serde(skip)]
    pub database_filter: logtap_core::FilterCache,
    /// The lists above compiled, at their first use.
    #[serde(skip)]
    pub table_filter: logtap_core::FilterCache,
    /// Whether transactions' BEGIN and END and each change's transaction
    /// block are produced (`[record] provide_transaction_metadata`, set by
    /// the binary).
    #[serde(skip)]
    pub tx_metadata: bool,
    /// Columns to keep in change records' values (`column.include.list`):
    /// regular expressions matching the whole `database.table.column`, ignoring
    /// case. Empty: every column. Keys keep their columns, as Debezium's do.
    #[serde(default)]
    pub column_include_list: Vec<String>,
    /// Columns to leave out of change records' values
    /// (`column.exclude.list`), the same way; not with `column_include_list`.
    #[serde(default)]
    pub column_exclude_list: Vec<String>,
    /// A change with a value logtap cannot convert: `fail` (stop at it),
    /// `warn` (log its position, table and key, skip it) or `skip`.
    /// Debezium's `event.processing.failure.handling.mode`.
    #[serde(default)]
    pub event_processing_failure_handling_mode: logtap_core::FailureHandling,
    /// `precise` (Connect Decimal), `double` or `string`.
    #[serde(default)]
    pub decimal_handling_mode: DecimalMode,
    /// `long` (BIGINT UNSIGNED wraps above 2^63-1) or `precise` (Decimal).
    #[serde(default)]
    pub bigint_unsigned_handling_mode: BigIntUnsignedMode,
    /// `adaptive_time_microseconds` (Debezium's MySQL default), `connect`,
    /// `microseconds`, `nanoseconds` or `isostring`.
    #[serde(default)]
    pub time_precision_mode: TimePrecisionMode,
    /// `bytes`, `base64`, `base64-url-safe` or `hex`.
    #[serde(default)]
    pub binary_handling_mode: BinaryMode,
    /// `enable.time.adjuster`: two-digit years (0001-0099) become 1970-2069.
    #[serde(default = "default_true")]
    pub enable_time_adjuster: bool,
    /// Columns of MariaDB JSON type (stored as LONGTEXT, so the binlog
    /// cannot tell): `db.table.column` entries get Debezium's `Json`
    /// schema name instead of a plain string.
    #[serde(default)]
    pub json_columns: Vec<String>,
    /// Binlog heartbeat period asked of the server, in milliseconds; it
    /// keeps an idle connection alive and shows a dead one. 0 disables.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_interval_ms: u64,
    /// Give up connecting after this long, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Write a schema-change record (DDL and the tables' structure) to the
    /// topic `<topic_prefix>` for each DDL statement, as Debezium's
    /// `include.schema.changes` (default true) does.
    #[serde(default = "default_true")]
    pub include_schema_changes: bool,
}

fn default_port() -> u16 {
    3306
}
fn default_true() -> bool {
    true
}
fn default_heartbeat_ms() -> u64 {
    10_000
}
fn default_connect_timeout_ms() -> u64 {
    30_000
}

/// Databases never captured, whatever the lists say.
pub const SYSTEM_DATABASES: [&str; 4] =
    ["mysql", "sys", "information_schema", "performance_schema"];

/// TLS to the server, Debezium's `database.ssl.mode` values: `disabled`,
/// `preferred`, `required`, `verify_ca`, `verify_identity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SslMode {
    Disabled,
    #[default]
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl std::fmt::Display for SslMode {
    /// The configured spelling.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        })
    }
}

impl MysqlConfig {
    /// The TLS mode.
    pub fn ssl(&self) -> SslMode {
        self.ssl_mode
    }

    /// The server id to register with: the configured one, or one derived
    /// from the topic prefix (FNV-1a, so it is stable across runs).
    pub fn effective_server_id(&self, topic_prefix: &str) -> u32 {
        if let Some(id) = self.server_id {
            return id;
        }
        let mut h: u32 = 0x811c_9dc5;
        for b in topic_prefix.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        5_400_000 + h % 100_000
    }

    /// The value-conversion options these settings select.
    pub fn type_options(&self) -> TypeOptions {
        TypeOptions {
            decimal: self.decimal_handling_mode,
            bigint_unsigned: self.bigint_unsigned_handling_mode,
            time_precision: self.time_precision_mode,
            binary: self.binary_handling_mode,
            time_adjuster: self.enable_time_adjuster,
        }
    }

    /// Checks every setting; the error names the field (without the
    /// `mysql.` prefix) and says what is wrong.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.host.is_empty() {
            return Err(("host".into(), "must not be empty".into()));
        }
        if self.user.is_empty() {
            return Err(("user".into(), "must not be empty".into()));
        }
        if self.server_id == Some(0) {
            return Err(("server_id".into(), "0 is not a valid replica server id".into()));
        }
        let mode = self.ssl_mode;
        if matches!(mode, SslMode::VerifyCa | SslMode::VerifyIdentity) && self.ssl_ca.is_none() {
            return Err(("ssl_ca".into(), format!("required with ssl_mode = {mode}")));
        }
        for (field, list) in [
            ("database_include_list", &self.database_include_list),
            ("database_exclude_list", &self.database_exclude_list),
            ("table_include_list", &self.table_include_list),
            ("table_exclude_list", &self.table_exclude_list),
            ("column_include_list", &self.column_include_list),
            ("column_exclude_list", &self.column_exclude_list),
        ] {
            for t in list {
                logtap_core::filter::compile(t).map_err(|e| (field.into(), e.to_string()))?;
            }
        }
        if !self.column_include_list.is_empty() && !self.column_exclude_list.is_empty() {
            return Err((
                "column_exclude_list".into(),
                "give column_include_list or column_exclude_list, not both (as Debezium)".into(),
            ));
        }
        if self.initial_gtid.is_some() && self.initial_binlog.is_some() {
            return Err((
                "initial_binlog".into(),
                "give initial_gtid or initial_binlog, not both".into(),
            ));
        }
        if let Some(b) = &self.initial_binlog {
            if self.initial_binlog_position().is_none() {
                return Err((
                    "initial_binlog".into(),
                    format!("`{b}` is not `file:position` (e.g. binlog.000003:4)"),
                ));
            }
        }
        if let Some(bad) = self.json_columns.iter().find(|t| t.split('.').count() != 3) {
            return Err(("json_columns".into(), format!("`{bad}` is not `database.table.column`")));
        }
        Ok(())
    }

    /// `initial_binlog` split into file and position.
    pub fn initial_binlog_position(&self) -> Option<(String, u64)> {
        let (file, pos) = self.initial_binlog.as_deref()?.rsplit_once(':')?;
        let pos: u64 = pos.parse().ok()?;
        (!file.is_empty() && pos >= 4).then(|| (file.to_string(), pos))
    }

    /// Whether changes to `db`.`table` are captured (Debezium's rules:
    /// whole-name regular expressions, case ignored).
    pub fn captures(&self, db: &str, table: &str) -> bool {
        self.captures_database(db)
            && self
                .table_filter
                .get(&self.table_include_list, &self.table_exclude_list)
                .matches(&format!("{db}.{table}"))
    }

    /// Whether database `db` passes the database lists (its tables may
    /// still be left out by the table lists).
    pub fn captures_database(&self, db: &str) -> bool {
        !SYSTEM_DATABASES.contains(&db)
            && self
                .database_filter
                .get(&self.database_include_list, &self.database_exclude_list)
                .matches(db)
    }

    /// Whether `db.table.column` is declared a JSON column.
    pub fn is_json_column(&self, db: &str, table: &str, column: &str) -> bool {
        self.json_columns.iter().any(|c| {
            let mut p = c.splitn(3, '.');
            p.next() == Some(db) && p.next() == Some(table) && p.next() == Some(column)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Result<MysqlConfig, toml::de::Error> {
        toml::from_str(&format!("host = \"127.0.0.1\"\nuser = \"cdc\"\n{extra}"))
    }

    #[test]
    fn defaults_are_debeziums() {
        let c = cfg("").unwrap();
        assert_eq!(c.port, 3306);
        assert!(c.validate().is_ok());
        assert_eq!(c.type_options(), TypeOptions::default());
        assert_eq!(c.ssl(), SslMode::Preferred);
        assert!(c.use_gtid);
    }

    #[test]
    fn bad_values_name_their_field() {
        // Modes are typed: a value that is not one is refused when the file
        // is read, naming the field and the accepted values.
        for (extra, field, accepted) in [
            ("ssl_mode = \"maybe\"", "ssl_mode", "verify_identity"),
            ("decimal_handling_mode = \"exact\"", "decimal_handling_mode", "precise"),
            ("time_precision_mode = \"adaptive\"", "time_precision_mode", "isostring"),
            ("bigint_unsigned_handling_mode = \"huge\"", "bigint_unsigned_handling_mode", "long"),
            ("binary_handling_mode = \"base64url\"", "binary_handling_mode", "base64-url-safe"),
        ] {
            let e = cfg(extra).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains(accepted), "{extra}: {e}");
        }
        for (extra, field) in [
            ("ssl_mode = \"verify_ca\"", "ssl_ca"),
            ("table_include_list = [\"shop.(orders\"]", "table_include_list"),
            ("database_exclude_list = [\"[a-\"]", "database_exclude_list"),
            ("server_id = 0", "server_id"),
            ("json_columns = [\"a.b\"]", "json_columns"),
            ("initial_binlog = \"binlog.000001\"", "initial_binlog"),
        ] {
            let e = cfg(extra).unwrap().validate().unwrap_err();
            assert_eq!(e.0, field, "{extra}: {e:?}");
        }
        assert!(cfg("colour = 1").is_err(), "unknown keys are refused");
    }

    #[test]
    fn include_and_exclude_lists() {
        let c = cfg("database_include_list = [\"shop\"]\ntable_exclude_list = [\"shop.audit\"]")
            .unwrap();
        assert!(c.captures("shop", "orders"));
        assert!(!c.captures("shop", "audit"));
        assert!(!c.captures("crm", "orders"));
        assert!(!cfg("").unwrap().captures("mysql", "user"));
        assert!(cfg("").unwrap().captures("crm", "orders"));
        // Debezium's meaning: whole-name regular expressions, case ignored.
        let c = cfg(r#"database_include_list = ["shop_\\d+"]
table_include_list = ['shop_\d+\.order.*']
table_exclude_list = ["shop_1.orders_archive"]"#)
        .unwrap();
        c.validate().unwrap();
        assert!(c.captures("shop_1", "orders"));
        assert!(c.captures("SHOP_2", "Order_lines"));
        assert!(!c.captures("shop_1", "orders_archive"));
        assert!(!c.captures("shop_1", "customers"));
        assert!(!c.captures("shop_x", "orders"));
        assert!(!c.captures("old_shop_1", "orders"), "anchored");
    }

    #[test]
    fn derived_server_id_is_stable_and_in_range() {
        let c = cfg("").unwrap();
        let a = c.effective_server_id("shop");
        assert_eq!(a, c.effective_server_id("shop"));
        assert_ne!(a, c.effective_server_id("crm"));
        assert!((5_400_000..5_500_000).contains(&a));
        assert_eq!(cfg("server_id = 77").unwrap().effective_server_id("shop"), 77);
    }
}
