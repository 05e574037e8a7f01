//! PostgreSQL source settings (`[postgres]` in logtap.toml). Names follow
//! Debezium's PostgreSQL connector where one exists (`slot.name` becomes
//! `slot_name`, and so on).

use logtap_core::convert::{BinaryMode, DecimalMode};
use logtap_core::Secret;
use serde::Deserialize;

/// Connection, slot, publication, tables and value conversion.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Host name or address of the server (a primary, or a PG 16+ standby).
    pub host: String,
    /// TCP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Role with the REPLICATION attribute and SELECT on the captured tables.
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
    /// Database to capture.
    pub database: String,
    /// TLS to the server, with libpq's meanings (see [`SslMode`]):
    /// `disable`, `prefer` (the default, as in libpq), `require`,
    /// `verify-ca` or `verify-full`. Applies to both connections, the
    /// catalog one and the walsender.
    #[serde(default)]
    pub sslmode: SslMode,
    /// PEM file with the CA certificate(s) the server's certificate must
    /// chain to, or `system` for the system's trust store. Required with
    /// `verify-ca` and `verify-full`. As in libpq, giving it with `prefer`
    /// or `require` also verifies the chain (not the host name); with
    /// `disable` it is not used. Only this file is trusted: a server
    /// certificate from a public CA does not pass unless that CA is in it.
    #[serde(default)]
    pub sslrootcert: Option<String>,
    /// Logical replication slot (created with the pgoutput plugin if missing).
    #[serde(default = "default_slot_name")]
    pub slot_name: String,
    /// Publication (created if missing, see `publication_autocreate_mode`).
    #[serde(default = "default_publication_name")]
    pub publication_name: String,
    /// `filtered` (create/alter the publication to exactly the included
    /// tables), `all_tables` (`FOR ALL TABLES`, needs superuser) or
    /// `disabled` (the publication must exist).
    #[serde(default)]
    pub publication_autocreate_mode: PublicationMode,
    /// Schemas to capture (Debezium's `schema.include.list`): regular
    /// expressions matching the whole schema name, ignoring case. Empty
    /// means every schema but the system ones.
    #[serde(default)]
    pub schema_include_list: Vec<String>,
    /// Schemas never to capture (`schema.exclude.list`).
    #[serde(default)]
    pub schema_exclude_list: Vec<String>,
    /// Tables to capture (`table.include.list`): regular expressions
    /// matching the whole `schema.table`, ignoring case (an exact name is
    /// one). Empty means every table of the publication (with `filtered`,
    /// every table of the captured schemas).
    #[serde(default)]
    pub table_include_list: Vec<String>,
    /// Tables never to capture (`table.exclude.list`), the same way.
    #[serde(default)]
    pub table_exclude_list: Vec<String>,
    /// The lists above compiled, at their first use.
    #[serde(skip)]
    pub schema_filter: logtap_core::FilterCache,
    /// The lists above compiled, at their first use.
    #[serde(skip)]
    pub table_filter: logtap_core::FilterCache,
    /// Whether transactions' BEGIN and END and each change's transaction
    /// block are produced (`[record] provide_transaction_metadata`, set by
    /// the binary).
    #[serde(skip)]
    pub tx_metadata: bool,
    /// Columns to keep in change records' values (`column.include.list`):
    /// regular expressions matching the whole `schema.table.column`, ignoring
    /// case. Empty: every column. Keys keep their columns, as Debezium's do.
    #[serde(default)]
    pub column_include_list: Vec<String>,
    /// Columns to leave out of change records' values
    /// (`column.exclude.list`), the same way; not with `column_include_list`.
    #[serde(default)]
    pub column_exclude_list: Vec<String>,
    /// Emit `op = "t"` records for TRUNCATE. Debezium skips truncates by
    /// default (`skipped.operations = t`); logtap emits them unless this is false.
    #[serde(default = "default_true")]
    pub emit_truncate: bool,
    /// A change with a value logtap cannot convert: `fail` (stop at it),
    /// `warn` (log its position, table and key, skip it) or `skip`.
    /// Debezium's `event.processing.failure.handling.mode`.
    #[serde(default)]
    pub event_processing_failure_handling_mode: logtap_core::FailureHandling,
    /// `precise` (Connect Decimal), `double` or `string`.
    #[serde(default)]
    pub decimal_handling_mode: DecimalMode,
    /// `adaptive`, `adaptive_time_microseconds` or `connect`.
    #[serde(default)]
    pub time_precision_mode: TimePrecisionMode,
    /// `bytes`, `base64`, `base64-url-safe` or `hex`.
    #[serde(default)]
    pub binary_handling_mode: BinaryMode,
    /// `numeric` (MicroDuration) or `string` (ISO-8601).
    #[serde(default)]
    pub interval_handling_mode: IntervalMode,
    /// How often to send a standby status update, in milliseconds. Keep it
    /// well under the server's `wal_sender_timeout` (60 s by default).
    #[serde(default = "default_status_interval_ms")]
    pub status_interval_ms: u64,
    /// Columns of types Debezium has no mapping for (`box`, `tsquery`,
    /// PostGIS, some arrays) are left out of the records, as Debezium's
    /// `include.unknown.datatypes = false` does (logtap warns once per
    /// column). `true` sends them as their text's bytes, as Debezium does.
    #[serde(default)]
    pub include_unknown_datatypes: bool,
}

fn default_port() -> u16 {
    5432
}
fn default_slot_name() -> String {
    "logtap".into()
}
fn default_publication_name() -> String {
    "logtap".into()
}
fn default_true() -> bool {
    true
}
fn default_status_interval_ms() -> u64 {
    10_000
}

