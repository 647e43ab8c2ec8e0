//! Per-container monitors: the process that keeps a container alive and heard while no daemon runs.
//!
//! [`start_monitored`] spawns the `berth-monitor` executable (never a fork of the daemon; a binary of its own, so
//! each monitor's private memory is small: a re-exec of the daemon's 30 MB binary would relocate megabytes of it)
//! with a socketpair and a listening socket at `<dir>/monitor.sock`; the monitor starts the container's init as its own child and answers
//! with a [`Welcome`] carrying the init's pidfd. From then on it sends the output ([`Frame::Output`], after writing
//! it to the json-file log) and, at the end, [`Frame::Exited`] (also left in `<dir>/exit.json`). A daemon started
//! later reaches a live monitor with [`reconnect`]. What the monitor does is in `serve`; the frames in `protocol`.

mod exit_status;
mod fluentd;
mod gelf;
mod journald;
mod json_log;
mod log_driver;
mod protocol;
mod serve;
mod syslog;

use std::io::{IoSliceMut, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::RwLock;
use std::time::Duration;

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
use serde::{Deserialize, Serialize};

pub use exit_status::{clear_exit_status, read_exit_status, ExitStatus};
pub use fluentd::FluentdConfig;
pub use gelf::{GelfCompression, GelfConfig};
pub use journald::{JournaldConfig, JOURNAL_SOCKET};
pub use json_log::{rotated, JsonLogWriter, LogRotation};
pub use log_driver::{LogAddress, LogDriver, LogDriverError};
pub use protocol::{Frame, Hello, Welcome, PROTOCOL_VERSION, STDERR, STDOUT};
pub use serve::monitor_main;
pub use syslog::{SyslogConfig, SyslogFormat};

use super::{Cgroup, ProcessHandle, RuntimeError};

/// The monitor's end of the socketpair it is started with.
pub(crate) const DAEMON_FD: RawFd = 3;
/// The listening socket later daemons connect to.
pub(crate) const LISTENER_FD: RawFd = 4;
static MONITOR_EXE: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Which executable is spawned as a container's monitor (default: `berth-monitor` beside the running executable).
pub fn set_monitor_executable(path: impl Into<PathBuf>) {
    let mut g = MONITOR_EXE.write().unwrap_or_else(|p| p.into_inner());
    *g = Some(path.into());
}

fn monitor_executable() -> Result<PathBuf, RuntimeError> {
    if let Some(path) = MONITOR_EXE.read().unwrap_or_else(|p| p.into_inner()).clone() {
        return Ok(path);
    }
    let exe = std::env::current_exe().map_err(|e| RuntimeError::sys("find the running executable", e))?;
    Ok(exe.with_file_name("berth-monitor"))
}
/// The socket's name in the container's directory.
pub const SOCKET_NAME: &str = "monitor.sock";

/// What the monitor is told to do (the Start frame). It holds no OCI type: the monitor never decodes the spec.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MonitorConfig {
    /// The [`InitConfig`] as JSON, passed on to `berth init` as it is.
    pub init: String,
    /// What `berth init` is executed from (the daemon's protected copy).
    pub init_exe: PathBuf,
    /// Whether the container gets a pty.
    pub tty: bool,
    /// The container's directory: the socket and the exit status live here.
    pub dir: PathBuf,
    pub open_stdin: bool,
    /// Rows and columns of the pty.
    pub size: (u16, u16),
    /// The json-file log and its rotation (for a driver that sends, dockerd's local cache that `docker logs`
    /// reads); None: no file.
    pub log: Option<(PathBuf, LogRotation)>,
    /// The driver that sends the output away; a monitor of an older daemon has none.
    #[serde(default)]
    pub driver: Option<LogDriver>,
}

/// How a container's stdio and log are set up.
#[derive(Debug, Clone)]
pub struct MonitorSettings {
    /// The container's directory.
    pub dir: PathBuf,
    /// A pty instead of pipes.
    pub tty: bool,
    /// Keep a way to write to the container's stdin.
    pub open_stdin: bool,
    /// Rows and columns of the pty.
    pub size: (u16, u16),
    /// The json-file log and its rotation; None: no log file.
    pub log: Option<(PathBuf, LogRotation)>,
    /// A driver that sends each line away (syslog, gelf), beside the file.
    pub driver: Option<LogDriver>,
}

