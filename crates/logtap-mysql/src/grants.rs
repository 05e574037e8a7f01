//! `SHOW GRANTS` lines read as far as `logtap check` needs them: which
//! privileges, on which database (a name or a LIKE pattern) or table. Pure
//! text work, apart from the checks that decide what the grants mean.

/// One line of `SHOW GRANTS`, as far as the checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Upper case, column lists removed (`SELECT (a)` is `SELECT`).
    pub(crate) privileges: Vec<String>,
    /// `None` for `*.*`; a database name or LIKE pattern otherwise.
    pub(crate) database: Option<String>,
    /// Whether the grant is on one table (or routine) rather than a database.
    pub(crate) table: bool,
}

/// Splits `s` at `sep` outside backquotes, quotes and parentheses.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let (mut parts, mut start, mut depth, mut quote) = (Vec::new(), 0, 0i32, None);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '`' | '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// An identifier as `SHOW GRANTS` prints it: backquoted (doubled
/// backquotes inside) or bare.
fn unquote(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        Some(inner) => inner.replace("``", "`"),
        None => s.to_string(),
    }
}

/// One `SHOW GRANTS` line; `None` for a line that grants nothing directly
/// (a role grant) or is not a GRANT.
pub(crate) fn parse_grant(line: &str) -> Option<Grant> {
    let rest = line.trim();
    if !rest.get(..6)?.eq_ignore_ascii_case("GRANT ") {
        return None;
    }
    // `GRANT <privileges> ON <object> TO <account> ...`; role grants
    // (`GRANT r TO u`) have no ON and grant nothing directly.
    let words = split_top(&rest[6..], ' ');
    let on = words.iter().position(|w| w.eq_ignore_ascii_case("ON"))?;
    let privileges = split_top(&words[..on].join(" "), ',')
        .into_iter()
        .map(|p| {
            let p = p.split('(').next().unwrap_or("");
            p.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase()
        })
        .filter(|p| !p.is_empty())
        .collect();
    let mut object = words.get(on + 1)?;
    if ["TABLE", "FUNCTION", "PROCEDURE", "PACKAGE"].iter().any(|k| object.eq_ignore_ascii_case(k))
    {
        object = words.get(on + 2)?;
    }
    let parts = split_top(object, '.');
    let (db, table) = match parts.as_slice() {
        [db, table] => (unquote(db), unquote(table)),
        // `ON *` or `ON t`: relative to a default database; not ours.
        _ => return Some(Grant { privileges, database: Some(String::new()), table: true }),
    };
    Some(Grant { privileges, database: (db != "*").then_some(db), table: table != "*" })
}

/// MySQL's LIKE on database names in grants: `%`, `_`, `\` escapes.
pub(crate) fn like(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('%', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('_', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some(('\\', rest)) if !rest.is_empty() => {
                n.first() == Some(&rest[0]) && go(&rest[1..], &n[1..])
            }
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// Whether the grant includes one of `wanted` (or ALL).
pub(crate) fn has_any(g: &Grant, wanted: &[&str]) -> bool {
    g.privileges.iter().any(|p| p == "ALL" || p == "ALL PRIVILEGES" || wanted.contains(&p.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_parsed() {
        let g = parse_grant(
            "GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cdc`@`%` IDENTIFIED BY PASSWORD '*11'",
        )
        .unwrap();
        assert_eq!(g.privileges, ["SELECT", "REPLICATION SLAVE", "BINLOG MONITOR"]);
        assert_eq!(g.database, None);
        let g = parse_grant("GRANT ALL PRIVILEGES ON `my``db`.* TO `cdc`@`%`").unwrap();
        assert_eq!(g.privileges, ["ALL PRIVILEGES"]);
        assert_eq!(g.database.as_deref(), Some("my`db"));
        assert!(!g.table);
        let g = parse_grant("GRANT SELECT (`a`, `b on`), INSERT ON `shop`.`orders` TO 'u'@'%'")
            .unwrap();
        assert_eq!(g.privileges, ["SELECT", "INSERT"]);
        assert!(g.table);
        // MySQL 8 dynamic privileges: no space after the comma.
        let g =
            parse_grant("GRANT BACKUP_ADMIN,REPLICATION_SLAVE_ADMIN ON *.* TO `root`@`localhost`")
                .unwrap();
        assert_eq!(g.privileges, ["BACKUP_ADMIN", "REPLICATION_SLAVE_ADMIN"]);
        assert_eq!(parse_grant("GRANT `reader` TO `cdc`@`%`"), None);
        assert!(like("log\\_tap", "log_tap"));
        assert!(!like("log\\_tap", "logxtap"));
        assert!(like("shop%", "shop_eu"));
        assert!(like("sh_p", "shop"));
    }
}
