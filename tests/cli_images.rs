//! Images through the real docker CLI: images, tag, rmi, import (with --change), export → import round trip.

mod support;

use support::Daemon;

#[test]
fn images_tag_and_rmi() {
    let daemon = Daemon::start();
    let images = daemon.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), "busybox:latest");
    daemon.ok(&["tag", "busybox", "mybox:v1"]);
    let images = daemon.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.contains("mybox:v1") && images.contains("busybox:latest"), "{images}");
    assert_eq!(daemon.ok(&["run", "--rm", "mybox:v1", "echo", "tagged"]).trim(), "tagged");
    let untagged = daemon.ok(&["rmi", "mybox:v1"]);
    assert!(untagged.contains("Untagged: mybox:v1"), "{untagged}");
    let missing = daemon.docker(&["rmi", "nosuch:tag"]);
    assert!(missing.stderr.contains("No such image: nosuch:tag"), "{missing:?}");
    daemon.ok(&["run", "--name", "user", "busybox", "true"]);
    let in_use = daemon.docker(&["rmi", "busybox"]);
    assert_ne!(in_use.code, Some(0), "an image in use is kept: {in_use:?}");
    assert!(in_use.stderr.contains("conflict"), "{in_use:?}");
}

#[test]
fn export_then_import_round_trips_with_changes() {
    let daemon = Daemon::start();
    daemon.ok(&["run", "--name", "src", "busybox", "sh", "-c", "echo imported > /marker"]);
    let dir = daemon.scratch_dir("import");
    let tar = dir.join("rootfs.tar");
    daemon.ok(&["export", "-o", tar.to_str().unwrap(), "src"]);
    let imported = daemon.ok(&[
        "import",
        "--change",
        "CMD [\"cat\", \"/marker\"]",
        "--change",
        "ENV FLAVOR=vanilla",
        tar.to_str().unwrap(),
        "restored:1",
    ]);
    assert!(imported.trim().starts_with("sha256:"), "{imported}");
    assert_eq!(daemon.ok(&["run", "--rm", "restored:1"]).trim(), "imported");
    assert_eq!(daemon.ok(&["run", "--rm", "restored:1", "sh", "-c", "echo $FLAVOR"]).trim(), "vanilla");
    let cmd = daemon.ok(&["inspect", "-f", "{{json .Config.Cmd}}", "restored:1"]);
    assert_eq!(cmd.trim(), r#"["cat","/marker"]"#);
}
