//! Daemon start after a clean stop, an upgrade or a crash: reload every container, adopt those whose monitor still
//! runs (process, cgroup, rootfs, network, logs and stdin stay as they were), record the others as exited with the
//! code their monitor left, reclaim what they left (cgroup, overlay mount), and only then restart those whose
//! policy says so.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::container::{Container, ContainerRecord, Status, RECORD_FILE};
use super::{restart, Engine, EngineError};
use berth_fs::atomic;
use berth_runtime::{Cgroup, Monitored, PROTOCOL_VERSION, UNKNOWN_EXIT_CODE};

/// Marks the builder's step containers: they belong to a build, and no build outlives the daemon.
pub const BUILD_STEP_LABEL: &str = "io.berth.build-step";

/// How long a monitor that accepted the connection gets to answer.
const MONITOR_ANSWER: Duration = Duration::from_secs(2);

/// What became of a container that was running when the last daemon stopped.
enum Found {
    /// Its monitor answered: the container runs on.
    Alive(Box<Monitored>),
    /// A monitor of another protocol version: left running, reported, not managed.
    Incompatible { version: u32, pid: i32 },
    /// No monitor: the container is gone (its code from the exit file, if the monitor wrote one).
    Gone(String),
}

pub async fn recover(engine: &Arc<Engine>) -> Result<(), EngineError> {
    let dir = engine.containers_dir();
    let entries = std::fs::read_dir(&dir).map_err(|e| EngineError::io(format!("read {}", dir.display()), e))?;
    let mut to_restart = Vec::new();
    let mut to_remove = Vec::new();
    let mut adopted = HashSet::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let record_path = path.join(RECORD_FILE);
        if !record_path.exists() {
            // Create writes the record last: a directory without one is a create the old daemon did not finish.
            let _ = berth_runtime::unmount_rootfs(&path.join("merged"));
            tracing::info!(dir = %path.display(), "removing a container the old daemon did not finish creating");
            if let Err(err) = std::fs::remove_dir_all(&path) {
                tracing::warn!(dir = %path.display(), %err, "cannot remove a half-created container");
            }
            continue;
        }
        let mut record: ContainerRecord = match atomic::read_json(&record_path) {
            Ok(record) => record,
            Err(err) => {
                tracing::error!(%err, "skipping a container whose metadata cannot be read");
                continue;
            }
        };
        let was_running = record.state.status.is_running() || record.state.status == Status::Removing;
        let build_step = record.config.labels.as_ref().is_some_and(|labels| labels.contains_key(BUILD_STEP_LABEL));
        let found = match (was_running, build_step) {
            (false, _) => None,
            // No build outlives the daemon that ran it: its step is not adopted but reclaimed below.
            (true, true) => Some(Found::Gone("a build's step".into())),
            (true, false) => Some(find_monitor(&path).await),
        };
        if let (Some(remap), Some(ids)) = (&engine.userns, &record.id_shift) {
            remap.hold(ids);
        }
        match found {
            Some(Found::Alive(monitored)) => {
                let container = Container::new(path, record);
                engine.insert(container.clone());
                match engine.adopt(&container, *monitored).await {
                    Ok(()) => {
                        adopted.insert(container.id.clone());
                    }
                    Err(err) => tracing::error!(id = %container.id, %err, "could not adopt a running container"),
                }
                continue;
            }
            Some(Found::Incompatible { version, pid }) => {
                // Never killed for its version: an operator decides. Its record keeps saying running.
                let message = format!(
                    "left running by a daemon of monitor protocol {version} (this one speaks {PROTOCOL_VERSION}); \
                     not managed until that daemon adopts it again"
                );
                tracing::error!(id = %record.id, pid, "{message}");
                record.state.error = message;
                atomic::write_json(&record_path, &record)?;
                adopted.insert(record.id.clone());
                engine.insert(Container::new(path, record));
                continue;
            }
            Some(Found::Gone(why)) => tracing::info!(id = %record.id, %why, "the container ended while no daemon ran"),
            None => {}
        }
        // Read before the cgroup goes: a monitor still alive without its socket records the kill below.
        let exit = if was_running { berth_runtime::read_exit_status(&path) } else { None };
        let merged = path.join("merged");
        let _ = berth_runtime::unmount_rootfs(&merged);
        // What is left in the container's cgroup is not ours to supervise any more. That holds for a record that
        // never said running too: a crash between spawning the process and recording it leaves a process in the
        // container's cgroup under a record that still reads created or exited.
        let cgroup = Cgroup::load_in(super::tenants::cgroup_group(record.owner.as_deref()).as_deref(), &record.id);
        let unrecorded = cgroup.pids();
        if !was_running && !unrecorded.is_empty() {
            tracing::warn!(id = %record.id, pids = ?unrecorded, "reaping processes the old daemon started but never recorded");
        }
        if let Err(err) = cgroup.destroy() {
            tracing::warn!(id = %record.id, %err, "could not reclaim the cgroup of a lost container");
        }
        if was_running {
            record.state.status = Status::Exited;
            record.state.pid = 0;
            record.state.exit_code = exit.as_ref().map(|e| e.exit_code).unwrap_or(UNKNOWN_EXIT_CODE);
            record.state.finished_at = Some(exit.map(|e| e.finished_at).unwrap_or_else(Utc::now));
            // Its health monitor died with the old daemon; a stopped monitor reads unhealthy, as in dockerd.
            if let Some(health) = record.state.health.as_mut() {
                health.status = Some(bollard_stubs::models::HealthStatusEnum::UNHEALTHY);
            }
            atomic::write_json(&record_path, &record)?;
        }
        let policy = record.host_config.restart_policy.clone().unwrap_or_default();
        let history = restart::History {
            restart_count: record.state.restart_count,
            manually_stopped: record.state.manually_stopped,
        };
        let restart = was_running && restart::at_daemon_start(&policy, history);
        let auto_remove = (was_running && record.host_config.auto_remove.unwrap_or(false)) || build_step;
        let container = Container::new(path, record);
        engine.insert(container.clone());
        if restart {
            to_restart.push(container);
        } else if auto_remove {
            to_remove.push(container);
        }
    }
    engine.networks.clean_leftovers(&adopted).await;
    engine.networks.refresh_rules().await;
    for container in to_remove {
        let _op = container.op.lock().await;
        engine.remove_after_recovery(&container).await;
    }
    for container in to_restart {
        let engine = engine.clone();
        tokio::spawn(async move {
            if let Err(err) = engine.start(&container.id).await {
                tracing::warn!(id = %container.id, %err, "restart after daemon start failed");
            }
        });
    }
    Ok(())
}

