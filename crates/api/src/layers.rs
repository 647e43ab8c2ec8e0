//! Berth's own layer inspection: `GET /berth/images/{name}/layers` (what each layer changed, with its Dockerfile
//! instruction and line, and the bytes later layers waste) and `GET /berth/images/diff?from=a&to=b`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use berth_engine::Engine;
use berth_image::layer_tree::{self, LayerInput};

fn join_error(error: tokio::task::JoinError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

pub async fn image_layers(State(engine): State<Arc<Engine>>, Path(rest): Path<String>) -> ApiResult<Response> {
    let Some(name) = rest.strip_suffix("/layers") else {
        return Err(ApiError::not_found(format!("page not found: /berth/images/{rest}")));
    };
    let name = name.to_string();
    let metas = engine.image_meta();
    let result = tokio::task::spawn_blocking(move || -> ApiResult<_> {
        let image = engine.image(&name)?;
        let entries = engine.image_layer_entries(&image)?;
        let lines = metas.get(&image.id).lines;
        let history = image.config.history().clone().unwrap_or_default();
        // History entries that made a layer, in order, with their index for the Dockerfile line.
        let mut made_layers = history.iter().enumerate().filter(|(_, h)| !h.empty_layer().unwrap_or(false));
        let inputs = entries
            .into_iter()
            .map(|(diff_id, entries)| {
                let (created_by, line) = match made_layers.next() {
                    Some((index, h)) => {
                        (h.created_by().clone().unwrap_or_default(), lines.get(index).copied().flatten())
                    }
                    None => (String::new(), None),
                };
                LayerInput { diff_id, created_by, line, entries }
            })
            .collect();
        Ok(layer_tree::analyze(&image.id, inputs))
    })
    .await
    .map_err(join_error)??;
    Ok(Json(result).into_response())
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: String,
    to: String,
}

pub async fn image_diff(State(engine): State<Arc<Engine>>, Query(query): Query<DiffQuery>) -> ApiResult<Response> {
    let result = tokio::task::spawn_blocking(move || -> ApiResult<_> {
        let from = engine.image(&query.from)?;
        let to = engine.image(&query.to)?;
        let from_files = layer_tree::visible_files(&engine.image_layer_entries(&from)?);
        let to_files = layer_tree::visible_files(&engine.image_layer_entries(&to)?);
        Ok(layer_tree::diff(&from.id, &to.id, &from_files, &to_files))
    })
    .await
    .map_err(join_error)??;
    Ok(Json(result).into_response())
}
