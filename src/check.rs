//! `logtap check`: the configuration, the source's prerequisites (asked of
//! the source crate) and Kafka's reachability, each with its fix.

use crate::config::{Config, SinkKind, SourceConfig};
use anyhow::{bail, Result};
use std::path::Path;

pub async fn check(path: &Path) -> Result<()> {
    let cfg = Config::load(path)?;
    say!("config {}: ok", path.display());
    say!("  topic_prefix: {}", cfg.topic_prefix);
    say!("  offsets: {}", cfg.offsets.describe());
    let mut failed = false;
    let findings = match &cfg.source {
        SourceConfig::Postgres(pg) => {
            say!("source: PostgreSQL {}:{} database {}", pg.host, pg.port, pg.database);
            let mode = cfg.snapshot.mode.unwrap_or(logtap_core::SnapshotMode::Initial);
            say!("  snapshot mode: {mode}");
            Some(logtap_postgres::check::run(pg, mode != logtap_core::SnapshotMode::NoData).await?)
        }
        SourceConfig::Mysql(my) => {
            say!(
                "source: MySQL/MariaDB {}:{} as {} (server_id {})",
                my.host,
                my.port,
                my.user,
                my.effective_server_id(&cfg.topic_prefix)
            );
            let mut found = logtap_mysql::check::run(my, &cfg.topic_prefix).await?;
            found.extend(logtap_mysql::check::snapshot(my, &cfg.snapshot).await?);
            Some(found)
        }
        SourceConfig::Demo(_) => None,
    };
    if let Some(findings) = findings {
        use logtap_core::check::Level;
        for f in findings {
            let tag = match f.level {
                Level::Ok => "ok  ",
                Level::Warn => "WARN",
                Level::Fail => "FAIL",
            };
            failed |= f.level == Level::Fail;
            say!("  {tag} {}", f.what);
            if let Some(fix) = f.fix {
                say!("       fix: {fix}");
            }
        }
    } else {
        say!("source: demo (inventory.customers)");
    }
    match (&cfg.sink.kind, &cfg.kafka) {
        (SinkKind::Kafka, Some(k)) => {
            say!("  sink: kafka at {}", k.bootstrap_servers);
            let topics = logtap_kafka::TopicManager::new(k)?;
            // A broker that answers at all answers metadata within a second or
            // two; `check` should say "down" about as fast.
            match topics.cluster_summary(std::time::Duration::from_secs(5)).await {
                Ok((brokers, n)) => say!(
                    "kafka: reachable; {brokers} broker(s), {n} topic(s); missing topics {}",
                    if k.topics.create {
                        "are created on first use"
                    } else {
                        "must be created beforehand (kafka.topics.create = false)"
                    }
                ),
                Err(e) => bail!("kafka: {e}"),
            }
        }
        _ => say!("  sink: stdout"),
    }
    if failed {
        bail!("the source is not ready: apply the fixes above");
    }
    Ok(())
}
