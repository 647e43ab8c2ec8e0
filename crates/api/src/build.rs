//! `POST /build`: Docker's legacy builder endpoint. The body is the context as a tar stream (plain or compressed);
//! the answer is Docker's JSON stream, rendered from the builder's typed events. The build is a job
//! (`berth_build::jobs`), the same kind `/berth/builds` starts, so the playground can list and follow it too.

use std::collections::BTreeMap;
use std::sync::Arc;

use std::future::Future;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use berth_shared::api::build::legacy_messages;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;

use super::body::{limited_reader, require_build_context};
use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::flag;
use super::images::url_pairs;
use super::streams::streaming;
use berth_build::{BuildContext, BuildError, BuildJobs, BuildOptions, ContextSource};
use berth_engine::Engine;

#[derive(Debug, Default, Deserialize)]
struct BuildQuery {
    dockerfile: Option<String>,
    buildargs: Option<String>,
    labels: Option<String>,
    nocache: Option<String>,
    target: Option<String>,
    q: Option<String>,
    rm: Option<String>,
    forcerm: Option<String>,
    remote: Option<String>,
    pull: Option<String>,
    networkmode: Option<String>,
    cachefrom: Option<String>,
    squash: Option<String>,
    platform: Option<String>,
}

pub(super) fn options(raw_query: &str) -> ApiResult<(BuildOptions, bool, Option<ContextSource>)> {
    let pairs = url_pairs(raw_query);
    // A key given twice counts by its first value, as Go's FormValue reads it (docker-py sends `dockerfile` twice
    // for a Dockerfile outside the context).
    let mut map = serde_json::Map::new();
    for (key, value) in &pairs {
        if key != "t" && key != "extrahosts" && !map.contains_key(key) {
            map.insert(key.clone(), serde_json::Value::String(value.clone()));
        }
    }
    let every_value = |name: &str| -> Vec<String> {
        pairs.iter().filter(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.clone()).collect()
    };
    let query: BuildQuery = serde_json::from_value(serde_json::Value::Object(map)).unwrap_or_default();
    let build_args: BTreeMap<String, Option<String>> = match query.buildargs.as_deref().filter(|s| !s.is_empty()) {
        Some(json) => {
            serde_json::from_str(json).map_err(|e| ApiError::bad_request(format!("invalid buildargs: {e}")))?
        }
        None => BTreeMap::new(),
    };
    let labels: BTreeMap<String, String> = match query.labels.as_deref().filter(|s| !s.is_empty()) {
        Some(json) => serde_json::from_str(json).map_err(|e| ApiError::bad_request(format!("invalid labels: {e}")))?,
        None => BTreeMap::new(),
    };
    if flag(&query.squash) {
        return Err(ApiError::bad_request("squash is only supported with experimental mode"));
    }
    check_platform(query.platform.as_deref().unwrap_or(""))?;
    let cache_from: Vec<String> = match query.cachefrom.as_deref().filter(|s| !s.is_empty()) {
        Some(json) => {
            serde_json::from_str(json).map_err(|e| ApiError::bad_request(format!("invalid cachefrom: {e}")))?
        }
        None => Vec::new(),
    };
    let options = BuildOptions {
        dockerfile: query.dockerfile.filter(|d| !d.is_empty()).unwrap_or_else(|| "Dockerfile".into()),
        tags: every_value("t"),
        build_args,
        labels,
        no_cache: flag(&query.nocache),
        target: query.target.filter(|t| !t.is_empty()),
        remove: query.rm.is_none() || flag(&query.rm),
        force_remove: flag(&query.forcerm),
        pull: flag(&query.pull),
        extra_hosts: every_value("extrahosts"),
        network_mode: query.networkmode.filter(|m| !m.is_empty() && m != "default"),
        cache_from,
        owner: None,
    };
    let remote = match query.remote.filter(|r| !r.is_empty() && !r.starts_with("context")) {
        Some(remote) => Some(remote_source(&remote)?),
        None => None,
    };
    Ok((options, flag(&query.q), remote))
}

