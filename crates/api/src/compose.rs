//! The playground's compose endpoints (Berth's own, not the Engine API):
//! - `POST /berth/compose/{project}/up`: the body is a tar of the project's files; runs `up -d --remove-orphans`.
//! - `POST /berth/compose/{project}/down`: runs `down --remove-orphans` on the files of the last up, then forgets
//!   them; named volumes go too only with `?volumes=1` (`down -v`), so a user's data is not removed unasked.
//!
//! Both answer with a stream of `ComposeProgress` JSON lines ending in `Finished`; a bad name, a tar without a
//! compose file or a busy project is an error status before the stream starts.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use berth_shared::api::compose::ComposeProgress;
use tokio::sync::mpsc;

use super::body::require_tar;
use super::error::{ApiError, ApiResult};
use super::streams::{channel_body, streaming};
use crate::playground::compose::{self as playground, ComposeRunner, PlaygroundError};
use berth_engine::Engine;

impl From<PlaygroundError> for ApiError {
    fn from(error: PlaygroundError) -> Self {
        let status = match &error {
            PlaygroundError::InvalidName(_) | PlaygroundError::NoComposeFile | PlaygroundError::Unpack(_) => {
                StatusCode::BAD_REQUEST
            }
            PlaygroundError::NotFound(_) => StatusCode::NOT_FOUND,
            PlaygroundError::Busy(_) => StatusCode::CONFLICT,
            PlaygroundError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(%error, "playground compose failed");
        }
        ApiError::new(status, error.to_string())
    }
}

fn join_error(error: tokio::task::JoinError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

pub async fn up(
    State(engine): State<Arc<Engine>>,
    State(runner): State<Arc<ComposeRunner>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    require_tar(&headers)?;
    let name = playground::check_name(&project)?;
    let guard = runner.claim(&name)?;
    let dir = playground::project_dir(engine.root(), &name);
    let unpack_dir = dir.clone();
    tokio::task::spawn_blocking(move || playground::unpack(&unpack_dir, &body)).await.map_err(join_error)??;
    Ok(stream(runner, dir, name, &["up", "-d", "--remove-orphans"], guard, false))
}

/// `?volumes=1` (or `true`): remove the project's named volumes too.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DownQuery {
    #[serde(default)]
    volumes: Option<String>,
}

pub async fn down(
    State(engine): State<Arc<Engine>>,
    State(runner): State<Arc<ComposeRunner>>,
    Path(project): Path<String>,
    Query(query): Query<DownQuery>,
) -> ApiResult<Response> {
    let name = playground::check_name(&project)?;
    let guard = runner.claim(&name)?;
    let dir = playground::project_dir(engine.root(), &name);
    if !dir.is_dir() {
        return Err(PlaygroundError::NotFound(name).into());
    }
    let remove_volumes = matches!(query.volumes.as_deref(), Some("1" | "true"));
    let args: &'static [&'static str] =
        if remove_volumes { &["down", "-v", "--remove-orphans"] } else { &["down", "--remove-orphans"] };
    Ok(stream(runner, dir, name, args, guard, true))
}

/// Runs the command in the background and answers with its progress as JSON lines. `forget` removes the project's
/// folder after a successful run.
fn stream(
    runner: Arc<ComposeRunner>,
    dir: std::path::PathBuf,
    name: String,
    args: &'static [&'static str],
    guard: playground::BusyGuard,
    forget: bool,
) -> Response {
    let (sender, receiver) = mpsc::channel::<Bytes>(64);
    let (events, mut progress) = mpsc::channel::<ComposeProgress>(64);
    tokio::spawn(async move {
        let forward = tokio::spawn(async move {
            while let Some(event) = progress.recv().await {
                let mut line = serde_json::to_vec(&event).unwrap_or_default();
                line.push(b'\n');
                // A page that went away does not stop the command.
                let _ = sender.send(Bytes::from(line)).await;
            }
        });
        let outcome = playground::run(&runner, &dir, &name, args, events.clone()).await;
        match outcome {
            Ok(0) if forget => {
                if let Err(error) = tokio::fs::remove_dir_all(&dir).await {
                    tracing::warn!(%error, dir = %dir.display(), "removing a playground project's files");
                }
            }
            Ok(_) => {}
            Err(error) => {
                let _ = events.send(ComposeProgress::Output { line: error.to_string() }).await;
                let _ = events.send(ComposeProgress::Finished { exit_code: -1 }).await;
            }
        }
        drop(events);
        let _ = forward.await;
        drop(guard);
    });
    streaming("application/json", channel_body(receiver))
}
