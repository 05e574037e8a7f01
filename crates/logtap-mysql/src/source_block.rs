//! Debezium's MySQL/MariaDB `source` block: its schema (named per
//! connector) and values, shared by row changes, snapshot reads and
//! schema-change records.

use crate::conn::Flavor;
use logtap_core::event::{connector_source_block, ConnectorFields, SnapshotMarker, SourceCommon};
use logtap_core::schema::{Field, Schema, Struct, Value};
use std::sync::Arc;

/// The `io.debezium.connector.mysql.Source` schema (`mariadb` for MariaDB).
pub fn source_schema(flavor: Flavor) -> Schema {
    logtap_core::event::source_schema(
        match flavor {
            Flavor::Mysql => "io.debezium.connector.mysql.Source",
            Flavor::Mariadb => "io.debezium.connector.mariadb.Source",
        },
        SourceFields::fields(),
    )
}

/// A change's time: the commit microsecond where the server logs it, else
/// the event header's second.
pub(crate) fn change_time_us(commit_us: Option<i64>, header_secs: u32) -> i64 {
    commit_us.unwrap_or(i64::from(header_secs) * 1_000_000)
}

/// The values of Debezium's MySQL/MariaDB `source` block.
pub(crate) struct SourceFields<'a> {
    pub(crate) connector: &'static str,
    pub(crate) snapshot: SnapshotMarker,
    pub(crate) prefix: &'a str,
    /// The change's time (`source.ts_ms`, `ts_us`, `ts_ns`).
    pub(crate) ts_us: i64,
    pub(crate) db: &'a str,
    pub(crate) table: Option<&'a str>,
    pub(crate) server_id: i64,
    pub(crate) gtid: Option<&'a str>,
    pub(crate) file: &'a str,
    pub(crate) pos: u64,
    pub(crate) row: u64,
    pub(crate) thread: Option<i64>,
}

/// The `source` block (see [`source_schema`] for the fields).
pub(crate) fn source_struct(schema: &Arc<Schema>, f: &SourceFields<'_>) -> Struct {
    let common = SourceCommon {
        connector: f.connector,
        name: f.prefix,
        ts_us: f.ts_us,
        snapshot: f.snapshot,
        db: f.db,
        sequence: None,
    };
    connector_source_block(schema, common, f)
}

impl ConnectorFields for SourceFields<'_> {
    fn fields() -> Vec<Field> {
        vec![
            Field::new("table", Schema::string().optional()),
            Field::new("server_id", Schema::int64()),
            Field::new("gtid", Schema::string().optional()),
            Field::new("file", Schema::string()),
            Field::new("pos", Schema::int64()),
            Field::new("row", Schema::int32()),
            Field::new("thread", Schema::int64().optional()),
            Field::new("query", Schema::string().optional()),
        ]
    }

    fn values(&self) -> Vec<Value> {
        vec![
            self.table.map_or(Value::Null, |t| Value::String(t.into())),
            Value::Int64(self.server_id),
            self.gtid.map_or(Value::Null, |g| Value::String(g.into())),
            Value::String(self.file.into()),
            Value::Int64(self.pos as i64),
            Value::Int32(self.row as i32),
            self.thread.map_or(Value::Null, Value::Int64),
            // query: only with `include.query`, which needs binlog_rows_query_log_events.
            Value::Null,
        ]
    }
}
