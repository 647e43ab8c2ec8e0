//! A running route: its listener, its backends, its mode's current table, and the tasks that keep it (the
//! accept loop, the health prober, a ramp's stepper). Changes (switch, weights, rollback) swap the table under
//! one lock, so each request sees the old table or the new one, never half of each; a backend that loses its
//! traffic keeps what is under way on it for the drain time, then that is ended.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use berth_shared::api::routes::{
    BackendView, RampPhase, RampView, RouteMode, RouteProtocol, ShadowView, DEFAULT_DRAIN_MS,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::backend::Backend;
use super::choose::{choose, Choice};
use super::ramp::{trips, Ramp};
use super::rule::RequestFacts;
use super::shadow::Shadow;
use super::table::{check_names, compile, index_of, weights_of, Table};
use super::RouteError;

/// How long a health probe's TCP connect may take, and how often each backend is probed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendSpec {
    pub name: String,
    /// None while the caller knows no address (its container is stopped): it gets no traffic.
    pub addr: Option<SocketAddr>,
}

/// What a route starts from: a new one's mode, or a restarted one's state as a [`Snapshot`] left it.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteSpec {
    pub name: String,
    pub listen: SocketAddr,
    pub protocol: RouteProtocol,
    pub backends: Vec<BackendSpec>,
    pub mode: RouteMode,
    /// What `rollback` goes back to.
    pub previous: Option<RouteMode>,
    /// A ramp's progress to resume from; a new ramp starts at its first step.
    pub ramp: Option<RampView>,
}

/// A route as it is now: its current mode (live backend, weights), what a rollback returns to, each backend's
/// health, weight and counters (`target` is left empty: the caller knows what it named), the ramp, the shadow's
/// comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub mode: RouteMode,
    pub previous: Option<RouteMode>,
    pub ramp: Option<RampView>,
    pub backends: Vec<BackendView>,
    pub shadow: Option<ShadowView>,
}

pub(crate) struct State {
    pub mode: RouteMode,
    pub previous: Option<RouteMode>,
    pub table: Table,
    pub ramp: Option<Ramp>,
}

/// What the proxies and the tasks share.
pub(crate) struct Shared {
    pub name: String,
    pub protocol: RouteProtocol,
    pub backends: Vec<Arc<Backend>>,
    pub names: Vec<String>,
    pub state: RwLock<State>,
    pub shadow: Shadow,
    pub client: super::http::Client,
    /// Cancelled when the route is dropped: the listener, the tasks and every connection end.
    pub stop: CancellationToken,
}

impl Shared {
    /// The backend for a request (`facts`) or a TCP connection (None), leaving out those already tried.
    pub fn choose(&self, facts: Option<&RequestFacts<'_>>, excluded: &[usize]) -> Option<Choice> {
        let healthy: Vec<bool> =
            self.backends.iter().enumerate().map(|(i, b)| !excluded.contains(&i) && b.healthy()).collect();
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        choose(&state.table, facts, &healthy, &self.names, rand::random())
    }

    pub fn shadow_pair(&self) -> Option<(usize, usize)> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).table.shadow
    }

    /// Compiles the state's mode again (the ramp's weight included) and drains the backends it took all traffic
    /// from.
    fn recompile(self: &Arc<Self>, state: &mut State) -> Result<(), RouteError> {
        let ramp_weight = state.ramp.as_ref().map(Ramp::weight).unwrap_or(0);
        let table = compile(&state.mode, &self.names, self.protocol, ramp_weight)?;
        let drain = match &state.mode {
            RouteMode::BlueGreen { drain_ms, .. } => Duration::from_millis(*drain_ms),
            _ => Duration::from_millis(DEFAULT_DRAIN_MS),
        };
        for (i, (old, new)) in state.table.weights.iter().zip(&table.weights).enumerate() {
            if *old > 0 && *new == 0 {
                self.schedule_drain(i, drain);
            }
        }
        state.table = table;
        Ok(())
    }

    fn schedule_drain(self: &Arc<Self>, backend: usize, drain: Duration) {
        let shared = self.clone();
        let under_way = self.backends[backend].begin_drain();
        tokio::spawn(async move {
            tokio::select! {
                _ = shared.stop.cancelled() => return,
                _ = tokio::time::sleep(drain) => {}
            }
            let still_idle = shared.state.read().unwrap_or_else(|p| p.into_inner()).table.weights[backend] == 0;
            if still_idle {
                tracing::debug!(route = %shared.name, backend = %shared.names[backend], "drain time over");
                under_way.cancel();
            }
        });
    }
}

/// A route serving its port until it is dropped.
pub struct Route {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    /// Cancelled by the accept loop once it has closed the listener.
    closed: CancellationToken,
}

