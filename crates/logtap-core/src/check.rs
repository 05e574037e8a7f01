//! The outcome of `logtap check`, shared by every source: a list of
//! findings, each saying what was checked, what was found and, when
//! something is wrong, the exact setting or SQL that fixes it.

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One finding: what was checked, what was found, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub what: String,
    pub fix: Option<String>,
}

/// A check that passed.
pub fn ok(what: impl Into<String>) -> Finding {
    Finding { level: Level::Ok, what: what.into(), fix: None }
}

/// Something that works but is risky or will stop working later.
pub fn warn(what: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding { level: Level::Warn, what: what.into(), fix: Some(fix.into()) }
}

/// Something that keeps logtap from running correctly.
pub fn fail(what: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding { level: Level::Fail, what: what.into(), fix: Some(fix.into()) }
}
