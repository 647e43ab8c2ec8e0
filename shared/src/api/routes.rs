//! Routed ports (`/berth/routes`): a host port whose traffic the daemon sends to one or more backends, in one of
//! the forms of releasing side by side (blue/green, weighted A/B, ramped, shadow). The request names backends by
//! container (or compose service) and port; the view adds each backend's address, health and counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the route's port speaks: HTTP/1.1 (each request chosen on its own) or plain TCP (each connection).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteProtocol {
    #[default]
    Http,
    Tcp,
}

/// How a client is kept on the backend it got first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sticky {
    /// The router sets this cookie to the backend's name and honours it while that backend has a weight.
    Cookie(String),
    /// The same value of this request header always lands on the same backend (for the same weights).
    Header(String),
}

/// A rule of a weighted route: a request matching `when` goes to `backend`. `when` is one of
/// `header:NAME=VALUE`, `path:/PREFIX`, `cookie:NAME=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRule {
    pub when: String,
    pub backend: String,
}

/// What a ramp does when the new backend fails too often.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Stop stepping; the weight stays where it was.
    Pause,
    /// Back to 0 % on the new backend.
    #[default]
    Rollback,
}

/// When a ramp stops: the new backend's error rate (5xx answers and failed connections) over a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RampGuard {
    /// A fraction: 0.1 is 10 % of the window's requests.
    pub error_rate: f64,
    pub window_ms: u64,
    /// Fewer requests than this in the window say nothing yet.
    pub min_requests: u64,
    pub on_failure: OnFailure,
}

impl Default for RampGuard {
    fn default() -> Self {
        RampGuard { error_rate: 0.1, window_ms: 10_000, min_requests: 5, on_failure: OnFailure::Rollback }
    }
}

pub const DEFAULT_DRAIN_MS: u64 = 5_000;

fn default_drain_ms() -> u64 {
    DEFAULT_DRAIN_MS
}

/// The route's form, with its current values (a switch changes `live`, a weights update `weights`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteMode {
    /// One live backend; connections to the one switched away from may finish for `drain_ms`.
    BlueGreen {
        live: String,
        #[serde(default = "default_drain_ms")]
        drain_ms: u64,
    },
    /// Weights per backend name, adding up to 100.
    Weighted {
        weights: BTreeMap<String, u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sticky: Option<Sticky>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rules: Vec<RouteRule>,
    },
    /// `to`'s weight stepped from 0 to 100 % in `steps` steps, one every `interval_ms`.
    Ramped {
        from: String,
        to: String,
        steps: u32,
        interval_ms: u64,
        #[serde(default)]
        guard: RampGuard,
    },
    /// Every request to both; the client gets `primary`'s answer, the two are compared.
    Shadow { primary: String, shadow: String },
}

/// A backend as the request names it: a container (name or id) or a compose service, and its port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendRef {
    /// What the mode's fields call it (`blue`, `green`, `v2`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// A compose service (`service`, with `project`): its first running container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub port: u16,
}

/// `POST /berth/routes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteCreate {
    pub name: String,
    pub host_port: u16,
    /// Where to listen; all interfaces when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    #[serde(default)]
    pub protocol: RouteProtocol,
    pub backends: Vec<BackendRef>,
    pub mode: RouteMode,
}

/// `POST /berth/routes/{name}/switch`: blue/green's live backend. An unhealthy one is refused unless `force`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchRequest {
    pub to: String,
    #[serde(default)]
    pub force: bool,
}

/// `POST /berth/routes/{name}/weights`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsRequest {
    pub weights: BTreeMap<String, u32>,
}

/// One bucket of a latency histogram: answers that took at most `le_ms` (cumulative, as Prometheus's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyBucket {
    pub le_ms: f64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendCounters {
    /// HTTP requests (or TCP connections) sent to it.
    pub requests: u64,
    /// 5xx answers, failed connections and answers that broke off.
    pub errors: u64,
    pub connect_failures: u64,
    /// Requests or connections under way now.
    pub active: u64,
    /// Time to the answer's head (HTTP) or to the connection (TCP), cumulative; past the last bucket's bound
    /// the answers are counted in `latency_count` only.
    pub latency_buckets: Vec<LatencyBucket>,
    /// Answers with a latency (all but failed connects).
    pub latency_count: u64,
    pub latency_sum_ms: f64,
}

/// A backend of a route as it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendView {
    pub name: String,
    /// What it was asked as (`web:80`, `compose demo/web:80`).
    pub target: String,
    /// Where the router connects (`172.18.0.2:80`); absent while the container has no address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub healthy: bool,
    /// Why it gets no traffic, when it gets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_reason: Option<String>,
    /// Its share of new requests now, in percent.
    pub weight: u32,
    pub counters: BackendCounters,
}

/// A request whose two answers differed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowSample {
    pub method: String,
    pub path: String,
    pub primary_status: u16,
    /// 0: the shadow gave no answer (refused or broke off).
    pub shadow_status: u16,
    pub primary_body_sha256: String,
    pub shadow_body_sha256: String,
    pub primary_ms: u64,
    pub shadow_ms: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// Shadow mode's comparison so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowView {
    pub compared: u64,
    pub differences: u64,
    pub status_differences: u64,
    pub body_differences: u64,
    /// Requests not sent to the shadow (a body past the copy limit) or whose comparison did not finish.
    pub skipped: u64,
    pub primary_latency_sum_ms: f64,
    pub shadow_latency_sum_ms: f64,
    /// The newest mismatching requests, oldest first (a bounded number).
    pub samples: Vec<ShadowSample>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RampPhase {
    Ramping,
    Paused,
    RolledBack,
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RampView {
    pub step: u32,
    pub steps: u32,
    /// The new backend's weight now, in percent.
    pub weight: u32,
    pub phase: RampPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /berth/routes/{name}` (and each entry of `GET /berth/routes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteView {
    pub name: String,
    pub host_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    pub protocol: RouteProtocol,
    pub mode: RouteMode,
    /// Whether `rollback` has a previous state to go back to.
    pub can_roll_back: bool,
    pub backends: Vec<BackendView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<RampView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowView>,
}
