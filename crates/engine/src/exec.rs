//! `docker exec`: a second process inside a running container's namespaces and cgroup.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

use bollard_stubs::models::{ExecConfig, ExecInspectResponse, ProcessConfig};
use bytes::Bytes;
use oci_spec::runtime::{LinuxCapabilitiesBuilder, ProcessBuilder, UserBuilder};
use tokio::sync::{mpsc, watch};

use super::container::{Container, Output, Status, StdinMessage, StreamKind};
use super::spec::{capabilities, resolve_user};
use super::{names, stdio, Engine, EngineError};

/// Chunks (of up to 32 KiB) of an exec's output the daemon holds for a reader that is behind.
const EXEC_OUTPUT_CHUNKS: usize = 64;

#[derive(Default)]
struct ExecState {
    started: bool,
    running: bool,
    exit_code: Option<i64>,
    pid: i32,
    pty_master: Option<Arc<OwnedFd>>,
    /// The exec's process while it runs, so a health probe past its timeout can be killed.
    process: Option<Arc<berth_runtime::ProcessHandle>>,
}

pub struct Exec {
    pub id: String,
    pub container: Arc<Container>,
    pub config: ExecConfig,
    state: Mutex<ExecState>,
    done: watch::Sender<bool>,
}

/// What an exec start hands to the API: output until `Output::End`, and stdin when it was asked for.
pub struct ExecStreams {
    /// Bounded: a reader that stops reading holds the process up, as a full pipe would.
    pub output: mpsc::Receiver<Output>,
    pub stdin: Option<mpsc::Sender<StdinMessage>>,
    pub tty: bool,
}

