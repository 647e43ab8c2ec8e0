//! `/berth/routes`: routed ports (berth-route's data plane) to containers or compose services. Create resolves
//! each backend to a container in the caller's scope (a session routes only to its own containers) and checks
//! its port; the router is then given addresses only. A watch task keeps each backend's address and HEALTHCHECK
//! word current (a restarted container has a new address) and writes a route's state to disk when it changes
//! (a ramp steps by itself). Routes come back at daemon start from `<root>/routes/`.

mod resolve;
mod store;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use berth_engine::{Engine, Scope};
use berth_route::{BackendSpec, Route, RouteError, RouteSpec, Snapshot};
use berth_shared::api::routes::{
    BackendRef, BackendView, RampPhase, RouteCreate, RouteView, SwitchRequest, WeightsRequest,
};

use store::RouteRecord;

use super::error::ApiResult;
use super::{ApiError, Caller};

/// How often backends' addresses and health are looked at again, and route state written when it changed.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Ports below this are the host's services'; a session may not take them.
const FIRST_SESSION_PORT: u16 = 1024;

/// (owner, name): names are per owner, as containers'.
type Key = (Option<String>, String);

struct Entry {
    record: Mutex<RouteRecord>,
    route: Route,
}

/// The daemon's routes.
pub struct Routes {
    engine: Arc<Engine>,
    dir: PathBuf,
    entries: Mutex<BTreeMap<Key, Arc<Entry>>>,
    /// Creates and removals one at a time, so a name and a port are checked and taken together.
    changes: tokio::sync::Mutex<()>,
}

impl From<RouteError> for ApiError {
    fn from(error: RouteError) -> Self {
        let status = match &error {
            RouteError::Invalid(_) | RouteError::Bind { .. } => StatusCode::BAD_REQUEST,
            RouteError::PortInUse { .. } | RouteError::Unhealthy { .. } | RouteError::Conflict(_) => {
                StatusCode::CONFLICT
            }
        };
        ApiError::new(status, error.to_string())
    }
}

impl Routes {
    pub fn new(engine: Arc<Engine>) -> Self {
        let dir = engine.root().join("routes");
        Routes { engine, dir, entries: Mutex::new(BTreeMap::new()), changes: tokio::sync::Mutex::new(()) }
    }

    /// At daemon start: every recorded route bound again, in the state it was left in, and the watch started.
    pub async fn restore(self: &Arc<Self>) {
        for record in store::load_all(&self.dir) {
            let name = record.create.name.clone();
            match self.start(&record).await {
                Ok(route) => {
                    let key = (record.owner.clone(), name.clone());
                    let entry = Arc::new(Entry { record: Mutex::new(record), route });
                    self.lock().insert(key, entry);
                }
                Err(error) => tracing::error!(route = %name, error = %error.message, "a route could not be restored"),
            }
        }
        let routes = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(WATCH_INTERVAL).await;
                let Some(routes) = routes.upgrade() else { return };
                routes.watch_once();
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn scope_of(owner: Option<&str>) -> Scope<'_> {
        match owner {
            Some(owner) => Scope::Tenant(owner),
            None => Scope::Everything,
        }
    }

    /// Each backend of a record where it is now: its container by id, a compose service's looked up again.
    fn backends_of(&self, record: &RouteRecord) -> Vec<(Option<SocketAddr>, Option<String>)> {
        let scope = Self::scope_of(record.owner.as_deref());
        record
            .create
            .backends
            .iter()
            .enumerate()
            .map(|(i, backend)| {
                let found = match &backend.service {
                    Some(_) => resolve::container(&self.engine, scope, backend).ok(),
                    None => record.containers.get(i).and_then(|id| self.engine.container_in(scope, id).ok()),
                };
                match found {
                    Some(container) => resolve::address(&self.engine, &container, backend.port),
                    None => (None, Some("its container is gone".into())),
                }
            })
            .collect()
    }

