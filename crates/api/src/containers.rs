//! /containers/...: create, list, inspect, the lifecycle verbs, wait, logs, top, stats, changes, resize, rename,
//! update, prune, delete.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{
    ContainerCreateResponse, ContainerUpdateBody, ContainerUpdateResponse, ContainerWaitExitError,
    ContainerWaitResponse, FilesystemChange,
};
use chrono::{TimeZone, Utc};
use serde::Deserialize;

use super::body::JsonBody;
use super::caller::Caller;
use super::container_filter::{FilterError, Filters, Lookup, Step};
use super::container_views::{inspect_json, summary};
use super::create_request::CreateRequest;
use super::error::{ApiError, ApiResult};
use super::flag;
use super::prune_filter::{self, PruneFilters};
use super::streams::{channel_body, frame, MULTIPLEXED, RAW};
use berth_engine::logs::LogsOptions;
use berth_engine::{Engine, WaitCondition};

#[derive(Deserialize)]
pub struct CreateQuery {
    name: Option<String>,
}

pub async fn create(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Query(query): Query<CreateQuery>,
    JsonBody(request): JsonBody<CreateRequest>,
) -> ApiResult<Response> {
    let mut body = request.into_body();
    super::tenancy::record_limits(&engine, &caller)?;
    if let Some(tenant) = caller.tenant() {
        // A container it names that is not its own is as missing as at create below: 400, not the 404 the CLI
        // would answer by pulling the image.
        super::session_policy::confine_create(&engine, tenant, &mut body).map_err(|mut error| {
            if error.status == StatusCode::NOT_FOUND {
                error.status = StatusCode::BAD_REQUEST;
            }
            error
        })?;
    }
    let (id, warnings) =
        engine.create_owned(caller.tenant(), query.name.as_deref(), body).await.map_err(create_error)?;
    Ok((StatusCode::CREATED, Json(ContainerCreateResponse { id, warnings })).into_response())
}

/// The docker CLI answers any 404 from create by pulling the image and trying again, so only a missing image may
/// be one. dockerd finds a missing network only at start; Berth finds it at create and says so with a 400, the
/// same words, and no pull of an image that is there.
fn create_error(error: berth_engine::EngineError) -> ApiError {
    let missing_image = matches!(&error, berth_engine::EngineError::Image(berth_image::ImageError::NotFound { .. }));
    let mut answer = ApiError::from(error);
    if answer.status == StatusCode::NOT_FOUND && !missing_image {
        answer.status = StatusCode::BAD_REQUEST;
    }
    answer
}

#[derive(Deserialize)]
pub struct ListQuery {
    all: Option<String>,
    limit: Option<i64>,
    filters: Option<String>,
    /// `docker ps -s`: SizeRw and SizeRootFs, a walk of each listed container's writable layer.
    size: Option<String>,
}

/// `GET /containers/json`. Filters are checked before any container is looked at; then each container is copied
/// once and costs the same whatever the number beside it (no file reads, no per-container copies of networks).
pub async fn list(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Response> {
    let checked =
        Filters::parse(query.filters.as_deref()).and_then(|filters| filters.validate()).map_err(filter_error)?;
    let limit = query.limit.filter(|l| *l > 0).map(|l| l as usize);
    // A limit lists stopped containers too, as dockerd (`docker ps -n 3` shows the last three of any state).
    let all = flag(&query.all) || limit.is_some();
    let scope = caller.scope();
    let containers = engine.containers_in(scope);
    let records: Vec<_> = containers.iter().map(|container| container.snapshot()).collect();
    let mut filter = checked
        .compile(records.iter().map(|record| record.id.as_str()), &EngineLookup(&engine, scope))
        .map_err(filter_error)?;
    let mut out = Vec::new();
    let mut shown_containers = Vec::new();
    for (container, record) in containers.iter().zip(&records) {
        if limit.is_some_and(|limit| out.len() >= limit) {
            break;
        }
        match filter.step(record, all) {
            Step::Stop => break,
            Step::Exclude => continue,
            Step::Include => {}
        }
        let shown = summary(container, record, engine.network_view_of(record));
        if filter.shown(&shown) {
            out.push(shown);
            shown_containers.push(container.clone());
        }
    }
    if flag(&query.size) {
        let sizes = tokio::task::spawn_blocking(move || {
            shown_containers.iter().map(|container| engine.container_size(container)).collect::<Vec<_>>()
        })
        .await?;
        for (summary, (size_rw, size_root_fs)) in out.iter_mut().zip(sizes) {
            summary.size_rw = Some(size_rw as i64);
            summary.size_root_fs = Some(size_root_fs as i64);
        }
    }
    Ok(Json(out).into_response())
}

fn filter_error(error: FilterError) -> ApiError {
    match error {
        FilterError::NoSuchContainer(_) => ApiError::not_found(error.to_string()),
        _ => ApiError::bad_request(error.to_string()),
    }
}

/// The containers (those the caller sees) and images the filters name, through the engine.
struct EngineLookup<'a>(&'a Engine, berth_engine::Scope<'a>);

impl Lookup for EngineLookup<'_> {
    fn container_id(&self, reference: &str) -> Option<String> {
        self.0.container_in(self.1, reference).ok().map(|container| container.id.clone())
    }

    fn image_and_descendants(&self, reference: &str) -> Vec<String> {
        let Ok(base) = self.0.image(reference) else {
            // dockerd logs and lists nothing for an image it cannot find.
            tracing::warn!(image = reference, "ps filter: no such ancestor image");
            return Vec::new();
        };
        let mut ids: Vec<String> =
            self.0.images().into_iter().filter(|image| image.is_built_on(&base)).map(|image| image.id).collect();
        ids.push(base.id);
        ids
    }
}

