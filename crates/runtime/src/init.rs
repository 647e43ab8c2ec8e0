//! `berth init`: the single-threaded re-executed daemon binary that becomes a container.
//!
//! Protocol: config JSON on fd 3 (read to EOF), sync pipe on fd 4, stdio on 0/1/2. It joins the cgroup, creates or
//! joins namespaces, forks, and the parent reports the child's host pid and exits. The child sets up the container
//! and execs the user program; fd 4 is close-on-exec, so EOF on the pipe means the exec succeeded. Any failure is
//! reported as a [`SyncMessage::Error`] and the child exits 127 (not found), 126 (permission) or 1.

use std::convert::Infallible;
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::unistd::{ForkResult, Gid, Uid};
use oci_spec::runtime::{PosixRlimitType, Process, Spec};

use super::capabilities::{self, CapSets, CapabilityError};
use super::config::{ErrorKind, InitConfig, InitMode, SyncMessage, CONFIG_FD, SYNC_FD};
use super::loopback::{self, LoopbackError};
use super::namespaces::{self, NamespaceError};
use super::paths::{exec_error, lookup_program, path_from_env};
use super::reaper;
use super::rootfs::{self, RootfsError};
use super::seccomp::{self, Program};
use super::userns::{self, IdMaps, UserNamespaceError};

/// The annotation asking for `berth init` to stay as PID 1 (like `docker run --init`).
pub const INIT_ANNOTATION: &str = "berth.init";

/// A failure inside `berth init`, reported to the daemon.
#[derive(Debug)]
pub(crate) struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    pub(crate) fn other(message: impl Into<String>) -> Self {
        Failure { kind: ErrorKind::Other, message: message.into() }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::other(message)
    }
}

/// The module errors of what `berth init` runs travel as their message.
macro_rules! failure_from {
    ($($error:ty),*) => {
        $(impl From<$error> for Failure {
            fn from(error: $error) -> Self {
                Failure::other(error.to_string())
            }
        })*
    };
}
failure_from!(RootfsError, CapabilityError, LoopbackError, NamespaceError, UserNamespaceError);

type Res<T> = Result<T, Failure>;

/// The sync pipe (fd 4, close-on-exec).
pub(crate) struct Sync(Option<File>);

impl Sync {
    pub(crate) fn send(&mut self, msg: &SyncMessage) {
        if let (Some(f), Ok(mut line)) = (self.0.as_mut(), serde_json::to_vec(msg)) {
            line.push(b'\n');
            let _ = f.write_all(&line);
        }
    }

    /// Closes our end (PID 1 with an init keeps running after the program's exec).
    pub(crate) fn close(&mut self) {
        self.0 = None;
    }

    fn fail(&mut self, f: Failure) -> ! {
        let code = f.kind.exit_code();
        self.send(&SyncMessage::Error { kind: f.kind, message: f.message });
        exit(code)
    }
}

/// `_exit(2)`: no destructors or atexit handlers run in a forked child.
pub(crate) fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Entry point of `berth init`. Never returns: it execs the user program or exits.
pub fn init_main() -> ! {
    if std::env::args().nth(2).as_deref() == Some(super::idmap::HOLD_USER_NAMESPACE) {
        super::idmap::hold_main()
    }
    // Nothing but 0-4 should be open; be sure (the daemon's fds are close-on-exec, but a library may forget).
    // SAFETY: close_range on a range of fds we do not use; no Rust object owns them.
    unsafe { libc::syscall(libc::SYS_close_range, 5u32, u32::MAX, 0u32) };
    // SAFETY: F_GETFD probes whether fd 4 is open; no memory is involved.
    if unsafe { libc::fcntl(SYNC_FD, libc::F_GETFD) } < 0 {
        eprintln!("berth init: must be started by the berth daemon");
        exit(2);
    }
    // SAFETY: fd 4 is open (checked above) and was handed to us for exclusive use.
    let sync_fd = unsafe { OwnedFd::from_raw_fd(SYNC_FD) };
    // SAFETY: F_SETFD on an open fd we own.
    unsafe { libc::fcntl(sync_fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    let mut sync = Sync(Some(File::from(sync_fd)));
    // Files we create (devices, mount points) get exactly the modes we ask for.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    match run(&mut sync) {
        Ok(never) => match never {},
        Err(f) => sync.fail(f),
    }
}

fn read_config() -> Res<InitConfig> {
    // SAFETY: F_GETFD probes whether fd 3 is open.
    if unsafe { libc::fcntl(CONFIG_FD, libc::F_GETFD) } < 0 {
        return Err(Failure::other("no config on fd 3"));
    }
    // SAFETY: fd 3 is open (checked above) and was handed to us for exclusive use; it is closed on drop.
    let mut f = unsafe { File::from_raw_fd(CONFIG_FD) };
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).map_err(|e| format!("read config: {e}"))?;
    drop(f);
    serde_json::from_slice(&buf).map_err(|e| Failure::other(format!("parse config: {e}")))
}

