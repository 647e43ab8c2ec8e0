//! `docker cp` (GET/HEAD/PUT /containers/{id}/archive) and `docker export`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::flag;
use super::streams::{channel_body, ChannelWriter};
use berth_engine::{Engine, EngineError};
use berth_image::archive::PathStat;
use berth_image::ImageError;

#[derive(Deserialize)]
pub struct ArchiveQuery {
    path: String,
    #[serde(rename = "noOverwriteDirNonDir")]
    no_overwrite_dir_non_dir: Option<String>,
}

fn not_found_in(container: &str, err: EngineError) -> ApiError {
    match err {
        EngineError::Image(ImageError::PathNotFound { path }) => {
            ApiError::not_found(format!("Could not find the file {path} in container {container}"))
        }
        other => other.into(),
    }
}

fn stat_header(stat: &PathStat) -> ApiResult<HeaderValue> {
    let json = serde_json::to_vec(stat).map_err(|e| ApiError::bad_request(e.to_string()))?;
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(json))
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

pub async fn head(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<ArchiveQuery>,
) -> ApiResult<Response> {
    let stat = engine.path_stat(&id, &query.path).await.map_err(|e| not_found_in(&id, e))?;
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert("X-Docker-Container-Path-Stat", stat_header(&stat)?);
    Ok(response)
}

pub async fn get(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<ArchiveQuery>,
) -> ApiResult<Response> {
    let stat = engine.path_stat(&id, &query.path).await.map_err(|e| not_found_in(&id, e))?;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        if let Err(err) = engine.copy_out(&id, &query.path, ChannelWriter::new(tx)).await {
            tracing::warn!(%err, "archive stream ended early");
        }
    });
    let mut response = Response::new(channel_body(rx));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    response.headers_mut().insert("X-Docker-Container-Path-Stat", stat_header(&stat)?);
    Ok(response)
}

pub async fn put(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<ArchiveQuery>,
    request: Request,
) -> ApiResult<StatusCode> {
    if let Err(refused) = engine.check_copy_in(&id, &query.path) {
        // Go's server reads the upload before it answers; a refusal that left it unread would reach the CLI as a
        // broken pipe instead of the reason.
        super::body::drain(request.into_body(), engine.limits().max_upload).await;
        return Err(not_found_in(&id, refused));
    }
    let reader = super::body::upload_reader(request, engine.limits().max_upload)?;
    let no_overwrite = flag(&query.no_overwrite_dir_non_dir);
    engine.copy_in(&id, &query.path, reader, no_overwrite).await.map_err(|e| not_found_in(&id, e))?;
    Ok(StatusCode::OK)
}

pub async fn export(State(engine): State<Arc<Engine>>, Path(id): Path<String>) -> ApiResult<Response> {
    engine.container(&id)?;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        if let Err(err) = engine.export(&id, ChannelWriter::new(tx)).await {
            tracing::warn!(%err, "export ended early");
        }
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/x-tar")
        .body(channel_body(rx))
        .unwrap_or_else(|_| Response::new(Body::empty())))
}
