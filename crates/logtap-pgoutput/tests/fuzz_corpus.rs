//! The fuzz targets' committed corpora (`fuzz/corpus/<target>`), replayed
//! through the same checks the fuzz binaries run (`fuzz/src/lib.rs`).
#![allow(clippy::unwrap_used)]

#[path = "../fuzz/src/lib.rs"]
mod checks;
#[path = "../../../fuzz/replay.rs"]
mod replay;

#[test]
fn copydata() {
    replay::corpus("copydata", checks::copydata);
}

#[test]
fn pgoutput() {
    replay::corpus("pgoutput", checks::pgoutput);
}
