//! `hstore` text (`"a"=>"1", "b"=>NULL`) and the bits of Java that decide how
//! Debezium prints it: pgjdbc's `HStoreConverter.fromString` builds a
//! `java.util.HashMap`, and Debezium writes that map with Jackson in the
//! map's iteration order. So the pairs are ordered here as a `HashMap`
//! iterates them (by bucket of the spread `String.hashCode`, then insertion
//! order), and strings are escaped as Jackson escapes them.

/// Parses hstore output into `(key, value)` pairs in text order.
pub fn parse(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let s = text.as_bytes();
    let mut pos = 0;
    let mut pairs = Vec::new();
    let skip_space = |pos: &mut usize| {
        while *pos < s.len() && s[*pos].is_ascii_whitespace() {
            *pos += 1;
        }
    };
    skip_space(&mut pos);
    while pos < s.len() {
        let key = token(s, &mut pos)?.ok_or("a key cannot be NULL")?;
        skip_space(&mut pos);
        if s.get(pos..pos + 2) != Some(b"=>") {
            return Err(format!("expected \"=>\" at offset {pos}"));
        }
        pos += 2;
        skip_space(&mut pos);
        let value = token(s, &mut pos)?;
        pairs.push((key, value));
        skip_space(&mut pos);
        if pos < s.len() {
            if s[pos] != b',' {
                return Err(format!("expected ',' at offset {pos}"));
            }
            pos += 1;
            skip_space(&mut pos);
            if pos == s.len() {
                return Err("trailing ','".into());
            }
        }
    }
    Ok(pairs)
}

/// A quoted string, or an unquoted word (`NULL` meaning null).
fn token(s: &[u8], pos: &mut usize) -> Result<Option<String>, String> {
    let mut out = Vec::new();
    if s.get(*pos) == Some(&b'"') {
        *pos += 1;
        loop {
            match s.get(*pos) {
                None => return Err("unterminated quoted string".into()),
                Some(b'"') => {
                    *pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let c = *s.get(*pos + 1).ok_or("unterminated escape")?;
                    out.push(c);
                    *pos += 2;
                }
                Some(&c) => {
                    out.push(c);
                    *pos += 1;
                }
            }
        }
    } else {
        let start = *pos;
        while *pos < s.len()
            && !s[*pos].is_ascii_whitespace()
            && s[*pos] != b','
            && !s[*pos..].starts_with(b"=>")
        {
            *pos += 1;
        }
        if *pos == start {
            return Err(format!("expected a string at offset {start}"));
        }
        if s[start..*pos].eq_ignore_ascii_case(b"NULL") {
            return Ok(None);
        }
        out.extend_from_slice(&s[start..*pos]);
    }
    String::from_utf8(out).map(Some).map_err(|_| "not UTF-8".to_string())
}

/// `String.hashCode()`: over UTF-16 code units.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0_i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The order in which a `java.util.HashMap` built by `put`ting `hashes` in
/// order (later duplicates replacing earlier values, keeping the first
/// position) iterates: indexes into `hashes` of the surviving entries.
/// `keys_equal(i, j)` says whether entries `i` and `j` have the same key.
///
/// Ignores tree bins (a bucket of 8 or more colliding keys in a table of
/// 64+ buckets), which only change the order inside such a bucket.
pub fn java_hash_map_order(
    hashes: &[i32],
    keys_equal: impl Fn(usize, usize) -> bool,
) -> Vec<usize> {
    // Distinct keys in first-insertion order.
    let mut distinct: Vec<usize> = Vec::with_capacity(hashes.len());
    for i in 0..hashes.len() {
        if !distinct.iter().any(|&j| hashes[j] == hashes[i] && keys_equal(i, j)) {
            distinct.push(i);
        }
    }
    // A table of 16 buckets doubles each time the size passes 3/4 of it.
    let mut capacity: usize = 16;
    while distinct.len() > capacity / 4 * 3 {
        capacity *= 2;
    }
    let spread = |h: i32| (h ^ ((h as u32) >> 16) as i32) as u32 as usize;
    let mut order = distinct;
    // Stable: within a bucket, insertion order survives resizes.
    order.sort_by_key(|&i| spread(hashes[i]) & (capacity - 1));
    order
}

