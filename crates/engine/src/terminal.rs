//! Terminal sessions for the playground: a shell (an exec with a tty) or a container's own tty, with scrollback
//! that outlives any one websocket, so a reloaded page rejoins the same shell, and viewers can watch.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use berth_shared::api::terminal::TerminalMode;
use bollard_stubs::models::ExecConfig;
use bytes::Bytes;
use tokio::sync::{broadcast, mpsc, watch};

use super::container::{Container, Output, StdinMessage};
use super::{names, Engine, EngineError};

/// Scrollback kept per session for replay.
const SCROLLBACK_BYTES: usize = 512 * 1024;

#[derive(Default)]
struct Scrollback {
    chunks: VecDeque<Bytes>,
    bytes: usize,
}

impl Scrollback {
    fn push(&mut self, chunk: Bytes) {
        self.bytes += chunk.len();
        self.chunks.push_back(chunk);
        while self.bytes > SCROLLBACK_BYTES {
            match self.chunks.pop_front() {
                Some(old) => self.bytes -= old.len(),
                None => break,
            }
        }
    }
}

enum Target {
    Exec(String),
    ContainerTty,
}

pub struct TerminalSession {
    pub id: String,
    pub container: Arc<Container>,
    pub mode: TerminalMode,
    target: Target,
    scrollback: Mutex<Scrollback>,
    output: broadcast::Sender<Bytes>,
    input: mpsc::Sender<StdinMessage>,
    exit: watch::Sender<Option<i64>>,
}

impl TerminalSession {
    /// The scrollback so far and a receiver for everything after it, with nothing lost or repeated in between.
    pub fn join(&self) -> (Vec<Bytes>, broadcast::Receiver<Bytes>) {
        let scrollback = self.scrollback.lock().unwrap_or_else(|p| p.into_inner());
        let receiver = self.output.subscribe();
        (scrollback.chunks.iter().cloned().collect(), receiver)
    }

    /// Waits while the process is behind on its input.
    pub async fn input(&self, data: Bytes) {
        let _ = self.input.send(StdinMessage::Data(data)).await;
    }

    pub fn exit(&self) -> watch::Receiver<Option<i64>> {
        self.exit.subscribe()
    }

    pub fn resize(&self, engine: &Engine, rows: u16, cols: u16) -> Result<(), EngineError> {
        match &self.target {
            Target::Exec(exec_id) => engine.exec_resize(exec_id, rows, cols),
            Target::ContainerTty => engine.resize(&self.container.id, rows, cols),
        }
    }

    fn record(&self, chunk: Bytes) {
        let mut scrollback = self.scrollback.lock().unwrap_or_else(|p| p.into_inner());
        scrollback.push(chunk.clone());
        // Sent under the lock so that `join` sees each chunk either in the scrollback or on the channel.
        let _ = self.output.send(chunk);
    }
}

#[derive(Default)]
pub struct Terminals {
    sessions: RwLock<HashMap<String, Arc<TerminalSession>>>,
}

impl Terminals {
    pub fn get(&self, id: &str) -> Option<Arc<TerminalSession>> {
        self.sessions.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    fn insert(&self, session: Arc<TerminalSession>) {
        self.sessions.write().unwrap_or_else(|p| p.into_inner()).insert(session.id.clone(), session);
    }

    /// The open terminals of the containers `scope` sees, for a viewer to pick one.
    fn visible(&self, scope: super::Scope<'_>) -> Vec<Arc<TerminalSession>> {
        let sessions = self.sessions.read().unwrap_or_else(|p| p.into_inner());
        sessions.values().filter(|s| scope.sees(s.container.owner.as_deref())).cloned().collect()
    }

    pub fn forget_container(&self, container_id: &str) {
        self.sessions.write().unwrap_or_else(|p| p.into_inner()).retain(|_, s| s.container.id != container_id);
    }
}

/// Runs bash where the image has it, sh otherwise.
const SHELL: &[&str] = &["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"];

impl Engine {
    pub fn terminal(&self, session: &str) -> Result<Arc<TerminalSession>, EngineError> {
        self.terminals.get(session).ok_or_else(|| EngineError::NotFound(format!("No such terminal session: {session}")))
    }

