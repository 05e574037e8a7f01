//! Which schema-change records a DDL statement from the binlog gives, as
//! Debezium 3.6's MySQL and MariaDB connectors write them to the topic
//! `<topic_prefix>` (`include.schema.changes`, on by default). No IO: the
//! statement is classified here; the table structures come from the
//! catalog (`catalog.rs`) and the records are built in `schema_change.rs`.
//!
//! Debezium parses every statement with a full grammar; logtap reads only
//! as far as it needs to tell which tables a statement creates, alters,
//! renames or drops. Its rules (from Debezium's `BinlogDatabaseSchema`,
//! `SchemaHistory.DDL_FILTER` and the parser listeners):
//! - no record for transaction control, DML, `TRUNCATE` (Debezium skips
//!   truncates by default), temporary tables, and the statements Debezium's
//!   DDL filter drops: views, functions, procedures, triggers, users,
//!   roles, `GRANT`/`REVOKE`, `ANALYZE`/`OPTIMIZE`/`REPAIR`, `FLUSH`,
//!   `SAVEPOINT`;
//! - `CREATE TABLE` and `ALTER TABLE`: one record, the table as it is
//!   after the statement (an `ALTER TABLE ... RENAME TO` under its new
//!   name);
//! - `RENAME TABLE a TO b, c TO d`: one record per pair, an ALTER of the
//!   new name, with the text `RENAME TABLE a TO b`;
//! - `DROP TABLE a, b`: one record per table, with the text
//!   ``DROP TABLE `db`.`a` `` and no table structure;
//! - `CREATE`/`DROP DATABASE`: one record for that database, no table
//!   changes; anything else (`CREATE INDEX`, `ALTER DATABASE`, ...): one
//!   record for the statement's default database, no table changes.

/// What a statement changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ddl {
    /// No schema-change record.
    Ignored,
    /// One record per table change.
    Tables(Vec<TableDdl>),
    /// One record for a database (`None`: the statement's default
    /// database), with no table changes.
    Database(Option<String>),
}

/// One table change of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDdl {
    pub kind: ChangeKind,
    /// The database named in the statement, else the default one.
    pub db: String,
    pub table: String,
    /// The statement text of this change's record.
    pub ddl: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Alter,
    Drop,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Create => "CREATE",
            ChangeKind::Alter => "ALTER",
            ChangeKind::Drop => "DROP",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A bare word (keyword or identifier), as written.
    Word(String),
    /// A `quoted` identifier, unquoted.
    Ident(String),
    /// A string literal.
    Str,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