/// Jackson's `writeStringField` quoting: `"` and `\` escaped, control
/// characters as `\n`-style escapes or `\u00XX` (upper-case hex), the rest
/// as is.
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Pairs in `HashMap` iteration order (later duplicates replace values).
pub fn java_order(pairs: Vec<(String, Option<String>)>) -> Vec<(String, Option<String>)> {
    let hashes: Vec<i32> = pairs.iter().map(|(k, _)| java_string_hash(k)).collect();
    let order = java_hash_map_order(&hashes, |i, j| pairs[i].0 == pairs[j].0);
    order
        .into_iter()
        .map(|i| {
            let key = &pairs[i].0;
            // The value of the last `put` of this key.
            let value = pairs.iter().rev().find(|(k, _)| k == key).and_then(|(_, v)| v.clone());
            (key.clone(), value)
        })
        .collect()
}

/// The JSON object Debezium writes for `hstore.handling.mode = json`.
pub fn to_json(pairs: &[(String, Option<String>)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, k);
        out.push(':');
        match v {
            Some(v) => push_json_string(&mut out, v),
            None => out.push_str("null"),
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(k: &str, v: Option<&str>) -> (String, Option<String>) {
        (k.into(), v.map(Into::into))
    }

    #[test]
    fn parses_output() {
        assert_eq!(parse(r#""a"=>"b", "c"=>NULL"#).unwrap(), vec![p("a", Some("b")), p("c", None)]);
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse(r#""k\"q"=>"v\\w""#).unwrap(), vec![p("k\"q", Some("v\\w"))]);
        assert_eq!(parse(r#""NULL"=>"NULL""#).unwrap(), vec![p("NULL", Some("NULL"))]);
        assert_eq!(parse("a=>1,b=>NULL").unwrap(), vec![p("a", Some("1")), p("b", None)]);
        for bad in [r#""a"=>"#, r#""a" "b""#, r#""a"=>"b","#, r#"NULL=>"b""#, r#""a"=>"b"#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn java_hashes() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // Debezium's own expectation for
        // '"key_#1" => "val 1","key 2" =>" ##123 78"':
        let pairs = java_order(vec![p("key_#1", Some("val 1")), p("key 2", Some(" ##123 78"))]);
        assert_eq!(to_json(&pairs), r#"{"key_#1":"val 1","key 2":" ##123 78"}"#);
    }

    #[test]
    fn java_hash_map_iteration_order() {
        // Orders printed by java.util.HashMap#keySet on JDK 17.
        let keys = ["b", "a", "key10", "z", "Aa", "BB", "k3", "é", "日本"];
        let pairs = java_order(keys.iter().map(|k| p(k, Some("1"))).collect());
        let got: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(got, ["Aa", "BB", "a", "b", "k3", "é", "z", "日本", "key10"]);
        // 30 keys: the table has grown to 64 buckets.
        let keys: Vec<String> = (0..30).map(|i| format!("key{i}")).collect();
        let pairs = java_order(keys.iter().map(|k| p(k, None)).collect());
        let got: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        let want = "key1 key2 key0 key5 key6 key3 key4 key9 key7 key8 key22 key21 key20 key15 key14 \
                    key13 key12 key19 key18 key17 key16 key11 key10 key26 key25 key24 key23 key29 key28 key27";
        assert_eq!(got, want.split_whitespace().collect::<Vec<_>>());
        // Duplicates keep their first position and the last value.
        let pairs = java_order(vec![p("x", Some("1")), p("y", Some("2")), p("x", Some("3"))]);
        assert_eq!(pairs, vec![p("x", Some("3")), p("y", Some("2"))]);
        // Short keys (sparse vectors).
        let hashes = [5, 1, -3, 100, 17, 33, 1000];
        let order: Vec<i32> = java_hash_map_order(&hashes, |a, b| hashes[a] == hashes[b])
            .into_iter()
            .map(|i| hashes[i])
            .collect();
        assert_eq!(order, [1, 17, 33, -3, 100, 5, 1000]);
    }

    #[test]
    fn json_escapes() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\nd\u{1}é/");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é/\"");
    }
}
