//! The container lifecycle through the real docker CLI: ps, logs, inspect, exec, stop/start/restart/kill, pause,
//! rename, top, stats, diff, cp, export, wait and rm.

mod support;

use std::time::{Duration, Instant};

use support::Daemon;

fn wait_for(daemon: &Daemon, args: &[&str], want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = daemon.docker(args);
        if out.stdout.trim() == want {
            return;
        }
        assert!(Instant::now() < deadline, "{args:?} never said {want:?}; last: {out:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ps_logs_and_inspect() {
    let daemon = Daemon::start();
    let id = daemon.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "--label",
        "team=blue",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; sleep 1000",
    ]);
    let id = id.trim();
    wait_for(&daemon, &["logs", "talker"], "out");
    let logs = daemon.docker(&["logs", "talker"]);
    assert_eq!(logs.stdout, "out\n");
    assert_eq!(logs.stderr, "err\n");
    let stamped = daemon.ok(&["logs", "-t", "talker"]);
    assert!(stamped.contains('T') && stamped.trim_end().ends_with(" out"), "{stamped}");
    // stdout and stderr are separate pipes, so which line was logged last is a race; together they are the tail.
    let tail = daemon.docker(&["logs", "--tail", "1", "talker"]);
    let last = format!("{}{}", tail.stdout, tail.stderr);
    assert!(last == "out\n" || last == "err\n", "{tail:?}");
    let both = daemon.docker(&["logs", "--tail", "2", "talker"]);
    assert_eq!((both.stdout.as_str(), both.stderr.as_str()), ("out\n", "err\n"));
    daemon.ok(&["run", "-d", "--name", "quiet", "busybox", "true"]);
    wait_for(&daemon, &["inspect", "-f", "{{.State.Status}}", "quiet"], "exited");
    assert_eq!(daemon.ok(&["ps", "--format", "{{.Names}}"]).trim(), "talker");
    let all = daemon.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(all.contains("quiet Exited (0)") && all.contains("talker Up"), "{all}");
    assert_eq!(daemon.ok(&["ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}"]).trim(), "quiet");
    assert_eq!(daemon.ok(&["ps", "-q", "--filter", "label=team=blue"]).trim(), &id[..12]);
    assert_eq!(daemon.ok(&["ps", "-a", "--filter", "name=qui", "--format", "{{.Image}}"]).trim(), "busybox");
    let inspect = daemon.ok(&[
        "inspect",
        "-f",
        "{{.Name}} {{.State.Running}} {{.Config.Labels.team}} {{.HostConfig.LogConfig.Type}}",
        "talker",
    ]);
    assert_eq!(inspect.trim(), "/talker true blue json-file");
    let missing = daemon.docker(&["inspect", "nosuch"]);
    assert_ne!(missing.code, Some(0));
    assert!(
        missing.stderr.contains("No such object: nosuch") || missing.stderr.contains("No such container"),
        "{missing:?}"
    );
    daemon.ok(&["rm", "-f", "talker"]);
}

#[test]
fn follow_logs_stream_until_the_container_stops() {
    let daemon = Daemon::start();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo tick$i; sleep 0.3; done",
    ]);
    let followed = daemon.ok(&["logs", "-f", "ticker"]);
    assert_eq!(followed, "tick1\ntick2\ntick3\n");
}

