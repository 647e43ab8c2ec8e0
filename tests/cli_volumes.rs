//! Volumes and binds through the real docker CLI: named volumes shared between containers, copy-up, anonymous
//! volumes, `--volumes-from`, read-only binds, bad input, and a daemon restart.

mod support;

use support::Daemon;

#[test]
fn named_volumes_carry_data_between_containers() {
    let daemon = Daemon::start();
    assert_eq!(daemon.ok(&["volume", "create", "--label", "kind=test", "v1"]).trim(), "v1");
    daemon.ok(&["run", "--rm", "-v", "v1:/data", "busybox", "sh", "-c", "echo kept > /data/f"]);
    assert_eq!(daemon.ok(&["run", "--rm", "-v", "v1:/data", "busybox", "cat", "/data/f"]).trim(), "kept");
    let mount = daemon.ok(&["run", "--rm", "--mount", "type=volume,source=v1,target=/m", "busybox", "cat", "/m/f"]);
    assert_eq!(mount.trim(), "kept");
    let listed = daemon.ok(&["volume", "ls", "--filter", "label=kind=test", "--format", "{{.Name}}"]);
    assert_eq!(listed.trim(), "v1");
    let mountpoint = daemon.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "v1"]);
    assert_eq!(std::fs::read_to_string(format!("{}/f", mountpoint.trim())).expect("volume data on the host"), "kept\n");

    // In use by a container (even a stopped one): 409 and the volume stays.
    daemon.ok(&["create", "--name", "holder", "-v", "v1:/data", "busybox", "true"]);
    let busy = daemon.docker(&["volume", "rm", "v1"]);
    assert!(!busy.success() && busy.stderr.contains("volume is in use"), "{busy:?}");
    daemon.ok(&["rm", "holder"]);
    daemon.ok(&["volume", "rm", "v1"]);
    let gone = daemon.docker(&["volume", "inspect", "v1"]);
    assert!(!gone.success() && gone.stderr.contains("no such volume"), "{gone:?}");
    let slash = daemon.docker(&["volume", "create", "a/b"]);
    assert!(slash.stderr.contains("includes invalid characters for a local volume name"), "{slash:?}");
    let run_slash = daemon.docker(&["run", "--rm", "--mount", "type=volume,source=a/b,target=/x", "busybox", "true"]);
    assert!(!run_slash.success(), "{run_slash:?}");
}

#[test]
fn new_volumes_get_the_image_content_and_anonymous_ones_go_with_rm_v() {
    let daemon = Daemon::start();
    // Copy-up: an empty new volume mounted over /etc starts with the image's /etc.
    daemon.ok(&["run", "--rm", "-v", "etccopy:/etc", "busybox", "true"]);
    let copied = daemon.ok(&["run", "--rm", "-v", "etccopy:/x", "busybox", "cat", "/x/passwd"]);
    assert!(copied.contains("root:x:0:0"), "{copied}");

    // `-v /path` makes an anonymous volume, listed in Mounts and removed by rm -v.
    daemon.ok(&["run", "--name", "anon", "-v", "/data", "busybox", "sh", "-c", "echo a > /data/f"]);
    let name = daemon.ok(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon"]).trim().to_string();
    assert_eq!(name.len(), 64, "an anonymous volume: {name:?}");
    // --volumes-from sees the same data.
    let shared = daemon.ok(&["run", "--rm", "--volumes-from", "anon", "busybox", "cat", "/data/f"]);
    assert_eq!(shared.trim(), "a");
    assert!(daemon.ok(&["volume", "ls", "-q"]).contains(&name));
    daemon.ok(&["rm", "-v", "anon"]);
    assert!(!daemon.ok(&["volume", "ls", "-q"]).contains(&name), "rm -v removes the anonymous volume");
    // --rm does the same.
    daemon.ok(&["run", "--rm", "-v", "/scratch", "busybox", "true"]);
    assert_eq!(daemon.ok(&["volume", "ls", "-q"]).trim(), "etccopy");
    daemon.ok(&["volume", "create", "unused"]);
    let pruned = daemon.ok(&["volume", "prune", "-a", "-f"]);
    assert!(pruned.contains("unused") && pruned.contains("etccopy"), "{pruned}");
}

#[test]
fn binds_write_through_and_read_only_binds_refuse() {
    let daemon = Daemon::start();
    let dir = daemon.scratch_dir("bind");
    let spec = format!("{}:/data", dir.display());
    daemon.ok(&["run", "--rm", "-v", &spec, "busybox", "sh", "-c", "echo x > /data/f"]);
    assert_eq!(std::fs::read_to_string(dir.join("f")).expect("file written through the bind"), "x\n");
    let read_only = format!("{}:/data:ro", dir.display());
    let refused = daemon.docker(&["run", "--rm", "-v", &read_only, "busybox", "sh", "-c", "echo y > /data/g"]);
    assert!(!refused.success() && refused.stderr.contains("Read-only file system"), "{refused:?}");
    assert!(!dir.join("g").exists());

    let missing = dir.join("missing");
    let mount = format!("type=bind,source={},target=/x", missing.display());
    let error = daemon.docker(&["run", "--rm", "--mount", &mount, "busybox", "true"]);
    assert!(error.stderr.contains("bind source path does not exist"), "{error:?}");
    assert_eq!(daemon.ok(&["ps", "-aq"]).trim(), "", "no container is left from the refused create");
    let legacy = format!("{}:/x", missing.display());
    daemon.ok(&["run", "--rm", "-v", &legacy, "busybox", "true"]);
    assert!(missing.is_dir(), "-v creates a missing source, as Docker does");
}

#[test]
fn volumes_survive_a_daemon_restart() {
    let mut daemon = Daemon::start();
    daemon.ok(&["volume", "create", "--label", "keep=yes", "kept"]);
    daemon.ok(&["run", "--rm", "-v", "kept:/d", "busybox", "sh", "-c", "echo still > /d/f"]);
    daemon.crash_and_restart();
    assert_eq!(daemon.ok(&["volume", "inspect", "-f", "{{.Labels.keep}}", "kept"]).trim(), "yes");
    assert_eq!(daemon.ok(&["run", "--rm", "-v", "kept:/d", "busybox", "cat", "/d/f"]).trim(), "still");
}
