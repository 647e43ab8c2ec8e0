//! Containers outlive the daemon (#13): killed with SIGKILL or stopped for an upgrade, the daemon comes back to
//! find every container running under its monitor, with the same process, the log lines written meanwhile, its
//! published port forwarded throughout, and exec, stop, attach, wait and the playground's terminal working again.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_shared::api::terminal::ClientMessage;
use support::terminal::{self, connect, read_until, Socket};
use support::{free_port, Daemon};

/// Counts GETs of the published port that got an answer, and those that did not, until told to stop.
struct PortWatch {
    answered: Arc<AtomicUsize>,
    failed: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PortWatch {
    fn start(port: u16) -> Self {
        let (answered, failed, stop) =
            (Arc::new(AtomicUsize::new(0)), Arc::default(), Arc::new(AtomicBool::new(false)));
        let thread = {
            let (answered, failed, stop): (Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>, _) =
                (answered.clone(), Arc::clone(&failed), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match get(port, "/hostname") {
                        Ok(body) if body.starts_with("HTTP/1.") && body.contains(" 200 ") => {
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(other) => failed.lock().unwrap().push(format!("answer {other:?}")),
                        Err(err) => failed.lock().unwrap().push(err.to_string()),
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        PortWatch { answered, failed, stop, thread: Some(thread) }
    }

    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the port watcher");
        }
        (self.answered.load(Ordering::SeqCst), self.failed.lock().unwrap().clone())
    }
}

fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// The counter's lines as numbers, in the order logged.
fn ticks(daemon: &Daemon) -> Vec<u64> {
    daemon.ok(&["logs", "counter"]).lines().filter_map(|l| l.strip_prefix("tick ")?.parse().ok()).collect()
}

async fn send(socket: &mut Socket, data: &str) {
    terminal::send(socket, &ClientMessage::Input { data: data.into() }).await;
}

#[test]
fn containers_run_on_through_a_daemon_crash() {
    let mut daemon = Daemon::start();
    let port = free_port();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.5; done",
    ]);
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    daemon.ok(&["run", "-d", "-it", "--name", "shell", "busybox", "sh"]);
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "waiter",
        "busybox",
        "sh",
        "-c",
        "while [ ! -f /go ]; do sleep 0.1; done; exit 42",
    ]);
    let pids = |daemon: &Daemon| daemon.ok(&["inspect", "-f", "{{.State.Pid}}", "counter", "web", "shell", "waiter"]);
    let before = pids(&daemon);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");

    // Something typed into the container's own terminal, through the playground's websocket.
    runtime.block_on(async {
        let mut terminal = connect(&daemon, "container=shell&mode=tty&rows=30&cols=100").await;
        send(&mut terminal, "echo typed-$((6*7))-before\r").await;
        read_until(&mut terminal, "typed-42-before").await;
    });
    let watch = PortWatch::start(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ticks(&daemon).len() < 2 {
        assert!(Instant::now() < deadline, "the counter logs");
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut while_down = Vec::new();
    daemon.crash_and_restart_with(|_| {
        let left = Instant::now();
        std::thread::sleep(Duration::from_secs(2));
        while_down.push(left);
    });

    assert_eq!(pids(&daemon), before, "the same processes run on");
    let states = daemon.ok(&["inspect", "-f", "{{.State.Status}}", "counter", "web", "shell", "waiter"]);
    assert_eq!(states.split_whitespace().collect::<Vec<_>>(), ["running"; 4], "{states}");
    // The counter logged while no daemon ran: its ticks go on without a gap, more than the 2 s down would hold.
    std::thread::sleep(Duration::from_millis(600));
    let logged = ticks(&daemon);
    assert!(logged.len() >= 6, "lines written while the daemon was down are in the log: {logged:?}");
    assert!(logged.windows(2).all(|pair| pair[1] == pair[0] + 1), "no line lost or repeated: {logged:?}");

    let (answered, failed) = watch.finish();
    assert!(failed.is_empty(), "the published port answered throughout; it did not {} times: {failed:?}", failed.len());
    assert!(answered >= 15, "the port was asked every 100 ms for more than 2 s: {answered} answers");

    assert_eq!(daemon.ok(&["exec", "counter", "echo", "exec-after-restart"]).trim(), "exec-after-restart");

    // docker attach reaches the live output again.
    let mut attach = daemon
        .docker_command(&["attach", "--no-stdin", "counter"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker attach");
    let mut attached = BufReader::new(attach.stdout.take().expect("attach's stdout"));
    let mut line = String::new();
    attached.read_line(&mut line).expect("a line through attach");
    assert!(line.starts_with("tick "), "{line:?}");
    let _ = attach.kill();
    let _ = attach.wait();

    // The playground's terminal rejoins the container's tty with what the monitor kept, and takes input again.
    runtime.block_on(async {
        let mut terminal = connect(&daemon, "container=shell&mode=tty&rows=30&cols=100").await;
        let replay = read_until(&mut terminal, "typed-42-before").await;
        let screen = terminal::rendered_lines(&replay);
        assert!(
            screen.iter().any(|line| line.ends_with("# echo typed-$((6*7))-before")),
            "the scrollback has the command: {screen:?} from {replay:?}"
        );
        send(&mut terminal, "echo typed-$((6*8))-after\r").await;
        read_until(&mut terminal, "typed-48-after").await;
    });

    // wait returns the code of an exit that happens after the restart; stop still stops.
    daemon.ok(&["exec", "waiter", "touch", "/go"]);
    assert_eq!(daemon.ok(&["wait", "waiter"]).trim(), "42");
    daemon.ok(&["stop", "-t", "1", "counter"]);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "counter"]).trim(), "exited 137");
    daemon.ok(&["rm", "-f", "counter", "web", "shell", "waiter"]);
}

