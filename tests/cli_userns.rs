//! `--userns-remap`, checked with the real docker CLI against a daemon that remaps: root in a container is the
//! range's first host uid (on disk too), a root-owned bind mount is not writable from inside while volumes are,
//! `docker cp`, commit, export and builds keep the ids the container sees, exec joins the user namespace,
//! `--userns host` opts out, what a user namespace cannot give is refused with dockerd's words, private ranges
//! give each container its own slice, and a range too small stops the daemon with the file and the user.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use support::Daemon;

/// One remapping daemon for the binary; the private-range test starts its own.
fn daemon() -> &'static Daemon {
    static DAEMON: OnceLock<Daemon> = OnceLock::new();
    DAEMON.get_or_init(|| Daemon::start_with_args(&["--userns-remap", "default"]).stop_at_exit())
}

/// Where `default`'s range starts: what the daemon made or found in /etc/subuid.
fn first_host_uid() -> u32 {
    daemon();
    let subuid = std::fs::read_to_string("/etc/subuid").expect("/etc/subuid after --userns-remap default");
    subuid
        .lines()
        .find_map(|line| line.strip_prefix("berth-remap:")?.split(':').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no berth-remap range in /etc/subuid: {subuid}"))
}

fn upper_dir(daemon: &Daemon, id: &str) -> PathBuf {
    daemon.root().join("containers").join(id.trim()).join("upper")
}

/// A tar of one file owned by `uid`:`gid`, as a client that keeps owners makes it.
fn one_file_tar(name: &str, content: &[u8], uid: u64, gid: u64) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_uid(uid);
    header.set_gid(gid);
    builder.append_data(&mut header, name, content).expect("tar entry");
    builder.into_inner().expect("tar")
}

fn owner(path: &std::path::Path) -> (u32, u32) {
    let meta = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid())
}

