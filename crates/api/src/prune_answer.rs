//! The answers of the prune endpoints as dockerd writes them: Go's nil slice, so a prune that removed nothing says
//! `null` (`{"ContainersDeleted":null,"SpaceReclaimed":0}`); clients test for it (docker-py's `is None`).
//! Volume prune is the exception: dockerd answers `[]` there.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

/// `{"<key>": [...] or null, "SpaceReclaimed": n}`; without `reclaimed`, only the list (network prune).
pub(crate) fn answer<T: Serialize>(key: &str, deleted: Vec<T>, reclaimed: Option<u64>) -> Response {
    let list = if deleted.is_empty() { Value::Null } else { json!(deleted) };
    let mut body = serde_json::Map::new();
    body.insert(key.to_string(), list);
    if let Some(reclaimed) = reclaimed {
        body.insert("SpaceReclaimed".into(), json!(reclaimed));
    }
    Json(Value::Object(body)).into_response()
}
