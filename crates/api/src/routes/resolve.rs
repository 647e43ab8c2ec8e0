//! A route's backends as the engine knows them: the container a reference or a compose service names (in the
//! caller's scope, so a session finds only its own), and where the router reaches it (its address on its network
//! and the port) with the container's word on its health.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use berth_engine::{Container, Engine, Scope};
use berth_shared::api::models::HealthStatusEnum;
use berth_shared::api::routes::BackendRef;

use crate::ApiError;

const PROJECT_LABEL: &str = "com.docker.compose.project";
const SERVICE_LABEL: &str = "com.docker.compose.service";

/// How long the port check at create waits for a container that does not EXPOSE the port to answer on it, and
/// how often it tries.
const PORT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
const PORT_CHECK_RETRY: Duration = Duration::from_millis(100);

/// The container a backend names: by reference (`web`, an id), or the first running container of a compose
/// service (the project's, when given).
pub(crate) fn container(engine: &Engine, scope: Scope<'_>, backend: &BackendRef) -> Result<Arc<Container>, ApiError> {
    match (&backend.container, &backend.service) {
        (Some(reference), None) => Ok(engine.container_in(scope, reference)?),
        (None, Some(service)) => {
            let of_service = |c: &Arc<Container>| {
                let record = c.record();
                let label = |key: &str| record.config.labels.as_ref().and_then(|l| l.get(key)).cloned();
                label(SERVICE_LABEL).as_deref() == Some(service.as_str())
                    && backend.project.as_ref().is_none_or(|p| label(PROJECT_LABEL).as_deref() == Some(p.as_str()))
            };
            let mut found: Vec<Arc<Container>> = engine.containers_in(scope).into_iter().filter(of_service).collect();
            // Running first; among those the oldest (compose's `_1`).
            found.sort_by_key(|c| (!c.status().is_running(), c.record().created));
            found.into_iter().next().ok_or_else(|| {
                let project = backend.project.as_deref().map(|p| format!(" of project {p}")).unwrap_or_default();
                ApiError::not_found(format!("No container of compose service {service}{project}"))
            })
        }
        _ => Err(ApiError::bad_request(format!(
            "backend {}: name either a container or a compose service (with its project)",
            backend.name
        ))),
    }
}

/// What the backend is to the router now: its address (None while it has none) and why it must get no traffic
/// (not running, or its HEALTHCHECK says unhealthy).
pub(crate) fn address(engine: &Engine, container: &Container, port: u16) -> (Option<SocketAddr>, Option<String>) {
    let record = container.snapshot();
    if !record.state.status.is_running() {
        return (None, Some(format!("container {} is not running", record.name)));
    }
    let view = engine.network_view_of(&record);
    let mut networks: Vec<_> = view.networks.into_iter().collect();
    networks.sort_by(|a, b| a.0.cmp(&b.0));
    let ip = networks
        .iter()
        .filter_map(|(_, settings)| settings.ip_address.as_deref())
        .find_map(|ip| ip.parse::<IpAddr>().ok());
    let Some(ip) = ip else {
        return (None, Some(format!("container {} has no address on a network", record.name)));
    };
    let unhealthy = record
        .state
        .health
        .as_ref()
        .and_then(|h| h.status)
        .filter(|s| *s == HealthStatusEnum::UNHEALTHY)
        .map(|_| format!("the HEALTHCHECK of container {} says unhealthy", record.name));
    (Some(SocketAddr::new(ip, port)), unhealthy)
}

/// At create: the container runs, and the port is one it EXPOSEs or answers a TCP connect on.
pub(crate) async fn check_port(container: &Container, addr: Option<SocketAddr>, port: u16) -> Result<(), ApiError> {
    let record = container.snapshot();
    if !record.state.status.is_running() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("container {} is not running: start it before routing to it", record.name),
        ));
    }
    let Some(addr) = addr else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("container {} has no address on a network to route to", record.name),
        ));
    };
    let exposed = record.config.exposed_ports.iter().flatten().any(|key| key == &format!("{port}/tcp"));
    if exposed {
        return Ok(());
    }
    // A container started a moment ago (`compose up`, then the route) may not listen yet: a few tries.
    let deadline = tokio::time::Instant::now() + PORT_CHECK_TIMEOUT;
    loop {
        if let Ok(Ok(_)) = tokio::time::timeout(PORT_CHECK_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::bad_request(format!(
                "container {} has no port {port}: it does not expose it and nothing answers on {addr}",
                record.name
            )));
        }
        tokio::time::sleep(PORT_CHECK_RETRY).await;
    }
}
