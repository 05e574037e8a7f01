//! The one change event type both sources produce.

use crate::position::SourcePosition;
use crate::schema::{Schema, Struct};
use std::fmt;
use std::sync::Arc;

/// What happened to the row, with Debezium's one-letter codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
    /// A row read by a snapshot.
    Read,
    Truncate,
}

impl Op {
    pub fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Read => "r",
            Op::Truncate => "t",
        }
    }
}

/// A table: `namespace` is the PostgreSQL schema or the MySQL database.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    pub namespace: String,
    pub table: String,
}

impl TableId {
    pub fn new(namespace: impl Into<String>, table: impl Into<String>) -> Self {
        TableId { namespace: namespace.into(), table: table.into() }
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.namespace, self.table)
    }
}

/// The primary key (or `message.key.columns`) of a row: a struct named
/// `<prefix>.<namespace>.<table>.Key`.
pub type RowKey = Struct;

/// Debezium's `transaction` block (present when transaction metadata is on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionBlock {
    pub id: String,
    pub total_order: i64,
    pub data_collection_order: i64,
}

/// Kafka headers of one record.
pub type Headers = Vec<(String, Vec<u8>)>;

/// Debezium's headers for an update that changes the primary key, which is
/// sent as a delete of the old key (plus tombstone) and a create of the new
/// one: the delete carries `__debezium.newkey`, the create
/// `__debezium.oldkey`, each the other key as JSON. `None` when the key
/// values are the same (a plain update).
pub fn key_change_headers(old: &Struct, new: &Struct) -> Option<(Headers, Headers)> {
    if old.values == new.values {
        return None;
    }
    let json = |k: &Struct| crate::payload::struct_json(k).to_string().into_bytes();
    Some((
        vec![("__debezium.newkey".into(), json(new))],
        vec![("__debezium.oldkey".into(), json(old))],
    ))
}

/// A table's key schema named `name`: its key columns' field schemas,
/// required (a key column is never null), defaults kept, as Debezium's.
pub fn key_schema(
    name: &str,
    key_fields: impl IntoIterator<Item = crate::schema::Field>,
) -> Arc<Schema> {
    let fields = key_fields
        .into_iter()
        .map(|mut f| {
            f.schema.optional = false;
            f
        })
        .collect();
    Arc::new(Schema::structure(name, fields))
}

/// One record-to-be of a row change: what [`split_row_change`] gives.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    pub op: Op,
    pub key: Option<Struct>,
    pub before: Option<Struct>,
    pub after: Option<Struct>,
    pub headers: Headers,
}

/// A row change as Debezium sends it, for both sources: a create or a
/// delete keyed by its row; an update keyed by its new row, or, when the
/// key changed, a delete of the old key and a create of the new one with
/// [`key_change_headers`]. `key_of` gives a row's key (`None` for a table
/// without one, whose updates are plain updates).
pub fn split_row_change(
    op: Op,
    before: Option<Struct>,
    after: Option<Struct>,
    key_of: impl Fn(&Struct) -> Option<Struct>,
) -> Vec<RowChange> {
    let one = |op, key, before, after| RowChange { op, key, before, after, headers: vec![] };
    match op {
        Op::Update => {
            let old_key = before.as_ref().and_then(&key_of);
            let new_key = after.as_ref().and_then(&key_of);
            let change = match (&old_key, &new_key) {
                (Some(o), Some(n)) => key_change_headers(o, n),
                _ => None,
            };
            match change {
                Some((delete_headers, create_headers)) => vec![
                    RowChange {
                        op: Op::Delete,
                        key: old_key,
                        before,
                        after: None,
                        headers: delete_headers,
                    },
                    RowChange {
                        op: Op::Create,
                        key: new_key,
                        before: None,
                        after,
                        headers: create_headers,
                    },
                ],
                None => vec![one(Op::Update, new_key, before, after)],
            }
        }
        Op::Delete => {
            let key = before.as_ref().and_then(&key_of);
            vec![one(Op::Delete, key, before, None)]
        }
        _ => {
            let key = after.as_ref().and_then(&key_of);
            vec![one(op, key, before, after)]
        }
    }
}

/// One row change, ready to be encoded.
///
/// `before`/`after` follow the row schema `value_schema`; `source` is the
/// connector's source block (its schema names it, e.g.
/// `io.debezium.connector.postgresql.Source`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub table: TableId,
    pub op: Op,
    /// `None` for tables without a key (the Kafka key is then null).
    pub key: Option<RowKey>,
    /// The key schema, kept even when this event carries no key value.
    pub key_schema: Option<Arc<Schema>>,
    /// The row struct schema, `<prefix>.<namespace>.<table>.Value`.
    pub value_schema: Arc<Schema>,
    pub before: Option<Struct>,
    pub after: Option<Struct>,
    pub source: Struct,
    /// When logtap processed the event, microseconds since the epoch
    /// (Debezium's top-level `ts_ms`/`ts_us`/`ts_ns`).
    pub processed_at_us: i64,
    pub transaction: Option<TransactionBlock>,
    /// Kafka headers for every record of this event (Debezium's
    /// `__debezium.oldkey`/`__debezium.newkey` on primary-key changes).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Where the event is in the source log (for errors and logs). Resume
    /// points are separate: see `AckTracker` checkpoints.
    pub position: SourcePosition,
}

