//! `docker run` through the real docker CLI: output, flags, and Docker's exit codes.

mod support;

use support::Daemon;

#[test]
fn run_rm_prints_output_and_leaves_nothing_behind() {
    let daemon = Daemon::start();
    assert_eq!(daemon.ok(&["run", "--rm", "busybox", "echo", "hello"]).trim(), "hello");
    assert_eq!(daemon.ok(&["ps", "-aq"]).trim(), "", "--rm removed the container");
}

#[test]
fn exit_codes_follow_docker() {
    let daemon = Daemon::start();
    let failed = daemon.docker(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(failed.code, Some(3), "{failed:?}");
    let missing = daemon.docker(&["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(missing.code, Some(127), "{missing:?}");
    assert!(missing.stderr.contains("executable file not found"), "{missing:?}");
    // With --init the shell is not PID 1, so a signal can kill it; the exit code is 128 + signal.
    let signalled = daemon.docker(&["run", "--rm", "--init", "busybox", "sh", "-c", "kill -9 $$"]);
    assert_eq!(signalled.code, Some(137), "{signalled:?}");
    let no_image = daemon.docker(&["run", "--rm", "nosuchimage"]);
    assert_eq!(no_image.code, Some(125), "{no_image:?}");
    assert!(no_image.stderr.contains("nosuchimage"), "{no_image:?}");
}

#[test]
fn env_hostname_workdir_user_and_entrypoint() {
    let daemon = Daemon::start();
    let out = daemon.ok(&[
        "run",
        "--rm",
        "-e",
        "GREETING=hi there",
        "-h",
        "box1",
        "-w",
        "/tmp/work",
        "-u",
        "nobody",
        "busybox",
        "sh",
        "-c",
        "echo \"$GREETING|$(hostname)|$(pwd)|$(id -u):$(id -g)\"",
    ]);
    assert_eq!(out.trim(), "hi there|box1|/tmp/work|65534:65534");
    let uid_gid = daemon.ok(&["run", "--rm", "-u", "1234:4321", "busybox", "id"]);
    assert!(uid_gid.contains("uid=1234") && uid_gid.contains("gid=4321"), "{uid_gid}");
    let entry = daemon.ok(&["run", "--rm", "--entrypoint", "echo", "busybox", "from", "entrypoint"]);
    assert_eq!(entry.trim(), "from entrypoint");
    let named = daemon.ok(&["run", "--name", "named-one", "busybox", "true"]);
    assert_eq!(named.trim(), "");
    assert_eq!(daemon.ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(), "named-one");
    let clash = daemon.docker(&["run", "--name", "named-one", "busybox", "true"]);
    assert_eq!(clash.code, Some(125));
    assert!(clash.stderr.contains("is already in use"), "{clash:?}");
}

#[test]
fn interactive_stdin_reaches_the_process() {
    let daemon = Daemon::start();
    let out = daemon.docker_with_input(&["run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z"], b"piped words\n");
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout.trim(), "PIPED WORDS");
    // `docker start -ai` attaches to the stopped container first, then starts it: each run gets its own input.
    let first = daemon.docker_with_input(&["run", "-i", "--name", "again", "busybox", "tr", "a-z", "A-Z"], b"one\n");
    assert_eq!(first.stdout.trim(), "ONE", "{first:?}");
    for word in ["two", "three"] {
        let out = daemon.docker_with_input(&["start", "-ai", "again"], format!("{word}\n").as_bytes());
        assert!(out.success(), "{out:?}");
        assert_eq!(out.stdout.trim(), word.to_uppercase(), "{out:?}");
    }
    daemon.ok(&["rm", "again"]);
}

#[test]
fn tty_output_comes_through_a_terminal() {
    let daemon = Daemon::start();
    let out = daemon.ok(&["run", "--rm", "-t", "busybox", "sh", "-c", "test -t 1 && echo is-a-tty; stty size"]);
    assert!(out.contains("is-a-tty\r\n"), "{out:?}");
}

#[test]
fn init_reaps_and_forwards_signals() {
    let daemon = Daemon::start();
    let out =
        daemon.ok(&["run", "--rm", "--init", "busybox", "sh", "-c", "echo pid=$$; cat /proc/1/cmdline | tr '\\0' ' '"]);
    assert!(!out.contains("pid=1\n"), "with --init the shell is not PID 1: {out}");
    let id = daemon.ok(&["run", "-d", "--init", "busybox", "sleep", "1000"]);
    let started = std::time::Instant::now();
    daemon.ok(&["stop", "-t", "20", id.trim()]);
    assert!(started.elapsed().as_secs() < 10, "the init forwarded SIGTERM to sleep");
}

#[test]
fn resource_limits_are_applied() {
    let daemon = Daemon::start();
    let memory = daemon.ok(&["run", "--rm", "-m", "32m", "--memory-swap", "64m", "busybox", "true"]);
    assert_eq!(memory, "");
    let id = daemon.ok(&[
        "run",
        "-d",
        "-m",
        "48m",
        "-c",
        "512",
        "--cpus",
        "1.5",
        "--pids-limit",
        "20",
        "busybox",
        "sleep",
        "100",
    ]);
    let id = id.trim();
    let limits = daemon.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.CpuShares}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
        id,
    ]);
    assert_eq!(limits.trim(), "50331648 512 1500000000 20");
    let cgroup = format!("/sys/fs/cgroup/memory/berth/{id}/memory.limit_in_bytes");
    if std::path::Path::new("/sys/fs/cgroup/memory").exists() {
        assert_eq!(std::fs::read_to_string(&cgroup).unwrap_or_default().trim(), "50331648", "{cgroup}");
        let quota =
            std::fs::read_to_string(format!("/sys/fs/cgroup/cpu/berth/{id}/cpu.cfs_quota_us")).unwrap_or_default();
        assert_eq!(quota.trim(), "150000");
        let pids = std::fs::read_to_string(format!("/sys/fs/cgroup/pids/berth/{id}/pids.max")).unwrap_or_default();
        assert_eq!(pids.trim(), "20");
    }
    daemon.ok(&["rm", "-f", id]);
    let too_small = daemon.docker(&["run", "--rm", "-m", "1m", "busybox", "true"]);
    assert_eq!(too_small.code, Some(125));
    assert!(too_small.stderr.contains("Minimum memory limit allowed is 6MB"), "{too_small:?}");
}

