//! The engine owns state and policy: container names and states, restart policies, logs, exec sessions, events.
//! It asks `image` for root filesystems and `runtime` to run processes; it never makes namespace syscalls itself.
//!
//! One operation family per file: `create` (config merge, names), `lifecycle` (start, stop, kill, pause, restart,
//! remove, wait, the exit monitor), `exec`, `stats`, `logs`, `spec` (Docker config → OCI spec), `recovery`,
//! `networking` (containers on networks: endpoints, sandbox setup and teardown, inspect views), `volumes`,
//! `health` (HEALTHCHECK probes and State.Health), `name_claims` (names held while a create or rename awaits),
//! `distribution` (pull, push and login through `registry`), `audit` (the security review of each container's
//! configuration), `userns` (`--userns-remap`: which host ids each container's user namespace maps to), `events`
//! (the bus every event goes through) over `event_log` (its bounded history on disk, replayed by `GET /events`).

mod audit;
mod container;
mod create;
mod disk_usage;
mod distribution;
mod error;
mod event_log;
mod events;
mod exec;
mod filesystem;
mod health;
mod images;
mod lifecycle;
pub mod log_drivers;
pub mod logs;
mod name_claims;
mod live;
mod monitor_follow;
mod monitor_link;
mod mount_paths;
mod names;
mod networking;
mod process_exit;
mod prune;
mod recovery;
mod restart;
mod security;
mod spec;
mod stats;
mod stdio;
mod tenant_images;
mod tenants;
mod streams;
mod terminal;
mod userns;
mod volumes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

pub use container::{Container, ContainerRecord, MountRecord, Output, Status, StdinMessage, StreamKind, WaitState};
pub use distribution::PendingPull;
pub use error::EngineError;
pub use event_log::EventLogError;
pub use events::{Event, Events, Subscription as EventSubscription};
pub use exec::{Exec, ExecStreams};
pub use lifecycle::WaitCondition;
pub use names::validate_name;
pub use networking::{labels_match, NetworkView};
pub use prune::PruneFilter;
pub use recovery::BUILD_STEP_LABEL;
pub use spec::DEFAULT_CAPABILITIES;
pub use spec::{DEFAULT_RUNTIME, KNOWN_RUNTIMES};
pub use tenants::{tenant_network_name, TenantLimits, TenantUsage};
pub use terminal::TerminalSession;
pub use userns::{RemapError, UsernsRemap};
pub use volumes::{validate_volume_name, VolumeRecord};

use berth_image::ImageStore;
use berth_network::{NetworkConfig, Networks};
pub use berth_registry::{Credentials, Platform, Progress, ProgressSink, RegistryConfig};

/// Whose objects a caller sees: the operator (the unix socket, a single-user HTTP port) sees everything and names
/// the unowned; a tenant (a session of a shared daemon) sees and names only its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Everything,
    Tenant(&'a str),
}

impl<'a> Scope<'a> {
    /// The scope of `owner`'s requests: a tenant's, or everything for the daemon's own (None).
    pub fn of(owner: Option<&'a str>) -> Scope<'a> {
        owner.map_or(Scope::Everything, Scope::Tenant)
    }

    /// May this scope see an object owned by `owner`?
    pub fn sees(self, owner: Option<&str>) -> bool {
        match self {
            Scope::Everything => true,
            Scope::Tenant(tenant) => owner == Some(tenant),
        }
    }

    /// Whose names a name in this scope means.
    fn names_owner(self) -> Option<&'a str> {
        match self {
            Scope::Everything => None,
            Scope::Tenant(tenant) => Some(tenant),
        }
    }
}

/// The event attribute naming the tenant of the container an event is about, so a tenant's `GET /events` gets
/// its own events only (also after the container is gone).
pub const TENANT_ATTRIBUTE: &str = "berth.tenant";

/// Marks an event's attributes as `owner`'s, so only that tenant (and the operator) sees the event; the daemon's
/// own objects get no mark.
fn mark_tenant(attributes: &mut std::collections::HashMap<String, String>, owner: Option<&str>) {
    if let Some(tenant) = owner {
        attributes.insert(TENANT_ATTRIBUTE.into(), tenant.to_string());
    }
}

