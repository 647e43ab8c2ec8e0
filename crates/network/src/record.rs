//! What is persisted about a network: `<root>/networks/<id>.json`, one file per network, written atomically on
//! every change. Endpoints (a container's attachment, with its address) live in their network's record, so the
//! address allocations survive a daemon restart with the network.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

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

    pub fn save(&self, dir: &Path) -> Result<(), NetworkError> {
        atomic::write_json(&dir.join(format!("{}.json", self.id)), self)?;
        Ok(())
    }

    pub fn delete(&self, dir: &Path) -> Result<(), NetworkError> {
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
            Ok(record) => records.push(record),
            Err(err) => tracing::error!(%err, "skipping a network whose metadata cannot be read"),
        }
    }
    Ok(records)
}
