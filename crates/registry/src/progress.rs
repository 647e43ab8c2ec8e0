//! Progress of a pull or push, in the shape of dockerd's JSON messages (`status`, `id`, `progressDetail`, `aux`),
//! so the docker CLI draws its usual bars.

use tokio::sync::mpsc::UnboundedSender;

/// One progress message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// The layer's short ID, or a tag for `Pulling from`; none for whole-image lines.
    pub id: Option<String>,
    pub status: String,
    /// Bytes done and in all, for `Downloading`, `Extracting` and `Pushing`.
    pub current: Option<u64>,
    pub total: Option<u64>,
    /// Extra data: the pushed tag, digest and size.
    pub aux: Option<serde_json::Value>,
}

/// Where progress goes; a closed receiver (the client went away) is not an error for the pull.
#[derive(Debug, Clone)]
pub struct ProgressSink(Option<UnboundedSender<Progress>>);

impl ProgressSink {
    pub fn new(sender: UnboundedSender<Progress>) -> Self {
        ProgressSink(Some(sender))
    }

    /// A sink that drops everything (a build's or compose's pull that only wants the result).
    pub fn discard() -> Self {
        ProgressSink(None)
    }

    pub(crate) fn send(&self, progress: Progress) {
        if let Some(sender) = &self.0 {
            let _ = sender.send(progress);
        }
    }

    pub(crate) fn status(&self, status: impl Into<String>) {
        self.send(Progress { status: status.into(), ..Progress::default() });
    }

    pub(crate) fn layer(&self, id: &str, status: impl Into<String>) {
        self.send(Progress { id: Some(id.to_string()), status: status.into(), ..Progress::default() });
    }

    pub(crate) fn bytes(&self, id: &str, status: &str, current: u64, total: u64) {
        self.send(Progress {
            id: Some(id.to_string()),
            status: status.to_string(),
            current: Some(current),
            total: Some(total),
            aux: None,
        });
    }
}

/// How many bytes pass between two byte-count messages (dockerd's progress reader sends about as often).
pub(crate) const PROGRESS_STEP: u64 = 512 * 1024;

/// The 12 hex digits dockerd shows for a layer.
pub(crate) fn short_digest(digest: &str) -> String {
    berth_image::short_id(digest).to_string()
}
