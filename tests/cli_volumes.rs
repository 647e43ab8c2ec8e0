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

#[test]
fn docker_cp_reads_and_writes_volumes_and_binds() {
    let daemon = Daemon::start();
    let bind = daemon.scratch_dir("cp-bind");
    let scratch = daemon.scratch_dir("cp-files");
    std::fs::write(scratch.join("in.txt"), "copied in\n").expect("a file to copy");
    let (volume_mount, bind_mount, read_only) =
        ("cpvol:/data".to_string(), format!("{}:/bound", bind.display()), "cpro:/locked:ro".to_string());
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "cp",
        "-v",
        &volume_mount,
        "-v",
        &bind_mount,
        "-v",
        &read_only,
        "busybox",
        "sleep",
        "1000",
    ]);
    let into = |target: &str| daemon.ok(&["cp", scratch.join("in.txt").to_str().expect("utf-8"), target]);

    // Into a running container's volume and bind: the container sees the files at once.
    into("cp:/data/");
    into("cp:/bound/");
    assert_eq!(daemon.ok(&["exec", "cp", "cat", "/data/in.txt", "/bound/in.txt"]), "copied in\ncopied in\n");
    assert_eq!(std::fs::read_to_string(bind.join("in.txt")).expect("written through the bind"), "copied in\n");

    // Out of them: what the container wrote there.
    daemon.ok(&["exec", "cp", "sh", "-c", "echo from-volume > /data/out.txt; echo from-bind > /bound/out.txt"]);
    for (source, expected) in [("cp:/data/out.txt", "from-volume\n"), ("cp:/bound/out.txt", "from-bind\n")] {
        let target = scratch.join("out.txt");
        daemon.ok(&["cp", source, target.to_str().expect("utf-8")]);
        assert_eq!(std::fs::read_to_string(&target).expect("copied out"), expected, "{source}");
    }
    // The mount point itself copies under its own name, with the volume's files in it.
    let whole = scratch.join("whole");
    daemon.ok(&["cp", "cp:/data", whole.to_str().expect("utf-8")]);
    let mut names: Vec<String> = std::fs::read_dir(&whole)
        .expect("the mount point became a directory")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["in.txt", "out.txt"]);

    // A read-only mount refuses a copy in with dockerd's words, and keeps nothing of it.
    let refused = daemon.docker(&["cp", scratch.join("in.txt").to_str().expect("utf-8"), "cp:/locked/"]);
    assert!(!refused.success() && refused.stderr.contains("mounted volume is marked read-only"), "{refused:?}");
    assert_eq!(daemon.ok(&["exec", "cp", "ls", "-A", "/locked"]), "");
    daemon.ok(&["rm", "-f", "cp"]);
    daemon.ok(&["volume", "rm", "cpvol", "cpro"]);
}
