//! PostgreSQL array literals as `array_out` prints them: `{1,2,NULL}`,
//! `{"a,b","c\"d",""}`, `{{1,2},{3,4}}`, and `[0:1]={5,6}` when a lower
//! bound is not 1. Elements are quoted when empty, when they contain
//! braces, the delimiter, quotes, backslashes or white space, or when they
//! spell NULL; inside quotes `"` and `\` are backslash-escaped.

/// One element of a parsed array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Null,
    Text(String),
    /// A sub-array (multi-dimensional arrays).
    Array(Vec<Item>),
}

/// PostgreSQL allows 6 dimensions; a little slack, but bounded recursion.
const MAX_DEPTH: usize = 16;

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    delim: u8,
}

/// Parses an array literal into its top-level items.
pub fn parse(text: &str, delim: u8) -> Result<Vec<Item>, String> {
    let mut p = Parser { s: text.as_bytes(), pos: 0, delim };
    p.skip_space();
    if p.peek() == Some(b'[') {
        // Dimension decoration, e.g. "[0:1]" or "[1:2][1:3]", then "=".
        while let Some(c) = p.peek() {
            if c == b'=' {
                break;
            }
            if !(c.is_ascii_digit() || matches!(c, b'[' | b']' | b':' | b'-' | b'+')) {
                return Err(format!("bad dimension decoration at offset {}", p.pos));
            }
            p.pos += 1;
        }
        if !p.eat(b'=') {
            return Err("dimension decoration without '='".into());
        }
        p.skip_space();
    }
    if !p.eat(b'{') {
        return Err("array literal must start with '{'".into());
    }
    let items = p.list(1)?;
    p.skip_space();
    if p.pos != p.s.len() {
        return Err(format!("unexpected text after the array at offset {}", p.pos));
    }
    Ok(items)
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// The items after an opening brace, through the closing one.
    fn list(&mut self, depth: usize) -> Result<Vec<Item>, String> {
        if depth > MAX_DEPTH {
            return Err("array nested too deeply".into());
        }
        let mut items = Vec::new();
        self.skip_space();
        if self.eat(b'}') {
            return Ok(items);
        }
        loop {
            self.skip_space();
            let item = match self.peek() {
                None => return Err("unterminated array".into()),
                Some(b'{') => {
                    self.pos += 1;
                    Item::Array(self.list(depth + 1)?)
                }
                Some(b'"') => {
                    self.pos += 1;
                    Item::Text(self.quoted()?)
                }
                Some(_) => self.unquoted()?,
            };
            items.push(item);
            self.skip_space();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(c) if c == self.delim => self.pos += 1,
                Some(_) => return Err(format!("expected a delimiter at offset {}", self.pos)),
                None => return Err("unterminated array".into()),
            }
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted element".into()),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.peek().ok_or("unterminated escape")?;
                    out.push(c);
                    self.pos += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| "element is not UTF-8".to_string())
    }

    fn unquoted(&mut self) -> Result<Item, String> {
        let mut out = Vec::new();
        let mut significant = 0; // length without trailing unescaped spaces
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return Err("unterminated array".into()),
                Some(c) if c == self.delim || c == b'}' => break,
                Some(b'{' | b'"') => {
                    return Err(format!("unexpected character in element at offset {}", self.pos))
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.peek().ok_or("unterminated escape")?;
                    out.push(c);
                    self.pos += 1;
                    significant = out.len();
                    escaped = true;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                    if !is_space(c) {
                        significant = out.len();
                    }
                }
            }
        }
        out.truncate(significant);
        if out.is_empty() {
            return Err(format!("empty unquoted element at offset {}", self.pos));
        }
        if !escaped && out.eq_ignore_ascii_case(b"NULL") {
            return Ok(Item::Null);
        }
        String::from_utf8(out).map(Item::Text).map_err(|_| "element is not UTF-8".to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> Item {
        Item::Text(s.into())
    }

    #[test]
    fn one_dimension() {
        assert_eq!(parse("{1,2,NULL}", b',').unwrap(), vec![t("1"), t("2"), Item::Null]);
        assert_eq!(parse("{}", b',').unwrap(), vec![]);
        assert_eq!(
            parse(r#"{"a,b","c\"d","","NULL",NULL,"x y","{}","\\\\"}"#, b',').unwrap(),
            vec![t("a,b"), t("c\"d"), t(""), t("NULL"), Item::Null, t("x y"), t("{}"), t("\\\\")]
        );
        assert_eq!(parse("{ a , b\\ ,null}", b',').unwrap(), vec![t("a"), t("b "), Item::Null]);
        assert_eq!(parse("{žš,\"日本\"}", b',').unwrap(), vec![t("žš"), t("日本")]);
        assert_eq!(
            parse("{(0,0),(1,1);(2,2),(3,3)}", b';').unwrap(),
            vec![t("(0,0),(1,1)"), t("(2,2),(3,3)")]
        );
    }

    #[test]
    fn dimensions() {
        assert_eq!(
            parse("{{1,2},{3,4}}", b',').unwrap(),
            vec![Item::Array(vec![t("1"), t("2")]), Item::Array(vec![t("3"), t("4")])]
        );
        assert_eq!(parse("[0:1]={5,6}", b',').unwrap(), vec![t("5"), t("6")]);
        assert_eq!(
            parse("[1:1][0:1]={{5,6}}", b',').unwrap(),
            vec![Item::Array(vec![t("5"), t("6")])]
        );
    }

    #[test]
    fn malformed() {
        for bad in [
            "", "1,2", "{1,2", "{1,,2}", "{\"a}", "{a\"b}", "{1}x", "[0:1]{1}", "{1,2}}", "{\\",
            "{,}",
        ] {
            assert!(parse(bad, b',').is_err(), "{bad:?}");
        }
        let deep = format!("{}{}", "{".repeat(100), "}".repeat(100));
        assert!(parse(&deep, b',').is_err());
    }
}
