//! Daemon start after a clean stop or a crash: reload every container, reclaim what the old daemon left running
//! (its cgroup, its overlay mount), record running containers as exited, and restart those whose policy says so.

use std::sync::Arc;

use chrono::Utc;

use super::container::{Container, ContainerRecord, Status, RECORD_FILE};
use super::{restart, Engine, EngineError};
use berth_fs::atomic;
use berth_runtime::Cgroup;

/// Exit code recorded for a container whose process was lost with the daemon.
const LOST_WITH_DAEMON: i32 = 255;

/// Marks the builder's step containers: they belong to a build, and no build outlives the daemon.
pub const BUILD_STEP_LABEL: &str = "io.berth.build-step";

pub async fn recover(engine: &Arc<Engine>) -> Result<(), EngineError> {
    let dir = engine.containers_dir();
    let entries = std::fs::read_dir(&dir).map_err(|e| EngineError::io(format!("read {}", dir.display()), e))?;
    let mut to_restart = Vec::new();
    let mut to_remove = Vec::new();
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
        let merged = path.join("merged");
        let _ = berth_runtime::unmount_rootfs(&merged);
        let was_running = record.state.status.is_running() || record.state.status == Status::Removing;
        // The old daemon's container processes outlive it; they are not ours to supervise any more. That holds
        // for a record that never said running too: a crash between spawning the process and recording it
        // leaves a process in the container's cgroup under a record that still reads created or exited.
        let cgroup = Cgroup::load(&record.id);
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
            record.state.exit_code = LOST_WITH_DAEMON;
            record.state.finished_at = Some(Utc::now());
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
        let build_step = record.config.labels.as_ref().is_some_and(|labels| labels.contains_key(BUILD_STEP_LABEL));
        let auto_remove = (was_running && record.host_config.auto_remove.unwrap_or(false)) || build_step;
        if let (Some(remap), Some(ids)) = (&engine.userns, &record.id_shift) {
            remap.hold(ids);
        }
        let container = Container::new(path, record);
        engine.insert(container.clone());
        if restart {
            to_restart.push(container);
        } else if auto_remove {
            to_remove.push(container);
        }
    }
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
