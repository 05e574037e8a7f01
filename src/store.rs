//! Opening the offset store a configuration names (a file store or a Kafka
//! topic), for `run`, `status`, `reset` and `offsets`.

use crate::config::Config;
use anyhow::{Context, Result};
use logtap_offsets::SledOffsetStore;

/// Opens the configured offset store. `write`: this process will store
/// positions (`run`, `reset`); with Kafka that fences any other writer of
/// this source, so `status` opens it read-only.
pub async fn open_offsets(
    cfg: &Config,
    wait_for_lock: bool,
    write: bool,
) -> Result<std::sync::Arc<dyn logtap_core::OffsetStore>> {
    use crate::config::OffsetsKind;
    if cfg.offsets.kind == OffsetsKind::Kafka {
        let kafka =
            cfg.kafka.as_ref().context("offsets.kind = \"kafka\" needs a [kafka] section")?;
        let store = logtap_kafka::KafkaOffsetStore::open(
            kafka,
            &cfg.offsets.topic,
            &cfg.topic_prefix,
            write,
        )
        .await?;
        return Ok(std::sync::Arc::new(store));
    }
    let path = cfg.offsets.path.as_ref().context("offsets.path is not set")?;
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("offsets.path: cannot create directory {}", parent.display())
            })?;
        }
    }
    // A `logtap status` (or `reset`) holds sled's lock for a moment; wait
    // that out rather than fail. A lock held for seconds is another `run`.
    let mut tries = 0;
    loop {
        match SledOffsetStore::open(path) {
            Ok(store) => return Ok(std::sync::Arc::new(store)),
            Err(e) if wait_for_lock && e.locked && tries < 50 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