pub struct Engine {
    root: PathBuf,
    images: Arc<ImageStore>,
    networks: Arc<Networks>,
    events: Events,
    containers: RwLock<HashMap<String, Arc<Container>>>,
    name_claims: name_claims::NameClaims,
    execs: RwLock<HashMap<String, Arc<Exec>>>,
    started_at: chrono::DateTime<chrono::Utc>,
    shutting_down: std::sync::atomic::AtomicBool,
    live_restore: std::sync::atomic::AtomicBool,
    /// `berth serve --log-driver --log-opt`: what a container naming no driver gets.
    log_default: RwLock<log_drivers::DaemonDefault>,
    /// One lock per tenant, held from its quota check to the new container's insertion.
    tenant_creates: tenants::CreateLocks,
    /// Held while a tenant's list of the images it made is rewritten.
    tenant_images_lock: std::sync::Mutex<()>,
    terminals: terminal::Terminals,
    limits: Limits,
    registries: berth_registry::Registries,
    /// `--userns-remap`; None: containers keep the host's ids.
    userns: Option<UsernsRemap>,
}

/// How much one request may make the daemon take in, and what a container gets when it asks for no limit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most an upload (build context, load, import, cp) may be on the wire (`--max-upload-size`).
    pub max_upload: u64,
    /// The most an archive may unpack to (`--max-unpacked-size`): compression cannot get past it.
    pub max_unpacked: u64,
    /// The pids limit of a container created without `--pids-limit` (`--default-pids-limit`); None: unlimited.
    pub default_pids: Option<i64>,
    /// The most events the history keeps for `GET /events?since=` (`--max-event-history`); at least half of them
    /// are always kept (see `event_log`).
    pub max_event_history: usize,
}

impl Default for Limits {
    /// dockerd has no limits here; a shared daemon needs some. 8 GiB fits any real build context.
    fn default() -> Self {
        Limits { max_upload: 8 << 30, max_unpacked: 8 << 30, default_pids: None, max_event_history: 2048 }
    }
}

impl Engine {
    /// Opens (or creates) the state under `root`, loads every container and recovers from a crash.
    pub async fn open(root: &Path, network: NetworkConfig) -> Result<Arc<Self>, EngineError> {
        Self::open_with(root, network, Limits::default(), RegistryConfig::default(), None).await
    }

    /// [`Engine::open`] with request limits, registry settings and a user namespace remapping other than the
    /// defaults. The registries' CA files are read from `<root>/certs.d` whatever `registry.certs_dir` says.
    pub async fn open_with(
        root: &Path,
        network: NetworkConfig,
        limits: Limits,
        registry: RegistryConfig,
        userns: Option<UsernsRemap>,
    ) -> Result<Arc<Self>, EngineError> {
        for dir in ["containers", "volumes", "image"] {
            std::fs::create_dir_all(root.join(dir)).map_err(|e| EngineError::io(format!("create {dir} dir"), e))?;
        }
        berth_runtime::protect_init_executable(&root.join("init-exe"))?;
        let image_root = root.join("image");
        let images = tokio::task::spawn_blocking(move || -> Result<ImageStore, EngineError> {
            let mut store = ImageStore::open(&image_root)?;
            store.limit_unpacked(limits.max_unpacked);
            store.ensure_busybox()?;
            Ok(store)
        })
        .await
        .map_err(|e| EngineError::io("open image store", std::io::Error::other(e)))??;
        let networks = Networks::open(root, network).await?;
        let events = Events::open(&root.join("events"), limits.max_event_history)?;
        let engine = Arc::new(Engine {
            root: root.to_path_buf(),
            images: Arc::new(images),
            networks,
            events,
            containers: RwLock::new(HashMap::new()),
            name_claims: name_claims::NameClaims::default(),
            execs: RwLock::new(HashMap::new()),
            started_at: chrono::Utc::now(),
            shutting_down: std::sync::atomic::AtomicBool::new(false),
            live_restore: std::sync::atomic::AtomicBool::new(false),
            log_default: RwLock::new(log_drivers::DaemonDefault::default()),
            tenant_creates: tenants::CreateLocks::default(),
            tenant_images_lock: std::sync::Mutex::new(()),
            terminals: terminal::Terminals::default(),
            limits,
            registries: berth_registry::Registries::new(RegistryConfig { certs_dir: root.join("certs.d"), ..registry }),
            userns,
        });
        recovery::recover(&engine).await?;
        // Endpoints of containers that no longer exist (removed while the daemon was down, or half-created).
        for network in engine.networks.list() {
            for container_id in network.endpoints.keys() {
                if engine.container(container_id).is_err() {
                    engine.networks.disconnect_all(container_id);
                }
            }
        }
        Ok(engine)
    }

