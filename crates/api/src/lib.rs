//! The HTTP face of the daemon: the Docker Engine API (versioned `/v1.xx/...` and unversioned paths) over the unix
//! socket and the HTTP port, and the web app's files. Handlers decode, call one engine service, and encode;
//! nothing here touches the kernel.

mod activity;
mod admin;
mod archive;
mod attach;
mod audit;
mod auth;
mod body;
mod build;
mod build_jobs;
mod caller;
mod class_view;
mod compose;
mod container_filter;
mod container_views;
mod create_request;
mod detach_keys;
mod containers;
mod disk_usage;
mod distribution;
mod error;
mod event_filter;
mod event_time;
mod exec;
mod expiry;
mod http_guard;
mod images;
mod networks;
mod playground;
mod port_urls;
mod prune_answer;
mod prune_filter;
mod routes;
mod layers;
mod metrics;
mod session;
mod session_policy;
mod sign_in;
mod streams;
mod swarm;
mod system;
mod tenancy;
mod terminal;
mod volumes;
mod web;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::Request;
use axum::routing::{any, get, head, post};
use axum::Router;

pub use auth::{Accounts, SESSION_COOKIE};
pub use caller::Caller;
pub use error::ApiError;
pub use expiry::spawn_reaper;
pub use http_guard::HttpGuard;

use axum::extract::FromRef;
use berth_build::BuildJobs;
use berth_engine::Engine;
use playground::compose::ComposeRunner;

/// What every handler may reach: the engine, and the build jobs running on it. The unix socket and the HTTP port
/// serve one `Daemon`, so a build started on one is followed on the other.
#[derive(Clone)]
pub struct Daemon {
    engine: Arc<Engine>,
    builds: Arc<BuildJobs>,
    compose: Arc<ComposeRunner>,
    metrics: Arc<metrics::Metrics>,
    routes: Arc<routes::Routes>,
}

impl Daemon {
    /// `daemon_host` is where the playground's compose commands reach this daemon (`unix:///run/berth.sock`).
    pub fn new(engine: Arc<Engine>, daemon_host: String) -> Self {
        let builds: Arc<BuildJobs> = Arc::default();
        let routes = Arc::new(routes::Routes::new(engine.clone()));
        let metrics = Arc::new(metrics::Metrics::new(engine.clone(), builds.clone(), routes.clone()));
        Daemon { engine, builds, compose: Arc::new(ComposeRunner::new(daemon_host)), metrics, routes }
    }

    /// Binds the routes recorded under the root again (after the engine adopted the containers they go to) and
    /// starts watching their backends.
    pub async fn restore_routes(&self) {
        self.routes.restore().await;
    }
}

impl FromRef<Daemon> for Arc<routes::Routes> {
    fn from_ref(daemon: &Daemon) -> Self {
        daemon.routes.clone()
    }
}

impl FromRef<Daemon> for Arc<ComposeRunner> {
    fn from_ref(daemon: &Daemon) -> Self {
        daemon.compose.clone()
    }
}

impl FromRef<Daemon> for Arc<Engine> {
    fn from_ref(daemon: &Daemon) -> Self {
        daemon.engine.clone()
    }
}

impl FromRef<Daemon> for Arc<metrics::Metrics> {
    fn from_ref(daemon: &Daemon) -> Self {
        daemon.metrics.clone()
    }
}

impl FromRef<Daemon> for Arc<BuildJobs> {
    fn from_ref(daemon: &Daemon) -> Self {
        daemon.builds.clone()
    }
}

pub const API_VERSION: &str = "1.50";
pub const MIN_API_VERSION: &str = "1.24";

/// Docker's boolean query values: `1`, `true`, `True`.
pub(crate) fn flag(value: &Option<String>) -> bool {
    matches!(value.as_deref(), Some("1") | Some("true") | Some("True") | Some("yes"))
}

/// `?h=&w=` of the container and exec resize endpoints; Docker's defaults when absent.
#[derive(serde::Deserialize)]
pub(crate) struct ResizeQuery {
    h: Option<u16>,
    w: Option<u16>,
}

impl ResizeQuery {
    pub(crate) fn rows_cols(&self) -> (u16, u16) {
        (self.h.unwrap_or(24), self.w.unwrap_or(80))
    }
}

/// Strips `/v1.45` from the path so one router serves versioned and unversioned requests.
fn strip_version(mut request: Request) -> Request {
    let path = request.uri().path();
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some(slash) = rest.find('/') {
            let version = &rest[..slash];
            if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.') {
                let new_path = rest[slash..].to_string();
                let new_uri = match request.uri().query() {
                    Some(query) => format!("{new_path}?{query}"),
                    None => new_path,
                };
                if let Ok(uri) = new_uri.parse() {
                    *request.uri_mut() = uri;
                }
            }
        }
    }
    request
}

