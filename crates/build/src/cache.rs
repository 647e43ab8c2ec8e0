//! The build cache: which image a step produced, by cache key.
//!
//! A key is the SHA-256 of everything a step's result depends on:
//! - the parent image ID (which fixes the whole filesystem and config the step starts from, and, through the
//!   image's build metadata, the SHELL and ONBUILD state);
//! - the instruction as evaluated: variables expanded, and for RUN the build arguments in its environment
//!   (`|1 VERSION=2 /bin/sh -c make`), exactly as it is recorded in the image history;
//! - for COPY and ADD, a checksum of every source: the relative path, type, mode, uid, gid, size, symlink target and
//!   content hash of each file, in sorted order, or the source image ID for `--from`.
//!
//! The index (`<root>/build/cache.json`) maps keys to image IDs, with when each was last used, and is written
//! atomically; an entry whose image was deleted is a miss.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::BuildError;
use berth_fs::atomic;

/// Bumped when the key format changes, so old entries stop matching.
const KEY_VERSION: &str = "berth-build-cache-v1";

/// Serialises read-modify-write of the index between concurrent builds of this daemon.
static INDEX_LOCK: Mutex<()> = Mutex::new(());

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    entries: BTreeMap<String, String>,
    /// When a build last made or hit each entry (Unix seconds): `docker builder prune --filter until=`. Absent in
    /// indexes written before it was kept; those entries count as used when their image was made.
    #[serde(default)]
    used: BTreeMap<String, i64>,
}

/// One entry of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub key: String,
    pub image_id: String,
    /// Unix seconds; None when not recorded.
    pub last_used: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct BuildCache {
    path: PathBuf,
}

impl BuildCache {
    pub fn new(build_dir: &Path) -> BuildCache {
        BuildCache { path: build_dir.join("cache.json") }
    }

    fn read(&self) -> Index {
        match atomic::read_json::<Index>(&self.path) {
            Ok(index) => index,
            Err(atomic::StoreError::Read { .. }) => Index::default(),
            Err(error) => {
                tracing::warn!(%error, "build cache index unreadable; starting afresh");
                Index::default()
            }
        }
    }

    /// The image a step with this key produced before, if recorded.
    pub fn lookup(&self, key: &str) -> Option<String> {
        let _guard = INDEX_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        self.read().entries.get(key).cloned()
    }

    pub fn insert(&self, key: &str, image_id: &str) -> Result<(), BuildError> {
        let _guard = INDEX_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut index = self.read();
        index.entries.insert(key.to_string(), image_id.to_string());
        index.used.insert(key.to_string(), chrono::Utc::now().timestamp());
        atomic::write_json(&self.path, &index)?;
        Ok(())
    }

    /// Records that a build used the entry `key` now.
    pub fn touch(&self, key: &str) -> Result<(), BuildError> {
        let _guard = INDEX_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut index = self.read();
        if !index.entries.contains_key(key) {
            return Ok(());
        }
        index.used.insert(key.to_string(), chrono::Utc::now().timestamp());
        atomic::write_json(&self.path, &index)?;
        Ok(())
    }

    /// Every entry, by key.
    pub fn entries(&self) -> Vec<CacheEntry> {
        let _guard = INDEX_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let index = self.read();
        index
            .entries
            .into_iter()
            .map(|(key, image_id)| {
                let last_used = index.used.get(&key).copied();
                CacheEntry { key, image_id, last_used }
            })
            .collect()
    }

    /// Drops the entries `keys` names (those not there are ignored).
    pub fn remove(&self, keys: &[String]) -> Result<(), BuildError> {
        let _guard = INDEX_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut index = self.read();
        let before = index.entries.len();
        for key in keys {
            index.entries.remove(key);
            index.used.remove(key);
        }
        if index.entries.len() != before {
            atomic::write_json(&self.path, &index)?;
        }
        Ok(())
    }
}

