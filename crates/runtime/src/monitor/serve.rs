//! The monitor process (the `berth-monitor` executable): one per running container, single-threaded, outliving the daemon.
//!
//! It is the parent (and subreaper) of the container's init, so it alone reaps it and knows its exit status; it
//! holds the pty master or the stdio pipes, writes the json-file log, keeps a small scrollback, and serves the
//! daemon over the socketpair it was started with and, after a daemon restart, over `<dir>/monitor.sock`. One
//! poll(2) loop; no threads, no async runtime, nothing allocated per idle second.

use std::collections::VecDeque;
use std::io::{IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use chrono::Utc;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};

use super::exit_status::{write_exit_status, ExitStatus};
use super::json_log::JsonLogWriter;
use super::log_driver::Driver;
use super::protocol::{Failure, Frame, Welcome, PROTOCOL_VERSION};
use super::{MonitorConfig, DAEMON_FD, LISTENER_FD, SOCKET_NAME};
use crate::init::exit;
use crate::launch::launch_encoded;
use crate::stdio::make_stdio;
use crate::{ProcessHandle, RuntimeError};

/// Output kept for a terminal that reconnects (the playground's after a daemon restart).
const SCROLLBACK_BYTES: usize = 64 * 1024;
/// Output queued for a client that does not read; past it the client is dropped (a daemon reconnects).
const CLIENT_BACKLOG: usize = 8 << 20;
/// Input queued for a process that does not read; past it clients are not read (the daemon's writes wait).
const STDIN_BACKLOG: usize = 256 << 10;
/// How long output may keep coming after the init exited: a process outside its pid namespace may hold the pipe.
const OUTPUT_LINGER: Duration = Duration::from_secs(2);
/// How long the last frames get to reach the clients before the monitor goes.
const FAREWELL: Duration = Duration::from_secs(2);
const READ_CHUNK: usize = 16 * 1024;

/// The `berth-monitor` executable's whole work; never returns. Started by the daemon only (fds 3 and 4).
pub fn monitor_main() -> ! {
    // SAFETY: close_range on fds above the two we were given; no Rust object owns them.
    unsafe { libc::syscall(libc::SYS_close_range, 5u32, u32::MAX, 0u32) };
    for fd in [DAEMON_FD, LISTENER_FD] {
        // SAFETY: F_GETFD probes whether the fd is open; no memory is involved.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            eprintln!("berth monitor: must be started by the berth daemon");
            exit(2);
        }
        // SAFETY: F_SETFD on an open fd: neither may leak into the container's init.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // SAFETY: fds 3 and 4 are open (checked above) and were handed to us for exclusive use.
    let (mut daemon, listener) =
        unsafe { (UnixStream::from_raw_fd(DAEMON_FD), UnixListener::from_raw_fd(LISTENER_FD)) };
    // Its own session: the daemon's terminal or process group going away must not signal the monitor.
    let _ = nix::unistd::setsid();
    for signal in [libc::SIGHUP, libc::SIGINT, libc::SIGTERM, libc::SIGPIPE] {
        // SAFETY: SIG_IGN for a signal the monitor must survive; no handler code runs.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
    let config = match read_start(&mut daemon) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("berth monitor: {message}");
            exit(2)
        }
    };
    match Monitor::start(config, daemon, listener) {
        Ok(monitor) => monitor.run(),
        Err((mut daemon, err)) => {
            let _ = daemon.write_all(&Frame::Failed(failure_of(&err)).encode());
            exit(1)
        }
    }
}

/// How a start failure crosses the socket: `berth init`'s classification and its inner message, so the daemon
/// rebuilds the same error (and Docker's wording) it would have got without a monitor.
fn failure_of(err: &RuntimeError) -> Failure {
    let (kind, message) = match err {
        RuntimeError::ExecNotFound { message } => ("not_found", message.clone()),
        RuntimeError::ExecPermissionDenied { message } => ("permission_denied", message.clone()),
        RuntimeError::ContainerSetup { message } => ("setup", message.clone()),
        other => ("other", other.to_string()),
    };
    Failure { kind: kind.into(), message }
}

fn read_start(daemon: &mut UnixStream) -> Result<MonitorConfig, String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match Frame::decode(&mut buffer).map_err(|e| e.to_string())? {
            Some(Frame::Start(payload)) => {
                return serde_json::from_slice(&payload).map_err(|e| format!("bad start request: {e}"))
            }
            Some(other) => return Err(format!("expected a start request, got {other:?}")),
            None => {}
        }
        match daemon.read(&mut chunk) {
            Ok(0) => return Err("the daemon went away before the start request".into()),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read the start request: {e}")),
        }
    }
}

