//! Docker's legacy build stream (`POST /build`: `{"stream":"Step 1/3 : FROM busybox\n"}`, `{"aux":{"ID":..}}`,
//! `{"error":..}`) folded into a structured view: steps with their state, output and duration.
//!
//! The view depends only on [`BuildMessage`]s, not on where they come from: today a POST /build response body,
//! later a daemon build job a reloaded page can rejoin.

use serde::Deserialize;

/// One JSON object of the legacy stream. Unknown fields (`progressDetail`, ...) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BuildMessage {
    #[serde(default)]
    pub stream: Option<String>,
    #[serde(default)]
    pub aux: Option<serde_json::Value>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default, rename = "errorDetail")]
    pub error_detail: Option<ErrorDetail>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Running,
    /// Found in the build cache ("Using cache"), waiting for its image id.
    Cached,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildStep {
    pub number: usize,
    pub total: usize,
    pub instruction: String,
    pub state: StepState,
    pub cached: bool,
    pub output: Vec<String>,
    /// The image the step produced (short id, as the stream prints it).
    pub image_id: Option<String>,
    pub started_ms: f64,
    pub finished_ms: Option<f64>,
}

impl BuildStep {
    pub fn duration_ms(&self, now_ms: f64) -> f64 {
        self.finished_ms.unwrap_or(now_ms) - self.started_ms
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildState {
    Idle,
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildProgress {
    pub state: BuildState,
    pub steps: Vec<BuildStep>,
    /// Lines before the first step (context upload notes) and after the last.
    pub notes: Vec<String>,
    pub image_id: Option<String>,
    pub tags: Vec<String>,
    pub error: Option<String>,
    pub started_ms: f64,
    pub finished_ms: Option<f64>,
    /// Text of a line not yet ended by a newline (RUN output arrives in arbitrary pieces).
    partial_line: String,
}

impl Default for BuildProgress {
    fn default() -> Self {
        BuildProgress {
            state: BuildState::Idle,
            steps: Vec::new(),
            notes: Vec::new(),
            image_id: None,
            tags: Vec::new(),
            error: None,
            started_ms: 0.0,
            finished_ms: None,
            partial_line: String::new(),
        }
    }
}

impl BuildProgress {
    pub fn started(now_ms: f64) -> Self {
        BuildProgress { state: BuildState::Running, started_ms: now_ms, ..BuildProgress::default() }
    }

    pub fn total_steps(&self) -> Option<usize> {
        self.steps.last().map(|step| step.total)
    }

    pub fn apply(&mut self, message: &BuildMessage, now_ms: f64) {
        if let Some(text) = &message.stream {
            self.partial_line.push_str(text);
            while let Some(newline) = self.partial_line.find('\n') {
                let line: String = self.partial_line.drain(..=newline).collect();
                self.apply_line(line.trim_end_matches(['\n', '\r']), now_ms);
            }
        }
        if let Some(id) = message.aux.as_ref().and_then(|aux| aux.get("ID")).and_then(|id| id.as_str()) {
            self.image_id = Some(id.to_string());
        }
        let error =
            message.error.clone().or_else(|| message.error_detail.as_ref().and_then(|detail| detail.message.clone()));
        if let Some(error) = error {
            self.fail(error, now_ms);
        }
    }

    /// The stream ended; a build that said neither success nor failure failed (the connection broke).
    pub fn finish(&mut self, now_ms: f64) {
        if !self.partial_line.is_empty() {
            let line = std::mem::take(&mut self.partial_line);
            self.apply_line(&line, now_ms);
        }
        if self.state != BuildState::Running {
            return;
        }
        if self.image_id.is_some() && self.steps.iter().all(|step| step.state == StepState::Done) {
            self.state = BuildState::Succeeded;
            self.finished_ms = Some(now_ms);
        } else {
            self.fail("the build stream ended before the build finished".to_string(), now_ms);
        }
    }

    pub fn fail(&mut self, error: String, now_ms: f64) {
        if let Some(step) = self.steps.last_mut().filter(|step| step.finished_ms.is_none()) {
            step.state = StepState::Failed;
            step.finished_ms = Some(now_ms);
        }
        self.error = Some(error);
        self.state = BuildState::Failed;
        self.finished_ms = Some(now_ms);
    }

    fn apply_line(&mut self, line: &str, now_ms: f64) {
        if let Some((number, total, instruction)) = parse_step_line(line) {
            self.finish_running_step(now_ms);
            self.steps.push(BuildStep {
                number,
                total,
                instruction: instruction.to_string(),
                state: StepState::Running,
                cached: false,
                output: Vec::new(),
                image_id: None,
                started_ms: now_ms,
                finished_ms: None,
            });
            return;
        }
        if let Some(id) = line.strip_prefix("Successfully built ") {
            self.finish_running_step(now_ms);
            self.image_id.get_or_insert_with(|| id.trim().to_string());
            self.state = BuildState::Succeeded;
            self.finished_ms = Some(now_ms);
            return;
        }
        if let Some(tag) = line.strip_prefix("Successfully tagged ") {
            self.tags.push(tag.trim().to_string());
            return;
        }
        let Some(step) = self.steps.last_mut().filter(|step| step.finished_ms.is_none()) else {
            if !line.trim().is_empty() {
                self.notes.push(line.to_string());
            }
            return;
        };
        match line.strip_prefix(" ---> ") {
            Some("Using cache") => {
                step.cached = true;
                step.state = StepState::Cached;
            }
            Some(rest) if rest.starts_with("Running in ") => {}
            Some(rest) if is_short_id(rest.trim()) => {
                step.image_id = Some(rest.trim().to_string());
                step.state = StepState::Done;
                step.finished_ms = Some(now_ms);
            }
            _ if line.starts_with("Removing intermediate container ") => {}
            _ => step.output.push(line.to_string()),
        }
    }

    fn finish_running_step(&mut self, now_ms: f64) {
        if let Some(step) = self.steps.last_mut().filter(|step| step.finished_ms.is_none()) {
            step.state = StepState::Done;
            step.finished_ms = Some(now_ms);
        }
    }
}

/// `Step 2/5 : RUN make` → (2, 5, "RUN make").
fn parse_step_line(line: &str) -> Option<(usize, usize, &str)> {
    let rest = line.strip_prefix("Step ")?;
    let (counts, instruction) = rest.split_once(" : ")?;
    let (number, total) = counts.split_once('/')?;
    Some((number.trim().parse().ok()?, total.trim().parse().ok()?, instruction))
}

fn is_short_id(text: &str) -> bool {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    hex.len() >= 12 && hex.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn stream(text: &str) -> BuildMessage {
        BuildMessage { stream: Some(text.to_string()), ..BuildMessage::default() }
    }

    #[wasm_bindgen_test]
    fn steps_cached_running_done() {
        let mut progress = BuildProgress::started(0.0);
        let messages = [
            stream("Step 1/3 : FROM busybox\n"),
            stream(" ---> 0123456789ab\n"),
            stream("Step 2/3 : RUN echo made\n"),
            stream(" ---> Running in fedcba987654\n"),
            stream("ma"),
            stream("de\n"),
            stream("Removing intermediate container fedcba987654\n"),
            stream(" ---> aaaaaaaaaaaa\n"),
            stream("Step 3/3 : CMD [\"sh\"]\n"),
            stream(" ---> Using cache\n"),
            stream(" ---> bbbbbbbbbbbb\n"),
            BuildMessage { aux: Some(serde_json::json!({"ID": "sha256:bbbb"})), ..BuildMessage::default() },
            stream("Successfully built bbbbbbbbbbbb\n"),
            stream("Successfully tagged demo:latest\n"),
        ];
        for (time, message) in messages.iter().enumerate() {
            progress.apply(message, time as f64);
        }
        progress.finish(100.0);
        assert_eq!(progress.state, BuildState::Succeeded);
        assert_eq!(progress.steps.len(), 3);
        assert_eq!(progress.total_steps(), Some(3));
        assert!(progress.steps.iter().all(|step| step.state == StepState::Done));
        assert_eq!(progress.steps[1].output, vec!["made".to_string()]);
        assert_eq!(progress.steps[1].duration_ms(100.0), 5.0);
        assert!(progress.steps[2].cached);
        assert_eq!(progress.image_id.as_deref(), Some("sha256:bbbb"));
        assert_eq!(progress.tags, vec!["demo:latest".to_string()]);
    }

    #[wasm_bindgen_test]
    fn errors_fail_the_running_step() {
        let mut progress = BuildProgress::started(0.0);
        progress.apply(&stream("Step 1/2 : FROM busybox\n ---> 0123456789ab\nStep 2/2 : RUN false\n"), 1.0);
        let error =
            BuildMessage { error: Some("The command returned a non-zero code: 1".into()), ..Default::default() };
        progress.apply(&error, 2.0);
        assert_eq!(progress.state, BuildState::Failed);
        assert_eq!(progress.steps[1].state, StepState::Failed);
        assert_eq!(progress.steps[0].state, StepState::Done);
        assert_eq!(progress.error.as_deref(), Some("The command returned a non-zero code: 1"));
    }

    #[wasm_bindgen_test]
    fn a_stream_cut_short_is_a_failure() {
        let mut progress = BuildProgress::started(0.0);
        progress.apply(&stream("Step 1/2 : FROM busybox\n"), 1.0);
        progress.finish(2.0);
        assert_eq!(progress.state, BuildState::Failed);
    }
}
