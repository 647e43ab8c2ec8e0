//! Waiting for a process to exit without holding a thread: its pidfd, polled by tokio, says when to reap it
//! (berth-runtime stays free of the async runtime).

use std::os::fd::OwnedFd;

use berth_runtime::ProcessHandle;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The exit code of `process` once it exits: 128+signal if killed, 255 if unknowable (not our child).
pub async fn exited(process: &ProcessHandle) -> i32 {
    if let Some(code) = process.try_wait() {
        return code;
    }
    match watch(process) {
        Ok(pidfd) => loop {
            match pidfd.readable().await {
                Ok(mut ready) => {
                    if let Some(code) = process.try_wait() {
                        return code;
                    }
                    ready.clear_ready();
                }
                Err(err) => {
                    tracing::warn!(pid = process.pid(), %err, "pidfd poll failed; waiting in a thread");
                    break;
                }
            }
        },
        Err(err) => tracing::warn!(pid = process.pid(), %err, "pidfd not pollable; waiting in a thread"),
    }
    // Unforeseen: without a pollable pidfd, look again now and then.
    loop {
        if let Some(code) = process.try_wait() {
            return code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn watch(process: &ProcessHandle) -> std::io::Result<AsyncFd<OwnedFd>> {
    let fd = process.pidfd().try_clone_to_owned()?;
    // SAFETY: the AsyncFd owns this OwnedFd (a private dup of the pidfd), which stays open and refers to the same
    // description until the AsyncFd is dropped.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| e.into_parts().1)
}
