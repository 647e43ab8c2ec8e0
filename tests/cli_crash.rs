//! The daemon killed with SIGKILL while containers run: after a restart every image is intact, every container is
//! listed, those whose monitor kept them running are adopted as they are, those that ended meanwhile read the exit
//! code their monitor recorded (or are restarted by their policy), and logs are kept.

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
    // Ends while no daemon runs: its monitor records the code.
    daemon.ok(&["run", "-d", "--name", "ends-meanwhile", "busybox", "sleep", "1000"]);
    let pid_of = |daemon: &Daemon, name: &str| daemon.ok(&["inspect", "-f", "{{.State.Pid}}", name]).trim().to_string();
    let plain_pid = pid_of(&daemon, "plain");
    let always_pid = pid_of(&daemon, "always");
    let ends_pid = pid_of(&daemon, "ends-meanwhile");
    // A kill -9 between spawning a container's process and recording it running leaves a live process under a
    // record that still reads created: this one is made to look exactly like that while the daemon is down.
    daemon.ok(&["run", "-d", "--name", "unrecorded", "busybox", "sleep", "1000"]);
    let unrecorded_id = daemon.ok(&["inspect", "-f", "{{.Id}}", "unrecorded"]).trim().to_string();
    let unrecorded_pid = daemon.ok(&["inspect", "-f", "{{.State.Pid}}", "unrecorded"]).trim().to_string();
    let unrecorded_proc = std::path::PathBuf::from(format!("/proc/{unrecorded_pid}"));
    assert!(unrecorded_proc.exists(), "the container's process {unrecorded_pid} runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.docker(&["logs", "plain"]).stdout.is_empty() {
        assert!(Instant::now() < deadline, "no output from the container");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A build caught mid-RUN, and a create the old daemon never finished: recovery removes what they left.
    let context = daemon.scratch_dir("slow-build");
    std::fs::write(context.join("Dockerfile"), "FROM busybox\nRUN sleep 1000\n").expect("a Dockerfile");
    let mut build = daemon
        .docker_command(&["build", "-t", "never-built"])
        .arg(&context)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker build");
    let step_filter = "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.berth.build-step%22%5D%7D";
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.get_json(step_filter).as_array().is_none_or(Vec::is_empty) {
        assert!(
            Instant::now() < deadline,
            "the build's RUN container did not appear: {}",
            daemon.get_json("/containers/json?all=1")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let build_work = daemon.root().join("build/tmp");
    assert!(std::fs::read_dir(&build_work).map(|dir| dir.count()).unwrap_or(0) > 0, "the build's context is on disk");
    let half_created = daemon.root().join("containers").join("ab".repeat(32));
    std::fs::create_dir_all(half_created.join("upper")).expect("a half-created container directory");

    // A power loss after a layer's directory got its name but before its data reached the disk: the directory
    // is there, its files are not. The marker-less directory must be unpacked anew, not trusted.
    let mut truncated = None;
    daemon.crash_and_restart_with(|root| {
        for pid in [&always_pid, &ends_pid] {
            let pid = nix::unistd::Pid::from_raw(pid.parse().expect("a pid"));
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("killing a container's process");
        }
        let record_path = root.join("containers").join(&unrecorded_id).join("container.json");
        let text = std::fs::read_to_string(&record_path).expect("the container's record");
        let mut record: serde_json::Value = serde_json::from_str(&text).expect("a JSON record");
        record["state"]["status"] = "created".into();
        record["state"]["pid"] = 0.into();
        std::fs::write(&record_path, record.to_string()).expect("rewriting the record");

        let layers = root.join("image/layers");
        for entry in std::fs::read_dir(&layers).expect("the unpacked layers").flatten() {
            let busybox = entry.path().join("bin/busybox");
            if busybox.is_file() {
                std::fs::write(&busybox, b"").expect("truncating the layer's busybox");
                let marker = root.join("image/layers-complete").join(entry.file_name());
                std::fs::remove_file(&marker).expect("the layer's completeness marker");
                truncated = Some(busybox);
                return;
            }
        }
        panic!("no unpacked layer holds bin/busybox under {}", layers.display());
    });
    let _ = build.kill();
    let _ = build.wait();

    let steps = daemon.get_json(step_filter);
    assert_eq!(steps.as_array().map(Vec::len), Some(0), "build step containers outlived the crash: {steps}");
    let leftovers: Vec<_> =
        std::fs::read_dir(&build_work).map(|dir| dir.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(leftovers.is_empty(), "build leftovers after the restart: {leftovers:?}");
    assert!(!half_created.exists(), "the half-created container directory is still there");
    assert_eq!(daemon.ok(&["run", "--rm", "busybox", "echo", "intact"]).trim(), "intact");
    let busybox = truncated.expect("a truncated layer file");
    assert!(std::fs::metadata(&busybox).map(|m| m.len()).unwrap_or(0) > 0, "the layer was unpacked anew");

    let images = daemon.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.contains("busybox:latest") && images.contains("kept:1"), "{images}");
    let names = daemon.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    for name in ["plain", "always", "done"] {
        assert!(names.lines().any(|n| n == name), "{name} is listed: {names}");
    }
    // Adopted: the same process, still running, its log going on.
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Running}}", "plain"]).trim(), "true");
    assert_eq!(pid_of(&daemon, "plain"), plain_pid);
    // Ended while no daemon ran: the code and time its monitor recorded.
    let ended =
        daemon.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.FinishedAt}}", "ends-meanwhile"]);
    let fields: Vec<&str> = ended.split_whitespace().collect();
    assert_eq!(fields[..2], ["exited", "137"], "{ended}");
    let finished = chrono::DateTime::parse_from_rfc3339(fields[2]).expect("FinishedAt");
    assert!(finished.timestamp() > 1_700_000_000, "{ended}");
    // The process nobody recorded is reaped (its parent is gone, so it may linger a moment as a zombie)...
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(unrecorded_proc.join("stat")).is_ok_and(|stat| !stat.contains(") Z ")) {
        assert!(Instant::now() < deadline, "the unrecorded process {unrecorded_pid} still runs after recovery");
        std::thread::sleep(Duration::from_millis(50));
    }
    // ...and the container is an ordinary created one that starts again.
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Status}}", "unrecorded"]).trim(), "created");
    daemon.ok(&["start", "unrecorded"]);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Running}}", "unrecorded"]).trim(), "true");
    assert_eq!(daemon.ok(&["logs", "plain"]), "before-crash\n");
    // Killed while no daemon ran, and brought back by its policy once the daemon is up.
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
    assert_ne!(pid_of(&daemon, "always"), always_pid, "a new process");
    assert_eq!(daemon.ok(&["run", "--rm", "kept:1", "echo", "usable"]).trim(), "usable");
    daemon.ok(&["rm", "-f", "plain", "always", "done", "unrecorded", "ends-meanwhile"]);
}

