//! Column defaults for the field schemas, read as Debezium 3.6's
//! PostgreSQL connector reads them (`PostgresDefaultValueConverter`): the
//! expression `pg_get_expr` prints for the column's `pg_attrdef` row, turned
//! into a value of the column's Connect type, or no default.
//!
//! Debezium's rules, for the types handled here (integers, `bool`, `text`,
//! `varchar`, `bpchar`):
//! - a function call (`nextval('s'::regclass)`, `now()`, `lower(...)`) or
//!   `CURRENT_TIMESTAMP`-like keyword becomes the type's placeholder: `0`,
//!   `false`, `""` (so a `serial` column has default 0);
//! - otherwise the first single-quoted literal, up to the next quote
//!   (`'none'::character varying` is `none`, `'-5'::integer` is -5), or the
//!   bare text when there is no quote (`7`, `true`);
//! - `NULL::type` and anything that does not parse as the type (`(1 + 2)`)
//!   give no default.
//!
//! Other types get no default yet (Debezium also gives defaults to numeric,
//! floats, json, uuid, date/time types, bit strings and enums).

use super::oids;
use logtap_core::Value;

/// The default value of a column of type `type_oid` whose `DEFAULT`
/// expression is `expr`, or `None` where Debezium would give none (or
/// logtap does not handle the type yet).
pub fn column_default(type_oid: u32, expr: &str) -> Option<Value> {
    let kind = match type_oid {
        oids::INT2 => Kind::Int16,
        oids::INT4 => Kind::Int32,
        oids::INT8 => Kind::Int64,
        oids::BOOL => Kind::Bool,
        oids::TEXT | oids::VARCHAR | oids::BPCHAR => Kind::Text,
        _ => return None,
    };
    // Debezium trims the expression of the non-text types only.
    let expr = if kind == Kind::Text { expr } else { expr.trim() };
    let raw = if is_function(expr) {
        return Some(kind.placeholder());
    } else if let Some(start) = expr.find('\'') {
        let rest = &expr[start + 1..];
        &rest[..rest.find('\'')?]
    } else {
        if expr.to_ascii_uppercase().starts_with("NULL") {
            return None;
        }
        expr
    };
    match kind {
        Kind::Int16 => raw.parse().ok().map(Value::Int16),
        Kind::Int32 => raw.parse().ok().map(Value::Int32),
        Kind::Int64 => raw.parse().ok().map(Value::Int64),
        // Java's Boolean.parseBoolean: "true" in any case, else false.
        Kind::Bool => Some(Value::Boolean(raw.eq_ignore_ascii_case("true"))),
        Kind::Text => Some(Value::String(raw.to_string())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int16,
    Int32,
    Int64,
    Bool,
    Text,
}

impl Kind {
    fn placeholder(self) -> Value {
        match self {
            Kind::Int16 => Value::Int16(0),
            Kind::Int32 => Value::Int32(0),
            Kind::Int64 => Value::Int64(0),
            Kind::Bool => Value::Boolean(false),
            Kind::Text => Value::String(String::new()),
        }
    }
}

/// `name(...)` (an optional opening parenthesis, an identifier of letters,
/// digits, `_` and `.`, then `(`), or one of SQL's current-time keywords.
fn is_function(expr: &str) -> bool {
    let lower = expr.trim().to_ascii_lowercase();
    if ["current_timestamp", "current_time", "current_date", "localtime", "localtimestamp"]
        .contains(&lower.as_str())
    {
        return true;
    }
    let body = lower.strip_prefix('(').unwrap_or(&lower);
    let ident = body.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.');
    let n = ident.count();
    n > 0 && body[n..].starts_with('(')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_functions_and_what_gives_no_default() {
        let d = column_default;
        assert_eq!(d(oids::INT4, "7"), Some(Value::Int32(7)));
        assert_eq!(d(oids::INT4, "'-5'::integer"), Some(Value::Int32(-5)));
        assert_eq!(d(oids::INT8, "'9223372036854775807'::bigint"), Some(Value::Int64(i64::MAX)));
        assert_eq!(d(oids::INT2, "nextval('t_id_seq'::regclass)"), Some(Value::Int16(0)));
        assert_eq!(
            d(oids::INT4, "nextval('diff.t_c_serial_seq'::regclass)"),
            Some(Value::Int32(0))
        );
        assert_eq!(
            d(oids::VARCHAR, "'none'::character varying"),
            Some(Value::String("none".into()))
        );
        assert_eq!(d(oids::TEXT, "'it''s'::text"), Some(Value::String("it".into())));
        assert_eq!(d(oids::TEXT, "lower('X'::text)"), Some(Value::String(String::new())));
        assert_eq!(d(oids::BOOL, "true"), Some(Value::Boolean(true)));
        assert_eq!(d(oids::BOOL, "false"), Some(Value::Boolean(false)));
        assert_eq!(d(oids::INT4, "NULL::integer"), None);
        assert_eq!(d(oids::INT4, "(1 + 2)"), None);
        assert_eq!(d(oids::INT4, "CURRENT_DATE"), Some(Value::Int32(0)));
        // Types not handled yet: no default rather than a wrong one.
        assert_eq!(d(oids::NUMERIC, "1.5"), None);
    }
}
