//! The one error type of the runtime.

use std::path::PathBuf;

/// What went wrong while isolating or starting a container process.
///
/// The `Exec*` variants carry Docker's wording (`exec: "x": executable file not found in $PATH`,
/// `permission denied`): the engine passes them through and the docker CLI maps them to exit codes 127 and 126.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The program to run does not exist (Docker's exit code 127).
    #[error("OCI runtime create failed: unable to start container process: {message}: unknown")]
    ExecNotFound {
        /// Docker's wording, e.g. `exec: "nosuchcmd": executable file not found in $PATH`.
        message: String,
    },
    /// The program exists but cannot be executed (Docker's exit code 126).
    #[error("OCI runtime create failed: unable to start container process: {message}: unknown")]
    ExecPermissionDenied {
        /// Docker's wording, e.g. `exec: "/etc": permission denied`.
        message: String,
    },
    /// The container process failed while setting itself up (mounts, user, capabilities...).
    #[error("failed to start container process: {message}")]
    ContainerSetup {
        /// What the process inside reported.
        message: String,
    },
    /// A system call on a path failed.
    #[error("{op} {}: {source}", path.display())]
    Path {
        /// What was being done (`mount overlay`, `mkdir`, ...).
        op: &'static str,
        /// The path it was done on.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A system call not tied to one path failed.
    #[error("{op}: {source}")]
    Sys {
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A cgroup operation failed.
    #[error("cgroup {id}: {op}: {message}")]
    Cgroup {
        /// The container id the cgroup belongs to.
        id: String,
        /// What was being done.
        op: &'static str,
        /// The cause.
        message: String,
    },
    /// A device cgroup rule that cannot be applied (unknown access letter, a number out of range, a hole in a
    /// wildcard rule).
    #[error("invalid device rule {rule}: {reason}")]
    InvalidDeviceRule {
        /// The rule, as a v1 line (`c 1:3 rwm`) or as given.
        rule: String,
        /// Why it is refused.
        reason: String,
    },
    /// The cgroup v2 device filter (an eBPF program) could not be loaded or attached. The container must not
    /// start without it: nothing else would stop it from opening the host's devices.
    #[error("cgroup {}: device filter: {op}: {source}{}", cgroup.display(), verifier_log(log))]
    DeviceFilter {
        /// What was being done.
        op: &'static str,
        /// The cgroup directory.
        cgroup: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
        /// The end of the verifier's log when the kernel refused the program, else empty.
        log: String,
    },
    /// The container id cannot name a cgroup (empty, `/`, `..`, ...).
    #[error("invalid container id for a cgroup: {id:?}")]
    InvalidId {
        /// The offending id.
        id: String,
    },
    /// The spec lacks something the runtime needs, or has something it cannot do.
    #[error("invalid runtime spec: {0}")]
    InvalidSpec(String),
    /// Spawning `berth init` failed.
    #[error("spawn {}: {source}", exe.display())]
    Spawn {
        /// The executable re-executed as `berth init`.
        exe: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `berth init` broke the start protocol (exited early, sent garbage).
    #[error("container init protocol: {0}")]
    Protocol(String),
    /// A container's monitor speaks another protocol version (left by a daemon of another release).
    #[error("the monitor of pid {pid} speaks protocol {version}, this daemon {expected}")]
    IncompatibleMonitor {
        /// The monitor's protocol version.
        version: u32,
        /// The version this daemon speaks.
        expected: u32,
        /// Host pid of the container's init, as the monitor said.
        pid: i32,
    },
    /// A container's monitor reported a failure the runtime has no variant for (its text, as the monitor saw it).
    #[error("{0}")]
    Monitor(String),
    /// The process (by host pid) is gone or cannot be addressed.
    #[error("process {pid}: {op}: {source}")]
    Process {
        /// Host pid.
        pid: i32,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

fn verifier_log(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!(" (verifier: {log})")
    }
}

impl RuntimeError {
    pub(crate) fn path(op: &'static str, path: impl Into<PathBuf>, source: impl Into<std::io::Error>) -> Self {
        Self::Path { op, path: path.into(), source: source.into() }
    }

    pub(crate) fn sys(op: &'static str, source: impl Into<std::io::Error>) -> Self {
        Self::Sys { op, source: source.into() }
    }
}