async fn find_monitor(dir: &Path) -> Found {
    let dir = dir.to_path_buf();
    let reached = tokio::task::spawn_blocking(move || berth_runtime::reconnect(&dir, MONITOR_ANSWER)).await;
    match reached {
        Ok(Ok(monitored)) => Found::Alive(Box::new(monitored)),
        Ok(Err(berth_runtime::RuntimeError::IncompatibleMonitor { version, pid, .. })) => {
            Found::Incompatible { version, pid }
        }
        Ok(Err(err)) => Found::Gone(err.to_string()),
        Err(err) => Found::Gone(err.to_string()),
    }
}

impl Engine {
    /// A container whose monitor answered: its live parts are rebuilt around the process that kept running.
    async fn adopt(self: &Arc<Self>, container: &Arc<Container>, monitored: Monitored) -> Result<(), EngineError> {
        let Monitored { welcome, process, stream, leftover, .. } = monitored;
        {
            let mut live = container.live();
            live.process = Some(Arc::new(process));
            let group = super::tenants::cgroup_group(container.owner.as_deref());
            live.cgroup = Some(Arc::new(Cgroup::load_in(group.as_deref(), &container.id)));
        }
        let record = container.snapshot();
        if record.state.pid != welcome.pid || record.state.status == Status::Removing {
            // A removal the last daemon did not finish left the container running: it is running, to be removed
            // again by whoever still wants it gone.
            container.update(|r| {
                r.state.pid = welcome.pid;
                if r.state.status == Status::Removing {
                    r.state.status = Status::Running;
                }
            })?;
        }
        // The process runs whatever becomes of its network; a port that cannot be had again is logged.
        if let Err(err) = self.adopt_network(container).await {
            tracing::warn!(id = %container.id, %err, "the adopted container's network is not fully back");
        }
        self.follow_monitor(container.clone(), stream, leftover, None)?;
        if container.status() == Status::Running {
            self.start_health(container, false);
        }
        tracing::info!(id = %container.id, pid = welcome.pid, "adopted a running container");
        Ok(())
    }
}
