//! Daemon side of a start: spawn `berth init` (no Rust in a forked child: only `dup2` in pre-exec), hand it the
//! config, and follow the sync pipe until the user program has been exec'd or has failed.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::RwLock;

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, LinuxSeccomp, Process, Spec};

use super::config::{InitConfig, InitMode, SyncMessage, CONFIG_FD, SYNC_FD};
use super::{Cgroup, ProcessHandle, RuntimeError};

/// Where the container's stdio goes.
#[derive(Debug)]
pub enum Stdio {
    /// Separate pipes (or files); no stdin means `/dev/null`.
    Pipes {
        /// The container's stdin (read end), if attached.
        stdin: Option<OwnedFd>,
        /// The container's stdout (write end).
        stdout: OwnedFd,
        /// The container's stderr (write end).
        stderr: OwnedFd,
    },
    /// A terminal: the pty slave becomes fds 0, 1 and 2 and the controlling terminal.
    Tty {
        /// The slave end of a [`Pty`](super::Pty).
        slave: OwnedFd,
    },
}

static INIT_EXE: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Which executable is re-executed as `berth init` (default `/proc/self/exe`). Tests point it at the `berth` binary.
pub fn set_init_executable(path: impl Into<PathBuf>) {
    let mut g = INIT_EXE.write().unwrap_or_else(|p| p.into_inner());
    *g = Some(path.into());
}

/// Re-executes `berth init` from a read-only bind mount of its executable at `target` (made once per daemon,
/// replacing one a crash left): a container process that opens `/proc/<pid>/exe` of an entering `docker exec`, or
/// its own PID 1 under `--init`, reaches the daemon's binary only through that mount, so a write fails with EROFS
/// (the CVE-2019-5736 class). A bind mount rather than a sealed memfd copy: no copy of the binary in memory per
/// daemon.
pub fn protect_init_executable(target: &Path) -> Result<(), RuntimeError> {
    let source = init_executable();
    if source == target {
        return Ok(());
    }
    // A mount a crashed daemon left, or none: either way, a fresh one.
    let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
    if !target.exists() {
        File::create(target).map_err(|e| RuntimeError::sys("create the init executable's mount point", e))?;
    }
    let bind = nix::mount::MsFlags::MS_BIND;
    nix::mount::mount(Some(&source), target, None::<&str>, bind, None::<&str>)
        .map_err(|e| RuntimeError::sys("bind the init executable", std::io::Error::from(e)))?;
    let read_only = nix::mount::MsFlags::MS_REMOUNT | bind | nix::mount::MsFlags::MS_RDONLY;
    if let Err(e) = nix::mount::mount(None::<&str>, target, None::<&str>, read_only, None::<&str>) {
        let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
        return Err(RuntimeError::sys("make the init executable read-only", std::io::Error::from(e)));
    }
    set_init_executable(target);
    Ok(())
}

pub(crate) fn init_executable() -> PathBuf {
    let g = INIT_EXE.read().unwrap_or_else(|p| p.into_inner());
    g.clone().unwrap_or_else(|| PathBuf::from("/proc/self/exe"))
}

/// Starts a container's first process. Blocking (call it from `spawn_blocking`). Returns once the program has
/// been exec'd, or with the error that prevented it (Docker's wording for a missing or non-executable program).
/// `spec.root.path` must be the already-mounted rootfs.
pub fn start_container(id: &str, spec: &Spec, cgroup: &Cgroup, stdio: Stdio) -> Result<ProcessHandle, RuntimeError> {
    let tty = matches!(stdio, Stdio::Tty { .. });
    let cfg = create_config(spec, cgroup, tty)?;
    tracing::debug!(id, tty, "starting container");
    let handle = launch(&cfg, stdio)?;
    tracing::info!(id, pid = handle.pid(), "container started");
    Ok(handle)
}

/// What `berth init` gets to create a container from `spec` (its rootfs already mounted).
pub(crate) fn create_config(spec: &Spec, cgroup: &Cgroup, tty: bool) -> Result<InitConfig, RuntimeError> {
    if spec.root().is_none() {
        return Err(RuntimeError::InvalidSpec("no root".into()));
    }
    let process = spec.process().as_ref().ok_or_else(|| RuntimeError::InvalidSpec("no process".into()))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(RuntimeError::InvalidSpec("no command specified".into()));
    }
    let mut spec = spec.clone();
    if cgroup.is_v2() {
        with_cgroup_namespace(&mut spec);
    }
    let seccomp = seccomp_program(spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()))?;
    Ok(InitConfig { cgroup_procs: cgroup.procs_files(), tty, mode: InitMode::Create { spec: Box::new(spec) }, seccomp })
}

