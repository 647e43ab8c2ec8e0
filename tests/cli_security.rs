//! Seccomp and no_new_privs, checked from inside real containers with the real docker CLI: Docker's default
//! profile in force (user namespaces refused, blocked calls fail with EPERM), `seccomp=unconfined`, a profile file,
//! exec'd processes under the container's filter, and profiles that cannot be used refused at create; the security
//! review (`GET /berth/audit`) of containers the docker CLI made.

mod support;

use std::sync::OnceLock;

use support::Daemon;

/// One daemon for the whole binary: nothing here depends on a fresh one.
fn daemon() -> &'static Daemon {
    static DAEMON: OnceLock<Daemon> = OnceLock::new();
    DAEMON.get_or_init(|| Daemon::start().stop_at_exit())
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

/// The ids of one container's findings in `GET /berth/audit` (every container), found by name.
fn audit_ids(all: &serde_json::Value, name: &str) -> Vec<String> {
    let audit = all
        .as_array()
        .and_then(|list| list.iter().find(|audit| audit["name"] == name))
        .unwrap_or_else(|| panic!("{name} is not in GET /berth/audit: {all}"));
    audit["findings"]
        .as_array()
        .map(|findings| findings.iter().filter_map(|f| f["id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// `GET /berth/audit`: containers made with the real docker CLI get exactly the findings their flags call for,
/// a hardened one none; secrets are named, never shown; the HTTP port answers the same without the playground's
/// header (a read), and an unknown container is dockerd's 404.
#[test]
fn the_audit_flags_what_a_reviewer_would() {
    let daemon = daemon();
    let port = support::free_port().to_string();
    let risky_ports = format!("{port}:80");
    // Created only: on a host whose bounding set lacks a capability (CAP_SYS_RESOURCE in some sandboxes),
    // --privileged cannot start under Berth yet, and the review reads the configuration, not the process.
    daemon.ok(&[
        "create",
        "--name",
        "audit-risky",
        "--privileged",
        "-e",
        "DB_PASSWORD=hunter2",
        "-p",
        &risky_ports,
        "busybox",
        "sleep",
        "300",
    ]);
    let safe_port = support::free_port().to_string();
    let safe_ports = format!("127.0.0.1:{safe_port}:80");
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "audit-hardened",
        "--user",
        "1000",
        "--read-only",
        "--memory",
        "64m",
        "--pids-limit",
        "100",
        "-p",
        &safe_ports,
        "busybox",
        "sleep",
        "300",
    ]);
    let socket = format!("{}:/var/run/docker.sock", daemon.socket().display());
    daemon.ok(&[
        "create",
        "--name",
        "audit-socket",
        "-v",
        &socket,
        "--network",
        "host",
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "no-new-privileges=false",
        "--user",
        "1000:1000",
        "--read-only",
        "--memory",
        "64m",
        "--pids-limit",
        "100",
        "busybox",
        "true",
    ]);
    // A build argument a RUN step saw stays in the image's history, value and all.
    let context = daemon.scratch_dir("audit-build");
    std::fs::write(context.join("Dockerfile"), "FROM busybox\nARG NPM_TOKEN\nRUN true\nUSER 1000\n").unwrap();
    daemon.ok(&["build", "-t", "audit-arg:1", "--build-arg", "NPM_TOKEN=s3cret-npm", context.to_str().unwrap()]);
    daemon.ok(&[
        "create",
        "--name",
        "audit-arg",
        "--read-only",
        "--memory",
        "64m",
        "--pids-limit",
        "100",
        "audit-arg:1",
    ]);

    let all = daemon.get_json("/berth/audit");
    assert_eq!(
        audit_ids(&all, "audit-risky"),
        [
            "privileged",
            "root-user",
            "no-userns",
            "no-memory-limit",
            "no-pids-limit",
            "secret-env",
            "writable-rootfs",
            "port-all-interfaces"
        ]
    );
    assert_eq!(audit_ids(&all, "audit-hardened"), Vec::<String>::new());
    assert_eq!(
        audit_ids(&all, "audit-socket"),
        ["cap-add", "host-network", "daemon-socket", "seccomp-unconfined", "new-privileges"]
    );
    assert_eq!(audit_ids(&all, "audit-arg"), ["secret-build-arg"], "the image's USER 1000 counts");
    let text = all.to_string();
    assert!(!text.contains("hunter2") && !text.contains("s3cret-npm"), "a secret's value leaked: {text}");

    let one = daemon.get_json("/berth/audit/audit-risky");
    assert_eq!(one["image"], "busybox");
    let secret = one["findings"].as_array().and_then(|f| f.iter().find(|f| f["id"] == "secret-env")).cloned();
    let secret = secret.unwrap_or_else(|| panic!("no secret-env in {one}"));
    assert_eq!(secret["severity"], "medium");
    assert_eq!(secret["title"], "Secret in the environment: DB_PASSWORD");
    let ports = one["findings"].as_array().and_then(|f| f.iter().find(|f| f["id"] == "port-all-interfaces")).cloned();
    assert_eq!(
        ports.map(|p| p["title"].clone()),
        Some(format!("Publishes on every interface of the host: {port}->80/tcp").into())
    );
    let socket_audit = daemon.get_json("/berth/audit/audit-socket");
    let socket_finding = &socket_audit["findings"][2];
    assert_eq!(
        (socket_finding["id"].as_str(), socket_finding["severity"].as_str()),
        (Some("daemon-socket"), Some("high")),
        "{socket_audit}"
    );

    // The HTTP port: a GET passes the guard without the playground's header; an unknown name is dockerd's 404.
    let over_http = support::http_get(daemon.http_addr(), "/berth/audit/audit-hardened");
    assert!(over_http.starts_with("HTTP/1.0 200") || over_http.starts_with("HTTP/1.1 200"), "{over_http}");
    assert!(over_http.contains("\"findings\":[]"), "{over_http}");
    let (status, body) = daemon.get("/berth/audit/no-such-thing").expect("the daemon answers");
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["message"],
        "No such container: no-such-thing"
    );

    daemon.ok(&["rm", "-f", "audit-risky", "audit-hardened", "audit-socket", "audit-arg"]);
    daemon.ok(&["rmi", "audit-arg:1"]);
}