#[test]
fn an_upgrade_restart_adopts_and_a_lost_monitor_is_reported() {
    let mut daemon = Daemon::start_with_args(&["--live-restore=true"]);
    daemon.ok(&["run", "-d", "--name", "kept", "busybox", "sleep", "1000"]);
    daemon.ok(&["run", "-d", "--name", "orphaned", "busybox", "sleep", "1000"]);
    let kept = daemon.ok(&["inspect", "-f", "{{.State.Pid}}", "kept"]);
    let orphaned_id = daemon.ok(&["inspect", "-f", "{{.Id}}", "orphaned"]).trim().to_string();

    // A clean stop, as for an upgrade: the containers run on, and the next daemon adopts them.
    daemon.restart();
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Pid}}", "kept"]), kept);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Running}}", "kept"]).trim(), "true");

    // A monitor that no longer answers (its socket gone, as after a reboot's cleanup): the daemon starts anyway,
    // records the container as exited, and keeps its record.
    daemon.crash_and_restart_with(|root| {
        std::fs::remove_file(root.join("containers").join(&orphaned_id).join("monitor.sock")).expect("the socket");
    });
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Running}}", "kept"]).trim(), "true");
    let orphaned = daemon.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "orphaned"]);
    assert_eq!(orphaned.trim(), "exited 255", "no monitor, no recorded code");
    // Its processes were reclaimed with its cgroup, and it starts again as any stopped container.
    daemon.ok(&["start", "orphaned"]);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Running}}", "orphaned"]).trim(), "true");
    let info = daemon.ok(&["info", "-f", "{{.LiveRestoreEnabled}}"]);
    assert_eq!(info.trim(), "true");
    daemon.ok(&["rm", "-f", "kept", "orphaned"]);
}

/// A monitor of another protocol version (left by another release of Berth) is reported and left alone.
#[test]
fn a_monitor_of_another_version_is_reported_and_never_killed() {
    let mut daemon = Daemon::start();
    daemon.ok(&["run", "-d", "--name", "foreign", "busybox", "sleep", "1000"]);
    let id = daemon.ok(&["inspect", "-f", "{{.Id}}", "foreign"]).trim().to_string();
    let pid: i32 = daemon.ok(&["inspect", "-f", "{{.State.Pid}}", "foreign"]).trim().parse().expect("a pid");
    // In place of the real monitor's socket: one that answers as a monitor of protocol 99 would.
    let socket = daemon.root().join("containers").join(&id).join("monitor.sock");
    let mut impostor = None;
    daemon.crash_and_restart_with(|_| {
        std::fs::remove_file(&socket).expect("the monitor's socket");
        // Bound through the directory's descriptor, as the daemon does: the path is longer than sun_path.
        let dir = std::fs::File::open(socket.parent().expect("its directory")).expect("the container's directory");
        let short = format!("/proc/self/fd/{}/monitor.sock", std::os::fd::AsRawFd::as_raw_fd(&dir));
        let listener = std::os::unix::net::UnixListener::bind(&short).expect("a socket in its place");
        impostor = Some(std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("the daemon connects");
            let welcome = berth_runtime::Welcome { version: 99, pid, exit_code: None };
            stream.write_all(&berth_runtime::Frame::Welcome(welcome).encode()).expect("the welcome");
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        }));
    });
    let state = daemon.ok(&["inspect", "-f", "{{.State.Status}}|{{.State.Error}}", "foreign"]);
    assert!(state.starts_with("running|"), "left running: {state}");
    assert!(state.contains("monitor protocol 99"), "reported: {state}");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "the container's process was not killed");
    let _ = impostor.map(|thread| thread.join());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).expect("cleaning up");
}
