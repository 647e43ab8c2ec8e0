//! The end-to-end harness: a real `berth serve` on its own root, socket and HTTP port, and the real docker CLI
//! pointed at it. Needs root, like the daemon. [`browser`] drives headless Chromium for the web tests.
//!
//! Everything a test leaves on disk lives under `<target>/e2e/` (never /tmp): the daemon root, its socket and its
//! log. On drop the daemon is stopped, whatever it left mounted is unmounted, and its directory is removed; when the
//! test is failing, the log is kept and its path printed.
//!
//! To check what a test expects against a real dockerd, set `BERTH_E2E_DOCKER_HOST` to its socket (for instance
//! `unix:///tmp/reference-dockerd/docker.sock`, from `../shared/tools/reference-dockerd start`): every docker
//! command then goes there instead. A Berth daemon is still started, so the rest of the harness works; only the
//! docker commands bypass it. Tests that rely on a fresh daemon or on daemon flags can fail there for that reason.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

pub mod browser;
pub mod compose;
pub mod postgres;
pub mod registry;
pub mod terminal;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The daemon under test: the debug build cargo made for this test run.
const BERTH: &str = env!("CARGO_BIN_EXE_berth");
const DOCKER: &str = "/usr/local/bin/docker";

/// Generous because the first start may unpack the default image.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// After SIGTERM the daemon stops its containers; past this it gets SIGKILL.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// A docker command that hangs would otherwise hang the whole test run.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(120);
/// Where docker commands go instead of the Berth daemon, when set (see the module doc).
pub const REFERENCE_DOCKER_HOST: &str = "BERTH_E2E_DOCKER_HOST";
/// sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

pub struct Daemon {
    process: Child,
    /// `<target>/e2e/daemon-XXXXXX`, holding everything below.
    dir: PathBuf,
    root: PathBuf,
    socket: PathBuf,
    http: String,
    log: PathBuf,
    /// Empty, so that no docker config on the machine (contexts, credential helpers, proxies) changes what the CLI
    /// does.
    docker_config: PathBuf,
    /// Flags after the harness's own on the `berth serve` line, kept for a restart.
    extra_args: Vec<String>,
}

/// What a docker command did.
#[derive(Debug)]
pub struct DockerOutput {
    /// None when the command was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl DockerOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl Daemon {
    /// Starts a daemon and returns once it answers `GET /_ping` on its socket.
    pub fn start() -> Daemon {
        Daemon::start_with_args(&[])
    }

    /// Starts a daemon with `args` added to its command line (`--registry-mirror URL`, ...), kept across restarts.
    pub fn start_with_args(args: &[&str]) -> Daemon {
        let extra_args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        let e2e = target_dir().join("e2e");
        std::fs::create_dir_all(&e2e).unwrap_or_else(|error| panic!("creating {}: {error}", e2e.display()));
        let dir = tempfile::Builder::new()
            .prefix("daemon-")
            .tempdir_in(&e2e)
            .unwrap_or_else(|error| panic!("creating a temp dir in {}: {error}", e2e.display()))
            // Drop removes it, after unmounting what the daemon left: TempDir would try before.
            .keep();
        let root = dir.join("root");
        let socket = dir.join("berth.sock");
        let log = dir.join("daemon.log");
        let docker_config = dir.join("docker-config");
        std::fs::create_dir(&docker_config).expect("creating the docker config dir");
        assert!(
            socket.as_os_str().len() <= MAX_SOCKET_PATH,
            "socket path {} is too long for a unix socket; use a shorter CARGO_TARGET_DIR",
            socket.display()
        );
        let http = format!("127.0.0.1:{}", free_port());

        let process = spawn_daemon(&root, &socket, &http, &log, &extra_args);

        let mut daemon = Daemon { process, dir, root, socket, http, log, docker_config, extra_args };
        daemon.wait_until_ready();
        daemon
    }

    /// Kills the daemon with SIGKILL (its containers keep running, as after a crash) and starts a new one on the
    /// same root, socket and port.
    pub fn crash_and_restart(&mut self) {
        self.crash_and_restart_with(|_| {});
    }

