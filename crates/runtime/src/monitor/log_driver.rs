//! Log drivers that send a container's output away as it comes (`--log-driver syslog|gelf|fluentd|journald`), run by the monitor so
//! they keep sending while no daemon runs. The engine resolves the options (tag templates, the GELF fields that
//! name the container); here are what reaches the monitor ([`LogDriver`]), the line splitting Docker's copier does
//! (one message per line, the newline taken off, a line longer than 16 KiB cut into several), and [`Transport`]:
//! one socket, never blocking the monitor's loop. A receiver that does not keep up loses messages (counted and
//! told on the monitor's stderr) rather than slowing the container; a stream reconnects with a backoff.

use std::collections::VecDeque;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use nix::errno::Errno;
use nix::sys::socket::{
    connect, getsockopt, send, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockType, SockaddrStorage, UnixAddr,
};
use serde::{Deserialize, Serialize};

use super::fluentd::{Fluentd, FluentdConfig};
use super::gelf::{Gelf, GelfConfig};
use super::journald::{Journald, JournaldConfig, JOURNAL_SOCKET};
use super::protocol::STDERR;
use super::syslog::{Syslog, SyslogConfig};

/// A driver's settings, as the engine resolved them from `--log-driver` and `--log-opt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogDriver {
    Syslog(SyslogConfig),
    Gelf(GelfConfig),
    Fluentd(FluentdConfig),
    Journald(JournaldConfig),
}

/// Where a driver sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogAddress {
    /// A unix stream socket (`unix:///path`).
    Unix(PathBuf),
    /// A unix datagram socket (`unixgram:///path`).
    Unixgram(PathBuf),
    /// `host:port` over UDP, resolved when the monitor starts.
    Udp(String),
    /// `host:port` over TCP, resolved when the monitor starts.
    Tcp(String),
    /// The local syslog socket: the first of /dev/log, /var/run/syslog, /var/run/log (datagram, else stream).
    LocalSyslog,
}

#[derive(Debug, thiserror::Error)]
pub enum LogDriverError {
    #[error("failed to initialize logging driver: resolve {address}: {source}")]
    Resolve { address: String, source: std::io::Error },
    #[error("failed to initialize logging driver: {address}: no address")]
    NoAddress { address: String },
    #[error("failed to initialize logging driver: Unix syslog delivery error")]
    NoLocalSyslog,
}

/// Docker's copier reads 16 KiB at a time: a longer line goes out as several messages.
const LONGEST_MESSAGE: usize = 16 * 1024;
/// Bytes queued for a stream receiver that is slow or away; past it messages are dropped.
const STREAM_BACKLOG: usize = 1 << 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const LONGEST_BACKOFF: Duration = Duration::from_secs(5);

/// Splits output into Docker's messages: lines without their newline, kept per stream until complete.
#[derive(Default)]
pub(crate) struct Lines {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Lines {
    pub(crate) fn push(&mut self, stream: u8, data: &[u8], mut emit: impl FnMut(u8, &[u8])) {
        let pending = if stream == STDERR { &mut self.stderr } else { &mut self.stdout };
        pending.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = &pending[start..];
            match rest.iter().position(|&b| b == b'\n') {
                Some(offset) if offset <= LONGEST_MESSAGE => {
                    emit(stream, &rest[..offset]);
                    start += offset + 1;
                }
                _ if rest.len() > LONGEST_MESSAGE => {
                    emit(stream, &rest[..LONGEST_MESSAGE]);
                    start += LONGEST_MESSAGE;
                }
                _ => break,
            }
        }
        pending.drain(..start);
    }

    /// What is left of unterminated lines (at process exit).
    pub(crate) fn flush(&mut self, mut emit: impl FnMut(u8, &[u8])) {
        for (stream, pending) in [(super::protocol::STDOUT, &mut self.stdout), (STDERR, &mut self.stderr)] {
            if !pending.is_empty() {
                emit(stream, pending);
                pending.clear();
            }
        }
    }
}

enum Format {
    Syslog(Syslog),
    Gelf(Gelf),
    Fluentd(Fluentd),
    Journald(Journald),
}

/// A running driver: the formatter and its socket.
pub(crate) struct Driver {
    lines: Lines,
    format: Format,
    transport: Transport,
    message: Vec<u8>,
}

