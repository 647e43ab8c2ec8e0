//! Crash-safe metadata on disk: every write goes to a temp file in the same directory, then is renamed over the old
//! file, so a daemon killed at any moment leaves either the old or the new version, never a torn one.
//!
//! Two strengths: `write_json` also fsyncs the file and its directory (records that must survive a power loss once
//! the client was told "created"); `replace_json` does not, for the state changes of a running engine. The rename
//! alone is atomic against a daemon crash (the page cache outlives the process), and those states are reconciled at
//! the next start anyway (recovery marks running containers exited). The fsyncs cost 2-12 ms each and a
//! `docker run --rm` makes five state changes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("corrupt metadata in {path}: {source}")]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("cannot encode metadata for {path}: {source}")]
    Encode { path: PathBuf, source: serde_json::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Survives a daemon crash (rename is atomic).
    CrashSafe,
    /// Also survives a power loss (file and directory fsynced).
    Synced,
}

/// Replaces `path` with `bytes` atomically.
fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), StoreError> {
    let write_err = |source| StoreError::Write { path: path.to_path_buf(), source };
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{file_name}.tmp{}", std::process::id()));
    let mut file = fs::File::create(&tmp).map_err(write_err)?;
    file.write_all(bytes).map_err(write_err)?;
    if durability == Durability::CrashSafe {
        return fs::rename(&tmp, path).map_err(write_err);
    }
    file.sync_all().map_err(write_err)?;
    fs::rename(&tmp, path).map_err(write_err)?;
    // The rename is durable only once the directory entry is on disk.
    if let Ok(dir_handle) = fs::File::open(dir) {
        let _ = dir_handle.sync_all();
    }
    Ok(())
}

/// Writes `value` as JSON atomically and durably.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    write_atomic(path, &encode(path, value)?, Durability::Synced)
}

/// Writes `value` as JSON atomically, without waiting for the disk: for frequent state changes.
pub fn replace_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    write_atomic(path, &encode(path, value)?, Durability::CrashSafe)
}

fn encode<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec_pretty(value).map_err(|source| StoreError::Encode { path: path.to_path_buf(), source })
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, StoreError> {
    let bytes = fs::read(path).map_err(|source| StoreError::Read { path: path.to_path_buf(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_replaces_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_json(&path, &vec![1, 2, 3]).unwrap();
        replace_json(&path, &vec![4]).unwrap();
        let back: Vec<i32> = read_json(&path).unwrap();
        assert_eq!(back, vec![4]);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
    }

    #[test]
    fn corrupt_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        fs::write(&path, b"{not json").unwrap();
        let err = read_json::<Vec<i32>>(&path).unwrap_err();
        assert!(err.to_string().contains("bad.json"), "{err}");
    }
}