    async fn start(&self, record: &RouteRecord) -> Result<Route, ApiError> {
        let create = &record.create;
        let ip = match &create.host_ip {
            Some(ip) => ip
                .parse::<IpAddr>()
                .map_err(|_| ApiError::bad_request(format!("host_ip {ip:?} is not an IP address")))?,
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        let places = self.backends_of(record);
        let spec = RouteSpec {
            name: create.name.clone(),
            listen: SocketAddr::new(ip, create.host_port),
            protocol: create.protocol,
            backends: create
                .backends
                .iter()
                .zip(&places)
                .map(|(b, (addr, _))| BackendSpec { name: b.name.clone(), addr: *addr })
                .collect(),
            mode: create.mode.clone(),
            previous: record.previous.clone(),
            ramp: record.ramp.clone(),
        };
        let route = Route::start(spec).await?;
        for (backend, (addr, unhealthy)) in create.backends.iter().zip(places) {
            route.set_backend(&backend.name, addr, unhealthy)?;
        }
        Ok(route)
    }

    /// One look at every route: backends' addresses and health to the router, changed state to disk.
    fn watch_once(&self) {
        let entries: Vec<Arc<Entry>> = self.lock().values().cloned().collect();
        for entry in entries {
            let record = entry.record.lock().unwrap_or_else(|p| p.into_inner()).clone();
            for (backend, (addr, unhealthy)) in record.create.backends.iter().zip(self.backends_of(&record)) {
                if let Err(error) = entry.route.set_backend(&backend.name, addr, unhealthy) {
                    tracing::error!(route = %record.create.name, %error, "updating a backend");
                }
            }
            self.persist(&entry, &entry.route.snapshot());
        }
    }

    /// Writes the route's record when its state moved (a switch, new weights, a ramp's step).
    fn persist(&self, entry: &Entry, snapshot: &Snapshot) {
        let mut record = entry.record.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = record.clone();
        next.create.mode = snapshot.mode.clone();
        next.previous = snapshot.previous.clone();
        next.ramp = snapshot.ramp.clone();
        if next == *record {
            return;
        }
        match store::save(&self.dir, &next) {
            Ok(()) => *record = next,
            Err(error) => tracing::error!(route = %next.create.name, %error, "writing a route's state"),
        }
    }

    fn entry(&self, caller: &Caller, name: &str) -> Result<Arc<Entry>, ApiError> {
        let key = (caller.tenant().map(str::to_string), name.to_string());
        self.lock().get(&key).cloned().ok_or_else(|| ApiError::not_found(format!("No such route: {name}")))
    }

    /// Everything a route's GET shows (its backends named as they were asked for).
    pub(crate) fn views(&self, owner: Option<Option<&str>>) -> Vec<(Option<String>, RouteView)> {
        let entries: Vec<(Key, Arc<Entry>)> = self.lock().iter().map(|(k, e)| (k.clone(), e.clone())).collect();
        entries
            .into_iter()
            .filter(|((entry_owner, _), _)| owner.is_none_or(|owner| entry_owner.as_deref() == owner))
            .map(|((entry_owner, _), entry)| (entry_owner, view_of(&entry)))
            .collect()
    }
}

fn target_of(backend: &BackendRef) -> String {
    match (&backend.container, &backend.service, &backend.project) {
        (Some(container), _, _) => format!("{container}:{}", backend.port),
        (None, Some(service), Some(project)) => format!("compose {project}/{service}:{}", backend.port),
        (None, Some(service), None) => format!("compose {service}:{}", backend.port),
        (None, None, _) => format!(":{}", backend.port),
    }
}

fn view_of(entry: &Arc<Entry>) -> RouteView {
    let snapshot = entry.route.snapshot();
    let record = entry.record.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let backends: Vec<BackendView> = snapshot
        .backends
        .into_iter()
        .zip(&record.create.backends)
        .map(|(mut view, asked)| {
            view.target = target_of(asked);
            view
        })
        .collect();
    let ramping_back = snapshot.ramp.as_ref().is_some_and(|r| r.phase != RampPhase::RolledBack);
    RouteView {
        name: record.create.name.clone(),
        host_port: record.create.host_port,
        host_ip: record.create.host_ip.clone(),
        protocol: record.create.protocol,
        can_roll_back: snapshot.previous.is_some() || ramping_back,
        mode: snapshot.mode,
        backends,
        ramp: snapshot.ramp,
        shadow: snapshot.shadow,
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    match valid {
        true => Ok(()),
        false => Err(ApiError::bad_request(format!(
            "route name {name:?}: up to 64 letters, digits, '-', '_' and '.', starting with a letter or digit"
        ))),
    }
}

fn json_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    super::body::require_json(headers, !body.is_empty())?;
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// `POST /berth/routes`: 201 with the route's view.
pub(crate) async fn create(
    State(routes): State<Arc<Routes>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<RouteView>)> {
    let create: RouteCreate = json_body(&headers, &body)?;
    check_name(&create.name)?;
    if create.host_port == 0 {
        return Err(ApiError::bad_request("host_port: give the port to listen on (1-65535)"));
    }
    if caller.tenant().is_some() && create.host_port < FIRST_SESSION_PORT {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("a session routes ports from {FIRST_SESSION_PORT} up; {} is the host's", create.host_port),
        ));
    }
    if create.backends.iter().any(|b| b.port == 0) {
        return Err(ApiError::bad_request("every backend needs its port (1-65535)"));
    }
    let owner = caller.tenant().map(str::to_string);
    let mut containers = Vec::with_capacity(create.backends.len());
    for backend in &create.backends {
        let container = resolve::container(&routes.engine, caller.scope(), backend)?;
        let (addr, _) = resolve::address(&routes.engine, &container, backend.port);
        resolve::check_port(&container, addr, backend.port).await?;
        containers.push(container.id.clone());
    }
    let _changing = routes.changes.lock().await;
    let key = (owner.clone(), create.name.clone());
    if routes.lock().contains_key(&key) {
        return Err(ApiError::new(StatusCode::CONFLICT, format!("a route named {} exists", create.name)));
    }
    let record = RouteRecord { create, owner, containers, previous: None, ramp: None };
    let route = routes.start(&record).await?;
    let snapshot = route.snapshot();
    let mut record = record;
    record.ramp = snapshot.ramp.clone();
    store::save(&routes.dir, &record).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    tracing::info!(route = %record.create.name, port = record.create.host_port, actor = %caller.actor(), "route created");
    let entry = Arc::new(Entry { record: Mutex::new(record), route });
    routes.lock().insert(key, entry.clone());
    Ok((StatusCode::CREATED, Json(view_of(&entry))))
}

