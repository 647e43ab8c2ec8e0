//! Routes on disk: `<root>/routes/<name>.json` per route (a session's under `tenants/<session>/`, so no name of
//! the operator's can stand for one of a session's), replaced atomically (berth-fs), holding what the route was
//! asked as and its state now (live backend or weights, what a rollback returns to, a ramp's progress), so a
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

/// Sessions' routes, a folder per session.
const TENANTS: &str = "tenants";

/// The file of a route: the operator's by its name, a session's in the session's folder (names are per owner).
pub(crate) fn path_of(dir: &Path, owner: Option<&str>, name: &str) -> PathBuf {
    match owner {
        None => dir.join(format!("{name}.json")),
        Some(owner) => dir.join(TENANTS).join(owner).join(format!("{name}.json")),
    }
}

pub(crate) fn save(dir: &Path, record: &RouteRecord) -> Result<(), berth_fs::atomic::StoreError> {
    let path = path_of(dir, record.owner.as_deref(), &record.create.name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|source| berth_fs::atomic::StoreError::Write { path: parent.to_path_buf(), source })?;
    }
    berth_fs::atomic::write_json(&path, record)
}

pub(crate) fn remove(dir: &Path, owner: Option<&str>, name: &str) -> std::io::Result<()> {
    match std::fs::remove_file(path_of(dir, owner, name)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Every record, the operator's and the sessions'; one that cannot be read is logged and left out (and left on
/// disk).
pub(crate) fn load_all(dir: &Path) -> Vec<RouteRecord> {
    let mut records = load_folder(dir);
    if let Ok(tenants) = std::fs::read_dir(dir.join(TENANTS)) {
        for tenant in tenants.flatten() {
            records.extend(load_folder(&tenant.path()));
        }
    }
    records
}

fn load_folder(dir: &Path) -> Vec<RouteRecord> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use berth_shared::api::routes::RouteProtocol;

    fn record(name: &str, owner: Option<&str>) -> RouteRecord {
        RouteRecord {
            create: RouteCreate {
                name: name.into(),
                host_port: 8080,
                host_ip: None,
                protocol: RouteProtocol::Http,
                backends: vec![],
                mode: RouteMode::BlueGreen { live: "a".into(), drain_ms: 0 },
            },
            owner: owner.map(str::to_string),
            containers: vec![],
            previous: None,
            ramp: None,
        }
    }

    #[test]
    fn the_operators_and_a_sessions_routes_of_one_name_are_kept_apart_and_all_come_back() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &record("web", None)).unwrap();
        save(dir.path(), &record("web", Some("0123456789ab"))).unwrap();
        save(dir.path(), &record("tenants", None)).unwrap();
        let mut loaded: Vec<(Option<String>, String)> =
            load_all(dir.path()).into_iter().map(|r| (r.owner, r.create.name)).collect();
        loaded.sort();
        let expected = vec![
            (None, "tenants".to_string()),
            (None, "web".to_string()),
            (Some("0123456789ab".to_string()), "web".to_string()),
        ];
        assert_eq!(loaded, expected);
        remove(dir.path(), Some("0123456789ab"), "web").unwrap();
        assert_eq!(load_all(dir.path()).len(), 2);
    }
}
