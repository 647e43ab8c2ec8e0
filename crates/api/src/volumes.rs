//! /volumes/...: list, create, inspect, remove, prune, each among the caller's own volumes (a session's, or the
//! daemon's for the operator).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse, VolumeScopeEnum};
use chrono::SecondsFormat;
use serde::Deserialize;

use super::body::JsonBody;
use super::caller::Caller;
use super::container_views::parse_filters;
use super::error::{ApiError, ApiResult};
use super::flag;
use berth_engine::{labels_match, Engine, VolumeRecord};

pub(crate) fn view(engine: &Engine, owner: Option<&str>, volume: &VolumeRecord) -> Volume {
    Volume {
        name: volume.name.clone(),
        driver: "local".into(),
        mountpoint: engine.volume_data(owner, &volume.name).to_string_lossy().into_owned(),
        created_at: Some(volume.created.to_rfc3339_opts(SecondsFormat::Secs, true)),
        labels: volume.labels.clone(),
        scope: Some(VolumeScopeEnum::LOCAL),
        options: volume.options.clone(),
        ..Default::default()
    }
}

#[derive(Deserialize)]
pub struct FilterQuery {
    filters: Option<String>,
}

pub async fn list(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Query(query): Query<FilterQuery>,
) -> ApiResult<Response> {
    let owner = caller.tenant();
    let filters = parse_filters(query.filters.as_deref()).map_err(ApiError::bad_request)?;
    let mut volumes = Vec::new();
    for volume in engine.volume_list(owner) {
        let mut keep = true;
        for (key, values) in &filters {
            if values.is_empty() {
                continue;
            }
            keep &= match key.as_str() {
                "name" => values.iter().any(|v| volume.name.contains(v.as_str())),
                "label" => labels_match(&volume.labels, values),
                "driver" => values.iter().any(|v| v == "local"),
                "dangling" => values.iter().any(|v| {
                    let dangling = engine.volume_users(owner, &volume.name).is_empty();
                    matches!(v.as_str(), "true" | "1") == dangling
                }),
                other => return Err(ApiError::bad_request(format!("invalid filter '{other}'"))),
            };
        }
        if keep {
            volumes.push(view(&engine, owner, &volume));
        }
    }
    Ok(Json(VolumeListResponse { volumes: Some(volumes), warnings: Some(Vec::new()) }).into_response())
}

pub async fn create(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    JsonBody(request): JsonBody<VolumeCreateRequest>,
) -> ApiResult<Response> {
    let owner = caller.tenant();
    if owner.is_some() {
        super::session_policy::check_volume_create(&request)?;
    }
    let volume = engine.volume_create(
        owner,
        request.name.as_deref(),
        request.driver.as_deref(),
        request.labels.unwrap_or_default(),
        request.driver_opts.unwrap_or_default(),
    )?;
    Ok((StatusCode::CREATED, Json(view(&engine, owner, &volume))).into_response())
}

pub async fn inspect(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let volume = engine.volume_get(caller.tenant(), &name)?;
    Ok(Json(view(&engine, caller.tenant(), &volume)).into_response())
}

#[derive(Deserialize)]
pub struct DeleteQuery {
    force: Option<String>,
}

pub async fn delete(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> ApiResult<StatusCode> {
    engine.volume_remove(caller.tenant(), &name, flag(&query.force))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /volumes/prune`: unused anonymous volumes, or with `all=true` every unused one, by `label` and `label!`.
pub async fn prune(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Query(query): Query<FilterQuery>,
) -> ApiResult<Response> {
    use super::prune_filter::{PruneFilters, VOLUMES};
    let filters = PruneFilters::parse(query.filters.as_deref(), VOLUMES)?;
    let all = filters.bool_or("all", false)?;
    let filter = filters.engine_filter("")?;
    let owner = caller.tenant().map(str::to_string);
    let (deleted, reclaimed) =
        tokio::task::spawn_blocking(move || engine.volume_prune(owner.as_deref(), all, &filter)).await?;
    Ok(Json(VolumePruneResponse { volumes_deleted: Some(deleted), space_reclaimed: Some(reclaimed as i64) })
        .into_response())
}