impl Driver {
    pub(crate) fn open(config: LogDriver) -> Result<Self, LogDriverError> {
        let hostname = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
        let (format, address, framing) = match config {
            LogDriver::Syslog(config) => {
                let address = config.address.clone();
                (Format::Syslog(Syslog::new(config, hostname)), address, Framing::AsIs)
            }
            LogDriver::Gelf(config) => {
                let address = config.address.clone();
                // GELF over TCP ends each message with a NUL byte (Graylog's go-gelf, as dockerd sends it).
                (Format::Gelf(Gelf::new(config, hostname)), address, Framing::NulTerminated)
            }
            LogDriver::Fluentd(config) => {
                let address = config.address.clone();
                (Format::Fluentd(Fluentd::new(config)), address, Framing::AsIs)
            }
            LogDriver::Journald(config) => {
                (Format::Journald(Journald::new(config)), LogAddress::Unixgram(JOURNAL_SOCKET.into()), Framing::AsIs)
            }
        };
        let transport = Transport::open(&address, framing)?;
        Ok(Driver { lines: Lines::default(), format, transport, message: Vec::new() })
    }

    pub(crate) fn write(&mut self, stream: u8, data: &[u8]) {
        let Driver { lines, format, transport, message } = self;
        lines.push(stream, data, |stream, line| emit(format, transport, message, stream, line));
    }

    /// Sends what is left of unterminated lines.
    pub(crate) fn flush(&mut self) {
        let Driver { lines, format, transport, message } = self;
        lines.flush(|stream, line| emit(format, transport, message, stream, line));
    }

    pub(crate) fn poll_events(&self) -> Option<(libc::c_int, libc::c_short)> {
        self.transport.poll_events()
    }

    pub(crate) fn ready(&mut self, revents: libc::c_short) {
        self.transport.ready(revents);
    }

    /// When the loop must wake up for a reconnect, if one is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.transport.deadline()
    }

    /// Whether queued bytes still wait for a stream receiver.
    pub(crate) fn pending(&self) -> bool {
        !self.transport.queue.is_empty()
    }

    /// Tells how many messages were lost, if any (at exit).
    pub(crate) fn report(&self) {
        if self.transport.dropped > 0 {
            eprintln!("berth monitor: the log driver dropped {} messages", self.transport.dropped);
        }
    }
}

