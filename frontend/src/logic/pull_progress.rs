//! One pull as the page shows it: a row per layer with its latest status and, while bytes move, how many; then the
//! digest and dockerd's last word (`Downloaded newer image for ...`, `Image is up to date for ...`) or the error.
//! Fed with the messages of `POST /images/create`, dockerd's JSON progress (bollard-stubs `CreateImageInfo`).

use bollard_stubs::models::CreateImageInfo;

/// The statuses after which a layer needs nothing more.
const LAYER_DONE: [&str; 2] = ["Pull complete", "Already exists"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerProgress {
    /// The layer's short digest, as dockerd names it.
    pub id: String,
    /// The latest status: `Pulling fs layer`, `Waiting`, `Downloading`, `Verifying Checksum`, `Download complete`,
    /// `Extracting`, `Pull complete`, `Already exists`.
    pub status: String,
    /// Bytes done and in all, when the latest message counted them (`Downloading`, `Extracting`).
    pub bytes: Option<(u64, u64)>,
}

impl LayerProgress {
    pub fn is_done(&self) -> bool {
        LAYER_DONE.contains(&self.status.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullState {
    Running,
    /// dockerd's `Status:` line came: the image is in the store.
    Succeeded,
    /// The daemon refused the pull (an HTTP error before the stream), said why it failed mid-stream
    /// (`errorDetail`), or the stream broke off.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullProgress {
    /// What was asked for, as typed after the name/tag split (`127.0.0.1:5000/demo:1`).
    pub reference: String,
    /// dockerd's first line, `Pulling from demo`.
    pub heading: Option<String>,
    /// In the order dockerd first named them: the image's layers, lowest first.
    pub layers: Vec<LayerProgress>,
    /// `sha256:...` of the manifest (or index) pulled.
    pub digest: Option<String>,
    /// The `Status:` line without its prefix: `Downloaded newer image for ...` or `Image is up to date for ...`.
    pub outcome: Option<String>,
    /// Whole-image lines that are none of those (and any line that was not JSON), so nothing the daemon said is lost.
    pub notes: Vec<String>,
    pub state: PullState,
}

impl PullProgress {
    pub fn started(reference: String) -> Self {
        PullProgress {
            reference,
            heading: None,
            layers: Vec::new(),
            digest: None,
            outcome: None,
            notes: Vec::new(),
            state: PullState::Running,
        }
    }

    pub fn apply(&mut self, message: CreateImageInfo) {
        if let Some(error) = message.error_detail.and_then(|detail| detail.message) {
            return self.fail(error);
        }
        let status = message.status.unwrap_or_default();
        match message.id {
            // The one message with an id that is no layer's: its id is the tag being pulled.
            Some(_) if status.starts_with("Pulling from ") => self.heading = Some(status),
            Some(id) => {
                let bytes = message.progress_detail.and_then(|detail| match (detail.current, detail.total) {
                    (Some(current), Some(total)) if total > 0 => Some((current.clamp(0, total) as u64, total as u64)),
                    _ => None,
                });
                match self.layers.iter_mut().find(|layer| layer.id == id) {
                    Some(layer) => {
                        layer.status = status;
                        layer.bytes = bytes;
                    }
                    None => self.layers.push(LayerProgress { id, status, bytes }),
                }
            }
            None => {
                if let Some(digest) = status.strip_prefix("Digest: ") {
                    self.digest = Some(digest.to_string());
                } else if let Some(outcome) = status.strip_prefix("Status: ") {
                    self.outcome = Some(outcome.to_string());
                    self.state = PullState::Succeeded;
                } else if !status.trim().is_empty() {
                    self.notes.push(status);
                }
            }
        }
    }

    /// The daemon refused the pull or the request failed. The first failure is the one that explains.
    pub fn fail(&mut self, error: String) {
        if !matches!(self.state, PullState::Failed(_)) {
            self.state = PullState::Failed(error);
        }
    }

    /// The stream ended. dockerd always ends a pull with a `Status:` line or an error; without either, the
    /// connection broke and nobody knows whether the image arrived.
    pub fn end(&mut self) {
        if self.state == PullState::Running {
            self.fail("the connection to the daemon closed before the pull finished".into());
        }
    }

    /// `2 of 3 layers done`, for the heading; None before any layer is named.
    pub fn layers_summary(&self) -> Option<String> {
        if self.layers.is_empty() {
            return None;
        }
        let done = self.layers.iter().filter(|layer| layer.is_done()).count();
        let noun = if self.layers.len() == 1 { "layer" } else { "layers" };
        Some(format!("{done} of {} {noun} done", self.layers.len()))
    }
}

#[cfg(test)]
mod tests {
    use bollard_stubs::models::{ErrorDetail, ProgressDetail};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    /// A message as the daemon writes it, decoded the way the page decodes the stream.
    fn message(json: &str) -> CreateImageInfo {
        serde_json::from_str(json).unwrap_or_else(|error| panic!("{json}: {error}"))
    }

    /// A layer row as (id, status, bytes).
    type Row<'a> = (&'a str, &'a str, Option<(u64, u64)>);

    fn rows(progress: &PullProgress) -> Vec<Row<'_>> {
        progress.layers.iter().map(|layer| (layer.id.as_str(), layer.status.as_str(), layer.bytes)).collect()
    }

    #[wasm_bindgen_test]
    fn a_pull_folds_into_one_row_per_layer() {
        let mut progress = PullProgress::started("127.0.0.1:5000/demo:1".into());
        for line in [
            r#"{"status":"Pulling from demo","id":"1"}"#,
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"254ec8a8635b"}"#,
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"9f1b2c3d4e5f"}"#,
            r#"{"status":"Waiting","progressDetail":{},"id":"9f1b2c3d4e5f"}"#,
            r#"{"status":"Downloading","progressDetail":{"current":524288,"total":2097152},"progress":"[====>  ] 524.3kB/2.097MB","id":"254ec8a8635b"}"#,
        ] {
            progress.apply(message(line));
        }
        assert_eq!(progress.heading.as_deref(), Some("Pulling from demo"), "the tag's line is no layer");
        assert_eq!(
            rows(&progress),
            vec![("254ec8a8635b", "Downloading", Some((524_288, 2_097_152))), ("9f1b2c3d4e5f", "Waiting", None)]
        );
        assert_eq!(progress.layers_summary().as_deref(), Some("0 of 2 layers done"));
        for line in [
            r#"{"status":"Verifying Checksum","progressDetail":{},"id":"254ec8a8635b"}"#,
            r#"{"status":"Download complete","progressDetail":{},"id":"254ec8a8635b"}"#,
            r#"{"status":"Extracting","progressDetail":{"current":2097152,"total":2097152},"id":"254ec8a8635b"}"#,
        ] {
            progress.apply(message(line));
        }
        assert_eq!(rows(&progress)[0], ("254ec8a8635b", "Extracting", Some((2_097_152, 2_097_152))));
        for line in [
            r#"{"status":"Pull complete","progressDetail":{},"id":"254ec8a8635b"}"#,
            r#"{"status":"Already exists","progressDetail":{},"id":"9f1b2c3d4e5f"}"#,
            r#"{"status":"Digest: sha256:aaaabbbb"}"#,
        ] {
            progress.apply(message(line));
        }
        assert_eq!(progress.state, PullState::Running, "done only when dockerd says its last word");
        progress.apply(message(r#"{"status":"Status: Downloaded newer image for 127.0.0.1:5000/demo:1"}"#));
        progress.end();
        assert_eq!(
            rows(&progress),
            vec![("254ec8a8635b", "Pull complete", None), ("9f1b2c3d4e5f", "Already exists", None)],
            "a finished layer shows no bar"
        );
        assert_eq!(progress.layers_summary().as_deref(), Some("2 of 2 layers done"));
        assert_eq!(progress.digest.as_deref(), Some("sha256:aaaabbbb"));
        assert_eq!(progress.outcome.as_deref(), Some("Downloaded newer image for 127.0.0.1:5000/demo:1"));
        assert_eq!(progress.state, PullState::Succeeded);
    }

    #[wasm_bindgen_test]
    fn an_image_already_here_is_up_to_date() {
        let mut progress = PullProgress::started("demo@sha256:aaaabbbb".into());
        progress.apply(message(r#"{"status":"Digest: sha256:aaaabbbb"}"#));
        progress.apply(message(r#"{"status":"Status: Image is up to date for demo@sha256:aaaabbbb"}"#));
        progress.end();
        assert_eq!(progress.state, PullState::Succeeded);
        assert_eq!(progress.outcome.as_deref(), Some("Image is up to date for demo@sha256:aaaabbbb"));
        assert_eq!(progress.layers_summary(), None);
    }

    #[wasm_bindgen_test]
    fn bytes_that_make_no_bar_are_left_out() {
        let mut progress = PullProgress::started("demo:1".into());
        let counted = |current, total| CreateImageInfo {
            id: Some("abc".into()),
            status: Some("Downloading".into()),
            progress_detail: Some(ProgressDetail { current: Some(current), total: Some(total) }),
            ..CreateImageInfo::default()
        };
        progress.apply(counted(10, 0));
        assert_eq!(progress.layers[0].bytes, None, "an unknown size draws no bar");
        progress.apply(counted(12, 10));
        assert_eq!(progress.layers[0].bytes, Some((10, 10)), "never past full");
    }

    #[wasm_bindgen_test]
    fn an_error_in_the_stream_fails_the_pull() {
        let mut progress = PullProgress::started("127.0.0.1:5000/demo:1".into());
        progress.apply(message(r#"{"status":"Pulling fs layer","progressDetail":{},"id":"254ec8a8635b"}"#));
        progress.apply(message(
            r#"{"errorDetail":{"message":"digest mismatch for layer sha256:254e"},"error":"digest mismatch for layer sha256:254e"}"#,
        ));
        progress.end();
        assert_eq!(progress.state, PullState::Failed("digest mismatch for layer sha256:254e".into()));
        assert_eq!(rows(&progress), vec![("254ec8a8635b", "Pulling fs layer", None)], "the layers stay as they were");
        // A later failure (the request's own error) does not hide the daemon's reason.
        progress.fail("something else".into());
        assert_eq!(progress.state, PullState::Failed("digest mismatch for layer sha256:254e".into()));
    }

    #[wasm_bindgen_test]
    fn a_refused_or_broken_pull_fails() {
        let mut refused = PullProgress::started("127.0.0.1:5000/nope:1".into());
        refused.fail("manifest for 127.0.0.1:5000/nope:1 not found: manifest unknown (HTTP 404)".into());
        assert!(matches!(refused.state, PullState::Failed(ref message) if message.contains("not found")));
        let mut cut = PullProgress::started("demo:1".into());
        cut.apply(CreateImageInfo { status: Some("a line that was not JSON".into()), ..CreateImageInfo::default() });
        cut.end();
        assert_eq!(cut.notes, vec!["a line that was not JSON".to_string()]);
        assert!(matches!(cut.state, PullState::Failed(_)));
        let empty_error = CreateImageInfo {
            error_detail: Some(ErrorDetail { code: None, message: None }),
            status: Some("Digest: sha256:ab".into()),
            ..CreateImageInfo::default()
        };
        let mut odd = PullProgress::started("demo:1".into());
        odd.apply(empty_error);
        assert_eq!(odd.digest.as_deref(), Some("sha256:ab"), "an errorDetail without a message is no error");
    }
}
