//! The snapshot's IO: a task on its own connection that reads one chunk at
//! a time between two watermarks written into the WAL, and the watermarks'
//! format. What to read and what to emit is the state machine's
//! (`machine_snapshot.rs`); this only runs the statements, in this order:
//!
//! 1. `pg_logical_emit_message(true, 'logtap.watermark', '<slot>/<run>/<chunk>/low')`
//! 2. the chunk's `SELECT` (its own statement, so its own MVCC snapshot,
//!    taken after the low watermark committed);
//! 3. the rows go to the source, which must have them before
//! 4. the high watermark is written: the task waits for the source to
//!    acknowledge the rows, so the high watermark can never reach the
//!    stream before the rows reached the state machine.
//!
//! Watermarks are transactional logical decoding messages (PostgreSQL 14+,
//! pgoutput's `messages` option): nothing is written to a user table and no
//! signal table is needed. `<run>` is new for each start, so a watermark of
//! an earlier run (replayed after a restart) is never taken for this one's.

use crate::catalog::sql_err;
use logtap_core::chunks::{ChunkRequest, Vanished};
use logtap_core::dblog::{parse_watermark_id, watermark_id, Mark};
pub(crate) use logtap_core::dblog::{WINDOW_CLOSE, WINDOW_OPEN};
pub(crate) use logtap_core::snapshot::{execute_data, parse_signal_row, signal_of, Signal};
use logtap_core::PipelineError;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, SimpleQueryMessage};

/// The logical decoding message prefix of a watermark.
pub(crate) const WATERMARK_PREFIX: &str = "logtap.watermark";

/// The logical decoding message prefix of a signal (`logtap snapshot`).
pub const SIGNAL_PREFIX: &str = "logtap.signal";

/// A signal's content, Debezium's signal shape plus the slot it is for:
/// `{"slot": "...", "type": "execute-snapshot", "data": {"data-collections": [...]}}`.
/// `filter`: one `additional-conditions` entry per table.
pub fn signal(slot: &str, execute: Option<&[String]>, filter: Option<&str>) -> String {
    match execute {
        Some(tables) => serde_json::json!({
            "slot": slot,
            "type": "execute-snapshot",
            "data": execute_data(tables, filter),
        }),
        None => serde_json::json!({"slot": slot, "type": "stop-snapshot"}),
    }
    .to_string()
}

/// A signal message for `slot`; `None` for another slot's or one that
/// does not parse (warned: someone asked for something logtap did not do).
pub(crate) fn parse_signal(slot: &str, content: &[u8]) -> Option<Signal> {
    let v: serde_json::Value = match serde_json::from_slice(content) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "a logtap.signal message that is not JSON: ignored");
            return None;
        }
    };
    if v["slot"].as_str() != Some(slot) {
        return None;
    }
    signal_of(v["type"].as_str().unwrap_or_default(), &v["data"])
}

/// Writes a signal into the WAL of the database `client` is connected
/// to: the source reading `slot` acts on it where it passes in the
/// stream (now if it runs, at its next start otherwise).
pub async fn send_signal(client: &Client, content: &str) -> Result<String, PipelineError> {
    let row = client
        .query_one(
            "SELECT pg_logical_emit_message(true, $1::text, $2::text)::text",
            &[&SIGNAL_PREFIX, &content],
        )
        .await
        .map_err(|e| sql_err("writing a snapshot signal (pg_logical_emit_message)", e))?;
    Ok(row.get(0))
}

/// Inserts a signal row into the signal table `schema.table` (Debezium's
/// columns); returns the WAL position after it.
/// Runs `condition` alone on each of `tables` (`schema.table`) before a
/// signal carries it: a condition the server refuses would otherwise fail
/// every chunk of the snapshot. The error names the table and has the
/// server's message.
pub async fn check_condition(
    client: &Client,
    tables: &[String],
    condition: &str,
) -> Result<(), PipelineError> {
    for t in tables {
        let (schema, name) = t.split_once('.').unwrap_or(("public", t));
        let from = format!("{}.{}", quote_ident(schema), quote_ident(name));
        let check = Vanished::condition_check(&from, Some(condition)).unwrap_or_default();
        if let Err(e) = client.simple_query(&check).await {
            return Err(sql_err(&format!("--where `{condition}` on {t}"), e).with_fix(
                "write the condition as SQL the server accepts on that table (try it as SELECT \
                 ... WHERE <condition>); no signal was written",
            ));
        }
    }
    Ok(())
}