/// A connection to a container's monitor.
#[derive(Debug)]
pub struct Monitored {
    /// What the monitor said first.
    pub welcome: Welcome,
    /// The container's init, through the pidfd the monitor sent.
    pub process: ProcessHandle,
    /// The monitor itself when this daemon started it (its child, to be reaped); None when adopted.
    pub monitor: Option<ProcessHandle>,
    /// The connection (blocking); frames follow the welcome.
    pub stream: UnixStream,
    /// Bytes that arrived with the welcome, the start of the next frames.
    pub leftover: Vec<u8>,
}

/// Starts a container's first process under a new monitor. Blocking (call it from `spawn_blocking`). Returns once
/// the program has been exec'd, or with the error that prevented it, as [`start_container`](super::start_container).
pub fn start_monitored(
    id: &str,
    spec: &oci_spec::runtime::Spec,
    cgroup: &Cgroup,
    settings: MonitorSettings,
) -> Result<Monitored, RuntimeError> {
    let init = super::launch::create_config(spec, cgroup, settings.tty)?;
    let init = serde_json::to_string(&init).map_err(|e| RuntimeError::Protocol(format!("encode config: {e}")))?;
    let config = MonitorConfig {
        init,
        init_exe: super::launch::init_executable(),
        tty: settings.tty,
        dir: settings.dir.clone(),
        open_stdin: settings.open_stdin,
        size: settings.size,
        log: settings.log,
        driver: settings.driver,
    };
    clear_exit_status(&settings.dir);
    let listener = bind(&settings.dir)?;
    let (mut ours, theirs) = UnixStream::pair().map_err(|e| RuntimeError::sys("socketpair", e))?;
    let monitor = spawn(theirs, listener)?;
    let start = serde_json::to_vec(&config).map_err(|e| RuntimeError::Protocol(format!("encode config: {e}")))?;
    // A monitor that died at once shows up as EOF on the read below.
    let _ = ours.write_all(&Frame::Start(start).encode());
    match read_welcome(&ours) {
        Ok((welcome, pidfd, leftover)) => {
            let process = process_of(&welcome, pidfd)?;
            tracing::info!(id, pid = welcome.pid, monitor = monitor.pid(), "container started");
            Ok(Monitored { welcome, process, monitor: Some(monitor), stream: ours, leftover })
        }
        Err(err) => {
            // The monitor exits by itself after a failed start; one that broke the protocol instead is stopped
            // here, so the reap below cannot wait on a container that only the caller's cleanup would end.
            let _ = monitor.signal(nix::sys::signal::Signal::SIGKILL);
            let _ = monitor.reap_blocking();
            Err(err)
        }
    }
}

/// Reaches the monitor of the container in `dir` after a daemon restart. `timeout` bounds a monitor that accepts
/// but does not answer.
pub fn reconnect(dir: &Path, timeout: Duration) -> Result<Monitored, RuntimeError> {
    let address = SocketAddress::of(dir)?;
    let stream =
        UnixStream::connect(&address.path).map_err(|e| RuntimeError::path("connect", dir.join(SOCKET_NAME), e))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| RuntimeError::sys("set a read timeout", e))?;
    (&stream)
        .write_all(&Frame::Hello(Hello { version: PROTOCOL_VERSION }).encode())
        .map_err(|e| RuntimeError::path("greet the monitor at", dir.join(SOCKET_NAME), e))?;
    let (welcome, pidfd, leftover) = read_welcome(&stream)?;
    if welcome.version != PROTOCOL_VERSION {
        return Err(RuntimeError::IncompatibleMonitor {
            version: welcome.version,
            expected: PROTOCOL_VERSION,
            pid: welcome.pid,
        });
    }
    stream.set_read_timeout(None).map_err(|e| RuntimeError::sys("clear the read timeout", e))?;
    let process = process_of(&welcome, pidfd)?;
    Ok(Monitored { welcome, process, monitor: None, stream, leftover })
}

fn process_of(welcome: &Welcome, pidfd: Option<OwnedFd>) -> Result<ProcessHandle, RuntimeError> {
    match pidfd {
        Some(fd) => Ok(ProcessHandle::from_pidfd(welcome.pid, fd)),
        None => Err(RuntimeError::Protocol("the monitor's welcome came without the init's pidfd".into())),
    }
}

/// A unix socket path is at most 107 bytes; a deep `--root` goes through the directory's descriptor instead.
struct SocketAddress {
    path: PathBuf,
    _dir: Option<OwnedFd>,
}

