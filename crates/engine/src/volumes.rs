//! Named and anonymous volumes (`local` driver only): `<root>/volumes/<name>/_data`, with `volume.json` beside it
//! for labels and the creation time. Also what a container mounts beyond its binds: the image's VOLUME entries
//! (anonymous volumes made at create), `--volumes-from`, and the copy-up that fills a new, empty volume with what
//! the image has at its mount point.
//!
//! Volume names are per owner: the daemon's own (the operator's) live under `<root>/volumes`, a tenant's under
//! `<root>/tenants/<tenant>/volumes`, so two sessions may each have a volume `data` and neither can name the
//! other's. A container's volumes are always its owner's.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bollard_stubs::models::{HostConfig, MountType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::container::{ContainerRecord, MountRecord};
use super::spec::parse_bind;
use super::{names, Engine, EngineError};
use berth_fs::atomic;

const METADATA: &str = "volume.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    #[serde(default)]
    pub options: HashMap<String, String>,
    /// Made for one container (image VOLUME, `-v /path`, `--mount type=volume` without a source).
    #[serde(default)]
    pub anonymous: bool,
}

/// Docker's rule for local volume names, with its message.
pub fn validate_volume_name(name: &str) -> Result<(), EngineError> {
    let mut chars = name.chars();
    let valid = name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(EngineError::InvalidArgument(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

/// Volume names a container refers to: `-v name:/x`, `--mount type=volume`, image volumes, `--volumes-from`.
pub fn volumes_of(record: &ContainerRecord) -> Vec<String> {
    let mut names = Vec::new();
    for bind in record.host_config.binds.iter().flatten() {
        if let Ok(bind) = parse_bind(bind) {
            if !bind.source.starts_with('/') {
                names.push(bind.source);
            }
        }
    }
    for mount in record.host_config.mounts.iter().flatten() {
        if mount.typ == Some(MountType::VOLUME) {
            names.extend(mount.source.clone().filter(|s| !s.is_empty()));
        }
    }
    names.extend(record.extra_mounts.iter().filter(|m| !m.source.starts_with('/')).map(|m| m.source.clone()));
    names.sort();
    names.dedup();
    names
}

/// Every destination the container's own binds, mounts and tmpfs cover.
fn covered_destinations(host: &HostConfig) -> HashSet<String> {
    let mut covered = HashSet::new();
    for bind in host.binds.iter().flatten() {
        if let Ok(bind) = parse_bind(bind) {
            covered.insert(bind.destination);
        }
    }
    covered.extend(host.mounts.iter().flatten().filter_map(|m| m.target.clone()));
    covered.extend(host.tmpfs.iter().flat_map(|t| t.keys().cloned()));
    covered
}

/// Where `owner`'s volumes are under the daemon's root.
fn volumes_dir_under(root: &Path, owner: Option<&str>) -> PathBuf {
    match owner {
        None => root.join("volumes"),
        Some(tenant) => super::tenants::tenant_dir_under(root, tenant).join("volumes"),
    }
}

impl super::Container {
    /// Where the container's volume `name` keeps its data (its owner's volume of that name).
    pub fn volume_data(&self, name: &str) -> PathBuf {
        // `<root>/containers/<id>`: the root is two levels up.
        let root = self.dir.parent().and_then(Path::parent).unwrap_or(&self.dir);
        volumes_dir_under(root, self.owner.as_deref()).join(name).join("_data")
    }
}

impl Engine {
    /// Where `owner`'s volumes are.
    pub fn volumes_dir_of(&self, owner: Option<&str>) -> PathBuf {
        volumes_dir_under(&self.root, owner)
    }

    fn volume_dir(&self, owner: Option<&str>, name: &str) -> PathBuf {
        self.volumes_dir_of(owner).join(name)
    }

    pub fn volume_data(&self, owner: Option<&str>, name: &str) -> PathBuf {
        self.volume_dir(owner, name).join("_data")
    }

    /// Creates the volume if it does not exist; returns it either way (Docker's `volume create` is idempotent).
    pub fn volume_create(
        &self,
        owner: Option<&str>,
        name: Option<&str>,
        driver: Option<&str>,
        labels: HashMap<String, String>,
        options: HashMap<String, String>,
    ) -> Result<VolumeRecord, EngineError> {
        match driver.unwrap_or("") {
            "" | "local" => {}
            other => return Err(EngineError::NotFound(format!("plugin \"{other}\" not found"))),
        }
        if let Some(option) = options.keys().find(|k| !matches!(k.as_str(), "type" | "device" | "o" | "size")) {
            return Err(EngineError::InvalidArgument(format!("invalid option key: {option:?}")));
        }
        let (name, anonymous) = match name.filter(|n| !n.is_empty()) {
            Some(name) => (name.to_string(), false),
            None => (names::new_id(), true),
        };
        validate_volume_name(&name)?;
        if let Ok(existing) = self.volume_get(owner, &name) {
            if !labels.is_empty() && labels != existing.labels {
                return Err(EngineError::Conflict(format!(
                    "create {name}: a volume with the name {name} already exists with different labels"
                )));
            }
            return Ok(existing);
        }
        let record = VolumeRecord { name: name.clone(), created: Utc::now(), labels, options, anonymous };
        let data = self.volume_data(owner, &name);
        std::fs::create_dir_all(&data).map_err(|e| EngineError::io(format!("create volume {name}"), e))?;
        atomic::write_json(&self.volume_dir(owner, &name).join(METADATA), &record)?;
        self.emit_volume(owner, "create", &name);
        Ok(record)
    }

    /// A volume by name. Directories made before metadata existed (or by a bind of a new name) count as volumes.
    pub fn volume_get(&self, owner: Option<&str>, name: &str) -> Result<VolumeRecord, EngineError> {
        let missing = || EngineError::NotFound(format!("get {name}: no such volume"));
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(missing());
        }
        let dir = self.volume_dir(owner, name);
        if !dir.join("_data").is_dir() {
            return Err(missing());
        }
        match atomic::read_json::<VolumeRecord>(&dir.join(METADATA)) {
            Ok(record) => Ok(record),
            Err(_) => {
                let created = std::fs::metadata(&dir).and_then(|m| m.modified()).map(DateTime::<Utc>::from).ok();
                Ok(VolumeRecord {
                    name: name.to_string(),
                    created: created.unwrap_or_else(Utc::now),
                    labels: HashMap::new(),
                    options: HashMap::new(),
                    anonymous: false,
                })
            }
        }
    }

    pub fn volume_list(&self, owner: Option<&str>) -> Vec<VolumeRecord> {
        let mut list: Vec<VolumeRecord> = std::fs::read_dir(self.volumes_dir_of(owner))
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter_map(|name| self.volume_get(owner, &name).ok())
                    .collect()
            })
            .unwrap_or_default();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Ids of the containers (any state) that use `owner`'s volume.
    pub fn volume_users(&self, owner: Option<&str>, name: &str) -> Vec<String> {
        self.containers()
            .into_iter()
            .filter(|c| c.owner.as_deref() == owner && volumes_of(&c.record()).iter().any(|v| v == name))
            .map(|c| c.id.clone())
            .collect()
    }

    pub fn volume_remove(&self, owner: Option<&str>, name: &str, force: bool) -> Result<(), EngineError> {
        if let Err(err) = self.volume_get(owner, name) {
            return if force { Ok(()) } else { Err(err) };
        }
        let users = self.volume_users(owner, name);
        if !users.is_empty() {
            return Err(EngineError::Conflict(format!("remove {name}: volume is in use - [{}]", users.join(", "))));
        }
        std::fs::remove_dir_all(self.volume_dir(owner, name))
            .map_err(|e| EngineError::io(format!("remove volume {name}"), e))?;
        self.emit_volume(owner, "destroy", name);
        Ok(())
    }

    /// `docker volume prune`: unused anonymous volumes, or with `all` every unused volume, that `filter` selects
    /// (dockerd takes no `until` here: the API refuses it). Returns the names and the bytes freed.
    pub fn volume_prune(&self, owner: Option<&str>, all: bool, filter: &super::PruneFilter) -> (Vec<String>, u64) {
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for volume in self.volume_list(owner) {
            if (!all && !volume.anonymous) || !filter.matches(&volume.labels, Some(volume.created)) {
                continue;
            }
            let size = super::disk_usage::tree_size_or_zero(&self.volume_data(owner, &volume.name));
            if self.volume_remove(owner, &volume.name, false).is_ok() {
                reclaimed = reclaimed.saturating_add(size);
                deleted.push(volume.name);
            }
        }
        self.emit_prune(owner, bollard_stubs::models::EventMessageTypeEnum::VOLUME, reclaimed);
        (deleted, reclaimed)
    }

    /// dockerd's `mount` before a start and `unmount` after an exit, one per volume (binds have none).
    pub(super) fn emit_volume_mounts(&self, container: &super::Container, action: &str) {
        let record = container.snapshot();
        for mount in mounts_of(&record).into_iter().filter(|mount| !mount.source.starts_with('/')) {
            let mut attributes = HashMap::from([
                ("driver".to_string(), "local".to_string()),
                ("container".to_string(), container.id.clone()),
            ]);
            super::mark_tenant(&mut attributes, container.owner.as_deref());
            if action == "mount" {
                attributes.insert("destination".into(), mount.destination.clone());
                attributes.insert("propagation".into(), String::new());
                attributes.insert("read/write".into(), (!mount.read_only).to_string());
            }
            self.events.emit(bollard_stubs::models::EventMessageTypeEnum::VOLUME, action, &mount.source, attributes);
        }
    }

    fn emit_volume(&self, owner: Option<&str>, action: &str, name: &str) {
        let mut attributes = HashMap::from([("driver".to_string(), "local".to_string())]);
        super::mark_tenant(&mut attributes, owner);
        self.events.emit(bollard_stubs::models::EventMessageTypeEnum::VOLUME, action, name, attributes);
    }

    /// At create: names anonymous volumes (`--mount type=volume` without a source, the image's and `-v /path`
    /// VOLUMEs), copies `--volumes-from` mounts, and makes the named volumes that do not exist yet.
    /// Returns the mounts beyond the host config, and the anonymous volumes made for this container.
    pub(super) fn plan_volumes(
        &self,
        owner: Option<&str>,
        host: &mut HostConfig,
        image_volumes: &[String],
    ) -> Result<(Vec<MountRecord>, Vec<String>), EngineError> {
        let mut anonymous = Vec::new();
        for mount in host.mounts.iter_mut().flatten() {
            match mount.typ {
                Some(MountType::VOLUME) if mount.source.as_deref().unwrap_or("").is_empty() => {
                    let volume = self.volume_create(owner, None, None, HashMap::new(), HashMap::new())?;
                    mount.source = Some(volume.name.clone());
                    anonymous.push(volume.name);
                }
                Some(MountType::VOLUME) => {
                    let name = mount.source.clone().unwrap_or_default();
                    validate_volume_name(&name)?;
                    let labels = mount.volume_options.as_ref().and_then(|o| o.labels.clone()).unwrap_or_default();
                    if self.volume_get(owner, &name).is_err() {
                        self.volume_create(owner, Some(&name), None, labels, HashMap::new())?;
                    }
                }
                // Checked at create, as dockerd does, so `docker run` fails before a container exists.
                Some(MountType::BIND) => {
                    let source = mount.source.clone().unwrap_or_default();
                    if !source.starts_with('/') || !Path::new(&source).exists() {
                        return Err(EngineError::InvalidArgument(format!(
                            "invalid mount config for type \"bind\": bind source path does not exist: {source}"
                        )));
                    }
                }
                _ => {}
            }
        }
        for bind in host.binds.iter().flatten() {
            let bind = parse_bind(bind)?;
            if !bind.source.starts_with('/') {
                validate_volume_name(&bind.source)?;
                if self.volume_get(owner, &bind.source).is_err() {
                    self.volume_create(owner, Some(&bind.source), None, HashMap::new(), HashMap::new())?;
                }
            }
        }
        let mut covered = covered_destinations(host);
        let mut extra = Vec::new();
        for from in host.volumes_from.iter().flatten() {
            let (reference, mode) = match from.rsplit_once(':') {
                Some((reference, mode @ ("ro" | "rw"))) => (reference, Some(mode == "ro")),
                _ => (from.as_str(), None),
            };
            // The caller resolved the reference in the owner's scope already; resolving it again in the same
            // scope keeps a stray reference from reaching another owner's container.
            let source = self.container_in(super::Scope::of(owner), reference)?.snapshot();
            for mount in mounts_of(&source) {
                if covered.insert(mount.destination.clone()) {
                    extra.push(MountRecord { read_only: mode.unwrap_or(mount.read_only), anonymous: false, ..mount });
                }
            }
        }
        for destination in image_volumes {
            if covered.insert(destination.clone()) {
                let volume = self.volume_create(owner, None, None, HashMap::new(), HashMap::new())?;
                extra.push(MountRecord {
                    source: volume.name.clone(),
                    destination: destination.clone(),
                    read_only: false,
                    anonymous: true,
                });
                anonymous.push(volume.name);
            }
        }
        Ok((extra, anonymous))
    }

    /// At start, before the first mount: a volume that is still empty gets what the image has at its mount point
    /// (Docker's copy-up; `nocopy` turns it off).
    pub(super) async fn copy_up(&self, record: &ContainerRecord, rootfs: &Path) -> Result<(), EngineError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for bind in record.host_config.binds.iter().flatten() {
            if let Ok(parsed) = parse_bind(bind) {
                let nocopy = bind.rsplit(':').next().is_some_and(|o| o.split(',').any(|x| x == "nocopy"));
                if !parsed.source.starts_with('/') && !nocopy {
                    pairs.push((parsed.source, parsed.destination));
                }
            }
        }
        for mount in record.host_config.mounts.iter().flatten() {
            let nocopy = mount.volume_options.as_ref().and_then(|o| o.no_copy).unwrap_or(false);
            if mount.typ == Some(MountType::VOLUME) && !nocopy {
                if let (Some(source), Some(target)) = (mount.source.clone(), mount.target.clone()) {
                    pairs.push((source, target));
                }
            }
        }
        for mount in record.extra_mounts.iter().filter(|m| m.anonymous) {
            pairs.push((mount.source.clone(), mount.destination.clone()));
        }
        for (volume, destination) in pairs {
            let data = self.volume_data(record.owner.as_deref(), &volume);
            let empty = std::fs::read_dir(&data).map(|mut d| d.next().is_none()).unwrap_or(true);
            let Ok(from) = berth_image::archive::resolve_in_root(rootfs, &destination) else { continue };
            let has_content = std::fs::read_dir(&from).map(|mut d| d.next().is_some()).unwrap_or(false);
            if !empty || !has_content {
                continue;
            }
            std::fs::create_dir_all(&data).map_err(|e| EngineError::io(format!("create volume {volume}"), e))?;
            let output = tokio::process::Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", from.display()))
                .arg(&data)
                .output()
                .await
                .map_err(|e| EngineError::io("copy image content into a volume", e))?;
            if !output.status.success() {
                return Err(EngineError::io(
                    format!("copy {destination} into volume {volume}"),
                    std::io::Error::other(String::from_utf8_lossy(&output.stderr).trim().to_string()),
                ));
            }
        }
        Ok(())
    }

    /// A remapped container's root owns the top of its volumes, as under dockerd's `--userns-remap` (its local
    /// driver makes `_data` for the remapped root): else root in the container could write none of them. Only a
    /// top still the host root's changes; what is inside keeps its owners.
    pub(super) fn give_volumes_to_remapped_root(&self, record: &ContainerRecord) -> Result<(), EngineError> {
        use std::os::unix::fs::MetadataExt;
        let Some(ids) = record.id_shift else { return Ok(()) };
        for name in volumes_of(record) {
            let data = self.volume_data(record.owner.as_deref(), &name);
            std::fs::create_dir_all(&data).map_err(|e| EngineError::io(format!("create volume {name}"), e))?;
            let meta = std::fs::metadata(&data).map_err(|e| EngineError::io(format!("stat volume {name}"), e))?;
            if meta.uid() == 0 && meta.gid() == 0 {
                std::os::unix::fs::lchown(&data, Some(ids.host_uid(0)), Some(ids.host_gid(0)))
                    .map_err(|e| EngineError::io(format!("give volume {name} to the remapped root"), e))?;
            }
        }
        Ok(())
    }

    /// `rm -v` and `--rm`: the container's anonymous volumes go with it, unless another container uses them.
    pub(super) fn remove_anonymous_volumes(self: &Arc<Self>, record: &ContainerRecord) {
        for name in &record.anonymous_volumes {
            if let Err(err) = self.volume_remove(record.owner.as_deref(), name, true) {
                tracing::info!(%err, volume = %name, "anonymous volume kept");
            }
        }
    }
}

