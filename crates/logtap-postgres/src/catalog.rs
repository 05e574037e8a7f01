//! Catalog queries on an ordinary (non-replication) connection: what
//! pgoutput's Relation messages do not say (nullability, the primary key,
//! user-defined types), plus slot and publication management.
//!
//! Relation messages give column names, types and the replica-identity
//! columns, but Debezium's records need the *primary key* as the Kafka key and
//! the column's nullability as the schema's `optional`; those come from
//! `pg_attribute` and `pg_index` when a Relation message arrives.

use crate::config::PostgresConfig;
use crate::config::SslMode;
use crate::walsender::sqlstate_kind;
use logtap_core::error::io_cause;
use logtap_core::{ErrorKind, Lsn, PipelineError};
use tokio_postgres::{Client, NoTls};

/// A failed catalog query as a pipeline error: a server error by its
/// SQLSTATE, a closed connection or an IO error in the cause chain as a
/// lost connection, anything else as a refusal to read in the message.
pub(crate) fn sql_err(what: &str, e: tokio_postgres::Error) -> PipelineError {
    let (kind, msg) = match e.as_db_error() {
        Some(db) => (
            sqlstate_kind(db.code().code()),
            format!(
                "{what}: {} ({}){}",
                db.message(),
                db.code().code(),
                db.hint().map(|h| format!(" HINT: {h}")).unwrap_or_default()
            ),
        ),
        None if e.is_closed() || io_cause(&e).is_some() => {
            (ErrorKind::Connection, format!("{what}: {e}"))
        }
        None => (ErrorKind::Refused, format!("{what}: {e}")),
    };
    PipelineError::new(kind, msg)
}

/// Why tokio-postgres could not connect, classified by structure: the
/// server's error by its SQLSTATE, a network error by the IO error in the
/// cause chain, a TLS failure by the OpenSSL error in it; what is left was
/// refused before anything was sent (no password, a server without TLS).
fn connect_err(cfg: &PostgresConfig, mode: SslMode, e: tokio_postgres::Error) -> PipelineError {
    let at = format!("{}:{}", cfg.host, cfg.port);
    let what = format!("cannot connect to PostgreSQL at {at} (sslmode={mode})");
    if e.as_db_error().is_some() {
        return sql_err(&what, e);
    }
    // tokio-postgres's Display is only the kind ("error performing TLS
    // handshake"); the why is in the source chain, which repeats itself.
    let mut text = e.to_string();
    let mut tls = false;
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        tls |= c.is::<openssl::ssl::Error>() || c.is::<openssl::error::ErrorStack>();
        let t = c.to_string();
        if !text.contains(&t) {
            text = format!("{text}: {t}");
        }
        cause = c.source();
    }
    if io_cause(&e).is_some() || e.is_closed() {
        // Also mid-handshake: the network, not the certificate, failed.
        return PipelineError::connection(format!("{what}: {text}"));
    }
    if tls {
        // postgres-openssl appends the certificate's verification result
        // last; it is only text, so it only shapes the message.
        let reason = text.rsplit(": ").next().unwrap_or("the TLS handshake failed");
        let why =
            crate::walsender::verify_failure(mode, cfg.sslrootcert.as_deref(), &cfg.host, reason);
        return PipelineError::new(
            ErrorKind::Tls,
            format!("TLS to PostgreSQL at {at} (sslmode={mode}): {why} ({text})"),
        );
    }
    if cfg.password.is_none() {
        return PipelineError::new(
            ErrorKind::Authentication,
            format!("{what}: {text} (no password configured: set postgres.password, password_env or password_file)"),
        );
    }
    if mode != SslMode::Disable {
        // With a password and no IO or OpenSSL error, the one refusal left
        // is the server's `N` to the SSLRequest.
        return PipelineError::new(
            ErrorKind::Tls,
            format!(
                "PostgreSQL server at {at} does not accept TLS (sslmode={mode}): {text}; turn on \
                 ssl in its postgresql.conf, or set postgres.sslmode = \"prefer\" to allow plain text"
            ),
        );
    }
    PipelineError::new(ErrorKind::Refused, format!("{what}: {text}"))
}

