//! Isolation: the only module that makes namespace, mount and cgroup system calls.
//!
//! A container is started by re-executing the daemon's own binary as `berth init` (never by forking the
//! multithreaded daemon to run Rust): [`start_container`] spawns it with the OCI spec on a pipe, `berth init`
//! ([`init_main`]) joins the cgroup, unshares namespaces, forks the container's PID 1, mounts the spec's
//! filesystems and `/dev`, pivots into the rootfs, drops to the spec's user and capabilities and execs the program.
//! Exec failures come back over a close-on-exec sync pipe with Docker's wording. [`start_exec`] joins a running
//! container the same way. With the `berth.init` annotation ([`INIT_ANNOTATION`]) `berth init` stays as PID 1,
//! forwarding signals and reaping zombies (`docker run --init`).
//!
//! What the caller must do: be a child subreaper ([`become_subreaper`]) so container processes re-parent to the
//! daemon; never reap with `waitpid(-1)` (that steals exit codes); wait on every [`ProcessHandle`] it gets (or the
//! exited process stays a zombie).
//!
//! Also here: pinned network namespaces ([`create_netns`], [`in_netns`]) for the network module to configure,
//! the overlay rootfs ([`mount_rootfs`], with a vfs copy fallback), cgroups ([`Cgroup`], v1 and v2 via
//! `cgroups-rs`, with Docker's default device rules: the devices controller on v1, an eBPF program on v2, and a
//! private cgroup namespace on v2 as Docker gives), ptys ([`open_pty`]) and statistics helpers.
//!
//! `seccomp`: the spec's filter compiled once per profile with libseccomp, loaded by init last before execve.
//! User namespaces (`userns`): PID 1 enters the spec's last, after every mount, with the maps written by a child
//! left outside; `idmap` shows image layers to a remapped container through idmapped mounts.
//! Not done: AppArmor/SELinux labels, hooks, joining an existing mount or user namespace.

mod capabilities;
mod cgroup;
mod config;
mod device_filter;
mod error;
mod idmap;
mod init;
mod launch;
mod loopback;
mod monitor;
mod mount_options;
mod namespaces;
mod netns;
mod overlay;
mod paths;
mod process;
mod pty;
mod reaper;
mod rootfs;
mod rootfs_plan;
mod seccomp;
mod stdio;
mod userns;

pub use cgroup::{host_cpu, net_dev_stats, BlkioEntry, Cgroup, CgroupStats, HostCpu, NetDevStats};
pub use error::RuntimeError;
pub use idmap::{mount_idmapped, user_namespace};
pub use init::{init_main, INIT_ANNOTATION};
pub use launch::{protect_init_executable, set_init_executable, start_container, start_exec, Stdio};
pub use monitor::{
    clear_exit_status, monitor_main, read_exit_status, reconnect, rotated, set_monitor_executable, start_monitored,
    ExitStatus, FluentdConfig, Frame, GelfCompression, GelfConfig, JournaldConfig, JsonLogWriter, LogAddress,
    LogDriver, LogDriverError, LogRotation, MonitorSettings, Monitored, SyslogConfig, SyslogFormat, Welcome,
    JOURNAL_SOCKET, PROTOCOL_VERSION, SOCKET_NAME, STDERR, STDOUT,
};
pub use netns::{create_netns, in_netns, remove_netns};
pub use overlay::{mount_rootfs, unmount_rootfs};
pub use process::{ProcessHandle, UNKNOWN_EXIT_CODE};
pub use pty::{open_pty, resize_pty, Pty};
pub use seccomp::{check_seccomp, is_known_syscall};
pub use stdio::{make_stdio, StdioEnds};

/// Makes the daemon a child subreaper (`PR_SET_CHILD_SUBREAPER`), so container processes, orphaned when
/// `berth init` exits, re-parent to it. Call once at daemon start, before starting containers.
pub fn become_subreaper() -> Result<(), RuntimeError> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(RuntimeError::sys("set child subreaper", std::io::Error::last_os_error()));
    }
    Ok(())
}