/// Docker's default on cgroup v2 (`--cgroupns private`): the container gets its own cgroup namespace, so
/// `/proc/self/cgroup` reads `0::/` and the cgroup2 mount at `/sys/fs/cgroup` shows only its own subtree (without
/// one, that fresh mount is the host's whole tree). `berth init` unshares it after joining the cgroup, which makes
/// the container's cgroup the namespace's root. On v1 Docker keeps the host's (`host` mode), and so does Berth.
fn with_cgroup_namespace(spec: &mut Spec) {
    let Some(linux) = spec.linux_mut().as_mut() else { return };
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    if namespaces.iter().any(|n| n.typ() == LinuxNamespaceType::Cgroup) {
        return;
    }
    let mut ns = LinuxNamespace::default();
    ns.set_typ(LinuxNamespaceType::Cgroup);
    namespaces.push(ns);
    linux.set_namespaces(Some(namespaces));
}

/// `docker exec`: runs `process` in the namespaces and cgroup of the container whose init has host pid
/// `target_pid`. Blocking, like [`start_container`].
pub fn start_exec(
    target_pid: i32,
    process: &Process,
    seccomp: Option<&LinuxSeccomp>,
    cgroup: &Cgroup,
    stdio: Stdio,
) -> Result<ProcessHandle, RuntimeError> {
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(RuntimeError::InvalidSpec("no command specified".into()));
    }
    let tty = matches!(stdio, Stdio::Tty { .. });
    let cfg = InitConfig {
        cgroup_procs: cgroup.procs_files(),
        tty,
        mode: InitMode::Exec { target_pid, process: Box::new(process.clone()) },
        seccomp: seccomp_program(seccomp)?,
    };
    launch(&cfg, stdio)
}

/// A pipe whose ends are close-on-exec and numbered >= 10, so `dup2` onto 3 and 4 in the child cannot collide.
fn high_pipe() -> Result<(OwnedFd, OwnedFd), RuntimeError> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("pipe", e))?;
    let hi = |fd: OwnedFd| -> Result<OwnedFd, RuntimeError> {
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10))
            .map(|raw| {
                // SAFETY: F_DUPFD_CLOEXEC just returned this new fd, owned by nobody else.
                unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) }
            })
            .map_err(|e| RuntimeError::sys("dup", e))
    };
    Ok((hi(r)?, hi(w)?))
}

/// Container processes must re-parent to us (else their exit status is lost and their pid may be recycled before
/// we open a pidfd): make sure we are a subreaper even if the caller forgot.
fn ensure_subreaper() -> Result<(), RuntimeError> {
    let mut flag: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int through a pointer that lives across the call.
    let rc = unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut flag as *mut libc::c_int) };
    if rc == 0 && flag != 0 {
        return Ok(());
    }
    tracing::warn!("the daemon was not a child subreaper; becoming one now");
    super::become_subreaper()
}

pub(crate) fn launch(cfg: &InitConfig, stdio: Stdio) -> Result<ProcessHandle, RuntimeError> {
    let config = serde_json::to_vec(cfg).map_err(|e| RuntimeError::Protocol(format!("encode config: {e}")))?;
    launch_encoded(&init_executable(), &config, stdio)
}

