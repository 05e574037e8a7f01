//! Debezium's `column.include.list` / `column.exclude.list`: columns left
//! out of change records' values.
//!
//! Each entry is a regular expression matching the whole fully-qualified
//! column name, case ignored: `schema.table.column` on PostgreSQL,
//! `database.table.column` on MySQL/MariaDB (a [`TableId`]'s namespace and
//! table, then the column). As in Debezium's schema builder, the filter
//! shapes the value (`before`, `after`, the row schema) only: the key keeps
//! every key column, and schema-change records describe the whole table.
//!
//! One PostgreSQL quirk is kept, since consumers read the key schema: when
//! a key column is filtered out, Debezium's PostgreSQL connector marks it
//! optional (and without a default) in the key schema (it looks the
//! column's nullability and default up only for the columns it keeps; its
//! MySQL and MariaDB connectors do not). [`ColumnFilter::new`]'s
//! `loosen_keys` asks for the same.
//!
//! Filtering happens once per row on the typed event, before encoding. The
//! projection of a row schema is computed once and cached by the schema's
//! identity: sources share one `Arc<Schema>` per table version, so a
//! table's rows hit the cache until an ALTER gives it a new schema.

use crate::event::{ChangeEvent, TableId};
use crate::filter::{FilterError, NameFilter};
use crate::schema::{Schema, Struct, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Cached projections beyond this many row schemas are dropped (ALTERs
/// make new schemas; the old ones are not seen again).
const MAX_CACHED: usize = 4096;

/// A compiled column include or exclude list.
#[derive(Debug)]
pub struct ColumnFilter {
    names: NameFilter,
    /// Filtered-out key columns become optional in the key schema.
    loosen_keys: bool,
    projections: Mutex<HashMap<usize, Projection>>,
    keys: Mutex<HashMap<usize, Projection>>,
}

/// What one row schema becomes.
#[derive(Debug, Clone)]
struct Projection {
    /// The schema this projects (held so its address is not reused), and
    /// its table (the names matched include it).
    from: Arc<Schema>,
    table: TableId,
    /// `None`: every column stays.
    to: Option<(Arc<Schema>, Arc<[usize]>)>,
}

impl ColumnFilter {
    /// The filter of these lists; `None` when both are empty (every column).
    pub fn new(
        include: &[String],
        exclude: &[String],
        loosen_keys: bool,
    ) -> Result<Option<Self>, FilterError> {
        if include.is_empty() && exclude.is_empty() {
            return Ok(None);
        }
        Ok(Some(ColumnFilter {
            names: NameFilter::new(include, exclude)?,
            loosen_keys,
            projections: Mutex::default(),
            keys: Mutex::default(),
        }))
    }

    /// Removes the filtered-out columns from the event's value schema and
    /// its `before` and `after` (and loosens the key schema if asked).
    pub fn apply(&self, event: &mut ChangeEvent) {
        if self.loosen_keys {
            self.loosen_key(event);
        }
        let projection =
            self.cached(&self.projections, &event.table, &event.value_schema, |t, s| {
                self.project_schema(t, s)
            });
        let Some((schema, keep)) = projection.to else { return };
        event.value_schema = schema.clone();
        for row in [&mut event.before, &mut event.after].into_iter().flatten() {
            project(row, &schema, &keep);
        }
    }

    /// The key schema with filtered-out columns optional and without a
    /// default, on the event and on its key.
    fn loosen_key(&self, event: &mut ChangeEvent) {
        let Some(key_schema) = &event.key_schema else { return };
        let projection = self.cached(&self.keys, &event.table, key_schema, |t, s| {
            let mut to = s.clone();
            for f in &mut to.fields {
                if !self.keeps(t, &f.name) {
                    f.schema.optional = true;
                    f.schema.default = None;
                }
            }
            (to != *s).then(|| (Arc::new(to), Arc::from([])))
        });
        let Some((schema, _)) = projection.to else { return };
        if let Some(key) = &mut event.key {
            key.schema = schema.clone();
        }
        event.key_schema = Some(schema);
    }

    /// The projection of `schema` from `cache`, made by `make` on a miss.
    fn cached(
        &self,
        cache: &Mutex<HashMap<usize, Projection>>,
        table: &TableId,
        schema: &Arc<Schema>,
        make: impl FnOnce(&TableId, &Schema) -> Option<(Arc<Schema>, Arc<[usize]>)>,
    ) -> Projection {
        let id = Arc::as_ptr(schema) as usize;
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) =
            cache.get(&id).filter(|p| Arc::ptr_eq(&p.from, schema) && p.table == *table)
        {
            return p.clone();
        }
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        let to = make(table, schema);
        let p = Projection { from: schema.clone(), table: table.clone(), to };
        cache.insert(id, p.clone());
        p
    }

    /// The kept fields' schema and indexes, or `None` if all are kept.
    fn project_schema(
        &self,
        table: &TableId,
        schema: &Schema,
    ) -> Option<(Arc<Schema>, Arc<[usize]>)> {
        let keep: Vec<usize> = (0..schema.fields.len())
            .filter(|&i| self.keeps(table, &schema.fields[i].name))
            .collect();
        if keep.len() == schema.fields.len() {
            return None;
        }
        let mut to = schema.clone();
        to.fields = keep.iter().map(|&i| schema.fields[i].clone()).collect();
        Some((Arc::new(to), keep.into()))
    }
}

impl ColumnFilter {
    /// Whether `column` of `table` stays in the values.
    fn keeps(&self, table: &TableId, column: &str) -> bool {
        self.names.matches(&format!("{}.{}.{column}", table.namespace, table.table))
    }
}

/// `row` with only the `keep` values, under `schema`. A row that does not
/// have the schema's shape (never, rows are built from it) is left alone.
fn project(row: &mut Struct, schema: &Arc<Schema>, keep: &[usize]) {
    if keep.iter().any(|&i| i >= row.values.len()) {
        return;
    }
    let mut values = std::mem::take(&mut row.values);
    row.values = keep.iter().map(|&i| std::mem::replace(&mut values[i], Value::Null)).collect();
    row.schema = schema.clone();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Field;

    fn row_schema() -> Arc<Schema> {
        Arc::new(Schema::structure(
            "p.public.users.Value",
            vec![
                Field::new("id", Schema::int32()),
                Field::new("email", Schema::string().optional()),
                Field::new("ssn", Schema::string().optional()),
            ],
        ))
    }

    fn event(schema: &Arc<Schema>) -> ChangeEvent {
        let row = |n: i32| {
            Struct::new(
                schema.clone(),
                vec![Value::Int32(n), Value::String("a@b".into()), Value::String("123".into())],
            )
            .unwrap()
        };
        let source = Struct::new(Arc::new(Schema::structure("source", vec![])), vec![]).unwrap();
        ChangeEvent {
            table: TableId { namespace: "public".into(), table: "users".into() },
            op: crate::event::Op::Update,
            key: None,
            key_schema: None,
            value_schema: schema.clone(),
            before: Some(row(1)),
            after: Some(row(2)),
            source,
            processed_at_us: 0,
            transaction: None,
            headers: vec![],
            position: crate::position::SourcePosition::Postgres {
                lsn: crate::position::Lsn(1),
                tx: None,
            },
        }
    }

    fn names(s: &Struct) -> Vec<&str> {
        s.schema.fields.iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn an_exclude_list_removes_the_column_from_before_after_and_the_schema() {
        let f = ColumnFilter::new(&[], &["public.users.SSN".into()], false).unwrap().unwrap();
        let schema = row_schema();
        let mut e = event(&schema);
        f.apply(&mut e);
        let after = e.after.as_ref().unwrap();
        assert_eq!(names(after), ["id", "email"]);
        assert_eq!(after.values, [Value::Int32(2), Value::String("a@b".into())]);
        assert_eq!(names(e.before.as_ref().unwrap()), ["id", "email"]);
        assert_eq!(e.value_schema.fields.len(), 2);
        assert!(Arc::ptr_eq(&e.value_schema, &after.schema), "one schema for the row");
        // The second row of the table uses the cached projection.
        let mut e2 = event(&schema);
        f.apply(&mut e2);
        assert!(Arc::ptr_eq(&e.value_schema, &e2.value_schema));
    }

    #[test]
    fn an_include_list_keeps_only_what_it_matches_and_other_tables_lose_all_else() {
        let f = ColumnFilter::new(&["public\\.users\\.(id|email)".into()], &[], false)
            .unwrap()
            .unwrap();
        let schema = row_schema();
        let mut e = event(&schema);
        f.apply(&mut e);
        assert_eq!(names(e.after.as_ref().unwrap()), ["id", "email"]);
        let mut other = event(&schema);
        other.table.table = "admins".into();
        f.apply(&mut other);
        assert!(names(other.after.as_ref().unwrap()).is_empty(), "no column of admins is included");
    }

    #[test]
    fn loosened_keys_make_a_filtered_out_key_column_optional_without_default() {
        let key_schema = Arc::new(Schema::structure(
            "p.public.users.Key",
            vec![
                Field::new("id", Schema::int32()),
                Field::new("ssn", Schema::string().with_default(Value::String("x".into()))),
            ],
        ));
        let key = Struct::new(key_schema.clone(), vec![Value::Int32(1), Value::String("1".into())]);
        for loosen in [false, true] {
            let f = ColumnFilter::new(&[], &["public.users.ssn".into()], loosen).unwrap().unwrap();
            let schema = row_schema();
            let mut e = event(&schema);
            e.key_schema = Some(key_schema.clone());
            e.key = Some(key.clone().unwrap());
            f.apply(&mut e);
            let k = e.key_schema.as_ref().unwrap();
            assert_eq!(k.fields.len(), 2, "the key keeps its columns");
            assert!(!k.fields[0].schema.optional);
            assert_eq!(k.fields[1].schema.optional, loosen);
            assert_eq!(k.fields[1].schema.default.is_none(), loosen);
            assert!(Arc::ptr_eq(k, &e.key.as_ref().unwrap().schema));
        }
    }

    #[test]
    fn no_lists_no_filter_and_a_list_matching_nothing_changes_nothing() {
        assert!(ColumnFilter::new(&[], &[], true).unwrap().is_none());
        let f = ColumnFilter::new(&[], &["public.users.nope".into()], true).unwrap().unwrap();
        let schema = row_schema();
        let mut e = event(&schema);
        f.apply(&mut e);
        assert!(Arc::ptr_eq(&e.value_schema, &schema));
        assert_eq!(e.after.unwrap().values.len(), 3);
        assert!(ColumnFilter::new(&[], &["(".into()], false).is_err());
    }
}
