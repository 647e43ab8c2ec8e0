//! Start, the exit monitor with restart policies, stop, kill, pause, restart, remove and wait.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use nix::sys::signal::Signal;

use super::container::{Container, Output, Status};
use super::spec::{build_spec, SpecPaths};
use super::{restart, Engine, EngineError};
use berth_runtime::Cgroup;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(value: Option<&str>) -> Result<Self, EngineError> {
        match value.unwrap_or("") {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(EngineError::InvalidArgument(format!("invalid condition: \"{other}\""))),
        }
    }
}

/// Parses `SIGTERM`, `TERM`, `term` or `15`.
pub fn parse_signal(text: &str) -> Result<Signal, EngineError> {
    let bad = || EngineError::InvalidArgument(format!("Invalid signal: {text}"));
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse::<Signal>().map_err(|_| bad())
}

/// Docker's exit codes for a process that could not be started.
fn start_failure_code(err: &EngineError) -> i32 {
    let text = err.to_string();
    if text.contains("executable file not found") || text.contains("no such file or directory") {
        127
    } else if text.contains("permission denied") {
        126
    } else {
        128
    }
}

impl Engine {
    pub async fn start(self: &Arc<Self>, reference: &str) -> Result<(), EngineError> {
        let container = self.container(reference)?;
        let _op = container.op.lock().await;
        match container.status() {
            Status::Running | Status::Restarting => {
                return Err(EngineError::NotModified("container already started".into()))
            }
            Status::Paused => {
                return Err(EngineError::Conflict("cannot start a paused container, try unpause instead".into()))
            }
            Status::Removing | Status::Dead => {
                return Err(EngineError::Conflict(format!("container {} is marked for removal", container.id)))
            }
            Status::Created | Status::Exited => {}
        }
        if container.record().state.manually_stopped {
            container.update(|r| r.state.manually_stopped = false)?;
        }
        self.start_locked(&container).await
    }

    /// Starts the container's process; the caller holds `container.op`.
    async fn start_locked(self: &Arc<Self>, container: &Arc<Container>) -> Result<(), EngineError> {
        match self.launch(container).await {
            Ok(()) => Ok(()),
            Err(err) => {
                // Whatever part of the network was set up (namespace, veths, published ports) goes with the start.
                self.teardown_network(container).await;
                let code = start_failure_code(&err);
                let message = err.to_string();
                tracing::info!(id = %container.id, %message, "start failed");
                container.update(|r| {
                    r.state.exit_code = code;
                    r.state.error = message.clone();
                    r.state.pid = 0;
                    if r.state.status != Status::Created {
                        r.state.status = Status::Exited;
                        r.state.finished_at = Some(Utc::now());
                    }
                })?;
                let _ = container.output.send(Output::End);
                // The start error reaches the client through the start call; a wait reports only the exit code.
                container.waits.send_modify(|w| {
                    w.exits += 1;
                    w.exit_code = code;
                    w.error = None;
                });
                if container.record().host_config.auto_remove.unwrap_or(false) {
                    self.remove_locked(container).await;
                }
                Err(EngineError::StartFailed { message, exit_code: code })
            }
        }
    }