/// Spawns `exe init` with an already encoded [`InitConfig`]: a container's monitor passes the daemon's bytes on
/// without decoding them (it links no OCI spec code, so it stays small).
pub(crate) fn launch_encoded(exe: &Path, config: &[u8], stdio: Stdio) -> Result<ProcessHandle, RuntimeError> {
    ensure_subreaper()?;
    let (cfg_r, cfg_w) = high_pipe()?;
    let (sync_r, sync_w) = high_pipe()?;
    let exe = exe.to_path_buf();
    let mut cmd = Command::new(&exe);
    cmd.arg("init").env_clear().current_dir("/");
    match stdio {
        Stdio::Pipes { stdin, stdout, stderr } => {
            cmd.stdin(stdin.map(std::process::Stdio::from).unwrap_or_else(std::process::Stdio::null));
            cmd.stdout(stdout).stderr(stderr);
        }
        Stdio::Tty { slave } => {
            let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| RuntimeError::sys("dup pty slave", e));
            cmd.stdin(dup(&slave)?).stdout(dup(&slave)?).stderr(slave);
        }
    }
    let (cfg_fd, sync_fd) = (cfg_r.as_raw_fd(), sync_w.as_raw_fd());
    // SAFETY: the closure only calls dup2(2), which is async-signal-safe, and reads errno; it allocates nothing and
    // takes no locks, so it is sound in the child of a multithreaded process. dup2 clears close-on-exec on 3 and 4.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(cfg_fd, CONFIG_FD) < 0 || libc::dup2(sync_fd, SYNC_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| RuntimeError::Spawn { exe: exe.clone(), source })?;
    drop(cmd);
    drop(cfg_r);
    drop(sync_w);

    // Write the config; if `berth init` died early the error is on the sync pipe, so a failed write is not fatal.
    let mut cfg_w = File::from(cfg_w);
    if let Err(e) = cfg_w.write_all(config) {
        tracing::debug!(error = %e, "writing init config failed");
    }
    drop(cfg_w);

    let mut lines = BufReader::new(File::from(sync_r)).lines();
    let first = next_message(&mut lines);
    let handle = match first {
        Ok(Some(SyncMessage::Pid(pid))) => ProcessHandle::open(pid),
        Ok(Some(err @ SyncMessage::Error { .. })) => Err(err.into_error()),
        Ok(None) => Err(RuntimeError::Protocol("berth init exited without reporting a pid".into())),
        Err(e) => Err(e),
    };
    // The intermediate process exits right after reporting; reap it before anyone waits on the grandchild.
    let status = child.wait();
    let handle = handle.map_err(|e| match e {
        RuntimeError::Protocol(m) => RuntimeError::Protocol(format!(
            "{m} ({} init: {}; does this binary dispatch `init` to runtime::init_main?)",
            exe.display(),
            status.as_ref().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string())
        )),
        e => e,
    })?;
    match next_message(&mut lines) {
        Ok(None) => {}
        Ok(Some(msg)) => {
            // The container process exits after reporting: reap it (it is our child, we are a subreaper).
            let _ = handle.reap_blocking();
            return Err(msg.into_error());
        }
        Err(e) => return Err(e),
    }
    if let Ok(st) = status {
        if !st.success() {
            tracing::warn!(status = %st, "berth init intermediate exited with failure");
        }
    }
    Ok(handle)
}

fn next_message(lines: &mut std::io::Lines<BufReader<File>>) -> Result<Option<SyncMessage>, RuntimeError> {
    match lines.next() {
        None => Ok(None),
        Some(Err(e)) => Err(RuntimeError::sys("read sync pipe", e)),
        Some(Ok(line)) => serde_json::from_str(&line)
            .map(Some)
            .map_err(|e| RuntimeError::Protocol(format!("bad message {line:?}: {e}"))),
    }
}

/// The compiled filter for a profile (compiled once per distinct profile).
fn seccomp_program(seccomp: Option<&LinuxSeccomp>) -> Result<Option<super::seccomp::Program>, RuntimeError> {
    seccomp.map(|s| super::seccomp::program(s).map(|p| (*p).clone())).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_namespace_is_added_once() {
        let mut spec = Spec::default();
        let pid_and_mount = [LinuxNamespaceType::Pid, LinuxNamespaceType::Mount].map(|t| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(t);
            ns
        });
        if let Some(linux) = spec.linux_mut().as_mut() {
            linux.set_namespaces(Some(pid_and_mount.to_vec()));
        }
        let count = |s: &Spec| {
            let ns = s.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
            (ns.len(), ns.iter().filter(|n| n.typ() == LinuxNamespaceType::Cgroup && n.path().is_none()).count())
        };
        assert_eq!(count(&spec), (2, 0));
        with_cgroup_namespace(&mut spec);
        assert_eq!(count(&spec), (3, 1));
        with_cgroup_namespace(&mut spec);
        assert_eq!(count(&spec), (3, 1), "not twice");
    }
}
