//! Images: list, pull (streamed progress), history, tag, remove, prune, and Berth's per-layer file view.

use berth_shared::api::layers::ImageLayers;
use bollard_stubs::models::{CreateImageInfo, ImageHistoryResponseItem, ImageInspect, ImageSummary};

use super::{delete, encode, get_json, post, stream, DaemonError};
use crate::logic::image_reference::PullReference;
use crate::logic::json_lines::JsonLines;

pub async fn list() -> Result<Vec<ImageSummary>, DaemonError> {
    get_json("/images/json").await
}

/// `docker pull`: `POST /images/create?fromImage=&tag=`. Calls `on_messages` with dockerd's progress messages as
/// each chunk of the stream brings them (a fast pull sends thousands, so the page redraws once per chunk, not per
/// message), until the stream ends. A pull the daemon refuses to start (unknown image, bad name) is an `Err` with
/// its message; one that fails later ends with an `errorDetail` message instead, as dockerd's do.
pub async fn pull(
    reference: &PullReference,
    mut on_messages: impl FnMut(Vec<CreateImageInfo>),
) -> Result<(), DaemonError> {
    let url = format!("/images/create?fromImage={}&tag={}", encode(&reference.from_image), encode(&reference.tag));
    let mut body = stream::open("POST", &url, None).await?;
    let mut lines = JsonLines::default();
    // A line that is not JSON is kept as a status line rather than dropped.
    let as_message = |value: Result<CreateImageInfo, String>| {
        value.unwrap_or_else(|line| CreateImageInfo { status: Some(line), ..CreateImageInfo::default() })
    };
    while let Some(chunk) = body.next().await? {
        let messages: Vec<CreateImageInfo> = lines.push(&chunk).into_iter().map(as_message).collect();
        if !messages.is_empty() {
            on_messages(messages);
        }
    }
    if let Some(value) = lines.finish() {
        on_messages(vec![as_message(value)]);
    }
    Ok(())
}

pub async fn inspect(name: &str) -> Result<ImageInspect, DaemonError> {
    get_json(&format!("/images/{}/json", encode(name))).await
}

pub async fn history(name: &str) -> Result<Vec<ImageHistoryResponseItem>, DaemonError> {
    get_json(&format!("/images/{}/history", encode(name))).await
}

/// `GET /berth/images/{name}/layers`: what each layer changed (berth-shared `api::layers`).
pub async fn layers(name: &str) -> Result<ImageLayers, DaemonError> {
    get_json(&format!("/berth/images/{}/layers", encode(name))).await
}

pub async fn tag(name: &str, repo: &str, tag: &str) -> Result<(), DaemonError> {
    post(&format!("/images/{}/tag?repo={}&tag={}", encode(name), encode(repo), encode(tag))).await
}

pub async fn remove(name: &str) -> Result<(), DaemonError> {
    delete(&format!("/images/{}", encode(name))).await
}

/// Removes dangling images; returns the bytes reclaimed.
pub async fn prune() -> Result<u64, DaemonError> {
    let answer: serde_json::Value = super::post_json("/images/prune", &serde_json::json!({})).await?;
    Ok(answer.get("SpaceReclaimed").and_then(|space| space.as_u64()).unwrap_or(0))
}
