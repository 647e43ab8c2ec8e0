//! Build progress as typed events. The daemon emits them while it executes a Dockerfile; the web app shows them as
//! they come, and the daemon renders Docker's legacy JSON stream (`{"stream":"Step 1/5 : FROM busybox\n"}`)
//! from the same events, so both views always agree.

use serde::{Deserialize, Serialize};

/// Which output stream of a RUN step a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// One thing that happened during a build, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BuildEvent {
    /// A step begins: `Step {number}/{total} : {instruction}`.
    Step {
        /// 1-based over the whole build.
        number: usize,
        total: usize,
        /// The instruction as written (first line, variables unexpanded), as Docker prints it.
        instruction: String,
        /// 1-based Dockerfile line of the instruction, when it comes from the Dockerfile (not an ONBUILD trigger).
        line: Option<usize>,
        /// 0-based stage index.
        stage: usize,
    },
    /// The step's result was found in the build cache.
    Cached { image_id: String },
    /// A RUN step started a container.
    Running { container_id: String },
    /// Output of the running container, as it came.
    Output { stream: OutputStream, text: String },
    /// ONBUILD triggers of the base image are about to run.
    Triggers { count: usize },
    /// The intermediate container of a step was removed.
    ContainerRemoved { container_id: String },
    /// A step finished with this image.
    StepDone {
        number: usize,
        image_id: String,
        cached: bool,
        /// Wall time of the step, in milliseconds.
        duration_ms: u64,
        /// Bytes of the layer the step added; None for a metadata-only step.
        layer_size: Option<u64>,
    },
    /// Something worth telling that is not an error (unused build arguments).
    Warning { message: String },
    /// Progress of pulling a FROM image the daemon did not have (or `--pull`): dockerd's pull messages.
    Pull {
        /// The layer's short ID (or the tag, for `Pulling from`); none for whole-image lines.
        id: Option<String>,
        status: String,
        current: Option<u64>,
        total: Option<u64>,
    },
    /// The build succeeded with this image (`sha256:<hex>`).
    Built { image_id: String },
    /// The built image got this tag.
    Tagged { tag: String },
    /// The build failed; no image was tagged.
    Failed {
        message: String,
        /// The Dockerfile line of the failing instruction, when known.
        line: Option<usize>,
        /// The last image that was built successfully, to debug from.
        last_image_id: Option<String>,
        /// A failed RUN's exit code (dockerd's errorDetail.code).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i64>,
    },
}

/// The 12-hex-digit form of an image or container ID (`sha256:` dropped), as the build log prints it.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// One line of Docker's legacy build stream (`POST /build`), as its JSON object; `docker load` answers with the same
/// lines (Docker's JSONMessage, which bollard-stubs models as `BuildInfo`, a type that only deserializes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LegacyMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<LegacyProgressDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<LegacyAux>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<LegacyErrorDetail>,
}

/// Bytes done and in all of a pull's layer; `{}` for a layer's other messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyProgressDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyAux {
    #[serde(rename = "ID")]
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyErrorDetail {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
}

impl LegacyMessage {
    fn stream(text: impl Into<String>) -> Self {
        LegacyMessage { stream: Some(text.into()), ..Default::default() }
    }
}

