//! Debezium's schema-change records (`SchemaChangeKey`/`SchemaChangeValue`
//! with `tableChanges`), built from a classified statement (`ddl.rs`) and
//! the catalog of the tables it changed. No IO.
//!
//! A table is described as `information_schema` has it, which is what
//! Debezium reads from `SHOW CREATE TABLE` for the tables that existed
//! when it started: the type as the server normalizes it (`INT` with the
//! display width MariaDB keeps, 11, and MySQL 8+ drops), lengths and scales
//! from `COLUMN_TYPE`, ENUM length 1 and SET length 2k-1, quoted ENUM/SET
//! values, `CURRENT_TIMESTAMP` as `1970-01-01 00:00:00`. For a table
//! created while streaming, Debezium describes the `CREATE TABLE` text as
//! written (`int` without a width, `JSON`, `BOOL`), which logtap does not
//! parse; and the catalog is read when logtap reads the statement, so a
//! table changed again in between is described as it is after the later
//! change.

use crate::catalog::{CatalogColumn, TableCatalog};
use crate::conn::Flavor;
use crate::ddl::ChangeKind;
use crate::types::ColumnDefault;
use logtap_core::event::SchemaChangeEvent;
use logtap_core::schema::{Field, Schema, Struct, Value};
use logtap_core::SourcePosition;
use std::sync::Arc;

/// The key, value and nested schemas of the schema-change records.
#[derive(Debug, Clone)]
pub struct SchemaChangeSchemas {
    flavor: Flavor,
    key: Arc<Schema>,
    value: Arc<Schema>,
    change: Arc<Schema>,
    table: Arc<Schema>,
    column: Arc<Schema>,
}

impl SchemaChangeSchemas {
    /// The schemas for `flavor`, around the connector's `source` schema.
    pub fn new(flavor: Flavor, source: &Schema) -> Self {
        let connector = match flavor {
            Flavor::Mysql => "mysql",
            Flavor::Mariadb => "mariadb",
        };
        let s = Schema::string;
        let so = || Schema::string().optional();
        let column = Schema::structure(
            "io.debezium.connector.schema.Column",
            vec![
                Field::new("name", s()),
                Field::new("jdbcType", Schema::int32()),
                Field::new("nativeType", Schema::int32().optional()),
                Field::new("typeName", s()),
                Field::new("typeExpression", so()),
                Field::new("charsetName", so()),
                Field::new("length", Schema::int32().optional()),
                Field::new("scale", Schema::int32().optional()),
                Field::new("position", Schema::int32()),
                Field::new("optional", Schema::boolean().optional()),
                Field::new("autoIncremented", Schema::boolean().optional()),
                Field::new("generated", Schema::boolean().optional()),
                Field::new("comment", so()),
                Field::new("defaultValueExpression", so()),
                Field::new("enumValues", Schema::array(s()).optional()),
            ],
        )
        .version(1);
        let table = Schema::structure(
            "io.debezium.connector.schema.Table",
            vec![
                Field::new("defaultCharsetName", so()),
                Field::new("primaryKeyColumnNames", Schema::array(s()).optional()),
                Field::new("columns", Schema::array(column.clone())),
                Field::new("comment", so()),
            ],
        )
        .version(1)
        .optional();
        let change = Schema::structure(
            "io.debezium.connector.schema.Change",
            vec![
                Field::new("type", s()),
                Field::new("id", s()),
                Field::new("table", table.clone()),
            ],
        )
        .version(1);
        let key = Schema::structure(
            format!("io.debezium.connector.{connector}.SchemaChangeKey"),
            vec![Field::new("databaseName", s())],
        )
        .version(1);
        let value = Schema::structure(
            format!("io.debezium.connector.{connector}.SchemaChangeValue"),
            vec![
                Field::new("source", source.clone()),
                Field::new("ts_ms", Schema::int64()),
                Field::new("databaseName", so()),
                Field::new("schemaName", so()),
                Field::new("ddl", so()),
                Field::new("tableChanges", Schema::array(change.clone())),
            ],
        )
        .version(1);
        SchemaChangeSchemas {
            flavor,
            key: Arc::new(key),
            value: Arc::new(value),
            change: Arc::new(change),
            table: Arc::new(table),
            column: Arc::new(column),
        }
    }