    /// The terminals open in `scope`'s containers whose process has not exited.
    pub fn terminals_in(&self, scope: super::Scope<'_>) -> Vec<Arc<TerminalSession>> {
        let mut open: Vec<_> =
            self.terminals.visible(scope).into_iter().filter(|session| session.exit.borrow().is_none()).collect();
        open.sort_by(|a, b| a.id.cmp(&b.id));
        open
    }

    /// Opens a new terminal session in a running container.
    pub async fn terminal_open(
        self: &Arc<Self>,
        reference: &str,
        mode: TerminalMode,
        size: (u16, u16),
    ) -> Result<Arc<TerminalSession>, EngineError> {
        let container = self.container(reference)?;
        let (output, _) = broadcast::channel(1024);
        let (exit, _) = watch::channel(None);
        let id = names::new_id();
        let session = match mode {
            TerminalMode::Shell => {
                let config = ExecConfig {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(true),
                    console_size: Some(vec![size.0 as usize, size.1 as usize]),
                    cmd: Some(SHELL.iter().map(|s| s.to_string()).collect()),
                    ..Default::default()
                };
                let exec_id = self.exec_create(&container.id, config)?;
                let streams = self.exec_start(&exec_id).await?;
                let input = streams.stdin.unwrap_or_else(|| mpsc::channel(1).0);
                let session = Arc::new(TerminalSession {
                    id,
                    container: container.clone(),
                    mode,
                    target: Target::Exec(exec_id.clone()),
                    scrollback: Mutex::default(),
                    output,
                    input,
                    exit,
                });
                let pump = session.clone();
                let engine = self.clone();
                let mut streams_output = streams.output;
                tokio::spawn(async move {
                    while let Some(Output::Chunk(_, data)) = streams_output.recv().await {
                        pump.record(data);
                    }
                    let exec = engine.exec(&exec_id).ok();
                    if let Some(exec) = &exec {
                        exec.wait_done().await;
                    }
                    let code = exec.and_then(|e| e.inspect().exit_code).unwrap_or(-1);
                    pump.exit.send_replace(Some(code));
                });
                session
            }
            TerminalMode::Tty => {
                if !container.tty() {
                    return Err(EngineError::InvalidArgument(format!(
                        "container {} was not started with a terminal (-t); open a shell instead",
                        container.name()
                    )));
                }
                if !container.status().is_running() {
                    return Err(EngineError::NotRunning(container.id.clone()));
                }
                // What the monitor kept comes first: after a daemon restart it is all a rejoining page can show.
                let link = container.live().monitor.clone();
                let replay = match link {
                    Some(link) => link.replay().await,
                    None => None,
                };
                let (kept, mut container_output) = replay.unwrap_or_else(|| (Vec::new(), container.output.subscribe()));
                let mut scrollback = Scrollback::default();
                for (_, chunk) in kept {
                    scrollback.push(chunk);
                }
                let session = Arc::new(TerminalSession {
                    id,
                    container: container.clone(),
                    mode,
                    target: Target::ContainerTty,
                    scrollback: Mutex::new(scrollback),
                    output,
                    input: container.stdin_tx.clone(),
                    exit,
                });
                let pump = session.clone();
                tokio::spawn(async move {
                    loop {
                        match container_output.recv().await {
                            Ok(Output::Chunk(_, data)) => pump.record(data),
                            Ok(Output::End) | Err(broadcast::error::RecvError::Closed) => break,
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                        }
                    }
                    let code = pump.container.record().state.exit_code as i64;
                    pump.exit.send_replace(Some(code));
                });
                let _ = session.resize(self, size.0, size.1);
                session
            }
        };
        self.terminals.insert(session.clone());
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrollback_keeps_the_newest_bytes() {
        let mut scrollback = Scrollback::default();
        for _ in 0..10 {
            scrollback.push(Bytes::from(vec![b'x'; 100 * 1024]));
        }
        assert!(scrollback.bytes <= SCROLLBACK_BYTES);
        assert_eq!(scrollback.chunks.len(), 5);
    }
}