/// A build's `platform=`: parsed as containerd does (dockerd's words for a word that names no platform), and only
/// the host's, the one platform Berth runs.
fn check_platform(platform: &str) -> ApiResult<()> {
    if platform.trim().is_empty() {
        return Ok(());
    }
    let parsed = berth_engine::Platform::parse(platform).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !parsed.is_host() {
        return Err(ApiError::bad_request(format!(
            "platform {parsed} is not supported: this daemon builds for {} only",
            berth_engine::Platform::host()
        )));
    }
    Ok(())
}

/// What `remote=` may name over the API: a git repository elsewhere. A path on the daemon's host (or `file://`)
/// would let any client copy host files into an image as root, so dockerd refuses them and so does Berth.
fn remote_source(remote: &str) -> ApiResult<ContextSource> {
    match ContextSource::detect_remote(remote) {
        Some(source) => Ok(source),
        None if remote.starts_with("http://") || remote.starts_with("https://") => Err(ApiError::bad_request(format!(
            "remoteURL ({remote}): Berth builds from git repositories only, not from downloaded archives"
        ))),
        None => Err(ApiError::bad_request(format!("remoteURL ({remote}) could not be recognized as URL"))),
    }
}

fn json_line(value: &impl serde::Serialize) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.extend_from_slice(b"\r\n");
    Bytes::from(bytes)
}

/// The context of a build request: the request body as a tar stream, or `remote` (a git repository).
/// Unpacking reads the body as it arrives, on a blocking thread.
pub(super) fn context(
    engine: &Arc<Engine>,
    remote: Option<ContextSource>,
    request: Request,
) -> impl Future<Output = Result<BuildContext, BuildError>> + Send + 'static {
    let engine = engine.clone();
    let limits = engine.limits();
    let mut reader = limited_reader(request.into_body(), limits.max_upload);
    async move {
        match remote {
            Some(remote) => berth_build::open_context(&engine, remote).await,
            None => {
                let work = berth_build::work_dir(&engine);
                tokio::task::spawn_blocking(move || {
                    std::fs::create_dir_all(&work).map_err(|e| BuildError::io("create build dir", e))?;
                    let context = BuildContext::from_tar(&work, &mut reader, Some(limits.max_unpacked))?;
                    // The tar reader stops at the end-of-archive block; the record padding after it is still in
                    // flight. Answering before reading it makes the kernel reset the connection (unread data at
                    // close), and a browser can then lose the answer ("Failed to fetch").
                    std::io::copy(&mut reader, &mut std::io::sink()).map_err(|e| BuildError::Context(e.to_string()))?;
                    Ok(context)
                })
                .await
                .unwrap_or_else(|e| Err(BuildError::io("build context", std::io::Error::other(e))))
            }
        }
    }
}

/// The build options of `caller`'s request: a session's build is the session's, and may not have the daemon
/// fetch a repository (from the host's network).
pub(super) fn options_for(caller: &Caller, raw_query: &str) -> ApiResult<(BuildOptions, bool, Option<ContextSource>)> {
    let (mut options, quiet, remote) = options(raw_query)?;
    if let Some(tenant) = caller.tenant() {
        if remote.is_some() {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "remote (a git context the daemon fetches from the host's network): not allowed in a session",
            ));
        }
        options.owner = Some(tenant.to_string());
    }
    Ok((options, quiet, remote))
}

/// Starts a build job and answers with Docker's legacy stream rendered from its events. A client that goes
/// away does not stop the build.
pub async fn build(
    State(engine): State<Arc<Engine>>,
    State(builds): State<Arc<BuildJobs>>,
    caller: Caller,
    request: Request,
) -> ApiResult<Response> {
    require_build_context(request.headers(), engine.limits().max_upload)?;
    let (options, quiet, remote) = options_for(&caller, request.uri().query().unwrap_or(""))?;
    super::tenancy::record_limits(&engine, &caller)?;
    let context = context(&engine, remote, request);
    let job = builds.start(engine.clone(), options, context);
    let lines = job.follow().filter_map(move |batch| {
        let mut bytes = Vec::new();
        for recorded in batch {
            for message in legacy_messages(&recorded.event, quiet) {
                bytes.extend_from_slice(&json_line(&message));
            }
        }
        // `-q` renders most events as nothing: send no empty chunks.
        std::future::ready((!bytes.is_empty()).then(|| Ok::<_, std::convert::Infallible>(Bytes::from(bytes))))
    });
    Ok(streaming("application/json", Body::from_stream(lines)))
}