#[test]
fn root_in_a_container_is_the_remapped_uid_on_the_host() {
    let d = daemon();
    let base = first_host_uid();
    assert!(base >= 100_000, "the range starts past the host's own users: {base}");
    let id = d.ok(&["run", "-d", "busybox", "sh", "-c", "touch /made; mkdir /app; chown 1000:1000 /app; sleep 300"]);
    let upper = upper_dir(d, &id);
    let inside = d.ok(&["exec", id.trim(), "sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map"]);
    let fields: Vec<&str> = inside.split_whitespace().collect();
    let base_text = base.to_string();
    assert_eq!(fields, ["0", "0", &base_text, "65536", "0", &base_text, "65536"], "{inside}");
    let made = upper.join("made");
    for _ in 0..100 {
        if made.exists() && upper.join("app").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(owner(&made), (base, base), "a file root made is the remapped uid's on the host");
    assert_eq!(owner(&upper.join("app")), (base + 1000, base + 1000));
    // The container sees its own ids, image layers included (idmapped, never copied or chowned).
    assert_eq!(
        d.ok(&["exec", id.trim(), "stat", "-c", "%u:%g", "/made", "/app", "/bin/sh", "/"]),
        "0:0\n1000:1000\n0:0\n0:0\n"
    );
    let info = d.ok(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert!(info.contains("name=userns"), "{info}");
    d.ok(&["rm", "-f", id.trim()]);
}

#[test]
fn a_root_owned_bind_mount_is_not_writable_but_volumes_are() {
    let d = daemon();
    let host_dir = d.scratch_dir("root-owned");
    std::fs::write(host_dir.join("secret"), "host root's").expect("write");
    let bind = format!("{}:/h", host_dir.display());
    let denied = d.docker(&["run", "--rm", "-v", &bind, "busybox", "sh", "-c", "touch /h/new"]);
    assert_eq!(denied.code, Some(1), "{denied:?}");
    assert!(denied.stderr.contains("Permission denied"), "{denied:?}");
    let appended = d.docker(&["run", "--rm", "-v", &bind, "busybox", "sh", "-c", "echo x >> /h/secret"]);
    assert!(!appended.success(), "{appended:?}");
    assert_eq!(std::fs::read_to_string(host_dir.join("secret")).expect("read"), "host root's");
    assert!(!host_dir.join("new").exists());
    // Reading is still allowed: the files are others-readable, as for any unprivileged user.
    assert_eq!(d.ok(&["run", "--rm", "-v", &bind, "busybox", "cat", "/h/secret"]), "host root's");

    let base = first_host_uid();
    d.ok(&["run", "--rm", "-v", "userns-vol:/v", "busybox", "sh", "-c", "echo kept > /v/f"]);
    assert_eq!(
        d.ok(&["run", "--rm", "-v", "userns-vol:/v", "busybox", "stat", "-c", "%u %n", "/v", "/v/f"]),
        "0 /v\n0 /v/f\n"
    );
    let data = d.root().join("volumes/userns-vol/_data");
    assert_eq!(owner(&data.join("f")), (base, base));
    // The image's content copied up into a new volume keeps the owners the container sees.
    let copied = d.ok(&["run", "--rm", "-v", "userns-etc:/etc", "busybox", "stat", "-c", "%u", "/etc/passwd"]);
    assert_eq!(copied, "0\n");
}

#[test]
fn cp_commit_and_export_keep_the_ids_the_container_sees() {
    let d = daemon();
    let base = first_host_uid();
    let id = d.ok(&["run", "-d", "busybox", "sh", "-c", "echo z > /z; chown 7:8 /z; sleep 300"]);
    let id = id.trim();
    d.ok(&["exec", id, "true"]);
    // An archive the client made, with its owners: docker cp - keeps them (as the container's ids).
    let tar_bytes = one_file_tar("in.txt", b"data", 1234, 4321);
    let copied = d.docker_with_input(&["cp", "-", &format!("{id}:/")], &tar_bytes);
    assert!(copied.success(), "{copied:?}");
    assert_eq!(d.ok(&["exec", id, "stat", "-c", "%u:%g", "/in.txt"]), "1234:4321\n");
    assert_eq!(owner(&upper_dir(d, id).join("in.txt")), (base + 1234, base + 4321));

    let out = d.docker_command(&["cp", &format!("{id}:/z"), "-"]).output().expect("docker cp out");
    let mut archive = tar::Archive::new(out.stdout.as_slice());
    let entry = archive.entries().expect("entries").next().expect("one entry").expect("entry");
    assert_eq!((entry.header().uid().unwrap(), entry.header().gid().unwrap()), (7, 8));

    d.ok(&["commit", id, "userns-commit:1"]);
    assert_eq!(d.ok(&["run", "--rm", "userns-commit:1", "stat", "-c", "%u:%g", "/z", "/in.txt"]), "7:8\n1234:4321\n");
    // Without a user namespace the committed layer reads the same: it holds the container's ids, not the host's.
    let host = d.ok(&["run", "--rm", "--userns", "host", "userns-commit:1", "stat", "-c", "%u:%g", "/z"]);
    assert_eq!(host, "7:8\n");

    let export = d.docker_command(&["export", id]).output().expect("docker export");
    let mut archive = tar::Archive::new(export.stdout.as_slice());
    let z = archive
        .entries()
        .expect("entries")
        .filter_map(Result::ok)
        .find(|e| e.path().ok().as_deref() == Some(std::path::Path::new("z")))
        .expect("z in the export");
    assert_eq!((z.header().uid().unwrap(), z.header().gid().unwrap()), (7, 8));
    d.ok(&["rm", "-f", id]);
}

#[test]
fn builds_keep_the_owners_of_run_copy_add_and_workdir() {
    let d = daemon();
    let context = d.scratch_dir("userns-build");
    std::fs::write(
        context.join("Dockerfile"),
        "FROM busybox\nRUN mkdir /r && touch /r/a && chown 5:6 /r/a\nCOPY --chown=1000:1001 x /x\nWORKDIR /w\n\
         ADD t.tar /t/\n",
    )
    .expect("Dockerfile");
    std::fs::write(context.join("x"), "x").expect("x");
    std::fs::write(context.join("t.tar"), one_file_tar("q", b"q", 33, 34)).expect("t.tar");
    d.ok(&["build", "-q", "-t", "userns-build:1", &context.to_string_lossy()]);
    let owners = d.ok(&["run", "--rm", "userns-build:1", "stat", "-c", "%u:%g %n", "/r/a", "/x", "/w", "/t/q"]);
    assert_eq!(owners, "5:6 /r/a\n1000:1001 /x\n0:0 /w\n33:34 /t/q\n");
}

#[test]
fn exec_and_terminals_run_inside_the_user_namespace() {
    let d = daemon();
    let base = first_host_uid();
    let id = d.ok(&["run", "-d", "busybox", "sleep", "300"]);
    let id = id.trim();
    let map = d.ok(&["exec", id, "cat", "/proc/self/uid_map"]);
    assert_eq!(map.split_whitespace().collect::<Vec<_>>(), ["0", &base.to_string(), "65536"]);
    // stdio handed to the container's user: reopening it by path works.
    let piped =
        d.docker_with_input(&["exec", "-i", id, "sh", "-c", "cat > /dev/stdout; echo err > /dev/stderr"], b"in\n");
    assert!(piped.success(), "{piped:?}");
    assert_eq!((piped.stdout.as_str(), piped.stderr.as_str()), ("in\n", "err\n"));
    let user = d.ok(&["exec", "--user", "1000", id, "sh", "-c", "id -u; echo ok > /dev/stdout"]);
    assert_eq!(user, "1000\nok\n");
    let tty = d.ok(&["run", "--rm", "-t", "busybox", "sh", "-c", "stat -c %u $(tty); echo hi > /dev/console"]);
    assert_eq!(tty.replace('\r', ""), "0\nhi\n");
    d.ok(&["rm", "-f", id]);
}

#[test]
fn the_remapped_root_binds_low_ports_in_its_network_namespace() {
    let d = daemon();
    let out = d.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; nc -l -p 80 & sleep 0.5; netstat -ltn | grep -c ':80 '",
    ]);
    assert_eq!(out, "0\n1\n");
}