impl Token {
    fn is(&self, keyword: &str) -> bool {
        matches!(&self.tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
    fn punct(&self, c: char) -> bool {
        self.tok == Tok::Punct(c)
    }
    /// The identifier this token names, if it can name one.
    fn name(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word(w) | Tok::Ident(w) => Some(w),
            _ => None,
        }
    }
}

/// Splits `sql` into tokens, leaving out comments and whitespace.
fn tokens(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if sql[i..].starts_with("/*") {
            i = sql[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
        } else if sql[i..].starts_with("-- ") || c == b'#' {
            i = sql[i..].find('\n').map_or(b.len(), |e| i + e + 1);
        } else if c == b'`' {
            let start = i;
            let mut name = String::new();
            i += 1;
            while i < b.len() {
                if b[i] == b'`' {
                    if b.get(i + 1) == Some(&b'`') {
                        name.push('`');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                let ch = sql[i..].chars().next().unwrap_or('`');
                name.push(ch);
                i += ch.len_utf8();
            }
            out.push(Token { tok: Tok::Ident(name), start, end: i });
        } else if c == b'\'' || c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() {
                if b[i] == b'\\' {
                    i += 2;
                } else if b[i] == c {
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                    } else {
                        i += 1;
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(Token { tok: Tok::Str, start, end: i.min(b.len()) });
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            out.push(Token { tok: Tok::Word(sql[start..i].to_string()), start, end: i });
        } else {
            let ch = sql[i..].chars().next().unwrap_or(' ');
            out.push(Token { tok: Tok::Punct(ch), start: i, end: i + ch.len_utf8() });
            i += ch.len_utf8();
        }
    }
    out
}

/// `[db.]table` at `t[i..]`: (db, table, tokens used).
fn table_name(t: &[Token], i: usize) -> Option<(Option<String>, String, usize)> {
    let first = t.get(i)?.name()?.to_string();
    if t.get(i + 1).is_some_and(|d| d.punct('.')) {
        let second = t.get(i + 2)?.name()?.to_string();
        return Some((Some(first), second, 3));
    }
    Some((None, first, 1))
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Classifies one statement (a QUERY event's text) run with `default_db`
/// as the current database.
pub fn classify(sql: &str, default_db: &str) -> Ddl {
    let t = tokens(sql);
    let Some(first) = t.first() else { return Ddl::Ignored };
    let word = |k: usize| match t.get(k).map(|x| &x.tok) {
        Some(Tok::Word(w)) => w.to_ascii_uppercase(),
        _ => String::new(),
    };
    let head = word(0);
    const IGNORED: &[&str] = &[
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "XA",
        "SAVEPOINT",
        "RELEASE",
        "INSERT",
        "UPDATE",
        "DELETE",
        "REPLACE",
        "TRUNCATE",
        "GRANT",
        "REVOKE",
        "ANALYZE",
        "OPTIMIZE",
        "REPAIR",
        "FLUSH",
        "CALL",
        "DO",
        "LOAD",
        "SELECT",
        "WITH",
        "USE",
    ];
    if IGNORED.contains(&head.as_str()) || first.punct('(') {
        return Ddl::Ignored;
    }
    // The words before the object keyword: CREATE OR REPLACE DEFINER=...
    // SQL SECURITY ... VIEW, DROP TEMPORARY TABLE, ALTER ONLINE IGNORE TABLE.
    if matches!(head.as_str(), "CREATE" | "ALTER" | "DROP") {
        let mut k = 1;
        let mut temporary = false;
        while k < t.len() && k < 24 {
            let w = word(k);
            match w.as_str() {
                "VIEW" | "FUNCTION" | "PROCEDURE" | "TRIGGER" | "USER" | "ROLE" | "EVENT"
                | "SERVER" | "AGGREGATE" | "PACKAGE" | "SEQUENCE" => return Ddl::Ignored,
                "TEMPORARY" => temporary = true,
                "TABLE" if temporary => return Ddl::Ignored,
                "TABLE" => return table_statement(&head, &t, k + 1, sql, default_db),
                "DATABASE" | "SCHEMA" if head != "ALTER" => {
                    let mut n = k + 1;
                    while matches!(word(n).as_str(), "IF" | "NOT" | "EXISTS") {
                        n += 1;
                    }
                    return Ddl::Database(t.get(n).and_then(Token::name).map(str::to_string));
                }
                "INDEX" | "DATABASE" | "SCHEMA" | "TABLESPACE" => break,
                _ => {}
            }
            if t[k].punct('(') {
                break;
            }
            k += 1;
        }
        return Ddl::Database(None);
    }
    if head == "RENAME" && word(1) == "TABLE" {
        return rename(&t, 2, sql, default_db);
    }
    Ddl::Database(None)
}

/// `CREATE|ALTER|DROP ... TABLE` with the name at `t[i]`.
fn table_statement(head: &str, t: &[Token], mut i: usize, sql: &str, default_db: &str) -> Ddl {
    let resolve = |db: Option<String>| db.unwrap_or_else(|| default_db.to_string());
    let word = |k: usize| match t.get(k).map(|x| &x.tok) {
        Some(Tok::Word(w)) => w.to_ascii_uppercase(),
        _ => String::new(),
    };
    while matches!(word(i).as_str(), "IF" | "NOT" | "EXISTS") {
        i += 1;
    }
    let whole = sql.trim().trim_end_matches(';').trim_end().to_string();
    match head {
        "CREATE" => match table_name(t, i) {
            Some((db, table, _)) => Ddl::Tables(vec![TableDdl {
                kind: ChangeKind::Create,
                db: resolve(db),
                table,
                ddl: whole,
            }]),
            None => Ddl::Database(None),
        },
        "ALTER" => {
            let Some((mut db, mut table, used)) = table_name(t, i) else {
                return Ddl::Database(None);
            };
            // `RENAME [TO|AS] new` at the top level (not RENAME COLUMN/INDEX/KEY).
            let mut depth = 0i32;
            let mut k = i + used;
            while k < t.len() {
                if t[k].punct('(') {
                    depth += 1;
                } else if t[k].punct(')') {
                    depth -= 1;
                } else if depth == 0 && t[k].is("RENAME") {
                    let mut n = k + 1;
                    if matches!(word(n).as_str(), "COLUMN" | "INDEX" | "KEY" | "CONSTRAINT") {
                        k += 1;
                        continue;
                    }
                    if matches!(word(n).as_str(), "TO" | "AS") {
                        n += 1;
                    }
                    if let Some((d, tb, _)) = table_name(t, n) {
                        db = d.or(db);
                        table = tb;
                    }
                }
                k += 1;
            }
            Ddl::Tables(vec![TableDdl {
                kind: ChangeKind::Alter,
                db: resolve(db),
                table,
                ddl: whole,
            }])
        }
        _ => {
            // DROP TABLE a, b [RESTRICT|CASCADE]: one record per table.
            let prefix = sql[t[0].start..t.get(i).map_or(sql.len(), |x| x.start)].to_string();
            let mut out = Vec::new();
            let mut k = i;
            while let Some((db, table, used)) = table_name(t, k) {
                out.push((db, table));
                k += used;
                if t.get(k).is_some_and(|x| x.punct(',')) {
                    k += 1;
                } else {
                    break;
                }
            }
            let suffix = match word(k).as_str() {
                "RESTRICT" => " RESTRICT",
                "CASCADE" => " CASCADE",
                _ => "",
            };
            Ddl::Tables(
                out.into_iter()
                    .map(|(db, table)| {
                        let db = resolve(db);
                        TableDdl {
                            kind: ChangeKind::Drop,
                            ddl: format!("{prefix}{}.{}{suffix}", quote(&db), quote(&table)),
                            db,
                            table,
                        }
                    })
                    .collect(),
            )
        }
    }
}

/// `RENAME TABLE a TO b [, c TO d]` from `t[i]`.
fn rename(t: &[Token], mut i: usize, sql: &str, default_db: &str) -> Ddl {
    let mut out = Vec::new();
    while let Some((_, _, used)) = table_name(t, i) {
        let start = t[i].start;
        let to = i + used;
        if !t.get(to).is_some_and(|x| x.is("TO")) {
            break;
        }
        let Some((db, table, used2)) = table_name(t, to + 1) else { break };
        let end = t[to + used2].end;
        out.push(TableDdl {
            kind: ChangeKind::Alter,
            db: db.unwrap_or_else(|| default_db.to_string()),
            table,
            ddl: format!("RENAME TABLE {}", &sql[start..end]),
        });
        i = to + 1 + used2;
        if t.get(i).is_some_and(|x| x.punct(',')) {
            i += 1;
        } else {
            break;
        }
    }
    if out.is_empty() {
        Ddl::Database(None)
    } else {
        Ddl::Tables(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(kind: ChangeKind, db: &str, table: &str, ddl: &str) -> TableDdl {
        TableDdl { kind, db: db.into(), table: table.into(), ddl: ddl.into() }
    }

    fn classify(sql: &str) -> Ddl {
        super::classify(sql, "def")
    }

    #[test]
    fn table_statements() {
        let sql = "ALTER TABLE my_ops ADD COLUMN extra varchar(10) NOT NULL DEFAULT 'x'";
        assert_eq!(classify(sql), Ddl::Tables(vec![one(ChangeKind::Alter, "def", "my_ops", sql)]));
        assert_eq!(
            classify("CREATE TABLE IF NOT EXISTS `d`.`t 1` (id int PRIMARY KEY);"),
            Ddl::Tables(vec![one(
                ChangeKind::Create,
                "d",
                "t 1",
                "CREATE TABLE IF NOT EXISTS `d`.`t 1` (id int PRIMARY KEY)"
            )])
        );
        assert_eq!(
            classify("ALTER TABLE t RENAME COLUMN a TO b, RENAME TO u"),
            Ddl::Tables(vec![one(
                ChangeKind::Alter,
                "def",
                "u",
                "ALTER TABLE t RENAME COLUMN a TO b, RENAME TO u"
            )])
        );
        assert_eq!(
            classify("RENAME TABLE a TO b, d.c TO d.e"),
            Ddl::Tables(vec![
                one(ChangeKind::Alter, "def", "b", "RENAME TABLE a TO b"),
                one(ChangeKind::Alter, "d", "e", "RENAME TABLE d.c TO d.e"),
            ])
        );
        assert_eq!(
            classify("DROP TABLE IF EXISTS `a`, d.b /* generated by server */"),
            Ddl::Tables(vec![
                one(ChangeKind::Drop, "def", "a", "DROP TABLE IF EXISTS `def`.`a`"),
                one(ChangeKind::Drop, "d", "b", "DROP TABLE IF EXISTS `d`.`b`"),
            ])
        );
    }

    #[test]
    fn statements_without_table_changes() {
        assert_eq!(
            classify("CREATE DATABASE IF NOT EXISTS shop"),
            Ddl::Database(Some("shop".into()))
        );
        assert_eq!(classify("DROP SCHEMA `shop`"), Ddl::Database(Some("shop".into())));
        assert_eq!(classify("CREATE INDEX i ON t (a)"), Ddl::Database(None));
        assert_eq!(classify("CREATE UNIQUE INDEX i ON t (a)"), Ddl::Database(None));
        assert_eq!(classify("ALTER DATABASE shop CHARACTER SET utf8mb4"), Ddl::Database(None));
        for ignored in [
            "BEGIN",
            "COMMIT",
            "TRUNCATE TABLE t",
            "CREATE OR REPLACE DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW v AS SELECT 1",
            "DROP TEMPORARY TABLE IF EXISTS `t` /* generated by server */",
            "CREATE TEMPORARY TABLE t (a int)",
            "GRANT SELECT ON *.* TO x",
            "CREATE USER 'a'@'%'",
            "DROP PROCEDURE p",
            "/* a comment */ FLUSH PRIVILEGES",
            "",
        ] {
            assert_eq!(classify(ignored), Ddl::Ignored, "{ignored}");
        }
    }
}
