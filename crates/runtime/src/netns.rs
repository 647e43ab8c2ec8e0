//! Persistent network namespaces: a namespace bind-mounted onto a file (`<root>/netns/<id>`), as `ip netns add`
//! does, so the network can be configured before the container's process exists and `berth init` joins it by path.
//!
//! Both operations run on a short-lived helper thread: `unshare(CLONE_NEWNET)` and `setns(.., CLONE_NEWNET)` change
//! only the calling thread's network namespace, so the daemon's other threads never see it and nothing forks.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

use super::{loopback, RuntimeError};

/// Creates a new network namespace with `lo` up and pins it at `path` (a new, empty file).
pub fn create_netns(path: &Path) -> Result<(), RuntimeError> {
    File::options().write(true).create_new(true).open(path).map_err(|e| RuntimeError::path("create", path, e))?;
    let target = path.to_path_buf();
    let made = on_helper_thread(move || -> Result<(), RuntimeError> {
        nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(|e| RuntimeError::sys("unshare network namespace", e))?;
        loopback::bring_up_lo().map_err(|m| RuntimeError::sys("bring up lo", std::io::Error::other(m)))?;
        // /proc/thread-self: the namespace of this thread, not of the daemon's main thread.
        nix::mount::mount(Some("/proc/thread-self/ns/net"), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| RuntimeError::path("bind-mount network namespace", &target, e))
    });
    let result = made.and_then(|r| r);
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Unpins and deletes a namespace file made by [`create_netns`]. The namespace dies with its last user; a missing
/// file is not an error (cleanup runs more than once after a crash).
pub fn remove_netns(path: &Path) -> Result<(), RuntimeError> {
    match nix::mount::umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(RuntimeError::path("unmount network namespace", path, e)),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::path("remove", path, e)),
    }
}

/// Runs `work` on a helper thread that has joined the network namespace at `path` (a pinned file or
/// `/proc/<pid>/ns/net`). Sockets created by `work` stay in that namespace after the thread is gone: that is how
/// the daemon gets a netlink socket inside a container's network.
pub fn in_netns<T: Send + 'static>(path: &Path, work: impl FnOnce() -> T + Send + 'static) -> Result<T, RuntimeError> {
    let namespace = File::open(path).map_err(|e| RuntimeError::path("open network namespace", path, e))?;
    let path: PathBuf = path.to_path_buf();
    on_helper_thread(move || -> Result<T, RuntimeError> {
        nix::sched::setns(namespace.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(|e| RuntimeError::path("join network namespace", &path, e))?;
        Ok(work())
    })
    .and_then(|r| r)
}

fn on_helper_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, RuntimeError> {
    std::thread::Builder::new()
        .name("berth-netns".into())
        .spawn(work)
        .map_err(|e| RuntimeError::sys("spawn netns helper thread", e))?
        .join()
        .map_err(|_| RuntimeError::sys("netns helper thread", std::io::Error::other("panicked")))
}
