//! What a binlog QUERY event's statement means for the transaction
//! bookkeeping: it opens a transaction, ends one, or is a statement (inside
//! an open transaction, or DDL on its own). Text tests only, no state: the
//! machine decides with them and what it knows of the open transaction.

/// A QUERY event's statement, as the transaction bookkeeping reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Query {
    /// `BEGIN`, or `XA START` / `XA BEGIN` (`xa`).
    Begin { xa: bool },
    /// A statement ending in `START TRANSACTION`: MySQL 8.0.21+ logs
    /// `CREATE TABLE ... SELECT` as one transaction opened by the CREATE
    /// itself. It opens its GTID's group unless one is open already.
    OpensGroup,
    /// `COMMIT` or `ROLLBACK`.
    End,
    /// Anything else.
    Other,
}

/// Classifies `text` (trimmed by the caller or not).
pub(crate) fn classify_query(text: &str) -> Query {
    let text = text.trim();
    let upper = text.get(..text.len().min(16)).unwrap_or("").to_ascii_uppercase();
    if text.eq_ignore_ascii_case("BEGIN") {
        return Query::Begin { xa: false };
    }
    if upper.starts_with("XA START") || upper.starts_with("XA BEGIN") {
        return Query::Begin { xa: true };
    }
    if text.eq_ignore_ascii_case("COMMIT") || text.eq_ignore_ascii_case("ROLLBACK") {
        return Query::End;
    }
    let tail = text.len().checked_sub(17).and_then(|i| text.get(i..));
    if text.len() > 17 && tail.is_some_and(|t| t.eq_ignore_ascii_case("START TRANSACTION")) {
        return Query::OpensGroup;
    }
    Query::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_open_end_or_are_statements() {
        assert_eq!(classify_query("BEGIN"), Query::Begin { xa: false });
        assert_eq!(classify_query(" begin "), Query::Begin { xa: false });
        assert_eq!(classify_query("XA START X'01',X'',1"), Query::Begin { xa: true });
        assert_eq!(classify_query("xa begin 'x'"), Query::Begin { xa: true });
        assert_eq!(classify_query("COMMIT"), Query::End);
        assert_eq!(classify_query("rollback"), Query::End);
        assert_eq!(classify_query("CREATE TABLE t2 (id int) START TRANSACTION"), Query::OpensGroup);
        assert_eq!(classify_query("START TRANSACTION"), Query::Other, "the statement alone");
        assert_eq!(classify_query("SAVEPOINT `s1`"), Query::Other);
        assert_eq!(classify_query("ROLLBACK TO `s1`"), Query::Other);
        assert_eq!(classify_query("ALTER TABLE t ADD c int"), Query::Other);
        assert_eq!(classify_query("COMMIT AND CHAIN"), Query::Other);
        assert_eq!(classify_query("ä"), Query::Other);
    }
}