fn run(sync: &mut Sync) -> Res<Infallible> {
    let cfg = read_config()?;
    let me = std::process::id().to_string();
    for procs in &cfg.cgroup_procs {
        std::fs::write(procs, &me).map_err(|e| format!("join cgroup {}: {e}", procs.display()))?;
    }
    match cfg.mode {
        InitMode::Create { spec } => {
            let dirs: Vec<PathBuf> =
                cfg.cgroup_procs.iter().filter_map(|p| p.parent().map(Path::to_path_buf)).collect();
            create(sync, &spec, cfg.tty, &dirs, cfg.seccomp.as_ref())
        }
        InitMode::Exec { target_pid, process } => exec_into(sync, target_pid, &process, cfg.tty, cfg.seccomp.as_ref()),
    }
}

fn open_ns(path: &Path) -> Res<OwnedFd> {
    let f = File::open(path).map_err(|e| format!("open namespace {}: {e}", path.display()))?;
    Ok(OwnedFd::from(f))
}

/// Forks; the parent reports the child's host pid and exits. Returns in the child only.
fn fork_and_report(sync: &mut Sync) -> Res<()> {
    // SAFETY: `berth init` is single-threaded (no tokio, no helper threads), so the child may run any code.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Parent { child }) => {
            sync.send(&SyncMessage::Pid(child.as_raw()));
            exit(0)
        }
        Ok(ForkResult::Child) => Ok(()),
        Err(e) => Err(Failure::other(format!("fork: {e}"))),
    }
}

fn create(
    sync: &mut Sync,
    spec: &Spec,
    tty: bool,
    cgroup_dirs: &[PathBuf],
    seccomp: Option<&Program>,
) -> Res<Infallible> {
    let plan = namespaces::plan(spec)?;
    let join = plan.join.iter().map(|(path, flag)| Ok((open_ns(path)?, *flag))).collect::<Res<Vec<_>>>()?;
    for (fd, flag) in &join {
        nix::sched::setns(fd.as_fd(), *flag).map_err(|e| format!("setns {flag:?}: {e}"))?;
    }
    drop(join);
    let unshare = plan.unshare;
    nix::sched::unshare(unshare).map_err(|e| format!("unshare {unshare:?}: {e}"))?;

    fork_and_report(sync)?;

    // PID 1 of the container from here on.
    let root = rootfs::root_of(spec)?;
    rootfs::prepare(spec, &root, tty, cgroup_dirs)?;
    rootfs::pivot(&root)?;
    if let Some(h) = plan.hostname {
        nix::unistd::sethostname(h).map_err(|e| format!("sethostname {h}: {e}"))?;
    }
    if let Some(d) = plan.domainname {
        set_domainname(d)?;
    }
    if plan.loopback {
        loopback::bring_up_lo()?;
    }
    rootfs::finish(spec)?;
    let process = spec.process().as_ref().ok_or_else(|| Failure::other("spec has no process"))?;
    prepare_process(process, tty)?;
    if plan.new_user {
        let maps = IdMaps::from_spec(spec);
        userns::hand_over_stdio(&maps, process.user().uid(), process.user().gid())?;
        userns::enter_new(&maps)?;
    }
    let as_init = spec.annotations().as_ref().and_then(|a| a.get(INIT_ANNOTATION)).is_some_and(|v| v == "true");
    if as_init {
        reaper::run_as_init(sync, process, tty, seccomp)
    } else {
        exec_process(process, seccomp)
    }
}