/// Opens a catalog connection; its driver task runs in the background.
///
/// TLS as `postgres.sslmode` says, with the walsender's OpenSSL setup
/// (`walsender::tls_connector`), so both connections trust and verify the
/// same things. tokio-postgres knows only disable/prefer/require:
/// `verify-ca` and `verify-full` are `require` to it, and the connector
/// does the verifying (chain always, host name for `verify-full`).
pub async fn connect(cfg: &PostgresConfig) -> Result<Client, PipelineError> {
    use tokio_postgres::config::SslMode as PgSslMode;
    type Driver = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send>,
    >;

    let at = format!("{}:{}", cfg.host, cfg.port);
    let mode = cfg.sslmode;
    let mut c = tokio_postgres::Config::new();
    c.host(&cfg.host)
        .port(cfg.port)
        .user(&cfg.user)
        .dbname(&cfg.database)
        .application_name("logtap")
        .connect_timeout(std::time::Duration::from_secs(10))
        .ssl_mode(match mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        });
    if let Some(p) = &cfg.password {
        c.password(p.expose());
    }
    let connector =
        crate::walsender::tls_connector(mode, cfg.sslrootcert.as_deref()).map_err(|m| {
            PipelineError::new(
                ErrorKind::Tls,
                format!("TLS to PostgreSQL at {at} (sslmode={mode}): {m}"),
            )
        })?;
    let connected = match connector {
        None => c.connect(NoTls).await.map(|(client, conn)| (client, Box::pin(conn) as Driver)),
        Some(connector) => {
            let mut tls = postgres_openssl::MakeTlsConnector::new(connector);
            let check_host = crate::walsender::verifies_host(mode);
            tls.set_callback(move |session, _host| {
                session.set_verify_hostname(check_host);
                Ok(())
            });
            c.connect(tls).await.map(|(client, conn)| (client, Box::pin(conn) as Driver))
        }
    };
    let (client, conn) = connected.map_err(|e| connect_err(cfg, mode, e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "catalog connection ended");
        }
    });
    Ok(client)
}

/// One column as the catalog describes it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    pub not_null: bool,
    /// `DEFAULT` expression as `pg_get_expr` prints it (what JDBC's
    /// COLUMN_DEF, and so Debezium, reads); none for generated columns.
    pub default_expr: Option<String>,
}

/// Nullability of each live column and the primary key columns in key order.
pub async fn table_shape(
    client: &Client,
    relid: u32,
) -> Result<(Vec<CatalogColumn>, Vec<String>), PipelineError> {
    let rows = client
        .query(
            "SELECT a.attname::text, a.attnotnull, \
                    CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END \
             FROM pg_attribute a \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&relid],
        )
        .await
        .map_err(|e| sql_err(&format!("reading columns of relation {relid}"), e))?;
    let cols = rows
        .iter()
        .map(|r| CatalogColumn { name: r.get(0), not_null: r.get(1), default_expr: r.get(2) })
        .collect();
    let pk = client
        .query(
            "SELECT a.attname::text FROM pg_index i \
             JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord",
            &[&relid],
        )
        .await
        .map_err(|e| sql_err(&format!("reading the primary key of relation {relid}"), e))?;
    let mut key: Vec<String> = pk.iter().map(|r| r.get(0)).collect();
    if key.is_empty() {
        key = first_unique_index(client, relid).await?;
    }
    Ok((cols, key))
}

/// Without a primary key Debezium keys a table by its first unique index
/// (by name, as JDBC's `getIndexInfo` orders them; "defaulting to unique
/// indices"), whatever the replica identity: its columns in index order.
/// Indexes on expressions are passed over (no column to key by).
async fn first_unique_index(client: &Client, relid: u32) -> Result<Vec<String>, PipelineError> {
    let rows = client
        .query(
            "SELECT c.relname::text, a.attname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = $1 AND i.indisunique AND NOT i.indisprimary \
               AND NOT (0 = ANY (i.indkey::int2[])) AND i.indexprs IS NULL \
             ORDER BY c.relname, k.ord",
            &[&relid],
        )
        .await
        .map_err(|e| sql_err(&format!("reading the unique indexes of relation {relid}"), e))?;
    let first: Option<String> = rows.first().map(|r| r.get(0));
    Ok(rows
        .iter()
        .filter(|r| first.as_deref() == Some(r.get::<_, String>(0).as_str()))
        .map(|r| r.get(1))
        .collect())
}

