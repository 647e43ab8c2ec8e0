//! /containers/{id}/exec, /exec/{id}/json and /exec/{id}/resize (start lives with attach).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::ExecConfig;

use super::body::JsonBody;
use super::error::ApiResult;
use berth_engine::Engine;

pub async fn create(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    JsonBody(config): JsonBody<ExecConfig>,
) -> ApiResult<Response> {
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
