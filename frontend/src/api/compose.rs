//! The playground's compose endpoints (`/berth/compose/{project}/up|down`, streamed `ComposeProgress` lines) and
//! the project's containers from the Engine API, found by compose's project label.

use berth_shared::api::compose::ComposeProgress;
use bollard_stubs::models::ContainerSummary;

use super::{encode, get_json, stream, DaemonError};
use crate::logic::json_lines::JsonLines;

/// compose's label naming a container's project, and its service.
pub const LABEL_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_SERVICE: &str = "com.docker.compose.service";

/// Sends the project's files (a tar) and runs `up -d`; calls `on_event` for each progress line until the end.
pub async fn up(project: &str, files_tar: &[u8], on_event: impl FnMut(ComposeProgress)) -> Result<(), DaemonError> {
    let url = format!("/berth/compose/{}/up", encode(project));
    let body = stream::open("POST", &url, Some((files_tar, "application/x-tar"))).await?;
    read_progress(body, on_event).await
}

/// The grace period `down` gives each container before SIGKILL (compose's default stop timeout).
pub const STOP_GRACE_SECONDS: u32 = 10;

/// Runs `down` on the project's files of its last up; `remove_volumes` adds `-v` (its named volumes go too).
pub async fn down(
    project: &str,
    remove_volumes: bool,
    on_event: impl FnMut(ComposeProgress),
) -> Result<(), DaemonError> {
    let url = format!("/berth/compose/{}/down?volumes={}", encode(project), u8::from(remove_volumes));
    let body = stream::open("POST", &url, None).await?;
    read_progress(body, on_event).await
}

async fn read_progress(
    mut body: stream::BodyStream,
    mut on_event: impl FnMut(ComposeProgress),
) -> Result<(), DaemonError> {
    let mut lines = JsonLines::default();
    let mut deliver = |value: Result<ComposeProgress, String>| {
        on_event(value.unwrap_or_else(|line| ComposeProgress::Output { line }));
    };
    while let Some(chunk) = body.next().await? {
        for value in lines.push::<ComposeProgress>(&chunk) {
            deliver(value);
        }
    }
    if let Some(value) = lines.finish::<ComposeProgress>() {
        deliver(value);
    }
    Ok(())
}

/// The project's containers, running or not (one-off `run` containers included).
pub async fn containers(project: &str) -> Result<Vec<ContainerSummary>, DaemonError> {
    let filters = serde_json::json!({ "label": [format!("{LABEL_PROJECT}={project}")] }).to_string();
    get_json(&format!("/containers/json?all=1&filters={}", encode(&filters))).await
}