impl Drop for Route {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

impl Route {
    /// Checks the spec, binds its port (a port in use is [`RouteError::PortInUse`]) and starts serving.
    pub async fn start(spec: RouteSpec) -> Result<Route, RouteError> {
        let names: Vec<String> = spec.backends.iter().map(|b| b.name.clone()).collect();
        check_names(&names)?;
        let ramp = match &spec.mode {
            RouteMode::Ramped { steps, .. } => {
                Some(spec.ramp.as_ref().map(|view| Ramp::resume(view, *steps)).unwrap_or_else(|| Ramp::start(*steps)))
            }
            _ => None,
        };
        let table = compile(&spec.mode, &names, spec.protocol, ramp.as_ref().map(Ramp::weight).unwrap_or(0))?;
        let listener = TcpListener::bind(spec.listen).await.map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => RouteError::PortInUse { addr: spec.listen },
            _ => RouteError::Bind { addr: spec.listen, source },
        })?;
        let local_addr = listener.local_addr().map_err(|source| RouteError::Bind { addr: spec.listen, source })?;
        let shared = Arc::new(Shared {
            name: spec.name.clone(),
            protocol: spec.protocol,
            backends: spec.backends.iter().map(|b| Arc::new(Backend::new(b.name.clone(), b.addr))).collect(),
            names,
            state: RwLock::new(State { mode: spec.mode.clone(), previous: spec.previous.clone(), table, ramp }),
            shadow: Shadow::default(),
            client: super::http::client(),
            stop: CancellationToken::new(),
        });
        let closed = CancellationToken::new();
        tokio::spawn(accept(shared.clone(), listener, closed.clone()));
        tokio::spawn(probe(shared.clone()));
        let ramping = shared.state.read().unwrap_or_else(|p| p.into_inner()).ramp.as_ref().map(|r| r.phase);
        if ramping == Some(RampPhase::Ramping) {
            tokio::spawn(step_ramp(shared.clone()));
        }
        tracing::info!(route = %spec.name, listen = %local_addr, "route serving");
        Ok(Route { shared, local_addr, closed })
    }

    /// Stops serving and returns once the port is free again (dropping the route stops it too, without the wait).
    pub async fn stop(&self) {
        self.shared.stop.cancel();
        self.closed.cancelled().await;
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Blue/green: `to` becomes the live backend for every new request or connection at once. Refused when `to`
    /// is unhealthy or does not answer a TCP connect now, unless `force`.
    pub async fn switch(&self, to: &str, force: bool) -> Result<(), RouteError> {
        let index = index_of(&self.shared.names, to)?;
        {
            let state = self.shared.state.read().unwrap_or_else(|p| p.into_inner());
            if !matches!(state.mode, RouteMode::BlueGreen { .. }) {
                return Err(RouteError::Invalid(format!(
                    "switch is for blue/green routes; {} is {}",
                    self.shared.name,
                    mode_name(&state.mode)
                )));
            }
        }
        let backend = &self.shared.backends[index];
        if !force {
            let reason = match backend.unhealthy_reason() {
                Some(reason) => Some(reason),
                None => connect_check(backend).await.err(),
            };
            if let Some(reason) = reason {
                return Err(RouteError::Unhealthy { name: to.to_string(), reason });
            }
        }
        let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
        let mut next = state.mode.clone();
        if let RouteMode::BlueGreen { live, .. } = &mut next {
            if live == to {
                return Ok(());
            }
            *live = to.to_string();
        }
        let previous = std::mem::replace(&mut state.mode, next);
        state.previous = Some(previous);
        self.shared.recompile(&mut state)?;
        tracing::info!(route = %self.shared.name, live = to, force, "switched");
        Ok(())
    }

    /// Weighted: new weights (adding up to 100); the old ones are what a rollback returns to.
    pub fn set_weights(&self, weights: std::collections::BTreeMap<String, u32>) -> Result<(), RouteError> {
        weights_of(&self.shared.names, &weights)?;
        let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
        let mut next = state.mode.clone();
        match &mut next {
            RouteMode::Weighted { weights: current, .. } => *current = weights,
            other => {
                return Err(RouteError::Invalid(format!(
                    "weights are for weighted routes; {} is {}",
                    self.shared.name,
                    mode_name(other)
                )))
            }
        }
        let previous = std::mem::replace(&mut state.mode, next);
        state.previous = Some(previous);
        self.shared.recompile(&mut state)?;
        Ok(())
    }

    /// One step back: blue/green to the backend live before the last switch, weighted to the weights before
    /// the last change (a second rollback goes forward again); a ramp to 0 % on its new backend.
    pub fn rollback(&self) -> Result<(), RouteError> {
        let mut state = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
        match &state.mode {
            RouteMode::Ramped { .. } => {
                if let Some(ramp) = state.ramp.as_mut() {
                    ramp.phase = RampPhase::RolledBack;
                    ramp.reason = Some("rolled back on request".into());
                }
            }
            RouteMode::Shadow { .. } => {
                return Err(RouteError::Invalid(
                    "a shadow route only answers from its primary; there is nothing to roll back".into(),
                ))
            }
            _ => {
                let previous = state.previous.take().ok_or_else(|| {
                    RouteError::Conflict(format!(
                        "nothing to roll back to: {} was not switched or reweighted since it was made",
                        self.shared.name
                    ))
                })?;
                let current = std::mem::replace(&mut state.mode, previous);
                state.previous = Some(current);
            }
        }
        self.shared.recompile(&mut state)?;
        tracing::info!(route = %self.shared.name, "rolled back");
        Ok(())
    }

    /// The caller's word on a backend: its address now (None: it has none), and whether its HEALTHCHECK says
    /// it is unhealthy (with why).
    pub fn set_backend(
        &self,
        name: &str,
        addr: Option<SocketAddr>,
        unhealthy: Option<String>,
    ) -> Result<(), RouteError> {
        let backend = &self.shared.backends[index_of(&self.shared.names, name)?];
        backend.set_addr(addr);
        backend.mark(unhealthy);
        Ok(())
    }

    pub fn snapshot(&self) -> Snapshot {
        let state = self.shared.state.read().unwrap_or_else(|p| p.into_inner());
        let backends = self
            .shared
            .backends
            .iter()
            .zip(&state.table.weights)
            .map(|(backend, weight)| {
                let unhealthy_reason = backend.unhealthy_reason();
                BackendView {
                    name: backend.name.clone(),
                    target: String::new(),
                    address: backend.addr().map(|a| a.to_string()),
                    healthy: unhealthy_reason.is_none(),
                    unhealthy_reason,
                    weight: *weight,
                    counters: backend.stats.counters(),
                }
            })
            .collect();
        Snapshot {
            mode: state.mode.clone(),
            previous: state.previous.clone(),
            ramp: state.ramp.as_ref().map(Ramp::view),
            backends,
            shadow: state.table.shadow.map(|_| self.shared.shadow.view()),
        }
    }
}

