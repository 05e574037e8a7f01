//! `logtap offsets export/import`: copy positions between stores (sled to
//! Kafka, and back), and take over a Debezium connector's stored position
//! (`import --from-debezium`), so logtap goes on after the last change
//! Debezium committed, with no gap and no snapshot. `offsets show/set`:
//! print the stored position, or reposition by hand after the server said
//! it can send the changes from there.

use crate::config::{Config, SourceConfig};
use crate::store::open_offsets;
use anyhow::{bail, Context, Result};
use logtap_core::SourcePosition;
use logtap_mysql::reposition::Given;
use logtap_offsets::debezium::{self, DebeziumConnector};
use std::path::PathBuf;
use std::time::Duration;

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

/// Prints this config's stored position, as text and as the JSON line
/// `export` prints.
pub async fn show(cfg: &Config) -> Result<()> {
    let offsets = open_offsets(cfg, false, false).await?;
    match offsets.load(&cfg.topic_prefix)? {
        Some(offset) => {
            say!("`{}` is stored at {}", cfg.topic_prefix, offset.position);
            let line = Line { source: cfg.topic_prefix.clone(), offset };
            println!("{}", serde_json::to_string(&line)?);
        }
        None => say!(
            "no position stored for `{}` in {}: `run` starts as [snapshot] mode says",
            cfg.topic_prefix,
            cfg.offsets.describe()
        ),
    }
    Ok(())
}

/// The position `offsets set` was given.
pub struct GivenPosition {
    pub lsn: Option<String>,
    pub gtid_set: Option<String>,
    pub file: Option<(String, u64)>,
}

/// Checks `at` against the server, then stores it in place of the stored
/// position (which is printed, to go back to).
pub async fn set(cfg: &Config, at: GivenPosition) -> Result<()> {
    let position = checked_position(cfg, at).await?;
    let offsets = open_offsets(cfg, false, true).await?;
    let previous = offsets.load(&cfg.topic_prefix)?;
    if let Some(p) = &previous {
        say!("`{}` was stored at {}", cfg.topic_prefix, p.position);
        if p.snapshot.is_some() {
            say!("the snapshot in progress there is abandoned (start one again with `logtap snapshot`)");
        }
    }
    let offset = logtap_core::StoredOffset {
        position: position.clone(),
        source_id: previous.and_then(|p| p.source_id),
        snapshot: None,
        transaction: None,
        updated_at_ms: logtap_runtime::now_us() / 1000,
    };
    offsets.store(&cfg.topic_prefix, &offset)?;
    say!("stored {position} for `{}`: `logtap run` starts there", cfg.topic_prefix);
    Ok(())
}

/// The position `at` names for this config's source, once its server said
/// it can send the changes from there.
async fn checked_position(cfg: &Config, at: GivenPosition) -> Result<SourcePosition> {
    let mysql = |file: String, pos: u64, gtid_set: Option<String>| SourcePosition::Mysql {
        file,
        pos,
        gtid_set,
        skip_events: 0,
        skip_rows: 0,
        debezium_events: false,
    };
    Ok(match (&cfg.source, at) {
        (SourceConfig::Postgres(pg), GivenPosition { lsn: Some(text), .. }) => {
            let lsn: logtap_core::Lsn = text
                .parse()
                .map_err(|_| anyhow::anyhow!("--lsn `{text}` is not an LSN (e.g. 0/1A2B3C4)"))?;
            logtap_postgres::takeover::check_reposition(pg, lsn).await?;
            SourcePosition::Postgres { lsn, tx: None }
        }
        (SourceConfig::Mysql(my), GivenPosition { gtid_set: Some(g), file: None, .. }) => {
            logtap_mysql::reposition::check_position(my, Given::Gtids(&g)).await?;
            mysql(String::new(), 4, Some(g))
        }
        (
            SourceConfig::Mysql(my),
            GivenPosition { file: Some((file, pos)), gtid_set: None, .. },
        ) => {
            logtap_mysql::reposition::check_position(my, Given::File(&file, pos)).await?;
            mysql(file, pos, None)
        }
        (SourceConfig::Postgres(_), _) => bail!("a PostgreSQL position is an LSN: give --lsn"),
        (SourceConfig::Mysql(_), _) => {
            bail!("a MySQL/MariaDB position is --gtid-set, or --file with --pos")
        }
        (SourceConfig::Demo(_), _) => bail!("the demo source has no server position to set"),
    })
}

/// Where a Debezium deployment keeps its offsets.
pub enum DebeziumStore {
    /// Kafka Connect's offsets topic (`offset.storage.topic`), on the
    /// config's Kafka.
    Topic(String),
    /// `offset.storage.file.filename` (Debezium Server, embedded engine).
    File(PathBuf),
}

impl std::fmt::Display for DebeziumStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DebeziumStore::Topic(t) => write!(f, "Kafka topic `{t}`"),
            DebeziumStore::File(p) => write!(f, "file {}", p.display()),
        }
    }
}

