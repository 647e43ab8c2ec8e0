//! Registries on the Engine API: `POST /images/create?fromImage=` (pull), `POST /images/{name}/push` and
//! `POST /auth` (login). A pull or push that cannot start (unknown image, refused credentials) is a plain HTTP
//! error, as with dockerd; once started, its progress streams as dockerd's JSON messages, an error as the last.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::{Credentials, Engine, Progress, ProgressSink};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::error::{ApiError, ApiResult};
use super::streams::streaming;

/// The header the docker CLI and docker-py put credentials in.
const REGISTRY_AUTH: &str = "x-registry-auth";

/// `docker pull`: `name` (`fromImage`) with `tag` (a tag, or a digest as the CLI sends it), for `platform`.
pub async fn pull(
    engine: Arc<Engine>,
    headers: &HeaderMap,
    name: &str,
    tag: Option<&str>,
    platform: Option<&str>,
) -> ApiResult<Response> {
    let reference = match tag.filter(|t| !t.is_empty()) {
        Some(digest) if digest.contains(':') => format!("{name}@{digest}"),
        Some(tag) => format!("{name}:{tag}"),
        None if name.contains('@') || has_tag(name) => name.to_string(),
        None => {
            return Err(ApiError::bad_request(
                "pulling every tag of a repository (docker pull --all-tags) is not supported by Berth: name a tag",
            ))
        }
    };
    let credentials = credentials(headers)?;
    let pending = engine.prepare_pull(&reference, platform, credentials.as_ref()).await?;
    let (sender, receiver) = mpsc::unbounded_channel();
    // The pull goes on if the client goes away, so the store never keeps half of what it was asked for.
    tokio::spawn(async move {
        let sink = ProgressSink::new(sender.clone());
        if let Err(error) = engine.finish_pull(pending, &sink).await {
            tracing::warn!(%error, "pull failed");
            let _ = sender.send(error_progress(&error.to_string()));
        }
    });
    Ok(progress_stream(receiver))
}

/// `docker push name[:tag]`.
pub async fn push(engine: Arc<Engine>, headers: &HeaderMap, name: &str, tag: Option<&str>) -> ApiResult<Response> {
    let credentials = credentials(headers)?;
    let targets = engine.push_targets(name, tag)?;
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let sink = ProgressSink::new(sender.clone());
        if let Err(error) = engine.push_images(targets, credentials.as_ref(), &sink).await {
            tracing::warn!(%error, "push failed");
            let _ = sender.send(error_progress(&error.to_string()));
        }
    });
    Ok(progress_stream(receiver))
}

/// `docker login`: `{"Status":"Login Succeeded"}`, or 401 with the registry's reason.
pub async fn login(State(engine): State<Arc<Engine>>, request: Request) -> ApiResult<Response> {
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the credentials: {e}")))?;
    let credentials = Credentials::from_json(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    engine.login(&credentials).await?;
    Ok((StatusCode::OK, Json(json!({"Status": "Login Succeeded", "IdentityToken": ""}))).into_response())
}

fn credentials(headers: &HeaderMap) -> ApiResult<Option<Credentials>> {
    match headers.get(REGISTRY_AUTH).map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(value)) => Credentials::from_header(value).map_err(|e| ApiError::bad_request(e.to_string())),
        Some(Err(_)) => Err(ApiError::bad_request("invalid X-Registry-Auth header: not ASCII")),
    }
}

/// Whether `name` ends in `:tag` (a `:` after the last `/`, so not a registry port).
fn has_tag(name: &str) -> bool {
    name.rsplit('/').next().is_some_and(|last| last.contains(':'))
}

/// A sentinel the stream turns into dockerd's error message.
fn error_progress(message: &str) -> Progress {
    Progress { status: String::new(), aux: Some(json!({ "error": message })), ..Progress::default() }
}

