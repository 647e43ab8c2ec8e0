//! The exit status a monitor leaves beside its container (`<dir>/exit.json`, replaced by rename), so a daemon that
//! was down when the container exited still learns the code and the time.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The file's name in the container's directory.
pub const EXIT_FILE: &str = "exit.json";

/// What the monitor saw when the container's init ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// Exit code, 128+signal when killed.
    pub exit_code: i32,
    /// When the init was reaped.
    pub finished_at: DateTime<Utc>,
}

/// Where the status of the container in `dir` is kept.
pub fn exit_file(dir: &Path) -> PathBuf {
    dir.join(EXIT_FILE)
}

/// The status the last monitor of the container in `dir` recorded, if any.
pub fn read_exit_status(dir: &Path) -> Option<ExitStatus> {
    berth_fs::atomic::read_json(&exit_file(dir)).ok()
}

/// Forgets the status of an earlier run (before a start).
pub fn clear_exit_status(dir: &Path) {
    let _ = std::fs::remove_file(exit_file(dir));
}

pub(crate) fn write_exit_status(dir: &Path, status: &ExitStatus) {
    if let Err(err) = berth_fs::atomic::replace_json(&exit_file(dir), status) {
        eprintln!("berth monitor: cannot record the exit status in {}: {err}", dir.display());
    }
}
