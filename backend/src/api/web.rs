//! The web app: files built by Trunk into `<target>/web`, served at `/` beside the Engine API.

use std::path::PathBuf;

use axum::response::Html;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

const NOT_BUILT: &str = "<!doctype html><title>Berth</title><h1>Berth</h1>\
<p>The daemon is running, but the web app has not been built. Run <code>cargo xtask run</code> to build and serve it.</p>";

/// Where the built app is by default: `<dir of the berth binary>/../web` (that is `target/web`).
pub fn default_web_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.parent()?.parent()?.join("web");
    candidate.join("index.html").exists().then_some(candidate)
}

pub fn attach_web_app(router: Router, web_dir: Option<PathBuf>) -> Router {
    match web_dir.or_else(default_web_dir) {
        Some(dir) => {
            let index = dir.join("index.html");
            router.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => router.fallback(|| async { Html(NOT_BUILT) }),
    }
}
