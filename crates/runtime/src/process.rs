//! A handle on a container (or exec) process: its host pid and a pidfd, so signals and waits can never hit a
//! recycled pid.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};

use super::RuntimeError;

/// Exit code reported when a process is gone but its status cannot be known (it was not our child).
pub const UNKNOWN_EXIT_CODE: i32 = 255;

/// A running process started by the runtime (or adopted after a daemon restart).
#[derive(Debug)]
pub struct ProcessHandle {
    pid: i32,
    pidfd: OwnedFd,
    exit_code: Mutex<Option<i32>>,
}

/// `pidfd_open(2)`.
pub(crate) fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags by value; the returned fd is checked before use.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd (close-on-exec by default for pidfds); nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

impl ProcessHandle {
    pub(crate) fn open(pid: i32) -> Result<Self, RuntimeError> {
        let pidfd = pidfd_open(pid).map_err(|source| RuntimeError::Process { pid, op: "pidfd_open", source })?;
        Ok(ProcessHandle { pid, pidfd, exit_code: Mutex::new(None) })
    }

    /// A handle from a pidfd another process (a container's monitor) passed us.
    pub(crate) fn from_pidfd(pid: i32, pidfd: OwnedFd) -> Self {
        ProcessHandle { pid, pidfd, exit_code: Mutex::new(None) }
    }

    /// Re-opens a handle on a process by pid (after a daemon restart). `None` if it no longer exists. The process
    /// may not be our child: then [`wait`](Self::wait) still resolves when it dies, with exit code 255.
    pub fn adopt(pid: i32) -> Option<Self> {
        if pid <= 0 {
            return None;
        }
        Self::open(pid).ok()
    }

    /// Host pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pidfd (readable once the process has exited).
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Sends a signal through the pidfd.
    pub fn signal(&self, sig: Signal) -> Result<(), RuntimeError> {
        // SAFETY: pidfd_send_signal takes the pidfd, a signal number, a NULL siginfo and flags 0.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                sig as libc::c_int,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc != 0 {
            return Err(RuntimeError::Process {
                pid: self.pid,
                op: "pidfd_send_signal",
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// The exit code if the process has exited (reaping it), without blocking.
    pub fn try_wait(&self) -> Option<i32> {
        self.reap(true)
    }

    /// Blocks until the process exits: its exit code, 128+signal if killed, 255 if unknowable. An async caller
    /// polls [`pidfd`](Self::pidfd) for readability and then calls [`try_wait`](Self::try_wait) instead.
    pub fn wait_blocking(&self) -> i32 {
        if let Some(code) = self.reap(false) {
            return code;
        }
        // Not our child: reap cannot block on it, the pidfd can.
        poll_readable(self.pidfd.as_fd());
        self.reap(false).unwrap_or(UNKNOWN_EXIT_CODE)
    }

    /// Blocks until exited and reaps (used right after a failed start).
    pub(crate) fn reap_blocking(&self) -> Option<i32> {
        self.reap(false)
    }

    /// Reaps with `waitid(P_PIDFD)`. Not our child (`ECHILD`) but exited → 255.
    fn reap(&self, nohang: bool) -> Option<i32> {
        let mut cached = self.exit_code.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(code) = *cached {
            return Some(code);
        }
        let mut flags = WaitPidFlag::WEXITED;
        if nohang {
            flags |= WaitPidFlag::WNOHANG;
        }
        let code = loop {
            match waitid(Id::PIDFd(self.pidfd.as_fd()), flags) {
                Ok(WaitStatus::Exited(_, code)) => break code,
                Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                Ok(WaitStatus::StillAlive) => return None,
                Ok(other) => {
                    tracing::debug!(pid = self.pid, status = ?other, "unexpected wait status");
                    return None;
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::ECHILD) => {
                    // Not our child: it has exited once the pidfd is readable.
                    if !poll_ready_now(self.pidfd.as_fd()) {
                        return None;
                    }
                    break UNKNOWN_EXIT_CODE;
                }
                Err(e) => {
                    tracing::warn!(pid = self.pid, error = %e, "waitid failed");
                    break UNKNOWN_EXIT_CODE;
                }
            }
        };
        *cached = Some(code);
        Some(code)
    }
}

fn poll_once(fd: BorrowedFd<'_>, timeout: i32) -> bool {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd that lives across the call.
    let rc = unsafe { libc::poll(&mut p, 1, timeout) };
    rc > 0 && p.revents != 0
}

fn poll_ready_now(fd: BorrowedFd<'_>) -> bool {
    poll_once(fd, 0)
}

fn poll_readable(fd: BorrowedFd<'_>) {
    while !poll_once(fd, -1) {}
}
