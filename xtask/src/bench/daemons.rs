//! The two engines under test, each private to the bench: `berth serve` and Debian's dockerd, with their own state
//! root, socket and log under `<target>/bench/run/`, in their own process group (so the terminal's Ctrl-C reaches
//! the bench, which then stops them in order), never touching a system daemon.
//!
//! Each engine's default network is a bridge of the bench's own ([`super::bridges`]), so both do the same work
//! per container: a network namespace with a veth pair on that bridge. dockerd runs with `--iptables=false
//! --ip-masq=false --ip-forward=false` (no firewall rule or sysctl of its own on the host; the bench needs no
//! outbound traffic), while Berth installs its NAT chains, tagged with its bridge's name, and removes them when it
//! stops. `--config-file` points at the bench's own daemon.json, so a system /etc/docker/daemon.json is not read
//! and dockerd's key.json lands in the run dir, not in /etc/docker.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::bridges::{self, Bridge};
use super::cleanup::{undo, Cleanup};
use super::docker_cli::{last_lines, DockerCli};
use super::report::Side;
use super::{http, procfs};

/// The first start of either engine unpacks or checks images; dockerd also starts its containerd.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);
/// dockerd stops its containerd on the way out; Berth stops its containers.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
/// dockerd's containers go below this cgroup in every hierarchy, apart from a system dockerd's `/docker`.
const DOCKERD_CGROUP_PARENT: &str = "berth-bench-dockerd";
/// Directories dockerd and its containerd create outside their roots whatever the flags say.
const DOCKERD_RUNTIME_DIRS: &[&str] = &["/run/docker/plugins", "/run/docker", "/run/containerd/s", "/run/containerd"];

pub struct Daemon {
    pub side: Side,
    pub docker: DockerCli,
    pub socket: PathBuf,
    /// The HTTP port's address (`127.0.0.1:PORT`; Berth only, empty for dockerd).
    pub http: String,
    /// The daemon's private directory: state root, socket, log.
    pub dir: PathBuf,
    pub log: PathBuf,
    pub pid: u32,
}

impl Daemon {
    pub fn name(&self) -> &'static str {
        self.side.key()
    }

    /// The engine's own long-lived processes (not per-container ones): `berth serve`; dockerd and its containerd.
    pub fn engine_pids(&self) -> Vec<u32> {
        let mut pids = vec![self.pid];
        if self.side == Side::Dockerd {
            if let Some(containerd) = read_pid(&self.containerd_pid_file()).filter(|&pid| procfs::alive(pid)) {
                pids.push(containerd);
            }
        }
        pids
    }

    fn containerd_pid_file(&self) -> PathBuf {
        self.dir.join("exec/containerd/containerd.pid")
    }

    /// The last lines of the daemon's log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

/// Starts `berth serve` on a fresh root under `run_dir/berth` and waits until it answers `GET /_ping`.
pub fn start_berth(cleanup: &Cleanup, berth: &Path, run_dir: &Path, bridge: &Bridge) -> Result<Daemon> {
    start_berth_with(cleanup, berth, &run_dir.join("berth"), bridge, &[])
}

/// [`start_berth`] in `dir`, with `extra` flags on its command line (`--userns-remap default`).
pub fn start_berth_with(
    cleanup: &Cleanup,
    berth: &Path,
    dir: &Path,
    bridge: &Bridge,
    extra: &[&str],
) -> Result<Daemon> {
    let daemon = spawn_berth(cleanup, berth, dir, bridge, extra)?;
    wait_until_ready(&daemon)?;
    Ok(daemon)
}

