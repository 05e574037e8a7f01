//! The snapshot's IO: a task on its own connection that reads one chunk at
//! a time and reports its rows. What to read and where the rows go in the
//! stream is the state machine's (`machine_snapshot.rs`). Two ways:
//!
//! - MariaDB: each chunk in its own consistent-snapshot transaction,
//!   reported with the binlog position the rows are consistent with;
//!   nothing is written to the server.
//! - MySQL: a low watermark row inserted into the signal table, the chunk's
//!   `SELECT` (its own statement, so its own read view, taken after the low
//!   row committed), the rows handed over and taken by the source, then the
//!   high watermark row; both rows deleted again. The high row cannot reach
//!   the stream before the rows reached the state machine.
//!
//! The connection reads with `character_set_results = NULL` (strings in
//! their column's own character set, as the binlog has them) over the
//! binary protocol (prepared statements: doubles and floats exact, dates
//! and times as values), in the UTC time zone (TIMESTAMP keys as literals
//! mean the same instant whatever the server's zone).

use crate::config::MysqlConfig;
use crate::conn;
use crate::machine::snapshot::{BinlogAt, RowsAt};
use logtap_binlog::MysqlGtidSet;
use logtap_core::chunks::ChunkRequest;
use logtap_core::chunks::Vanished;
use logtap_core::dblog::{watermark_id, Mark, WINDOW_CLOSE, WINDOW_OPEN};
use logtap_core::{ErrorKind, PipelineError};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use tokio::sync::{mpsc, oneshot};

/// How the task marks a chunk's window.
#[derive(Debug, Clone)]
pub(crate) enum Marks {
    /// MariaDB's consistent-snapshot binlog position.
    ReadView,
    /// MySQL's `@@gtid_executed` before and after the `SELECT`.
    GtidSets,
    /// Rows in the signal table (`db`.`table`, quoted), of run `run`, data
    /// the topic prefix (see `machine_snapshot::Watermarks::SignalRows`).
    SignalRows { table: String, run: u64, prefix: String },
}

/// What the task reports.
#[derive(Debug)]
pub(crate) enum ChunkMsg {
    /// The chunk's rows and (MariaDB) the binlog position of their read
    /// view; (MySQL) the high watermark row is written once `ack` is sent.
    Rows { chunk: u64, rows: Vec<Vec<Value>>, at: RowsAt, ack: Option<oneshot::Sender<()>> },
    /// The chunk's table is gone (`table_gone`) or its columns changed
    /// under the `SELECT`; the task goes on.
    Vanished { chunk: u64, why: Vanished },
    /// A statement failed; the task has stopped.
    Failed(PipelineError),
}

/// Opens the snapshot's connection, set up as the module says.
pub(crate) async fn connect(cfg: &MysqlConfig) -> Result<Conn, PipelineError> {
    let mut c = conn::connect(cfg).await?;
    for sql in [
        "SET SESSION character_set_results = NULL, time_zone = '+00:00'",
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    ] {
        c.query_drop(sql).await.map_err(|e| conn::classify(cfg, &e))?;
    }
    Ok(c)
}

/// Starts the task on `conn`: requests in, reports out.
pub(crate) fn spawn(
    cfg: MysqlConfig,
    mut conn: Conn,
    marks: Marks,
) -> (mpsc::Sender<ChunkRequest>, mpsc::Receiver<ChunkMsg>, tokio::task::JoinHandle<()>) {
    let (req_tx, mut req_rx) = mpsc::channel::<ChunkRequest>(1);
    let (msg_tx, msg_rx) = mpsc::channel(1);
    let task = tokio::spawn(async move {
        while let Some(req) = req_rx.recv().await {
            let read = match &marks {
                Marks::ReadView => chunk(&mut conn, &req).await,
                Marks::GtidSets => between_gtid_sets(&mut conn, &req).await,
                Marks::SignalRows { table, run, prefix } => {
                    let w = Window { table, run: *run, prefix };
                    match w.chunk(&mut conn, &req, &msg_tx).await {
                        Ok(true) => continue,
                        // The source is gone.
                        Ok(false) => return,
                        Err(e) => Err(e),
                    }
                }
            };
            // A condition that fails on its own fails every time.
            let read = match read {
                Err(mysql_async::Error::Server(s)) => match bad_condition(&mut conn, &req).await {
                    Some(why) => Ok(ChunkMsg::Vanished { chunk: req.chunk, why }),
                    None => Err(mysql_async::Error::Server(s)),
                },
                read => read,
            };
            let msg = match read {
                Ok(m) => m,
                Err(e) => match e {
                    mysql_async::Error::Server(s) if s.code == 1146 || s.code == 1054 => {
                        tracing::warn!(chunk = req.chunk, error = %s.message, "snapshot chunk: the table changed under it");
                        let _ = conn.query_drop("ROLLBACK").await;
                        let why =
                            if s.code == 1146 { Vanished::TableGone } else { Vanished::Altered };
                        ChunkMsg::Vanished { chunk: req.chunk, why }
                    }
                    e => {
                        let mut err = conn::classify(&cfg, &e);
                        err.message = format!(
                            "snapshot chunk {} ({}): {}",
                            req.chunk, req.select, err.message
                        );
                        let _ = msg_tx.send(ChunkMsg::Failed(err)).await;
                        return;
                    }
                },
            };
            if msg_tx.send(msg).await.is_err() {
                return;
            }
        }
    });
    (req_tx, msg_rx, task)
}

