//! Environment overrides: `LOGTAP__SECTION__KEY=value` sets `section.key`
//! in the configuration before it is read.

/// What every override variable starts with.
pub(super) const ENV_PREFIX: &str = "LOGTAP__";

/// Sets `a.b.c` from `LOGTAP__A__B__C=value`.
pub(super) fn apply_override(
    table: &mut toml::Table,
    var: &str,
    value: &str,
) -> Result<(), String> {
    let path: Vec<String> =
        var[ENV_PREFIX.len()..].split("__").map(|s| s.to_ascii_lowercase()).collect();
    if path.iter().any(String::is_empty) {
        return Err("empty key segment (use LOGTAP__SECTION__KEY)".into());
    }
    let (last, parents) = path.split_last().ok_or("no key")?;
    let mut cur = table;
    for part in parents {
        let entry =
            cur.entry(part.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry.as_table_mut().ok_or_else(|| format!("`{part}` is not a section"))?;
    }
    cur.insert(last.clone(), parse_env_value(value));
    Ok(())
}

fn parse_env_value(value: &str) -> toml::Value {
    // Numbers, booleans and arrays are read as TOML; anything else is a string.
    let doc = format!("v = {value}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => match t.remove("v") {
            Some(
                v @ (toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_)),
            )
            | Some(v @ toml::Value::Array(_)) => v,
            _ => toml::Value::String(value.to_string()),
        },
        Err(_) => toml::Value::String(value.to_string()),
    }
}
