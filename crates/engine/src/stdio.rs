//! The daemon's side of an exec's stdio: pipes or a pty master, read and written asynchronously (a container's
//! own stdio is its monitor's).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};

use super::streams::{Output, StdinMessage, StreamKind};
use berth_runtime::Stdio;

/// The daemon-side ends, matching the `Stdio` handed to the runtime.
pub struct DaemonEnds {
    pub stdin: Option<OwnedFd>,
    pub outputs: Vec<(StreamKind, OwnedFd)>,
    pub pty_master: Option<Arc<OwnedFd>>,
}

/// Creates a pty (with `tty`) or pipes (berth-runtime's), returning the child's ends and the daemon's.
pub fn make_stdio(tty: bool, open_stdin: bool, size: (u16, u16)) -> Result<(Stdio, DaemonEnds), io::Error> {
    let (child, ends) = berth_runtime::make_stdio(tty, open_stdin, size).map_err(io::Error::other)?;
    let outputs = ends
        .outputs
        .into_iter()
        .map(|(stream, fd)| (if stream == berth_runtime::STDERR { StreamKind::Stderr } else { StreamKind::Stdout }, fd))
        .collect();
    Ok((child, DaemonEnds { stdin: ends.stdin, outputs, pty_master: ends.pty.map(Arc::new) }))
}

fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the OwnedFd owns its descriptor, so it stays open and refers to the same file description until the
    // AsyncFd (its only owner) is dropped.
    unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    Ok(())
}

/// How long an exec's output may keep coming after its process exited: a background child may hold the pipe.
const OUTPUT_LINGER: Duration = Duration::from_secs(2);

/// Forwards `fd` to `sender` as `stream` chunks until EOF. A slow receiver slows the process (its pipe fills)
/// instead of growing the daemon's memory; once nobody listens, the rest is read and dropped. After `exited`
/// turns true, it stops when the fd has been quiet for [`OUTPUT_LINGER`].
pub async fn forward_output(
    fd: OwnedFd,
    stream: StreamKind,
    sender: mpsc::Sender<Output>,
    mut exited: watch::Receiver<bool>,
) {
    if let Err(err) = set_nonblocking(&fd) {
        tracing::warn!(%err, "cannot make output non-blocking");
        return;
    }
    let Ok(async_fd) = register(fd) else { return };
    let mut buffer = vec![0u8; 32 * 1024];
    let mut listening = true;
    loop {
        let mut guard = if *exited.borrow() {
            match tokio::time::timeout(OUTPUT_LINGER, async_fd.readable()).await {
                Ok(Ok(guard)) => guard,
                _ => return,
            }
        } else {
            tokio::select! {
                ready = async_fd.readable() => match ready {
                    Ok(guard) => guard,
                    Err(_) => return,
                },
                _ = exited.changed() => continue,
            }
        };
        let chunk = match guard.try_io(|inner| nix::unistd::read(inner.get_ref(), &mut buffer).map_err(io::Error::from))
        {
            Ok(Ok(0)) => return,
            Ok(Ok(n)) => Bytes::copy_from_slice(&buffer[..n]),
            Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(_)) => return,
            Err(_would_block) => continue,
        };
        drop(guard);
        if listening && sender.send(Output::Chunk(stream, chunk)).await.is_err() {
            listening = false;
        }
    }
}

/// Writes all of `data` to a non-blocking fd.
async fn write_all(async_fd: &AsyncFd<OwnedFd>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let mut guard = async_fd.writable().await?;
        match guard.try_io(|inner| nix::unistd::write(inner.get_ref(), data).map_err(io::Error::from)) {
            Ok(Ok(n)) => data = &data[n..],
            Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(err)) => return Err(err),
            Err(_would_block) => continue,
        }
    }
    Ok(())
}

/// Feeds stdin messages into `fd` until Close, the channel ends, or `stop` (if any) fires. Returns the receiver so
/// the next start of the container can use it again (an exec drops it).
pub async fn pump_stdin(
    fd: OwnedFd,
    mut messages: mpsc::Receiver<StdinMessage>,
    mut stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> mpsc::Receiver<StdinMessage> {
    if set_nonblocking(&fd).is_err() {
        return messages;
    }
    let raw = fd.as_raw_fd();
    let Ok(async_fd) = register(fd) else { return messages };
    let stopped = async {
        match stop.as_mut() {
            Some(stop) => {
                let _ = stop.changed().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Some(StdinMessage::Data(data)) => {
                    if let Err(err) = write_all(&async_fd, &data).await {
                        tracing::debug!(fd = raw, %err, "stdin write failed");
                        break;
                    }
                }
                Some(StdinMessage::Close) | None => break,
            },
            _ = &mut stopped => break,
        }
    }
    messages
}
