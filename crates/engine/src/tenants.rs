//! A tenant's (a session of a shared daemon's) own network, and what it leaves behind when it ends: every container
//! of its, stopped and removed with its anonymous volumes through the same removal `docker rm -fv` takes, then its
//! network.

use std::collections::HashMap;
use std::sync::Arc;

use bollard_stubs::models::NetworkCreateRequest;
use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder};
use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, Scope, TENANT_ATTRIBUTE};

/// What one tenant may use, all its containers together: the totals of its cgroup group, and how many containers
/// it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLimits {
    pub memory_bytes: i64,
    /// CPUs in billionths (Docker's NanoCpus).
    pub nano_cpus: i64,
    pub pids: i64,
    pub containers: i64,
    /// Host ports published, all its containers together.
    #[serde(default = "default_ports")]
    pub ports: i64,
    /// Disk: its containers' writable layers, its volumes and the layers only its images hold.
    #[serde(default = "default_disk")]
    pub disk_bytes: i64,
}

fn default_disk() -> i64 {
    5 << 30
}

fn default_ports() -> i64 {
    10
}

/// How many host ports a container with `host` and `exposed` ports publishes.
pub(super) fn published_ports(host: &bollard_stubs::models::HostConfig, exposed: &[String]) -> i64 {
    berth_network::ports::requests(host.port_bindings.as_ref(), exposed, host.publish_all_ports.unwrap_or(false))
        .map(|requests| requests.len() as i64)
        .unwrap_or(0)
}

/// What a tenant uses at one moment. CPU is a running total over its running containers: a rate is two readings
/// apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantUsage {
    pub containers: usize,
    pub running: usize,
    pub cpu_nanos: u64,
    pub memory_bytes: u64,
    pub disk_bytes: u64,
}

/// A lock per tenant for its creates, so concurrent ones cannot all pass its container quota.
#[derive(Default)]
pub(super) struct CreateLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl CreateLocks {
    pub(super) async fn lock(&self, tenant: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.0.lock().unwrap_or_else(|p| p.into_inner());
            // A tenant's lock lives while anyone holds or waits for it; the map keeps no others.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(tenant.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// The cgroup group a container's cgroup sits in: its tenant's (`berth/session-<id>/<container>`), or none.
pub(super) fn cgroup_group(owner: Option<&str>) -> Option<String> {
    owner.map(|tenant| format!("session-{tenant}"))
}

const CFS_PERIOD_US: u64 = 100_000;

/// How long a tenant's removal waits for its containers' cgroups to go before it gives up on the group.
const GROUP_REMOVAL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn group_resources(limits: &TenantLimits) -> Result<LinuxResources, EngineError> {
    let invalid = |e: oci_spec::OciSpecError| EngineError::InvalidArgument(format!("tenant limits: {e}"));
    // Swap included: a hog may not page its way past the limit.
    let memory =
        LinuxMemoryBuilder::default().limit(limits.memory_bytes).swap(limits.memory_bytes).build().map_err(invalid)?;
    let quota = (limits.nano_cpus as i128 * CFS_PERIOD_US as i128 / 1_000_000_000).max(1000) as i64;
    let cpu = LinuxCpuBuilder::default().quota(quota).period(CFS_PERIOD_US).build().map_err(invalid)?;
    let pids = LinuxPidsBuilder::default().limit(limits.pids).build().map_err(invalid)?;
    LinuxResourcesBuilder::default().memory(memory).cpu(cpu).pids(pids).build().map_err(invalid)
}

/// The name of a tenant's default network: a bridge of its own, so tenants cannot reach each other's containers
/// (bridges are isolated from each other) while a tenant's containers find each other by name (its DNS).
/// Bytes in decimal units with one decimal (`6.0MB`), for the quota's message.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

pub(super) fn tenant_dir_under(root: &std::path::Path, tenant: &str) -> std::path::PathBuf {
    root.join("tenants").join(tenant)
}

pub fn tenant_network_name(tenant: &str) -> String {
    format!("session-{tenant}")
}

impl Engine {
    /// What a tenant owns on disk beyond its containers (its volumes).
    fn tenant_dir(&self, tenant: &str) -> std::path::PathBuf {
        tenant_dir_under(&self.root, tenant)
    }

    fn tenant_limits_file(&self, tenant: &str) -> std::path::PathBuf {
        self.root.join("tenants").join(format!("{tenant}.json"))
    }

    /// Records what `tenant` may use (kept under `<root>/tenants/`, so starts after a restart apply it too) and
    /// applies it to its group at once when it has one.
    pub fn set_tenant_limits(&self, tenant: &str, limits: TenantLimits) -> Result<(), EngineError> {
        if self.tenant_limits(tenant).ok() == Some(limits) {
            return Ok(());
        }
        let file = self.tenant_limits_file(tenant);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| EngineError::io("create the tenants dir", e))?;
        }
        berth_fs::atomic::replace_json(&file, &limits)?;
        if !self.containers_in(Scope::Tenant(tenant)).is_empty() {
            self.ensure_tenant_group(tenant)?;
        }
        Ok(())
    }

