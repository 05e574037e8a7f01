//! The demo source: a deterministic stream of changes to a synthetic
//! `inventory.customers` table, to try the pipeline (envelope, Kafka sink,
//! ack tracking, offsets, resume) without a database.
//!
//! Change `n` depends only on `n`, and the position after it is
//! `Sequence { seq: n + 1 }`, so a restart from a stored position produces
//! exactly the changes that were not yet acknowledged. Per round of four
//! changes: two customers are created, the first one's email is updated and
//! the second one is deleted.

use crate::config::DemoConfig;
use logtap_core::{
    ChangeEvent, Field, Op, PipelineError, RecordNames, Schema, Source, SourceItem, SourcePosition,
    Struct, TableId, Value,
};
use logtap_runtime::now_us;
use std::sync::Arc;
use std::time::Duration;

/// See the module documentation.
#[derive(Debug)]
pub struct DemoSource {
    config: DemoConfig,
    prefix: String,
    table: TableId,
    key_schema: Arc<Schema>,
    value_schema: Arc<Schema>,
    source_schema: Arc<Schema>,
    next: u64,
    /// A change was yielded and its checkpoint is due next.
    checkpoint_due: bool,
}

impl DemoSource {
    /// A source that resumes after `position` (from the offset store).
    pub fn new(
        config: DemoConfig,
        prefix: &str,
        position: Option<&SourcePosition>,
    ) -> Result<Self, PipelineError> {
        let next = match position {
            None => 0,
            Some(SourcePosition::Sequence { seq }) => *seq,
            Some(other) => {
                return Err(PipelineError::new(logtap_core::ErrorKind::WrongSource, format!(
                    "the stored position ({other}) is not a demo position: it belongs to another source kind; run `logtap reset` to start over"
                )))
            }
        };
        let table = TableId::new("inventory", "customers");
        let names = RecordNames::new(prefix, &table);
        let key_schema =
            Arc::new(Schema::structure(&names.key, vec![Field::new("id", Schema::int32())]));
        let value_schema = Arc::new(Schema::structure(
            &names.value,
            vec![
                Field::new("id", Schema::int32()),
                Field::new("first_name", Schema::string()),
                Field::new("last_name", Schema::string()),
                Field::new("email", Schema::string()),
            ],
        ));
        let source_schema = Arc::new(logtap_core::event::source_schema(
            "io.logtap.connector.demo.Source",
            vec![
                Field::new("schema", Schema::string()),
                Field::new("table", Schema::string()),
                Field::new("seq", Schema::int64()),
            ],
        ));
        Ok(DemoSource {
            config,
            prefix: prefix.to_string(),
            table,
            key_schema,
            value_schema,
            source_schema,
            next,
            checkpoint_due: false,
        })
    }

    fn customer(&self, id: i32, email_version: u32) -> Result<Struct, PipelineError> {
        let first = ["Sally", "George", "Edward", "Anne", "Ravi", "Mei"][(id as usize) % 6];
        let last =
            ["Thomas", "Bailey", "Walker", "Kretchmar", "Iyer", "Chen"][(id as usize / 6) % 6];
        let email = if email_version == 0 {
            format!("{}.{}@example.com", first.to_lowercase(), id)
        } else {
            format!("{}.{}+{}@example.org", first.to_lowercase(), id, email_version)
        };
        Struct::new(
            self.value_schema.clone(),
            vec![
                Value::Int32(id),
                Value::String(first.into()),
                Value::String(last.into()),
                Value::String(email),
            ],
        )
        .map_err(|e| PipelineError::internal(e.to_string()))
    }

    fn event(&self, n: u64) -> Result<ChangeEvent, PipelineError> {
        let round = i32::try_from(n / 4).map_err(|_| PipelineError::internal("demo exhausted"))?;
        let (op, id) = match n % 4 {
            0 => (Op::Create, 1001 + 2 * round),
            1 => (Op::Create, 1002 + 2 * round),
            2 => (Op::Update, 1001 + 2 * round),
            _ => (Op::Delete, 1002 + 2 * round),
        };
        let (before, after) = match op {
            Op::Create => (None, Some(self.customer(id, 0)?)),
            Op::Update => (Some(self.customer(id, 0)?), Some(self.customer(id, 1)?)),
            _ => (Some(self.customer(id, 0)?), None),
        };
        let now = now_us();
        let common = logtap_core::event::SourceCommon {
            connector: "demo",
            name: &self.prefix,
            ts_us: now,
            snapshot: logtap_core::event::SnapshotMarker::False,
            db: "demo",
            sequence: None,
        };
        let source = logtap_core::event::source_block(
            &self.source_schema,
            common,
            [
                Value::String(self.table.namespace.clone()),
                Value::String(self.table.table.clone()),
                Value::Int64(i64::try_from(n).unwrap_or(i64::MAX)),
            ],
        );
        let key = Struct::new(self.key_schema.clone(), vec![Value::Int32(id)])
            .map_err(|e| PipelineError::internal(e.to_string()))?;
        Ok(ChangeEvent {
            table: self.table.clone(),
            op,
            key: Some(key),
            key_schema: Some(self.key_schema.clone()),
            value_schema: self.value_schema.clone(),
            before,
            after,
            source,
            processed_at_us: now,
            transaction: None,
            headers: vec![],
            position: SourcePosition::Sequence { seq: n },
        })
    }
}

impl Source for DemoSource {
    async fn next(&mut self) -> Result<Option<SourceItem>, PipelineError> {
        if self.checkpoint_due {
            self.checkpoint_due = false;
            return Ok(Some(SourceItem::Checkpoint(Box::new(
                SourcePosition::Sequence { seq: self.next }.into(),
            ))));
        }
        if self.config.changes != 0 && self.next >= self.config.changes {
            return Ok(None);
        }
        // Cancel-safe: the state only changes after the sleep completes.
        tokio::time::sleep(Duration::from_millis(self.config.interval_ms)).await;
        let event = self.event(self.next)?;
        self.next += 1;
        self.checkpoint_due = true;
        Ok(Some(SourceItem::Change(Box::new(event))))
    }

    async fn committed(&mut self, _position: &SourcePosition) -> Result<(), PipelineError> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resumes_exactly_after_the_stored_position() {
        let cfg = DemoConfig { changes: 8, interval_ms: 0 };
        let mut all = DemoSource::new(cfg.clone(), "demo", None).unwrap();
        let mut events = vec![];
        while let Some(item) = all.next().await.unwrap() {
            if let SourceItem::Change(e) = item {
                events.push((e.op, e.key.clone()));
            }
        }
        assert_eq!(events.len(), 8);
        let mut resumed =
            DemoSource::new(cfg, "demo", Some(&SourcePosition::Sequence { seq: 5 })).unwrap();
        let mut rest = vec![];
        while let Some(item) = resumed.next().await.unwrap() {
            if let SourceItem::Change(e) = item {
                rest.push((e.op, e.key.clone()));
            }
        }
        assert_eq!(rest, events[5..].to_vec());
    }

    #[test]
    fn a_foreign_position_is_refused() {
        let e = DemoSource::new(
            DemoConfig { changes: 1, interval_ms: 0 },
            "demo",
            Some(&SourcePosition::Postgres { lsn: logtap_core::Lsn(1), tx: None }),
        )
        .unwrap_err();
        assert!(e.message.contains("logtap reset"));
    }
}