struct Client {
    stream: UnixStream,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    /// Said hello (or is the daemon that started us): gets output.
    greeted: bool,
}

impl Client {
    fn new(stream: UnixStream, greeted: bool) -> Self {
        Client { stream, inbox: Vec::new(), outbox: Vec::new(), greeted }
    }
}

/// The newest output, as runs of one stream.
#[derive(Default)]
struct Scrollback {
    runs: VecDeque<(u8, Vec<u8>)>,
    bytes: usize,
}

impl Scrollback {
    fn push(&mut self, stream: u8, data: &[u8]) {
        match self.runs.back_mut() {
            Some((last, run)) if *last == stream && run.len() < 4096 => run.extend_from_slice(data),
            _ => self.runs.push_back((stream, data.to_vec())),
        }
        self.bytes += data.len();
        while self.bytes > SCROLLBACK_BYTES {
            let Some((_, front)) = self.runs.front_mut() else { break };
            let excess = self.bytes - SCROLLBACK_BYTES;
            if front.len() <= excess {
                self.bytes -= front.len();
                self.runs.pop_front();
            } else {
                front.drain(..excess);
                self.bytes -= excess;
            }
        }
    }
}

struct Monitor {
    config: MonitorConfig,
    process: ProcessHandle,
    outputs: Vec<(u8, OwnedFd)>,
    pty: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
    stdin_pending: Vec<u8>,
    close_stdin: bool,
    listener: UnixListener,
    clients: Vec<Client>,
    scrollback: Scrollback,
    log: Option<JsonLogWriter>,
    driver: Option<Driver>,
    exit_code: Option<i32>,
    exited_at: Option<Instant>,
}

type StartError = (UnixStream, RuntimeError);

impl Monitor {
    fn start(mut config: MonitorConfig, daemon: UnixStream, listener: UnixListener) -> Result<Self, StartError> {
        let fail = |daemon: UnixStream, err: RuntimeError| (daemon, err);
        // We must be the subreaper: `berth init` forks the container's init and exits, and the init must become
        // our child, not the daemon's.
        if let Err(err) = crate::become_subreaper() {
            return Err(fail(daemon, err));
        }
        let log = match &config.log {
            Some((path, rotation)) => match JsonLogWriter::open(path, *rotation) {
                Ok(log) => Some(log),
                Err(e) => return Err(fail(daemon, RuntimeError::path("open the log", path, e))),
            },
            None => None,
        };
        let driver = match config.driver.take().map(Driver::open).transpose() {
            Ok(driver) => driver,
            Err(err) => return Err(fail(daemon, RuntimeError::ContainerSetup { message: err.to_string() })),
        };
        let (child_stdio, ends) = match make_stdio(config.tty, config.open_stdin, config.size) {
            Ok(made) => made,
            Err(err) => return Err(fail(daemon, err)),
        };
        let init = std::mem::take(&mut config.init);
        let process = match launch_encoded(&config.init_exe, init.as_bytes(), child_stdio) {
            Ok(process) => process,
            Err(err) => return Err(fail(daemon, err)),
        };
        drop(init);
        // The spec and the seccomp program were the monitor's only big allocations: give their pages back, so an
        // idle monitor holds a few pages of heap for the rest of the container's life.
        // SAFETY: malloc_trim only releases free heap memory; no pointer into the heap is invalidated.
        unsafe { libc::malloc_trim(0) };
        let mut monitor = Monitor {
            config,
            process,
            outputs: ends.outputs,
            pty: ends.pty,
            stdin: ends.stdin,
            stdin_pending: Vec::new(),
            close_stdin: false,
            listener,
            clients: Vec::new(),
            scrollback: Scrollback::default(),
            log,
            driver,
            exit_code: None,
            exited_at: None,
        };
        for (_, fd) in &monitor.outputs {
            let _ = set_nonblocking(fd.as_raw_fd());
        }
        if let Some(stdin) = &monitor.stdin {
            let _ = set_nonblocking(stdin.as_raw_fd());
        }
        let _ = monitor.listener.set_nonblocking(true);
        let mut client = Client::new(daemon, true);
        if let Ok(rest) = monitor.welcome(&client.stream) {
            client.outbox = rest;
            let _ = client.stream.set_nonblocking(true);
            monitor.clients.push(client);
        }
        Ok(monitor)
    }