fn progress_stream(receiver: mpsc::UnboundedReceiver<Progress>) -> Response {
    let lines = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let first = receiver.recv().await?;
        let mut bytes = message_line(&first);
        // Send what has piled up in one chunk: a fast pull makes thousands of messages.
        while let Ok(next) = receiver.try_recv() {
            bytes.extend_from_slice(&message_line(&next));
        }
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(bytes)), receiver))
    });
    streaming("application/json", Body::from_stream(lines))
}

/// One of dockerd's JSON messages, newline-terminated.
fn message_line(progress: &Progress) -> Vec<u8> {
    let value = message(progress);
    let mut bytes = serde_json::to_vec(&value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn message(progress: &Progress) -> Value {
    if let Some(error) = progress.aux.as_ref().and_then(|aux| aux.get("error")) {
        return json!({"errorDetail": {"message": error}, "error": error});
    }
    let mut object = serde_json::Map::new();
    if !progress.status.is_empty() {
        object.insert("status".into(), json!(progress.status));
    }
    if let Some(aux) = &progress.aux {
        object.insert("progressDetail".into(), json!({}));
        object.insert("aux".into(), aux.clone());
    }
    if let Some(id) = &progress.id {
        match (progress.current, progress.total) {
            (Some(current), Some(total)) => {
                object.insert("progressDetail".into(), json!({"current": current, "total": total}));
                object.insert("progress".into(), json!(progress_bar(current, total)));
            }
            _ if progress.status.starts_with("Pulling from") => {}
            _ => {
                object.insert("progressDetail".into(), json!({}));
            }
        }
        object.insert("id".into(), json!(id));
    }
    Value::Object(object)
}

/// dockerd's `[====>     ]  1.2MB/3.4MB`, for clients that print the text rather than draw the numbers.
fn progress_bar(current: u64, total: u64) -> String {
    const WIDTH: u64 = 50;
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let filled = (current.min(total) * WIDTH / total) as usize;
    let bar = if filled as u64 >= WIDTH {
        "=".repeat(WIDTH as usize)
    } else {
        format!("{}>{}", "=".repeat(filled), " ".repeat(WIDTH as usize - filled - 1))
    };
    format!("[{bar}] {:>8}/{}", human_size(current), human_size(total))
}

/// Sizes with four significant digits and SI units, as Docker's `units.HumanSize` writes them.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = if value >= 1000.0 {
        0
    } else if value >= 100.0 {
        1
    } else if value >= 10.0 {
        2
    } else {
        3
    };
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text };
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_dockerds_shape() {
        let layer = Progress { id: Some("abc".into()), status: "Pull complete".into(), ..Progress::default() };
        assert_eq!(message(&layer), json!({"status": "Pull complete", "progressDetail": {}, "id": "abc"}));
        let bytes = Progress { current: Some(500_000), total: Some(1_000_000), status: "Downloading".into(), ..layer };
        let value = message(&bytes);
        assert_eq!(value["progressDetail"], json!({"current": 500_000, "total": 1_000_000}));
        assert_eq!(value["progress"], json!(format!("[{}>{}]    500kB/1MB", "=".repeat(25), " ".repeat(24))));
        let from = Progress { id: Some("1".into()), status: "Pulling from demo".into(), ..Progress::default() };
        assert_eq!(message(&from), json!({"status": "Pulling from demo", "id": "1"}));
        let error = error_progress("boom");
        assert_eq!(message(&error), json!({"errorDetail": {"message": "boom"}, "error": "boom"}));
    }

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(32_768), "32.77kB");
        assert_eq!(human_size(3_402_422), "3.402MB");
        assert_eq!(human_size(41_943_040), "41.94MB");
        assert_eq!(human_size(999), "999B");
    }

    #[test]
    fn names_with_a_tag_are_told_from_registry_ports() {
        assert!(has_tag("alpine:3") && has_tag("127.0.0.1:5000/x:1"));
        assert!(!has_tag("127.0.0.1:5000/x") && !has_tag("alpine"));
    }
}