/// Reads the Debezium offset stored for this config's `topic_prefix` (and
/// `connector`, when given), converts it and stores it as logtap's
/// position. Refuses what would not resume exactly after Debezium's last
/// committed change (a snapshot in progress, another source kind).
pub async fn import_from_debezium(
    cfg: &Config,
    from: &DebeziumStore,
    connector: Option<&str>,
) -> Result<()> {
    let kind = match &cfg.source {
        SourceConfig::Postgres(_) => DebeziumConnector::Postgres,
        SourceConfig::Mysql(_) => DebeziumConnector::Mysql,
        SourceConfig::Demo(_) => bail!("the demo source has no Debezium counterpart"),
    };
    let entries = read_store(cfg, from).await?;
    let stored = debezium::latest(entries);
    let found = debezium::pick(&stored, &cfg.topic_prefix, connector)
        .map_err(|e| anyhow::anyhow!("{from}: {e}"))?;
    let imported = debezium::to_position(kind, &found.offset)
        .map_err(|e| anyhow::anyhow!("{from}, connector `{}`: {e}", found.connector))?;
    if let (SourceConfig::Postgres(pg), SourcePosition::Postgres { lsn, .. }) =
        (&cfg.source, &imported)
    {
        logtap_postgres::takeover::check_slot_for(pg, *lsn).await?;
    }
    let offsets = open_offsets(cfg, false, true).await?;
    if let Some(current) = offsets.load(&cfg.topic_prefix)? {
        bail!(
            "logtap already has a position for `{}` ({}): run `logtap reset` first if Debezium's should replace it",
            cfg.topic_prefix,
            current.position
        );
    }
    let offset = logtap_core::StoredOffset {
        position: imported.clone(),
        source_id: None,
        snapshot: None,
        transaction: None,
        updated_at_ms: logtap_runtime::now_us() / 1000,
    };
    offsets.store(&cfg.topic_prefix, &offset)?;
    say!(
        "stored Debezium's position of connector `{}` ({from}) for `{}`: {imported}",
        found.connector,
        cfg.topic_prefix
    );
    if let SourceConfig::Postgres(pg) = &cfg.source {
        say!("logtap will read replication slot `{}`, Debezium's", pg.slot_name);
    }
    Ok(())
}

/// Prints this config's position as Debezium connector `connector`'s
/// offset (Kafka Connect's offsets-topic key and value) and, with `file`,
/// writes it as Debezium Server's / the embedded engine's offset file.
/// Stop logtap first: Debezium goes on after the stored position.
pub async fn export_to_debezium(
    cfg: &Config,
    connector: &str,
    file: Option<&std::path::Path>,
) -> Result<()> {
    let offsets = open_offsets(cfg, false, false).await?;
    let Some(stored) = offsets.load(&cfg.topic_prefix)? else {
        bail!(
            "nothing stored for `{}`: there is no position to hand to Debezium",
            cfg.topic_prefix
        );
    };
    let (offset, caveat) = debezium::from_position(&stored.position);
    if offset.is_empty() {
        bail!("the {} position has no Debezium counterpart", stored.position);
    }
    let key = debezium::partition_key(connector, &cfg.topic_prefix);
    let value = serde_json::to_vec(&offset)?;
    println!("{}", serde_json::json!({"key": String::from_utf8_lossy(&key), "value": offset}));
    if let Some(c) = caveat {
        say!("note: {c}");
    }
    if let Some(path) = file {
        let bytes = logtap_offsets::java_map::write(&[(key, Some(value))]);
        std::fs::write(path, bytes)
            .with_context(|| format!("writing Debezium's offset file {}", path.display()))?;
        say!("wrote {} for connector `{connector}`: {}", path.display(), stored.position);
    }
    Ok(())
}

/// Every record of Debezium's offset store, as (key, value).
async fn read_store(cfg: &Config, from: &DebeziumStore) -> Result<Vec<debezium::Record>> {
    Ok(match from {
        DebeziumStore::File(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading Debezium's offset file {}", path.display()))?;
            logtap_offsets::java_map::read(&bytes)
                .with_context(|| format!("{}", path.display()))?
                .into_iter()
                .map(|(k, v)| (Some(k), v))
                .collect()
        }
        DebeziumStore::Topic(topic) => {
            let kafka = cfg.kafka.clone().context(
                "--from-debezium reads Kafka Connect's offsets topic on [kafka] brokers: add a [kafka] section, or give --file",
            )?;
            let name = topic.clone();
            tokio::task::spawn_blocking(move || {
                logtap_kafka::read_topic::read_topic(&kafka, &name, Duration::from_secs(30))
            })
            .await?
            .map_err(|e| anyhow::anyhow!("reading Kafka Connect's offsets topic `{topic}`: {e}"))?
        }
    })
}
