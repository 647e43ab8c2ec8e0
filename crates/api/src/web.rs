//! The web app: files built by Trunk into `<target>/web`, served at `/` beside the Engine API. Unknown Engine API
//! paths get Docker's JSON 404 rather than the app's page, because clients (`docker inspect` walks containers,
//! images, networks, volumes) must be able to tell "no such thing" from a page.

use std::path::PathBuf;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use tower::ServiceExt as _;
use tower_http::services::{ServeDir, ServeFile};

const NOT_BUILT: &str = "<!doctype html><title>Berth</title><h1>Berth</h1>\
<p>The daemon is running, but the web app has not been built. Run <code>cargo xtask run</code> to build and serve it.</p>";

/// First path segments that belong to the Engine API.
const API_PREFIXES: &[&str] = &[
    "containers",
    // The daemon's figures, never a page: a request for them must meet authentication (auth.rs serves non-API
    // paths without a session).
    "metrics",
    // Port URLs (`/s/{session}/p/{port}/`): a session's app, reached only with the session's credentials.
    "s",
    "images",
    "networks",
    "volumes",
    "exec",
    "build",
    "swarm",
    "services",
    "nodes",
    "tasks",
    "secrets",
    "configs",
    "plugins",
    "system",
    "session",
    "distribution",
    "auth",
    "commit",
    "events",
    "info",
    "version",
    "_ping",
    "grpc",
    "berth",
];

/// Where the built app is by default: `<dir of the berth binary>/../web` (that is `target/web`).
pub fn default_web_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.parent()?.parent()?.join("web");
    candidate.join("index.html").exists().then_some(candidate)
}

pub(crate) fn is_api_path(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    API_PREFIXES.contains(&first)
}

fn api_not_found(path: &str) -> Response {
    (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({ "message": format!("page not found: {path}") })))
        .into_response()
}

pub fn attach_web_app(router: Router, web_dir: Option<PathBuf>) -> Router {
    let web_dir = web_dir.or_else(default_web_dir);
    router.fallback(move |request: Request| {
        let web_dir = web_dir.clone();
        async move {
            let path = request.uri().path().to_string();
            if is_api_path(&path) {
                return api_not_found(&path);
            }
            match web_dir {
                Some(dir) => {
                    let index = dir.join("index.html");
                    // `cargo xtask web` writes .br and .gz copies beside each file.
                    let index = ServeFile::new(index).precompressed_br().precompressed_gzip();
                    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip().fallback(index);
                    match files.oneshot(request).await {
                        Ok(response) => response.into_response(),
                        Err(never) => match never {},
                    }
                }
                None => Html(NOT_BUILT).into_response(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_recognised() {
        assert!(is_api_path("/networks/nosuch"));
        assert!(is_api_path("/volumes"));
        assert!(!is_api_path("/"));
        assert!(!is_api_path("/berth-web-123.js"));
    }
}