    /// SIGKILL, then `meanwhile` on the daemon's root (what a power loss could leave there), then a new daemon.
    pub fn crash_and_restart_with(&mut self, meanwhile: impl FnOnce(&Path)) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        meanwhile(&self.root);
        self.process = spawn_daemon(&self.root, &self.socket, &self.http, &self.log, &self.extra_args);
        self.wait_until_ready();
    }

    /// A clean stop (SIGTERM) and a new daemon on the same root: with `--live-restore=true` an upgrade's restart.
    pub fn restart(&mut self) {
        self.stop();
        self.process = spawn_daemon(&self.root, &self.socket, &self.http, &self.log, &self.extra_args);
        self.wait_until_ready();
    }

    /// A fresh directory under this daemon's test directory, for files a test shares with containers.
    pub fn scratch_dir(&self, name: &str) -> PathBuf {
        let dir = self.dir.join("scratch").join(name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("creating {}: {error}", dir.display()));
        dir
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.process.try_wait().expect("polling the daemon") {
                panic!("the daemon exited during startup ({status})\n{}", self.log_tail());
            }
            if self.socket.exists() && self.ping() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the daemon did not answer GET /_ping on {} within {STARTUP_TIMEOUT:?}\n{}",
                    self.socket.display(),
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn ping(&self) -> bool {
        self.get("/_ping").is_some_and(|(status, body)| status == 200 && body == "OK")
    }

    /// `GET path` over the unix socket: the status code and body, or None when the daemon does not answer.
    /// HTTP/1.0 so that the body is neither chunked nor kept alive: read to EOF and done.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        unix_request(&self.socket, "GET", path, None)
    }

    /// `GET path` over the unix socket, decoded as JSON; panics with the daemon log unless it answers 200.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        match self.get(path) {
            Some((200, body)) => serde_json::from_str(&body)
                .unwrap_or_else(|error| panic!("GET {path}: {error} in {body:?}\n{}", self.log_tail())),
            other => panic!("GET {path}: {other:?}\n{}", self.log_tail()),
        }
    }

    /// Runs the docker CLI against this daemon's socket.
    pub fn docker(&self, args: &[&str]) -> DockerOutput {
        self.docker_via(&format!("unix://{}", self.socket.display()), args, None)
    }

    /// Runs the docker CLI with `input` on its standard input (then end of file).
    pub fn docker_with_input(&self, args: &[&str], input: &[u8]) -> DockerOutput {
        self.docker_via(&format!("unix://{}", self.socket.display()), args, Some(input))
    }

    /// Runs the docker CLI against this daemon's HTTP port, which serves the same Engine API as the socket.
    pub fn docker_over_http(&self, args: &[&str]) -> DockerOutput {
        self.docker_via(&format!("tcp://{}", self.http), args, None)
    }

    /// Runs a docker command that must succeed and returns its stdout; otherwise panics with everything needed to
    /// see why: the command, its output, and the end of the daemon log.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.docker(args);
        if !output.success() {
            panic!(
                "docker {} exited with {:?}\n--- stdout\n{}\n--- stderr\n{}\n{}",
                args.join(" "),
                output.code,
                output.stdout,
                output.stderr,
                self.log_tail()
            );
        }
        output.stdout
    }

    /// The docker CLI aimed at this daemon, for a test that drives the process itself (kills it midway, reads
    /// its output as it comes); [`docker`](Self::docker) runs one to completion.
    pub fn docker_command(&self, args: &[&str]) -> Command {
        self.docker_command_via(&format!("unix://{}", self.socket.display()), args)
    }

    /// Runs the docker CLI over the HTTP port with the config directory `docker_config` (a session's token in
    /// its `HttpHeaders`, say).
    pub fn docker_over_http_as(&self, docker_config: &Path, args: &[&str]) -> DockerOutput {
        let command = self.docker_command_with(&format!("tcp://{}", self.http), docker_config, args);
        self.run_docker(command, args, None)
    }

    /// `berth admin ARGS` against this daemon's socket: its stdout, or a panic with its stderr.
    pub fn admin(&self, args: &[&str]) -> String {
        self.admin_with_input(args, b"")
    }

    /// [`admin`](Self::admin) with `input` on its stdin (a password).
    pub fn admin_with_input(&self, args: &[&str], input: &[u8]) -> String {
        let mut child = Command::new(BERTH)
            .arg("admin")
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting berth admin");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input).expect("writing berth admin's stdin");
        }
        let output = child.wait_with_output().expect("running berth admin");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "berth admin {} failed: {}\n{stdout}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    fn docker_command_via(&self, host: &str, args: &[&str]) -> Command {
        self.docker_command_with(host, &self.docker_config, args)
    }

    fn docker_command_with(&self, host: &str, docker_config: &Path, args: &[&str]) -> Command {
        let host = std::env::var(REFERENCE_DOCKER_HOST).unwrap_or_else(|_| host.to_string());
        let mut command = Command::new(DOCKER);
        command
            .args(args)
            .env("DOCKER_HOST", host)
            .env("DOCKER_CONFIG", docker_config)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_API_VERSION");
        command
    }

    fn docker_via(&self, host: &str, args: &[&str], input: Option<&[u8]>) -> DockerOutput {
        self.run_docker(self.docker_command_via(host, args), args, input)
    }

    fn run_docker(&self, mut command: Command, args: &[&str], input: Option<&[u8]>) -> DockerOutput {
        let mut child = command
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {DOCKER}: {error}"));
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            let input = input.to_vec();
            // Written from a thread and then dropped: the drop is the end of file the command waits for.
            thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        // Read both pipes while waiting, or a chatty command blocks on a full pipe and looks hung.
        let stdout = read_in_background(child.stdout.take().expect("piped stdout"));
        let stderr = read_in_background(child.stderr.take().expect("piped stderr"));
        let deadline = Instant::now() + DOCKER_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("polling docker") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("docker {} did not finish within {DOCKER_TIMEOUT:?}\n{}", args.join(" "), self.log_tail());
            }
            thread::sleep(Duration::from_millis(20));
        };
        DockerOutput {
            code: status.code(),
            stdout: stdout.join().expect("reading docker's stdout"),
            stderr: stderr.join().expect("reading docker's stderr"),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Linux bridge of this daemon's default `bridge` network (it also names the daemon's iptables chains).
    pub fn bridge_name(&self) -> String {
        bridge_for(&self.http).0
    }

    /// `127.0.0.1:PORT`, where the daemon serves the Engine API and the web app over HTTP.
    pub fn http_addr(&self) -> &str {
        &self.http
    }

    /// The last lines of the daemon log, headed so that it stands out in a panic message.
    /// The daemon's process id (for reading its /proc entry).
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Everything the daemon logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        const LINES: usize = 60;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LINES)..].join("\n");
        format!("--- daemon log ({}), last {LINES} lines\n{tail}", self.log.display())
    }

    fn stop(&mut self) {
        if self.process.try_wait().ok().flatten().is_some() {
            return;
        }
        let pid = Pid::from_raw(self.process.id() as i32);
        // SIGTERM first: the daemon stops its containers and unmounts their rootfs on the way out.
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while Instant::now() < deadline {
            if self.process.try_wait().ok().flatten().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!("e2e: the daemon ignored SIGTERM for {SHUTDOWN_TIMEOUT:?}; killing it");
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Pids and directories of daemons kept in statics (one per test binary), which Rust never drops.
static SHARED: std::sync::Mutex<Vec<(i32, PathBuf)>> = std::sync::Mutex::new(Vec::new());

impl Daemon {
    /// For a daemon kept in a static: it is stopped (SIGTERM, so its containers stop with it) when the test process
    /// exits, instead of outliving the test run.
    pub fn stop_at_exit(self) -> Self {
        let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if shared.is_empty() {
            // SAFETY: atexit takes a plain extern "C" function that lives for the whole process.
            unsafe { nix::libc::atexit(stop_shared_daemons) };
        }
        shared.push((self.process.id() as i32, self.dir.clone()));
        drop(shared);
        self
    }
}

extern "C" fn stop_shared_daemons() {
    let daemons = std::mem::take(&mut *SHARED.lock().unwrap_or_else(|p| p.into_inner()));
    for (pid, _) in &daemons {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
    for (pid, _) in &daemons {
        // Our child: it stays a zombie (its /proc entry says Z) until the process exits, which is what comes next.
        while Instant::now() < deadline
            && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
        {
            thread::sleep(Duration::from_millis(50));
        }
    }
    // What a dropped daemon's harness removes, a shared one's leaves otherwise: its mounts (the pinned init
    // executable, the rootfs of containers it stopped) and its directory.
    for (_, dir) in &daemons {
        unmount_everything_under(dir);
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.extra_args.iter().any(|a| a == "--live-restore=true") && self.ping() {
            // Its containers would outlive it: they go first.
            let ids = self.docker(&["ps", "-aq"]).stdout;
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                self.docker(&[&["rm", "-f"], ids.as_slice()].concat());
            }
        }
        self.stop();
        unmount_everything_under(&self.dir);
        if let Err(error) = std::fs::remove_dir_all(&self.root) {
            if error.kind() != std::io::ErrorKind::NotFound {
                eprintln!("e2e: removing {}: {error}", self.root.display());
            }
        }
        if thread::panicking() {
            eprintln!("e2e: daemon log kept at {}", self.log.display());
        } else if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("e2e: removing {}: {error}", self.dir.display());
        }
    }
}

/// Cargo's target dir, found from the daemon binary: `<target>/debug/berth`.
pub fn target_dir() -> PathBuf {
    Path::new(BERTH)
        .parent()
        .and_then(Path::parent)
        .expect("the berth binary lives in <target>/<profile>/")
        .to_path_buf()
}

/// A port nothing listens on right now. Another process could take it before the daemon binds it, but on a test
/// machine that race is rare and shows up as a clear startup failure.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding an ephemeral port")
        .port()
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A daemon killed mid-test can leave overlay, proc and bind mounts under its root; remove_dir_all would then fail
/// or, worse, descend into a bind-mounted host directory. Unmount deepest first, lazily, so busy mounts go too.
pub fn unmount_everything_under(dir: &Path) {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut mount_points: Vec<PathBuf> =
        berth_fs::mount_table::mount_points().into_iter().filter(|mount_point| mount_point.starts_with(&dir)).collect();
    // A point listed twice has two stacked mounts: unmounting it twice is right.
    mount_points.sort_by_key(|mount_point| std::cmp::Reverse(mount_point.components().count()));
    for mount_point in mount_points {
        if let Err(error) = nix::mount::umount2(&mount_point, nix::mount::MntFlags::MNT_DETACH) {
            eprintln!("e2e: unmounting {}: {error}", mount_point.display());
        }
    }
}

/// The default bridge of the daemon serving HTTP on `http` (`127.0.0.1:PORT`): its own bridge name and /24, made
/// from the port, so that the daemons of tests running in parallel never share a bridge, a subnet or iptables chains.
pub fn bridge_for(http: &str) -> (String, String) {
    let port: u16 = http.rsplit(':').next().and_then(|p| p.parse().ok()).expect("an http address with a port");
    (format!("bt{port}"), format!("10.{}.{}.0/24", port >> 8, port & 0xff))
}

/// `berth serve` on the given root, socket and port, logging to `log` (appending, so a restart keeps the history).
fn spawn_daemon(root: &Path, socket: &Path, http: &str, log: &Path, extra_args: &[String]) -> Child {
    let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("opening the daemon log");
    let (bridge_name, bridge_subnet) = bridge_for(http);
    Command::new(BERTH)
        .arg("serve")
        .arg("--root")
        .arg(root)
        .arg("--socket")
        .arg(socket)
        .arg("--http")
        .arg(http)
        .arg("--bridge-name")
        .arg(bridge_name)
        .arg("--bridge-subnet")
        .arg(bridge_subnet)
        // Containers stop with the daemon at the end of a test, unless the test is about the opposite.
        .args((!extra_args.iter().any(|a| a.starts_with("--live-restore"))).then_some("--live-restore=false"))
        .args(extra_args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("cloning the log file handle"))
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|error| panic!("starting {BERTH}: {error}"))
}

/// `method path` with an optional JSON body on the Engine API socket at `socket` (this harness's daemon, or a
/// reference dockerd): the status code and body, or None when nothing answers. HTTP/1.0 so that the body is neither
/// chunked nor kept alive: read to EOF and done.
pub fn unix_request(socket: &Path, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: berth\r\n");
    if let Some(body) = body {
        request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// `GET path` on `address` with a plain TcpStream; retried while the server in the container starts.
pub fn http_get(address: &str, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut stream = std::net::TcpStream::connect(address)?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response)
        })();
        match attempt {
            Ok(response) if response.starts_with("HTTP/1") => return response,
            other if Instant::now() > deadline => panic!("GET http://{address}{path}: {other:?}"),
            _ => thread::sleep(Duration::from_millis(100)),
        }
    }
}