/// The cache key of a step.
pub fn cache_key(parent: Option<&str>, instruction: &str, sources: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    for part in [KEY_VERSION, parent.unwrap_or("scratch"), instruction, sources.unwrap_or("")] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Adds `path` (a file, directory or symlink; not followed) to `hasher` under the name `name`, recursively.
pub fn hash_tree(hasher: &mut Sha256, path: &Path, name: &str) -> Result<(), BuildError> {
    let meta = fs::symlink_metadata(path).map_err(|e| BuildError::io(format!("stat {}", path.display()), e))?;
    let kind = if meta.is_dir() {
        "d"
    } else if meta.file_type().is_symlink() {
        "l"
    } else if meta.is_file() {
        "f"
    } else {
        "o"
    };
    let header =
        format!("{name}\0{kind}\0{:o}\0{}\0{}\0{}\0", meta.mode() & 0o7777, meta.uid(), meta.gid(), meta.len());
    hasher.update((header.len() as u64).to_le_bytes());
    hasher.update(header.as_bytes());
    if meta.file_type().is_symlink() {
        let target = fs::read_link(path).map_err(|e| BuildError::io(format!("readlink {}", path.display()), e))?;
        hasher.update(target.as_os_str().as_encoded_bytes());
    } else if meta.is_file() {
        let mut file = fs::File::open(path).map_err(|e| BuildError::io(format!("open {}", path.display()), e))?;
        let mut content = Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buffer).map_err(|e| BuildError::io(format!("read {}", path.display()), e))?;
            if n == 0 {
                break;
            }
            content.update(&buffer[..n]);
        }
        hasher.update(content.finalize());
    } else if meta.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)
            .map_err(|e| BuildError::io(format!("read {}", path.display()), e))?
            .filter_map(|entry| entry.ok().map(|entry| entry.file_name()))
            .collect();
        names.sort();
        for child in names {
            let child_name = format!("{name}/{}", child.to_string_lossy());
            hash_tree(hasher, &path.join(&child), &child_name)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_each_input() {
        let a = cache_key(Some("sha256:1"), "RUN x", None);
        assert_eq!(a, cache_key(Some("sha256:1"), "RUN x", None));
        assert_ne!(a, cache_key(Some("sha256:2"), "RUN x", None));
        assert_ne!(a, cache_key(Some("sha256:1"), "RUN y", None));
        assert_ne!(a, cache_key(Some("sha256:1"), "RUN x", Some("abc")));
    }

    #[test]
    fn tree_hash_sees_content_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), "one").unwrap();
        let hash = || {
            let mut h = Sha256::new();
            hash_tree(&mut h, dir.path(), ".").unwrap();
            hex::encode(h.finalize())
        };
        let first = hash();
        fs::write(dir.path().join("f"), "two").unwrap();
        let second = hash();
        assert_ne!(first, second);
        fs::set_permissions(dir.path().join("f"), fs::Permissions::from_mode(0o600)).unwrap();
        assert_ne!(second, hash());
    }

    #[test]
    fn index_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BuildCache::new(dir.path());
        assert_eq!(cache.lookup("k"), None);
        cache.insert("k", "sha256:abc").unwrap();
        assert_eq!(BuildCache::new(dir.path()).lookup("k").as_deref(), Some("sha256:abc"));
        let entries = cache.entries();
        assert_eq!(entries.len(), 1);
        assert!(entries[0].last_used.is_some_and(|t| t > 1_700_000_000));
        cache.remove(&["k".to_string(), "other".to_string()]).unwrap();
        assert_eq!(cache.lookup("k"), None);
        assert!(cache.entries().is_empty());
    }

    #[test]
    fn indexes_without_use_times_still_read() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cache.json"), r#"{"entries":{"k":"sha256:abc"}}"#).unwrap();
        let entries = BuildCache::new(dir.path()).entries();
        assert_eq!(entries, vec![CacheEntry { key: "k".into(), image_id: "sha256:abc".into(), last_used: None }]);
    }
}
