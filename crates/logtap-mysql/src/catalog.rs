//! What the binlog does not say about a table, read from
//! `information_schema`: column defaults, the types MariaDB stores as plain
//! binary (UUID), and, for schema-change records, the columns as the DDL
//! declared them.
//!
//! The catalog describes the table as it is now, while the binlog may be
//! behind it (a restart after a later `ALTER TABLE`): its columns are
//! matched to the TABLE_MAP's by name, and a column it does not describe
//! any more gets nothing from it. A default changed by a DDL that logtap
//! has not read yet applies to the rows before it too (Debezium, which
//! replays the DDL, would not); the source reads the catalog again after
//! every DDL it reads, so only a source that is behind sees this.

use crate::types::ColumnDefault;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// One row of `information_schema.COLUMNS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    /// `DATA_TYPE`, lower case: `int`, `varchar`, `uuid`.
    pub data_type: String,
    /// `COLUMN_TYPE`: `int(11) unsigned`, `enum('x','y')`.
    pub column_type: String,
    pub nullable: bool,
    pub default: ColumnDefault,
    /// `EXTRA`: `auto_increment`, `VIRTUAL GENERATED`, ...
    pub extra: String,
    pub charset: Option<String>,
    pub comment: String,
}

/// A table as `information_schema` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableCatalog {
    /// In ordinal order.
    pub columns: Vec<CatalogColumn>,
    /// Primary key column names, in key order.
    pub primary_key: Vec<String>,
    /// The table's default character set (from its collation).
    pub charset: Option<String>,
    pub comment: String,
}

impl TableCatalog {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&CatalogColumn> {
        self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// Reads table `db`.`table`; an empty catalog if it does not exist (any
/// more).
pub async fn fetch(
    conn: &mut Conn,
    mariadb: bool,
    db: &str,
    table: &str,
) -> Result<TableCatalog, mysql_async::Error> {
    type Row = (String, String, String, String, Option<String>, String, Option<String>, String);
    let rows: Vec<Row> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, \
             CHARACTER_SET_NAME, COLUMN_COMMENT FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (db, table),
        )
        .await?;
    let columns = rows
        .into_iter()
        .map(|(name, data_type, column_type, nullable, default, extra, charset, comment)| {
            let data_type = data_type.to_ascii_lowercase();
            CatalogColumn {
                default: ColumnDefault::parse(mariadb, default.as_deref(), &extra, &data_type),
                name,
                data_type,
                column_type,
                nullable: nullable.eq_ignore_ascii_case("YES"),
                extra,
                charset,
                comment,
            }
        })
        .collect();
    let primary_key: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' \
             ORDER BY ORDINAL_POSITION",
            (db, table),
        )
        .await?;
    let info: Option<(Option<String>, String)> = conn
        .exec_first(
            "SELECT c.CHARACTER_SET_NAME, t.TABLE_COMMENT FROM information_schema.TABLES t \
             LEFT JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY c \
             ON c.COLLATION_NAME = t.TABLE_COLLATION \
             WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ? LIMIT 1",
            (db, table),
        )
        .await?;
    let (charset, comment) = info.unwrap_or_default();
    Ok(TableCatalog { columns, primary_key, charset, comment })
}

/// `information_schema.TABLES.TABLE_ROWS` of `db`.`table`: the engine's
/// estimate of its rows (InnoDB's is approximate), for progress only.
pub async fn estimated_rows(
    conn: &mut Conn,
    db: &str,
    table: &str,
) -> Result<u64, mysql_async::Error> {
    let n: Option<Option<u64>> = conn
        .exec_first(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (db, table),
        )
        .await?;
    Ok(n.flatten().unwrap_or(0))
}

/// The base tables `captures` accepts, as `db.table`, in name order: what
/// a snapshot reads.
pub async fn captured_tables(
    conn: &mut Conn,
    captures: impl Fn(&str, &str) -> bool,
) -> Result<Vec<String>, mysql_async::Error> {
    let all: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN \
             ('mysql', 'information_schema', 'performance_schema', 'sys') \
             ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await?;
    Ok(all.into_iter().filter(|(d, t)| captures(d, t)).map(|(d, t)| format!("{d}.{t}")).collect())
}