pub fn router(daemon: Daemon, web_dir: Option<PathBuf>) -> Router {
    let metrics = daemon.metrics.clone();
    let api = Router::new()
        .route("/_ping", get(system::ping).head(system::ping_head))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/auth", post(distribution::login))
        .route("/events", get(system::events))
        .route("/system/df", get(disk_usage::system_df))
        .route("/containers/json", get(containers::list))
        .route("/containers/create", post(containers::create))
        .route("/containers/prune", post(containers::prune))
        .route("/containers/{id}/json", get(containers::inspect_one))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/pause", post(containers::pause))
        .route("/containers/{id}/unpause", post(containers::unpause))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/attach", post(attach::attach))
        .route("/containers/{id}/attach/ws", get(attach::attach_ws))
        .route("/containers/{id}/logs", get(containers::logs))
        .route("/containers/{id}/top", get(containers::top))
        .route("/containers/{id}/stats", get(containers::stats))
        .route("/containers/{id}/changes", get(containers::changes))
        .route("/containers/{id}/export", get(archive::export))
        .route("/containers/{id}/archive", head(archive::head).get(archive::get).put(archive::put))
        .route("/containers/{id}/resize", post(containers::resize))
        .route("/containers/{id}/rename", post(containers::rename))
        .route("/containers/{id}/update", post(containers::update))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/containers/{id}", axum::routing::delete(containers::delete))
        .route("/containers/{id}/{link}", axum::routing::delete(containers::delete_link))
        .route("/exec/{id}/start", post(attach::exec_start))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/images/json", get(images::list))
        .route("/images/create", post(images::create))
        .route("/images/prune", post(images::prune))
        .route("/images/get", get(images::save))
        .route("/images/load", post(images::load))
        .route("/images/{*rest}", get(images::image_get).post(images::image_post).delete(images::image_delete))
        .route("/commit", post(images::commit))
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route("/networks/{id}", get(networks::inspect).delete(networks::delete))
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route("/volumes/{name}", get(volumes::inspect).delete(volumes::delete))
        .route("/berth/terminals/ws", get(terminal::terminal_ws))
        .route("/build", post(build::build))
        .route("/build/prune", post(disk_usage::build_prune))
        .route("/berth/builds", get(build_jobs::list).post(build_jobs::create))
        .route("/berth/builds/predict", post(build_jobs::predict))
        .route("/berth/builds/{id}/events", get(build_jobs::events))
        .route("/berth/images/diff", get(layers::image_diff))
        .route("/berth/images/{*rest}", get(layers::image_layers))
        .route("/berth/compose/{project}/up", post(compose::up))
        .route("/berth/compose/{project}/down", post(compose::down))
        .route("/swarm", get(swarm::not_a_manager))
        .route("/swarm/unlockkey", get(swarm::not_a_manager))
        .route("/swarm/init", post(swarm::no_swarm_mode))
        .route("/swarm/join", post(swarm::no_swarm_mode))
        .route("/swarm/leave", post(swarm::not_in_a_swarm))
        .route("/swarm/update", post(swarm::not_in_a_swarm))
        .route("/swarm/unlock", post(swarm::not_in_a_swarm))
        .route("/nodes", any(swarm::not_a_manager))
        .route("/nodes/{*rest}", any(swarm::not_a_manager))
        .route("/services", any(swarm::not_a_manager))
        .route("/services/{*rest}", any(swarm::not_a_manager))
        .route("/tasks", any(swarm::not_a_manager))
        .route("/tasks/{*rest}", any(swarm::not_a_manager))
        .route("/secrets", any(swarm::not_a_manager))
        .route("/secrets/{*rest}", any(swarm::not_a_manager))
        .route("/configs", any(swarm::not_a_manager))
        .route("/configs/{*rest}", any(swarm::not_a_manager))
        .route("/berth/routes", get(routes::list).post(routes::create))
        .route("/berth/routes/{name}", get(routes::inspect).delete(routes::delete))
        .route("/berth/routes/{name}/{action}", post(routes::act))
        .route("/berth/audit", get(audit::all))
        .route("/berth/audit/{id}", get(audit::one))
        .route("/metrics", get(metrics::scrape))
        .with_state(daemon)
        // Router::layer runs after routing, where the matched route's template is known.
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::track));
    web::attach_web_app(api, web_dir)
}

/// The router behind the version-stripping rewrite, as `axum::serve` takes it.
pub type Service = axum::routing::IntoMakeService<tower::util::MapRequest<Router, fn(Request) -> Request>>;

