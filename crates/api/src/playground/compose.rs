//! Compose projects of the playground. The page sends a project's files as a tar; they are unpacked (every path
//! resolved inside the project's folder) into `<root>/playground/compose/<name>/`, and `up -d` / `down -v` run
//! there through the daemon's own binary: `/proc/self/exe compose --progress json ...` with DOCKER_HOST set to
//! the daemon's socket. The compose CLI is a client of the Engine API and lives in the binary, not the library,
//! so re-executing it keeps one implementation of compose (the daemon still never forks to run Rust code).
//!
//! The command's stdout is one `ComposeProgress` JSON line per service step; its stderr (what it says to people)
//! becomes `Output` events; a `Finished` event with its exit code ends the stream.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use berth_shared::api::compose::ComposeProgress;
use berth_shared::compose::normalize_project_name;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use berth_image::archive::extract_tar_on_host;

/// Files `berth compose` finds on its own in a project folder, in its order.
pub const COMPOSE_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];

#[derive(Debug, thiserror::Error)]
pub enum PlaygroundError {
    #[error("invalid project name {0:?}: use lowercase letters, digits, '_' and '-', starting with a letter or digit")]
    InvalidName(String),
    #[error("the project's files have no compose file (one of {})", COMPOSE_FILES.join(", "))]
    NoComposeFile,
    #[error("no playground project named {0:?} was brought up on this daemon")]
    NotFound(String),
    #[error("project {0:?} is busy with another up or down; wait for it to finish")]
    Busy(String),
    #[error("unpacking the project's files: {0}")]
    Unpack(#[from] berth_image::ImageError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl PlaygroundError {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        PlaygroundError::Io { context: context.into(), source }
    }
}

/// Runs the playground's compose commands: one at a time per project, each a child `berth compose` that reaches
/// this daemon at `daemon_host` (`unix:///run/berth.sock`).
pub struct ComposeRunner {
    daemon_host: String,
    /// Projects with an up or down running: a second command on the same project would race the first.
    busy: Arc<Mutex<BTreeSet<String>>>,
}

/// Held while a command runs on a project; frees it when dropped.
pub struct BusyGuard {
    name: String,
    busy: Arc<Mutex<BTreeSet<String>>>,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if let Ok(mut projects) = self.busy.lock() {
            projects.remove(&self.name);
        }
    }
}

impl ComposeRunner {
    pub fn new(daemon_host: String) -> Self {
        ComposeRunner { daemon_host, busy: Arc::default() }
    }

    /// Marks `name` busy until the guard drops; fails if it already is.
    pub fn claim(&self, name: &str) -> Result<BusyGuard, PlaygroundError> {
        let mut projects = self.busy.lock().map_err(|_| PlaygroundError::Busy(name.to_string()))?;
        if !projects.insert(name.to_string()) {
            return Err(PlaygroundError::Busy(name.to_string()));
        }
        Ok(BusyGuard { name: name.to_string(), busy: self.busy.clone() })
    }
}

/// The project's name as given, if compose would keep it unchanged (so the page's name is the label's value).
pub fn check_name(name: &str) -> Result<String, PlaygroundError> {
    match normalize_project_name(name) {
        Ok(normalized) if normalized == name && name.len() <= 63 => Ok(normalized),
        _ => Err(PlaygroundError::InvalidName(name.to_string())),
    }
}

/// `<root>/playground/compose/<name>`; `name` has passed [`check_name`], so it is one plain path component.
pub fn project_dir(root: &Path, name: &str) -> PathBuf {
    root.join("playground").join("compose").join(name)
}

/// Replaces the project's folder with the files of `tar` (so files deleted in the page go too). Blocking.
pub fn unpack(dir: &Path, tar: &[u8]) -> Result<(), PlaygroundError> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(PlaygroundError::io(format!("remove {}", dir.display()), error));
        }
        _ => {}
    }
    std::fs::create_dir_all(dir).map_err(|error| PlaygroundError::io(format!("create {}", dir.display()), error))?;
    extract_tar_on_host(dir, tar)?;
    if !COMPOSE_FILES.iter().any(|file| dir.join(file).is_file()) {
        return Err(PlaygroundError::NoComposeFile);
    }
    Ok(())
}

/// Runs `berth compose -p <name> --progress json <args>` in `dir` and sends its progress to `events`, ending with
/// `Finished`. The command runs to its end even when nobody reads the events any more (a page closed mid-up must
/// not leave a half-made project behind).
pub async fn run(
    runner: &ComposeRunner,
    dir: &Path,
    name: &str,
    args: &[&str],
    events: mpsc::Sender<ComposeProgress>,
) -> Result<i32, PlaygroundError> {
    let host = &runner.daemon_host;
    // A clean environment: the project's `${VAR}`s must not read the daemon's variables, and COMPOSE_FILE or
    // COMPOSE_PROJECT_NAME from the daemon's shell must not change which files or name the command uses.
    let mut child = Command::new("/proc/self/exe")
        .arg("compose")
        .args(["--project-name", name, "--progress", "json"])
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("DOCKER_HOST", host)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| PlaygroundError::io("start berth compose", error))?;
    tracing::info!(project = name, ?args, "playground compose started");
    let stdout = child.stdout.take().map(|out| BufReader::new(out).lines());
    let stderr = child.stderr.take().map(|err| BufReader::new(err).lines());
    let progress_events = events.clone();
    let read_progress = async move {
        let Some(mut lines) = stdout else { return };
        while let Ok(Some(line)) = lines.next_line().await {
            let event = serde_json::from_str::<ComposeProgress>(&line)
                .unwrap_or_else(|_| ComposeProgress::Output { line: line.clone() });
            let _ = progress_events.send(event).await;
        }
    };
    let output_events = events.clone();
    let read_output = async move {
        let Some(mut lines) = stderr else { return };
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = output_events.send(ComposeProgress::Output { line }).await;
        }
    };
    tokio::join!(read_progress, read_output);
    let status = child.wait().await.map_err(|error| PlaygroundError::io("wait for berth compose", error))?;
    // Killed by a signal: report it as the shell would (128 + signal).
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    });
    tracing::info!(project = name, ?args, code, "playground compose finished");
    let _ = events.send(ComposeProgress::Finished { exit_code: code }).await;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_compose_names() {
        assert_eq!(check_name("demo_1").unwrap(), "demo_1");
        for bad in ["", "..", "a/b", "Demo", "-x", "a b", &"x".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unpack_keeps_files_inside_and_needs_a_compose_file() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |path: &str, text: &str| {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, text.as_bytes()).unwrap();
        };
        add("site/index.html", "hi");
        let no_compose = builder.into_inner().unwrap();
        assert!(matches!(unpack(&project, &no_compose), Err(PlaygroundError::NoComposeFile)));
        assert_eq!(std::fs::read_to_string(project.join("site/index.html")).unwrap(), "hi");

        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(9);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, "compose.yaml", &b"services:"[..]).unwrap();
        unpack(&project, &builder.into_inner().unwrap()).unwrap();
        // The second unpack replaced the folder: the old file is gone.
        assert!(!project.join("site").exists());
        assert!(project.join("compose.yaml").is_file());
    }
}