/// [`start_berth_with`] without waiting for it to answer (the caller times that). Its containers stop with it
/// (`--live-restore=false`), so a bench leaves nothing running, unless `extra` says otherwise.
pub fn spawn_berth(cleanup: &Cleanup, berth: &Path, dir: &Path, bridge: &Bridge, extra: &[&str]) -> Result<Daemon> {
    let dir = dir.to_path_buf();
    let root = dir.join("root");
    let socket = dir.join("berth.sock");
    let log = dir.join("berth.log");
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    check_socket_path(&socket)?;
    let http = format!("127.0.0.1:{}", free_port()?);
    let docker = DockerCli::new(&socket, dir.join("docker-config"))?;

    let mut command = Command::new(berth);
    command
        .arg("serve")
        .arg("--root")
        .arg(&root)
        .arg("--socket")
        .arg(&socket)
        .arg("--http")
        .arg(&http)
        .arg("--bridge-name")
        .arg(&bridge.name)
        .arg("--bridge-subnet")
        .arg(&bridge.subnet)
        .args((!extra.iter().any(|flag| flag.starts_with("--live-restore"))).then_some("--live-restore=false"))
        .args(extra)
        .env("RUST_LOG", std::env::var("BENCH_BERTH_LOG").unwrap_or_else(|_| "info".into()));
    let pid = spawn_daemon(cleanup, "berth serve", command, &log, docker.clone())?;
    Ok(Daemon { side: Side::Berth, docker, socket, http, dir, log, pid })
}

/// Starts a private dockerd under `run_dir/dockerd` and waits until it answers `GET /_ping`.
pub fn start_dockerd(cleanup: &Cleanup, run_dir: &Path, bridge: &Bridge) -> Result<Daemon> {
    start_dockerd_with(cleanup, &run_dir.join("dockerd"), Some(bridge), &[])
}

/// [`start_dockerd`] in `dir`, with `extra` flags; without a bridge, `--bridge=none` (containers on
/// `--network none` only).
pub fn start_dockerd_with(cleanup: &Cleanup, dir: &Path, bridge: Option<&Bridge>, extra: &[&str]) -> Result<Daemon> {
    let dir = dir.to_path_buf();
    let socket = dir.join("docker.sock");
    let log = dir.join("dockerd.log");
    let exec_root = dir.join("exec");
    std::fs::create_dir_all(&exec_root).with_context(|| format!("creating {}", exec_root.display()))?;
    check_socket_path(&socket)?;
    // containerd's longest socket, inside the exec root.
    check_socket_path(&exec_root.join("containerd/containerd.sock.ttrpc"))?;
    let config = dir.join("daemon.json");
    let settings = serde_json::json!({ "deprecated-key-path": dir.join("key.json") });
    std::fs::write(&config, settings.to_string()).with_context(|| format!("writing {}", config.display()))?;
    let docker = DockerCli::new(&socket, dir.join("docker-config"))?;

    // What dockerd creates outside its roots is removed afterwards only if it was not there before.
    let runtime_dirs_before: Vec<&str> =
        DOCKERD_RUNTIME_DIRS.iter().copied().filter(|path| Path::new(path).exists()).collect();
    let dockerd_dir = dir.clone();
    cleanup.push("what dockerd left outside its process", move || {
        // Normally gone with dockerd; after a SIGKILL its containerd and shims would linger.
        stop_processes_left_in(&dockerd_dir);
        for path in DOCKERD_RUNTIME_DIRS.iter().filter(|path| !runtime_dirs_before.contains(path)) {
            // remove_dir removes only empty directories: whatever else put something there keeps it.
            let _ = std::fs::remove_dir(path);
        }
        for hierarchy in cgroup_hierarchies() {
            let _ = std::fs::remove_dir(hierarchy.join(DOCKERD_CGROUP_PARENT));
        }
    });

    if let Some(bridge) = bridge {
        bridges::create_for_dockerd(cleanup, bridge)?;
    }
    let bridge_flag = bridge.map_or("--bridge=none".to_string(), |bridge| format!("--bridge={}", bridge.name));
    let mut command = Command::new("dockerd");
    command
        .arg("--config-file")
        .arg(&config)
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(&exec_root)
        .arg("--pidfile")
        .arg(dir.join("dockerd.pid"))
        .arg("--host")
        .arg(format!("unix://{}", socket.display()))
        .arg(bridge_flag)
        .args(["--iptables=false", "--ip-masq=false", "--ip-forward=false"])
        .args(extra)
        .arg(format!("--cgroup-parent=/{DOCKERD_CGROUP_PARENT}"))
        .arg("--log-level=warn");
    let pid = spawn_daemon(cleanup, "dockerd", command, &log, docker.clone())?;
    let daemon = Daemon { side: Side::Dockerd, docker, socket, http: String::new(), dir, log, pid };
    wait_until_ready(&daemon)?;
    Ok(daemon)
}

