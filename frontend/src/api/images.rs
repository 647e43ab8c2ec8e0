//! Images: list, history, tag, remove, prune, and Berth's per-layer file view.

use berth_shared::api::layers::ImageLayers;
use bollard_stubs::models::{ImageHistoryResponseItem, ImageInspect, ImageSummary};

use super::{delete, encode, get_json, post, DaemonError};

pub async fn list() -> Result<Vec<ImageSummary>, DaemonError> {
    get_json("/images/json").await
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
