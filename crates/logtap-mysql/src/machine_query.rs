//! QUERY events of the binlog machine: transaction boundaries (BEGIN,
//! XA, COMMIT) classified by `query.rs`, statements inside a transaction
//! (a row change logged as a statement cannot be captured: it stops, or
//! is passed as the failure mode says), and DDL statements with their
//! schema-change records, described from catalogs read at the statement.

use super::{BinlogMachine, Need};
use crate::catalog::TableCatalog;
use crate::ddl::{self, ChangeKind, Ddl};
use crate::query::{classify_query, Query};
use crate::source_block::{source_struct, SourceFields};
use crate::types::Flavor;
use logtap_core::event::{SnapshotMarker, TableId};
use logtap_core::traits::SourceItem;
use logtap_core::{PipelineError, SourcePosition};
use mysql_async::binlog::events::Event;
use std::sync::Arc;

impl BinlogMachine {
    /// A QUERY event: a transaction's BEGIN (or XA START), its end, a
    /// statement inside it, or a statement of its own (DDL), which ends its
    /// group and may have changed any table.
    pub(super) fn query_event(
        &mut self,
        ev: &Event,
        event_start: u64,
        end_pos: u64,
    ) -> Result<(), PipelineError> {
        let q = ev
            .read_event::<mysql_async::binlog::events::QueryEvent<'_>>()
            .map_err(|e| self.bad(event_start, format!("QUERY event: {e}")))?;
        let text = q.query();
        let thread = i64::from(q.thread_id());
        let text = text.trim();
        let kind = classify_query(text);
        let xa_start = kind == Query::Begin { xa: true };
        let opens = match kind {
            Query::Begin { .. } => true,
            Query::OpensGroup => self.tx.as_ref().is_some_and(|t| !t.open),
            Query::End | Query::Other => false,
        };
        if opens {
            if self.tx.is_none() {
                self.begin(None, event_start, false, false)?;
            }
            // Debezium's MySQL connector begins a transaction at BEGIN (its
            // MariaDB one at the GTID event).
            if kind == (Query::Begin { xa: false }) && matches!(self.flavor, Flavor::Mysql) {
                self.tx_boundary(false, ev.header().timestamp());
            }
            if let Some(tx) = &mut self.tx {
                tx.thread = Some(thread);
                tx.open = true;
                if xa_start {
                    tracing::warn!(gtid = ?tx.gtid.as_ref().map(ToString::to_string), "XA transaction: its rows are not sent (XA transactions are not supported)");
                    tx.prepared_xa = true;
                }
            }
        } else if kind == Query::End {
            if text.eq_ignore_ascii_case("COMMIT") {
                self.tx_boundary(true, ev.header().timestamp());
            }
            self.commit(end_pos);
        } else if self.tx.as_ref().is_some_and(|t| t.open) {
            // A statement inside an open transaction (SAVEPOINT,
            // ROLLBACK TO, a temporary table...): not its end. A
            // row change logged as a statement (a session with
            // binlog_format = STATEMENT) cannot be captured.
            self.statement_change(text, &q.schema(), event_start)?;
        } else {
            // A statement of its own (DDL): its group ends here.
            // It may have changed any table (defaults included,
            // which leave the TABLE_MAP as it was), so tables are
            // mapped and their catalogs read afresh.
            self.tables.clear();
            self.snapshot_ddl();
            self.schema_change(&q, ev, event_start);
            let fresh = self.ddl_read.take().filter(|(f, p)| *f == self.file && *p == event_start);
            if fresh.is_none() {
                self.catalogs.clear();
            }
            self.commit(end_pos);
        }
        Ok(())
    }

    /// A DDL statement's tables, when schema-change records are written
    /// and their catalogs were not read for this statement yet.
    pub(super) fn ddl_need(&self, ev: &Event) -> Option<Need> {
        self.schema_changes.as_ref()?;
        if self.tx.as_ref().is_some_and(|t| t.open || t.alter_not_done) {
            return None;
        }
        let header = ev.header();
        let start = u64::from(header.log_pos()).saturating_sub(u64::from(header.event_size()));
        let start = self.payload_end.unwrap_or(start);
        if self.ddl_read.as_ref().is_some_and(|(f, p)| *f == self.file && *p == start) {
            return None;
        }
        let q = ev.read_event::<mysql_async::binlog::events::QueryEvent<'_>>().ok()?;
        let Ddl::Tables(changes) = ddl::classify(&q.query(), &q.schema()) else { return None };
        let ids: Vec<TableId> = changes
            .iter()
            .filter(|c| c.kind != ChangeKind::Drop)
            .map(|c| TableId::new(c.db.as_str(), c.table.as_str()))
            .collect();
        (!ids.is_empty()).then(|| Need::Ddl(self.file.clone(), start, ids))
    }

