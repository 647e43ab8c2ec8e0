//! A session's requests confined to the session, before any handler looks anything up. Paths that name a
//! container (`/containers/{ref}/...`) are resolved in the session's scope and rewritten to the full id, so every
//! handler behind them (inspect, start, exec, attach, logs, archive, ... and any added later) can only reach the
//! session's own containers; another session's container is `No such container`, exactly as a missing one. An
//! exec is found only through its container. Endpoints not yet confined to a session are refused with 403 rather
//! than served unconfined. The operator passes unchanged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_engine::{Engine, EngineError};

use super::caller::Caller;
use super::ApiError;

/// What a path is to a session.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    /// Served as is: the handler scopes what it lists or makes by the caller (or it touches no one's objects).
    Open,
    /// Names a container: resolved in the session first.
    Container { reference: &'a str, rest: &'a str },
    /// Names a network: resolved among the session's own networks first.
    Network { reference: &'a str, rest: &'a str },
    /// Names an exec: found only through its container.
    Exec { id: &'a str },
    /// Not open to sessions; the reason says what.
    Closed(&'static str),
    /// A read of something a session has none of (another network, a volume, a plugin): not found, with dockerd's
    /// words, so a client walking every type (`docker inspect NAME`) moves on to the next.
    Missing(String),
}

fn classify<'a>(method: &Method, path: &'a str, query: &str) -> Route<'a> {
    let trimmed = path.trim_start_matches('/');
    let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let read = matches!(*method, Method::GET | Method::HEAD);
    match first {
        "_ping" | "version" | "info" | "events" | "auth" => Route::Open,
        // A node in no swarm answers 503 to everyone.
        "swarm" | "nodes" | "services" | "tasks" | "secrets" | "configs" => Route::Open,
        "containers" => match rest.split_once('/').unwrap_or((rest, "")) {
            ("json" | "create" | "prune", "") => Route::Open,
            ("", _) => Route::Open,
            (reference, tail) => Route::Container { reference, rest: after_object(path, tail) },
        },
        "exec" => match rest.split_once('/') {
            Some((id, _)) if !id.is_empty() => Route::Exec { id },
            _ => Route::Open,
        },
        // Base images are shared and read-only to sessions: they may list, inspect and pull them.
        "images" if read && (rest == "json" || rest.ends_with("/json") || rest.ends_with("/history")) => Route::Open,
        // A pull, not an import: `fromSrc` would have the daemon fetch any URL or take a tarball into the shared store.
        "images"
            if *method == Method::POST && rest == "create" && !query.split('&').any(|p| p.starts_with("fromSrc=")) =>
        {
            Route::Open
        }
        // A session's tags are its own (the engine keeps them under its repository); a shared image is refused.
        "images" if *method == Method::POST && rest.ends_with("/tag") => Route::Open,
        "images" if *method == Method::DELETE && !rest.is_empty() => Route::Open,
        // The handler resolves the container in the session and tags the image in its namespace.
        "commit" => Route::Open,
        "images" => Route::Closed("changing shared images"),
        // A session's build runs as the session (its containers, its images, its cache).
        "build" if rest.is_empty() => Route::Open,
        "build" => Route::Closed("the build cache"),
        // Every tenant's containers, by name and image: the operator's alone.
        "metrics" => Route::Closed("the daemon's metrics"),
        "system" => Route::Closed("disk usage"),
        // A session's networks are its own (names per owner in the engine); the handlers list and make only those.
        "networks" => match rest.split_once('/').unwrap_or((rest, "")) {
            ("" | "create" | "prune", "") => Route::Open,
            (reference, tail) => Route::Network { reference, rest: after_object(path, tail) },
        },
        // Each owner's volumes are apart in the engine: the handlers look only among the caller's.
        "volumes" => Route::Open,
        // Port URLs: the handler checks the path's session is the caller's before it looks anything up.
        "s" => Route::Open,
        "berth" => match rest {
            "terminals/ws" => Route::Open,
            "builds" => Route::Open,
            _ if rest.starts_with("builds/") && rest.ends_with("/events") => Route::Open,
            _ if rest == "session" || rest.starts_with("session/") => Route::Open,
            // A session's routes are its own (the handlers key them by owner) and go to its own containers.
            _ if rest == "routes" || rest.starts_with("routes/") => Route::Open,
            _ => Route::Closed("this part of the playground"),
        },
        _ if read => Route::Missing(format!("page not found: {path}")),
        _ => Route::Closed("this endpoint"),
    }
}

