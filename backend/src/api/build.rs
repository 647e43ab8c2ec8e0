//! `POST /build`: Docker's legacy builder endpoint. The body is the context as a tar stream (plain or compressed);
//! the answer is Docker's JSON stream, rendered from the builder's typed events.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use berth_shared::api::build::{legacy_messages, BuildEvent};
use bytes::Bytes;
use futures_util::TryStreamExt;
use serde::Deserialize;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::error::{ApiError, ApiResult};
use super::flag;
use super::images::url_pairs;
use super::streams::{channel_body, streaming};
use crate::build::{self, BuildContext, BuildOptions, ContextSource, Progress};
use crate::engine::Engine;

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
}

fn options(raw_query: &str) -> ApiResult<(BuildOptions, bool, Option<String>)> {
    let pairs = url_pairs(raw_query);
    let mut map = serde_json::Map::new();
    for (key, value) in &pairs {
        if key != "t" {
            map.insert(key.clone(), serde_json::Value::String(value.clone()));
        }
    }
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
    let options = BuildOptions {
        dockerfile: query.dockerfile.filter(|d| !d.is_empty()).unwrap_or_else(|| "Dockerfile".into()),
        tags: pairs.iter().filter(|(k, v)| k == "t" && !v.is_empty()).map(|(_, v)| v.clone()).collect(),
        build_args,
        labels,
        no_cache: flag(&query.nocache),
        target: query.target.filter(|t| !t.is_empty()),
        remove: query.rm.is_none() || flag(&query.rm),
        force_remove: flag(&query.forcerm),
    };
    Ok((options, flag(&query.q), query.remote.filter(|r| !r.is_empty())))
}

fn json_line(value: &impl serde::Serialize) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.extend_from_slice(b"\r\n");
    Bytes::from(bytes)
}

pub async fn build(State(engine): State<Arc<Engine>>, request: Request) -> ApiResult<Response> {
    let (options, quiet, remote) = options(request.uri().query().unwrap_or(""))?;
    let body = request.into_body().into_data_stream().map_err(std::io::Error::other);
    let reader = SyncIoBridge::new(StreamReader::new(body));
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(64);
    let (progress, mut events) = Progress::new();
    tokio::spawn(async move {
        let forward = tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                for message in legacy_messages(&event, quiet) {
                    // A client that went away does not stop the build.
                    let _ = sender.send(json_line(&message)).await;
                }
            }
        });
        let work = build::work_dir(&engine);
        let context = match remote {
            Some(remote) if !remote.starts_with("context") => {
                build::open_context(&engine, ContextSource::detect(&remote)).await
            }
            _ => tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&work).map_err(|e| build::BuildError::io("create build dir", e))?;
                BuildContext::from_tar(&work, reader)
            })
            .await
            .unwrap_or_else(|e| Err(build::BuildError::io("build context", std::io::Error::other(e)))),
        };
        match context {
            Ok(context) => {
                let _ = build::build(&engine, &context, &options, &progress).await;
                let _ = tokio::task::spawn_blocking(move || drop(context)).await;
            }
            Err(error) => {
                progress.emit(BuildEvent::Failed { message: error.to_string(), line: None, last_image_id: None })
            }
        }
        drop(progress);
        let _ = forward.await;
    });
    Ok(streaming("application/json", channel_body(receiver)))
}