    /// What `tenant` may use; a tenant without recorded limits gets nothing started (fail closed).
    fn tenant_limits(&self, tenant: &str) -> Result<TenantLimits, EngineError> {
        let file = self.tenant_limits_file(tenant);
        let text = std::fs::read(&file)
            .map_err(|_| EngineError::Forbidden(format!("no limits are recorded for session {tenant}")))?;
        serde_json::from_slice(&text)
            .map_err(|e| EngineError::io(format!("read {}", file.display()), std::io::Error::other(e)))
    }

    /// At create: a tenant at its container quota makes no more.
    pub(super) fn check_tenant_quota(&self, tenant: &str) -> Result<(), EngineError> {
        let limits = self.tenant_limits(tenant)?;
        let count = self.containers_in(Scope::Tenant(tenant)).len() as i64;
        if count >= limits.containers {
            return Err(EngineError::Forbidden(format!(
                "session quota: {count} of {} containers in use; remove one first (docker rm)",
                limits.containers
            )));
        }
        Ok(())
    }

    /// What `tenant` uses now, for an instructor's view: its containers, their CPU time and memory as `docker
    /// stats` reads them (blocking: reads each running container's cgroup), and its disk.
    pub fn tenant_usage(&self, tenant: &str) -> TenantUsage {
        let containers = self.containers_in(Scope::Tenant(tenant));
        let mut usage = TenantUsage { containers: containers.len(), ..TenantUsage::default() };
        for container in containers.iter().filter(|container| container.status().is_running()) {
            usage.running += 1;
            let stats = Engine::stats_of(container);
            usage.cpu_nanos += stats.cpu_stats.and_then(|cpu| cpu.cpu_usage?.total_usage).unwrap_or(0);
            let memory = stats.memory_stats.unwrap_or_default();
            let cache = memory.stats.as_ref().and_then(|stats| stats.get("total_inactive_file").copied()).unwrap_or(0);
            usage.memory_bytes += memory.usage.unwrap_or(0).saturating_sub(cache);
        }
        usage.disk_bytes = self.tenant_disk_bytes(tenant);
        usage
    }

    /// The disk `tenant` uses: its containers' writable layers, its volumes, the layers only its images hold
    /// (blocking: walks the trees).
    pub fn tenant_disk_bytes(&self, tenant: &str) -> u64 {
        let layers: u64 = self
            .containers_in(Scope::Tenant(tenant))
            .iter()
            .map(|container| super::disk_usage::tree_size_or_zero(&container.upper_dir()))
            .sum();
        let volumes: u64 = self.volume_usage(Some(tenant)).iter().map(|(_, size, _)| size).sum();
        layers.saturating_add(volumes).saturating_add(self.tenant_image_bytes(tenant))
    }

    /// Before a tenant makes a container or builds: one at or over its disk quota makes nothing more until it
    /// frees some. What a running container writes is not stopped at the quota (the host's filesystem has no
    /// per-tenant quota here); it is counted at the next create.
    pub async fn check_tenant_disk(self: &Arc<Self>, tenant: &str) -> Result<(), EngineError> {
        let limits = self.tenant_limits(tenant)?;
        let engine = self.clone();
        let owner = tenant.to_string();
        let used = tokio::task::spawn_blocking(move || engine.tenant_disk_bytes(&owner))
            .await
            .map_err(|e| EngineError::io("measure a session's disk", std::io::Error::other(e)))?;
        if used >= limits.disk_bytes.max(0) as u64 {
            return Err(EngineError::Forbidden(format!(
                "session quota: {} of {} disk in use (writable layers, volumes, built images); free some first (docker rm, docker volume rm, docker rmi)",
                human_bytes(used),
                human_bytes(limits.disk_bytes.max(0) as u64)
            )));
        }
        Ok(())
    }

    /// At create: a container publishing `wanted` more host ports may not take the tenant past its quota.
    pub(super) fn check_tenant_ports(&self, tenant: &str, wanted: i64) -> Result<(), EngineError> {
        if wanted == 0 {
            return Ok(());
        }
        let limits = self.tenant_limits(tenant)?;
        let in_use: i64 = self
            .containers_in(Scope::Tenant(tenant))
            .iter()
            .map(|container| {
                let record = container.record();
                published_ports(&record.host_config, record.config.exposed_ports.as_deref().unwrap_or_default())
            })
            .sum();
        if in_use + wanted > limits.ports {
            return Err(EngineError::Forbidden(format!(
                "session quota: {in_use} of {} published ports in use, and this container would publish {wanted}; remove a container that publishes one first",
                limits.ports
            )));
        }
        Ok(())
    }