/// A daemon killed in the middle of `docker load`: after the restart no half image is listed, and the same load
/// succeeds.
#[test]
fn a_load_cut_by_a_crash_leaves_no_half_image() {
    let mut daemon = Daemon::start();
    daemon.ok(&["tag", "busybox", "loadme:1"]);
    let archive = daemon.scratch_dir("load").join("loadme.tar");
    daemon.ok(&["save", "-o", archive.to_str().expect("a UTF-8 path"), "loadme:1"]);
    daemon.ok(&["rmi", "loadme:1"]);
    let bytes = std::fs::read(&archive).expect("the saved image");

    let mut load = daemon
        .docker_command(&["load"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker load");
    let mut stdin = load.stdin.take().expect("docker load's stdin");
    std::io::Write::write_all(&mut stdin, &bytes[..bytes.len() / 2]).expect("half the archive");
    std::io::Write::flush(&mut stdin).expect("flushed");
    // The daemon has part of the upload on disk when it dies.
    std::thread::sleep(Duration::from_millis(500));
    daemon.crash_and_restart();
    drop(stdin);
    let _ = load.wait();

    let images = daemon.ok(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(!images.contains("loadme"), "a half-loaded image is listed: {images}");
    let loaded = daemon.ok(&["load", "-i", archive.to_str().expect("a UTF-8 path")]);
    assert!(loaded.contains("Loaded image: loadme:1"), "{loaded}");
    assert_eq!(daemon.ok(&["run", "--rm", "loadme:1", "echo", "whole"]).trim(), "whole");
}
