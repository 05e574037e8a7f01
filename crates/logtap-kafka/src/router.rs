//! Topic routing: which topic a table's records go to.

use logtap_core::TableId;
use serde::Deserialize;

/// How tables map to topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// `<prefix>.<namespace>.<table>`, as Debezium names topics.
    #[default]
    PerTable,
    /// `<prefix>.<namespace>`: one topic per schema or database.
    PerNamespace,
    /// One topic for everything, named by `single_topic`.
    Single,
}

/// Names topics for tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    prefix: String,
    routing: Routing,
    single_topic: Option<String>,
}

impl Router {
    pub fn new(prefix: impl Into<String>, routing: Routing, single_topic: Option<String>) -> Self {
        Router { prefix: prefix.into(), routing, single_topic }
    }

    pub fn topic(&self, table: &TableId) -> String {
        match self.routing {
            Routing::PerTable => format!("{}.{}.{}", self.prefix, table.namespace, table.table),
            Routing::PerNamespace => format!("{}.{}", self.prefix, table.namespace),
            Routing::Single => self.single_topic.clone().unwrap_or_else(|| self.prefix.clone()),
        }
    }

    /// Debezium's schema-change topic: the topic prefix itself.
    pub fn schema_change_topic(&self) -> String {
        self.prefix.clone()
    }

    /// Debezium's heartbeat topic: `<heartbeat prefix>.<topic prefix>`
    /// (`topic.heartbeat.prefix`, by default `__debezium-heartbeat`).
    pub fn heartbeat_topic(&self, heartbeat_prefix: &str) -> String {
        format!("{heartbeat_prefix}.{}", self.prefix)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn routes_like_debezium_by_default() {
        let t = TableId::new("public", "orders");
        assert_eq!(Router::new("app", Routing::PerTable, None).topic(&t), "app.public.orders");
        assert_eq!(Router::new("app", Routing::PerNamespace, None).topic(&t), "app.public");
        assert_eq!(Router::new("app", Routing::Single, Some("all".into())).topic(&t), "all");
        assert_eq!(
            Router::new("app", Routing::Single, None).heartbeat_topic("__debezium-heartbeat"),
            "__debezium-heartbeat.app"
        );
    }
}