impl ChangeEvent {
    /// Whether this is one half (the delete or the create) of an update
    /// that changed the key (see [`key_change_headers`]).
    pub fn is_key_change_half(&self) -> bool {
        self.headers.iter().any(|(k, _)| k == "__debezium.newkey" || k == "__debezium.oldkey")
    }
}

/// A record that is not a row change: Debezium's schema-change records,
/// written to the topic named by the topic prefix alone, key and value
/// built by the source.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaChangeEvent {
    pub key: Struct,
    pub value: Struct,
    /// Where the statement is in the source log (for errors and logs).
    pub position: SourcePosition,
}

/// The names Debezium gives the records of a table:
/// `<prefix>.<namespace>.<table>` with `.Key`, `.Value` and `.Envelope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordNames {
    pub key: String,
    pub value: String,
    pub envelope: String,
}

impl RecordNames {
    /// Names as Debezium derives them. Characters Avro does not allow in a
    /// name are replaced by `_`, as Debezium's default schema name adjuster does.
    pub fn new(prefix: &str, table: &TableId) -> Self {
        let base = format!(
            "{}.{}.{}",
            avro_safe(prefix),
            avro_safe(&table.namespace),
            avro_safe(&table.table)
        );
        RecordNames {
            key: format!("{base}.Key"),
            value: format!("{base}.Value"),
            envelope: format!("{base}.Envelope"),
        }
    }
}

fn avro_safe(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for (i, c) in part.chars().enumerate() {
        let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
        out.push(if ok { c } else { '_' });
    }
    out
}

/// Debezium's `source.snapshot`: whether and where in a snapshot a record
/// was read (`false` while streaming).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMarker {
    False,
    True,
    First,
    FirstInDataCollection,
    LastInDataCollection,
    Last,
    Incremental,
}

impl SnapshotMarker {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotMarker::False => "false",
            SnapshotMarker::True => "true",
            SnapshotMarker::First => "first",
            SnapshotMarker::FirstInDataCollection => "first_in_data_collection",
            SnapshotMarker::LastInDataCollection => "last_in_data_collection",
            SnapshotMarker::Last => "last",
            SnapshotMarker::Incremental => "incremental",
        }
    }
}

/// The fields every connector's `source` block starts with (see
/// [`source_schema`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceCommon<'a> {
    /// Debezium's `connector`: `postgresql`, `mysql`, `mariadb`.
    pub connector: &'a str,
    /// The topic prefix (Debezium's `name`).
    pub name: &'a str,
    /// When the change was made in the database, microseconds since the
    /// epoch (`ts_ms`, `ts_us` and `ts_ns` are derived from it).
    pub ts_us: i64,
    pub snapshot: SnapshotMarker,
    pub db: &'a str,
    pub sequence: Option<String>,
}

/// A `source` block: the common fields, then the connector's own values in
/// the order its schema lists them.
pub fn source_block(
    schema: &Arc<Schema>,
    common: SourceCommon<'_>,
    own: impl IntoIterator<Item = crate::schema::Value>,
) -> Struct {
    use crate::schema::Value;
    let mut values = vec![
        Value::String(env!("CARGO_PKG_VERSION").into()),
        Value::String(common.connector.into()),
        Value::String(common.name.into()),
        Value::Int64(common.ts_us.div_euclid(1000)),
        Value::String(common.snapshot.as_str().into()),
        Value::String(common.db.into()),
        common.sequence.map_or(Value::Null, Value::String),
        Value::Int64(common.ts_us),
        Value::Int64(common.ts_us.saturating_mul(1000)),
    ];
    values.extend(own);
    debug_assert_eq!(
        values.len(),
        schema.fields.len(),
        "source values out of step with its schema"
    );
    Struct { schema: schema.clone(), values }
}

/// A connector's own `source` fields (after the common ones): their schema
/// and one change's values, declared by one type so the order of the two
/// cannot drift apart.
pub trait ConnectorFields {
    /// The fields, in the order Debezium's connector writes them.
    fn fields() -> Vec<crate::schema::Field>;
    /// This change's values, in the order of [`ConnectorFields::fields`].
    fn values(&self) -> Vec<crate::schema::Value>;
}