fn set_domainname(d: &str) -> Res<()> {
    // SAFETY: the pointer and length describe the bytes of `d`, alive across the call.
    let rc = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
    if rc != 0 {
        return Err(Failure::other(format!("setdomainname {d}: {}", std::io::Error::last_os_error())));
    }
    Ok(())
}

fn exec_into(sync: &mut Sync, target: i32, process: &Process, tty: bool, seccomp: Option<&Program>) -> Res<Infallible> {
    // Open every namespace first: once in the container's mount namespace, /proc/<target> may not resolve.
    let mut fds: Vec<(OwnedFd, CloneFlags)> = Vec::new();
    for (name, flag) in [
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ] {
        match joinable(target, name) {
            Ok(Some(fd)) => fds.push((fd, flag)),
            Ok(None) => {}
            Err(e) if name == "cgroup" => tracing::debug!(error = %e.message, "no cgroup namespace"),
            Err(e) => return Err(e),
        }
    }
    // The user namespace last: joining it gives up the host's capabilities the other joins need.
    let user = match joinable(target, "user")? {
        Some(namespace) => Some((namespace, IdMaps::of_process(target)?)),
        None => None,
    };
    for (fd, flag) in &fds {
        nix::sched::setns(fd.as_fd(), *flag).map_err(|e| format!("setns {flag:?}: {e}"))?;
    }
    drop(fds);
    if let Some((namespace, maps)) = user {
        userns::hand_over_stdio(&maps, process.user().uid(), process.user().gid())?;
        userns::join(namespace.as_fd())?;
    }
    fork_and_report(sync)?;
    prepare_process(process, tty)?;
    exec_process(process, seccomp)
}

/// The namespace `name` of `target`, opened, unless it is already ours.
fn joinable(target: i32, name: &str) -> Res<Option<OwnedFd>> {
    let theirs = format!("/proc/{target}/ns/{name}");
    let their_ino = match std::fs::metadata(&theirs) {
        Ok(m) => std::os::unix::fs::MetadataExt::ino(&m),
        Err(e) => return Err(Failure::other(format!("container process {target}: {theirs}: {e}"))),
    };
    let ours = std::fs::metadata(format!("/proc/self/ns/{name}")).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    if ours.ok() == Some(their_ino) {
        return Ok(None);
    }
    Ok(Some(open_ns(Path::new(&theirs))?))
}

fn rlimit_resource(t: PosixRlimitType) -> Resource {
    match t {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// What the container's first process (or PID 1 with an init) shares: rlimits, oom score, session and terminal.
fn prepare_process(process: &Process, tty: bool) -> Res<()> {
    for r in process.rlimits().as_deref().unwrap_or(&[]) {
        let res = rlimit_resource(r.typ());
        match setrlimit(res, r.soft(), r.hard()) {
            Ok(()) => {}
            // Raising a hard limit needs CAP_SYS_RESOURCE, which the daemon itself may lack (some sandboxes):
            // clamp to the hard limit we have rather than refuse to start.
            Err(nix::errno::Errno::EPERM) => {
                let (_, hard) = getrlimit(res).map_err(|e| format!("getrlimit {:?}: {e}", r.typ()))?;
                setrlimit(res, r.soft().min(hard), r.hard().min(hard))
                    .map_err(|e| format!("setrlimit {:?}: {e}", r.typ()))?;
            }
            Err(e) => return Err(Failure::other(format!("setrlimit {:?}: {e}", r.typ()))),
        }
    }
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| format!("oom_score_adj: {e}"))?;
    }
    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    if tty {
        // SAFETY: TIOCSCTTY on fd 0 (the pty slave) with argument 0; no memory is passed.
        if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } != 0 {
            return Err(Failure::other(format!("set controlling terminal: {}", std::io::Error::last_os_error())));
        }
    }
    Ok(())
}

