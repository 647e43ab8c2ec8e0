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
                        row.step = step;
                        if container.is_some() {
                            row.container = container;
                        }
                        row.message = message;
                    }
                    None => self.services.push(ServiceProgress { service, container, step, message }),
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
