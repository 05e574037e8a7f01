//! Configuration errors in plain words: serde's messages without Rust's
//! type names, with "did you mean" for a near miss and logtap's name for a
//! Debezium option.

/// serde's wording in plain words, with the way to logtap's spelling of a
/// Debezium option or a near miss.
pub(super) fn friendly(message: &str) -> String {
    let mut out = message.to_string();
    for (rust, plain) in [
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a whole number from 0 to 4294967295"),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected usize", "expected a whole number of 0 or more"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
    ] {
        out = out.replace(rust, plain);
    }
    for (debezium, ours) in [("schema_only", "no_data"), ("never", "no_data")] {
        if out.contains(&format!("unknown variant `{debezium}`")) {
            out.push_str(&format!("\nhint: Debezium's `{debezium}` is logtap's `{ours}`"));
        }
    }
    if let Some(unknown) = out.split("unknown field `").nth(1).and_then(|r| r.split('`').next()) {
        let expected: Vec<&str> = out
            .split("expected one of ")
            .nth(1)
            .map(|r| {
                r.split(", ")
                    .map(|w| w.trim_matches(|c: char| c == '`' || c.is_whitespace()))
                    .collect()
            })
            .unwrap_or_default();
        let debezium = unknown.replace('.', "_");
        if let Some(near) =
            expected.iter().find(|w| **w == debezium || edit_distance(w, unknown) <= 2)
        {
            out.push_str(&format!("\nhint: did you mean `{near}`?"));
        } else if unknown.ends_with("password") {
            out.push_str(&format!(
                "\nhint: secrets are not written in the file: set `{unknown}_env` to the name of \
                 an environment variable that holds it, or `{unknown}_file` to a file"
            ));
        } else if unknown == "topic" {
            out.push_str("\nhint: Debezium's `topic.prefix` is logtap's `topic_prefix`");
        }
    }
    out
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
