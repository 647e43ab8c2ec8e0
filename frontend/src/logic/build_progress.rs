//! A build's typed events (berth-shared `BuildJobEvent`s, replayed from a daemon build job and then live) folded
//! into a structured view: steps with their state, output and duration. Every event carries the daemon's time,
//! so a page that reloads mid-build and replays the job shows the durations the steps really had.

use berth_shared::api::build::BuildEvent;
use berth_shared::api::build_jobs::BuildJobEvent;

use super::format;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Running,
    /// Found in the build cache, waiting for its image id.
    Cached,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildStep {
    pub number: usize,
    pub total: usize,
    pub instruction: String,
    /// 1-based Dockerfile line.
    pub line: Option<usize>,
    pub state: StepState,
    pub cached: bool,
    pub output: Vec<String>,
    /// The image the step produced.
    pub image_id: Option<String>,
    pub started_ms: f64,
    pub finished_ms: Option<f64>,
    /// The daemon's measure of the step, once done.
    pub duration: Option<f64>,
}

impl BuildStep {
    pub fn duration_ms(&self, now_ms: f64) -> f64 {
        self.duration.unwrap_or_else(|| self.finished_ms.unwrap_or(now_ms) - self.started_ms)
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
    /// Warnings and ONBUILD notes, outside any step's output.
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

    /// The step being run, or the last one.
    pub fn current_step(&self) -> Option<&BuildStep> {
        self.steps.last()
    }

    pub fn apply(&mut self, recorded: &BuildJobEvent) {
        let now_ms = recorded.time_ms as f64;
        match &recorded.event {
            BuildEvent::Step { number, total, instruction, line, .. } => {
                if self.steps.is_empty() {
                    // The build's own clock from here on: after a reload the page started following it late.
                    self.started_ms = now_ms;
                }
                self.finish_running_step(now_ms);
                self.steps.push(BuildStep {
                    number: *number,
                    total: *total,
                    instruction: instruction.clone(),
                    line: *line,
                    state: StepState::Running,
                    cached: false,
                    output: Vec::new(),
                    image_id: None,
                    started_ms: now_ms,
                    finished_ms: None,
                    duration: None,
                });
            }
            BuildEvent::Cached { .. } => {
                if let Some(step) = self.running_step() {
                    step.cached = true;
                    step.state = StepState::Cached;
                }
            }
            BuildEvent::Output { text, .. } => {
                self.partial_line.push_str(text);
                while let Some(newline) = self.partial_line.find('\n') {
                    let line: String = self.partial_line.drain(..=newline).collect();
                    self.push_output(line.trim_end_matches(['\n', '\r']).to_string());
                }
            }
            BuildEvent::Triggers { count } => self.notes.push(format!("Running {count} ONBUILD trigger(s)")),
            BuildEvent::StepDone { number, image_id, cached, duration_ms, .. } => {
                self.flush_partial_line();
                if let Some(step) = self.steps.iter_mut().find(|step| step.number == *number) {
                    step.state = StepState::Done;
                    step.cached = *cached || step.cached;
                    step.image_id = (!image_id.is_empty()).then(|| image_id.clone());
                    step.finished_ms = Some(now_ms);
                    step.duration = Some(*duration_ms as f64);
                }
            }
            BuildEvent::Warning { message } => self.notes.push(message.clone()),
            BuildEvent::Built { image_id } => {
                self.finish_running_step(now_ms);
                self.image_id = Some(image_id.clone());
                self.state = BuildState::Succeeded;
                self.finished_ms = Some(now_ms);
            }
            BuildEvent::Tagged { tag } => self.tags.push(tag.clone()),
            BuildEvent::Failed { message, .. } => self.fail(message.clone(), now_ms),
            BuildEvent::Pull { id, status, current, total } => self.pulling(id.as_deref(), status, *current, *total),
            BuildEvent::Running { .. } | BuildEvent::ContainerRemoved { .. } => {}
        }
    }

    /// The event stream ended; a build that said neither success nor failure failed (the connection broke).
    pub fn finish(&mut self, now_ms: f64) {
        self.flush_partial_line();
        if self.state == BuildState::Running {
            self.fail("the build's event stream ended before the build finished".to_string(), now_ms);
        }
    }

    pub fn fail(&mut self, error: String, now_ms: f64) {
        self.flush_partial_line();
        if let Some(step) = self.running_step() {
            step.state = StepState::Failed;
            step.finished_ms = Some(now_ms);
        }
        self.error = Some(error);
        self.state = BuildState::Failed;
        self.finished_ms = Some(now_ms);
    }

    fn running_step(&mut self) -> Option<&mut BuildStep> {
        self.steps.last_mut().filter(|step| step.finished_ms.is_none())
    }

    fn push_output(&mut self, line: String) {
        match self.running_step() {
            Some(step) => step.output.push(line),
            None if !line.trim().is_empty() => self.notes.push(line),
            None => {}
        }
    }

    /// A pull's message in the running step's output: one line per layer, its latest state replacing the last.
    fn pulling(&mut self, id: Option<&str>, status: &str, current: Option<u64>, total: Option<u64>) {
        let line = match (id, current, total) {
            (Some(id), Some(current), Some(total)) if !status.starts_with("Pulling from") => {
                format!("{id}: {status} {}/{}", format::bytes(current), format::bytes(total))
            }
            (Some(id), _, _) => format!("{id}: {status}"),
            (None, _, _) => status.to_string(),
        };
        let layer_prefix = id.map(|id| format!("{id}: "));
        if let (Some(step), Some(prefix)) = (self.running_step(), &layer_prefix) {
            if let Some(existing) = step.output.iter_mut().find(|l| l.starts_with(prefix.as_str())) {
                *existing = line;
                return;
            }
        }
        self.push_output(line);
    }

    fn flush_partial_line(&mut self) {
        if !self.partial_line.is_empty() {
            let line = std::mem::take(&mut self.partial_line);
            self.push_output(line);
        }
    }

    fn finish_running_step(&mut self, now_ms: f64) {
        self.flush_partial_line();
        if let Some(step) = self.running_step() {
            step.state = StepState::Done;
            step.finished_ms = Some(now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use berth_shared::api::build::OutputStream;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn at(time_ms: u64, event: BuildEvent) -> BuildJobEvent {
        BuildJobEvent { time_ms, event }
    }

    fn step(number: usize, instruction: &str) -> BuildEvent {
        BuildEvent::Step { number, total: 3, instruction: instruction.into(), line: Some(number), stage: 0 }
    }

    fn done(number: usize, image: &str, cached: bool, duration_ms: u64) -> BuildEvent {
        BuildEvent::StepDone { number, image_id: image.into(), cached, duration_ms, layer_size: None }
    }

    fn output(text: &str) -> BuildEvent {
        BuildEvent::Output { stream: OutputStream::Stdout, text: text.into() }
    }

    #[wasm_bindgen_test]
    fn a_pulled_base_shows_one_line_per_layer() {
        let mut progress = BuildProgress::started(0.0);
        let pull = |id: Option<&str>, status: &str, current: Option<u64>| BuildEvent::Pull {
            id: id.map(str::to_string),
            status: status.into(),
            current,
            total: current.map(|_| 4_000_000),
        };
        for event in [
            step(1, "FROM 127.0.0.1:5000/base:1"),
            pull(Some("1"), "Pulling from base", None),
            pull(Some("aaa"), "Pulling fs layer", None),
            pull(Some("bbb"), "Already exists", None),
            pull(Some("aaa"), "Downloading", Some(1_000_000)),
            pull(Some("aaa"), "Downloading", Some(4_000_000)),
            pull(Some("aaa"), "Pull complete", None),
            pull(None, "Status: Downloaded newer image for 127.0.0.1:5000/base:1", None),
        ] {
            progress.apply(&at(1, event));
        }
        let output = &progress.steps[0].output;
        assert_eq!(
            output,
            &vec![
                "1: Pulling from base".to_string(),
                "aaa: Pull complete".to_string(),
                "bbb: Already exists".to_string(),
                "Status: Downloaded newer image for 127.0.0.1:5000/base:1".to_string(),
            ]
        );
    }

    #[wasm_bindgen_test]
    fn steps_cached_running_done() {
        let mut progress = BuildProgress::started(0.0);
        let events = [
            at(1, step(1, "FROM busybox")),
            at(1, done(1, "sha256:base", false, 0)),
            at(2, step(2, "RUN echo made")),
            at(3, BuildEvent::Running { container_id: "c".into() }),
            at(4, output("ma")),
            at(5, output("de\nsecond")),
            at(7, done(2, "sha256:aaaa", false, 5)),
            at(8, step(3, "CMD [\"sh\"]")),
            at(8, BuildEvent::Cached { image_id: "sha256:bbbb".into() }),
            at(9, done(3, "sha256:bbbb", true, 1)),
            at(9, BuildEvent::Built { image_id: "sha256:bbbb".into() }),
            at(9, BuildEvent::Tagged { tag: "demo:latest".into() }),
        ];
        for event in &events {
            progress.apply(event);
        }
        progress.finish(100.0);
        assert_eq!(progress.state, BuildState::Succeeded);
        assert_eq!(progress.steps.len(), 3);
        assert_eq!(progress.total_steps(), Some(3));
        assert!(progress.steps.iter().all(|step| step.state == StepState::Done));
        assert_eq!(progress.steps[1].output, vec!["made".to_string(), "second".to_string()]);
        // Durations are the daemon's, whenever the events are replayed.
        assert_eq!(progress.steps[1].duration_ms(1000.0), 5.0);
        assert!(progress.steps[2].cached && !progress.steps[1].cached);
        assert_eq!(progress.steps[2].line, Some(3));
        assert_eq!(progress.image_id.as_deref(), Some("sha256:bbbb"));
        assert_eq!(progress.tags, vec!["demo:latest".to_string()]);
        assert_eq!(progress.finished_ms, Some(9.0));
        assert_eq!(progress.started_ms, 1.0, "the build's time is the daemon's, not the page's");
    }

    #[wasm_bindgen_test]
    fn a_replay_mid_build_shows_the_running_step() {
        let mut progress = BuildProgress::started(0.0);
        for event in
            [at(10, step(1, "FROM busybox")), at(10, done(1, "sha256:base", false, 0)), at(11, step(2, "RUN sleep 3"))]
        {
            progress.apply(&event);
        }
        assert_eq!(progress.state, BuildState::Running);
        let running = progress.current_step().unwrap();
        assert_eq!((running.number, running.state), (2, StepState::Running));
        assert_eq!(running.duration_ms(1011.0), 1000.0, "a running step's time counts from the daemon's start");
    }

    #[wasm_bindgen_test]
    fn failures_fail_the_running_step() {
        let mut progress = BuildProgress::started(0.0);
        for event in
            [at(1, step(1, "FROM busybox")), at(1, done(1, "sha256:base", false, 0)), at(2, step(2, "RUN false"))]
        {
            progress.apply(&event);
        }
        let message = "The command '/bin/sh -c false' returned a non-zero code: 1".to_string();
        progress.apply(&at(
            3,
            BuildEvent::Failed { message: message.clone(), line: Some(2), last_image_id: None, code: None },
        ));
        assert_eq!(progress.state, BuildState::Failed);
        assert_eq!(progress.steps[1].state, StepState::Failed);
        assert_eq!(progress.steps[0].state, StepState::Done);
        assert_eq!(progress.error, Some(message));
    }

    #[wasm_bindgen_test]
    fn a_stream_cut_short_is_a_failure() {
        let mut progress = BuildProgress::started(0.0);
        progress.apply(&at(1, step(1, "FROM busybox")));
        progress.finish(2.0);
        assert_eq!(progress.state, BuildState::Failed);
    }
}