fn mode_name(mode: &RouteMode) -> &'static str {
    match mode {
        RouteMode::BlueGreen { .. } => "blue/green",
        RouteMode::Weighted { .. } => "weighted",
        RouteMode::Ramped { .. } => "ramped",
        RouteMode::Shadow { .. } => "shadow",
    }
}

async fn accept(shared: Arc<Shared>, listener: TcpListener, closed: CancellationToken) {
    let _closed = closed.drop_guard();
    loop {
        let accepted = tokio::select! {
            _ = shared.stop.cancelled() => {
                drop(listener);
                return;
            }
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    match shared.protocol {
                        RouteProtocol::Http => super::http::serve(shared, stream, peer).await,
                        RouteProtocol::Tcp => super::tcp::serve(shared, stream).await,
                    }
                });
            }
            Err(error) => {
                // Out of descriptors, most likely: wait a little rather than spin.
                tracing::warn!(route = %shared.name, %error, "accepting a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A TCP connect to the backend's address, now.
async fn connect_check(backend: &Backend) -> Result<(), String> {
    let addr = backend.addr().ok_or_else(|| "no address".to_string())?;
    let outcome = match tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("connect to {addr}: {error}")),
        Err(_) => Err(format!("connect to {addr}: no answer within {PROBE_TIMEOUT:?}")),
    };
    backend.connect_failed(outcome.clone().err());
    outcome
}

/// Every backend with an address, every second: a failed connect takes it out of the choice, a working one
/// puts it back.
async fn probe(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = shared.stop.cancelled() => return,
            _ = tokio::time::sleep(PROBE_INTERVAL) => {}
        }
        let mut checks = tokio::task::JoinSet::new();
        for backend in shared.backends.iter().filter(|b| b.addr().is_some()).cloned() {
            checks.spawn(async move {
                let outcome = connect_check(&backend).await;
                (backend, outcome)
            });
        }
        while let Some(joined) = checks.join_next().await {
            if let Ok((backend, Err(reason))) = joined {
                tracing::debug!(route = %shared.name, backend = %backend.name, reason, "probe failed");
            }
        }
    }
}

/// A ramp's stepper: a step every interval; between steps, the guard watches the new backend's error rate.
async fn step_ramp(shared: Arc<Shared>) {
    let (to, interval, guard) = {
        let state = shared.state.read().unwrap_or_else(|p| p.into_inner());
        match &state.mode {
            RouteMode::Ramped { to, interval_ms, guard, .. } => {
                (index_of(&shared.names, to).unwrap_or(0), Duration::from_millis(*interval_ms), *guard)
            }
            _ => return,
        }
    };
    let window = Duration::from_millis(guard.window_ms);
    let tick = (interval.min(window) / 4).clamp(Duration::from_millis(20), Duration::from_millis(500));
    let mut next_step = Instant::now() + interval;
    loop {
        tokio::select! {
            _ = shared.stop.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
        }
        let (requests, errors) = shared.backends[to].stats.recent(window);
        let mut state = shared.state.write().unwrap_or_else(|p| p.into_inner());
        let Some(ramp) = state.ramp.as_mut() else { return };
        if ramp.phase != RampPhase::Ramping {
            return;
        }
        if let Some(reason) = trips(&guard, requests, errors) {
            tracing::warn!(route = %shared.name, %reason, "ramp stopped");
            ramp.fail(guard.on_failure, reason);
        } else if Instant::now() >= next_step {
            ramp.advance();
            next_step += interval;
        } else {
            continue;
        }
        if let Err(error) = shared.recompile(&mut state) {
            tracing::error!(route = %shared.name, %error, "ramp step");
        }
    }
}