    /// One record: `database` changed by `ddl`, with its table changes
    /// (kind, `db`, `table`, the table's catalog; none for a drop).
    pub fn record(
        &self,
        source: Struct,
        processed_at_ms: i64,
        database: &str,
        ddl: &str,
        changes: &[(ChangeKind, &str, &str, Option<&TableCatalog>)],
        position: SourcePosition,
    ) -> SchemaChangeEvent {
        let changes = changes
            .iter()
            .map(|(kind, db, table, catalog)| {
                Value::Struct(Struct {
                    schema: self.change.clone(),
                    values: vec![
                        Value::String(kind.as_str().into()),
                        Value::String(format!("\"{db}\".\"{table}\"")),
                        match (kind, catalog) {
                            (ChangeKind::Drop, _) | (_, None) => Value::Null,
                            (_, Some(c)) => self.table(c),
                        },
                    ],
                })
            })
            .collect();
        SchemaChangeEvent {
            key: Struct { schema: self.key.clone(), values: vec![Value::String(database.into())] },
            value: Struct {
                schema: self.value.clone(),
                values: vec![
                    Value::Struct(source),
                    Value::Int64(processed_at_ms),
                    Value::String(database.into()),
                    Value::Null,
                    Value::String(ddl.into()),
                    Value::Array(changes),
                ],
            },
            position,
        }
    }

    fn table(&self, c: &TableCatalog) -> Value {
        let columns =
            c.columns.iter().enumerate().map(|(i, col)| self.column(col, i as i32 + 1)).collect();
        Value::Struct(Struct {
            schema: self.table.clone(),
            values: vec![
                c.charset.clone().map_or(Value::Null, Value::String),
                Value::Array(c.primary_key.iter().cloned().map(Value::String).collect()),
                Value::Array(columns),
                Value::Null,
            ],
        })
    }

    fn column(&self, c: &CatalogColumn, position: i32) -> Value {
        let type_name = type_name(c);
        let (length, scale) = length_scale(c);
        let extra = c.extra.to_ascii_lowercase();
        // MySQL's parser counts ON UPDATE CURRENT_TIMESTAMP as generated;
        // MariaDB's only when the column has no DEFAULT CURRENT_TIMESTAMP.
        let on_update = extra.contains("on update")
            && (self.flavor == Flavor::Mysql || c.default != ColumnDefault::CurrentTimestamp);
        let generated = extra.contains("auto_increment") || on_update;
        let default = match &c.default {
            ColumnDefault::Text(t) => Value::String(t.clone()),
            ColumnDefault::CurrentTimestamp => Value::String("1970-01-01 00:00:00".into()),
            ColumnDefault::Bits(n) => Value::String(format!("{n:b}")),
            ColumnDefault::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
            ColumnDefault::None | ColumnDefault::Expression(_) => Value::Null,
        };
        let enum_values = match c.data_type.as_str() {
            "enum" | "set" => {
                Value::Array(labels(&c.column_type).into_iter().map(Value::String).collect())
            }
            _ => Value::Null,
        };
        let opt_i32 = |v: Option<i32>| v.map_or(Value::Null, Value::Int32);
        Value::Struct(Struct {
            schema: self.column.clone(),
            values: vec![
                Value::String(c.name.clone()),
                Value::Int32(jdbc_type(&c.data_type)),
                Value::Null,
                Value::String(type_name.clone()),
                Value::String(type_name),
                c.charset.clone().map_or(Value::Null, Value::String),
                opt_i32(length),
                opt_i32(scale),
                Value::Int32(position),
                Value::Boolean(c.nullable),
                Value::Boolean(generated),
                Value::Boolean(generated),
                Value::Null,
                default,
                enum_values,
            ],
        })
    }
}

