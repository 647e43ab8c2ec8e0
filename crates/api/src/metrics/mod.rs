//! `GET /metrics`: the daemon's figures in Prometheus's text format. Per running container its
//! cgroup's counters (read at scrape time, once each, through the same reading `docker stats` uses); for the
//! daemon, containers by state, each API request's latency by route, builds and image pulls. Operator only: a
//! session of a shared daemon is refused it (tenancy.rs), since it shows every tenant's containers.
//!
//! The exposition is Prometheus's text format 0.0.4 (prometheus-client's `prometheus_text` encoder), not
//! OpenMetrics: every Prometheus reads it, and so does `promtool check metrics`, which in the Debian 12 release
//! parses only that format and would see OpenMetrics counters (TYPE `x`, samples `x_total`) as untyped.

mod containers;
mod requests;
mod routes;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::registry::Registry;

use berth_build::BuildJobs;
use berth_engine::Engine;

use super::{ApiError, Caller};

pub(crate) use requests::track;

#[derive(Debug, thiserror::Error)]
enum MetricsError {
    #[error("encoding the metrics: {0}")]
    Encode(#[from] std::fmt::Error),
    #[error("the metrics scrape failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<MetricsError> for ApiError {
    fn from(error: MetricsError) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

/// The daemon's metrics: one registry for its lifetime. What the engine already knows (containers, builds) is
/// read from it at each scrape by collectors; what only the API sees (requests, pulls) is counted here as it
/// happens.
pub struct Metrics {
    registry: Registry,
    requests: requests::Requests,
    pulls: Counter,
}

impl Metrics {
    pub fn new(engine: Arc<Engine>, builds: Arc<BuildJobs>, routes: Arc<crate::routes::Routes>) -> Self {
        let mut registry = Registry::default();
        let requests = requests::Requests::default();
        requests.register(&mut registry);
        let pulls = Counter::default();
        registry.register(
            "berth_image_pulls",
            "Image pulls asked for (POST /images/create?fromImage=...)",
            pulls.clone(),
        );
        registry.register_collector(Box::new(Builds(builds)));
        registry.register_collector(Box::new(containers::Containers::new(engine)));
        registry.register_collector(Box::new(routes::RouteBackends(routes)));
        Metrics { registry, requests, pulls }
    }

    pub(crate) fn pull_started(&self) {
        self.pulls.inc();
    }

    /// The whole exposition. Blocking: the container collector reads every running container's cgroup files.
    fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut body = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut body, &self.registry)?;
        Ok(body)
    }
}

/// `GET /metrics`. Tenancy refuses sessions before routing; the check here holds whatever wraps the router.
pub(crate) async fn scrape(State(metrics): State<Arc<Metrics>>, caller: Caller) -> Result<Response, ApiError> {
    if !matches!(caller, Caller::Operator) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "the daemon's metrics are the operator's"));
    }
    let body = tokio::task::spawn_blocking(move || metrics.encode())
        .await
        .map_err(MetricsError::from)?
        .map_err(MetricsError::from)?;
    Ok(([(header::CONTENT_TYPE, prometheus_client::encoding::prometheus_text::CONTENT_TYPE)], body).into_response())
}

/// Builds since the daemon started, from the build jobs' own tallies.
struct Builds(Arc<BuildJobs>);

impl std::fmt::Debug for Builds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Builds")
    }
}

impl Collector for Builds {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let totals = self.0.totals();
        for (name, help, value) in [
            ("berth_builds_started", "Builds started (POST /build, POST /berth/builds)", totals.started),
            ("berth_builds_succeeded", "Builds that finished with an image", totals.succeeded),
            ("berth_builds_failed", "Builds that finished with an error", totals.failed),
        ] {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)?;
        }
        Ok(())
    }
}