#[test]
fn ulimits_readonly_tmpfs_and_binds() {
    let daemon = Daemon::start();
    let nofile =
        daemon.ok(&["run", "--rm", "--ulimit", "nofile=256:512", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn"]);
    assert_eq!(nofile.split_whitespace().collect::<Vec<_>>(), vec!["256", "512"]);
    let readonly = daemon.docker(&["run", "--rm", "--read-only", "busybox", "touch", "/file"]);
    assert_ne!(readonly.code, Some(0), "{readonly:?}");
    assert!(readonly.stderr.contains("Read-only file system"), "{readonly:?}");
    let tmpfs = daemon.ok(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "echo ok > /scratch/f && cat /scratch/f && grep /scratch /proc/mounts",
    ]);
    assert!(tmpfs.starts_with("ok\n") && tmpfs.contains("tmpfs /scratch tmpfs"), "{tmpfs}");

    let host_dir = daemon.scratch_dir("bind");
    std::fs::write(host_dir.join("from-host"), "host data\n").unwrap();
    let bind = format!("{}:/data", host_dir.display());
    let read = daemon.ok(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "cat /data/from-host; echo new > /data/from-container",
    ]);
    assert_eq!(read, "host data\n");
    assert_eq!(std::fs::read_to_string(host_dir.join("from-container")).unwrap(), "new\n");
    let ro = format!("{}:/data:ro", host_dir.display());
    let refused = daemon.docker(&["run", "--rm", "-v", &ro, "busybox", "touch", "/data/x"]);
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("Read-only file system"), "{refused:?}");
}

#[test]
fn capabilities_and_no_new_privileges() {
    let daemon = Daemon::start();
    let mount = daemon.docker(&["run", "--rm", "busybox", "sh", "-c", "mkdir /m && mount -t tmpfs none /m"]);
    assert_ne!(mount.code, Some(0), "mount needs CAP_SYS_ADMIN: {mount:?}");
    let allowed = daemon.docker(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "sh",
        "-c",
        "mkdir /m && mount -t tmpfs none /m",
    ]);
    assert_eq!(allowed.code, Some(0), "{allowed:?}");
    let chown = daemon.docker(&["run", "--rm", "--cap-drop", "CHOWN", "busybox", "chown", "nobody", "/tmp"]);
    assert_ne!(chown.code, Some(0), "chown needs CAP_CHOWN: {chown:?}");
    assert_eq!(daemon.docker(&["run", "--rm", "busybox", "chown", "nobody", "/tmp"]).code, Some(0));
    let none = daemon.ok(&["run", "--rm", "--cap-drop", "ALL", "busybox", "grep", "CapEff", "/proc/self/status"]);
    assert!(none.contains("0000000000000000"), "{none}");
    let nnp = daemon.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ]);
    assert!(nnp.contains('1'), "{nnp}");
}

#[test]
fn restart_policy_restarts_failures() {
    let daemon = Daemon::start();
    let id = daemon.ok(&["run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo try; exit 1"]);
    let id = id.trim();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let state = daemon.ok(&["inspect", "-f", "{{.RestartCount}} {{.State.Status}}", id]);
        if state.trim() == "2 exited" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "restart policy did not finish: {state}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let logs = daemon.ok(&["logs", id]);
    assert_eq!(logs.matches("try").count(), 3, "{logs}");
}
