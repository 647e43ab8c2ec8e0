//! How a compose command reports what it does to each service: lines for people on stderr (`Creating demo_web_1`,
//! as docker-compose 1.29 prints them), or with `--progress json` one `ComposeProgress` JSON line per step on
//! stdout, which the daemon's playground endpoint streams to the page.

use std::io::Write;

use berth_shared::api::compose::{ComposeProgress, ServiceStep};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Lines for people on stderr.
    #[default]
    Text,
    /// One JSON event per line on stdout (berth_shared::api::compose::ComposeProgress).
    Json,
}

impl ProgressMode {
    /// Reports that `container` (or the service as a whole) of `service` reached `step`; `text` is the line for
    /// people.
    pub fn service(self, service: &str, container: Option<&str>, step: ServiceStep, text: &str) {
        match self {
            // The error that stops the command is printed once, by the binary, as it exits.
            ProgressMode::Text if step == ServiceStep::Error => {}
            ProgressMode::Text => eprintln!("{text}"),
            ProgressMode::Json => emit(&ComposeProgress::Service {
                service: service.to_string(),
                container: container.map(str::to_string),
                step,
                message: (step == ServiceStep::Error).then(|| text.to_string()),
            }),
        }
    }
}

fn emit(event: &ComposeProgress) {
    if let Ok(line) = serde_json::to_string(event) {
        let mut stdout = std::io::stdout().lock();
        // Flushed per line: the reader shows each step as it happens. A closed pipe only loses the progress view.
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }
}
