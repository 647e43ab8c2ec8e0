//! What the daemon tells `berth init` (fd 3, JSON) and what `berth init` answers (fd 4, JSON lines).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The fd `berth init` reads its [`InitConfig`] from (to EOF).
pub(crate) const CONFIG_FD: i32 = 3;
/// The fd `berth init` reports on: one [`SyncMessage::Pid`], then either EOF (exec succeeded) or an error.
pub(crate) const SYNC_FD: i32 = 4;

/// Everything `berth init` needs; it has no other input.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InitConfig {
    /// `cgroup.procs` files to write our pid into, one per hierarchy.
    pub cgroup_procs: Vec<PathBuf>,
    /// Whether fds 0, 1, 2 are a pty slave (then: setsid + controlling terminal, /dev/console).
    pub tty: bool,
    /// Create a container, or exec into one.
    pub mode: InitMode,
    /// The compiled seccomp filter (from the spec's `linux.seccomp`), loaded last before execve.
    pub seccomp: Option<super::seccomp::Program>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InitMode {
    /// A new container from a full spec (`spec.root.path` already mounted).
    Create {
        /// The OCI spec.
        spec: Box<oci_spec::runtime::Spec>,
    },
    /// Join the namespaces of `target_pid` and run `process`.
    Exec {
        /// Host pid of the container's init.
        target_pid: i32,
        /// What to run.
        process: Box<oci_spec::runtime::Process>,
    },
}

/// One line on the sync pipe.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SyncMessage {
    /// Host pid of the container (or exec) process.
    Pid(i32),
    /// Setup or exec failed.
    Error {
        /// How the engine should classify it.
        kind: ErrorKind,
        /// Human readable, Docker's wording for exec failures.
        message: String,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorKind {
    NotFound,
    PermissionDenied,
    Other,
}

impl ErrorKind {
    /// The exit code the failing child uses.
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            ErrorKind::NotFound => 127,
            ErrorKind::PermissionDenied => 126,
            ErrorKind::Other => 1,
        }
    }
}

impl SyncMessage {
    /// Turns a reported error into the runtime's error.
    pub(crate) fn into_error(self) -> super::RuntimeError {
        use super::RuntimeError;
        match self {
            SyncMessage::Pid(pid) => RuntimeError::Protocol(format!("unexpected second pid {pid}")),
            SyncMessage::Error { kind: ErrorKind::NotFound, message } => RuntimeError::ExecNotFound { message },
            SyncMessage::Error { kind: ErrorKind::PermissionDenied, message } => {
                RuntimeError::ExecPermissionDenied { message }
            }
            SyncMessage::Error { kind: ErrorKind::Other, message } => RuntimeError::ContainerSetup { message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_messages_round_trip() {
        let m = SyncMessage::Error { kind: ErrorKind::NotFound, message: "x".into() };
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<SyncMessage>(&s).unwrap(), m);
        let s = serde_json::to_string(&SyncMessage::Pid(42)).unwrap();
        assert_eq!(serde_json::from_str::<SyncMessage>(&s).unwrap(), SyncMessage::Pid(42));
    }

    #[test]
    fn errors_map_to_docker_wording() {
        let m = SyncMessage::Error {
            kind: ErrorKind::NotFound,
            message: "exec: \"nosuchcmd\": executable file not found in $PATH".into(),
        };
        let e = m.into_error().to_string();
        assert!(e.contains("exec: \"nosuchcmd\": executable file not found in $PATH"), "{e}");
        let m = SyncMessage::Error {
            kind: ErrorKind::PermissionDenied,
            message: "exec: \"/etc\": permission denied".into(),
        };
        assert!(m.into_error().to_string().contains("permission denied"));
    }
}
