//! Build jobs and cache prediction: Berth's own endpoints beside Docker's `POST /build`.
//!
//! - `POST /berth/builds` (body: the context tar; query as `POST /build`: `t`, `dockerfile`, `target`, `buildargs`,
//!   `nocache`, `labels`) starts a build that runs in the daemon, detached from the request, and answers
//!   [`BuildJobCreated`].
//! - `GET /berth/builds/{id}/events` streams the job's [`BuildJobEvent`]s as JSON lines: every event from the start,
//!   then the live ones, ending when the build ends. A page that reloads asks again and sees the whole build.
//! - `GET /berth/builds` lists recent jobs ([`BuildJobSummary`], newest first).
//! - `POST /berth/builds/predict` (body and query as `POST /berth/builds`) walks the Dockerfile without running it
//!   and answers, per step, whether the build cache has its result ([`BuildPrediction`]).

use serde::{Deserialize, Serialize};

use super::build::BuildEvent;

/// The answer to `POST /berth/builds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildJobCreated {
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildJobState {
    Running,
    Succeeded,
    Failed,
}

/// One line of `GET /berth/builds/{id}/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildJobEvent {
    /// When the daemon recorded the event, in milliseconds since the Unix epoch (so a page that replays the
    /// events after a reload shows the durations they really had).
    pub time_ms: u64,
    pub event: BuildEvent,
}

/// A job as `GET /berth/builds` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildJobSummary {
    pub id: String,
    pub state: BuildJobState,
    /// The tags asked for (`t`).
    pub tags: Vec<String>,
    /// Milliseconds since the Unix epoch.
    pub started_ms: u64,
    pub finished_ms: Option<u64>,
    /// The step being run or last run, and the total, once the first step began.
    pub step: Option<usize>,
    pub total_steps: Option<usize>,
    /// The built image, on success.
    pub image_id: Option<String>,
    /// The failure message, on failure.
    pub error: Option<String>,
}

/// What the build cache says about one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepPrediction {
    /// The step's result is in the cache: this image.
    Cached { image_id: String },
    /// Nothing to run or cache: `FROM` (the base image) and `ARG` before the first `FROM`.
    NoOp,
    /// The cache has no result: the step, and every step after it, will run.
    WillRun,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictedStep {
    /// 1-based, as the build numbers its steps.
    pub number: usize,
    /// The instruction as the build log prints it.
    pub instruction: String,
    /// 1-based Dockerfile line, when the step comes from the Dockerfile.
    pub line: Option<usize>,
    pub prediction: StepPrediction,
}

/// The answer to `POST /berth/builds/predict`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildPrediction {
    pub steps: Vec<PredictedStep>,
    /// Why the walk stopped early, when a step would fail (a base image that does not exist, a COPY source
    /// missing from the context); the step it names and every later one are [`StepPrediction::WillRun`].
    pub error: Option<String>,
}

impl BuildPrediction {
    /// The prediction for a Dockerfile line, if a step starts there.
    pub fn for_line(&self, line: usize) -> Option<&StepPrediction> {
        self.steps.iter().find(|step| step.line == Some(line)).map(|step| &step.prediction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shapes() {
        let step = PredictedStep {
            number: 2,
            instruction: "RUN make".into(),
            line: Some(2),
            prediction: StepPrediction::Cached { image_id: "sha256:ab".into() },
        };
        assert_eq!(
            serde_json::to_string(&step).unwrap(),
            r#"{"number":2,"instruction":"RUN make","line":2,"prediction":{"outcome":"cached","image_id":"sha256:ab"}}"#
        );
        let event = BuildJobEvent { time_ms: 5, event: BuildEvent::Built { image_id: "sha256:ab".into() } };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"time_ms":5,"event":{"event":"built","image_id":"sha256:ab"}}"#
        );
    }
}