/// The unix socket's service: the router with version stripping in front, every request the operator's (the
/// socket's file mode is its access control), and `/berth/admin/...` when the daemon has accounts.
pub fn service(daemon: Daemon, web_dir: Option<PathBuf>, identity: Option<Arc<berth_identity::Identity>>) -> Service {
    let engine = daemon.engine.clone();
    let mut router = router(daemon, web_dir);
    if let Some(identity) = identity {
        router = admin::routes(identity, engine).merge(router);
    }
    serve_router(router.layer(axum::middleware::from_fn(caller::operator)))
}

/// Who may use the HTTP port.
pub enum HttpAccess {
    /// Whoever reaches it is the operator (`--auth none`: loopback, or `--insecure-open`).
    Open,
    /// Each request names a session, and sees only that session's objects (`--auth accounts`).
    Accounts(Arc<Accounts>),
}

/// The HTTP port's service: the same router behind the guard against foreign web pages and DNS rebinding, and
/// with accounts, behind authentication and each session's confinement.
pub fn http_service(daemon: Daemon, web_dir: Option<PathBuf>, guard: HttpGuard, access: HttpAccess) -> Service {
    let engine = daemon.engine.clone();
    let router = router(daemon, web_dir);
    let router = match access {
        HttpAccess::Open => router.layer(axum::middleware::from_fn(caller::operator)),
        HttpAccess::Accounts(accounts) => {
            let joining = Router::new()
                .route("/berth/join/{token}", get(auth::join))
                .layer(axum::Extension(engine.clone()))
                .with_state(accounts.clone());
            let class_view = class_view::ClassView { identity: accounts.identity.clone(), engine: engine.clone() };
            let classes = Router::new()
                .route("/berth/classes", get(class_view::list).post(class_view::create))
                .route("/berth/classes/{class}/links", post(class_view::new_link).delete(class_view::revoke_links))
                .route("/berth/classes/{class}/sessions", get(class_view::sessions))
                .route("/berth/classes/{class}/sessions/{id}/{action}", post(class_view::act))
                .route("/berth/classes/{class}/broadcast", post(class_view::broadcast))
                .route("/berth/classes/{class}/audit", get(class_view::audit))
                .with_state(class_view);
            let inner = Router::new()
                .route("/berth/session", get(session::info))
                .route("/berth/session/extend", post(session::extend))
                .route("/berth/session/tokens", post(session::new_cli_token))
                .route(sign_in::SIGN_IN_PATH, post(sign_in::sign_in))
                .route("/s/{session}/p/{port}", axum::routing::any(port_urls::root))
                .route("/s/{session}/p/{port}/", axum::routing::any(port_urls::forward).with_state(engine.clone()))
                .route(
                    "/s/{session}/p/{port}/{*rest}",
                    axum::routing::any(port_urls::forward).with_state(engine.clone()),
                )
                .route("/berth/logout", post(sign_in::sign_out))
                .route("/berth/account", get(sign_in::account))
                .with_state(accounts.clone())
                .merge(classes)
                .merge(joining)
                .merge(router);
            let confinement = Arc::new(tenancy::Confinement { engine, identity: accounts.identity.clone() });
            // Around the router, not inside it (Router::layer runs after routing): confinement rewrites container
            // paths to full ids, and the router must route the rewritten path.
            let confined = tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(accounts, auth::authenticate))
                .layer(axum::middleware::from_fn_with_state(confinement, tenancy::confine))
                .service(inner);
            Router::new().fallback_service(confined)
        }
    };
    let guarded = router.layer(axum::middleware::from_fn_with_state(Arc::new(guard), http_guard::guard));
    serve_router(guarded)
}

fn serve_router(router: Router) -> Service {
    use tower::ServiceExt as _;
    let router = router.layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response));
    let app = router.map_request(strip_version as fn(Request) -> Request);
    axum::ServiceExt::<Request>::into_make_service(app)
}

/// A handler that panics is a bug: the client gets a 500 in Docker's error shape, the log says where, and the
/// daemon keeps serving.
fn panic_response(panic: Box<dyn std::any::Any + Send>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
    tracing::error!(panic = detail, "a request handler panicked");
    ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal error: the request handler failed")
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefix_is_stripped() {
        let request = Request::builder().uri("/v1.50/containers/json?all=1").body(axum::body::Body::empty()).unwrap();
        assert_eq!(strip_version(request).uri().to_string(), "/containers/json?all=1");
        let request = Request::builder().uri("/version").body(axum::body::Body::empty()).unwrap();
        assert_eq!(strip_version(request).uri().to_string(), "/version");
        let request = Request::builder().uri("/volumes").body(axum::body::Body::empty()).unwrap();
        assert_eq!(strip_version(request).uri().to_string(), "/volumes");
    }
}
