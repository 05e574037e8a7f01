//! `logtap snapshot TABLE...`: asks the source for an incremental snapshot
//! of tables (Debezium's `execute-snapshot` signal), or `--stop` to end the
//! running one. The request is written into the database's log, not sent
//! to a process: the logtap reading that log acts on it where it passes in
//! the stream, now if it runs, at its next start otherwise, and exactly
//! once (the snapshot's progress is stored with the position after it).

use crate::config::{Config, SourceConfig};
use anyhow::{bail, Result};

pub async fn snapshot(
    cfg: &Config,
    tables: &[String],
    filter: Option<&str>,
    stop: bool,
) -> Result<()> {
    if !stop && tables.is_empty() {
        bail!("logtap snapshot: name the tables (schema.table), or --stop");
    }
    let pg = match &cfg.source {
        SourceConfig::Postgres(pg) => pg,
        SourceConfig::Mysql(my) => return mysql(cfg, my, tables, filter, stop).await,
        SourceConfig::Demo(_) => bail!("logtap snapshot: the demo source takes no snapshots"),
    };
    for t in tables {
        let captured = t.split_once('.').is_some_and(|(s, n)| pg.captures(s, n));
        if !captured {
            bail!("{t}: not a table this configuration captures (write it as schema.table, and list it in postgres.table_include_list)");
        }
    }
    let client = logtap_postgres::catalog::connect(pg).await?;
    if let Some(condition) = filter {
        logtap_postgres::snapshot::check_condition(&client, tables, condition).await?;
    }
    let execute = (!stop).then_some(tables);
    let lsn = match &cfg.snapshot.signal_data_collection {
        // Debezium's way, and the only one before PostgreSQL 14.
        Some(table) => {
            logtap_postgres::snapshot::insert_signal(&client, table, execute, filter).await?
        }
        None => {
            let signal = logtap_postgres::snapshot::signal(&pg.slot_name, execute, filter);
            logtap_postgres::snapshot::send_signal(&client, &signal).await?
        }
    };
    if stop {
        say!("stop-snapshot signal written at LSN {lsn} for slot `{}`", pg.slot_name);
    } else {
        say!(
            "execute-snapshot signal for {} written at LSN {lsn} for slot `{}`: logtap reads the table(s) when its stream reaches it",
            tables.join(", "),
            pg.slot_name
        );
    }
    Ok(())
}

/// MariaDB: a row in the signal table, the only way there.
async fn mysql(
    cfg: &Config,
    my: &logtap_mysql::MysqlConfig,
    tables: &[String],
    filter: Option<&str>,
    stop: bool,
) -> Result<()> {
    for t in tables {
        if !t.split_once('.').is_some_and(|(d, n)| my.captures(d, n)) {
            bail!("{t}: not a table this configuration captures (write it as db.table, and list it in the [mysql] include lists)");
        }
    }
    let Some(table) = &cfg.snapshot.signal_data_collection else {
        bail!("logtap snapshot: a MySQL/MariaDB source takes signals through a signal table: set [snapshot] signal_data_collection = \"db.table\" (CREATE TABLE db.table (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)); logtap's user needs INSERT on it)");
    };
    if let Some(condition) = filter {
        logtap_mysql::snapshot::check_condition(my, tables, condition).await?;
    }
    let execute = (!stop).then_some(tables);
    let at = logtap_mysql::snapshot::insert_signal(my, table, execute, filter).await?;
    if stop {
        say!("stop-snapshot signal written into {table} (binlog {at})");
    } else {
        say!(
            "execute-snapshot signal for {} written into {table} (binlog {at}): logtap reads the table(s) when its stream reaches it",
            tables.join(", ")
        );
    }
    Ok(())
}
