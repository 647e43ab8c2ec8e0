//! The daemon killed with SIGKILL while containers run: after a restart every image is intact, every container is
//! listed (running ones as exited, or restarted by their policy), and logs are kept.

mod support;

use std::time::{Duration, Instant};

use support::Daemon;

#[test]
fn state_survives_kill_minus_nine() {
    let mut daemon = Daemon::start();
    daemon.ok(&["tag", "busybox", "kept:1"]);
    daemon.ok(&["run", "-d", "--name", "plain", "busybox", "sh", "-c", "echo before-crash; sleep 1000"]);
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "echo boot; sleep 1000",
    ]);
    daemon.ok(&["run", "--name", "done", "busybox", "echo", "finished"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.docker(&["logs", "plain"]).stdout.is_empty() {
        assert!(Instant::now() < deadline, "no output from the container");
        std::thread::sleep(Duration::from_millis(100));
    }

    daemon.crash_and_restart();

    let images = daemon.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.contains("busybox:latest") && images.contains("kept:1"), "{images}");
    let names = daemon.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    for name in ["plain", "always", "done"] {
        assert!(names.lines().any(|n| n == name), "{name} is listed: {names}");
    }
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Running}}", "plain"]).trim(), "false");
    assert_eq!(daemon.ok(&["logs", "plain"]), "before-crash\n");
    assert_eq!(daemon.ok(&["logs", "done"]), "finished\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = daemon.ok(&["inspect", "-f", "{{.State.Running}}", "always"]);
        if state.trim() == "true" {
            break;
        }
        assert!(Instant::now() < deadline, "--restart always brought it back");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(daemon.ok(&["run", "--rm", "kept:1", "echo", "usable"]).trim(), "usable");
    daemon.ok(&["rm", "-f", "plain", "always", "done"]);
}
