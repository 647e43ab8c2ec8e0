//! `GET /system/df` (`docker system df`, `-v`) and `POST /build/prune` (`docker builder prune`), as dockerd answers
//! them for API versions before 1.52: images as `docker images` lists them with `SharedSize` (bytes another listed
//! image also holds) and their containers, `LayersSize` (every blob once), containers with `SizeRw` and
//! `SizeRootFs`, volumes with `UsageData`, and the build cache's records (berth-build's `cache_usage`).

use std::sync::Arc;

use axum::extract::{Query, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_shared::api::disk_usage::DiskUsage;
use bollard_stubs::models::VolumeUsageData;
use serde::Deserialize;

use super::container_views::summary as container_summary;
use super::error::{ApiError, ApiResult};
use super::flag;
use super::images::{is_intermediate, summary as image_summary, url_pairs};
use super::prune_filter::{PruneFilters, BUILD_CACHE};
use berth_engine::Engine;

/// Which parts a request asks for (`type=`, API 1.42+; all of them without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts {
    containers: bool,
    images: bool,
    volumes: bool,
    build_cache: bool,
}

impl Parts {
    fn from_query(query: &str) -> Result<Parts, ApiError> {
        let types: Vec<String> = url_pairs(query).into_iter().filter(|(k, _)| k == "type").map(|(_, v)| v).collect();
        if types.is_empty() {
            return Ok(Parts { containers: true, images: true, volumes: true, build_cache: true });
        }
        let mut parts = Parts { containers: false, images: false, volumes: false, build_cache: false };
        for typ in types {
            match typ.as_str() {
                "container" => parts.containers = true,
                "image" => parts.images = true,
                "volume" => parts.volumes = true,
                "build-cache" => parts.build_cache = true,
                other => return Err(ApiError::bad_request(format!("unknown object type: {other}"))),
            }
        }
        Ok(parts)
    }
}

pub async fn system_df(State(engine): State<Arc<Engine>>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let parts = Parts::from_query(query.as_deref().unwrap_or_default())?;
    // Sizes are walks of layer, container and volume trees: off the runtime's threads.
    let usage = tokio::task::spawn_blocking(move || disk_usage(&engine, parts)).await?;
    Ok(Json(usage).into_response())
}

fn disk_usage(engine: &Engine, parts: Parts) -> DiskUsage {
    let mut usage = DiskUsage::default();
    if parts.images {
        let every = engine.images();
        let top: Vec<_> = every.iter().filter(|image| !is_intermediate(image, &every)).cloned().collect();
        let shared = engine.shared_sizes(&top);
        let mut images: Vec<_> = top
            .iter()
            .zip(shared)
            .map(|(image, shared)| {
                let mut summary = image_summary(engine, image);
                summary.shared_size = shared as i64;
                summary
            })
            .collect();
        images.sort_by_key(|image| std::cmp::Reverse(image.created));
        usage.layers_size = engine.layers_size() as i64;
        usage.images = Some(images);
    }
    if parts.containers {
        let containers = engine
            .containers()
            .iter()
            .map(|container| {
                let record = container.snapshot();
                let mut summary = container_summary(container, &record, engine.network_view_of(&record));
                let (size_rw, size_root_fs) = engine.container_size(container);
                summary.size_rw = Some(size_rw as i64);
                summary.size_root_fs = Some(size_root_fs as i64);
                summary
            })
            .collect();
        usage.containers = Some(containers);
    }
    if parts.volumes {
        let volumes = engine
            .volume_usage(None)
            .into_iter()
            .map(|(volume, size, users)| {
                let mut view = super::volumes::view(engine, None, &volume);
                view.usage_data = Some(VolumeUsageData { size: size as i64, ref_count: users as i64 });
                view
            })
            .collect();
        usage.volumes = Some(volumes);
    }
    if parts.build_cache {
        usage.build_cache = Some(berth_build::cache_usage::disk_usage(engine));
    }
    usage
}

#[derive(Deserialize)]
pub struct BuildPruneQuery {
    all: Option<String>,
    filters: Option<String>,
}

/// `POST /build/prune`: dangling build cache records, or with `all` every one, narrowed by BuildKit's filters.
/// The space options (`reserved-space`, `max-used-space`, `min-free-space`, `keep-storage`) are not supported and
/// ignored: every selected record goes.
pub async fn build_prune(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<BuildPruneQuery>,
) -> ApiResult<Response> {
    let filters = PruneFilters::parse(query.filters.as_deref(), BUILD_CACHE)?;
    let options = filters.build_cache(flag(&query.all), chrono::Utc::now())?;
    let (deleted, reclaimed) = tokio::task::spawn_blocking(move || berth_build::cache_usage::prune(&engine, &options))
        .await?
        .map_err(|error| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    Ok(super::prune_answer::answer("CachesDeleted", deleted, Some(reclaimed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_select_parts() {
        let all = Parts::from_query("").unwrap();
        assert!(all.containers && all.images && all.volumes && all.build_cache);
        let some = Parts::from_query("type=volume&type=build-cache").unwrap();
        assert_eq!(some, Parts { containers: false, images: false, volumes: true, build_cache: true });
        let error = Parts::from_query("type=disk").unwrap_err();
        assert_eq!(error.message, "unknown object type: disk");
    }
}
