//! What is persisted about a network: `<root>/networks/<id>.json`, one file per network, and each endpoint (a
//! container's attachment, with its address) as a file of its own, `<id>.endpoints/<container>.json`, so the
//! address allocations survive a daemon restart with the network and a connect, disconnect or rename writes one
//! small file instead of the whole network (at 1,000 containers on a bridge its record was about 800 KB). Files
//! are written atomically; records of earlier versions, endpoints inline, are split at load.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::subnet::{Subnet, Subnet6};
use super::NetworkError;
use berth_fs::atomic;

/// The kind of network: a Linux bridge, or one of the two pseudo networks `host` and `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Bridge,
    Host,
    Null,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
            Driver::Host => "host",
            Driver::Null => "null",
        }
    }
}

/// Addressing of a bridge network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pool {
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    #[serde(default)]
    pub ip_range: Option<Subnet>,
    /// `--aux-address name=ip`: reserved, never handed to a container.
    #[serde(default)]
    pub aux_addresses: BTreeMap<String, Ipv4Addr>,
}

/// IPv6 addressing of a bridge network (`--ipv6`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pool6 {
    pub subnet: Subnet6,
    pub gateway: Ipv6Addr,
    #[serde(default)]
    pub ip_range: Option<Subnet6>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// The tenant whose network it is (its name is unique among the tenant's only); None: the daemon's own.
    #[serde(default)]
    pub owner: Option<String>,
    pub created: DateTime<Utc>,
    pub driver: Driver,
    /// The Linux bridge (bridge driver only).
    #[serde(default)]
    pub bridge: String,
    #[serde(default)]
    pub pool: Option<Pool>,
    /// Present on networks made with `--ipv6`.
    #[serde(default)]
    pub pool6: Option<Pool6>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    #[serde(default)]
    pub options: HashMap<String, String>,
    /// `--ipam-opt`, as the create asked (None when it sent none: inspect shows null, as dockerd's).
    #[serde(default)]
    pub ipam_options: Option<HashMap<String, String>>,
    /// `bridge`, `host` and `none`: made by the daemon, never removed.
    #[serde(default)]
    pub predefined: bool,
    /// By container id.
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointRecord>,
}

/// A container attached to a network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub endpoint_id: String,
    pub container_id: String,
    /// Without the slash; follows renames.
    pub container_name: String,
    pub ip: Ipv4Addr,
    pub mac: String,
    /// Extra DNS names on this network (`--network-alias`, compose service names).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Whether the address was asked for (`--ip`): reported as IPAMConfig.
    #[serde(default)]
    pub requested_ip: Option<Ipv4Addr>,
    /// The IPv6 address on a `--ipv6` network, and whether it was asked for (`--ip6`).
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default)]
    pub requested_ip6: Option<Ipv6Addr>,
    /// Links of this endpoint (`docker network connect --link c:alias`, an endpoint config's Links), as given:
    /// the alias resolves, for this container only, to the linked container on this network.
    #[serde(default)]
    pub links: Vec<String>,
    /// Orders a container's networks (the first one gets the default route and the published ports).
    #[serde(default = "Utc::now")]
    pub attached: DateTime<Utc>,
}

impl NetworkRecord {
    /// A copy without the endpoints, which are most of a busy network's record.
    pub fn without_endpoints(&self) -> NetworkRecord {
        NetworkRecord {
            id: self.id.clone(),
            name: self.name.clone(),
            owner: self.owner.clone(),
            created: self.created,
            driver: self.driver,
            bridge: self.bridge.clone(),
            pool: self.pool.clone(),
            pool6: self.pool6.clone(),
            internal: self.internal,
            attachable: self.attachable,
            labels: self.labels.clone(),
            options: self.options.clone(),
            ipam_options: self.ipam_options.clone(),
            predefined: self.predefined,
            endpoints: BTreeMap::new(),
        }
    }

    /// Does `reference` name this network: full id, name, or id prefix?
    pub fn is_named(&self, reference: &str) -> bool {
        self.id == reference || self.name == reference
    }

    pub fn is_user_defined(&self) -> bool {
        !self.predefined
    }

    /// Embedded DNS runs on user-defined bridge networks only, as in Docker.
    pub fn has_dns(&self) -> bool {
        self.driver == Driver::Bridge && !self.predefined
    }

    /// The network's own file, without its endpoints (each is saved with [`save_endpoint`](Self::save_endpoint)).
    pub fn save(&self, dir: &Path) -> Result<(), NetworkError> {
        atomic::write_json(&dir.join(format!("{}.json", self.id)), &self.without_endpoints())?;
        Ok(())
    }

    /// The network's file and every endpoint's: after a change to all of them (a default bridge readdressed).
    pub fn save_all(&self, dir: &Path) -> Result<(), NetworkError> {
        self.save(dir)?;
        for container_id in self.endpoints.keys() {
            self.save_endpoint(dir, container_id)?;
        }
        Ok(())
    }

    fn endpoints_dir(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.endpoints", self.id))
    }