pub async fn insert_signal(
    client: &Client,
    table: &str,
    execute: Option<&[String]>,
    filter: Option<&str>,
) -> Result<String, PipelineError> {
    let (schema, name) = table.split_once('.').unwrap_or(("public", table));
    let (kind, data) = match execute {
        Some(tables) => ("execute-snapshot", execute_data(tables, filter).to_string()),
        None => ("stop-snapshot", "{}".to_string()),
    };
    let id = format!("logtap-{:x}", logtap_runtime::now_us());
    let sql = format!(
        "INSERT INTO {}.{} (id, type, data) VALUES ($1, $2, $3)",
        quote_ident(schema),
        quote_ident(name)
    );
    client
        .execute(&sql, &[&id, &kind, &data])
        .await
        .map_err(|e| sql_err(&format!("inserting a signal into {table}"), e))?;
    let row = client
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await
        .map_err(|e| sql_err("reading the WAL position", e))?;
    Ok(row.get(0))
}

/// A row as the server's text output gives it (what pgoutput sends too).
pub(crate) type TextRow = Vec<Option<String>>;

/// What the task reports.
#[derive(Debug)]
pub(crate) enum ChunkMsg {
    /// The chunk's rows; the high watermark is written once `ack` is sent.
    /// On a standby ([`Watermarks::Replay`]) nothing is written: `replayed`
    /// is the standby's replay position read after the `SELECT`, the
    /// chunk's high watermark.
    Rows { chunk: u64, rows: Vec<TextRow>, replayed: Option<u64>, ack: oneshot::Sender<()> },
    /// The chunk's table (or schema) no longer exists, or its columns
    /// changed under the `SELECT`: the source skips the table or reads its
    /// description again. No high watermark follows; the task goes on.
    Vanished { chunk: u64, why: Vanished },
    /// A statement failed; the task has stopped.
    Failed(PipelineError),
}

/// Where the watermarks are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Watermarks {
    /// Logical decoding messages (PostgreSQL 14+).
    Messages,
    /// Rows of the signal table (`schema.table`, quoted), Debezium's
    /// `snapshot-window-open` / `snapshot-window-close`: id
    /// `<run>/<chunk>/<mark>` (at most 42 characters, the column's width),
    /// data the slot. Deleted again after the chunk.
    Table(String),
    /// Nothing written (a standby, which is read-only): the chunk's window
    /// opens when it is requested and closes where the stream passes the
    /// replay position read after the `SELECT`. A standby's MVCC snapshot
    /// sees exactly the transactions whose commit records it has replayed,
    /// so every transaction the chunk saw commits below that position, and
    /// every one it did not see either commits above it or streams inside
    /// the window (and its keys are dropped from the chunk).
    Replay,
}

/// A watermark's content.
pub(crate) fn watermark(slot: &str, run: u64, chunk: u64, mark: Mark) -> String {
    format!("{slot}/{}", watermark_id(run, chunk, mark))
}

/// A watermark of this slot's run `run`: its chunk and mark. `None` for
/// anything else (another run, another logtap, not a watermark).
pub(crate) fn parse_watermark(slot: &str, run: u64, content: &[u8]) -> Option<(u64, Mark)> {
    let text = std::str::from_utf8(content).ok()?;
    parse_watermark_id(run, text.strip_prefix(slot)?.strip_prefix('/')?)
}

/// Starts the task on `client`: requests in, reports out.
pub(crate) fn spawn(
    client: Client,
    slot: String,
    run: u64,
    marks: Watermarks,
) -> (mpsc::Sender<ChunkRequest>, mpsc::Receiver<ChunkMsg>, tokio::task::JoinHandle<()>) {
    let (req_tx, mut req_rx) = mpsc::channel::<ChunkRequest>(1);
    let (msg_tx, msg_rx) = mpsc::channel(1);
    let task = tokio::spawn(async move {
        let w = Writer { client: &client, slot: &slot, run, marks: &marks };
        while let Some(req) = req_rx.recv().await {
            match chunk(&w, req, &msg_tx).await {
                Ok(true) => {}
                // The source is gone.
                Ok(false) => return,
                Err(e) => {
                    let _ = msg_tx.send(ChunkMsg::Failed(e)).await;
                    return;
                }
            }
        }
    });
    (req_tx, msg_rx, task)
}

/// What writes the watermarks.
struct Writer<'a> {
    client: &'a Client,
    slot: &'a str,
    run: u64,
    marks: &'a Watermarks,
}