/// Spawns a daemon in its own process group with its output in `log`, and registers its undo step in the same
/// breath: remove its containers (so it need not stop them one by one), then SIGTERM, then SIGKILL.
fn spawn_daemon(cleanup: &Cleanup, what: &str, mut command: Command, log: &Path, docker: DockerCli) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    let log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    command.stdin(Stdio::null()).stdout(log_file.try_clone()?).stderr(log_file).process_group(0);
    let program = command.get_program().to_string_lossy().into_owned();
    cleanup.start(what, move || {
        let mut child = command.spawn().with_context(|| format!("starting {program}"))?;
        let pid = child.id();
        let stop = undo(move || {
            if procfs::alive(pid) {
                if let Err(error) = docker.remove_all_containers() {
                    eprintln!("xtask bench: removing the containers of {program}: {error:#}");
                }
            }
            procfs::stop_process(pid, Some(&mut child), SHUTDOWN_GRACE);
        });
        Ok((pid, stop))
    })
}

pub fn wait_until_ready(daemon: &Daemon) -> Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if !procfs::alive(daemon.pid) {
            bail!("{} exited during startup\n{}", daemon.name(), daemon.log_tail());
        }
        if daemon.socket.exists() && http::ping(&daemon.socket) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not answer GET /_ping on {} within {STARTUP_TIMEOUT:?}\n{}",
                daemon.name(),
                daemon.socket.display(),
                daemon.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops whatever an earlier bench run left in `run_dir` (killed with SIGKILL, say), then unmounts and removes
/// the directory. Also the last undo step of every run.
pub fn remove_run_dir(run_dir: &Path) {
    if !run_dir.exists() {
        return;
    }
    stop_processes_left_in(run_dir);
    procfs::unmount_all_under(run_dir);
    for hierarchy in cgroup_hierarchies() {
        let _ = std::fs::remove_dir(hierarchy.join(DOCKERD_CGROUP_PARENT));
    }
    if let Err(error) = std::fs::remove_dir_all(run_dir) {
        eprintln!("xtask bench: removing {}: {error}", run_dir.display());
    }
}

/// Stops the processes a bench run started below `dir` and left behind. They are recognised by `dir` on their
/// command line, so nothing else on the machine is touched: the daemons (`--root`, `--data-root`), dockerd's
/// containerd (`--config <dir>/...`), its shims (`-address <dir>/.../containerd.sock`) and the in-process bench.
fn stop_processes_left_in(dir: &Path) {
    let marker = format!("{}/", dir.display());
    for process in procfs::processes() {
        if process.command_line.contains(&marker) && process.pid != std::process::id() && procfs::alive(process.pid) {
            println!("xtask bench: stopping pid {} ({}), left behind", process.pid, process.command_line);
            procfs::stop_process(process.pid, None, SHUTDOWN_GRACE);
        }
    }
}

/// `/sys/fs/cgroup/<controller>` for cgroup v1, `/sys/fs/cgroup` for v2.
fn cgroup_hierarchies() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_path_buf()];
    }
    std::fs::read_dir(root)
        .map(|entries| entries.filter_map(|entry| entry.ok()).map(|entry| entry.path()).collect())
        .unwrap_or_default()
}

fn read_pid(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

fn check_socket_path(socket: &Path) -> Result<()> {
    if socket.as_os_str().len() > MAX_SOCKET_PATH {
        bail!("socket path {} is too long for a unix socket; use a shorter CARGO_TARGET_DIR", socket.display());
    }
    Ok(())
}

/// A port nothing listens on right now; another process could take it before Berth binds it, which shows up as
/// a clear startup failure.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).context("binding a port")?.port())
}

pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    format!("--- {} (last lines)\n{}", log.display(), last_lines(&text, 20).replace(" | ", "\n"))
}
