//! Networks and volumes: list, create by name, remove. Both endpoints are newer than the rest of Berth's API; the
//! pages say so when they answer 404.

use bollard_stubs::models::{Network, VolumeListResponse};
use serde_json::json;

use super::{delete, encode, get_json, post_json, DaemonError};

pub async fn networks() -> Result<Vec<Network>, DaemonError> {
    get_json("/networks").await
}

pub async fn volumes() -> Result<VolumeListResponse, DaemonError> {
    get_json("/volumes").await
}

/// A bridge network, as `docker network create <name>` makes it.
pub async fn create_network(name: &str) -> Result<(), DaemonError> {
    post_json::<_, serde_json::Value>("/networks/create", &json!({ "Name": name })).await.map(drop)
}

pub async fn remove_network(id: &str) -> Result<(), DaemonError> {
    delete(&format!("/networks/{}", encode(id))).await
}

pub async fn create_volume(name: &str) -> Result<(), DaemonError> {
    post_json::<_, serde_json::Value>("/volumes/create", &json!({ "Name": name })).await.map(drop)
}

pub async fn remove_volume(name: &str) -> Result<(), DaemonError> {
    delete(&format!("/volumes/{}", encode(name))).await
}
