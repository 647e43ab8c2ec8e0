//! Routes on disk: `<root>/routes/<file>.json` per route, replaced atomically (berth-fs), holding what the route
//! was asked as and its state now (live backend or weights, what a rollback returns to, a ramp's progress), so a
//! restarted daemon binds the same ports and resumes where it was.

use std::path::{Path, PathBuf};

use berth_shared::api::routes::{RampView, RouteCreate, RouteMode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RouteRecord {
    /// As created, its mode kept current.
    pub create: RouteCreate,
    /// The session the route belongs to; None: the operator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The container id each backend resolved to at create, in `create.backends`' order (a compose service is
    /// looked up again each time: compose recreates its containers).
    pub containers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<RouteMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<RampView>,
}

/// The file of a route: the operator's by its name, a session's prefixed by the session (names are per owner).
pub(crate) fn path_of(dir: &Path, owner: Option<&str>, name: &str) -> PathBuf {
    match owner {
        None => dir.join(format!("{name}.json")),
        Some(owner) => dir.join(format!("session-{owner}-{name}.json")),
    }
}

pub(crate) fn save(dir: &Path, record: &RouteRecord) -> Result<(), berth_fs::atomic::StoreError> {
    std::fs::create_dir_all(dir)
        .map_err(|source| berth_fs::atomic::StoreError::Write { path: dir.to_path_buf(), source })?;
    berth_fs::atomic::write_json(&path_of(dir, record.owner.as_deref(), &record.create.name), record)
}

pub(crate) fn remove(dir: &Path, owner: Option<&str>, name: &str) -> std::io::Result<()> {
    match std::fs::remove_file(path_of(dir, owner, name)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Every record in the folder; one that cannot be read is logged and left out (and left on disk).
pub(crate) fn load_all(dir: &Path) -> Vec<RouteRecord> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut records = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match berth_fs::atomic::read_json::<RouteRecord>(&path) {
            Ok(record) => records.push(record),
            Err(error) => tracing::warn!(path = %path.display(), %error, "a route's record cannot be read; left out"),
        }
    }
    records
}
