//! One container: its persisted record (what `docker inspect` shows, written atomically on every state change) and
//! its live parts (process, cgroup, stdio fan-out), which exist only while the daemon runs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bollard_stubs::models::{ContainerConfig, HostConfig};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch, Notify};

use berth_fs::atomic;
use berth_runtime::{Cgroup, ProcessHandle};

use super::live::Live;
pub use super::streams::{Output, StdinMessage, StreamKind};
use super::EngineError;

pub const RECORD_FILE: &str = "container.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Running in Docker's sense: a process exists (paused and restarting count).
    pub fn is_running(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct StateRecord {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub oom_killed: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub restart_count: i64,
    /// Set by `docker stop`/`kill`: restart policies (other than `always` at daemon start) leave it stopped.
    pub manually_stopped: bool,
    /// State.Health: present once a container with a healthcheck has started (see `health`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<bollard_stubs::models::Health>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    /// Without the leading slash.
    pub name: String,
    pub created: DateTime<Utc>,
    /// The image as the user named it.
    pub image_ref: String,
    pub image_id: String,
    pub path: String,
    pub args: Vec<String>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub state: StateRecord,
    #[serde(default)]
    pub exec_ids: Vec<String>,
    /// Mounts beyond the host config's: the image's VOLUMEs (anonymous volumes) and `--volumes-from` copies.
    #[serde(default)]
    pub extra_mounts: Vec<MountRecord>,
    /// Volumes made for this container alone; `rm -v` and `--rm` delete them.
    #[serde(default)]
    pub anonymous_volumes: Vec<String>,
    /// The host ids of the container's user namespace (`--userns-remap`); None: the host's own ids.
    #[serde(default)]
    pub id_shift: Option<berth_fs::id_shift::IdShift>,
    /// The tenant (a session of a shared daemon) the container belongs to; None: the operator's. Fixed at create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// A bind (absolute `source`) or volume (`source` is its name) mount.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountRecord {
    pub source: String,
    pub destination: String,
    pub read_only: bool,
    /// An anonymous volume made for this container.
    pub anonymous: bool,
}

/// What `POST /wait` watches.
#[derive(Debug, Clone, Default)]
pub struct WaitState {
    pub exits: u64,
    pub exit_code: i32,
    pub removed: bool,
    pub error: Option<String>,
}

pub struct Container {
    pub id: String,
    /// The record's owner, readable without its lock (every scoped lookup compares it).
    pub owner: Option<String>,
    pub dir: PathBuf,
    record: Mutex<ContainerRecord>,
    pub live: Mutex<Live>,
    /// Serialises start/stop/kill/remove so two of them never interleave on one container.
    pub op: tokio::sync::Mutex<()>,
    pub output: broadcast::Sender<Output>,
    pub waits: watch::Sender<WaitState>,
    pub log_written: Notify,
    /// Bounded: a client writing faster than the process reads waits, as on a full pipe.
    pub stdin_tx: mpsc::Sender<StdinMessage>,
    pub stdin_rx: Mutex<Option<mpsc::Receiver<StdinMessage>>>,
}

/// Chunks of input held for a process that has not read them yet (a client's reads are up to 16 KiB).
pub const STDIN_CHUNKS: usize = 64;

impl Container {
    pub fn new(dir: PathBuf, record: ContainerRecord) -> Arc<Self> {
        let (output, _) = broadcast::channel(4096);
        let (stdin_tx, stdin_rx) = mpsc::channel(STDIN_CHUNKS);
        let waits = watch::Sender::new(WaitState { exit_code: record.state.exit_code, ..Default::default() });
        Arc::new(Container {
            id: record.id.clone(),
            owner: record.owner.clone(),
            dir,
            record: Mutex::new(record),
            live: Mutex::new(Live::default()),
            op: tokio::sync::Mutex::new(()),
            output,
            waits,
            log_written: Notify::new(),
            stdin_tx,
            stdin_rx: Mutex::new(Some(stdin_rx)),
        })
    }

    pub fn record(&self) -> MutexGuard<'_, ContainerRecord> {
        self.record.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn snapshot(&self) -> ContainerRecord {
        self.record().clone()
    }

    pub fn name(&self) -> String {
        self.record().name.clone()
    }

    pub fn status(&self) -> Status {
        self.record().state.status
    }

    pub fn tty(&self) -> bool {
        self.record().config.tty.unwrap_or(false)
    }

    /// Changes the record and persists it (crash-safe, not fsynced: see `store`).
    pub fn update<R>(&self, change: impl FnOnce(&mut ContainerRecord) -> R) -> Result<R, EngineError> {
        let mut record = self.record();
        let result = change(&mut record);
        atomic::replace_json(&self.dir.join(RECORD_FILE), &*record)?;
        Ok(result)
    }

    /// [`update`](Self::update) where no caller is waiting for the answer (an exit, a monitor): the record in
    /// memory has the change either way, and a failed write is logged, to be reconciled at the next start.
    pub fn update_or_log(&self, what: &str, change: impl FnOnce(&mut ContainerRecord)) {
        if let Err(err) = self.update(change) {
            tracing::error!(id = %self.id, %err, "cannot write the container's state to {what}");
        }
    }

    pub fn log_path(&self) -> PathBuf {
        log_path(&self.dir, &self.id)
    }

    pub fn upper_dir(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work_dir(&self) -> PathBuf {
        self.dir.join("work")
    }
    /// Docker's "init layer": empty mount points for the files bind-mounted over the image's, kept below the
    /// writable layer so they never show up in `docker diff` or a commit.
    pub fn init_layer(&self) -> PathBuf {
        self.dir.join("init")
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("merged")
    }

    pub fn process(&self) -> Option<Arc<ProcessHandle>> {
        self.live().process.clone()
    }

    pub fn cgroup(&self) -> Option<Arc<Cgroup>> {
        self.live().cgroup.clone()
    }
}

pub fn log_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-json.log"))
}
