//! /containers/{id}/exec, /exec/{id}/json and /exec/{id}/resize (start lives with attach).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::ExecConfig;

use super::body::JsonBody;
use super::error::{ApiError, ApiResult};
use berth_engine::Engine;

pub async fn create(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    JsonBody(mut body): JsonBody<serde_json::Value>,
) -> ApiResult<Response> {
    // Go's JSON decoder matches keys without case, and docker-py sends `detachKeys` (from config.json) so.
    if let Some(object) = body.as_object_mut() {
        if !object.contains_key("DetachKeys") {
            if let Some(keys) = object.remove("detachKeys") {
                object.insert("DetachKeys".into(), keys);
            }
        }
    }
    let config: ExecConfig = if body.is_null() {
        ExecConfig::default()
    } else {
        serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?
    };
    super::attach::detach_keys(config.detach_keys.as_deref(), "escape")?;
    let exec_id = engine.exec_create(&id, config)?;
    Ok(created_id(exec_id))
}

/// `201 {"Id": ...}`, Docker's IDResponse (exec create, commit). Written by hand: bollard-stubs' `IdResponse` is a
/// client's model, reading `Id` and `ID` but writing `id` (fussybeaver/bollard#586), and docker-py reads `["Id"]`.
pub(crate) fn created_id(id: String) -> Response {
    (StatusCode::CREATED, Json(serde_json::json!({ "Id": id }))).into_response()
}

pub async fn inspect(State(engine): State<Arc<Engine>>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(engine.exec(&id)?.inspect()).into_response())
}

pub async fn resize(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<super::ResizeQuery>,
) -> ApiResult<StatusCode> {
    let (rows, cols) = query.rows_cols();
    engine.exec_resize(&id, rows, cols)?;
    Ok(StatusCode::OK)
}