/// Every bind and volume mount of a container, as `--volumes-from` copies them.
pub(super) fn mounts_of(record: &ContainerRecord) -> Vec<MountRecord> {
    let mut list = Vec::new();
    for bind in record.host_config.binds.iter().flatten() {
        if let Ok(bind) = parse_bind(bind) {
            list.push(MountRecord {
                source: bind.source,
                destination: bind.destination,
                read_only: bind.read_only,
                anonymous: false,
            });
        }
    }
    for mount in record.host_config.mounts.iter().flatten() {
        if matches!(mount.typ, Some(MountType::VOLUME) | Some(MountType::BIND)) {
            if let (Some(source), Some(target)) = (mount.source.clone(), mount.target.clone()) {
                list.push(MountRecord {
                    source,
                    destination: target,
                    read_only: mount.read_only.unwrap_or(false),
                    anonymous: false,
                });
            }
        }
    }
    list.extend(record.extra_mounts.iter().cloned());
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_follow_docker() {
        assert!(validate_volume_name("data").is_ok());
        assert!(validate_volume_name("my_vol.1-x").is_ok());
        let err = validate_volume_name("a/b").unwrap_err().to_string();
        assert!(err.contains("includes invalid characters for a local volume name"), "{err}");
        assert!(validate_volume_name("x").is_err());
        assert!(validate_volume_name(".hidden").is_err());
    }
}