    async fn launch(self: &Arc<Self>, container: &Arc<Container>) -> Result<(), EngineError> {
        let record = container.snapshot();
        let merged = self.ensure_rootfs(container).await?;

        let volumes_dir = self.volumes_dir_of(container.owner.as_deref());
        self.copy_up(&record, &merged).await?;
        self.give_volumes_to_remapped_root(&record)?;
        let network = self.setup_network(container).await?;
        let spec = build_spec(
            &record,
            &SpecPaths { rootfs: &merged, container_dir: &container.dir, volumes_dir: &volumes_dir, network: &network },
        )?;
        let resources = spec.linux().as_ref().and_then(|l| l.resources().clone());
        let group = super::tenants::cgroup_group(container.owner.as_deref());
        if let Some(tenant) = &container.owner {
            self.ensure_tenant_group(tenant)?;
        }
        let cgroup = Arc::new(Cgroup::create_in(group.as_deref(), &container.id, resources.as_ref())?);

        let size = record
            .host_config
            .console_size
            .as_ref()
            .filter(|s| s.len() == 2 && s[0] > 0 && s[1] > 0)
            .map(|s| (s[0] as u16, s[1] as u16))
            .unwrap_or((24, 80));
        let log = super::log_drivers::monitor_log(&record, &container.log_path())?;
        let settings = berth_runtime::MonitorSettings {
            dir: container.dir.clone(),
            tty: record.config.tty.unwrap_or(false),
            open_stdin: record.config.open_stdin.unwrap_or(false),
            size,
            log: log.file,
            driver: log.driver,
        };

        let id = container.id.clone();
        let cgroup_for_start = cgroup.clone();
        let started = tokio::task::spawn_blocking(move || {
            berth_runtime::start_monitored(&id, &spec, &cgroup_for_start, settings)
        })
        .await
        .map_err(|e| EngineError::io("start container", std::io::Error::other(e)))?;
        let monitored = match started {
            Ok(monitored) => monitored,
            Err(err) => {
                if let Ok(cgroup) = Arc::try_unwrap(cgroup) {
                    let _ = cgroup.destroy();
                }
                return Err(err.into());
            }
        };

        let berth_runtime::Monitored { welcome, process, monitor, stream, leftover } = monitored;
        let pid = welcome.pid;
        {
            let mut live = container.live();
            live.process = Some(Arc::new(process));
            live.cgroup = Some(cgroup);
        }
        container.update(|r| {
            r.state.status = Status::Running;
            r.state.pid = pid;
            r.state.exit_code = 0;
            r.state.error.clear();
            r.state.oom_killed = false;
            r.state.started_at = Some(Utc::now());
        })?;
        self.emit_volume_mounts(container, "mount");
        self.emit(container, "start");
        self.follow_monitor(container.clone(), stream, leftover, monitor)?;
        self.start_health(container, true);
        Ok(())
    }

