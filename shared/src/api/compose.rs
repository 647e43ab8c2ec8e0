//! Compose progress as typed events: `berth compose --progress json` prints one [`ComposeProgress`] per line on
//! its standard output, and the daemon's playground endpoints (`POST /berth/compose/{project}/up` and `/down`)
//! stream the same lines to the page, adding what the command printed for people and its exit code.

use serde::{Deserialize, Serialize};

/// One step of one container of a service, in the order compose takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStep {
    /// Its image is being pulled from a registry.
    Pulling,
    Pulled,
    /// Its image is being built from `build:`.
    Building,
    Built,
    /// Waiting for the `depends_on` conditions of the service.
    Waiting,
    Creating,
    Created,
    /// Its configuration changed: the old container goes, a new one comes.
    Recreating,
    Starting,
    Started,
    /// Running with the current configuration: nothing to do.
    UpToDate,
    Healthy,
    Stopping,
    Stopped,
    Removing,
    Removed,
    Error,
}

impl ServiceStep {
    /// How the page and the log say it.
    pub fn label(self) -> &'static str {
        match self {
            ServiceStep::Pulling => "pulling",
            ServiceStep::Pulled => "pulled",
            ServiceStep::Building => "building",
            ServiceStep::Built => "built",
            ServiceStep::Waiting => "waiting",
            ServiceStep::Creating => "creating",
            ServiceStep::Created => "created",
            ServiceStep::Recreating => "recreating",
            ServiceStep::Starting => "starting",
            ServiceStep::Started => "started",
            ServiceStep::UpToDate => "up to date",
            ServiceStep::Healthy => "healthy",
            ServiceStep::Stopping => "stopping",
            ServiceStep::Stopped => "stopped",
            ServiceStep::Removing => "removing",
            ServiceStep::Removed => "removed",
            ServiceStep::Error => "error",
        }
    }

    /// Whether the step ends the service's part of an `up` or `down` (nothing more comes for it).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ServiceStep::Started
                | ServiceStep::UpToDate
                | ServiceStep::Healthy
                | ServiceStep::Removed
                | ServiceStep::Error
        )
    }
}

/// One line of a compose command's progress stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ComposeProgress {
    /// A container of a service reached `step`.
    Service {
        service: String,
        /// `<project>_<service>_<n>`, when the step is about one container.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
        step: ServiceStep,
        /// What went wrong, for [`ServiceStep::Error`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A line the command printed for people (networks created, warnings, the error that stopped it).
    Output { line: String },
    /// The command ended; 0 is success. Always the last line the daemon sends.
    Finished { exit_code: i32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let event = ComposeProgress::Service {
            service: "web".into(),
            container: Some("demo_web_1".into()),
            step: ServiceStep::UpToDate,
            message: None,
        };
        let line = serde_json::to_string(&event).unwrap();
        assert_eq!(line, r#"{"event":"service","service":"web","container":"demo_web_1","step":"up_to_date"}"#);
        assert_eq!(serde_json::from_str::<ComposeProgress>(&line).unwrap(), event);
        let finished: ComposeProgress = serde_json::from_str(r#"{"event":"finished","exit_code":1}"#).unwrap();
        assert_eq!(finished, ComposeProgress::Finished { exit_code: 1 });
    }
}