/// The legacy stream lines Docker writes for `event`. `quiet` (`docker build -q`) keeps only the final ID and
/// errors.
pub fn legacy_messages(event: &BuildEvent, quiet: bool) -> Vec<LegacyMessage> {
    if quiet {
        return match event {
            BuildEvent::Built { image_id } => vec![LegacyMessage::stream(format!("{image_id}\n"))],
            BuildEvent::Failed { message, code, .. } => vec![error_with_code(message, *code)],
            _ => Vec::new(),
        };
    }
    match event {
        BuildEvent::Step { number, total, instruction, .. } => {
            vec![LegacyMessage::stream(format!("Step {number}/{total} : {instruction}\n"))]
        }
        BuildEvent::Cached { .. } => vec![LegacyMessage::stream(" ---> Using cache\n")],
        BuildEvent::Running { container_id } => {
            vec![LegacyMessage::stream(format!(" ---> Running in {}\n", short_id(container_id)))]
        }
        // The classic builder writes a RUN's stderr in red, each write between its two escape codes.
        BuildEvent::Output { stream: OutputStream::Stderr, text } => {
            vec![LegacyMessage::stream(format!("\x1b[91m{text}\x1b[0m"))]
        }
        BuildEvent::Output { text, .. } => vec![LegacyMessage::stream(text.clone())],
        BuildEvent::Triggers { count } => {
            let s = if *count == 1 { "" } else { "s" };
            vec![LegacyMessage::stream(format!("# Executing {count} build trigger{s}\n"))]
        }
        BuildEvent::ContainerRemoved { container_id } => {
            vec![LegacyMessage::stream(format!("Removing intermediate container {}\n", short_id(container_id)))]
        }
        BuildEvent::StepDone { image_id, .. } => {
            vec![LegacyMessage::stream(format!(" ---> {}\n", short_id(image_id)))]
        }
        BuildEvent::Warning { message } => vec![LegacyMessage::stream(format!("[Warning] {message}\n"))],
        BuildEvent::Pull { id, status, current, total } => vec![LegacyMessage {
            status: Some(status.clone()),
            progress_detail: id
                .as_ref()
                .filter(|_| !status.starts_with("Pulling from"))
                .map(|_| LegacyProgressDetail { current: *current, total: *total }),
            id: id.clone(),
            ..Default::default()
        }],
        BuildEvent::Built { image_id } => vec![
            LegacyMessage { aux: Some(LegacyAux { id: image_id.clone() }), ..Default::default() },
            LegacyMessage::stream(format!("Successfully built {}\n", short_id(image_id))),
        ],
        BuildEvent::Tagged { tag } => vec![LegacyMessage::stream(format!("Successfully tagged {tag}\n"))],
        BuildEvent::Failed { message, code, .. } => vec![error_with_code(message, *code)],
    }
}

/// Docker's error line of a JSON message stream (`error` and `errorDetail.message` alike).
pub fn error_message(message: &str) -> LegacyMessage {
    error_with_code(message, None)
}

/// [`error_message`] with the code dockerd puts in errorDetail (a failed RUN's exit code).
fn error_with_code(message: &str, code: Option<i64>) -> LegacyMessage {
    LegacyMessage {
        error: Some(message.to_string()),
        error_detail: Some(LegacyErrorDetail { message: message.to_string(), code }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_stream_matches_docker() {
        let step =
            BuildEvent::Step { number: 1, total: 5, instruction: "FROM busybox".into(), line: Some(1), stage: 0 };
        let json = serde_json::to_string(&legacy_messages(&step, false)[0]).unwrap();
        assert_eq!(json, r#"{"stream":"Step 1/5 : FROM busybox\n"}"#);
        let built = legacy_messages(&BuildEvent::Built { image_id: format!("sha256:{}", "ab".repeat(32)) }, false);
        assert_eq!(
            serde_json::to_string(&built[0]).unwrap(),
            format!(r#"{{"aux":{{"ID":"sha256:{}"}}}}"#, "ab".repeat(32))
        );
        assert_eq!(built[1].stream.as_deref(), Some("Successfully built abababababab\n"));
        let failed = BuildEvent::Failed { message: "boom".into(), line: None, last_image_id: None, code: None };
        let json = serde_json::to_string(&legacy_messages(&failed, true)[0]).unwrap();
        assert_eq!(json, r#"{"error":"boom","errorDetail":{"message":"boom"}}"#);
        let failed = BuildEvent::Failed { message: "boom".into(), line: Some(2), last_image_id: None, code: Some(7) };
        let json = serde_json::to_string(&legacy_messages(&failed, false)[0]).unwrap();
        assert_eq!(json, r#"{"error":"boom","errorDetail":{"message":"boom","code":7}}"#);
        let stderr = BuildEvent::Output { stream: OutputStream::Stderr, text: "oops\n".into() };
        assert_eq!(legacy_messages(&stderr, false)[0].stream.as_deref(), Some("\x1b[91moops\n\x1b[0m"));
        assert!(legacy_messages(&step, true).is_empty());
        let pull =
            BuildEvent::Pull { id: Some("abc".into()), status: "Downloading".into(), current: Some(1), total: Some(2) };
        let json = serde_json::to_string(&legacy_messages(&pull, false)[0]).unwrap();
        assert_eq!(json, r#"{"status":"Downloading","progressDetail":{"current":1,"total":2},"id":"abc"}"#);
        assert!(legacy_messages(&pull, true).is_empty());
    }
}