    /// Whether a clean stop leaves the containers running for the next daemon to adopt (dockerd's
    /// `--live-restore`; off unless set, as in dockerd; `berth serve` turns it on by default).
    pub fn set_live_restore(&self, on: bool) {
        self.live_restore.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// See [`set_live_restore`](Self::set_live_restore).
    /// The log driver and options of containers that name none (`berth serve --log-driver --log-opt`).
    pub fn set_log_default(&self, default: log_drivers::DaemonDefault) {
        *self.log_default.write().unwrap_or_else(|p| p.into_inner()) = default;
    }

    pub fn live_restore(&self) -> bool {
        self.live_restore.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A clean daemon stop. Without live restore (dockerd's default), running containers get their stop signal,
    /// then SIGKILL after a short grace period; they are not marked as stopped by the user, so restart policies
    /// bring them back next start, and the bridges and rules go. With it, containers run on under their monitors
    /// with their networks in place, for the next daemon (an upgrade) to adopt.
    pub async fn shutdown(self: &Arc<Self>) {
        self.shutting_down.store(true, std::sync::atomic::Ordering::SeqCst);
        if self.live_restore() {
            return;
        }
        let running: Vec<_> = self.containers().into_iter().filter(|c| c.status().is_running()).collect();
        let stops = running.into_iter().map(|container| {
            let engine = self.clone();
            async move { engine.stop_for_shutdown(&container).await }
        });
        futures_util::future::join_all(stops).await;
        self.networks.shutdown().await;
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The state directory (`--root`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// When this daemon started.
    pub fn started_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.started_at
    }

    /// The image store, for the builder, which makes images itself (the Engine API goes through the methods in
    /// `images`, which also tell `GET /events`).
    pub fn image_store(&self) -> &Arc<ImageStore> {
        &self.images
    }

    /// `GET /events`: the kept events at or after `since` (Unix nanoseconds; None: no replay), then every event
    /// from now on.
    pub fn subscribe_events(&self, since: Option<i64>) -> EventSubscription {
        self.events.subscribe(since)
    }

    /// The builder's directory (`<root>/build`): its cache, its work area, the images' build metadata.
    pub fn build_dir(&self) -> PathBuf {
        self.root.join("build")
    }

    /// What Docker keeps in an image config and the OCI config cannot hold (SHELL, ONBUILD, HEALTHCHECK).
    pub fn image_meta(&self) -> berth_image::MetaStore {
        berth_image::MetaStore::new(&self.build_dir())
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    pub fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// All containers, newest first (the order `docker ps` shows).
    pub fn containers(&self) -> Vec<Arc<Container>> {
        self.containers_in(Scope::Everything)
    }

    /// The containers `scope` sees, newest first.
    pub fn containers_in(&self, scope: Scope<'_>) -> Vec<Arc<Container>> {
        let map = self.containers.read().unwrap_or_else(|p| p.into_inner());
        // Each record locked once, not at every comparison of the sort.
        let mut list: Vec<(chrono::DateTime<chrono::Utc>, Arc<Container>)> =
            map.values().filter(|c| scope.sees(c.owner.as_deref())).map(|c| (c.record().created, c.clone())).collect();
        list.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
        list.into_iter().map(|(_, c)| c).collect()
    }

    /// Finds a container by full id, name (with or without the slash) or unique id prefix, like Docker. Names
    /// are the operator's: a tenant's container is found by name only through [`Engine::container_in`].
    pub fn container(&self, reference: &str) -> Result<Arc<Container>, EngineError> {
        self.container_in(Scope::Everything, reference)
    }

    /// [`Engine::container`] as `scope` sees the containers: one of another tenant is not found, exactly as if
    /// it did not exist (the same error, the same wording).
    pub fn container_in(&self, scope: Scope<'_>, reference: &str) -> Result<Arc<Container>, EngineError> {
        let map = self.containers.read().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = map.get(reference).filter(|c| scope.sees(c.owner.as_deref())) {
            return Ok(found.clone());
        }
        let name = reference.strip_prefix('/').unwrap_or(reference);
        let names_owner = scope.names_owner();
        if let Some(found) = map.values().find(|c| c.owner.as_deref() == names_owner && c.record().name == name) {
            return Ok(found.clone());
        }
        if !reference.is_empty() && reference.chars().all(|c| c.is_ascii_hexdigit()) {
            let matches: Vec<_> =
                map.values().filter(|c| scope.sees(c.owner.as_deref()) && c.id.starts_with(reference)).collect();
            match matches.as_slice() {
                [one] => return Ok((*one).clone()),
                [] => {}
                _ => {
                    return Err(EngineError::InvalidArgument(format!(
                        "multiple IDs found with provided prefix: {reference}"
                    )))
                }
            }
        }
        Err(EngineError::NoSuchContainer(reference.to_string()))
    }

    /// The daemon's `--userns-remap` as `USER:GROUP`, if it remaps.
    pub fn userns_remap(&self) -> Option<String> {
        self.userns.as_ref().map(UsernsRemap::describe)
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Holds `name` among `owner`'s containers for container `id` until the claim drops, unless a container or
    /// another claim has it there.
    fn claim_name(&self, owner: Option<&str>, name: &str, id: &str) -> Result<name_claims::NameClaim<'_>, EngineError> {
        let scope = Scope::of(owner);
        self.name_claims.claim(owner, name, id, || {
            self.container_in(scope, name)
                .ok()
                .filter(|container| container.owner.as_deref() == owner && container.record().name == name)
                .map(|container| container.id.clone())
        })
    }

    fn insert(&self, container: Arc<Container>) {
        self.containers.write().unwrap_or_else(|p| p.into_inner()).insert(container.id.clone(), container);
    }

    fn forget(&self, id: &str) {
        self.containers.write().unwrap_or_else(|p| p.into_inner()).remove(id);
        self.execs.write().unwrap_or_else(|p| p.into_inner()).retain(|_, exec| exec.container.id != id);
        self.terminals.forget_container(id);
    }

    /// Is any container (in any state) using this image id? Running ones are reported first.
    pub fn image_users(&self, image_id: &str) -> Vec<(String, bool)> {
        self.containers()
            .into_iter()
            .filter(|c| c.record().image_id == image_id)
            .map(|c| (c.id.clone(), c.status().is_running()))
            .collect()
    }

    fn container_attributes(&self, container: &Container) -> HashMap<String, String> {
        let record = container.record();
        let mut attributes: HashMap<String, String> = record.config.labels.clone().unwrap_or_default();
        attributes.insert("name".into(), record.name.clone());
        attributes.insert("image".into(), record.image_ref.clone());
        mark_tenant(&mut attributes, container.owner.as_deref());
        attributes
    }

    /// A client attached to the container's streams (`docker run` without -d, `docker attach`): dockerd's
    /// `attach` event. The streams are api's; the event, like every event, is said here.
    pub fn note_attach(&self, container: &Container) {
        self.emit(container, "attach");
    }

    fn emit(&self, container: &Container, action: &str) {
        let attributes = self.container_attributes(container);
        self.events.emit(bollard_stubs::models::EventMessageTypeEnum::CONTAINER, action, &container.id, attributes);
    }
}