/// The `source` schema of a connector whose own fields are `F`.
pub fn connector_source_schema<F: ConnectorFields>(name: &str) -> Schema {
    source_schema(name, F::fields())
}

/// The `source` block of one change: the common fields, then `own`'s.
pub fn connector_source_block<F: ConnectorFields>(
    schema: &Arc<Schema>,
    common: SourceCommon<'_>,
    own: &F,
) -> Struct {
    source_block(schema, common, own.values())
}

/// The `snapshot` field's allowed values, in Debezium 3.x's order.
pub const SNAPSHOT_ALLOWED: &str =
    "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental";

/// A connector's `source` block schema: the fields every Debezium connector's
/// source block starts with (`version`, `connector`, `name`, `ts_ms`,
/// `snapshot`, `db`, `sequence`, `ts_us`, `ts_ns`), then `extra`.
pub fn source_schema(name: &str, extra: Vec<crate::schema::Field>) -> Schema {
    use crate::schema::{Field, Value};
    let mut fields = vec![
        Field::new("version", Schema::string()),
        Field::new("connector", Schema::string()),
        Field::new("name", Schema::string()),
        Field::new("ts_ms", Schema::int64()),
        Field::new(
            "snapshot",
            Schema::string()
                .optional()
                .named("io.debezium.data.Enum")
                .version(1)
                .param("allowed", SNAPSHOT_ALLOWED)
                .with_default(Value::String("false".into())),
        ),
        Field::new("db", Schema::string()),
        Field::new("sequence", Schema::string().optional()),
        Field::new("ts_us", Schema::int64().optional()),
        Field::new("ts_ns", Schema::int64().optional()),
    ];
    fields.extend(extra);
    Schema::structure(name, fields).version(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_change_headers_carry_the_other_key() {
        use crate::schema::{Field, Value};
        let schema = Arc::new(Schema::structure("k", vec![Field::new("id", Schema::int32())]));
        let key = |v| Struct { schema: schema.clone(), values: vec![Value::Int32(v)] };
        assert_eq!(key_change_headers(&key(1), &key(1)), None);
        let (del, cre) = key_change_headers(&key(1), &key(2)).unwrap();
        assert_eq!(del, vec![("__debezium.newkey".to_string(), br#"{"id":2}"#.to_vec())]);
        assert_eq!(cre, vec![("__debezium.oldkey".to_string(), br#"{"id":1}"#.to_vec())]);
    }

    #[test]
    fn record_names_follow_debezium() {
        let n = RecordNames::new("dbserver1", &TableId::new("inventory", "customers"));
        assert_eq!(n.key, "dbserver1.inventory.customers.Key");
        assert_eq!(n.value, "dbserver1.inventory.customers.Value");
        assert_eq!(n.envelope, "dbserver1.inventory.customers.Envelope");
        let odd = RecordNames::new("my-app", &TableId::new("public", "9lives"));
        assert_eq!(odd.value, "my_app.public._lives.Value");
    }

    #[test]
    fn a_row_change_is_split_as_debezium_splits_it() {
        use crate::schema::{Field, Value};
        let schema = Arc::new(Schema::structure("k", vec![Field::new("id", Schema::int32())]));
        let row = |id| Struct { schema: schema.clone(), values: vec![Value::Int32(id)] };
        let keyed = |r: &Struct| Some(r.clone());
        let ops = |v: Vec<RowChange>| v.iter().map(|c| (c.op, c.headers.len())).collect::<Vec<_>>();
        // Same key: one update keyed by the new row.
        let same = split_row_change(Op::Update, Some(row(1)), Some(row(1)), keyed);
        assert_eq!(ops(same.clone()), [(Op::Update, 0)]);
        assert_eq!(same[0].key, Some(row(1)));
        // Key changed: delete of the old key, create of the new one, headers.
        let moved = split_row_change(Op::Update, Some(row(1)), Some(row(2)), keyed);
        assert_eq!(ops(moved.clone()), [(Op::Delete, 1), (Op::Create, 1)]);
        assert_eq!((moved[0].key.clone(), moved[1].key.clone()), (Some(row(1)), Some(row(2))));
        assert_eq!(moved[0].headers[0].0, "__debezium.newkey");
        // No before image (REPLICA IDENTITY DEFAULT): a plain update.
        assert_eq!(ops(split_row_change(Op::Update, None, Some(row(2)), keyed)), [(Op::Update, 0)]);
        // A table without a key: plain update, null key.
        let keyless = split_row_change(Op::Update, Some(row(1)), Some(row(2)), |_| None);
        assert_eq!((keyless.len(), keyless[0].key.clone()), (1, None));
        let deleted = split_row_change(Op::Delete, Some(row(3)), None, keyed);
        assert_eq!((deleted[0].op, deleted[0].key.clone()), (Op::Delete, Some(row(3))));
    }
}