impl Exec {
    /// The command as dockerd names it in `exec_create: ...` and `exec_start: ...`: the program, a space, then its
    /// arguments (so `true` alone reads `true `).
    fn command_line(&self) -> String {
        let cmd = self.config.cmd.as_deref().unwrap_or_default();
        match cmd.split_first() {
            Some((program, args)) => format!("{program} {}", args.join(" ")),
            None => String::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ExecState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn inspect(&self) -> ExecInspectResponse {
        let state = self.state();
        let cmd = self.config.cmd.clone().unwrap_or_default();
        ExecInspectResponse {
            can_remove: Some(false),
            detach_keys: Some(String::new()),
            id: Some(self.id.clone()),
            running: Some(state.running),
            exit_code: state.exit_code,
            process_config: Some(ProcessConfig {
                privileged: Some(self.config.privileged.unwrap_or(false)),
                user: self.config.user.clone().or(Some(String::new())),
                tty: Some(self.config.tty.unwrap_or(false)),
                entrypoint: cmd.first().cloned(),
                arguments: Some(cmd.iter().skip(1).cloned().collect()),
            }),
            open_stdin: Some(self.config.attach_stdin.unwrap_or(false)),
            open_stderr: Some(self.config.attach_stderr.unwrap_or(false)),
            open_stdout: Some(self.config.attach_stdout.unwrap_or(false)),
            container_id: Some(self.container.id.clone()),
            pid: Some(state.pid as i64),
        }
    }

    pub async fn wait_done(&self) {
        let mut done = self.done.subscribe();
        let _ = done.wait_for(|d| *d).await;
    }

    /// An exec that is not registered with the engine (no id clients can find, not in ExecIDs): health probes.
    pub(super) fn unregistered(container: Arc<Container>, config: ExecConfig) -> Arc<Exec> {
        Arc::new(Exec {
            id: names::new_id(),
            container,
            config,
            state: Mutex::new(ExecState::default()),
            done: watch::Sender::new(false),
        })
    }

    /// The exit code once the process has ended.
    pub fn exit_code(&self) -> Option<i64> {
        self.state().exit_code
    }

    /// SIGKILL to the exec's process, if it still runs.
    pub(super) fn kill(&self) {
        if let Some(process) = self.state().process.clone() {
            let _ = process.signal(nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Engine {
    pub fn exec(&self, id: &str) -> Result<Arc<Exec>, EngineError> {
        self.execs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NoSuchExec(id.to_string()))
    }

    pub fn exec_create(&self, reference: &str, config: ExecConfig) -> Result<String, EngineError> {
        let container = self.container(reference)?;
        match container.status() {
            Status::Running => {}
            Status::Paused => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    container.id
                )))
            }
            _ => return Err(EngineError::NotRunning(container.id.clone())),
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(EngineError::InvalidArgument("No exec command specified".into()));
        }
        let id = names::new_id();
        let exec = Arc::new(Exec {
            id: id.clone(),
            container: container.clone(),
            config,
            state: Mutex::new(ExecState::default()),
            done: watch::Sender::new(false),
        });
        let action = format!("exec_create: {}", exec.command_line());
        self.execs.write().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), exec);
        container.update(|r| r.exec_ids.push(id.clone()))?;
        let mut attributes = self.container_attributes(&container);
        attributes.insert("execID".into(), id.clone());
        self.events.emit(bollard_stubs::models::EventMessageTypeEnum::CONTAINER, &action, &container.id, attributes);
        Ok(id)
    }

    /// Checks that an exec can start (exists, not started, container running) without starting it.
    pub fn exec_check(&self, id: &str) -> Result<(), EngineError> {
        let exec = self.exec(id)?;
        if exec.state().started {
            return Err(EngineError::Conflict(format!("Error: Exec command {id} has already run")));
        }
        if exec.container.status() != Status::Running {
            return Err(EngineError::NotRunning(exec.container.id.clone()));
        }
        Ok(())
    }

    /// Starts the exec's process. Failures to find the program are reported on the stream, as Docker does.
    pub async fn exec_start(self: &Arc<Self>, id: &str) -> Result<ExecStreams, EngineError> {
        let exec = self.exec(id)?;
        self.run_exec(exec).await
    }

    /// Starts an exec's process (registered or not) and its output readers.
    pub(super) async fn run_exec(self: &Arc<Self>, exec: Arc<Exec>) -> Result<ExecStreams, EngineError> {
        let id = exec.id.as_str();
        {
            let mut state = exec.state();
            if state.started {
                return Err(EngineError::Conflict(format!("Error: Exec command {id} has already run")));
            }
            state.started = true;
            state.running = true;
        }
        let container = exec.container.clone();
        let pid = container.record().state.pid;
        let cgroup = container.cgroup();
        let (Some(cgroup), true) = (cgroup, pid > 0 && container.status() == Status::Running) else {
            exec.state().running = false;
            return Err(EngineError::NotRunning(container.id.clone()));
        };
        let tty = exec.config.tty.unwrap_or(false);
        let attach_stdin = exec.config.attach_stdin.unwrap_or(false);
        let process = self.exec_process(&exec)?;
        // The container's filter, whatever the exec asks for: `exec --privileged` adds capabilities, not syscalls.
        let record = container.snapshot();
        let seccomp = super::security::seccomp(&record.host_config, &capabilities(&record.host_config)?)?;
        let size = exec
            .config
            .console_size
            .as_ref()
            .filter(|s| s.len() == 2 && s[0] > 0 && s[1] > 0)
            .map(|s| (s[0] as u16, s[1] as u16))
            .unwrap_or((24, 80));
        let (child_stdio, ends) =
            stdio::make_stdio(tty, attach_stdin, size).map_err(|e| EngineError::io("create exec stdio", e))?;
        let (out_tx, out_rx) = mpsc::channel(EXEC_OUTPUT_CHUNKS);
        let started = tokio::task::spawn_blocking(move || {
            berth_runtime::start_exec(pid, &process, seccomp.as_ref(), &cgroup, child_stdio)
        })
        .await
        .map_err(|e| EngineError::io("start exec", std::io::Error::other(e)))?;
        let handle = match started {
            Ok(handle) => Arc::new(handle),
            Err(err) => {
                let message = err.to_string();
                let code = if message.contains("executable file not found") || message.contains("no such file") {
                    127
                } else {
                    126
                };
                let line = format!(
                    "OCI runtime exec failed: exec failed: unable to start container process: {message}: unknown\r\n"
                );
                let _ = out_tx.try_send(Output::Chunk(StreamKind::Stdout, Bytes::from(line)));
                let _ = out_tx.try_send(Output::End);
                {
                    let mut state = exec.state();
                    state.running = false;
                    state.exit_code = Some(code);
                }
                exec.done.send_replace(true);
                return Ok(ExecStreams { output: out_rx, stdin: None, tty });
            }
        };
        {
            let mut state = exec.state();
            state.pid = handle.pid();
            state.pty_master = ends.pty_master.clone();
            state.process = Some(handle.clone());
        }
        let stdin = match ends.stdin {
            Some(fd) => {
                let (tx, rx) = mpsc::channel(super::container::STDIN_CHUNKS);
                tokio::spawn(stdio::pump_stdin(fd, rx, None));
                Some(tx)
            }
            None => None,
        };
        let (exited_tx, exited_rx) = tokio::sync::watch::channel(false);
        let readers: Vec<_> = ends
            .outputs
            .into_iter()
            .map(|(stream, fd)| tokio::spawn(stdio::forward_output(fd, stream, out_tx.clone(), exited_rx.clone())))
            .collect();
        let exec_for_monitor = exec.clone();
        let engine = self.clone();
        tokio::spawn(async move {
            let code = super::process_exit::exited(&handle).await;
            exited_tx.send_replace(true);
            // The state does not wait for a slow reader of the output: inspect says exited as soon as it is.
            {
                let mut state = exec_for_monitor.state();
                state.running = false;
                state.exit_code = Some(code as i64);
                state.pty_master = None;
                state.process = None;
            }
            exec_for_monitor.done.send_replace(true);
            let mut attributes = engine.container_attributes(&exec_for_monitor.container);
            attributes.insert("execID".into(), exec_for_monitor.id.clone());
            attributes.insert("exitCode".into(), code.to_string());
            let container_id = &exec_for_monitor.container.id;
            engine.events.emit(
                bollard_stubs::models::EventMessageTypeEnum::CONTAINER,
                "exec_die",
                container_id,
                attributes,
            );
            for reader in readers {
                let _ = reader.await;
            }
            let _ = out_tx.send(Output::End).await;
        });
        let mut attributes = self.container_attributes(&container);
        attributes.insert("execID".into(), exec.id.clone());
        self.events.emit(
            bollard_stubs::models::EventMessageTypeEnum::CONTAINER,
            &format!("exec_start: {}", exec.command_line()),
            &container.id,
            attributes,
        );
        Ok(ExecStreams { output: out_rx, stdin, tty })
    }

    fn exec_process(&self, exec: &Exec) -> Result<oci_spec::runtime::Process, EngineError> {
        let record = exec.container.snapshot();
        let rootfs = exec.container.rootfs();
        let user =
            exec.config.user.clone().filter(|u| !u.is_empty()).or(record.config.user.clone()).unwrap_or_default();
        let (uid, gid, additional) =
            resolve_user(&rootfs, &user, &record.host_config.group_add.clone().unwrap_or_default())?;
        let mut env = record.config.env.clone().unwrap_or_default();
        for extra in exec.config.env.clone().unwrap_or_default() {
            let key = extra.split('=').next().unwrap_or("").to_string();
            env.retain(|e| e.split('=').next() != Some(key.as_str()));
            env.push(extra);
        }
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        }
        if exec.config.tty.unwrap_or(false) && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        let caps = if exec.config.privileged.unwrap_or(false) {
            let mut host = record.host_config.clone();
            host.privileged = Some(true);
            capabilities(&host)?
        } else {
            capabilities(&record.host_config)?
        };
        let empty = std::collections::HashSet::new();
        let capability_sets = LinuxCapabilitiesBuilder::default()
            .bounding(caps.clone())
            .effective(if uid == 0 { caps.clone() } else { empty.clone() })
            .permitted(if uid == 0 { caps.clone() } else { empty.clone() })
            .inheritable(empty.clone())
            .ambient(empty)
            .build()
            .map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
        let cwd = exec
            .config
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .or(record.config.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        let no_new_privileges =
            super::security::parse(record.host_config.security_opt.as_deref().unwrap_or_default())?.no_new_privileges;
        ProcessBuilder::default()
            .terminal(exec.config.tty.unwrap_or(false))
            .user(
                UserBuilder::default()
                    .uid(uid)
                    .gid(gid)
                    .additional_gids(additional)
                    .build()
                    .map_err(|e| EngineError::InvalidArgument(e.to_string()))?,
            )
            .args(exec.config.cmd.clone().unwrap_or_default())
            .env(env)
            .cwd(cwd)
            .capabilities(capability_sets)
            .no_new_privileges(no_new_privileges)
            .build()
            .map_err(|e| EngineError::InvalidArgument(e.to_string()))
    }

    pub fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<(), EngineError> {
        let exec = self.exec(id)?;
        let master = exec.state().pty_master.clone();
        if let Some(master) = master {
            berth_runtime::resize_pty(master.as_fd(), height, width)?;
        }
        Ok(())
    }
}