#[test]
fn userns_host_opts_out_and_what_needs_the_host_is_refused() {
    let d = daemon();
    let host = d.ok(&["run", "--rm", "--userns", "host", "busybox", "cat", "/proc/self/uid_map"]);
    assert_eq!(host.split_whitespace().collect::<Vec<_>>(), ["0", "0", "4294967295"]);
    for (flags, message) in [
        (
            &["--privileged"][..],
            "privileged mode is incompatible with user namespaces.  You must run the container in the host namespace \
             when running privileged mode",
        ),
        (&["--network", "host"][..], "cannot share the host's network namespace when user namespaces are enabled"),
        (&["--pid", "host"][..], "cannot share the host PID namespace when user namespaces are enabled"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let refused = d.docker(&args);
        assert_eq!(refused.code, Some(125), "{refused:?}");
        assert!(refused.stderr.contains(message), "{flags:?}: {refused:?}");
    }
    let host_net =
        d.ok(&["run", "--rm", "--userns", "host", "--network", "host", "busybox", "cat", "/proc/self/uid_map"]);
    assert_eq!(host_net.split_whitespace().next(), Some("0"));
    let audit = d.ok(&["run", "-d", "--name", "userns-audited", "busybox", "sleep", "300"]);
    let review = d.get_json(&format!("/berth/audit/{}", audit.trim()));
    let ids: Vec<&str> =
        review["findings"].as_array().expect("findings").iter().filter_map(|f| f["id"].as_str()).collect();
    assert!(ids.contains(&"root-user") && !ids.contains(&"no-userns"), "{review}");
    d.ok(&["rm", "-f", "userns-audited"]);
}

#[test]
fn private_ranges_give_each_container_its_own_slice_across_a_restart() {
    let mut d = Daemon::start_with_args(&["--userns-remap", "default", "--userns-private-ranges"]);
    let base = first_host_uid();
    let map_of = |d: &Daemon, name: &str| -> u32 {
        let map = d.ok(&["exec", name, "cat", "/proc/self/uid_map"]);
        map.split_whitespace().nth(1).and_then(|f| f.parse().ok()).unwrap_or_else(|| panic!("{map}"))
    };
    d.ok(&["run", "-d", "--name", "first", "busybox", "sleep", "300"]);
    d.ok(&["run", "-d", "--name", "second", "busybox", "sleep", "300"]);
    assert_eq!(map_of(&d, "first"), base);
    assert_eq!(map_of(&d, "second"), base + 65_536);
    d.crash_and_restart();
    d.ok(&["start", "first"]);
    assert_eq!(map_of(&d, "first"), base, "a container keeps its slice across a restart");
    d.ok(&["run", "-d", "--name", "third", "busybox", "sleep", "300"]);
    assert_eq!(map_of(&d, "third"), base + 2 * 65_536, "slices held by recorded containers are not handed out");
    d.ok(&["rm", "-f", "second"]);
    d.ok(&["run", "-d", "--name", "fourth", "busybox", "sleep", "300"]);
    assert_eq!(map_of(&d, "fourth"), base + 65_536, "a removed container's slice is free again");
    // Two containers of different slices share no ids: one's file is nobody's to the other.
    d.ok(&["run", "-d", "--name", "writer", "-v", "shared-vol:/v", "busybox", "sh", "-c", "touch /v/f; sleep 300"]);
    d.ok(&["exec", "writer", "true"]);
    let seen = d.ok(&["run", "--rm", "-v", "shared-vol:/v", "busybox", "stat", "-c", "%u", "/v/f"]);
    assert_eq!(seen, "65534\n");
}

#[test]
fn a_range_too_small_stops_the_daemon_naming_the_file_and_the_user() {
    const USER: &str = "berth-small-range";
    // On a fresh machine the shared daemon's first start adds berth-remap's range to the same files: let it
    // finish, or the two read-modify-writes race and one loses its line.
    let _ = daemon();
    let _ = Command::new("userdel").arg(USER).output();
    let added = Command::new("useradd").args(["--system", "--no-create-home", USER]).output().expect("useradd");
    assert!(added.status.success(), "{added:?}");
    let line = format!("{USER}:3000000000:1000\n");
    for file in ["/etc/subuid", "/etc/subgid"] {
        let mut text = std::fs::read_to_string(file).unwrap_or_default();
        text.push_str(&line);
        std::fs::write(file, text).expect("write a small range");
    }
    let dir = support::target_dir().join("e2e").join("small-range");
    let _ = std::fs::remove_dir_all(&dir);
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .env("RUST_BACKTRACE", "0")
        .args(["serve", "--root"])
        .arg(dir.join("root"))
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .args(["--http", "127.0.0.1:0", "--userns-remap", USER])
        .output()
        .expect("berth serve");
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        std::fs::write(file, text.replace(&line, "")).expect("restore");
    }
    let _ = Command::new("userdel").arg(USER).output();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "/etc/subuid: the subordinate range of {USER} holds 1000 ids from 3000000000; a remapped container needs 65536"
        )),
        "{stderr}"
    );
}