    /// Before a tenant's container starts: its group, holding the tenant's totals.
    pub(super) fn ensure_tenant_group(&self, tenant: &str) -> Result<(), EngineError> {
        let limits = self.tenant_limits(tenant)?;
        let Some(group) = cgroup_group(Some(tenant)) else { return Ok(()) };
        berth_runtime::Cgroup::ensure_group(&group, &group_resources(&limits)?)?;
        Ok(())
    }

    /// The tenant's default network, made at its first container.
    pub(super) async fn tenant_network(&self, tenant: &str) -> Result<String, EngineError> {
        let name = tenant_network_name(tenant);
        if self.networks.get(&name).is_ok_and(|network| network.name == name) {
            return Ok(name);
        }
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".into()),
            labels: Some(HashMap::from([(TENANT_ATTRIBUTE.to_string(), tenant.to_string())])),
            ..Default::default()
        };
        match self.network_create(&request).await {
            // A create racing this one made it first.
            Ok(_) | Err(EngineError::Network(berth_network::NetworkError::NameInUse(_))) => Ok(name),
            Err(error) => Err(error),
        }
    }

    /// Every tenant that owns something here (containers, networks, volumes, images): whom a sweep checks against
    /// the live sessions, so a crash or a race between a removal and a make leaves nothing for good.
    pub fn tenants_with_objects(&self) -> std::collections::HashSet<String> {
        let mut owners: std::collections::HashSet<String> =
            self.containers().iter().filter_map(|c| c.owner.clone()).collect();
        for network in self.networks.list() {
            owners.extend(network.owner.clone());
            owners.extend(network.labels.get(TENANT_ATTRIBUTE).cloned());
        }
        if let Ok(entries) = std::fs::read_dir(self.root.join("tenants")) {
            for entry in entries.flatten().filter(|entry| entry.path().is_dir()) {
                owners.extend(entry.file_name().into_string().ok());
            }
        }
        owners.extend(self.tenants_with_tags());
        owners
    }

    /// Makes a new tenant's network in the background, ahead of its first container, so that create does not wait
    /// for a bridge and its firewall rules (most of a first `docker run` in a new session).
    pub fn prepare_tenant(self: &Arc<Self>, tenant: &str) {
        let engine = self.clone();
        let tenant = tenant.to_string();
        tokio::spawn(async move {
            if let Err(error) = engine.tenant_network(&tenant).await {
                tracing::warn!(%tenant, %error, "cannot prepare a session's network; its first container will");
            }
        });
    }

    /// Removes every container `tenant` owns; the first failure is reported after the rest were tried.
    pub async fn remove_tenant(self: &Arc<Self>, tenant: &str) -> Result<usize, EngineError> {
        let mut removed = 0;
        let mut first_error = None;
        for container in self.containers_in(Scope::Tenant(tenant)) {
            match self.remove(&container.id, true, true).await {
                Ok(()) => removed += 1,
                Err(EngineError::NoSuchContainer(_)) => {}
                Err(error) => {
                    tracing::warn!(tenant, id = %container.id, %error, "cannot remove a tenant's container");
                    first_error.get_or_insert(error);
                }
            }
        }
        for network in self.network_list_in(Scope::Tenant(tenant)) {
            if let Err(error) = self.network_remove(&network.id).await {
                tracing::warn!(tenant, network = %network.name, %error, "cannot remove a tenant's network");
                first_error.get_or_insert(error);
            }
        }
        let network = tenant_network_name(tenant);
        if self.networks.get(&network).is_ok_and(|record| record.name == network) {
            if let Err(error) = self.network_remove(&network).await {
                tracing::warn!(tenant, %error, "cannot remove a tenant's network");
                first_error.get_or_insert(error);
            }
        }
        if let Some(group) = cgroup_group(Some(tenant)) {
            // A removed container's own cgroup may still be on its way out (its exit is handled on another task):
            // the group goes once its last child has.
            let deadline = std::time::Instant::now() + GROUP_REMOVAL_WAIT;
            loop {
                match berth_runtime::Cgroup::remove_group(&group) {
                    Ok(()) => break,
                    Err(_) if std::time::Instant::now() < deadline => {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await
                    }
                    Err(error) => {
                        tracing::warn!(tenant, %error, "cannot remove a tenant's cgroup");
                        first_error.get_or_insert(error.into());
                        break;
                    }
                }
            }
        }
        self.remove_tenant_images(tenant);
        if let Err(error) = std::fs::remove_dir_all(self.tenant_dir(tenant)) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(tenant, %error, "cannot remove a tenant's volumes");
                first_error.get_or_insert(EngineError::io("remove a tenant's volumes", error));
            }
        }
        let _ = std::fs::remove_file(self.tenant_limits_file(tenant));
        match first_error {
            Some(error) => Err(error),
            None => Ok(removed),
        }
    }
}