/// A table to snapshot, as the catalog describes it now: the Relation
/// message pgoutput would send for it (published columns, replica
/// identity), and how to page through it.
#[derive(Debug, Clone)]
pub struct SnapshotTable {
    pub relation: logtap_pgoutput::Relation,
    /// Primary key columns in key order, each with its type as SQL
    /// (`format_type`), to compare a stored key with; empty without one.
    pub key: Vec<(String, String)>,
    /// `pg_class.reltuples`: the planner's row estimate (-1: never analyzed).
    pub estimate: i64,
}

/// The table `schema.table` to snapshot; `None` if it does not exist.
pub async fn snapshot_table(
    client: &Client,
    schema: &str,
    table: &str,
) -> Result<Option<SnapshotTable>, PipelineError> {
    use logtap_pgoutput::{Column, Relation, ReplicaIdentity};
    let what = format!("reading the columns of {schema}.{table} for its snapshot");
    let Some(rel) = client
        .query_opt(
            "SELECT c.oid, c.relreplident::text, c.reltuples::bigint FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema, &table],
        )
        .await
        .map_err(|e| sql_err(&what, e))?
    else {
        return Ok(None);
    };
    let oid: u32 = rel.get(0);
    let ident: String = rel.get(1);
    let (_, pk) = table_shape(client, oid).await?;
    // Published columns: pgoutput leaves out dropped and generated ones.
    let rows = client
        .query(
            "SELECT a.attname::text, a.atttypid, a.atttypmod, format_type(a.atttypid, NULL) \
             FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
             AND a.attgenerated = '' ORDER BY a.attnum",
            &[&oid],
        )
        .await
        .map_err(|e| sql_err(&what, e))?;
    let replica_identity = match ident.as_str() {
        "f" => ReplicaIdentity::Full,
        "n" => ReplicaIdentity::Nothing,
        "i" => ReplicaIdentity::Index,
        _ => ReplicaIdentity::Default,
    };
    let columns: Vec<Column> = rows
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            Column {
                is_key: replica_identity == ReplicaIdentity::Full || pk.contains(&name),
                name,
                type_oid: r.get(1),
                type_modifier: r.get(2),
            }
        })
        .collect();
    let key = pk
        .iter()
        .filter_map(|k| {
            rows.iter().find(|r| r.get::<_, String>(0) == *k).map(|r| (k.clone(), r.get(3)))
        })
        .collect();
    Ok(Some(SnapshotTable {
        relation: Relation {
            id: oid,
            namespace: schema.to_string(),
            name: table.to_string(),
            replica_identity,
            columns,
        },
        key,
        estimate: rel.get(2),
    }))
}

/// A type as `pg_type` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogType {
    pub oid: u32,
    pub name: String,
    /// `b` base, `c` composite, `d` domain, `e` enum, `p` pseudo, `r` range, `m` multirange.
    pub typtype: char,
    /// Element type of an array type (0 otherwise).
    pub element: u32,
    /// Base type of a domain.
    pub base: u32,
    pub base_typmod: i32,
    /// Labels of an enum in sort order.
    pub labels: Vec<String>,
}

/// Looks up a type by oid.
pub async fn type_info(client: &Client, oid: u32) -> Result<Option<CatalogType>, PipelineError> {
    let row = client
        .query_opt(
            "SELECT t.typname::text, t.typtype::text, t.typelem, t.typbasetype, t.typtypmod, t.typcategory::text \
             FROM pg_type t WHERE t.oid = $1",
            &[&oid],
        )
        .await
        .map_err(|e| sql_err(&format!("reading type {oid}"), e))?;
    let Some(row) = row else { return Ok(None) };
    let typtype: String = row.get(1);
    let category: String = row.get(5);
    let typtype = typtype.chars().next().unwrap_or('b');
    let element: u32 = if category == "A" { row.get(2) } else { 0 };
    let mut labels = Vec::new();
    if typtype == 'e' {
        let rows = client
            .query(
                "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder",
                &[&oid],
            )
            .await
            .map_err(|e| sql_err(&format!("reading labels of enum type {oid}"), e))?;
        labels = rows.iter().map(|r| r.get(0)).collect();
    }
    Ok(Some(CatalogType {
        oid,
        name: row.get(0),
        typtype,
        element,
        base: row.get(3),
        base_typmod: row.get(4),
        labels,
    }))
}

