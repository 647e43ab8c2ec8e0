//! Seccomp and no_new_privs, checked from inside real containers with the real docker CLI: Docker's default
//! profile in force (user namespaces refused, blocked calls fail with EPERM), `seccomp=unconfined`, a profile file,
//! exec'd processes under the container's filter, and profiles that cannot be used refused at create.

mod support;

use std::sync::OnceLock;

use support::Daemon;

/// One daemon for the whole binary: nothing here depends on a fresh one.
fn daemon() -> &'static Daemon {
    static DAEMON: OnceLock<Daemon> = OnceLock::new();
    DAEMON.get_or_init(Daemon::start)
}

/// The `Seccomp:` and `NoNewPrivs:` lines of a process's status.
fn status_of(args: &[&str]) -> String {
    let mut run = vec!["run", "--rm"];
    run.extend_from_slice(args);
    run.extend_from_slice(&["busybox", "grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status"]);
    daemon().ok(&run).split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_default_profile_is_in_force_and_refuses_user_namespaces() {
    assert_eq!(status_of(&[]), "NoNewPrivs: 1 Seccomp: 2");
    let unshare = daemon().docker(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert_eq!(unshare.code, Some(1), "{unshare:?}");
    assert!(unshare.stderr.contains("Operation not permitted"), "EPERM, not a kill: {unshare:?}");
    assert_eq!(
        daemon().ok(&["run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "unshare", "-U", "echo", "in"]),
        "in\n"
    );
    assert_eq!(status_of(&["--security-opt", "seccomp=unconfined"]), "NoNewPrivs: 1 Seccomp: 0");
    assert_eq!(status_of(&["--security-opt", "no-new-privileges=false"]), "NoNewPrivs: 0 Seccomp: 2");
    // CAP_SYS_ADMIN brings the namespace calls back, as in Docker's profile.
    let admin = daemon().docker(&["run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "unshare", "-U", "true"]);
    assert!(admin.success(), "{admin:?}");
    let info = daemon().ok(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert!(info.contains("name=seccomp,profile=builtin"), "{info}");
}

#[test]
fn a_profile_file_blocks_what_it_names_with_eperm() {
    let dir = daemon().scratch_dir("profiles");
    let profile = dir.join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .expect("writing the profile");
    let option = format!("seccomp={}", profile.display());
    let mkdir = daemon().docker(&["run", "--rm", "--security-opt", &option, "busybox", "mkdir", "/made"]);
    assert_eq!(mkdir.code, Some(1), "{mkdir:?}");
    assert_eq!(mkdir.stderr.trim(), "mkdir: can't create directory '/made': Operation not permitted");
    let touch = daemon().ok(&["run", "--rm", "--security-opt", &option, "busybox", "sh", "-c", "touch /f && echo ok"]);
    assert_eq!(touch, "ok\n", "only what the profile names is blocked");

    // An exec'd process gets the container's filter.
    let id = daemon().ok(&["run", "-d", "--security-opt", &option, "busybox", "sleep", "300"]);
    let id = id.trim();
    let exec = daemon().docker(&["exec", id, "mkdir", "/from-exec"]);
    assert!(exec.stderr.contains("Operation not permitted"), "{exec:?}");
    assert_eq!(
        daemon().ok(&["exec", id, "grep", "^Seccomp:", "/proc/self/status"]).split_whitespace().last(),
        Some("2")
    );
    daemon().ok(&["rm", "-f", id]);
}

#[test]
fn profiles_that_cannot_be_used_are_refused_at_create() {
    let dir = daemon().scratch_dir("bad-profiles");
    let cases = [
        // The CLI refuses a file that is not JSON itself; JSON that is not a profile reaches the daemon.
        (
            "not-a-profile.json",
            r#"{"defaultAction": 5}"#,
            "Error response from daemon: Decoding seccomp profile failed: ",
        ),
        (
            "unknown-call.json",
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdirr"],"action":"SCMP_ACT_ERRNO"}]}"#,
            "unknown system call \"mkdirr\"",
        ),
        ("unknown-action.json", r#"{"defaultAction":"SCMP_ACT_SOMETIMES"}"#, "unknown variant `SCMP_ACT_SOMETIMES`"),
    ];
    for (file, content, expected) in cases {
        let path = dir.join(file);
        std::fs::write(&path, content).expect("writing the profile");
        let name = file.trim_end_matches(".json");
        let option = format!("seccomp={}", path.display());
        let run = daemon().docker(&["run", "--name", name, "--security-opt", &option, "busybox", "true"]);
        assert_eq!(run.code, Some(125), "{file}: {run:?}");
        assert!(run.stderr.contains(expected), "{file}: {expected:?} not in {:?}", run.stderr);
        let left = daemon().docker(&["inspect", name]);
        assert!(!left.success(), "{file}: no container is left behind: {left:?}");
    }
}

/// The CVE-2019-5736 class: a container that reaches the daemon's own binary through `/proc/<pid>/exe` (its PID 1
/// under `--init` is `berth init`; an entering `docker exec` is one too, until it execs) must not be able to write
/// it. Two locks: the kernel refuses a container process `/proc/<pid>/exe` of a process with more capabilities
/// (init, until it drops them), and the binary init runs from is a read-only bind mount, so even a process that
/// opens it gets EROFS on a write, whoever it is.
#[test]
fn the_init_binary_cannot_be_overwritten_from_inside() {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_berth"));
    let before = std::fs::metadata(binary).expect("the berth binary");
    let id = daemon().ok(&["run", "-d", "--init", "busybox", "sleep", "300"]);
    let id = id.trim();
    let attack = daemon().docker(&[
        "exec",
        id,
        "sh",
        "-c",
        "echo pwned >> /proc/1/exe && echo WROTE; exec 3</proc/1/exe && echo pwned >> /proc/self/fd/3 && echo WROTE-AGAIN; true",
    ]);
    assert!(!attack.stdout.contains("WROTE"), "{attack:?}");
    assert_eq!(attack.stderr.lines().count(), 2, "both attempts refused: {attack:?}");

    // What init runs from is read-only for everyone, the host's root included.
    let pid = daemon().ok(&["inspect", "-f", "{{.State.Pid}}", id]);
    let exe = format!("/proc/{}/exe", pid.trim());
    let target = std::fs::read_link(&exe).expect("the init's executable");
    assert_eq!(target, daemon().root().join("init-exe"), "init runs from the daemon's read-only copy");
    // While anything runs it a write is "text file busy"; the mount is what holds once nothing does.
    let write = std::fs::OpenOptions::new().append(true).open(&exe);
    assert!(write.is_err(), "{write:?}");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let mount = mountinfo
        .lines()
        .find(|line| line.split(' ').nth(4) == Some(target.to_str().expect("utf-8")))
        .unwrap_or_else(|| panic!("{} is not a mount point", target.display()));
    let options = mount.split(' ').nth(5).unwrap_or_default();
    assert!(options.split(',').any(|o| o == "ro"), "mounted read-only: {mount}");
    daemon().ok(&["rm", "-f", id]);
    let after = std::fs::metadata(binary).expect("the berth binary");
    assert_eq!((after.len(), after.modified().ok()), (before.len(), before.modified().ok()), "the binary is untouched");
}

/// `--default-pids-limit`: a container that asks for no limit gets the daemon's, so a fork bomb stops there;
/// one that asks for its own (or -1, unlimited) keeps it.
#[test]
fn the_daemons_default_pids_limit_stops_a_fork_bomb() {
    let daemon = Daemon::start_with_args(&["--default-pids-limit", "20"]);
    let id = daemon.ok(&["create", "busybox", "true"]);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.HostConfig.PidsLimit}}", id.trim()]).trim(), "20");
    let own = daemon.ok(&["create", "--pids-limit", "200", "busybox", "true"]);
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.HostConfig.PidsLimit}}", own.trim()]).trim(), "200");
    let bomb =
        daemon.docker(&["run", "--rm", "busybox", "sh", "-c", "for i in $(seq 40); do sleep 30 & done; echo survived"]);
    // ash gives up at the first fork the limit refuses.
    assert_eq!(bomb.code, Some(2), "{bomb:?}");
    assert_eq!(bomb.stderr, "sh: can't fork: Resource temporarily unavailable\n", "{bomb:?}");
    let unlimited = daemon.docker(&[
        "run",
        "--rm",
        "--pids-limit",
        "-1",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 40); do sleep 1 & done; wait; echo all",
    ]);
    assert_eq!((unlimited.stdout.as_str(), unlimited.stderr.as_str()), ("all\n", ""), "{unlimited:?}");
}
