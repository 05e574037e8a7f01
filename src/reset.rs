//! `logtap reset`: forget this configuration's stored position, so the
//! next run starts over.

use crate::config::Config;
use crate::store::open_offsets;
use anyhow::{bail, Result};
use std::io::IsTerminal;

pub async fn reset(cfg: &Config, yes: bool) -> Result<()> {
    let offsets = open_offsets(cfg, false, true).await?;
    let Some(current) = offsets.load(&cfg.topic_prefix)? else {
        say!("nothing stored for `{}`", cfg.topic_prefix);
        return Ok(());
    };
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to reset without --yes when standard input is not a terminal");
        }
        eprint!(
            "forget position {} of `{}`? the next run starts over. type yes: ",
            current.position, cfg.topic_prefix
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            bail!("not reset");
        }
    }
    offsets.remove(&cfg.topic_prefix)?;
    say!("forgot the position of `{}` ({})", cfg.topic_prefix, current.position);
    say!("{}", after_reset(cfg));
    Ok(())
}

/// What a reset keeps and what the next run does without a position, as
/// the source and snapshot mode decide it: an operator resets to start
/// over, and must know whether tables are read again or changes skipped.
fn after_reset(cfg: &Config) -> String {
    use crate::config::SourceConfig;
    use logtap_core::SnapshotMode;
    let kept = "kept: the Kafka topics and their records";
    let (mode, server, start) = match &cfg.source {
        SourceConfig::Postgres(pg) => (
            cfg.snapshot.mode.unwrap_or(SnapshotMode::Initial),
            format!(
                "{kept}, replication slot `{}` and publication `{}` (drop them by hand to start \
                 from the WAL's end)",
                pg.slot_name, pg.publication_name
            ),
            format!("streams from slot `{}`'s confirmed position", pg.slot_name),
        ),
        SourceConfig::Mysql(_) => (
            cfg.snapshot.mode.unwrap_or(SnapshotMode::NoData),
            format!("{kept} (the binlog is the server's)"),
            "streams from mysql.initial_gtid / initial_binlog if set, else from the binlog's current end: changes \
             committed since the forgotten position are not read"
                .to_string(),
        ),
        SourceConfig::Demo(_) => return format!("{kept}; the next run starts the demo over"),
    };
    let next = match mode {
        SnapshotMode::NoData => format!("the next run reads no table and {start}"),
        SnapshotMode::InitialOnly => {
            "the next run reads every captured table again (a `r` record per row), then stops"
                .to_string()
        }
        _ => format!(
            "the next run reads every captured table again (snapshot mode `{mode}`: a `r` record \
             per row), then {start}"
        ),
    };
    format!("{server}; {next}")
}
