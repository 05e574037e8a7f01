//! logtap's offset store: the committed position (and snapshot progress) of
//! each source, kept in sled and flushed to disk before it is reported back
//! to a source. A memory store with the same contract serves tests.
//!
//! Owns: durability of positions. Does not own: deciding which position is
//! safe (that is the ack tracker's job in `logtap-core`).
//!
//! Position and snapshot progress are one JSON document under one key, so
//! they are always written together: a reader never sees a new position with
//! old snapshot progress or the reverse.
//!
//! `debezium` and `java_map` read Debezium's stored positions (Kafka
//! Connect's offsets topic records, its file store) into logtap's, so a
//! deployment can move from Debezium without a gap.

pub mod debezium;
pub mod java_map;

use logtap_core::{OffsetError, OffsetStore, StoredOffset};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const KEY_PREFIX: &str = "offset/";

/// Offsets in a sled database directory.
#[derive(Debug)]
pub struct SledOffsetStore {
    db: sled::Db,
    path: PathBuf,
    /// logtap's own lock on `<path>/logtap.lock`, held while the store is
    /// open. sled locks its database too, but reports a held lock only as
    /// an IO error of kind `Other` with a text; an OS file lock taken first
    /// tells "another process has it" as a typed `WouldBlock`.
    _lock: std::fs::File,
}

impl SledOffsetStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OffsetError> {
        let path = path.as_ref().to_path_buf();
        let fail = |what: &'static str, locked: bool, detail: String| OffsetError {
            store: path.display().to_string(),
            what,
            source_name: String::new(),
            locked,
            transient: false,
            detail,
        };
        std::fs::create_dir_all(&path)
            .map_err(|e| fail("cannot create the directory", false, e.to_string()))?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.join("logtap.lock"))
            .map_err(|e| fail("cannot open the lock file", false, e.to_string()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(fail(
                    "cannot open",
                    true,
                    "another logtap process is using this offsets directory".into(),
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(fail("cannot lock", false, e.to_string()))
            }
        }
        let db = sled::Config::new()
            .path(&path)
            .open()
            .map_err(|e| fail("cannot open", false, e.to_string()))?;
        Ok(SledOffsetStore { db, path, _lock: lock })
    }

    fn err(&self, what: &'static str, source: &str, detail: impl ToString) -> OffsetError {
        OffsetError {
            store: self.path.display().to_string(),
            what,
            source_name: source.to_string(),
            detail: detail.to_string(),
            locked: false,
            transient: false,
        }
    }

    /// Rewrites the read-only mirror (see [`read_mirror`]). Best effort: the
    /// sled database is the truth, the mirror only informs `logtap status`.
    fn write_mirror(&self) {
        let Ok(all) = self.list() else { return };
        let map: serde_json::Map<String, serde_json::Value> = all
            .into_iter()
            .filter_map(|(k, v)| serde_json::to_value(v).ok().map(|v| (k, v)))
            .collect();
        let path = mirror_path(&self.path);
        let tmp = path.with_extension("json.tmp");
        let ok = serde_json::to_vec_pretty(&map)
            .ok()
            .and_then(|bytes| std::fs::write(&tmp, bytes).ok())
            .and_then(|()| std::fs::rename(&tmp, &path).ok());
        if ok.is_none() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    fn decode(&self, source: &str, bytes: &[u8]) -> Result<StoredOffset, OffsetError> {
        serde_json::from_slice(bytes)
            .map_err(|e| self.err("cannot decode the stored offset", source, e))
    }
}

impl OffsetStore for SledOffsetStore {
    fn load(&self, source: &str) -> Result<Option<StoredOffset>, OffsetError> {
        let key = format!("{KEY_PREFIX}{source}");
        match self.db.get(key.as_bytes()).map_err(|e| self.err("cannot read", source, e))? {
            Some(bytes) => Ok(Some(self.decode(source, &bytes)?)),
            None => Ok(None),
        }
    }

    fn store(&self, source: &str, offset: &StoredOffset) -> Result<(), OffsetError> {
        let key = format!("{KEY_PREFIX}{source}");
        let bytes = serde_json::to_vec(offset).map_err(|e| self.err("cannot encode", source, e))?;
        self.db.insert(key.as_bytes(), bytes).map_err(|e| self.err("cannot write", source, e))?;
        // `flush` fsyncs sled's log: only after it returns may the position be
        // reported to the source (PostgreSQL would otherwise recycle WAL that a
        // crash before the flush would still need).
        self.db.flush().map_err(|e| self.err("cannot flush to disk", source, e))?;
        self.write_mirror();
        Ok(())
    }

    fn remove(&self, source: &str) -> Result<bool, OffsetError> {
        let key = format!("{KEY_PREFIX}{source}");
        let old =
            self.db.remove(key.as_bytes()).map_err(|e| self.err("cannot remove", source, e))?;
        self.db.flush().map_err(|e| self.err("cannot flush to disk", source, e))?;
        self.write_mirror();
        Ok(old.is_some())
    }

    fn list(&self) -> Result<Vec<(String, StoredOffset)>, OffsetError> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix(KEY_PREFIX.as_bytes()) {
            let (k, v) = item.map_err(|e| self.err("cannot scan", "*", e))?;
            let name = String::from_utf8_lossy(&k[KEY_PREFIX.len()..]).into_owned();
            let offset = self.decode(&name, &v)?;
            out.push((name, offset));
        }
        Ok(out)
    }
}