#[test]
fn exec_with_flags() {
    let daemon = Daemon::start();
    daemon.ok(&["run", "-d", "--name", "host", "busybox", "sleep", "1000"]);
    let out =
        daemon.ok(&["exec", "-e", "X=42", "-u", "nobody", "-w", "/tmp", "host", "sh", "-c", "echo $X $(id -u) $(pwd)"]);
    assert_eq!(out.trim(), "42 65534 /tmp");
    let piped = daemon.docker_with_input(&["exec", "-i", "host", "cat"], b"through exec\n");
    assert_eq!(piped.stdout, "through exec\n", "{piped:?}");
    let code = daemon.docker(&["exec", "host", "sh", "-c", "exit 7"]);
    assert_eq!(code.code, Some(7));
    let missing = daemon.docker(&["exec", "host", "nosuchcmd"]);
    assert_eq!(missing.code, Some(127), "{missing:?}");
    let tty = daemon.ok(&["exec", "-t", "host", "sh", "-c", "test -t 0 && echo tty"]);
    assert_eq!(tty, "tty\r\n");
    let pid_ns = daemon.ok(&["exec", "host", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"]);
    assert_eq!(pid_ns.trim(), "sleep 1000");
    daemon.ok(&["rm", "-f", "host"]);
    let gone = daemon.docker(&["exec", "host", "true"]);
    assert!(gone.stderr.contains("No such container: host"), "{gone:?}");
}

#[test]
fn stop_start_restart_kill_wait_pause_rename() {
    let daemon = Daemon::start();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "life",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ]);
    daemon.ok(&["stop", "life"]);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "life"]).trim(), "exited 0");
    daemon.ok(&["start", "life"]);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Status}}", "life"]).trim(), "running");
    daemon.ok(&["restart", "-t", "1", "life"]);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Status}}", "life"]).trim(), "running");
    daemon.ok(&["pause", "life"]);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.Status}}", "life"]).trim(), "paused");
    assert!(daemon.ok(&["ps", "--format", "{{.Status}}"]).contains("(Paused)"));
    daemon.ok(&["unpause", "life"]);
    daemon.ok(&["rename", "life", "renamed"]);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.Name}}", "renamed"]).trim(), "/renamed");
    daemon.ok(&["kill", "renamed"]);
    assert_eq!(daemon.ok(&["wait", "renamed"]).trim(), "137");
    let removed = daemon.docker(&["rm", "renamed"]);
    assert!(removed.success(), "{removed:?}");
    daemon.ok(&["run", "-d", "--name", "busy", "busybox", "sleep", "1000"]);
    let refused = daemon.docker(&["rm", "busy"]);
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("container is running"), "{refused:?}");
    daemon.ok(&["rm", "-f", "busy"]);
    assert_eq!(daemon.ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn top_stats_diff_cp_and_export() {
    let daemon = Daemon::start();
    daemon.ok(&["run", "-d", "--name", "box", "busybox", "sh", "-c", "echo data > /made-here; rm /bin/vi; sleep 1000"]);
    wait_for(&daemon, &["exec", "box", "cat", "/made-here"], "data");
    let top = daemon.ok(&["top", "box"]);
    assert!(top.contains("sleep 1000"), "{top}");
    let stats = daemon.ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "box"]);
    assert!(stats.starts_with("box "), "{stats}");
    let diff = daemon.ok(&["diff", "box"]);
    assert!(diff.contains("A /made-here"), "{diff}");
    assert!(diff.contains("D /bin/vi"), "{diff}");
    assert!(diff.contains("C /bin"), "{diff}");

    let out_dir = daemon.scratch_dir("cp");
    let dest = out_dir.join("copied");
    daemon.ok(&["cp", "box:/made-here", dest.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "data\n");
    let upload = out_dir.join("upload.txt");
    std::fs::write(&upload, "uploaded\n").unwrap();
    daemon.ok(&["cp", upload.to_str().unwrap(), "box:/tmp/"]);
    assert_eq!(daemon.ok(&["exec", "box", "cat", "/tmp/upload.txt"]), "uploaded\n");
    let escape = daemon.docker(&["exec", "box", "ln", "-s", "/../../../../", "/tmp/up"]);
    assert!(escape.success());
    daemon.ok(&["cp", upload.to_str().unwrap(), "box:/tmp/up/"]);
    assert!(
        !std::path::Path::new("/upload.txt").exists()
            || std::fs::read_to_string("/upload.txt").unwrap_or_default() != "uploaded\n",
        "a symlink in the container never leads a copy onto the host"
    );

    let tar = out_dir.join("export.tar");
    daemon.ok(&["export", "-o", tar.to_str().unwrap(), "box"]);
    let listing = std::process::Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.lines().any(|l| l.trim_start_matches("./") == "made-here"), "export has the new file");
    assert!(listing.lines().any(|l| l.trim_start_matches("./") == "bin/busybox"));
    daemon.ok(&["rm", "-f", "box"]);
}

/// `docker kill` during a `docker stop -t 30` of a process that ignores SIGTERM ends it at once: SIGKILL does not
/// wait behind the stop's grace period (the playground's "Kill now" during compose down, #17).
#[test]
fn a_kill_cuts_a_stops_grace_period_short() {
    let daemon = Daemon::start();
    daemon.ok(&["run", "-d", "--name", "stubborn", "busybox", "sh", "-c", "trap '' TERM; while :; do sleep 1; done"]);
    let since = daemon.ok(&["inspect", "-f", "{{.State.StartedAt}}", "stubborn"]);
    let mut stop = daemon.docker_command(&["stop", "-t", "30", "stubborn"]).spawn().expect("docker stop");
    // The stop has sent its SIGTERM (a kill event with signal 15) and is waiting out its grace period.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now =
            format!("{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1);
        let events = daemon.ok(&[
            "events",
            "--since",
            since.trim(),
            "--until",
            &now,
            "--filter",
            "container=stubborn",
            "--filter",
            "event=kill",
            "--format",
            "{{.Actor.Attributes.signal}}",
        ]);
        if events.lines().any(|signal| signal == "15") {
            break;
        }
        assert!(Instant::now() < deadline, "the stop never sent SIGTERM: {events:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let started = Instant::now();
    daemon.ok(&["kill", "stubborn"]);
    let killed_after = started.elapsed();
    let status = stop.wait().expect("docker stop ends");
    let stopped_after = started.elapsed();
    assert!(killed_after < Duration::from_secs(5), "docker kill took {killed_after:?}");
    assert!(stopped_after < Duration::from_secs(5), "docker stop still waited: {stopped_after:?}");
    assert!(status.success(), "docker stop: {status:?}");
    wait_for(&daemon, &["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "stubborn"], "exited 137");
}