/// Before a session makes containers (its own or a build's): the engine holds its class's limits, which its
/// cgroup group gets and its quota checks read.
pub(crate) fn record_limits(engine: &Engine, caller: &Caller) -> Result<(), ApiError> {
    if let Caller::Session(session) = caller {
        let limits = session.limits;
        engine.set_tenant_limits(
            &session.id,
            berth_engine::TenantLimits {
                memory_bytes: limits.memory_bytes,
                nano_cpus: limits.nano_cpus,
                pids: limits.pids,
                containers: limits.containers,
                ports: limits.ports,
                disk_bytes: limits.disk_bytes,
            },
        )?;
    }
    Ok(())
}

/// What follows the object a path names (`/start` of `/containers/web/start`, with its slash): `tail` is the
/// rest after that slash, a suffix of `path`.
fn after_object<'a>(path: &'a str, tail: &str) -> &'a str {
    &path[path.len() - tail.len() - usize::from(!tail.is_empty())..]
}

/// What confinement needs: the engine to resolve names in, the identity store to audit refusals in.
pub(crate) struct Confinement {
    pub engine: Arc<Engine>,
    pub identity: Arc<berth_identity::Identity>,
}

/// Confines a session's request, and writes every refusal (403, 404 of a container or exec) to the audit log.
pub(crate) async fn confine(State(confinement): State<Arc<Confinement>>, request: Request, next: Next) -> Response {
    let session = match request.extensions().get::<Caller>().cloned() {
        Some(Caller::Session(session)) => session,
        Some(Caller::Account(user)) => return confine_account(&confinement, &user, request, next).await,
        _ => return next.run(request).await,
    };
    let target = format!("{} {}", request.method(), request.uri().path());
    let response = route(&confinement.engine, &session, request, next).await;
    let status = response.status();
    if status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND {
        let outcome = format!("refused: {}", status.as_u16());
        super::auth::audit(&confinement.identity, &format!("session:{}", session.id), "request", &target, &outcome)
            .await;
    }
    response
}

/// A signed-in account reaches its own sign-in, the class view (whose handlers check the class is the
/// account's) and, read-only, the terminals of its classes' sessions; no engine object.
async fn confine_account(
    confinement: &Confinement,
    user: &berth_identity::User,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let open = matches!(path, "/berth/account" | "/berth/logout")
        || path == "/berth/classes"
        || path.starts_with("/berth/classes/");
    if open {
        return next.run(request).await;
    }
    let refusal = if path == "/berth/terminals/ws" {
        match watchable(confinement, user, request.uri().query().unwrap_or("")).await {
            Ok(()) => return next.run(request).await,
            Err(refusal) => refusal,
        }
    } else {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} is signed in to the class view, which runs no containers: open a class's join link for a session",
                user.name
            ),
        )
    };
    let target = format!("{} {path}", request.method());
    let outcome = format!("refused: {}", refusal.status.as_u16());
    super::auth::audit(&confinement.identity, &format!("user:{}", user.name), "request", &target, &outcome).await;
    refusal.into_response()
}

/// An account may watch a terminal of a live session of one of its classes, and nothing else.
async fn watchable(confinement: &Confinement, user: &berth_identity::User, query: &str) -> Result<(), ApiError> {
    let query: berth_shared::api::terminal::TerminalQuery =
        serde_urlencoded::from_str(query).map_err(|e| ApiError::bad_request(format!("terminal query: {e}")))?;
    let Some(id) = query.session else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "the class view watches open terminals; it opens none"));
    };
    let unknown = || ApiError::from(EngineError::NotFound(format!("No such terminal session: {id}")));
    let terminal = confinement.engine.terminal(&id).map_err(|_| unknown())?;
    let owner = terminal.container.owner.clone().ok_or_else(unknown)?;
    let session = confinement.identity.session(&owner).await.map_err(|_| unknown())?;
    if session.ended.is_some() {
        return Err(unknown());
    }
    confinement.identity.class_of(user, &session.class).await.map_err(|_| unknown())?;
    Ok(())
}