/// `publication.autocreate.mode`: what logtap does to the publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicationMode {
    /// Create or alter it to exactly the included tables.
    #[default]
    Filtered,
    /// `FOR ALL TABLES` (needs a superuser).
    AllTables,
    /// Leave it alone: it must exist.
    Disabled,
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// How the connections to PostgreSQL use TLS: libpq's `sslmode`, minus
/// `allow` (plain first, TLS only if the server insists), which protects
/// nothing `prefer` does not. Configured with libpq's spelling
/// (`verify-ca`, not `verify_ca`), checked once when the file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Plain TCP; no SSLRequest is sent.
    Disable,
    /// TLS if the server accepts the SSLRequest, plain TCP if it answers
    /// `N` (a server without `ssl = on`). Protects against eavesdropping on
    /// a server with TLS, not against an active attacker, who can answer `N`.
    /// A handshake that fails after an `S` is an error; libpq would try
    /// again in plain text, which would hide a certificate that does not
    /// verify against a given `sslrootcert`.
    #[default]
    Prefer,
    /// TLS or no connection. The certificate is not checked (unless a root
    /// certificate is given, as in libpq), so this stops eavesdropping but
    /// not an impostor.
    Require,
    /// TLS, and the server's certificate must chain to `sslrootcert`.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host connected to:
    /// an IP address in an IP subjectAltName, a host name in a DNS one (or
    /// in the CN if the certificate has no DNS names).
    VerifyFull,
}

impl SslMode {
    /// libpq's spelling, as in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the connection fails rather than continue in plain text.
    pub fn requires_tls(self) -> bool {
        matches!(self, SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull)
    }

    /// Whether the certificate chain is always verified (with `prefer` and
    /// `require` only when a root certificate is given).
    pub fn verifies_chain(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PostgresConfig {
    /// Checks every field; errors name it as `postgres.<field>`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.host.is_empty() {
            return Err(("postgres.host".into(), "must not be empty".into()));
        }
        if self.user.is_empty() {
            return Err(("postgres.user".into(), "must not be empty".into()));
        }
        if self.database.is_empty() {
            return Err(("postgres.database".into(), "must not be empty".into()));
        }
        let sslmode = self.sslmode;
        match self.sslrootcert.as_deref() {
            Some("") => {
                return Err((
                    "postgres.sslrootcert".into(),
                    "must not be empty (leave it out instead)".into(),
                ));
            }
            None if sslmode.verifies_chain() => {
                return Err((
                    "postgres.sslrootcert".into(),
                    format!(
                        "required with sslmode = \"{sslmode}\": the PEM file with the CA \
                         certificate(s) that signed the server's certificate, or \"system\" \
                         for the system's trust store"
                    ),
                ));
            }
            _ => {}
        }
        if !is_identifier(&self.slot_name) {
            return Err((
                "postgres.slot_name".into(),
                "must be 1-63 lower-case letters, digits or underscores (PostgreSQL's rule for slot names)".into(),
            ));
        }
        if !is_identifier(&self.publication_name) {
            return Err((
                "postgres.publication_name".into(),
                "must be 1-63 lower-case letters, digits or underscores".into(),
            ));
        }
        for (field, list) in [
            ("postgres.schema_include_list", &self.schema_include_list),
            ("postgres.schema_exclude_list", &self.schema_exclude_list),
            ("postgres.table_include_list", &self.table_include_list),
            ("postgres.table_exclude_list", &self.table_exclude_list),
            ("postgres.column_include_list", &self.column_include_list),
            ("postgres.column_exclude_list", &self.column_exclude_list),
        ] {
            for t in list {
                logtap_core::filter::compile(t).map_err(|e| (field.into(), e.to_string()))?;
            }
        }
        if !self.column_include_list.is_empty() && !self.column_exclude_list.is_empty() {
            return Err((
                "postgres.column_exclude_list".into(),
                "give column_include_list or column_exclude_list, not both (as Debezium)".into(),
            ));
        }
        if !(100..=3_600_000).contains(&self.status_interval_ms) {
            return Err((
                "postgres.status_interval_ms".into(),
                "must be between 100 and 3600000".into(),
            ));
        }
        Ok(())
    }

    /// Whether `schema.table` is captured by the include/exclude lists
    /// (Debezium's rules: whole-name regular expressions, case ignored).
    pub fn captures(&self, schema: &str, table: &str) -> bool {
        let schemas = self.schema_filter.get(&self.schema_include_list, &self.schema_exclude_list);
        let tables = self.table_filter.get(&self.table_include_list, &self.table_exclude_list);
        schemas.matches(schema) && tables.matches(&format!("{schema}.{table}"))
    }
}
/// `time.precision.mode`: `adaptive`, `adaptive_time_microseconds`,
/// `connect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimePrecisionMode {
    /// Milli- or microsecond types chosen by the column's precision.
    #[default]
    Adaptive,
    /// As `Adaptive`, but `time` is always `MicroTime`.
    AdaptiveTimeMicroseconds,
    /// Kafka Connect's own `Date`, `Time` and `Timestamp` (milliseconds).
    Connect,
}

/// `interval.handling.mode`: `numeric`, `string`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMode {
    /// `io.debezium.time.MicroDuration`: microseconds, months counted as
    /// 365.25/12 days.
    #[default]
    Numeric,
    /// `io.debezium.time.Interval`: ISO-8601 `PnYnMnDTnHnMnS`.
    String,
}