impl SocketAddress {
    fn of(dir: &Path) -> Result<Self, RuntimeError> {
        let direct = dir.join(SOCKET_NAME);
        if direct.as_os_str().len() < 100 {
            return Ok(SocketAddress { path: direct, _dir: None });
        }
        let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(dir, flags, nix::sys::stat::Mode::empty())
            .map_err(|e| RuntimeError::path("open", dir, std::io::Error::from(e)))?;
        let path = PathBuf::from(format!("/proc/self/fd/{}/{SOCKET_NAME}", fd.as_raw_fd()));
        Ok(SocketAddress { path, _dir: Some(fd) })
    }
}

fn bind(dir: &Path) -> Result<UnixListener, RuntimeError> {
    let address = SocketAddress::of(dir)?;
    let _ = std::fs::remove_file(dir.join(SOCKET_NAME));
    UnixListener::bind(&address.path).map_err(|e| RuntimeError::path("bind", dir.join(SOCKET_NAME), e))
}

fn spawn(daemon_end: UnixStream, listener: UnixListener) -> Result<ProcessHandle, RuntimeError> {
    let exe = monitor_executable()?;
    let mut cmd = Command::new(&exe);
    cmd.env_clear().current_dir("/").stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
    let (daemon_fd, listener_fd) = (daemon_end.as_raw_fd(), listener.as_raw_fd());
    // SAFETY: the closure only calls dup2(2), which is async-signal-safe, and reads errno; it allocates nothing
    // and takes no locks, so it is sound in the child of a multithreaded process. dup2 clears close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(daemon_fd, DAEMON_FD) < 0 || libc::dup2(listener_fd, LISTENER_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|source| RuntimeError::Spawn { exe, source })?;
    // Our copies go now, so the monitor alone holds them (EOF on our end means the monitor is gone).
    drop((daemon_end, listener));
    ProcessHandle::open(child.id() as i32)
}

/// Reads frames up to the first, which must be a welcome (or the start's failure); collects the pidfd on the way.
fn read_welcome(stream: &UnixStream) -> Result<(Welcome, Option<OwnedFd>, Vec<u8>), RuntimeError> {
    let mut buffer = Vec::new();
    let mut pidfd = None;
    let mut chunk = [0u8; 8192];
    loop {
        match Frame::decode(&mut buffer).map_err(|e| RuntimeError::Protocol(e.to_string()))? {
            Some(Frame::Welcome(welcome)) => return Ok((welcome, pidfd, buffer)),
            Some(Frame::Failed(failure)) => return Err(failure_error(failure)),
            Some(other) => return Err(RuntimeError::Protocol(format!("the monitor began with {other:?}"))),
            None => {}
        }
        let received = receive(stream, &mut chunk, &mut pidfd)?;
        if received == 0 {
            return Err(RuntimeError::Protocol("the monitor exited before it answered".into()));
        }
        buffer.extend_from_slice(&chunk[..received]);
    }
}

/// One recvmsg: the bytes into `chunk`, a passed fd (the first one only) into `pidfd`.
fn receive(stream: &UnixStream, chunk: &mut [u8], pidfd: &mut Option<OwnedFd>) -> Result<usize, RuntimeError> {
    loop {
        let mut space = nix::cmsg_space!([RawFd; 2]);
        let mut iov = [IoSliceMut::new(chunk)];
        let message =
            match recvmsg::<UnixAddr>(stream.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
                Ok(message) => message,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(RuntimeError::sys("read from the monitor", std::io::Error::from(e))),
            };
        let controls =
            message.cmsgs().map_err(|e| RuntimeError::sys("read the monitor's fds", std::io::Error::from(e)))?;
        for control in controls {
            if let ControlMessageOwned::ScmRights(fds) = control {
                for fd in fds {
                    // SAFETY: the kernel just installed this fd in our table for us alone (close-on-exec).
                    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                    pidfd.get_or_insert(owned);
                }
            }
        }
        return Ok(message.bytes);
    }
}

fn failure_error(failure: protocol::Failure) -> RuntimeError {
    let message = failure.message;
    match failure.kind.as_str() {
        "not_found" => RuntimeError::ExecNotFound { message },
        "permission_denied" => RuntimeError::ExecPermissionDenied { message },
        "setup" => RuntimeError::ContainerSetup { message },
        _ => RuntimeError::Monitor(message),
    }
}
