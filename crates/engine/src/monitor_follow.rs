//! The daemon's side of a container's monitor (berth-runtime's `monitor`): one reader task turns its frames into
//! the container's output channel and, at the end, its exit; one writer task sends stdin, resizes and scrollback
//! requests. Both end with the connection, which ends with the monitor.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::container::Container;
use super::monitor_link::{MonitorLink, ReplayWaiters};
use super::streams::{Output, StdinMessage, StreamKind};
use super::{Engine, EngineError};
use berth_runtime::{Frame, ProcessHandle, UNKNOWN_EXIT_CODE};

fn stream_kind(stream: u8) -> StreamKind {
    if stream == berth_runtime::STDERR {
        StreamKind::Stderr
    } else {
        StreamKind::Stdout
    }
}

impl Engine {
    /// Follows a monitor from its welcome on: the container's output, its stdin, and its exit, which is handled
    /// as any exit (restart policy, cleanup).
    pub(super) fn follow_monitor(
        self: &Arc<Self>,
        container: Arc<Container>,
        stream: std::os::unix::net::UnixStream,
        leftover: Vec<u8>,
        monitor: Option<ProcessHandle>,
    ) -> Result<(), EngineError> {
        stream.set_nonblocking(true).map_err(|e| EngineError::io("follow the monitor", e))?;
        let stream = tokio::net::UnixStream::from_std(stream).map_err(|e| EngineError::io("follow the monitor", e))?;
        let (mut reader, writer) = stream.into_split();
        let (control, control_rx) = mpsc::unbounded_channel();
        let replays: ReplayWaiters = Arc::default();
        let link = Arc::new(MonitorLink::new(control, replays.clone()));
        let stdin = if container.record().config.open_stdin.unwrap_or(false) {
            container.stdin_rx.lock().unwrap_or_else(|p| p.into_inner()).take()
        } else {
            None
        };
        tokio::spawn(write_to_monitor(container.clone(), writer, control_rx, stdin));
        // In place before the reader runs: an exit handled at once must find it, to drop it.
        container.live().monitor = Some(link);

        let engine = self.clone();
        tokio::spawn(async move {
            let mut buffer = leftover;
            let mut exit_code = None;
            'connection: loop {
                loop {
                    match Frame::decode(&mut buffer) {
                        Ok(Some(frame)) => match frame {
                            Frame::Output { stream, data } => {
                                container.log_written.notify_waiters();
                                let _ = container.output.send(Output::Chunk(stream_kind(stream), Bytes::from(data)));
                            }
                            Frame::Scrollback(runs) => {
                                let waiter = replays.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                                if let Some(waiter) = waiter {
                                    let runs =
                                        runs.into_iter().map(|(s, d)| (stream_kind(s), Bytes::from(d))).collect();
                                    let _ = waiter.send((runs, container.output.subscribe()));
                                }
                            }
                            Frame::Exited { code } => exit_code = Some(code),
                            other => tracing::debug!(id = %container.id, ?other, "unexpected monitor frame"),
                        },
                        Ok(None) => break,
                        Err(err) => {
                            tracing::warn!(id = %container.id, %err, "the monitor broke the protocol");
                            break 'connection;
                        }
                    }
                }
                match reader.read_buf(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            if let Some(monitor) = monitor {
                reap(monitor).await;
            }
            let code = exit_code
                .or_else(|| berth_runtime::read_exit_status(&container.dir).map(|s| s.exit_code))
                .unwrap_or(UNKNOWN_EXIT_CODE);
            container.log_written.notify_waiters();
            engine.handle_exit(container, code).await;
        });
        Ok(())
    }
}

/// The monitor this daemon started is its child: it must be reaped, or it stays a zombie.
async fn reap(monitor: ProcessHandle) {
    let _ = super::process_exit::exited(&monitor).await;
}

async fn write_to_monitor(
    container: Arc<Container>,
    mut writer: OwnedWriteHalf,
    mut control: mpsc::UnboundedReceiver<Frame>,
    mut stdin: Option<mpsc::Receiver<StdinMessage>>,
) {
    let mut stdin_open = stdin.is_some();
    loop {
        let frame = tokio::select! {
            frame = control.recv() => match frame {
                Some(frame) => frame,
                None => break,
            },
            message = next_input(&mut stdin), if stdin_open => match message {
                Some(StdinMessage::Data(data)) => Frame::Stdin(data.to_vec()),
                Some(StdinMessage::Close) | None => {
                    stdin_open = false;
                    Frame::CloseStdin
                }
            },
        };
        if writer.write_all(&frame.encode()).await.is_err() {
            break;
        }
    }
    // The next start of the container takes its stdin from here again.
    if let Some(stdin) = stdin {
        *container.stdin_rx.lock().unwrap_or_else(|p| p.into_inner()) = Some(stdin);
    }
}

async fn next_input(stdin: &mut Option<mpsc::Receiver<StdinMessage>>) -> Option<StdinMessage> {
    match stdin {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}