fn emit(format: &mut Format, transport: &mut Transport, message: &mut Vec<u8>, stream: u8, line: &[u8]) {
    // Docker's drivers skip empty messages.
    if line.is_empty() {
        return;
    }
    match format {
        Format::Syslog(syslog) => {
            message.clear();
            syslog.format(message, stream, line, chrono::Local::now());
            transport.send(message);
        }
        Format::Journald(journald) => {
            message.clear();
            journald.format(message, stream, line, Utc::now());
            transport.send(message);
        }
        Format::Fluentd(fluentd) => {
            message.clear();
            fluentd.format(message, stream, line, Utc::now());
            transport.send(message);
        }
        Format::Gelf(gelf) => {
            let datagram = transport.is_datagram();
            gelf.send(stream, line, Utc::now(), datagram, |bytes| transport.send(bytes));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    AsIs,
    NulTerminated,
}

#[derive(Debug, Clone)]
enum Target {
    Unix(PathBuf),
    Inet(SocketAddr),
}

/// One socket to the receiver, non-blocking. Datagrams that do not fit the socket's buffer are dropped; a stream
/// queues whole messages (up to [`STREAM_BACKLOG`]) and reconnects, lazily, when it has something to send.
pub(crate) struct Transport {
    target: Target,
    datagram: bool,
    framing: Framing,
    fd: Option<OwnedFd>,
    connecting: bool,
    queue: VecDeque<Vec<u8>>,
    queued: usize,
    /// Bytes of the queue's front already written.
    written: usize,
    retry_at: Option<Instant>,
    backoff: Duration,
    dropped: u64,
}

impl Transport {
    fn open(address: &LogAddress, framing: Framing) -> Result<Self, LogDriverError> {
        let (target, datagram) = match address {
            LogAddress::Unix(path) => (Target::Unix(path.clone()), false),
            LogAddress::Unixgram(path) => (Target::Unix(path.clone()), true),
            LogAddress::Udp(address) => (Target::Inet(resolve(address)?), true),
            LogAddress::Tcp(address) => (Target::Inet(resolve(address)?), false),
            LogAddress::LocalSyslog => {
                let path = ["/dev/log", "/var/run/syslog", "/var/run/log"]
                    .into_iter()
                    .map(PathBuf::from)
                    .find(|p| p.exists())
                    .ok_or(LogDriverError::NoLocalSyslog)?;
                (Target::Unix(path), true)
            }
        };
        let mut transport = Transport {
            target,
            datagram,
            framing,
            fd: None,
            connecting: false,
            queue: VecDeque::new(),
            queued: 0,
            written: 0,
            retry_at: None,
            backoff: FIRST_BACKOFF,
            dropped: 0,
        };
        transport.connect();
        if matches!(address, LogAddress::LocalSyslog) && transport.fd.is_none() {
            // /dev/log is a datagram socket under journald and rsyslog, a stream one under some syslog daemons.
            transport.datagram = false;
            transport.retry_at = None;
            transport.connect();
        }
        Ok(transport)
    }

    fn is_datagram(&self) -> bool {
        self.datagram
    }

    fn connect(&mut self) {
        self.fd = None;
        self.connecting = false;
        let family = match &self.target {
            Target::Unix(_) => AddressFamily::Unix,
            Target::Inet(address) if address.is_ipv4() => AddressFamily::Inet,
            Target::Inet(_) => AddressFamily::Inet6,
        };
        let kind = if self.datagram { SockType::Datagram } else { SockType::Stream };
        let Ok(fd) = socket(family, kind, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, None) else {
            return self.retry_later();
        };
        let connected = match &self.target {
            Target::Unix(path) => match UnixAddr::new(path) {
                Ok(address) => connect(fd.as_raw_fd(), &address),
                Err(e) => Err(e),
            },
            Target::Inet(address) => connect(fd.as_raw_fd(), &SockaddrStorage::from(*address)),
        };
        match connected {
            Ok(()) => {
                self.fd = Some(fd);
                self.backoff = FIRST_BACKOFF;
                self.retry_at = None;
            }
            Err(Errno::EINPROGRESS) if !self.datagram => {
                self.fd = Some(fd);
                self.connecting = true;
            }
            Err(_) => self.retry_later(),
        }
    }

    fn retry_later(&mut self) {
        self.fd = None;
        self.connecting = false;
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(LONGEST_BACKOFF);
        // A half-written message would corrupt the next connection's first one: it goes.
        if self.written > 0 {
            if let Some(front) = self.queue.pop_front() {
                self.queued -= front.len();
                self.dropped += 1;
            }
            self.written = 0;
        }
    }

    fn reconnect_if_due(&mut self) {
        if self.fd.is_none() && self.retry_at.is_none_or(|at| Instant::now() >= at) {
            self.connect();
        }
    }

    /// One message, framed for a stream; dropped when it cannot go now (datagram) or the queue is full.
    fn send(&mut self, message: &[u8]) {
        if self.datagram {
            self.reconnect_if_due();
            let Some(fd) = &self.fd else {
                self.dropped += 1;
                return;
            };
            match send(fd.as_raw_fd(), message, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => {}
                // A UDP receiver that is not there yet (an ICMP answer to an earlier datagram): keep the socket.
                Err(Errno::ECONNREFUSED) if matches!(self.target, Target::Inet(_)) => self.dropped += 1,
                Err(Errno::EAGAIN | Errno::ENOBUFS | Errno::EMSGSIZE | Errno::EINTR) => self.dropped += 1,
                // A unix receiver that went away: connect again later (it may be restarted).
                Err(_) => {
                    self.dropped += 1;
                    self.retry_later();
                }
            }
            return;
        }
        let framed = message.len() + usize::from(self.framing == Framing::NulTerminated);
        if self.queued + framed > STREAM_BACKLOG {
            self.dropped += 1;
            return;
        }
        let mut bytes = Vec::with_capacity(framed);
        bytes.extend_from_slice(message);
        if self.framing == Framing::NulTerminated {
            bytes.push(0);
        }
        self.queued += bytes.len();
        self.queue.push_back(bytes);
        self.reconnect_if_due();
        self.flush();
    }

    fn flush(&mut self) {
        if self.connecting {
            return;
        }
        let Some(fd) = &self.fd else { return };
        let fd = fd.as_raw_fd();
        while let Some(front) = self.queue.front() {
            match send(fd, &front[self.written..], MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL) {
                Ok(n) => {
                    self.written += n;
                    if self.written == front.len() {
                        self.queued -= front.len();
                        self.queue.pop_front();
                        self.written = 0;
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return,
                Err(_) => return self.retry_later(),
            }
        }
    }

    fn poll_events(&self) -> Option<(libc::c_int, libc::c_short)> {
        let fd = self.fd.as_ref()?.as_raw_fd();
        if self.datagram {
            return None;
        }
        // POLLIN on a stream we never read from: the receiver closed it (EOF) or reset it.
        let mut events = libc::POLLIN;
        if self.connecting || !self.queue.is_empty() {
            events |= libc::POLLOUT;
        }
        Some((fd, events))
    }

    fn ready(&mut self, revents: libc::c_short) {
        let Some(fd) = &self.fd else { return };
        if self.connecting {
            match getsockopt(fd, sockopt::SocketError) {
                Ok(0) if revents & libc::POLLOUT != 0 => {
                    self.connecting = false;
                    self.backoff = FIRST_BACKOFF;
                    self.retry_at = None;
                }
                Ok(0) => return,
                _ => return self.retry_later(),
            }
        }
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            let mut scratch = [0u8; 512];
            match nix::sys::socket::recv(fd.as_raw_fd(), &mut scratch, MsgFlags::MSG_DONTWAIT) {
                Ok(0) => return self.retry_later(),
                Ok(_) | Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => return self.retry_later(),
            }
        }
        self.flush();
    }

    fn deadline(&self) -> Option<Instant> {
        if self.fd.is_none() && !self.queue.is_empty() {
            return self.retry_at.or(Some(Instant::now()));
        }
        None
    }

    /// Called when [`deadline`](Self::deadline) passed.
    pub(crate) fn tick(&mut self) {
        if !self.queue.is_empty() {
            self.reconnect_if_due();
            self.flush();
        }
    }
}

impl Driver {
    pub(crate) fn tick(&mut self) {
        self.transport.tick();
    }
}

fn resolve(address: &str) -> Result<SocketAddr, LogDriverError> {
    let mut addresses =
        address.to_socket_addrs().map_err(|source| LogDriverError::Resolve { address: address.into(), source })?;
    addresses.next().ok_or_else(|| LogDriverError::NoAddress { address: address.into() })
}

#[cfg(test)]
mod tests {
    use super::super::protocol::STDOUT;
    use super::*;

    #[test]
    fn lines_lose_their_newline_and_long_ones_are_cut() {
        let mut lines = Lines::default();
        let mut got = Vec::new();
        lines.push(STDOUT, b"one\ntw", |s, l| got.push((s, l.to_vec())));
        lines.push(STDERR, b"err\n\n", |s, l| got.push((s, l.to_vec())));
        lines.push(STDOUT, b"o\n", |s, l| got.push((s, l.to_vec())));
        let long = vec![b'x'; LONGEST_MESSAGE + 10];
        lines.push(STDOUT, &long, |s, l| got.push((s, l.to_vec())));
        lines.flush(|s, l| got.push((s, l.to_vec())));
        let expected: Vec<(u8, Vec<u8>)> = vec![
            (STDOUT, b"one".to_vec()),
            (STDERR, b"err".to_vec()),
            (STDERR, Vec::new()),
            (STDOUT, b"two".to_vec()),
            (STDOUT, vec![b'x'; LONGEST_MESSAGE]),
            (STDOUT, vec![b'x'; 10]),
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn a_stream_receiver_that_is_away_loses_nothing_until_the_backlog_is_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        let mut transport = Transport::open(&LogAddress::Unix(path.clone()), Framing::AsIs).unwrap();
        assert!(transport.fd.is_none(), "nobody listens yet");
        transport.send(b"first\n");
        assert_eq!((transport.queue.len(), transport.dropped), (1, 0));
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::thread::sleep(transport.retry_at.unwrap().saturating_duration_since(Instant::now()));
        transport.tick();
        let (mut conn, _) = listener.accept().unwrap();
        transport.send(b"second\n");
        let mut got = vec![0u8; 13];
        std::io::Read::read_exact(&mut conn, &mut got).unwrap();
        assert_eq!(got, b"first\nsecond\n");
        assert!(transport.queue.is_empty());
    }
}