/// `java.sql.Types` of a column, as Debezium's MySQL type resolver has it.
fn jdbc_type(data_type: &str) -> i32 {
    match data_type {
        "tinyint" | "smallint" => 5,
        "mediumint" | "int" | "integer" | "year" => 4,
        "bigint" => -5,
        "bit" => -7,
        "decimal" | "dec" | "fixed" => 3,
        "numeric" => 2,
        "float" => 6,
        "double" | "double precision" => 8,
        "real" => 7,
        "bool" | "boolean" => 16,
        "char" | "enum" | "set" => 1,
        "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => 12,
        "binary" => -2,
        "varbinary" => -3,
        "tinyblob" | "blob" | "mediumblob" | "longblob" => 2004,
        "date" => 91,
        "time" => 92,
        "datetime" => 93,
        "timestamp" => 2014,
        _ => 1111,
    }
}

/// `INT`, `INT UNSIGNED`, `INT UNSIGNED ZEROFILL`.
fn type_name(c: &CatalogColumn) -> String {
    let t = c.column_type.to_ascii_lowercase();
    let mut name = c.data_type.to_ascii_uppercase();
    if t.contains(" zerofill") {
        name.push_str(" UNSIGNED ZEROFILL");
    } else if t.contains(" unsigned") {
        name.push_str(" UNSIGNED");
    }
    name
}

/// Length and scale from `COLUMN_TYPE`'s parentheses; ENUM 1, SET 2k-1.
fn length_scale(c: &CatalogColumn) -> (Option<i32>, Option<i32>) {
    match c.data_type.as_str() {
        "enum" => return (Some(1), None),
        "set" => {
            let k = labels(&c.column_type).len() as i32;
            return (Some((2 * k - 1).max(0)), None);
        }
        _ => {}
    }
    let Some(open) = c.column_type.find('(') else { return (None, None) };
    let Some(close) = c.column_type[open..].find(')') else { return (None, None) };
    let mut parts = c.column_type[open + 1..open + close].split(',');
    let length = parts.next().and_then(|p| p.trim().parse().ok());
    let scale = parts.next().and_then(|p| p.trim().parse().ok());
    (length, scale)
}

/// The quoted values of `enum('a','b')` / `set(...)`, quotes kept.
fn labels(column_type: &str) -> Vec<String> {
    let Some(open) = column_type.find('(') else { return vec![] };
    let inner = column_type[open + 1..].trim_end().strip_suffix(')').unwrap_or("");
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut chars = inner.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\'' if in_quote && chars.peek() == Some(&'\'') => {
                cur.push_str("''");
                chars.next();
            }
            '\'' => {
                in_quote = !in_quote;
                cur.push('\'');
            }
            ',' if !in_quote => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, column_type: &str) -> CatalogColumn {
        CatalogColumn {
            name: "c".into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            nullable: true,
            default: ColumnDefault::None,
            extra: String::new(),
            charset: None,
            comment: String::new(),
        }
    }

    #[test]
    fn columns_are_described_as_debeziums_parser_describes_show_create_table() {
        assert_eq!(length_scale(&col("int", "int(11)")), (Some(11), None));
        assert_eq!(length_scale(&col("int", "int")), (None, None));
        assert_eq!(length_scale(&col("decimal", "decimal(5,2)")), (Some(5), Some(2)));
        assert_eq!(length_scale(&col("enum", "enum('x','y')")), (Some(1), None));
        assert_eq!(length_scale(&col("set", "set('p','q','r')")), (Some(5), None));
        assert_eq!(labels("enum('x','it''s','a,b')"), vec!["'x'", "'it''s'", "'a,b'"]);
        assert_eq!(type_name(&col("int", "int(10) unsigned")), "INT UNSIGNED");
        assert_eq!(type_name(&col("int", "int(10) unsigned zerofill")), "INT UNSIGNED ZEROFILL");
        assert_eq!(jdbc_type("varchar"), 12);
        assert_eq!(jdbc_type("timestamp"), 2014);
        assert_eq!(jdbc_type("uuid"), 1111);
    }
}
