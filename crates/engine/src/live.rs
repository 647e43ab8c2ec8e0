//! A container's live parts, which exist only while its process runs under this daemon: the process and cgroup
//! handles, the connection to its monitor and its health probes. Holds handles only, so it imports no module that
//! works on containers.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use berth_runtime::{Cgroup, ProcessHandle};
use tokio::task::AbortHandle;

use super::monitor_link::MonitorLink;

#[derive(Default)]
pub struct Live {
    pub process: Option<Arc<ProcessHandle>>,
    pub cgroup: Option<Arc<Cgroup>>,
    /// The connection to the container's monitor while it runs.
    pub monitor: Option<Arc<MonitorLink>>,
    /// The health probes while the container runs unpaused with a healthcheck.
    pub health: Option<HealthProbes>,
}

/// The running health probes of one container (see `health`). Stopping them is final; a new start makes new ones.
pub struct HealthProbes {
    /// Checked under the record lock before a result is written, so that nothing lands after a stop.
    pub stopped: Arc<AtomicBool>,
    pub task: AbortHandle,
}
