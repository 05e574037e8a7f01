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
        let name = match self.routing {
            Routing::PerTable => format!("{}.{}.{}", self.prefix, table.namespace, table.table),
            Routing::PerNamespace => format!("{}.{}", self.prefix, table.namespace),
            Routing::Single => self.single_topic.clone().unwrap_or_else(|| self.prefix.clone()),
        };
        sanitized(name)
    }

    /// Debezium's schema-change topic: the topic prefix itself.
    pub fn schema_change_topic(&self) -> String {
        self.prefix.clone()
    }

    /// Debezium's transaction topic: `<topic prefix>.<topic.transaction>`
    /// (by default `<prefix>.transaction`).
    pub fn transaction_topic(&self, suffix: &str) -> String {
        sanitized(format!("{}.{suffix}", self.prefix))
    }

    /// Debezium's heartbeat topic: `<heartbeat prefix>.<topic prefix>`
    /// (`topic.heartbeat.prefix`, by default `__debezium-heartbeat`).
    pub fn heartbeat_topic(&self, heartbeat_prefix: &str) -> String {
        format!("{heartbeat_prefix}.{}", self.prefix)
    }
}

/// Kafka accepts topic names of ASCII letters, digits, `.`, `_` and `-`;
/// Debezium replaces any other character of a name made from a table's
/// (a space, a quote, a non-ASCII letter) with `_`, and so does logtap.
/// A name Kafka would refuse is never sent, so never retried forever.
pub fn sanitized(name: String) -> String {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.chars().all(valid) {
        return name;
    }
    let fixed: String = name.chars().map(|c| if valid(c) { c } else { '_' }).collect();
    tracing::debug!(topic = %name, replaced = %fixed, "invalid characters in a topic name replaced with _");
    fixed
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

    #[test]
    fn invalid_characters_become_underscores_as_debezium_does() {
        let r = Router::new("app", Routing::PerTable, None);
        let t = TableId::new("public", "order lines");
        assert_eq!(r.topic(&t), "app.public.order_lines");
        let t = TableId::new("Sales-2024", "Crème \"brûlée\"");
        assert_eq!(r.topic(&t), "app.Sales-2024.Cr_me__br_l_e_");
        assert_eq!(sanitized("a.b_c-D9".into()), "a.b_c-D9");
    }
}
