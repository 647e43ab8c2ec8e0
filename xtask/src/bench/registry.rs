//! A private registry for the pull and push figures: Debian's CNCF distribution registry (`docker-registry serve`,
//! 2.8) on 127.0.0.1 and a free port, in plain HTTP, which dockerd and Berth both accept for 127.0.0.0/8 without
//! any configuration. Its config, log and filesystem storage live in one directory below the run dir.
//!
//! The registry stops, and its directory goes, when its handle is dropped or when the bench's cleanup runs,
//! whichever comes first: the push figure starts a fresh one per measurement and drops it straight after, and an
//! interrupted bench still stops the one it was pushing to.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::cleanup::{undo, Cleanup};
use super::daemons::{free_port, log_tail};
use super::{http, procfs};

/// Debian's package `docker-registry`, which `cargo xtask setup` installs.
const PROGRAM: &str = "/usr/bin/docker-registry";
/// It opens its storage and listens within a second; far longer means it is stuck.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// It has nothing to flush: SIGTERM ends it at once.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct Registry {
    /// `127.0.0.1:PORT`: what image names start with.
    pub address: String,
    dir: PathBuf,
    /// Taken by whichever stops the registry first, the handle's Drop or the bench's cleanup, so the pid is never
    /// signalled after the process was reaped (it could belong to another process by then).
    process: Arc<Mutex<Option<Child>>>,
}

impl Registry {
    /// Starts a registry with empty storage in `dir` (created; must not hold anything else) and waits until it
    /// answers `GET /v2/`.
    pub fn start(cleanup: &Cleanup, dir: &Path) -> Result<Registry> {
        if !Path::new(PROGRAM).exists() {
            bail!("{PROGRAM} is missing: `cargo xtask setup` installs Debian's docker-registry");
        }
        let address = format!("127.0.0.1:{}", free_port()?);
        let process = Arc::new(Mutex::new(None));
        // Nothing is written before the cleanup agrees to the start: a bench being stopped leaves no directory.
        cleanup.start(&format!("docker-registry on {address}, unless stopped already"), || {
            let storage = dir.join("storage");
            std::fs::create_dir_all(&storage).with_context(|| format!("creating {}", storage.display()))?;
            let config = dir.join("config.yml");
            std::fs::write(&config, config_yaml(&address, &storage))
                .with_context(|| format!("writing {}", config.display()))?;
            let log = dir.join("registry.log");
            let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
            let mut command = Command::new(PROGRAM);
            command.arg("serve").arg(&config).stdin(Stdio::null()).stdout(log_file.try_clone()?).stderr(log_file);
            // Its own process group, like the daemons': Ctrl-C reaches the bench, whose cleanup then stops it.
            command.process_group(0);
            let child = command.spawn().with_context(|| format!("starting {PROGRAM}"))?;
            *lock(&process) = Some(child);
            let (process, dir) = (process.clone(), dir.to_path_buf());
            Ok(((), undo(move || shut_down(&process, &dir))))
        })?;
        let registry = Registry { address, dir: dir.to_path_buf(), process };
        // An error here drops the registry, which stops it.
        registry.wait_until_ready().with_context(|| format!("{PROGRAM} on {}", registry.address))?;
        Ok(registry)
    }

    fn wait_until_ready(&self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let exited = lock(&self.process).as_mut().map(|child| child.try_wait().ok().flatten().is_some());
            if exited != Some(false) {
                bail!("exited during startup\n{}", log_tail(&self.dir.join("registry.log")));
            }
            let answer = http::get_tcp(&self.address, "/v2/", Duration::from_secs(2));
            if answer.is_ok_and(|response| response.status == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "did not answer GET /v2/ within {STARTUP_TIMEOUT:?}\n{}",
                    log_tail(&self.dir.join("registry.log"))
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the registry stores: every blob (layers, configs, manifests) once, however many repositories link it.
    pub fn blob_bytes(&self) -> u64 {
        procfs::bytes_under(&self.dir.join("storage/docker/registry/v2/blobs"))
    }

    /// The blob digests (`sha256:...`) linked into `repository` as layers or configs: the storage driver's own
    /// record of what was uploaded to (or mounted into) that repository.
    pub fn repository_blobs(&self, repository: &str) -> Vec<String> {
        let links = self.dir.join("storage/docker/registry/v2/repositories").join(repository).join("_layers/sha256");
        let Ok(entries) = std::fs::read_dir(links) else { return Vec::new() };
        entries.filter_map(|entry| Some(format!("sha256:{}", entry.ok()?.file_name().to_str()?))).collect()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        shut_down(&self.process, &self.dir);
    }
}

fn lock(process: &Mutex<Option<Child>>) -> std::sync::MutexGuard<'_, Option<Child>> {
    process.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Stops the registry if it still runs, then removes its directory, storage and all. Safe to call twice.
fn shut_down(process: &Mutex<Option<Child>>, dir: &Path) {
    if let Some(mut child) = lock(process).take() {
        procfs::stop_process(child.id(), Some(&mut child), SHUTDOWN_GRACE);
    }
    if dir.exists() {
        if let Err(error) = std::fs::remove_dir_all(dir) {
            eprintln!("xtask bench: removing {}: {error}", dir.display());
        }
    }
}

/// The registry's default configuration (as upstream and Debian ship it: filesystem storage, the in-memory blob
/// descriptor cache, deletes allowed) minus what a private instance has no use for: TLS, auth, the storage health
/// check, upload purging (a background sweep that could run during a measurement) and the access log (a line per
/// request, read by nobody).
fn config_yaml(address: &str, storage: &Path) -> String {
    // Single-quoted YAML: nothing is an escape there except '' for a quote.
    let storage = storage.display().to_string().replace('\'', "''");
    format!(
        "\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: '{storage}'
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: {address}
"
    )
}

#[cfg(test)]
mod tests {
    use super::config_yaml;
    use std::path::Path;

    #[test]
    fn config_listens_on_the_address_and_quotes_the_storage_path() {
        let yaml = config_yaml("127.0.0.1:5123", Path::new("/target/bench/run-1/it's"));
        assert!(yaml.contains("\n  addr: 127.0.0.1:5123\n"), "{yaml}");
        assert!(yaml.contains("rootdirectory: '/target/bench/run-1/it''s'\n"), "{yaml}");
    }
}
