//! Building an image as a daemon build job (berth-shared `api::build_jobs`): the context goes up as a tar, the
//! daemon answers a job id, and the job's typed events are read from the first one on. A page that reloads keeps
//! the id and follows the same job again. The cache prediction takes the same tar. The list of recent jobs tells the
//! images page which images were built here.

use berth_shared::api::build_jobs::{BuildJobCreated, BuildJobEvent, BuildJobSummary, BuildPrediction};
use gloo_net::http::{Method, Request};
use js_sys::Uint8Array;

use super::{encode, get_json, send, stream, DaemonError};
use crate::logic::json_lines::JsonLines;

fn tar_request(url: &str, context_tar: &[u8]) -> Result<Request, gloo_net::Error> {
    super::request(Method::POST, url).header("Content-Type", "application/x-tar").body(Uint8Array::from(context_tar))
}

/// Starts a build of the context, tagged `tag`; returns the job id.
pub async fn start(context_tar: &[u8], tag: &str) -> Result<String, DaemonError> {
    let url = format!("/berth/builds?t={}&rm=1&forcerm=1", encode(tag));
    let response = send(tar_request(&url, context_tar)).await?;
    let created: BuildJobCreated = response.json().await.map_err(|error| DaemonError::Decode(error.to_string()))?;
    Ok(created.id)
}

/// Calls `on_event` for every event of the job, from its first, until the job ends.
pub async fn follow(id: &str, mut on_event: impl FnMut(BuildJobEvent)) -> Result<(), DaemonError> {
    let mut body = stream::open("GET", &format!("/berth/builds/{}/events", encode(id)), None).await?;
    let mut lines = JsonLines::default();
    let mut deliver = |value: Result<BuildJobEvent, String>| match value {
        Ok(event) => {
            on_event(event);
            Ok(())
        }
        Err(text) => Err(DaemonError::Decode(format!("not a build event: {text}"))),
    };
    while let Some(chunk) = body.next().await? {
        for value in lines.push::<BuildJobEvent>(&chunk) {
            deliver(value)?;
        }
    }
    if let Some(value) = lines.finish::<BuildJobEvent>() {
        deliver(value)?;
    }
    Ok(())
}

/// Which steps of a build of this context the daemon's cache would answer.
pub async fn predict(context_tar: &[u8]) -> Result<BuildPrediction, DaemonError> {
    let response = send(tar_request("/berth/builds/predict", context_tar)).await?;
    response.json().await.map_err(|error| DaemonError::Decode(error.to_string()))
}

/// The daemon's recent build jobs, newest first (it keeps the running ones and the last few finished).
pub async fn jobs() -> Result<Vec<BuildJobSummary>, DaemonError> {
    get_json("/berth/builds").await
}