impl Writer<'_> {
    async fn write(&self, chunk: u64, mark: Mark) -> Result<(), PipelineError> {
        match self.marks {
            Watermarks::Messages => {
                self.client
                    .query_one(
                        "SELECT pg_logical_emit_message(true, $1::text, $2::text)",
                        &[&WATERMARK_PREFIX, &watermark(self.slot, self.run, chunk, mark)],
                    )
                    .await
                    .map_err(|e| {
                        sql_err("writing a snapshot watermark (pg_logical_emit_message)", e)
                    })?;
            }
            Watermarks::Replay => {}
            Watermarks::Table(table) => {
                let kind = if mark == Mark::Low { WINDOW_OPEN } else { WINDOW_CLOSE };
                let sql = format!("INSERT INTO {table} (id, type, data) VALUES ($1, $2, $3)");
                let id = watermark_id(self.run, chunk, mark);
                self.client.execute(&sql, &[&id, &kind, &self.slot]).await.map_err(|e| {
                    sql_err(&format!("writing a snapshot watermark into {table}"), e)
                })?;
            }
        }
        Ok(())
    }

    /// Removes a chunk's watermark rows (signal table only).
    async fn clear(&self, chunk: u64) -> Result<(), PipelineError> {
        if let Watermarks::Table(table) = self.marks {
            let ids = [Mark::Low, Mark::High].map(|m| watermark_id(self.run, chunk, m));
            self.client
                .execute(&format!("DELETE FROM {table} WHERE id = ANY($1)"), &[&ids.as_slice()])
                .await
                .map_err(|e| sql_err(&format!("removing snapshot watermarks from {table}"), e))?;
        }
        Ok(())
    }
}

/// One chunk; `false` when the source went away.
async fn chunk(
    w: &Writer<'_>,
    req: ChunkRequest,
    tx: &mpsc::Sender<ChunkMsg>,
) -> Result<bool, PipelineError> {
    let client = w.client;
    w.write(req.chunk, Mark::Low).await?;
    let messages = match client.simple_query(&req.select).await {
        Ok(m) => m,
        Err(e) => {
            // A condition that fails on its own fails every time.
            if let (Some(check), Some(_)) = (&req.check, e.as_db_error()) {
                if let Err(c) = client.simple_query(check).await {
                    if let Some(db) = c.as_db_error() {
                        let why = Vanished::BadCondition(format!(
                            "{} ({})",
                            db.message(),
                            db.code().code()
                        ));
                        return Ok(tx
                            .send(ChunkMsg::Vanished { chunk: req.chunk, why })
                            .await
                            .is_ok());
                    }
                }
            }
            // undefined_table, invalid_schema_name; undefined_column,
            // datatype_mismatch (a key's type altered).
            let why = match e.code().map(|c| c.code()) {
                Some("42P01" | "3F000") => Some(Vanished::TableGone),
                Some("42703" | "42804") => Some(Vanished::Altered),
                _ => None,
            };
            if let Some(why) = why {
                tracing::warn!(chunk = req.chunk, error = %e, "snapshot chunk: the table changed under it");
                return Ok(tx.send(ChunkMsg::Vanished { chunk: req.chunk, why }).await.is_ok());
            }
            return Err(sql_err(&format!("snapshot chunk {} ({})", req.chunk, req.select), e));
        }
    };
    let rows = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect();
    let replayed = match w.marks {
        Watermarks::Replay => {
            let lsn = client
                .query_one("SELECT pg_last_wal_replay_lsn()::text", &[])
                .await
                .map_err(|e| sql_err("reading the standby's replay position", e))?
                .get::<_, Option<String>>(0)
                .and_then(|t| t.parse::<logtap_core::Lsn>().ok())
                .ok_or_else(|| {
                    PipelineError::new(
                        logtap_core::ErrorKind::ServerSetup,
                        "pg_last_wal_replay_lsn() is null: the server is no longer a standby (promoted?); restart logtap",
                    )
                })?;
            Some(lsn.0)
        }
        _ => None,
    };
    let (ack, acked) = oneshot::channel();
    if tx.send(ChunkMsg::Rows { chunk: req.chunk, rows, replayed, ack }).await.is_err()
        || acked.await.is_err()
    {
        return Ok(false);
    }
    w.write(req.chunk, Mark::High).await?;
    w.clear(req.chunk).await?;
    Ok(true)
}

/// `'text'` as an SQL literal, as PostgreSQL's `quote_literal` writes it
/// (an `E''` string when it holds a backslash), so it means the same under
/// any `standard_conforming_strings`.
pub(crate) fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_round_trip_and_other_runs_are_not_ours() {
        let w = watermark("logtap", 0xabc, 7, Mark::High);
        assert_eq!(w, "logtap/abc/7/high");
        assert_eq!(parse_watermark("logtap", 0xabc, w.as_bytes()), Some((7, Mark::High)));
        assert_eq!(parse_watermark("logtap", 0xabd, w.as_bytes()), None);
        assert_eq!(parse_watermark("other", 0xabc, w.as_bytes()), None);
        assert_eq!(parse_watermark("logtap", 0xabc, b"logtap/abc/7/middle"), None);
        assert_eq!(parse_watermark("logtap", 0xabc, b"logtap/abc/7/low/x"), None);
        assert_eq!(parse_watermark("logtap", 0xabc, &[0xff, 0xfe]), None);
    }

    #[test]
    fn literals_are_quoted_as_postgres_does() {
        assert_eq!(quote_literal("a'b"), "'a''b'");
        assert_eq!(quote_literal(r"a\b'"), r"E'a\\b'''");
        assert_eq!(quote_ident("My\"T"), "\"My\"\"T\"");
    }
}