/// A replication slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    pub plugin: Option<String>,
    pub database: Option<String>,
    pub active_pid: Option<i32>,
    pub confirmed_flush_lsn: Option<Lsn>,
    pub restart_lsn: Option<Lsn>,
    /// `wal_status` (PG 13+): `reserved`, `extended`, `unreserved` or `lost`.
    pub wal_status: Option<String>,
}

fn lsn_of(s: Option<String>) -> Option<Lsn> {
    s.and_then(|s| s.parse().ok())
}

pub async fn slot_info(client: &Client, slot: &str) -> Result<Option<SlotInfo>, PipelineError> {
    let row = client
        .query_opt(
            "SELECT plugin::text, database::text, active_pid, confirmed_flush_lsn::text, restart_lsn::text, wal_status \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(|e| sql_err(&format!("reading replication slot `{slot}`"), e))?;
    Ok(row.map(|r| SlotInfo {
        plugin: r.get(0),
        database: r.get(1),
        active_pid: r.get(2),
        confirmed_flush_lsn: lsn_of(r.get(3)),
        restart_lsn: lsn_of(r.get(4)),
        wal_status: r.get(5),
    }))
}

/// Bytes of WAL the slot holds back: the current WAL position (on a
/// standby, its replay position) minus the slot's confirmed position.
pub async fn slot_lag_bytes(client: &Client, slot: &str) -> Result<Option<i64>, PipelineError> {
    let row = client
        .query_opt(
            "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - confirmed_flush_lsn)::bigint \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(|e| sql_err(&format!("reading the lag of slot `{slot}`"), e))?;
    Ok(row.and_then(|r| r.get(0)))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(crate) fn qualified(t: &str) -> String {
    match t.split_once('.') {
        Some((s, n)) => format!("{}.{}", quote_ident(s), quote_ident(n)),
        None => quote_ident(t),
    }
}

/// The tables (ordinary and partitioned) of the database's non-system
/// schemas that the include/exclude lists capture, as `schema.table`.
#[derive(Debug)]
pub struct Captured {
    pub tables: Vec<String>,
    /// `table_include_list` entries that match no table (a typo would
    /// capture nothing, silently otherwise).
    pub unmatched: Vec<String>,
}

/// See [`Captured`].
pub async fn captured_tables(
    client: &Client,
    cfg: &PostgresConfig,
) -> Result<Captured, PipelineError> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' \
             AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| sql_err("listing the database's tables", e))?;
    let all: Vec<String> = rows
        .iter()
        .map(|r| format!("{}.{}", r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    let unmatched = cfg
        .table_include_list
        .iter()
        .filter(|entry| {
            logtap_core::NameFilter::new(std::slice::from_ref(entry), &[])
                .is_ok_and(|f| !all.iter().any(|t| f.matches(t)))
        })
        .cloned()
        .collect();
    let tables = all
        .into_iter()
        .filter(|t| t.split_once('.').is_some_and(|(s, n)| cfg.captures(s, n)))
        .collect();
    Ok(Captured { tables, unmatched })
}

/// Tables the publication publishes now, as `schema.table`.
pub async fn publication_tables(
    client: &Client,
    publication: &str,
) -> Result<Option<Vec<String>>, PipelineError> {
    let exists = client
        .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[&publication])
        .await
        .map_err(|e| sql_err(&format!("reading publication `{publication}`"), e))?;
    if exists.is_none() {
        return Ok(None);
    }
    let rows = client
        .query(
            "SELECT schemaname::text || '.' || tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1",
            &[&publication],
        )
        .await
        .map_err(|e| sql_err(&format!("reading tables of publication `{publication}`"), e))?;
    Ok(Some(rows.iter().map(|r| r.get(0)).collect()))
}

/// Whether the server is a standby (`pg_is_in_recovery()`): it can be
/// read, and decoded from on PostgreSQL 16+, but nothing can be written.
pub async fn in_recovery(client: &Client) -> Result<bool, PipelineError> {
    let row = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .map_err(|e| sql_err("SELECT pg_is_in_recovery()", e))?;
    Ok(row.get(0))
}

/// Creates or adjusts the publication per `publication_autocreate_mode`;
/// `extra` are published too (the signal table), not captured. On a
/// `standby` nothing can be created: a publication that is missing or
/// would have to change is an error saying what to run on the primary
/// (where publications live; the standby has them by replication).
pub async fn ensure_publication(
    client: &Client,
    cfg: &PostgresConfig,
    extra: Option<&str>,
    standby: bool,
) -> Result<(), PipelineError> {
    let name = &cfg.publication_name;
    let current = publication_tables(client, name).await?;
    let exists = current.is_some();
    let standby_err = |sql: String| {
        PipelineError::new(ErrorKind::ServerSetup, format!(
            "the server is a standby and publication `{name}` {}: run on the primary: {sql}; (or set publication_autocreate_mode = \"disabled\" to use the publication as it is)",
            if exists { "does not publish the captured tables" } else { "does not exist" }
        ))
    };
    let mut wanted = match cfg.publication_autocreate_mode {
        crate::config::PublicationMode::Filtered => {
            let captured = captured_tables(client, cfg).await?;
            for entry in &captured.unmatched {
                tracing::warn!(entry = %entry, "postgres.table_include_list entry matches no table");
            }
            captured.tables
        }
        _ => Vec::new(),
    };
    if let Some(t) = extra {
        if !wanted.iter().any(|w| w == t) {
            wanted.push(t.to_string());
        }
    }
    use crate::config::PublicationMode;
    match (cfg.publication_autocreate_mode, current) {
        (PublicationMode::Disabled, None) => Err(PipelineError::new(ErrorKind::ServerSetup, format!(
            "publication `{name}` does not exist and postgres.publication_autocreate_mode is `disabled`: \
             run CREATE PUBLICATION {} FOR TABLE ...; or set publication_autocreate_mode = \"filtered\"",
            quote_ident(name)
        ))),
        (PublicationMode::Disabled, Some(_)) => Ok(()),
        (PublicationMode::AllTables, None) => {
            let sql = format!("CREATE PUBLICATION {} FOR ALL TABLES", quote_ident(name));
            if standby {
                return Err(standby_err(sql));
            }
            client.batch_execute(&sql).await.map_err(|e| sql_err(&format!("{sql} (needs a superuser)"), e))?;
            tracing::info!(publication = %name, "created publication for all tables");
            Ok(())
        }
        (PublicationMode::AllTables, Some(_)) => Ok(()),
        (PublicationMode::Filtered, current) => {
            if wanted.len() == usize::from(extra.is_some()) {
                return Err(PipelineError::new(ErrorKind::ServerSetup, format!(
                    "no table of database `{}` is captured by postgres.schema_include_list / table_include_list (and their excludes), so publication `{name}` would publish nothing: \
                     correct the lists (entries are regular expressions matching the whole schema.table, case ignored), or create the tables first",
                    cfg.database
                )));
            }
            let list = wanted.iter().map(|t| qualified(t)).collect::<Vec<_>>().join(", ");
            // The statement as an error shows it: a few tables by name, a
            // long list by its length (the server's text names the table).
            let shown = if wanted.len() <= 5 { list.clone() } else { format!("... ({} tables)", wanted.len()) };
            match current {
                None => {
                    let sql = format!("CREATE PUBLICATION {} FOR TABLE {list}", quote_ident(name));
                    if standby {
                        return Err(standby_err(sql));
                    }
                    client.batch_execute(&sql).await.map_err(|e| {
                        sql_err(&format!("CREATE PUBLICATION {} FOR TABLE {shown}", quote_ident(name)), e)
                    })?;
                    tracing::info!(publication = %name, tables = %list, "created publication");
                }
                Some(mut have) => {
                    let mut want = wanted.clone();
                    want.sort();
                    have.sort();
                    if have != want {
                        let sql = format!("ALTER PUBLICATION {} SET TABLE {list}", quote_ident(name));
                        if standby {
                            return Err(standby_err(sql));
                        }
                        client.batch_execute(&sql).await.map_err(|e| {
                            sql_err(&format!("ALTER PUBLICATION {} SET TABLE {shown}", quote_ident(name)), e)
                        })?;
                        tracing::info!(publication = %name, tables = %list, "changed publication tables");
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(qualified("public.Orders"), "\"public\".\"Orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