    /// A DML statement in the binlog, in a captured database: a change
    /// logtap cannot see the rows of. It stops, or is passed over as
    /// `event_processing_failure_handling_mode` says (Debezium warns).
    pub(super) fn statement_change(
        &self,
        text: &str,
        db: &str,
        pos: u64,
    ) -> Result<(), PipelineError> {
        let verb = text.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let dml = matches!(verb.as_str(), "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "LOAD");
        if !dml {
            return Ok(());
        }
        // The statement's own database, or one it names (`INSERT INTO d.t`
        // leaves the session's default database empty).
        let named = || {
            text.split(|c: char| !(c.is_alphanumeric() || "_$.`".contains(c)))
                .filter_map(|w| w.split_once('.'))
                .any(|(d, _)| self.cfg.captures_database(d.trim_matches('`')))
        };
        let captured = match db {
            "" => self.cfg.database_include_list.is_empty() || named(),
            db => self.cfg.captures_database(db) || named(),
        };
        if !captured {
            return Ok(());
        }
        let shown: String = text.chars().take(80).collect();
        let err = PipelineError::new(
            logtap_core::ErrorKind::Conversion,
            format!(
                "binlog {}:{pos}: a change in database `{db}` logged as a statement (`{shown}`): \
                 logtap reads row events only and cannot capture it",
                self.file
            ),
        )
        .with_fix(
            "the session that wrote it ran with binlog_format = STATEMENT or MIXED: keep ROW \
             for every session (SESSION_VARIABLES_ADMIN / SUPER let a session change it); to go \
             on without that change, set event_processing_failure_handling_mode = \"warn\"",
        );
        let what = format!("statement at {}:{pos}", self.file);
        self.cfg.event_processing_failure_handling_mode.on_error(err, db, &what)
    }

    /// The schema-change records of a DDL statement (none when they are
    /// off or the statement gives none), before its checkpoint.
    fn schema_change(
        &mut self,
        q: &mysql_async::binlog::events::QueryEvent<'_>,
        ev: &Event,
        event_start: u64,
    ) {
        let Some(schemas) = &self.schema_changes else { return };
        if self.tx.as_ref().is_some_and(|t| t.alter_not_done) {
            return;
        }
        let text = q.query();
        let default_db = q.schema().into_owned();
        /// (database, statement text, table changes: kind, db, table).
        type Planned = (String, String, Vec<(ChangeKind, String, String)>);
        let records: Vec<Planned> = match ddl::classify(&text, &default_db) {
            Ddl::Ignored => return,
            Ddl::Database(db) => {
                vec![(db.unwrap_or_else(|| default_db.clone()), text.trim().to_string(), vec![])]
            }
            Ddl::Tables(changes) => changes
                .into_iter()
                .map(|c| (c.db.clone(), c.ddl, vec![(c.kind, c.db, c.table)]))
                .collect(),
        };
        let header = ev.header();
        let ts_us = self.ts_us(header.timestamp());
        let gtid = self.tx.as_ref().and_then(|t| t.gtid.as_ref()).map(ToString::to_string);
        for (db, ddl_text, changes) in records {
            let table = changes.iter().map(|c| c.2.as_str()).collect::<Vec<_>>().join(",");
            let source = source_struct(
                &self.source_schema,
                &SourceFields {
                    connector: self.flavor.connector(),
                    prefix: &self.prefix,
                    ts_us,
                    db: &db,
                    // The tables' names joined; "" for a database record.
                    table: Some(table.as_str()),
                    server_id: i64::from(header.server_id()),
                    gtid: gtid.as_deref(),
                    file: &self.file,
                    pos: event_start,
                    row: 0,
                    thread: None,
                    snapshot: SnapshotMarker::False,
                },
            );
            let catalogs: Vec<Option<Arc<TableCatalog>>> = changes
                .iter()
                .map(|(_, d, t)| self.catalogs.get(&TableId::new(d.as_str(), t.as_str())).cloned())
                .collect();
            let described: Vec<(ChangeKind, &str, &str, Option<&TableCatalog>)> = changes
                .iter()
                .zip(&catalogs)
                .map(|((k, d, t), c)| (*k, d.as_str(), t.as_str(), c.as_deref()))
                .collect();
            let position = SourcePosition::Mysql {
                file: self.file.clone(),
                pos: event_start,
                gtid_set: None,
                skip_events: 0,
                skip_rows: 0,
                debezium_events: false,
            };
            let record = schemas.record(
                source,
                self.clock.now_us() / 1000,
                &db,
                &ddl_text,
                &described,
                position,
            );
            self.pending.push_back(SourceItem::SchemaChange(Box::new(record)));
        }
    }
}
