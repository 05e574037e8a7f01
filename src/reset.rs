//! `logtap reset`: forget this configuration's stored position, so the
//! next run starts over.

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
