//! Debezium's include and exclude lists (`table.include.list`,
//! `schema.include.list`, `database.include.list` and their excludes):
//! each entry is a regular expression that must match the whole name
//! (`public.orders`, `inventory.customers`), ignoring case, as Debezium
//! compiles them. An exact name is its own expression, so lists of names
//! keep working (`.` then also matches any one character, as in Debezium).

use regex::{Regex, RegexBuilder};
use std::sync::OnceLock;

/// An include list (empty: everything) and an exclude list, compiled.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    /// Built from lists that did not compile: matches nothing.
    broken: bool,
}

/// A config's filter, compiled at its first use. Configs are validated
/// (every entry compiled) when loaded, so a broken one is never used; if
/// it were, it would capture nothing rather than everything.
#[derive(Debug, Clone, Default)]
pub struct FilterCache(OnceLock<NameFilter>);

impl PartialEq for FilterCache {
    /// Configs compare by their lists; the cache follows from them.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl FilterCache {
    /// The filter of these lists (always the same lists for one cache).
    pub fn get(&self, include: &[String], exclude: &[String]) -> &NameFilter {
        self.0.get_or_init(|| {
            NameFilter::new(include, exclude)
                .unwrap_or(NameFilter { broken: true, ..NameFilter::default() })
        })
    }
}

/// An entry that is not a regular expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` is not a regular expression: {reason}")]
pub struct FilterError {
    pub entry: String,
    pub reason: String,
}

impl NameFilter {
    /// Compiles both lists; the first bad entry is the error.
    pub fn new(include: &[String], exclude: &[String]) -> Result<NameFilter, FilterError> {
        Ok(NameFilter {
            include: compile_all(include)?,
            exclude: compile_all(exclude)?,
            broken: false,
        })
    }

    /// Whether `name` is included (or the include list is empty) and not
    /// excluded.
    pub fn matches(&self, name: &str) -> bool {
        !self.broken
            && (self.include.is_empty() || self.include.iter().any(|r| r.is_match(name)))
            && !self.exclude.iter().any(|r| r.is_match(name))
    }

    /// Whether the include list is empty (everything not excluded).
    pub fn includes_all(&self) -> bool {
        self.include.is_empty()
    }
}

fn compile_all(entries: &[String]) -> Result<Vec<Regex>, FilterError> {
    entries.iter().map(|e| compile(e)).collect()
}

/// One entry, anchored at both ends and case-insensitive.
pub fn compile(entry: &str) -> Result<Regex, FilterError> {
    let fail = |reason: String| FilterError { entry: entry.to_string(), reason };
    if entry.trim().is_empty() {
        return Err(fail("an empty entry would match nothing".into()));
    }
    RegexBuilder::new(&format!("^(?:{})$", entry.trim()))
        .case_insensitive(true)
        .build()
        .map_err(|e| fail(e.to_string().lines().last().unwrap_or_default().trim().to_string()))
}

/// Splits a Debezium list property (`a,b\,c`): commas separate entries,
/// `\,` is a comma inside one, as Debezium reads `*.include.list`.
pub fn split_debezium_list(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                push(&mut out, ',');
            }
            ',' => out.push(String::new()),
            c => push(&mut out, c),
        }
    }
    out.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn push(out: &mut [String], c: char) {
    if let Some(s) = out.last_mut() {
        s.push(c);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn f(include: &[&str], exclude: &[&str]) -> NameFilter {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        NameFilter::new(&v(include), &v(exclude)).unwrap()
    }

    #[test]
    fn entries_match_whole_names_ignoring_case() {
        let t = f(&["public.orders", r"inventory\.cust.*"], &[]);
        assert!(t.matches("public.orders"));
        assert!(t.matches("PUBLIC.Orders"));
        assert!(!t.matches("public.orders_archive"), "anchored at the end");
        assert!(!t.matches("xpublic.orders"), "anchored at the start");
        assert!(t.matches("inventory.customers"));
        assert!(!t.matches("inventoryxcustomers"));
    }

    #[test]
    fn excludes_win_and_an_empty_include_takes_all() {
        let t = f(&[], &[r"public\.audit_.*"]);
        assert!(t.includes_all());
        assert!(t.matches("public.orders"));
        assert!(!t.matches("public.audit_log"));
        let t = f(&["public..*"], &["public.secret"]);
        assert!(!t.matches("public.secret"));
    }

    #[test]
    fn a_bad_entry_is_named() {
        let e = NameFilter::new(&["public.(orders".into()], &[]).unwrap_err();
        assert_eq!(e.entry, "public.(orders");
        assert!(e.to_string().contains("unclosed group"), "{e}");
    }

    #[test]
    fn debezium_lists_split_on_unescaped_commas() {
        assert_eq!(
            split_debezium_list(r"public.a, public.b\,c ,,x"),
            vec!["public.a", "public.b,c", "x"]
        );
    }
}