fn cstring(s: &str, what: &str) -> Res<CString> {
    CString::new(s).map_err(|_| Failure::other(format!("{what} contains a NUL byte: {s:?}")))
}

/// User, capabilities, no_new_privs, the seccomp filter, cwd, environment, then `execve`. Returns only with an
/// error.
pub(crate) fn exec_process(process: &Process, seccomp: Option<&Program>) -> Res<Infallible> {
    let args = process.args().as_deref().unwrap_or(&[]);
    let Some(arg0) = args.first() else {
        return Err(Failure::other("no command specified"));
    };
    let env: Vec<String> = process.env().clone().unwrap_or_default();
    let argv = args.iter().map(|a| cstring(a, "argument")).collect::<Res<Vec<_>>>()?;
    let envp = env.iter().map(|e| cstring(e, "environment variable")).collect::<Res<Vec<_>>>()?;

    let cwd = process.cwd();
    nix::unistd::chdir(cwd).map_err(|e| format!("chdir to cwd ({}) set in config.json failed: {e}", cwd.display()))?;

    let no_new_privileges = process.no_new_privileges() == Some(true);
    // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: load it while init still has it (as runc),
    // so the profile must allow what remains (setuid, capset, execve: Docker's does).
    if !no_new_privileges {
        load_seccomp(seccomp)?;
    }
    let caps = process.capabilities().as_ref().map(CapSets::from_spec);
    if let Some(c) = &caps {
        capabilities::drop_bounding(&c.bounding)?;
    }
    set_user(process)?;
    if let Some(c) = &caps {
        capabilities::apply(c)?;
    }
    if no_new_privileges {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Failure::other(format!("no_new_privs: {}", std::io::Error::last_os_error())));
        }
        load_seccomp(seccomp)?;
    }
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask as libc::mode_t));

    let program = lookup_program(arg0, path_from_env(&env)).map_err(|(kind, message)| Failure { kind, message })?;
    let program_c = CString::new(program.as_os_str().as_bytes())
        .map_err(|_| Failure::other(format!("program path contains a NUL byte: {}", program.display())))?;
    reset_signals();
    let err = match nix::unistd::execve(&program_c, &argv, &envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let (kind, message) = exec_error(arg0, err as i32);
    Err(Failure { kind, message })
}

fn load_seccomp(seccomp: Option<&Program>) -> Res<()> {
    match seccomp {
        Some(program) => seccomp::load(program).map_err(|e| Failure::other(format!("loading seccomp filter: {e}"))),
        None => Ok(()),
    }
}

fn set_user(process: &Process) -> Res<()> {
    let user = process.user();
    // Keep the permitted set across setuid so the spec's capabilities can still be applied afterwards.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let groups: Vec<Gid> = user.additional_gids().as_deref().unwrap_or(&[]).iter().map(|g| Gid::from_raw(*g)).collect();
    nix::unistd::setgroups(&groups).map_err(|e| format!("setgroups: {e}"))?;
    nix::unistd::setresgid(Gid::from_raw(user.gid()), Gid::from_raw(user.gid()), Gid::from_raw(user.gid()))
        .map_err(|e| format!("setgid {}: {e}", user.gid()))?;
    nix::unistd::setresuid(Uid::from_raw(user.uid()), Uid::from_raw(user.uid()), Uid::from_raw(user.uid()))
        .map_err(|e| format!("setuid {}: {e}", user.uid()))?;
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    Ok(())
}

/// Default dispositions and an empty mask for the program (Rust ignores SIGPIPE, which exec would keep).
pub(crate) fn reset_signals() {
    /// The kernel's `struct sigaction` (glibc's wrapper refuses the real-time signals it reserves, 32 and 33).
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction { handler: libc::SIG_DFL, flags: 0, restorer: 0, mask: 0 };
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction reads one kernel sigaction (SIG_DFL, no handler code) that lives across the call;
        // the old action is not requested; the sigset size is 8 bytes as the kernel expects.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        };
    }
    let empty = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&empty), None);
}
