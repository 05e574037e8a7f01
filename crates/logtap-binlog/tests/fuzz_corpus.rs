//! The fuzz targets' committed corpora (`fuzz/corpus/<target>`), replayed
//! through the same checks the fuzz binaries run (`fuzz/src/lib.rs`).
#![allow(clippy::unwrap_used)]

#[path = "../fuzz/src/lib.rs"]
mod checks;
#[path = "../../../fuzz/replay.rs"]
mod replay;

#[test]
fn mariadb_event() {
    replay::corpus("mariadb_event", checks::mariadb_event);
}

#[test]
fn gtid_text() {
    replay::corpus("gtid_text", checks::gtid_text);
}
