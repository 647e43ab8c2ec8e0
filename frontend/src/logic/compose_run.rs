//! One compose `up` or `down` as the page shows it: the last step of each service (in the order they came), what
//! the command said, and how it ended. Fed with the daemon's `ComposeProgress` lines.

use berth_shared::api::compose::{ComposeProgress, ServiceStep};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Up,
    Down,
}

impl RunKind {
    pub fn label(self) -> &'static str {
        match self {
            RunKind::Up => "up",
            RunKind::Down => "down",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceProgress {
    pub service: String,
    pub container: Option<String>,
    pub step: ServiceStep,
    pub message: Option<String>,
    /// When (page milliseconds) the row reached Stopping, for the countdown to SIGKILL.
    pub stopping_since: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    Running,
    Succeeded,
    /// The command failed (exit code, or -1 when it could not run) or the request did.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComposeRun {
    pub kind: RunKind,
    pub services: Vec<ServiceProgress>,
    pub output: Vec<String>,
    pub state: RunState,
}

impl ComposeRun {
    pub fn started(kind: RunKind) -> Self {
        ComposeRun { kind, services: Vec::new(), output: Vec::new(), state: RunState::Running }
    }

    pub fn apply(&mut self, event: ComposeProgress) {
        match event {
            ComposeProgress::Service { service, container, step, message } => {
                // One row per container (or per service for service-wide steps such as building).
                let row = self.services.iter_mut().find(|row| {
                    row.service == service
                        && (row.container == container || row.container.is_none() || container.is_none())
                });
                match row {
                    Some(row) => {
                        if step != ServiceStep::Stopping {
                            row.stopping_since = None;
                        }
                        row.step = step;
                        if container.is_some() {
                            row.container = container;
                        }
                        row.message = message;
                    }
                    None => {
                        self.services.push(ServiceProgress { service, container, step, message, stopping_since: None })
                    }
                }
            }
            ComposeProgress::Output { line } => self.output.push(line),
            ComposeProgress::Finished { exit_code } => {
                self.state = if exit_code == 0 {
                    RunState::Succeeded
                } else {
                    // The command's last line is its error ("Error: ..."): the clearest words there are.
                    let last = self.output.iter().rev().find(|line| !line.trim().is_empty());
                    RunState::Failed(match last {
                        Some(line) => format!("{line} (exit code {exit_code})"),
                        None => format!("compose {} failed with exit code {exit_code}", self.kind.label()),
                    })
                };
            }
        }
    }

    /// Dates the rows that reached Stopping since the last call (events carry no time: the page's clock does).
    pub fn mark_stopping(&mut self, now_ms: f64) {
        for row in &mut self.services {
            if row.step == ServiceStep::Stopping && row.stopping_since.is_none() {
                row.stopping_since = Some(now_ms);
            }
        }
    }

    /// Whole seconds left of the stop's grace period of the longest-stopping row, if any row is stopping.
    pub fn seconds_to_kill(&self, now_ms: f64, grace_seconds: u32) -> Option<u32> {
        let earliest = self.services.iter().filter_map(|row| row.stopping_since).reduce(f64::min)?;
        let left = f64::from(grace_seconds) - (now_ms - earliest) / 1000.0;
        Some(left.max(0.0).ceil() as u32)
    }

    /// The request itself failed (daemon unreachable, a 4xx before the stream).
    pub fn fail(&mut self, error: String) {
        self.state = RunState::Failed(error);
    }

    /// A stream that ended without `Finished` (the connection dropped).
    pub fn end(&mut self) {
        if self.state == RunState::Running {
            self.state = RunState::Failed("the connection to the daemon closed before compose finished".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[wasm_bindgen_test::wasm_bindgen_test]
    fn the_countdown_runs_from_the_first_service_stopping() {
        let mut run = ComposeRun::started(RunKind::Down);
        let stopping = |service: &str| ComposeProgress::Service {
            service: service.into(),
            container: Some(format!("p_{service}_1")),
            step: ServiceStep::Stopping,
            message: None,
        };
        run.apply(stopping("web"));
        run.mark_stopping(1_000.0);
        run.apply(stopping("db"));
        run.mark_stopping(3_000.0);
        assert_eq!(run.seconds_to_kill(4_500.0, 10), Some(7), "10 s from 1.0 s, at 4.5 s: 6.5 s, shown as 7");
        assert_eq!(run.seconds_to_kill(20_000.0, 10), Some(0));
        run.apply(ComposeProgress::Service {
            service: "web".into(),
            container: Some("p_web_1".into()),
            step: ServiceStep::Stopped,
            message: None,
        });
        assert_eq!(run.seconds_to_kill(4_500.0, 10), Some(9), "db's stop started at 3.0 s");
    }
    use wasm_bindgen_test::wasm_bindgen_test;

    fn step(service: &str, container: Option<&str>, step: ServiceStep) -> ComposeProgress {
        ComposeProgress::Service {
            service: service.into(),
            container: container.map(str::to_string),
            step,
            message: None,
        }
    }

    #[wasm_bindgen_test]
    fn steps_update_one_row_per_container() {
        let mut run = ComposeRun::started(RunKind::Up);
        run.apply(step("web", None, ServiceStep::Building));
        run.apply(step("web", Some("p_web_1"), ServiceStep::Creating));
        run.apply(step("worker", Some("p_worker_1"), ServiceStep::Creating));
        run.apply(step("web", Some("p_web_1"), ServiceStep::Started));
        run.apply(ComposeProgress::Output { line: "Creating network \"p_default\"".into() });
        run.apply(step("worker", Some("p_worker_1"), ServiceStep::Started));
        run.apply(ComposeProgress::Finished { exit_code: 0 });
        assert_eq!(run.state, RunState::Succeeded);
        let rows: Vec<(&str, Option<&str>, ServiceStep)> =
            run.services.iter().map(|row| (row.service.as_str(), row.container.as_deref(), row.step)).collect();
        assert_eq!(
            rows,
            vec![("web", Some("p_web_1"), ServiceStep::Started), ("worker", Some("p_worker_1"), ServiceStep::Started)]
        );
    }

    #[wasm_bindgen_test]
    fn a_failure_says_what_the_command_said() {
        let mut run = ComposeRun::started(RunKind::Up);
        run.apply(ComposeProgress::Output { line: "Error: no such image: nope".into() });
        run.apply(ComposeProgress::Finished { exit_code: 1 });
        assert_eq!(run.state, RunState::Failed("Error: no such image: nope (exit code 1)".into()));
        let mut cut = ComposeRun::started(RunKind::Down);
        cut.end();
        assert!(matches!(cut.state, RunState::Failed(_)));
    }
}