async fn route(engine: &Engine, session: &Arc<berth_identity::Session>, mut request: Request, next: Next) -> Response {
    let rewritten = match classify(request.method(), request.uri().path(), request.uri().query().unwrap_or("")) {
        Route::Open => None,
        Route::Closed(what) => {
            return ApiError::new(StatusCode::FORBIDDEN, format!("{what}: not open to sessions on this daemon yet"))
                .into_response()
        }
        Route::Missing(message) => return ApiError::not_found(message).into_response(),
        Route::Exec { id } => {
            let mine = engine.exec(id).is_ok_and(|exec| exec.container.owner.as_deref() == Some(&session.id));
            if !mine {
                return ApiError::from(EngineError::NoSuchExec(id.to_string())).into_response();
            }
            None
        }
        Route::Container { reference, rest } => {
            match engine.container_in(berth_engine::Scope::Tenant(&session.id), reference) {
                Ok(container) => Some(format!("/containers/{}{rest}", container.id)),
                Err(error) => return ApiError::from(error).into_response(),
            }
        }
        Route::Network { reference, rest } => {
            match engine.network_in(berth_engine::Scope::Tenant(&session.id), reference) {
                Ok(network) => Some(format!("/networks/{}{rest}", network.id)),
                Err(error) => return ApiError::from(error).into_response(),
            }
        }
    };
    if let Some(path) = rewritten {
        let uri = match request.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        match uri.parse::<Uri>() {
            Ok(uri) => *request.uri_mut() = uri,
            Err(_) => return ApiError::bad_request("the request's path cannot be rewritten").into_response(),
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_resolved_and_the_rest_is_kept() {
        assert_eq!(
            classify(&Method::POST, "/containers/web/start", ""),
            Route::Container { reference: "web", rest: "/start" }
        );
        assert_eq!(
            classify(&Method::DELETE, "/containers/abc12", ""),
            Route::Container { reference: "abc12", rest: "" }
        );
        assert_eq!(
            classify(&Method::GET, "/containers/web/attach/ws", ""),
            Route::Container { reference: "web", rest: "/attach/ws" }
        );
        assert_eq!(classify(&Method::GET, "/containers/json", ""), Route::Open);
        assert_eq!(classify(&Method::POST, "/containers/create", ""), Route::Open);
        assert_eq!(classify(&Method::POST, "/exec/0123/start", ""), Route::Exec { id: "0123" });
    }

    #[test]
    fn what_is_not_confined_yet_is_closed() {
        assert_eq!(classify(&Method::POST, "/networks/create", ""), Route::Open);
        assert_eq!(classify(&Method::GET, "/networks", ""), Route::Open);
        assert_eq!(
            classify(&Method::POST, "/networks/web/connect", ""),
            Route::Network { reference: "web", rest: "/connect" }
        );
        assert_eq!(classify(&Method::DELETE, "/networks/web", ""), Route::Network { reference: "web", rest: "" });
        assert_eq!(classify(&Method::GET, "/volumes", ""), Route::Open);
        assert_eq!(classify(&Method::POST, "/volumes/create", ""), Route::Open);
        assert_eq!(classify(&Method::POST, "/build", ""), Route::Open);
        assert!(matches!(classify(&Method::POST, "/build/prune", ""), Route::Closed(_)));
        assert_eq!(classify(&Method::DELETE, "/images/busybox", ""), Route::Open);
        assert_eq!(classify(&Method::POST, "/images/busybox/tag", ""), Route::Open);
        assert!(matches!(classify(&Method::POST, "/images/busybox/push", ""), Route::Closed(_)));
        assert!(matches!(classify(&Method::POST, "/images/prune", ""), Route::Closed(_)));
        assert_eq!(classify(&Method::POST, "/commit", "container=web"), Route::Open);
        assert_eq!(classify(&Method::GET, "/berth/builds/0a1b/events", ""), Route::Open);
        assert!(matches!(classify(&Method::POST, "/berth/builds/predict", ""), Route::Closed(_)));
        assert!(matches!(classify(&Method::POST, "/berth/compose/x/up", ""), Route::Closed(_)));
        assert_eq!(classify(&Method::POST, "/berth/routes", ""), Route::Open);
        assert_eq!(classify(&Method::POST, "/berth/routes/web/switch", ""), Route::Open);
        assert!(matches!(classify(&Method::POST, "/plugins/pull", ""), Route::Closed(_)));
        assert!(matches!(classify(&Method::GET, "/metrics", ""), Route::Closed(_)));
        assert!(matches!(classify(&Method::GET, "/plugins/web/json", ""), Route::Missing(_)));
        assert_eq!(classify(&Method::GET, "/images/busybox/json", ""), Route::Open);
        assert_eq!(classify(&Method::POST, "/images/create", "fromImage=busybox&tag=latest"), Route::Open);
        assert!(matches!(classify(&Method::POST, "/images/create", "fromSrc=http://10.0.0.1/x.tar"), Route::Closed(_)));
    }
}