/// `GET /berth/routes`: the caller's routes (the operator's: every route).
pub(crate) async fn list(State(routes): State<Arc<Routes>>, caller: Caller) -> Json<Vec<RouteView>> {
    let owner = match &caller {
        Caller::Operator => None,
        other => Some(other.tenant()),
    };
    Json(routes.views(owner).into_iter().map(|(_, view)| view).collect())
}

pub(crate) async fn inspect(
    State(routes): State<Arc<Routes>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<RouteView>> {
    Ok(Json(view_of(&routes.entry(&caller, &name)?)))
}

/// `POST /berth/routes/{name}/switch` (blue/green), `.../rollback`, `.../weights` (weighted).
pub(crate) async fn act(
    State(routes): State<Arc<Routes>>,
    caller: Caller,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<RouteView>> {
    let entry = routes.entry(&caller, &name)?;
    match action.as_str() {
        "switch" => {
            let switch: SwitchRequest = json_body(&headers, &body)?;
            entry.route.switch(&switch.to, switch.force).await?;
        }
        "rollback" => entry.route.rollback()?,
        "weights" => {
            let weights: WeightsRequest = json_body(&headers, &body)?;
            entry.route.set_weights(weights.weights)?;
        }
        other => {
            return Err(ApiError::not_found(format!("routes have no action {other:?} (switch, rollback, weights)")))
        }
    }
    routes.persist(&entry, &entry.route.snapshot());
    tracing::info!(route = %name, action, actor = %caller.actor(), "route changed");
    Ok(Json(view_of(&entry)))
}

/// `DELETE /berth/routes/{name}`: the port is closed and the record removed; 204.
pub(crate) async fn delete(
    State(routes): State<Arc<Routes>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let _changing = routes.changes.lock().await;
    let key = (caller.tenant().map(str::to_string), name.clone());
    let entry = routes.lock().remove(&key).ok_or_else(|| ApiError::not_found(format!("No such route: {name}")))?;
    store::remove(&routes.dir, key.0.as_deref(), &name).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("removing route {name}'s record: {e}"))
    })?;
    entry.route.stop().await;
    tracing::info!(route = %name, actor = %caller.actor(), "route removed");
    Ok(StatusCode::NO_CONTENT)
}