/// After a failed chunk: the request's condition, run alone, fails too.
async fn bad_condition(conn: &mut Conn, req: &ChunkRequest) -> Option<Vanished> {
    let check = req.check.as_ref()?;
    let _ = conn.query_drop("ROLLBACK").await;
    match conn.query_drop(check).await {
        Err(mysql_async::Error::Server(c)) => {
            Some(Vanished::BadCondition(format!("{} ({})", c.message, c.code)))
        }
        _ => None,
    }
}

/// One chunk in its own consistent snapshot.
async fn chunk(conn: &mut Conn, req: &ChunkRequest) -> Result<ChunkMsg, mysql_async::Error> {
    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY").await?;
    let status: Vec<(String, String)> =
        conn.query("SHOW SESSION STATUS LIKE 'Binlog_snapshot_%'").await?;
    let rows: Vec<Row> = conn.exec(req.select.as_str(), ()).await?;
    conn.query_drop("COMMIT").await?;
    let get = |name: &str| {
        status.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    let (Some(file), Some(pos)) = (get("Binlog_snapshot_file"), get("Binlog_snapshot_position"))
    else {
        return Ok(ChunkMsg::Failed(PipelineError::new(
            ErrorKind::ServerSetup,
            "the server does not report Binlog_snapshot_file / Binlog_snapshot_position (MariaDB does; MySQL does not): snapshots need MariaDB here; set [snapshot] mode = \"no_data\"",
        )));
    };
    let pos = pos.parse().map_err(|_| {
        mysql_async::Error::Other(format!("Binlog_snapshot_position {pos} is not a number").into())
    })?;
    Ok(ChunkMsg::Rows {
        chunk: req.chunk,
        rows: rows.into_iter().map(Row::unwrap).collect(),
        at: RowsAt::Position(BinlogAt { file, pos }),
        ack: None,
    })
}

/// One chunk between two reads of `@@gtid_executed` (MySQL, nothing written).
async fn between_gtid_sets(
    conn: &mut Conn,
    req: &ChunkRequest,
) -> Result<ChunkMsg, mysql_async::Error> {
    async fn executed(conn: &mut Conn) -> Result<Result<MysqlGtidSet, String>, mysql_async::Error> {
        let text: Option<String> = conn.query_first("SELECT @@GLOBAL.gtid_executed").await?;
        let text = text.unwrap_or_default().replace(['\n', ' '], "");
        Ok(text.parse().map_err(|e| format!("@@gtid_executed `{text}`: {e}")))
    }
    let low = executed(conn).await?;
    let rows: Vec<Row> = conn.exec(req.select.as_str(), ()).await?;
    let high = executed(conn).await?;
    let (low, high) = match (low, high) {
        (Ok(l), Ok(h)) => (l, h),
        (Err(e), _) | (_, Err(e)) => {
            return Ok(ChunkMsg::Failed(PipelineError::decode(format!(
                "snapshot chunk {}: {e}",
                req.chunk
            ))))
        }
    };
    Ok(ChunkMsg::Rows {
        chunk: req.chunk,
        rows: rows.into_iter().map(Row::unwrap).collect(),
        at: RowsAt::Gtids { low, high },
        ack: None,
    })
}

/// Signal-row watermarks (MySQL).
struct Window<'a> {
    table: &'a str,
    run: u64,
    prefix: &'a str,
}

