//! /images/...: list, inspect, history, tag, delete, prune, import (create?fromSrc), save (get), load, and /commit.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_shared::api::build::LegacyMessage;
use bollard_stubs::models::{CreateImageInfo, ImageInspect, ImageInspectRootFs, ImageSummary};
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::exec::created_id;
use super::flag;
use berth_engine::Engine;
use berth_image::Image;

fn created_unix(image: &Image) -> i64 {
    image
        .created
        .as_deref()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn labels(image: &Image) -> HashMap<String, String> {
    image.config.config().as_ref().and_then(|c| c.labels().clone()).unwrap_or_default()
}

pub(crate) fn summary(engine: &Engine, image: &Image) -> ImageSummary {
    ImageSummary {
        id: image.id.clone(),
        parent_id: String::new(),
        repo_tags: image.repo_tags.clone(),
        repo_digests: image.repo_digests.clone(),
        created: created_unix(image),
        size: image.size as i64,
        shared_size: -1,
        labels: labels(image),
        containers: engine.image_users(&image.id).len() as i64,
        manifests: None,
        descriptor: None,
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    all: Option<String>,
    filters: Option<String>,
}

pub async fn list(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Response> {
    let all = flag(&query.all);
    let filters = super::container_views::parse_filters(query.filters.as_deref()).map_err(ApiError::bad_request)?;
    let dangling = filters.get("dangling").and_then(|v| v.first()).map(|v| v == "true" || v == "1");
    let references = filters.get("reference").cloned().unwrap_or_default();
    let every = engine.images_in(caller.scope());
    let mut images: Vec<ImageSummary> = every
        .iter()
        .filter(|image| all || !is_intermediate(image, &every))
        .filter(|image| dangling.is_none_or(|want| want == image.repo_tags.is_empty()))
        .filter(|image| {
            references.is_empty()
                || image
                    .repo_tags
                    .iter()
                    .any(|tag| references.iter().any(|r| tag == r || tag.split(':').next() == Some(r.as_str())))
        })
        .map(|image| summary(&engine, image))
        .collect();
    images.sort_by_key(|i| std::cmp::Reverse(i.created));
    Ok(Json(images).into_response())
}

/// An untagged image that another image is built on (a build step's image): `docker images` hides these unless
/// `-a`, as Docker hides images with children.
pub(crate) fn is_intermediate(image: &Image, every: &[Image]) -> bool {
    image.repo_tags.is_empty() && every.iter().any(|other| other.is_built_on(image))
}

fn inspect(image: &Image) -> ImageInspect {
    let config = image.config.config().clone().unwrap_or_default();
    let container_config = serde_json::to_value(&config)
        .ok()
        .and_then(|v| serde_json::from_value::<bollard_stubs::models::ImageConfig>(docker_config_json(v)).ok());
    ImageInspect {
        id: Some(image.id.clone()),
        repo_tags: Some(image.repo_tags.clone()),
        repo_digests: Some(image.repo_digests.clone()),
        // dockerd keeps a commit's or import's message as the image's comment; Berth keeps it in the history entry
        // that made the image, the last one.
        comment: Some(
            image
                .config
                .history()
                .as_ref()
                .and_then(|h| h.last())
                .and_then(|h| h.comment().clone())
                .unwrap_or_default(),
        ),
        created: image.created.clone(),
        author: image.config.author().clone().or(Some(String::new())),
        config: container_config,
        architecture: Some(image.config.architecture().to_string()),
        os: Some(image.config.os().to_string()),
        size: Some(image.size as i64),
        root_fs: Some(ImageInspectRootFs { typ: "layers".into(), layers: Some(image.diff_ids.clone()) }),
        ..Default::default()
    }
}

/// oci-spec serialises the image config with OCI names (`Env`, `Cmd`, ...), which are Docker's too; only the
/// empty-object maps (ExposedPorts, Volumes) need the Docker shape.
fn docker_config_json(value: serde_json::Value) -> serde_json::Value {
    value
}

/// One handler for everything under /images/{name}: names contain slashes, so the verb is the last segment.
pub async fn image_get(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Path(rest): Path<String>,
) -> ApiResult<Response> {
    if let Some(name) = rest.strip_suffix("/json") {
        let image = engine.image_in(caller.scope(), name)?;
        let mut inspected = inspect(&image);
        // HEALTHCHECK has no field in the OCI config; the builder keeps it beside the image.
        let health = engine.image_meta().get(&image.id).healthcheck;
        if let Some(config) = inspected.config.as_mut() {
            config.healthcheck = health;
        }
        let mut value = serde_json::to_value(&inspected)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        // ContainerConfig (the config of the container that made the image) left dockerd's answer at API 1.45, but
        // docker-compose 1.29 still reads it when it recreates a container (`KeyError: 'ContainerConfig'`), and its
        // docker-py negotiates the daemon's newest version, so gating on the version would break it as dockerd 25+
        // does. Berth always sends it; other clients ignore the extra field. Berth makes no image from a container's
        // config, so the image's own config is what it would say.
        if let Some(object) = value.as_object_mut() {
            let config = object.get("Config").cloned().unwrap_or_else(|| serde_json::json!({}));
            object.insert("ContainerConfig".into(), config);
        }
        return Ok(Json(value).into_response());
    }
    if let Some(name) = rest.strip_suffix("/get") {
        return save_images(engine, vec![name.to_string()]).await;
    }
    if let Some(name) = rest.strip_suffix("/history") {
        let image = engine.image_in(caller.scope(), name)?;
        return Ok(Json(engine.image_history(&image)).into_response());
    }
    Err(ApiError::not_found(format!("page not found: /images/{rest}")))
}

#[derive(Deserialize)]
pub struct TagQuery {
    repo: Option<String>,
    tag: Option<String>,
}

pub async fn image_post(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Path(rest): Path<String>,
    Query(query): Query<TagQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(name) = rest.strip_suffix("/tag") {
        let repo = query
            .repo
            .filter(|r| !r.is_empty())
            .ok_or_else(|| ApiError::bad_request("repository name must have at least one component"))?;
        let target = match query.tag.filter(|t| !t.is_empty()) {
            Some(tag) => format!("{repo}:{tag}"),
            None => repo,
        };
        engine.tag_image_in(caller.scope(), name, &target)?;
        return Ok(StatusCode::CREATED.into_response());
    }
    if let Some(name) = rest.strip_suffix("/push") {
        return super::distribution::push(engine, &headers, name, query.tag.as_deref()).await;
    }
    Err(ApiError::not_found(format!("page not found: /images/{rest}")))
}

#[derive(Deserialize)]
pub struct DeleteQuery {
    force: Option<String>,
    noprune: Option<String>,
}

pub async fn image_delete(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> ApiResult<Response> {
    let deleted = engine.remove_image_in(caller.scope(), &name, flag(&query.force), flag(&query.noprune))?;
    Ok(Json(deleted).into_response())
}

#[derive(Deserialize)]
pub struct PruneQuery {
    filters: Option<String>,
}

/// `POST /images/prune`: untagged images, or with `dangling=false` every unused one, by `until`, `label` and
/// `label!`.
pub async fn prune(State(engine): State<Arc<Engine>>, Query(query): Query<PruneQuery>) -> ApiResult<Response> {
    use super::prune_filter::{PruneFilters, IMAGES};
    let filters = PruneFilters::parse(query.filters.as_deref(), IMAGES)?;
    let dangling_only = filters.bool_or("dangling", true)?;
    let filter = filters.engine_filter("invalid value for 'until' filter: ")?;
    let (deleted, reclaimed) =
        tokio::task::spawn_blocking(move || engine.prune_images(dangling_only, &filter)).await??;
    Ok(super::prune_answer::answer("ImagesDeleted", deleted, Some(reclaimed)))
}

#[derive(Deserialize)]
pub struct CreateQuery {
    #[serde(rename = "fromImage")]
    from_image: Option<String>,
    #[serde(rename = "fromSrc")]
    from_src: Option<String>,
    repo: Option<String>,
    tag: Option<String>,
    message: Option<String>,
    #[serde(default)]
    changes: Vec<String>,
    platform: Option<String>,
}

fn json_line(value: &impl Serialize) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// `docker import` (fromSrc=-: the body is the tarball) and `docker pull` (fromImage).
pub async fn create(
    State(engine): State<Arc<Engine>>,
    State(metrics): State<Arc<super::metrics::Metrics>>,
    request: Request,
) -> ApiResult<Response> {
    let query = request.uri().query().unwrap_or("");
    let query: CreateQuery = serde_html_form_like(query)?;
    if let Some(image) = query.from_image.filter(|i| !i.is_empty()) {
        metrics.pull_started();
        let headers = request.headers();
        return super::distribution::pull(engine, headers, &image, query.tag.as_deref(), query.platform.as_deref())
            .await;
    }
    if query.from_src.as_deref() != Some("-") {
        return Err(ApiError::bad_request("only fromSrc=- (the request body) is supported for import"));
    }
    let repo_tag = query.repo.filter(|r| !r.is_empty()).map(|repo| match query.tag.filter(|t| !t.is_empty()) {
        Some(tag) => format!("{repo}:{tag}"),
        None => repo,
    });
    let reader = super::body::upload_reader(request, engine.limits().max_upload)?;
    let image = engine.import_image(reader, repo_tag, query.changes, query.message).await?;
    let answer = CreateImageInfo { status: Some(image.id), ..Default::default() };
    Ok(([(header::CONTENT_TYPE, "application/json")], json_line(&answer)).into_response())
}

/// Query strings with repeated keys (`changes=A&changes=B`), which serde_urlencoded's struct support can't collect.
fn serde_html_form_like<T: serde::de::DeserializeOwned>(query: &str) -> ApiResult<T> {
    let mut map = serde_json::Map::new();
    let mut changes = Vec::new();
    for (key, value) in url_pairs(query) {
        if key == "changes" {
            changes.push(serde_json::Value::String(value));
        } else {
            map.insert(key, serde_json::Value::String(value));
        }
    }
    map.insert("changes".into(), serde_json::Value::Array(changes));
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| ApiError::bad_request(e.to_string()))
}

pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

#[derive(Deserialize)]
pub struct CommitQuery {
    container: String,
    repo: Option<String>,
    tag: Option<String>,
    comment: Option<String>,
    author: Option<String>,
    pause: Option<String>,
}

pub async fn commit(State(engine): State<Arc<Engine>>, caller: Caller, request: Request) -> ApiResult<Response> {
    // The body (a container config) is not used, but dockerd refuses it unless it is JSON.
    super::body::require_json(request.headers(), super::body::announces_body(request.headers()))?;
    let raw_query = request.uri().query().unwrap_or("").to_string();
    let query: CommitQuery =
        serde_urlencoded::from_str(&raw_query).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let changes: Vec<String> = url_pairs(&raw_query)
        .into_iter()
        .filter(|(k, _)| k == "changes")
        .map(|(_, v)| v)
        .flat_map(|v| v.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| !l.trim().is_empty())
        .collect();
    let repo_tag = query.repo.filter(|r| !r.is_empty()).map(|repo| match query.tag.filter(|t| !t.is_empty()) {
        Some(tag) => format!("{repo}:{tag}"),
        None => repo,
    });
    let pause = query.pause.as_deref().is_none_or(|p| p == "1" || p == "true");
    // A session commits its own container, and the image is its own: tagged in its namespace, not the store's.
    let (container, store_tag, session_tag) = match caller.tenant() {
        Some(_) => (engine.container_in(caller.scope(), &query.container)?.id.clone(), None, repo_tag),
        None => (query.container.clone(), repo_tag, None),
    };
    let id = engine
        .commit(
            &container,
            store_tag,
            changes,
            query.comment.filter(|c| !c.is_empty()),
            query.author.filter(|a| !a.is_empty()),
            pause,
        )
        .await?;
    if let Some(tenant) = caller.tenant() {
        engine.record_tenant_image(tenant, &id)?;
        if let Some(tag) = session_tag {
            engine.tag_image_in(caller.scope(), &id, &tag)?;
        }
    }
    Ok(created_id(id))
}

/// `docker save`: `GET /images/get?names=a&names=b` (and `GET /images/{name}/get`), a tar streamed as it is written.
pub async fn save(State(engine): State<Arc<Engine>>, request: Request) -> ApiResult<Response> {
    let names: Vec<String> = url_pairs(request.uri().query().unwrap_or(""))
        .into_iter()
        .filter(|(k, _)| k == "names")
        .map(|(_, v)| v)
        .collect();
    save_images(engine, names).await
}

async fn save_images(engine: Arc<Engine>, names: Vec<String>) -> ApiResult<Response> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no images named"));
    }
    for name in &names {
        engine.image(name)?;
    }
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::task::spawn_blocking(move || {
        let writer = std::io::BufWriter::with_capacity(256 * 1024, super::streams::ChannelWriter::new(sender));
        if let Err(error) = engine.save_images(&names, writer) {
            tracing::warn!(%error, "docker save failed mid-stream");
        }
    });
    Ok(super::streams::streaming("application/x-tar", super::streams::channel_body(receiver)))
}

/// `docker load`: `POST /images/load`, the body a `docker save` tar. Answers with Docker's JSON stream.
pub async fn load(State(engine): State<Arc<Engine>>, request: Request) -> ApiResult<Response> {
    let reader = super::body::upload_reader(request, engine.limits().max_upload)?;
    // As dockerd: what goes wrong reading the archive is the stream's error line under a 200 (docker-py raises
    // ImageLoadError from it, the CLI prints it), not an HTTP error.
    let loaded = match engine.load_images(reader).await {
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::info!(%error, "docker load refused the archive");
            let line = json_line(&berth_shared::api::build::error_message(&error.to_string()));
            return Ok(([(header::CONTENT_TYPE, "application/json")], Body::from(line)).into_response());
        }
    };
    // Docker's JSONMessage lines; bollard-stubs' model of them (`BuildInfo`) only deserializes.
    let stream = |text: String| json_line(&LegacyMessage { stream: Some(text), ..Default::default() });
    let mut lines = Vec::new();
    for (image, tags) in loaded {
        if tags.is_empty() {
            lines.push(stream(format!("Loaded image ID: {}\n", image.id)));
        }
        for tag in tags {
            lines.push(stream(format!("Loaded image: {tag}\n")));
        }
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from(lines.concat())).into_response())
}
