//! Berth's build jobs and cache prediction (wire types and routes: berth-shared `api::build_jobs`):
//! `POST /berth/builds`, `GET /berth/builds`, `GET /berth/builds/{id}/events`, `POST /berth/builds/predict`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_shared::api::build_jobs::{BuildJobCreated, BuildJobSummary, BuildPrediction};
use bytes::Bytes;
use futures_util::StreamExt;

use super::body::require_build_context;
use super::build::{context, options, options_for};
use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::streams::streaming;
use berth_build::{BuildError, BuildJobs};
use berth_engine::Engine;

fn build_error(error: BuildError) -> ApiError {
    let status = if error.is_user_error() { StatusCode::BAD_REQUEST } else { StatusCode::INTERNAL_SERVER_ERROR };
    ApiError::new(status, error.to_string())
}

/// Unpacks the whole context first, so a bad upload is this request's error; then the build runs as a job.
pub async fn create(
    State(engine): State<Arc<Engine>>,
    State(builds): State<Arc<BuildJobs>>,
    caller: Caller,
    request: Request,
) -> ApiResult<Response> {
    require_build_context(request.headers(), engine.limits().max_upload)?;
    let (options, _, remote) = options_for(&caller, request.uri().query().unwrap_or(""))?;
    super::tenancy::record_limits(&engine, &caller)?;
    let context = context(&engine, remote, request).await.map_err(build_error)?;
    let job = builds.start(engine.clone(), options, std::future::ready(Ok(context)));
    Ok((StatusCode::CREATED, Json(BuildJobCreated { id: job.id.clone() })).into_response())
}

pub async fn list(State(builds): State<Arc<BuildJobs>>, caller: Caller) -> Json<Vec<BuildJobSummary>> {
    Json(builds.list(caller.scope()))
}

/// JSON lines, one `BuildJobEvent` each, from the first event; the body ends when the build has.
pub async fn events(
    State(builds): State<Arc<BuildJobs>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = builds.get(caller.scope(), &id).ok_or_else(|| ApiError::not_found(format!("no such build job: {id}")))?;
    let lines = job.follow().map(|batch| {
        let mut bytes = Vec::new();
        for event in batch {
            // Serialising a plain struct of strings and numbers cannot fail.
            if let Ok(line) = serde_json::to_vec(&event) {
                bytes.extend_from_slice(&line);
                bytes.push(b'\n');
            }
        }
        Ok::<_, std::convert::Infallible>(Bytes::from(bytes))
    });
    Ok(streaming("application/x-ndjson", Body::from_stream(lines)))
}

pub async fn predict(State(engine): State<Arc<Engine>>, request: Request) -> ApiResult<Json<BuildPrediction>> {
    require_build_context(request.headers(), engine.limits().max_upload)?;
    let (options, _, remote) = options(request.uri().query().unwrap_or(""))?;
    let context = context(&engine, remote, request).await.map_err(build_error)?;
    let prediction = berth_build::predict(&engine, &context, &options).await;
    let _ = tokio::task::spawn_blocking(move || drop(context)).await;
    Ok(Json(prediction.map_err(build_error)?))
}
