//! The fuzz targets' committed corpora (`fuzz/corpus/<target>`), replayed
//! through the same checks the fuzz binaries run (`fuzz/src/lib.rs`).
#![allow(clippy::unwrap_used)]

#[path = "../fuzz/src/lib.rs"]
mod checks;
#[path = "../../../fuzz/replay.rs"]
mod replay;

#[test]
fn binlog_rows() {
    replay::corpus("binlog_rows", checks::binlog_rows);
}

#[test]
fn binary_json() {
    replay::corpus("binary_json", checks::binary_json);
}

#[test]
fn ddl_text() {
    replay::corpus("ddl_text", checks::ddl_text);
}