    /// Sends the welcome with the init's pidfd attached (SCM_RIGHTS), so the daemon's signals can never reach a
    /// recycled pid. Returns what the socket did not take at once, to go out with the next writes.
    fn welcome(&self, stream: &UnixStream) -> std::io::Result<Vec<u8>> {
        let welcome = Welcome { version: PROTOCOL_VERSION, pid: self.process.pid(), exit_code: self.exit_code };
        let bytes = Frame::Welcome(welcome).encode();
        let fds = [self.process.pidfd().as_raw_fd()];
        let control = [ControlMessage::ScmRights(&fds)];
        let sent =
            sendmsg::<UnixAddr>(stream.as_raw_fd(), &[IoSlice::new(&bytes)], &control, MsgFlags::MSG_NOSIGNAL, None)
                .map_err(std::io::Error::from)?;
        Ok(bytes[sent..].to_vec())
    }

    fn run(mut self) -> ! {
        loop {
            if let Some(at) = self.exited_at {
                if self.outputs.is_empty() || at.elapsed() >= OUTPUT_LINGER {
                    break;
                }
            }
            self.poll_once();
        }
        self.finish()
    }

    fn poll_once(&mut self) {
        #[derive(Clone, Copy)]
        enum Source {
            Exit,
            Output(usize),
            Stdin,
            Listener,
            Client(usize),
            Driver,
        }
        let mut fds = Vec::with_capacity(4 + self.outputs.len() + self.clients.len());
        let mut sources = Vec::with_capacity(fds.capacity());
        let mut add = |fd: RawFd, events: libc::c_short, source: Source| {
            fds.push(libc::pollfd { fd, events, revents: 0 });
            sources.push(source);
        };
        if self.exit_code.is_none() {
            add(self.process.pidfd().as_raw_fd(), libc::POLLIN, Source::Exit);
        }
        for (index, (_, fd)) in self.outputs.iter().enumerate() {
            add(fd.as_raw_fd(), libc::POLLIN, Source::Output(index));
        }
        if let Some(stdin) = self.stdin.as_ref().filter(|_| !self.stdin_pending.is_empty()) {
            add(stdin.as_raw_fd(), libc::POLLOUT, Source::Stdin);
        }
        add(self.listener.as_raw_fd(), libc::POLLIN, Source::Listener);
        if let Some((fd, events)) = self.driver.as_ref().and_then(Driver::poll_events) {
            add(fd, events, Source::Driver);
        }
        let reading_clients = self.stdin_pending.len() < STDIN_BACKLOG;
        for (index, client) in self.clients.iter().enumerate() {
            let mut events = 0;
            if reading_clients {
                events |= libc::POLLIN;
            }
            if !client.outbox.is_empty() {
                events |= libc::POLLOUT;
            }
            add(client.stream.as_raw_fd(), events, Source::Client(index));
        }
        let mut timeout = match self.exited_at {
            Some(at) => OUTPUT_LINGER.saturating_sub(at.elapsed()).as_millis().max(1) as libc::c_int,
            None => -1,
        };
        // A stream driver waiting to reconnect (only while it has messages queued: an idle monitor sleeps).
        let reconnect = self.driver.as_ref().and_then(Driver::deadline);
        if let Some(at) = reconnect {
            let wait = at.saturating_duration_since(Instant::now()).as_millis().max(1) as libc::c_int;
            timeout = if timeout < 0 { wait } else { timeout.min(wait) };
        }
        // SAFETY: `fds` is a valid array of pollfd of the length passed, alive across the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if reconnect.is_some_and(|at| Instant::now() >= at) {
            if let Some(driver) = self.driver.as_mut() {
                driver.tick();
            }
        }
        if ready <= 0 {
            return;
        }
        let mut dead_outputs = Vec::new();
        let mut dead_clients = Vec::new();
        for (pollfd, source) in fds.iter().zip(&sources) {
            if pollfd.revents == 0 {
                continue;
            }
            match *source {
                Source::Exit => self.reap(),
                Source::Output(index) => {
                    if !self.drain_output(index) {
                        dead_outputs.push(index);
                    }
                }
                Source::Stdin => self.feed_stdin(),
                Source::Listener => self.accept(),
                Source::Driver => {
                    if let Some(driver) = self.driver.as_mut() {
                        driver.ready(pollfd.revents);
                    }
                }
                Source::Client(index) => {
                    if !self.serve_client(index, pollfd.revents) {
                        dead_clients.push(index);
                    }
                }
            }
        }
        for index in dead_outputs.into_iter().rev() {
            self.outputs.remove(index);
        }
        for index in dead_clients.into_iter().rev() {
            self.clients.remove(index);
        }
    }

    fn reap(&mut self) {
        if let Some(code) = self.process.try_wait() {
            self.exit_code = Some(code);
            self.exited_at = Some(Instant::now());
        }
    }

    /// Reads what the output has; false at its end.
    fn drain_output(&mut self, index: usize) -> bool {
        let mut buffer = [0u8; READ_CHUNK];
        let stream = self.outputs[index].0;
        for _ in 0..16 {
            match nix::unistd::read(&self.outputs[index].1, &mut buffer) {
                Ok(0) => return false,
                Ok(n) => self.publish(stream, &buffer[..n]),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => return true,
                // EIO: the pty's other side is closed for good.
                Err(_) => return false,
            }
        }
        true
    }

    /// Log first, then the clients: a daemon told of output finds it in the log.
    fn publish(&mut self, stream: u8, data: &[u8]) {
        if let Some(log) = self.log.as_mut() {
            log.write(stream, data);
        }
        if let Some(driver) = self.driver.as_mut() {
            driver.write(stream, data);
        }
        self.scrollback.push(stream, data);
        let frame = Frame::Output { stream, data: data.to_vec() };
        let mut encoded = Vec::with_capacity(data.len() + 6);
        frame.encode_into(&mut encoded);
        for client in self.clients.iter_mut().filter(|c| c.greeted) {
            if client.outbox.len() + encoded.len() > CLIENT_BACKLOG {
                eprintln!("berth monitor: a client reads too slowly; dropping it");
                let _ = client.stream.shutdown(std::net::Shutdown::Both);
                client.outbox.clear();
                client.greeted = false;
                continue;
            }
            client.outbox.extend_from_slice(&encoded);
        }
    }

    fn feed_stdin(&mut self) {
        let Some(stdin) = &self.stdin else { return };
        match nix::unistd::write(stdin, &self.stdin_pending) {
            Ok(n) => {
                self.stdin_pending.drain(..n);
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Err(_) => {
                // The process closed its stdin: what it did not read is gone, as on a pipe.
                self.stdin_pending.clear();
                self.stdin = None;
            }
        }
        if self.stdin_pending.is_empty() && self.close_stdin && self.pty.is_none() {
            self.stdin = None;
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(true);
                    self.clients.push(Client::new(stream, false));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    /// False when the client is gone or broke the protocol.
    fn serve_client(&mut self, index: usize, revents: libc::c_short) -> bool {
        if revents & libc::POLLOUT != 0 && !flush(&mut self.clients[index]) {
            return false;
        }
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
            return true;
        }
        let mut chunk = [0u8; 8192];
        loop {
            match self.clients[index].stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.clients[index].inbox.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
            if self.clients[index].inbox.len() > super::protocol::MAX_PAYLOAD * 2 {
                break;
            }
        }
        loop {
            let mut inbox = std::mem::take(&mut self.clients[index].inbox);
            let frame = Frame::decode(&mut inbox);
            self.clients[index].inbox = inbox;
            match frame {
                Ok(Some(frame)) => {
                    if !self.handle(index, frame) {
                        return false;
                    }
                }
                Ok(None) => return true,
                Err(err) => {
                    eprintln!("berth monitor: dropping a client: {err}");
                    return false;
                }
            }
        }
    }

    fn handle(&mut self, index: usize, frame: Frame) -> bool {
        match frame {
            Frame::Hello(hello) => {
                if hello.version != PROTOCOL_VERSION {
                    // Answered anyway: the daemon decides what to do with a monitor of another version.
                    eprintln!("berth monitor: a daemon of protocol {} said hello", hello.version);
                }
                match self.welcome(&self.clients[index].stream) {
                    Ok(rest) => {
                        let client = &mut self.clients[index];
                        client.outbox.extend_from_slice(&rest);
                        client.greeted = true;
                        true
                    }
                    Err(_) => false,
                }
            }
            Frame::Stdin(data) => {
                if self.stdin.is_some() {
                    self.stdin_pending.extend_from_slice(&data);
                }
                true
            }
            Frame::CloseStdin => {
                self.close_stdin = true;
                if self.stdin_pending.is_empty() && self.pty.is_none() {
                    self.stdin = None;
                }
                true
            }
            Frame::Resize { rows, cols } => {
                if let Some(pty) = &self.pty {
                    let _ = crate::resize_pty(pty.as_fd(), rows.max(1), cols.max(1));
                }
                true
            }
            Frame::ScrollbackRequest => {
                let runs = self.scrollback.runs.iter().cloned().collect();
                Frame::Scrollback(runs).encode_into(&mut self.clients[index].outbox);
                true
            }
            // Only the daemon that starts us sends Start, once, before anything else; the rest is ours to send.
            _ => false,
        }
    }

    fn finish(mut self) -> ! {
        if let Some(log) = self.log.as_mut() {
            log.flush();
        }
        if let Some(driver) = self.driver.as_mut() {
            driver.flush();
        }
        let code = self.exit_code.unwrap_or(crate::UNKNOWN_EXIT_CODE);
        write_exit_status(&self.config.dir, &ExitStatus { exit_code: code, finished_at: Utc::now() });
        let farewell = Frame::Exited { code }.encode();
        for client in self.clients.iter_mut().filter(|c| c.greeted) {
            client.outbox.extend_from_slice(&farewell);
        }
        let deadline = Instant::now() + FAREWELL;
        while Instant::now() < deadline {
            self.clients.retain(|c| !c.outbox.is_empty());
            let driver = self.driver.as_mut().filter(|d| d.pending());
            if self.clients.is_empty() && driver.is_none() {
                break;
            }
            let mut fds: Vec<libc::pollfd> = self
                .clients
                .iter()
                .map(|c| libc::pollfd { fd: c.stream.as_raw_fd(), events: libc::POLLOUT, revents: 0 })
                .collect();
            // The driver's stream last, after the clients' (zip below stops at the clients).
            if let Some(driver) = driver {
                driver.tick();
                if let Some((fd, events)) = driver.poll_events() {
                    fds.push(libc::pollfd { fd, events, revents: 0 });
                }
            }
            // SAFETY: a valid pollfd array of the length passed, alive across the call.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
            if ready < 0 {
                break;
            }
            for (client, pollfd) in self.clients.iter_mut().zip(&fds) {
                if pollfd.revents != 0 && !flush(client) {
                    client.outbox.clear();
                }
            }
            if let (Some(driver), Some(pollfd)) = (self.driver.as_mut(), fds.get(self.clients.len())) {
                if pollfd.revents != 0 {
                    driver.ready(pollfd.revents);
                }
            }
        }
        if let Some(driver) = &self.driver {
            driver.report();
        }
        // Only our own socket: a daemon that gave up on us may have started the container again, with a new one.
        let path = self.config.dir.join(SOCKET_NAME);
        if is_same_file(&path, &self.listener) {
            let _ = std::fs::remove_file(path);
        }
        exit(0)
    }
}

fn is_same_file(path: &std::path::Path, listener: &UnixListener) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(on_disk) = std::fs::symlink_metadata(path) else { return false };
    let Ok(ours) = nix::sys::stat::fstat(listener.as_fd()) else { return false };
    on_disk.ino() == ours.st_ino && on_disk.dev() == ours.st_dev
}

/// Writes what the socket takes; false when the client is gone.
fn flush(client: &mut Client) -> bool {
    while !client.outbox.is_empty() {
        match client.stream.write(&client.outbox) {
            Ok(0) => return false,
            Ok(n) => {
                client.outbox.drain(..n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
    true
}

fn set_nonblocking(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on an fd the caller owns; integers only.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::protocol::{STDERR, STDOUT};
    use super::*;

    #[test]
    fn scrollback_keeps_the_newest_bytes_by_stream() {
        let mut scrollback = Scrollback::default();
        scrollback.push(STDOUT, b"old");
        for _ in 0..20 {
            scrollback.push(STDERR, &[b'e'; 4096]);
        }
        scrollback.push(STDOUT, b"newest");
        assert_eq!(scrollback.bytes, SCROLLBACK_BYTES);
        assert_eq!(scrollback.runs.iter().map(|r| r.1.len()).sum::<usize>(), SCROLLBACK_BYTES);
        assert_eq!(scrollback.runs.back(), Some(&(STDOUT, b"newest".to_vec())));
        assert!(scrollback.runs.iter().all(|r| r.1 != b"old"), "the oldest run went first");
    }
}