impl Window<'_> {
    async fn mark(
        &self,
        conn: &mut Conn,
        chunk: u64,
        mark: Mark,
    ) -> Result<(), mysql_async::Error> {
        let kind = if mark == Mark::Low { WINDOW_OPEN } else { WINDOW_CLOSE };
        let id = watermark_id(self.run, chunk, mark);
        let sql = format!("INSERT INTO {} (id, type, data) VALUES (?, ?, ?)", self.table);
        conn.exec_drop(sql, (id, kind, self.prefix)).await
    }

    /// One chunk between its window rows; `false` when the source went away.
    async fn chunk(
        &self,
        conn: &mut Conn,
        req: &ChunkRequest,
        tx: &mpsc::Sender<ChunkMsg>,
    ) -> Result<bool, mysql_async::Error> {
        self.mark(conn, req.chunk, Mark::Low).await?;
        let rows: Vec<Row> = conn.exec(req.select.as_str(), ()).await?;
        let (ack, acked) = oneshot::channel();
        let rows = rows.into_iter().map(Row::unwrap).collect();
        let msg = ChunkMsg::Rows { chunk: req.chunk, rows, at: RowsAt::Later, ack: Some(ack) };
        if tx.send(msg).await.is_err() || acked.await.is_err() {
            return Ok(false);
        }
        self.mark(conn, req.chunk, Mark::High).await?;
        let ids = [Mark::Low, Mark::High].map(|m| watermark_id(self.run, req.chunk, m));
        conn.exec_drop(
            format!("DELETE FROM {} WHERE id IN (?, ?)", self.table),
            (&ids[0], &ids[1]),
        )
        .await?;
        Ok(true)
    }
}

/// Runs `condition` alone on each of `tables` (`db.table`) before a
/// signal carries it: a condition the server refuses would otherwise fail
/// every chunk of the snapshot. The error names the table and has the
/// server's message.
pub async fn check_condition(
    cfg: &MysqlConfig,
    tables: &[String],
    condition: &str,
) -> Result<(), PipelineError> {
    let mut c = conn::connect(cfg).await?;
    let quote = crate::machine::snapshot::quote_ident;
    for t in tables {
        let (db, name) = t.split_once('.').unwrap_or(("", t));
        let from = format!("{}.{}", quote(db), quote(name));
        let check = Vanished::condition_check(&from, Some(condition)).unwrap_or_default();
        if let Err(e) = c.query_drop(&check).await {
            let mut e = conn::classify(cfg, &e);
            e.message = format!("--where `{condition}` on {t}: {}", e.message);
            return Err(e.with_fix("write the condition as SQL the server accepts on that table (try it as SELECT ... WHERE <condition>); no signal was written"));
        }
    }
    let _ = c.disconnect().await;
    Ok(())
}

/// Inserts an `execute-snapshot` signal for `execute` (db.table names; with
/// `filter` as every table's additional condition), or `stop-snapshot`
/// when `None`, into the signal table `db.table` (Debezium's columns `id`,
/// `type`, `data`); returns the binlog position after it, where the
/// source acts on it.
pub async fn insert_signal(
    cfg: &MysqlConfig,
    table: &str,
    execute: Option<&[String]>,
    filter: Option<&str>,
) -> Result<String, PipelineError> {
    let (db, name) = table.split_once('.').ok_or_else(|| {
        PipelineError::config(format!("snapshot.signal_data_collection `{table}` is not db.table"))
    })?;
    let (kind, data) = match execute {
        Some(tables) => {
            ("execute-snapshot", logtap_core::snapshot::execute_data(tables, filter).to_string())
        }
        None => ("stop-snapshot", "{}".to_string()),
    };
    let id = format!("logtap-{:x}", logtap_runtime::now_us());
    let mut c = conn::connect(cfg).await?;
    let quote = crate::machine::snapshot::quote_ident;
    let sql =
        format!("INSERT INTO {}.{} (id, type, data) VALUES (?, ?, ?)", quote(db), quote(name));
    c.exec_drop(sql, (id, kind, data)).await.map_err(|e| {
        let mut e = conn::classify(cfg, &e);
        e.message = format!("inserting a signal into {table}: {}", e.message);
        e
    })?;
    let end = conn::binlog_end(cfg, &mut c).await?;
    let _ = c.disconnect().await;
    Ok(end.map(|(f, p)| format!("{f}:{p}")).unwrap_or_default())
}