    /// The endpoint of `container_id` as it is in the record, in its own file.
    pub fn save_endpoint(&self, dir: &Path, container_id: &str) -> Result<(), NetworkError> {
        let Some(endpoint) = self.endpoints.get(container_id) else { return self.delete_endpoint(dir, container_id) };
        let endpoints = self.endpoints_dir(dir);
        std::fs::create_dir_all(&endpoints)
            .map_err(|e| NetworkError::io(format!("create {}", endpoints.display()), e))?;
        atomic::write_json(&endpoints.join(format!("{container_id}.json")), endpoint)?;
        Ok(())
    }

    pub fn delete_endpoint(&self, dir: &Path, container_id: &str) -> Result<(), NetworkError> {
        let path = self.endpoints_dir(dir).join(format!("{container_id}.json"));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(NetworkError::io(format!("remove {}", path.display()), e))
            }
            _ => Ok(()),
        }
    }

    pub fn delete(&self, dir: &Path) -> Result<(), NetworkError> {
        match std::fs::remove_dir_all(self.endpoints_dir(dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(NetworkError::io(format!("remove the endpoints of network {}", self.name), e))
            }
            _ => {}
        }
        match std::fs::remove_file(dir.join(format!("{}.json", self.id))) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(NetworkError::io(format!("remove network {}", self.name), e)),
        }
    }
}

/// Every network record under `dir`; unreadable files are logged and skipped.
pub fn load_all(dir: &Path) -> Result<Vec<NetworkRecord>, NetworkError> {
    let entries = std::fs::read_dir(dir).map_err(|e| NetworkError::io(format!("read {}", dir.display()), e))?;
    let mut records = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match atomic::read_json::<NetworkRecord>(&path) {
            Ok(mut record) => {
                if !record.endpoints.is_empty() {
                    // An earlier version's record, endpoints inline: each goes to its file, the record without them.
                    record.save_all(dir)?;
                }
                load_endpoints(dir, &mut record);
                records.push(record);
            }
            Err(err) => tracing::error!(%err, "skipping a network whose metadata cannot be read"),
        }
    }
    Ok(records)
}

fn load_endpoints(dir: &Path, record: &mut NetworkRecord) {
    let Ok(entries) = std::fs::read_dir(record.endpoints_dir(dir)) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match atomic::read_json::<EndpointRecord>(&path) {
            Ok(endpoint) => {
                record.endpoints.insert(endpoint.container_id.clone(), endpoint);
            }
            Err(err) => tracing::error!(%err, network = %record.name, "skipping an endpoint that cannot be read"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(container_id: &str, ip: [u8; 4]) -> EndpointRecord {
        EndpointRecord {
            endpoint_id: format!("e-{container_id}"),
            container_id: container_id.into(),
            container_name: format!("name-{container_id}"),
            ip: Ipv4Addr::from(ip),
            mac: "02:42:0a:00:00:02".into(),
            aliases: vec![],
            requested_ip: None,
            ip6: None,
            requested_ip6: None,
            links: vec![],
            attached: Utc::now(),
        }
    }

    fn network(id: &str) -> NetworkRecord {
        NetworkRecord {
            id: id.into(),
            name: format!("net-{id}"),
            owner: None,
            created: Utc::now(),
            driver: Driver::Bridge,
            bridge: "br-test".into(),
            pool: None,
            pool6: None,
            internal: false,
            attachable: false,
            labels: HashMap::new(),
            options: HashMap::new(),
            ipam_options: None,
            predefined: false,
            endpoints: BTreeMap::new(),
        }
    }

    #[test]
    fn endpoints_are_files_of_their_own_and_old_records_are_split_at_load() {
        let dir = std::env::temp_dir().join(format!("berth-network-records-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // An earlier version's record, with its endpoints inline.
        let mut old = network("old");
        old.endpoints.insert("c1".into(), endpoint("c1", [10, 0, 0, 2]));
        atomic::write_json(&dir.join("old.json"), &old).unwrap();
        // This version's: the record, then one endpoint file per connect.
        let mut new = network("new");
        new.save(&dir).unwrap();
        for (container, ip) in [("c2", [10, 0, 1, 2]), ("c3", [10, 0, 1, 3])] {
            new.endpoints.insert(container.into(), endpoint(container, ip));
            new.save_endpoint(&dir, container).unwrap();
        }
        new.endpoints.remove("c2");
        new.save_endpoint(&dir, "c2").unwrap();

        let mut loaded = load_all(&dir).unwrap();
        loaded.sort_by(|a, b| a.id.cmp(&b.id));
        let ids = |r: &NetworkRecord| r.endpoints.keys().cloned().collect::<Vec<_>>();
        assert_eq!(loaded.iter().map(ids).collect::<Vec<_>>(), [vec!["c3".to_string()], vec!["c1".to_string()]]);
        assert_eq!(loaded[1].endpoints["c1"].ip, Ipv4Addr::new(10, 0, 0, 2));
        let rewritten: NetworkRecord = atomic::read_json(&dir.join("old.json")).unwrap();
        assert!(rewritten.endpoints.is_empty(), "the old record was split");
        assert!(dir.join("old.endpoints").join("c1.json").exists());
        assert_eq!(ids(&load_all(&dir).unwrap().into_iter().find(|r| r.id == "old").unwrap()), ["c1"]);

        loaded[0].delete(&dir).unwrap();
        assert!(!dir.join("new.json").exists() && !dir.join("new.endpoints").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
