//! Column defaults for the field schemas, read as Debezium 3.6's
//! PostgreSQL connector reads them (`PostgresDefaultValueConverter`): the
//! expression `pg_get_expr` prints for the column's `pg_attrdef` row, turned
//! into a value of the column's Connect type, or no default.
//!
//! Debezium's rules:
//! - only some types get a default at all (below); money, timetz, bytea,
//!   citext, network and geometric types, ranges, hstore, arrays, domains,
//!   an unconstrained `numeric` (a struct) and identity columns never do;
//! - a function call (`nextval('s'::regclass)`, `now()`, `lower(...)`) or a
//!   `CURRENT_TIMESTAMP`-like keyword becomes the type's placeholder (`0`,
//!   `false`, `""`, the epoch, the zero UUID, `{}`), enums excepted;
//! - otherwise the first single-quoted literal, up to the next quote
//!   (`'none'::character varying` is `none`), or the bare text when there
//!   is no quote (`7`, `1.50`, `true`); `NULL::type` gives none;
//! - the literal is then converted exactly as a value of the column in a
//!   change is (so a timestamp default is epoch microseconds, a numeric one
//!   a Decimal at the column's scale), and gives no default when it does not
//!   convert, or (numeric) would need rounding to the column's scale.

use super::{oids, ColumnConversion, PgType, TypeKind};
use logtap_core::Value;

/// The default value of a column of type `pg_type` (`type_oid`) whose
/// `DEFAULT` expression is `expr`, converted by the column's `conv`, or
/// `None` where Debezium gives none.
pub fn column_default(
    type_oid: u32,
    pg_type: Option<&PgType>,
    expr: &str,
    conv: &ColumnConversion,
) -> Option<Value> {
    let is_enum = pg_type.is_some_and(|t| matches!(t.kind, TypeKind::Enum { .. }));
    let kind = Kind::of(type_oid, is_enum)?;
    if kind == Kind::Enum {
        // Only a quoted label cast to the type: no placeholder.
        let label = expr.strip_prefix('\'')?.split_once("'::")?.0;
        return Some(Value::String(label.to_string()));
    }
    let expr = if kind.trimmed() { expr.trim() } else { expr };
    let raw = if is_function(expr) {
        kind.placeholder()
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
        Kind::Numeric if needs_rounding(raw, conv) => None,
        _ => conv.convert_text(raw).ok().filter(|v| !matches!(v, Value::Struct(_))),
    }
}

/// More non-zero fraction digits than the column's scale: Debezium sets
/// the scale without rounding, which fails, so there is no default.
fn needs_rounding(raw: &str, conv: &ColumnConversion) -> bool {
    let Some(scale) = conv
        .schema()
        .parameters
        .iter()
        .find(|(k, _)| k == "scale")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    else {
        return false;
    };
    let fraction = raw.split_once('.').map_or("", |(_, f)| f).trim_end_matches('0');
    fraction.len() > scale
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int16,
    Int32,
    Int64,
    Bool,
    Text,
    Numeric,
    Float,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    Json,
    Xml,
    Bit,
    Varbit,
    Enum,
}

impl Kind {
    /// The types Debezium has a default-value mapper for.
    fn of(oid: u32, is_enum: bool) -> Option<Kind> {
        Some(match oid {
            oids::INT2 => Kind::Int16,
            oids::INT4 => Kind::Int32,
            oids::INT8 => Kind::Int64,
            oids::BOOL => Kind::Bool,
            oids::TEXT | oids::VARCHAR | oids::BPCHAR => Kind::Text,
            oids::NUMERIC => Kind::Numeric,
            oids::FLOAT4 | oids::FLOAT8 => Kind::Float,
            oids::DATE => Kind::Date,
            oids::TIME => Kind::Time,
            oids::TIMESTAMP => Kind::Timestamp,
            oids::TIMESTAMPTZ => Kind::TimestampTz,
            oids::INTERVAL => Kind::Interval,
            oids::UUID => Kind::Uuid,
            oids::JSON | oids::JSONB => Kind::Json,
            oids::XML => Kind::Xml,
            oids::BIT => Kind::Bit,
            oids::VARBIT => Kind::Varbit,
            _ if is_enum => Kind::Enum,
            _ => return None,
        })
    }

    /// Debezium trims the expression of these types only.
    fn trimmed(self) -> bool {
        !matches!(self, Kind::Text | Kind::Json | Kind::Xml | Kind::Enum)
    }

