//! Routed ports (`/berth/routes`): the list, one route with its live counters, create, switch, rollback, new
//! weights and remove. The shapes are berth-shared's, as the daemon answers them.

use std::collections::BTreeMap;

use berth_shared::api::routes::{RouteCreate, RouteView, SwitchRequest, WeightsRequest};

use super::{delete, encode, get_json, post_json, DaemonError};

pub async fn list() -> Result<Vec<RouteView>, DaemonError> {
    get_json("/berth/routes").await
}

pub async fn inspect(name: &str) -> Result<RouteView, DaemonError> {
    get_json(&format!("/berth/routes/{}", encode(name))).await
}

pub async fn create(route: &RouteCreate) -> Result<RouteView, DaemonError> {
    post_json("/berth/routes", route).await
}

/// Blue/green: `to` becomes the live backend (an unhealthy one is refused: no force from the page).
pub async fn switch(name: &str, to: &str) -> Result<RouteView, DaemonError> {
    let body = SwitchRequest { to: to.to_string(), force: false };
    post_json(&format!("/berth/routes/{}/switch", encode(name)), &body).await
}

pub async fn rollback(name: &str) -> Result<RouteView, DaemonError> {
    post_json(&format!("/berth/routes/{}/rollback", encode(name)), &serde_json::json!({})).await
}

pub async fn set_weights(name: &str, weights: BTreeMap<String, u32>) -> Result<RouteView, DaemonError> {
    post_json(&format!("/berth/routes/{}/weights", encode(name)), &WeightsRequest { weights }).await
}

pub async fn remove(name: &str) -> Result<(), DaemonError> {
    delete(&format!("/berth/routes/{}", encode(name))).await
}
