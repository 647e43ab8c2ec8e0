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
use berth_image::{archive, ImageError};

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

fn stat_header(stat: &archive::PathStat) -> ApiResult<HeaderValue> {
    let json = serde_json::to_vec(stat).map_err(|e| ApiError::bad_request(e.to_string()))?;
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(json))
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

pub async fn head(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<ArchiveQuery>,
) -> ApiResult<Response> {
    let path = query.path.clone();
    let stat = engine
        .with_rootfs(&id, move |root| Ok(archive::stat(&root, &path)?))
        .await
        .map_err(|e| not_found_in(&id, e))?;
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert("X-Docker-Container-Path-Stat", stat_header(&stat)?);
    Ok(response)
}

pub async fn get(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<ArchiveQuery>,
) -> ApiResult<Response> {
    let path = query.path.clone();
    let stat = engine
        .with_rootfs(&id, move |root| Ok(archive::stat(&root, &path)?))
        .await
        .map_err(|e| not_found_in(&id, e))?;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let path = query.path.clone();
    tokio::spawn(async move {
        let result =
            engine.with_rootfs(&id, move |root| Ok(archive::write_tar(&root, &path, ChannelWriter::new(tx))?)).await;
        if let Err(err) = result {
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
    if engine.container(&id)?.record().host_config.readonly_rootfs.unwrap_or(false) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "container rootfs is marked read-only"));
    }
    let limits = engine.limits();
    let reader = super::body::upload_reader(request, limits.max_upload)?;
    let no_overwrite = flag(&query.no_overwrite_dir_non_dir);
    let path = query.path.clone();
    let max_unpacked = Some(limits.max_unpacked);
    engine
        .with_rootfs(&id, move |root| Ok(archive::extract_tar(&root, &path, reader, no_overwrite, max_unpacked)?))
        .await
        .map_err(|e| not_found_in(&id, e))?;
    Ok(StatusCode::OK)
}

pub async fn export(State(engine): State<Arc<Engine>>, Path(id): Path<String>) -> ApiResult<Response> {
    engine.container(&id)?;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        if let Err(err) = engine.with_rootfs(&id, move |root| Ok(archive::export(&root, ChannelWriter::new(tx))?)).await
        {
            tracing::warn!(%err, "export ended early");
        }
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/x-tar")
        .body(channel_body(rx))
        .unwrap_or_else(|_| Response::new(Body::empty())))
}
