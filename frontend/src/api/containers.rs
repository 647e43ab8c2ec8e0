//! Containers: list, create + start, lifecycle actions, inspect, changes, and the streamed logs and stats.

use bollard_stubs::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerInspectResponse, ContainerSummary, FilesystemChange,
};

use super::{delete, encode, get_json, post, post_json, stream, DaemonError};

pub async fn list() -> Result<Vec<ContainerSummary>, DaemonError> {
    get_json("/containers/json?all=1").await
}

pub async fn inspect(id: &str) -> Result<ContainerInspectResponse, DaemonError> {
    get_json(&format!("/containers/{}/json", encode(id))).await
}

/// The raw inspect JSON, for the formatted view (shows fields the typed model does not know too).
pub async fn inspect_raw(id: &str) -> Result<serde_json::Value, DaemonError> {
    get_json(&format!("/containers/{}/json", encode(id))).await
}

pub async fn changes(id: &str) -> Result<Vec<FilesystemChange>, DaemonError> {
    // The daemon answers `null` when nothing changed, as Docker does.
    let changes: Option<Vec<FilesystemChange>> = get_json(&format!("/containers/{}/changes", encode(id))).await?;
    Ok(changes.unwrap_or_default())
}

/// Creates and starts; returns the new container's id. A start failure leaves the container created, as
/// `docker run` does, and says so.
pub async fn run(name: Option<&str>, body: &ContainerCreateBody) -> Result<String, DaemonError> {
    let url = match name.filter(|name| !name.is_empty()) {
        Some(name) => format!("/containers/create?name={}", encode(name)),
        None => "/containers/create".to_string(),
    };
    let created: ContainerCreateResponse = post_json(&url, body).await?;
    action(&created.id, Action::Start).await?;
    Ok(created.id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
    Pause,
    Unpause,
    /// SIGKILL.
    Kill,
    Remove,
}

impl Action {
    pub fn label(self) -> &'static str {
        match self {
            Action::Start => "Start",
            Action::Stop => "Stop",
            Action::Restart => "Restart",
            Action::Pause => "Pause",
            Action::Unpause => "Unpause",
            Action::Kill => "Kill",
            Action::Remove => "Remove",
        }
    }
}

pub async fn action(id: &str, action: Action) -> Result<(), DaemonError> {
    let id = encode(id);
    match action {
        Action::Start => post(&format!("/containers/{id}/start")).await,
        // A short grace period: the playground's shells ignore SIGTERM and would hold the button for 10 s.
        Action::Stop => post(&format!("/containers/{id}/stop?t=3")).await,
        Action::Restart => post(&format!("/containers/{id}/restart?t=3")).await,
        Action::Pause => post(&format!("/containers/{id}/pause")).await,
        Action::Unpause => post(&format!("/containers/{id}/unpause")).await,
        Action::Kill => post(&format!("/containers/{id}/kill")).await,
        Action::Remove => delete(&format!("/containers/{id}?force=1&v=1")).await,
    }
}

pub struct LogOptions {
    pub follow: bool,
    pub timestamps: bool,
    /// Lines from the end; None for all.
    pub tail: Option<u32>,
}

pub async fn logs(id: &str, options: &LogOptions) -> Result<stream::BodyStream, DaemonError> {
    let tail = options.tail.map_or_else(|| "all".to_string(), |tail| tail.to_string());
    let url = format!(
        "/containers/{}/logs?stdout=1&stderr=1&follow={}&timestamps={}&tail={tail}",
        encode(id),
        u8::from(options.follow),
        u8::from(options.timestamps)
    );
    stream::open("GET", &url, None).await
}

pub async fn stats(id: &str) -> Result<stream::BodyStream, DaemonError> {
    stream::open("GET", &format!("/containers/{}/stats?stream=1", encode(id)), None).await
}
