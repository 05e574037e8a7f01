//! `logtap reset`: forget this configuration's stored position, so the
//! next run starts over; `logtap offsets export/import`: copy positions
//! between stores (sled to Kafka, and back).

use crate::config::Config;
use crate::open_offsets;
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
    Ok(())
}

/// One line of `logtap offsets export`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    source: String,
    offset: logtap_core::StoredOffset,
}

pub async fn export(cfg: &Config) -> Result<()> {
    let offsets = open_offsets(cfg, false, false).await?;
    for (source, offset) in offsets.list()? {
        println!("{}", serde_json::to_string(&Line { source, offset })?);
    }
    Ok(())
}

pub async fn import(cfg: &Config) -> Result<()> {
    let offsets = open_offsets(cfg, false, true).await?;
    let mut n = 0;
    for (i, line) in std::io::stdin().lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("line {}: not an exported position: {e}", i + 1))?;
        offsets.store(&l.source, &l.offset)?;
        say!("stored `{}`: {}", l.source, l.offset.position);
        n += 1;
    }
    say!("{n} position(s) imported into {}", cfg.offsets.describe());
    Ok(())
}