pub async fn inspect_one(State(engine): State<Arc<Engine>>, Path(id): Path<String>) -> ApiResult<Response> {
    let container = engine.container(&id)?;
    Ok(Json(inspect_json(&container, engine.network_view(&container))).into_response())
}

pub async fn start(State(engine): State<Arc<Engine>>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    engine.start(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct StopQuery {
    t: Option<i64>,
    signal: Option<String>,
}

pub async fn stop(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<StopQuery>,
) -> ApiResult<StatusCode> {
    engine.stop(&id, query.t, query.signal.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn restart(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<StopQuery>,
) -> ApiResult<StatusCode> {
    engine.restart(&id, query.t, query.signal.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct KillQuery {
    signal: Option<String>,
}

pub async fn kill(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<KillQuery>,
) -> ApiResult<StatusCode> {
    engine.kill(&id, query.signal.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn pause(State(engine): State<Arc<Engine>>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    engine.pause(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unpause(State(engine): State<Arc<Engine>>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    engine.unpause(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct WaitQuery {
    condition: Option<String>,
}

/// Sends the 200 headers at once (the CLI starts the container only after they arrive), the result at exit.
pub async fn wait(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> ApiResult<Response> {
    let condition = WaitCondition::parse(query.condition.as_deref())?;
    let result = engine.wait(&id, condition)?;
    let stream = futures_util::stream::once(async move {
        let (code, error) = result.await;
        let response = ContainerWaitResponse {
            status_code: code as i64,
            error: error.map(|message| ContainerWaitExitError { message: Some(message) }),
        };
        let mut bytes = serde_json::to_vec(&response).unwrap_or_default();
        bytes.push(b'\n');
        Ok::<_, std::io::Error>(Bytes::from(bytes))
    });
    Ok(super::streams::streaming("application/json", Body::from_stream(stream)))
}

#[derive(Deserialize)]
pub struct LogsQuery {
    follow: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    since: Option<String>,
    until: Option<String>,
    timestamps: Option<String>,
    tail: Option<String>,
}

/// Docker's `since`/`until`: unix seconds with an optional fraction ("1700000000.123456789").
fn parse_unix_time(value: Option<&str>) -> ApiResult<Option<chrono::DateTime<Utc>>> {
    let Some(value) = value.filter(|v| !v.is_empty() && *v != "0") else { return Ok(None) };
    let invalid = || ApiError::bad_request(format!("invalid time value: {value}"));
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let seconds: i64 = seconds.parse().map_err(|_| invalid())?;
    let nanos: u32 = format!("{fraction:0<9}").parse().map_err(|_| invalid())?;
    Ok(Utc.timestamp_opt(seconds, nanos).single())
}

pub async fn logs(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> ApiResult<Response> {
    let container = engine.container(&id)?;
    let options = LogsOptions {
        follow: flag(&query.follow),
        stdout: flag(&query.stdout),
        stderr: flag(&query.stderr),
        since: parse_unix_time(query.since.as_deref())?,
        until: parse_unix_time(query.until.as_deref())?,
        tail: match query.tail.as_deref() {
            None | Some("") | Some("all") => None,
            Some(n) => {
                Some(n.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid tail: {n}")))?.max(0) as usize)
            }
        },
    };
    if !options.stdout && !options.stderr {
        return Err(ApiError::bad_request("Bad parameters: you must choose at least one stream"));
    }
    let tty = container.tty();
    let timestamps = flag(&query.timestamps);
    berth_engine::log_drivers::check_readable(&container)?;
    let mut entries = berth_engine::logs::stream_logs(container, options);
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        while let Some(entry) = entries.recv().await {
            let payload = if timestamps {
                let mut line = entry.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true).into_bytes();
                line.push(b' ');
                line.extend_from_slice(&entry.line);
                Bytes::from(line)
            } else {
                entry.line.clone()
            };
            if tx.send(frame(tty, entry.stream, &payload)).await.is_err() {
                return;
            }
        }
    });
    Ok(super::streams::streaming(if tty { RAW } else { MULTIPLEXED }, channel_body(rx)))
}

#[derive(Deserialize)]
pub struct TopQuery {
    ps_args: Option<String>,
}

pub async fn top(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<TopQuery>,
) -> ApiResult<Response> {
    Ok(Json(engine.top(&id, query.ps_args.as_deref()).await?).into_response())
}

/// dockerd's `httputils.BoolValueOrDefault`: absent is `default`; present, only "", "0", "no", "false" and "none"
/// (any case, trimmed) are false, so `stream=` turns streaming off and `stream=True` keeps it on.
fn go_bool(value: &Option<String>, default: bool) -> bool {
    match value.as_deref() {
        None => default,
        Some(v) => !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "no" | "false" | "none"),
    }
}

#[derive(Deserialize)]
pub struct StatsQuery {
    stream: Option<String>,
    #[serde(rename = "one-shot")]
    one_shot: Option<String>,
}

pub async fn stats(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<StatsQuery>,
) -> ApiResult<Response> {
    let streaming = go_bool(&query.stream, true);
    if !streaming {
        // one-shot skips the second sample Docker takes to fill precpu_stats.
        let stats =
            if go_bool(&query.one_shot, false) { engine.stats_now(&id)? } else { engine.stats_once(&id).await? };
        return Ok(Json(stats).into_response());
    }
    let mut samples = engine.stats_stream(&id)?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        while let Some(sample) = samples.recv().await {
            let mut bytes = serde_json::to_vec(&sample).unwrap_or_default();
            bytes.push(b'\n');
            if tx.send(Bytes::from(bytes)).await.is_err() {
                return;
            }
        }
    });
    Ok(super::streams::streaming("application/json", channel_body(rx)))
}

pub async fn changes(State(engine): State<Arc<Engine>>, Path(id): Path<String>) -> ApiResult<Response> {
    let list: Vec<FilesystemChange> = engine.changes(&id).await?;
    Ok(Json(list).into_response())
}

pub async fn resize(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<super::ResizeQuery>,
) -> ApiResult<StatusCode> {
    let (rows, cols) = query.rows_cols();
    engine.resize(&id, rows, cols)?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct RenameQuery {
    name: String,
}

pub async fn rename(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<RenameQuery>,
) -> ApiResult<StatusCode> {
    engine.rename(&id, &query.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn update(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    JsonBody(update): JsonBody<ContainerUpdateBody>,
) -> ApiResult<Response> {
    let warnings = engine.update(&id, update).await?;
    Ok(Json(ContainerUpdateResponse { warnings: Some(warnings) }).into_response())
}

#[derive(Deserialize)]
pub struct PruneQuery {
    filters: Option<String>,
}

/// `POST /containers/prune`: stopped containers, by `until`, `label` and `label!`; the bytes are their writable
/// layers'.
pub async fn prune(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Query(query): Query<PruneQuery>,
) -> ApiResult<Response> {
    let filters = PruneFilters::parse(query.filters.as_deref(), prune_filter::CONTAINERS)?;
    let (deleted, reclaimed) = engine.prune_containers(caller.scope(), &filters.engine_filter("")?).await;
    Ok(super::prune_answer::answer("ContainersDeleted", deleted, Some(reclaimed)))
}

#[derive(Deserialize)]
pub struct DeleteQuery {
    force: Option<String>,
    v: Option<String>,
}

pub async fn delete(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> ApiResult<StatusCode> {
    engine.remove(&id, flag(&query.force), flag(&query.v)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct DeleteLinkQuery {
    link: Option<String>,
}

/// `DELETE /containers/{parent}/{alias}?link=1` (`docker rm --link`, docker-py's `remove_container(link=True)`):
/// dockerd's route takes the whole rest of the path as the name, so a link's name is two segments.
pub async fn delete_link(
    State(engine): State<Arc<Engine>>,
    Path((parent, alias)): Path<(String, String)>,
    Query(query): Query<DeleteLinkQuery>,
) -> ApiResult<StatusCode> {
    if !flag(&query.link) {
        return Err(ApiError::not_found(format!("No such container: {parent}/{alias}")));
    }
    engine.remove_link(&parent, &alias)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_are_seconds_with_a_fraction() {
        let time = parse_unix_time(Some("1700000000.5")).unwrap().unwrap();
        assert_eq!((time.timestamp(), time.timestamp_subsec_nanos()), (1_700_000_000, 500_000_000));
        assert_eq!(parse_unix_time(Some("0")).unwrap(), None);
        // Multibyte input used to be sliced mid-character and panic the handler.
        for bad in ["1.ééééé", "1.é", "x", "1.2.3", "1.1234567890"] {
            assert!(parse_unix_time(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn stats_flags_read_as_dockerd_reads_them() {
        let some = |v: &str| Some(v.to_string());
        assert!(go_bool(&None, true));
        assert!(!go_bool(&None, false));
        for off in ["", "0", "no", "false", "FALSE", " None "] {
            assert!(!go_bool(&some(off), true), "{off:?}");
        }
        for on in ["1", "true", "True", "yes", "anything"] {
            assert!(go_bool(&some(on), false), "{on:?}");
        }
    }
}
