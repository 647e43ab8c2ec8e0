//! Isolation, checked from inside real containers: pid, mount and network namespaces, memory and pids limits,
//! capabilities and read-only /proc paths.

mod support;

use support::Daemon;

#[test]
fn the_container_sees_only_itself() {
    let daemon = Daemon::start();
    let ps = daemon.ok(&["run", "--rm", "busybox", "sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert_eq!(lines[0], "1", "the first process is PID 1");
    let visible: u32 = lines[1].parse().unwrap();
    assert!(visible <= 3, "no host processes visible, saw {visible}");

    let marker = daemon.scratch_dir("host-only").join("host-marker");
    std::fs::write(&marker, "secret").unwrap();
    let probe = daemon.docker(&["run", "--rm", "busybox", "cat", marker.to_str().unwrap()]);
    assert_ne!(probe.code, Some(0), "host files are invisible: {probe:?}");
    let root = daemon.ok(&["run", "--rm", "busybox", "ls", "/"]);
    assert!(!root.contains("boot") && root.contains("bin"), "{root}");

    let links = daemon.ok(&["run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev"]);
    let interfaces: Vec<&str> = links.lines().skip(2).map(|l| l.split(':').next().unwrap_or("").trim()).collect();
    assert_eq!(interfaces, vec!["lo"], "{links}");
    let loopback =
        daemon.ok(&["run", "--rm", "--network", "none", "busybox", "sh", "-c", "ip link show lo | grep -c UP"]);
    assert_eq!(loopback.trim(), "1", "loopback is up");
}

#[test]
fn a_memory_limit_kills_a_process_that_exceeds_it() {
    let daemon = Daemon::start();
    let out = daemon.docker(&[
        "run",
        "--name",
        "hog",
        "-m",
        "32m",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=100M",
        "count=1",
    ]);
    assert_eq!(out.code, Some(137), "{out:?}");
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.State.OOMKilled}}", "hog"]).trim(), "true");
}

#[test]
fn a_pids_limit_stops_a_fork_loop() {
    let daemon = Daemon::start();
    let id = daemon.ok(&[
        "run",
        "-d",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 1 30); do sleep 100 & done; sleep 100",
    ]);
    let id = id.trim();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !daemon.ok(&["logs", id]).contains("fork") && !daemon.docker(&["logs", id]).stderr.contains("fork") {
        assert!(std::time::Instant::now() < deadline, "the fork loop never hit the limit");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let pids = daemon.ok(&["stats", "--no-stream", "--format", "{{.PIDs}}", id]);
    let pids: u32 = pids.trim().parse().unwrap_or(999);
    assert!(pids <= 10, "at most 10 tasks in the container, saw {pids}");
    daemon.ok(&["rm", "-f", id]);
}

#[test]
fn privileged_operations_fail() {
    let daemon = Daemon::start();
    let sysctl = daemon.docker(&["run", "--rm", "busybox", "sh", "-c", "echo 1 > /proc/sys/kernel/panic"]);
    assert_ne!(sysctl.code, Some(0), "/proc/sys is read-only: {sysctl:?}");
    let masked = daemon.ok(&["run", "--rm", "busybox", "sh", "-c", "wc -c < /proc/timer_list; cat /proc/keys | wc -c"]);
    assert_eq!(
        masked.split_whitespace().collect::<Vec<_>>(),
        vec!["0", "0"],
        "/proc/timer_list and /proc/keys are masked"
    );
    let mount = daemon.docker(&["run", "--rm", "busybox", "sh", "-c", "mkdir /m && mount -t proc proc /m"]);
    assert_ne!(mount.code, Some(0), "{mount:?}");
    let mknod = daemon.docker(&["run", "--rm", "--cap-drop", "MKNOD", "busybox", "mknod", "/tmp/dev", "c", "1", "3"]);
    assert_ne!(mknod.code, Some(0), "{mknod:?}");
}
