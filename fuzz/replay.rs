//! Replays a fuzz target's committed corpus through its check, as an
//! ordinary test (included with `#[path]` by each decoder crate's
//! `tests/fuzz_corpus.rs`): every input libFuzzer kept, including the
//! crashes fixed since (named `crash-*`), runs on every CI build.

use std::path::Path;

/// Runs `check` on every file of `fuzz/corpus/<target>` under the crate
/// being tested, and fails naming the first input that panics. A missing or
/// empty corpus fails too: a replay that runs nothing must not pass.
pub fn corpus(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut inputs: Vec<_> = entries.map(|e| e.expect("a corpus entry").path()).collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{}: no inputs", dir.display());
    for path in &inputs {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("{target}: the input {} fails its check", path.display());
        }
    }
    println!("{target}: {} inputs replayed", inputs.len());
}