    /// The text a function default stands for, as a value of the type.
    fn placeholder(self) -> &'static str {
        match self {
            Kind::Int16 | Kind::Int32 | Kind::Int64 | Kind::Numeric | Kind::Float => "0",
            Kind::Bool => "false",
            Kind::Text | Kind::Xml | Kind::Enum => "",
            Kind::Date => "1970-01-01",
            Kind::Time | Kind::Interval => "00:00:00",
            Kind::Timestamp => "1970-01-01 00:00:00",
            Kind::TimestampTz => "1970-01-01 00:00:00+00",
            Kind::Uuid => "00000000-0000-0000-0000-000000000000",
            Kind::Json => "{}",
            Kind::Bit | Kind::Varbit => "0",
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::types::{TypeOptions, TypeRegistry};

    /// The default of a column of `oid` (with `typmod`) for `expr`.
    fn d(oid: u32, typmod: i32, expr: &str) -> Option<Value> {
        let conv =
            TypeRegistry::new().column_schema(oid, typmod, true, &TypeOptions::default()).unwrap();
        column_default(oid, None, expr, &conv)
    }

    #[test]
    fn literals_functions_and_what_gives_no_default() {
        assert_eq!(d(oids::INT4, -1, "7"), Some(Value::Int32(7)));
        assert_eq!(d(oids::INT4, -1, "'-5'::integer"), Some(Value::Int32(-5)));
        assert_eq!(
            d(oids::INT8, -1, "'9223372036854775807'::bigint"),
            Some(Value::Int64(i64::MAX))
        );
        assert_eq!(d(oids::INT2, -1, "nextval('t_id_seq'::regclass)"), Some(Value::Int16(0)));
        assert_eq!(
            d(oids::VARCHAR, -1, "'none'::character varying"),
            Some(Value::String("none".into()))
        );
        assert_eq!(d(oids::TEXT, -1, "'it''s'::text"), Some(Value::String("it".into())));
        assert_eq!(d(oids::TEXT, -1, "lower('X'::text)"), Some(Value::String(String::new())));
        assert_eq!(d(oids::BOOL, -1, "true"), Some(Value::Boolean(true)));
        assert_eq!(d(oids::INT4, -1, "NULL::integer"), None);
        assert_eq!(d(oids::INT4, -1, "(1 + 2)"), None);
        assert_eq!(d(oids::INT4, -1, "CURRENT_DATE"), Some(Value::Int32(0)));
    }

    #[test]
    fn other_types_convert_their_literal_as_a_change_value() {
        // numeric(6,2): typmod = ((6 << 16) | 2) + 4.
        let n62 = (6 << 16 | 2) + 4;
        assert!(matches!(d(oids::NUMERIC, n62, "now()"), Some(Value::Bytes(b)) if b == [0]));
        assert!(matches!(d(oids::NUMERIC, n62, "1.50"), Some(Value::Bytes(b)) if b == [0, 150]));
        assert_eq!(d(oids::NUMERIC, n62, "1.505"), None, "would need rounding");
        assert_eq!(d(oids::NUMERIC, -1, "2.5"), None, "unconstrained numeric is a struct");
        assert_eq!(d(oids::MONEY, -1, "3.50"), None);
        assert_eq!(d(oids::DATE, -1, "'2021-03-19'::date"), Some(Value::Int32(18705)));
        assert_eq!(d(oids::DATE, -1, "CURRENT_DATE"), Some(Value::Int32(0)));
        assert_eq!(
            d(oids::TIMESTAMP, -1, "'2021-03-20 13:44:28'::timestamp without time zone"),
            Some(Value::Int64(1_616_247_868_000_000))
        );
        assert_eq!(
            d(oids::TIMESTAMPTZ, -1, "now()"),
            Some(Value::String("1970-01-01T00:00:00.000000Z".into()))
        );
        assert_eq!(
            d(oids::UUID, -1, "gen_random_uuid()"),
            Some(Value::String("00000000-0000-0000-0000-000000000000".into()))
        );
        assert_eq!(d(oids::JSONB, -1, "'{}'::jsonb"), Some(Value::String("{}".into())));
        assert_eq!(d(oids::TIMETZ, -1, "'12:34:56+02'::time with time zone"), None);
        assert_eq!(d(oids::BYTEA, -1, "'\\x0102'::bytea"), None);
    }
}