/// The mirror file of the store at `path`: `<path>/positions.json`.
pub fn mirror_path(path: &Path) -> PathBuf {
    path.join("positions.json")
}

/// Reads the JSON mirror a running logtap keeps beside its sled database.
/// sled allows one process at a time, so `logtap status` reads this while
/// `logtap run` holds the database. It lags the store by at most one write.
pub fn read_mirror(path: &Path) -> Result<Vec<(String, StoredOffset)>, OffsetError> {
    let file = mirror_path(path);
    let err = |what: &'static str, detail: String| OffsetError {
        store: file.display().to_string(),
        what,
        source_name: "*".into(),
        detail,
        locked: false,
        transient: false,
    };
    let bytes = std::fs::read(&file).map_err(|e| err("cannot read the mirror", e.to_string()))?;
    let map: std::collections::BTreeMap<String, StoredOffset> = serde_json::from_slice(&bytes)
        .map_err(|e| err("cannot decode the mirror", e.to_string()))?;
    Ok(map.into_iter().collect())
}

/// Offsets in memory, for tests and `--dry-run` style runs.
#[derive(Debug, Default)]
pub struct MemoryOffsetStore {
    map: Mutex<BTreeMap<String, StoredOffset>>,
}

impl MemoryOffsetStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, StoredOffset>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl OffsetStore for MemoryOffsetStore {
    fn load(&self, source: &str) -> Result<Option<StoredOffset>, OffsetError> {
        Ok(self.map().get(source).cloned())
    }
    fn store(&self, source: &str, offset: &StoredOffset) -> Result<(), OffsetError> {
        self.map().insert(source.to_string(), offset.clone());
        Ok(())
    }
    fn remove(&self, source: &str) -> Result<bool, OffsetError> {
        Ok(self.map().remove(source).is_some())
    }
    fn list(&self) -> Result<Vec<(String, StoredOffset)>, OffsetError> {
        Ok(self.map().iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use logtap_core::{Lsn, SnapshotProgress, SourcePosition};

    fn offset(lsn: u64) -> StoredOffset {
        StoredOffset {
            position: SourcePosition::Postgres { lsn: Lsn(lsn), tx: None },
            source_id: None,
            snapshot: Some(SnapshotProgress {
                pending_tables: vec!["public.orders".into()],
                last_key: Some(serde_json::json!({"id": lsn})),
                ..Default::default()
            }),
            transaction: None,
            updated_at_ms: 1,
        }
    }

    fn contract(store: &dyn OffsetStore) {
        assert_eq!(store.load("pg").unwrap(), None);
        store.store("pg", &offset(10)).unwrap();
        store.store("pg", &offset(20)).unwrap();
        store.store("my", &offset(5)).unwrap();
        assert_eq!(store.load("pg").unwrap(), Some(offset(20)));
        let names: Vec<_> = store.list().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["my".to_string(), "pg".to_string()]);
        assert!(store.remove("pg").unwrap());
        assert!(!store.remove("pg").unwrap());
        assert_eq!(store.load("pg").unwrap(), None);
    }

    #[test]
    fn memory_store_keeps_the_contract() {
        contract(&MemoryOffsetStore::new());
    }

    #[test]
    fn sled_store_keeps_the_contract_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledOffsetStore::open(dir.path()).unwrap();
            contract(&s);
            s.store("pg", &offset(30)).unwrap();
        }
        let s = SledOffsetStore::open(dir.path()).unwrap();
        assert_eq!(s.load("pg").unwrap(), Some(offset(30)));
        // While it is open (locked), the mirror tells the same.
        assert_eq!(read_mirror(dir.path()).unwrap(), s.list().unwrap());
    }

    #[test]
    fn a_corrupt_value_is_an_error_naming_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledOffsetStore::open(dir.path()).unwrap();
        s.db.insert(b"offset/pg", b"{not json".to_vec()).unwrap();
        let e = s.load("pg").unwrap_err().to_string();
        assert!(e.contains("`pg`") && e.contains("decode"), "{e}");
    }

    #[test]
    fn a_store_held_by_another_opener_is_reported_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _held = SledOffsetStore::open(dir.path()).unwrap();
        let Err(e) = SledOffsetStore::open(dir.path()) else { panic!("a second open must fail") };
        assert!(e.locked, "{e}");
        // Any other failure is not a lock.
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let Err(e) = SledOffsetStore::open(file.join("sub")) else { panic!("not a directory") };
        assert!(!e.locked, "{e}");
    }
}
