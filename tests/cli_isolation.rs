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

/// The host's first disk as `major minor` (8 0, /dev/sda, when /sys says nothing).
fn host_disk() -> (String, String) {
    let mut disks: Vec<_> = std::fs::read_dir("/sys/block")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    disks.sort();
    disks
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with("loop")))
        .find_map(|p| {
            let text = std::fs::read_to_string(p.join("dev")).ok()?;
            let (major, minor) = text.trim().split_once(':')?;
            Some((major.to_string(), minor.to_string()))
        })
        .unwrap_or(("8".into(), "0".into()))
}

#[test]
fn a_container_cannot_open_a_block_device_it_creates() {
    let daemon = Daemon::start();
    let (major, minor) = host_disk();
    // As under dockerd: CAP_MKNOD and Docker's "b *:* m" rule let the node be made; the device cgroup (v1) or
    // the eBPF filter (v2) refuses to open it with EPERM.
    let script = format!("mknod /dev/sdx b {major} {minor} && echo made && head -c1 /dev/sdx");
    let out = daemon.docker(&["run", "--rm", "busybox", "sh", "-c", &script]);
    assert_eq!(out.stdout.trim(), "made", "{out:?}");
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    // The same for a character device outside the list (/dev/mem), while the standard nodes still work.
    let out = daemon.docker(&["run", "--rm", "busybox", "sh", "-c", "mknod /dev/m c 1 1 && head -c1 /dev/m"]);
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    let ok = daemon.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo x > /dev/null && head -c4 /dev/zero | wc -c && head -c4 /dev/urandom | wc -c && mount | grep ' /dev '",
    ]);
    let lines: Vec<&str> = ok.lines().collect();
    assert_eq!(lines[..2], ["4", "4"], "{ok}");
    // Docker's /dev: a tmpfs with nosuid, not nodev (the nodes in it are real; the cgroup guards them).
    assert!(lines[2].starts_with("tmpfs on /dev type tmpfs") && lines[2].contains("nosuid"), "{ok}");
    assert!(!lines[2].contains("nodev"), "{ok}");
}

#[test]
fn the_cgroup_namespace_matches_docker() {
    let daemon = Daemon::start();
    let v2 = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    let own = daemon.ok(&["run", "--rm", "busybox", "cat", "/proc/self/cgroup"]);
    if v2 {
        // Private cgroup namespace (Docker's default on v2): the container's cgroup is the root.
        assert_eq!(own.trim(), "0::/", "{own}");
    } else {
        // Docker's default on v1 is the host's namespace: the real path shows.
        assert!(own.lines().any(|l| l.contains(":memory:") && l.contains("/berth/")), "{own}");
    }
}