    pub(super) async fn handle_exit(self: &Arc<Self>, container: Arc<Container>, exit_code: i32) {
        self.stop_health(&container);
        let (cgroup, _) = {
            let mut live = container.live();
            live.monitor = None;
            (live.cgroup.take(), live.process.take())
        };
        let oom_killed = cgroup.as_ref().map(|c| c.stats().oom_kills > 0).unwrap_or(false);
        self.teardown_network(&container).await;
        if let Some(cgroup) = cgroup {
            match Arc::try_unwrap(cgroup) {
                Ok(cgroup) => {
                    if let Err(err) = cgroup.destroy() {
                        tracing::warn!(id = %container.id, %err, "cgroup cleanup failed");
                    }
                }
                Err(shared) => {
                    shared.kill_all(Signal::SIGKILL);
                }
            }
        }
        let record = container.snapshot();
        let ran_for = record.state.started_at.map(|s| Utc::now() - s).unwrap_or_default();
        let policy = record.host_config.restart_policy.clone().unwrap_or_default();
        let history = restart::History {
            restart_count: record.state.restart_count,
            manually_stopped: record.state.manually_stopped,
        };
        let should_restart = !self.is_shutting_down() && restart::after_exit(&policy, exit_code, history);
        container.update_or_log("record the exit", |r| {
            r.state.status = if should_restart { Status::Restarting } else { Status::Exited };
            r.state.exit_code = exit_code;
            r.state.pid = 0;
            r.state.oom_killed = oom_killed;
            r.state.finished_at = Some(Utc::now());
        });
        let _ = container.output.send(Output::End);
        container.waits.send_modify(|w| {
            w.exits += 1;
            w.exit_code = exit_code;
            w.error = None;
        });
        let mut attributes = self.container_attributes(&container);
        attributes.insert("exitCode".into(), exit_code.to_string());
        self.events.emit(bollard_stubs::models::EventMessageTypeEnum::CONTAINER, "die", &container.id, attributes);
        self.emit_sandbox_networks(&container, "disconnect");
        self.emit_volume_mounts(&container, "unmount");

        if should_restart {
            let delay = restart::delay(ran_for.to_std().unwrap_or_default(), record.state.restart_count);
            let engine = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _op = container.op.lock().await;
                let still_wanted = {
                    let record = container.record();
                    record.state.status == Status::Restarting && !record.state.manually_stopped
                };
                if !still_wanted || engine.container(&container.id).is_err() {
                    return;
                }
                container.update_or_log("count the restart", |r| r.state.restart_count += 1);
                if let Err(err) = engine.start_locked(&container).await {
                    tracing::warn!(id = %container.id, %err, "restart failed");
                }
            });
        } else if record.host_config.auto_remove.unwrap_or(false) {
            let _op = container.op.lock().await;
            self.remove_locked(&container).await;
        }
    }

    pub async fn stop(
        self: &Arc<Self>,
        reference: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), EngineError> {
        let container = self.container(reference)?;
        let _op = container.op.lock().await;
        self.stop_locked(&container, timeout, signal).await
    }

    async fn stop_locked(
        self: &Arc<Self>,
        container: &Arc<Container>,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), EngineError> {
        let record = container.snapshot();
        if !record.state.status.is_running() {
            return Err(EngineError::NotModified("container already stopped".into()));
        }
        container.update(|r| r.state.manually_stopped = true)?;
        if record.state.status == Status::Restarting {
            container.update(|r| r.state.status = Status::Exited)?;
            return Ok(());
        }
        let signal = match signal.or(record.config.stop_signal.as_deref()) {
            Some(text) => parse_signal(text)?,
            None => Signal::SIGTERM,
        };
        let timeout = timeout.or(record.config.stop_timeout).unwrap_or(10);
        let mut waits = container.waits.subscribe();
        let exits_before = waits.borrow().exits;
        self.emit_kill(container, signal);
        if let Some(process) = container.process() {
            let _ = process.signal(signal);
        }
        if record.state.status == Status::Paused {
            if let Some(cgroup) = container.cgroup() {
                let _ = cgroup.thaw();
            }
        }
        let exited = async {
            let _ = waits.wait_for(|w| w.exits > exits_before).await;
        };
        let finished = if timeout < 0 {
            exited.await;
            true
        } else {
            tokio::time::timeout(Duration::from_secs(timeout as u64), exited).await.is_ok()
        };
        if !finished {
            self.emit_kill(container, Signal::SIGKILL);
            self.kill_and_wait(container).await;
        }
        self.emit(container, "stop");
        Ok(())
    }

    async fn kill_and_wait(&self, container: &Arc<Container>) {
        let mut waits = container.waits.subscribe();
        let exits_before = waits.borrow().exits;
        let Some(process) = container.process() else { return };
        if let Some(cgroup) = container.cgroup() {
            let _ = cgroup.thaw();
        }
        let _ = process.signal(Signal::SIGKILL);
        let _ = tokio::time::timeout(Duration::from_secs(30), waits.wait_for(|w| w.exits > exits_before)).await;
    }

    pub(super) async fn stop_for_shutdown(self: &Arc<Self>, container: &Arc<Container>) {
        let _op = container.op.lock().await;
        let record = container.snapshot();
        let signal = record.config.stop_signal.as_deref().and_then(|s| parse_signal(s).ok()).unwrap_or(Signal::SIGTERM);
        let mut waits = container.waits.subscribe();
        let exits_before = waits.borrow().exits;
        self.emit_kill(container, signal);
        if let Some(process) = container.process() {
            let _ = process.signal(signal);
        }
        let grace = Duration::from_secs(record.config.stop_timeout.unwrap_or(3).clamp(0, 10) as u64);
        if tokio::time::timeout(grace, waits.wait_for(|w| w.exits > exits_before)).await.is_err() {
            self.kill_and_wait(container).await;
        }
    }

    pub async fn kill(self: &Arc<Self>, reference: &str, signal: Option<&str>) -> Result<(), EngineError> {
        let container = self.container(reference)?;
        let signal = parse_signal(signal.filter(|s| !s.is_empty()).unwrap_or("KILL"))?;
        // A stop holds the container's lock for its whole grace period; SIGKILL is how a user cuts that short, so
        // it goes now instead of queueing behind the stop (which then sees the exit and returns at once). Other
        // signals wait their turn as before.
        let _op = match container.op.try_lock() {
            Ok(guard) => Some(guard),
            Err(_) if signal == Signal::SIGKILL => None,
            Err(_) => Some(container.op.lock().await),
        };
        let status = container.status();
        if !status.is_running() || status == Status::Restarting {
            return Err(EngineError::Conflict(format!(
                "Cannot kill container: {}: Container {} is not running",
                reference, container.id
            )));
        }
        if status == Status::Paused && signal != Signal::SIGKILL {
            return Err(EngineError::Paused(container.id.clone()));
        }
        container.update(|r| r.state.manually_stopped = true)?;
        self.emit_kill(&container, signal);
        if signal == Signal::SIGKILL {
            self.kill_and_wait(&container).await;
        } else if let Some(process) = container.process() {
            process.signal(signal)?;
        }
        Ok(())
    }

    pub async fn restart(
        self: &Arc<Self>,
        reference: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), EngineError> {
        let container = self.container(reference)?;
        let _op = container.op.lock().await;
        if container.status().is_running() {
            self.stop_locked(&container, timeout, signal).await?;
        }
        container.update(|r| r.state.manually_stopped = false)?;
        self.start_locked(&container).await?;
        self.emit(&container, "restart");
        Ok(())
    }

    pub async fn pause(self: &Arc<Self>, reference: &str) -> Result<(), EngineError> {
        let container = self.container(reference)?;
        let _op = container.op.lock().await;
        match container.status() {
            Status::Running => {}
            Status::Paused => {
                return Err(EngineError::Conflict(format!("Container {} is already paused", container.id)))
            }
            _ => return Err(EngineError::NotRunning(container.id.clone())),
        }
        let cgroup = container.cgroup().ok_or_else(|| EngineError::NotRunning(container.id.clone()))?;
        cgroup.freeze()?;
        container.update(|r| r.state.status = Status::Paused)?;
        // dockerd stops probing a paused container (and so reads it as unhealthy until a probe passes again).
        self.stop_health(&container);
        self.emit(&container, "pause");
        Ok(())
    }

    pub async fn unpause(self: &Arc<Self>, reference: &str) -> Result<(), EngineError> {
        let container = self.container(reference)?;
        let _op = container.op.lock().await;
        if container.status() != Status::Paused {
            return Err(EngineError::Conflict(format!("Container {} is not paused", container.id)));
        }
        let cgroup = container.cgroup().ok_or_else(|| EngineError::NotRunning(container.id.clone()))?;
        cgroup.thaw()?;
        container.update(|r| r.state.status = Status::Running)?;
        self.start_health(&container, false);
        self.emit(&container, "unpause");
        Ok(())
    }

    fn emit_kill(&self, container: &Container, signal: Signal) {
        let mut attributes = self.container_attributes(container);
        attributes.insert("signal".into(), (signal as i32).to_string());
        self.events.emit(bollard_stubs::models::EventMessageTypeEnum::CONTAINER, "kill", &container.id, attributes);
    }

    /// `docker rm`; with `volumes` (`-v`) the container's anonymous volumes go too.
    pub async fn remove(self: &Arc<Self>, reference: &str, force: bool, volumes: bool) -> Result<(), EngineError> {
        let container = self.container(reference)?;
        let _op = container.op.lock().await;
        if container.status().is_running() {
            if !force {
                let what = if container.status() == Status::Paused { "paused" } else { "running" };
                return Err(EngineError::Conflict(format!(
                    "cannot remove container \"/{}\": container is {what}: stop the container before removing or force remove",
                    container.name()
                )));
            }
            container.update(|r| r.state.manually_stopped = true)?;
            // dockerd's `rm -f` is a kill first, and says so.
            self.emit_kill(&container, Signal::SIGKILL);
            self.kill_and_wait(&container).await;
        }
        self.remove_locked(&container).await;
        if volumes {
            self.remove_anonymous_volumes(&container.snapshot());
        }
        Ok(())
    }

    /// Unmounts and deletes everything of the container; the caller holds `container.op`.
    async fn remove_locked(self: &Arc<Self>, container: &Arc<Container>) {
        if container.record().state.status == Status::Removing || self.container(&container.id).is_err() {
            return;
        }
        container.update_or_log("mark it removing", |r| r.state.status = Status::Removing);
        self.teardown_network(container).await;
        self.networks.disconnect_all(&container.id);
        let merged = container.rootfs();
        let dir = container.dir.clone();
        let cleanup = tokio::task::spawn_blocking(move || {
            if let Err(err) = berth_runtime::unmount_rootfs(&merged) {
                tracing::warn!(%err, "unmount failed");
            }
            std::fs::remove_dir_all(&dir)
        })
        .await;
        if let Ok(Err(err)) = cleanup {
            tracing::warn!(id = %container.id, %err, "container directory cleanup failed");
        }
        self.forget(&container.id);
        let record = container.snapshot();
        if let (Some(remap), Some(ids)) = (&self.userns, &record.id_shift) {
            remap.release(ids);
        }
        if record.host_config.auto_remove.unwrap_or(false) {
            // Docker's --rm takes the anonymous volumes along.
            self.remove_anonymous_volumes(&record);
        }
        container.waits.send_modify(|w| w.removed = true);
        self.emit(container, "destroy");
    }

    /// Registers a wait now (so `next-exit` means the exit after this call) and returns a future for its result.
    pub fn wait(
        self: &Arc<Self>,
        reference: &str,
        condition: WaitCondition,
    ) -> Result<impl std::future::Future<Output = (i32, Option<String>)> + Send + 'static, EngineError> {
        let container = self.container(reference)?;
        let mut waits = container.waits.subscribe();
        let start = waits.borrow().clone();
        let running = container.status().is_running();
        Ok(async move {
            let done = |w: &super::WaitState| match condition {
                WaitCondition::Removed => w.removed,
                WaitCondition::NextExit => w.exits > start.exits || w.removed,
                WaitCondition::NotRunning => !running || w.exits > start.exits || w.removed,
            };
            let result = match waits.wait_for(done).await {
                Ok(state) => (state.exit_code, state.error.clone()),
                // The sender lives in the container; gone means removed.
                Err(_) => (start.exit_code, None),
            };
            result
        })
    }

    pub async fn rename(self: &Arc<Self>, reference: &str, new_name: &str) -> Result<(), EngineError> {
        let container = self.container(reference)?;
        let new_name = super::names::validate_name(new_name).map_err(EngineError::InvalidArgument)?;
        let old = container.name();
        if old == new_name {
            return Err(EngineError::InvalidArgument(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        let _claim = self.claim_name(container.owner.as_deref(), &new_name, &container.id)?;
        container.update(|r| r.name = new_name.clone())?;
        self.networks.rename_container(&container.id, &new_name);
        let mut attributes = self.container_attributes(&container);
        attributes.insert("oldName".into(), format!("/{old}"));
        self.events.emit(bollard_stubs::models::EventMessageTypeEnum::CONTAINER, "rename", &container.id, attributes);
        Ok(())
    }

    pub fn resize(&self, reference: &str, height: u16, width: u16) -> Result<(), EngineError> {
        let container = self.container(reference)?;
        let link = container.live().monitor.clone();
        match link {
            Some(link) => {
                link.resize(height, width);
                Ok(())
            }
            None if !container.status().is_running() => Err(EngineError::NotRunning(container.id.clone())),
            None => Ok(()),
        }
    }

    /// `docker container prune`: deletes every stopped container of `scope` that `filter` selects; returns their
    /// ids and the bytes their writable layers held.
    pub async fn prune_containers(
        self: &Arc<Self>,
        scope: super::Scope<'_>,
        filter: &super::PruneFilter,
    ) -> (Vec<String>, u64) {
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for container in self.containers_in(scope) {
            let (labels, created) = {
                let record = container.record();
                (record.config.labels.clone().unwrap_or_default(), record.created)
            };
            let stopped = || matches!(container.status(), Status::Created | Status::Exited | Status::Dead);
            if !stopped() || !filter.matches(&labels, Some(created)) {
                continue;
            }
            let _op = container.op.lock().await;
            // Looked at again under the lock: a start that won the race keeps its container.
            if !stopped() {
                continue;
            }
            let upper = container.upper_dir();
            let size =
                tokio::task::spawn_blocking(move || super::disk_usage::tree_size_or_zero(&upper)).await.unwrap_or(0);
            self.remove_locked(&container).await;
            reclaimed = reclaimed.saturating_add(size);
            deleted.push(container.id.clone());
        }
        self.emit_prune(scope.names_owner(), bollard_stubs::models::EventMessageTypeEnum::CONTAINER, reclaimed);
        (deleted, reclaimed)
    }

    pub(super) async fn remove_after_recovery(self: &Arc<Self>, container: &Arc<Container>) {
        self.remove_locked(container).await;
    }
}
