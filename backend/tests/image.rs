//! Image store tests. They run as root (mknod, chown, trusted.* xattrs, chroot) and call skopeo and umoci to prove
//! the OCI layout is valid; nothing is skipped.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_image::archive::{self, CHANGE_ADDED, CHANGE_DELETED, CHANGE_MODIFIED};
use berth_image::{reference, ContainerUse, HistoryEntry, ImageConfigChanges, ImageError, ImageStore};
use bollard_stubs::models::ImageDeleteResponseItem;
use tar::{EntryType, Header};
use tempfile::TempDir;

fn store() -> (TempDir, ImageStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    (dir, s)
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd} must be installed: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tar built entry by entry.
struct TarBuf(tar::Builder<Vec<u8>>);

impl TarBuf {
    fn new() -> Self {
        TarBuf(tar::Builder::new(Vec::new()))
    }
    fn header(kind: EntryType, mode: u32, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }
    fn dir(mut self, path: &str) -> Self {
        let mut h = Self::header(EntryType::Directory, 0o755, 0);
        self.0.append_data(&mut h, path, std::io::empty()).unwrap();
        self
    }
    fn file(mut self, path: &str, data: &[u8]) -> Self {
        let mut h = Self::header(EntryType::Regular, 0o644, data.len() as u64);
        self.0.append_data(&mut h, path, data).unwrap();
        self
    }
    fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(EntryType::Symlink, 0o777, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }
    fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(EntryType::Link, 0o644, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }
    /// An entry whose name is written raw (the tar crate refuses `..` in names).
    fn raw_file(mut self, name: &str, data: &[u8]) -> Self {
        let mut h = Self::header(EntryType::Regular, 0o644, data.len() as u64);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn blob_count(root: &Path) -> usize {
    fs::read_dir(root.join("oci/blobs/sha256")).unwrap().count()
}

fn tar_names(data: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(data);
    a.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
}

fn no_use(_: &str) -> Option<ContainerUse> {
    None
}

fn index_json(root: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(root.join("oci/index.json")).unwrap()).unwrap()
}

#[test]
fn busybox_is_deterministic_and_a_valid_oci_layout() {
    let (dir, s) = store();
    s.ensure_busybox().unwrap();
    s.ensure_busybox().unwrap();
    assert_eq!(s.list().len(), 1);
    let img = s.get("busybox").unwrap();
    assert_eq!(img.repo_tags, vec!["busybox:latest"]);
    assert!(img.id.starts_with("sha256:") && img.id.len() == 71);
    let cfg = img.config.config().clone().unwrap();
    assert_eq!(cfg.cmd().as_deref().unwrap(), ["sh"]);
    assert_eq!(cfg.env().as_deref().unwrap(), ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    let label = &cfg.labels().as_ref().unwrap()["org.opencontainers.image.source"];
    assert!(label.starts_with("host /bin/busybox (busybox-static v"), "{label}");

    // Same host, another store, same ID.
    let (_dir2, s2) = store();
    s2.ensure_busybox().unwrap();
    assert_eq!(s2.get("busybox:latest").unwrap().id, img.id);

    // Every spelling finds it.
    let hex = img.id.trim_start_matches("sha256:").to_string();
    for r in [
        "busybox:latest".to_string(),
        "library/busybox".to_string(),
        "docker.io/library/busybox:latest".to_string(),
        img.id.clone(),
        hex.clone(),
        hex[..4].to_string(),
        hex[..12].to_string(),
        format!("sha256:{}", &hex[..10]),
        format!("busybox@{}", img.manifest_digest),
    ] {
        assert_eq!(s.get(&r).unwrap().id, img.id, "{r}");
    }
    let e = s.get("nosuch").unwrap_err();
    assert_eq!(e.to_string(), "No such image: nosuch:latest");
    assert_eq!(e.http_status(), 404);
    assert_eq!(s.get("nosuch:v2").unwrap_err().to_string(), "No such image: nosuch:v2");

    // The index carries both names.
    let idx = index_json(dir.path());
    let ann = &idx["manifests"][0]["annotations"];
    assert_eq!(ann["org.opencontainers.image.ref.name"], "busybox");
    assert_eq!(ann["io.containerd.image.name"], "docker.io/library/busybox:latest");

    // Other tools read the layout.
    let oci = dir.path().join("oci");
    let inspect = run("skopeo", &["inspect", &format!("oci:{}:busybox", oci.display())]);
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(v["Layers"][0], img.diff_ids[0]);
    let config = run("skopeo", &["inspect", "--config", &format!("oci:{}:busybox", oci.display())]);
    assert!(config.contains("\"diff_ids\""));
    let ls = run("umoci", &["ls", "--layout", &oci.to_string_lossy()]);
    assert_eq!(ls.trim(), "busybox");
    let bundle = tempfile::tempdir().unwrap();
    let bundle_dir = bundle.path().join("b");
    run("umoci", &["unpack", "--image", &format!("{}:busybox", oci.display()), &bundle_dir.to_string_lossy()]);
    assert!(bundle_dir.join("rootfs/bin/busybox").is_file());

    // The unpacked layer is a runnable rootfs.
    let dirs = s.layer_dirs(&img).unwrap();
    assert_eq!(dirs.len(), 1);
    let root = &dirs[0];
    assert_eq!(dirs[0], dir.path().join("layers").join(&img.diff_ids[0][7..]));
    assert!(root.join("bin/busybox").is_file());
    assert_eq!(fs::read_link(root.join("bin/sh")).unwrap(), Path::new("/bin/busybox"));
    assert_eq!(fs::metadata(root.join("tmp")).unwrap().permissions().mode() & 0o7777, 0o1777);
    assert_eq!(fs::metadata(root).unwrap().permissions().mode() & 0o777, 0o755);
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:root:/root:/bin/sh\n"));
    for d in ["root", "home", "var", "proc", "sys", "dev", "usr/bin", "usr/sbin", "sbin"] {
        assert!(root.join(d).is_dir(), "{d}");
    }
    let out = run("chroot", &[&root.to_string_lossy(), "/bin/sh", "-c", "echo hello from $(whoami)"]);
    assert_eq!(out.trim(), "hello from root");
    // Second call reuses the directory.
    assert_eq!(s.layer_dirs(&img).unwrap(), dirs);

    // Reopening finds the same state.
    drop(s);
    let s = ImageStore::open(dir.path()).unwrap();
    assert_eq!(s.get("busybox").unwrap(), img);
}

#[test]
fn import_with_changes_plain_and_gzip() {
    let (dir, s) = store();
    let tar = TarBuf::new().dir("etc/").file("etc/hello", b"hi\n").symlink("link", "etc/hello").bytes();
    let changes: Vec<String> =
        ["CMD [\"sh\"]", "ENV A=b", "WORKDIR /srv", "EXPOSE 80", "LABEL x=y"].iter().map(|s| s.to_string()).collect();
    let img = s.import(tar.as_slice(), Some("myapp:v1"), &changes, Some("my message")).unwrap();
    assert_eq!(img.repo_tags, vec!["myapp:v1"]);
    let cfg = img.config.config().clone().unwrap();
    assert_eq!(cfg.cmd().as_deref().unwrap(), ["sh"]);
    assert_eq!(cfg.env().as_deref().unwrap(), ["A=b"]);
    assert_eq!(cfg.working_dir().as_deref(), Some("/srv"));
    assert_eq!(cfg.exposed_ports().as_deref().unwrap(), ["80/tcp"]);
    assert_eq!(img.size, tar.len() as u64);
    assert_eq!(img.diff_ids.len(), 1);
    let h = s.history(&img);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].comment, "my message");
    assert_eq!(h[0].id, img.id);
    assert_eq!(h[0].size, tar.len() as i64);

    let idx = index_json(dir.path());
    assert_eq!(idx["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "myapp:v1");
    let oci = dir.path().join("oci");
    run("skopeo", &["inspect", &format!("oci:{}:myapp:v1", oci.display())]);

    let layer = &s.layer_dirs(&img).unwrap()[0];
    assert_eq!(fs::read(layer.join("etc/hello")).unwrap(), b"hi\n");

    // gzip input is stored uncompressed: same content, same diff_id.
    let img2 = s.import(gzip(&tar).as_slice(), Some("gz"), &[], None).unwrap();
    assert_eq!(img2.diff_ids, img.diff_ids);
    assert_eq!(img2.repo_tags, vec!["gz:latest"]);

    // Bad change lines and bad tags.
    match s.import(tar.as_slice(), None, &["BOGUS x".to_string()], None) {
        Err(ImageError::InvalidChange { line, .. }) => assert_eq!(line, "BOGUS x"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(s.import(tar.as_slice(), Some("Bad:Name"), &[], None), Err(ImageError::InvalidReference { .. })));
    let blobs = blob_count(dir.path());
    let junk = vec![b'j'; 1536];
    assert!(s.import(junk.as_slice(), None, &[], None).is_err());
    assert_eq!(blob_count(dir.path()), blobs, "the invalid layer blob is dropped");
    assert_eq!(s.list().len(), 2);
}

#[test]
fn tag_remove_and_garbage_collection() {
    let (dir, s) = store();
    let tar = TarBuf::new().file("a", b"a").bytes();
    let img = s.import(tar.as_slice(), Some("one"), &[], None).unwrap();
    s.tag("one", "two").unwrap();
    s.tag(&img.id, "quay.io/x/three:v3").unwrap();
    assert!(matches!(s.tag("one", "UPPER"), Err(ImageError::InvalidReference { .. })));
    assert!(matches!(s.tag("one", "x:bad tag"), Err(ImageError::InvalidReference { .. })));
    assert!(matches!(s.tag("nosuch", "x"), Err(ImageError::NotFound { .. })));
    assert_eq!(s.get(&img.id).unwrap().repo_tags, vec!["one:latest", "quay.io/x/three:v3", "two:latest"]);

    // By ID with several tags: conflict unless forced.
    let e = s.remove(&img.id, false, true, &no_use).unwrap_err();
    let short = &img.id[7..19];
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")
    );
    assert_eq!(e.http_status(), 409);

    // By name: untag only.
    let items = s.remove("two", false, true, &no_use).unwrap();
    assert_eq!(items, vec![ImageDeleteResponseItem { untagged: Some("two:latest".into()), deleted: None }]);
    assert!(s.get("two").is_err());
    let items = s.remove("quay.io/x/three:v3", false, true, &no_use).unwrap();
    assert_eq!(items.len(), 1);

    // In use by containers.
    let running = |_: &str| Some(ContainerUse { container_id: "c0ffee1234567890".into(), running: true });
    let stopped = |_: &str| Some(ContainerUse { container_id: "deadbeef12345678".into(), running: false });
    let e = s.remove(&img.id, true, true, &running).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (cannot be forced) - image is being used by running container c0ffee123456")
    );
    let e = s.remove(&img.id, false, true, &stopped).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is being used by stopped container deadbeef1234")
    );
    let e = s.remove("one", false, true, &stopped).unwrap_err();
    assert!(e.to_string().contains("(must force) - container deadbeef1234 is using its referenced image"), "{e}");

    // Unpack, then delete the last tag: image, blobs and layer dir go.
    let layer_dir = s.layer_dirs(&img).unwrap()[0].clone();
    assert!(layer_dir.is_dir());
    let before = blob_count(dir.path());
    assert_eq!(before, 3);
    let items = s.remove("one", false, true, &no_use).unwrap();
    assert_eq!(
        items,
        vec![
            ImageDeleteResponseItem { untagged: Some("one:latest".into()), deleted: None },
            ImageDeleteResponseItem { untagged: None, deleted: Some(img.id.clone()) },
        ]
    );
    assert_eq!(blob_count(dir.path()), 0);
    assert!(!layer_dir.exists());
    assert!(s.list().is_empty());
    assert_eq!(index_json(dir.path())["manifests"].as_array().unwrap().len(), 0);

    // Shared layers survive the deletion of one of their images.
    let a = s.import(tar.as_slice(), Some("a"), &["CMD [\"a\"]".into()], None).unwrap();
    let b = s.import(tar.as_slice(), Some("b"), &["CMD [\"b\"]".into()], None).unwrap();
    assert_ne!(a.id, b.id);
    let dirs = s.layer_dirs(&a).unwrap();
    s.remove("a", false, true, &no_use).unwrap();
    assert!(dirs[0].is_dir());
    assert_eq!(s.layer_dirs(&b).unwrap(), dirs);
    s.remove(&b.id[7..15], false, true, &no_use).unwrap();
    assert!(!dirs[0].exists());
}

#[test]
fn dangling_images_survive_and_prune() {
    let (dir, s) = store();
    let t1 = TarBuf::new().file("x", b"1").bytes();
    let t2 = TarBuf::new().file("x", b"2").bytes();
    let untagged = s.import(t1.as_slice(), None, &[], None).unwrap();
    assert!(untagged.repo_tags.is_empty());
    let old = s.import(t2.as_slice(), Some("app"), &[], None).unwrap();
    // Moving the tag leaves the old image dangling, as Docker does.
    let new = s.import(t1.as_slice(), Some("app"), &["CMD [\"x\"]".into()], None).unwrap();
    assert!(s.get(&old.id).unwrap().repo_tags.is_empty());
    assert_eq!(s.get("app").unwrap().id, new.id);

    drop(s);
    let s = ImageStore::open(dir.path()).unwrap();
    assert_eq!(s.list().len(), 3);
    let idx = index_json(dir.path());
    let dangling =
        idx["manifests"].as_array().unwrap().iter().filter(|d| d["annotations"]["berth.dangling"] == "true").count();
    assert_eq!(dangling, 2);
    let ls = run("umoci", &["ls", "--layout", &dir.path().join("oci").to_string_lossy()]);
    assert_eq!(ls.trim(), "app");

    // Prune dangling, sparing one "used" by a container.
    let used_id = old.id.clone();
    let (items, reclaimed) = s.prune(true, &|_| true, &|id| id == used_id).unwrap();
    assert_eq!(items, vec![ImageDeleteResponseItem { untagged: None, deleted: Some(untagged.id.clone()) }]);
    assert!(reclaimed > 0);
    assert!(s.get(&old.id).is_ok());
    // Layer t1 is shared with `app`, so it survives.
    assert!(s.layer_dirs(&new).is_ok());
    let (items, _) = s.prune(false, &|_| true, &|_| false).unwrap();
    assert_eq!(items.len(), 3); // untag app, delete app, delete old
    assert!(s.list().is_empty());
    assert_eq!(blob_count(dir.path()), 0);
}

#[test]
fn whiteouts_unpack_to_overlay_form_and_commit_back() {
    let (dir, s) = store();
    let base_tar = TarBuf::new().dir("d/").file("d/old", b"o").file("gone", b"g").file("keep", b"k").bytes();
    let tar_path = dir.path().join("base.tar");
    fs::write(&tar_path, &base_tar).unwrap();
    let base = s
        .create_from(
            None,
            Some(&tar_path),
            Default::default(),
            HistoryEntry { created_by: "base".into(), ..Default::default() },
            &["base:1".to_string()],
        )
        .unwrap();
    let layer_tar =
        TarBuf::new().dir("d/").file("d/.wh..wh..opq", b"").file(".wh.gone", b"").file("d/new", b"n").bytes();
    fs::write(&tar_path, &layer_tar).unwrap();
    let img = s
        .create_from(
            Some(&base),
            Some(&tar_path),
            Default::default(),
            HistoryEntry { created_by: "RUN x".into(), ..Default::default() },
            &[],
        )
        .unwrap();
    let dirs = s.layer_dirs(&img).unwrap();
    assert_eq!(dirs.len(), 2);
    let top = &dirs[1];
    let gone = fs::symlink_metadata(top.join("gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert_eq!(xattr(&top.join("d"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert!(!top.join(".wh.gone").exists());
    assert!(!top.join("d/.wh..wh..opq").exists());
    assert!(top.join("d/new").is_file());

    // An overlay upper dir with a whiteout, an opaque dir and new files.
    let upper = dir.path().join("upper");
    fs::create_dir_all(upper.join("d/sub")).unwrap();
    fs::write(upper.join("d/sub/f"), b"f").unwrap();
    fs::write(upper.join("newfile"), b"new").unwrap();
    fs::hard_link(upper.join("newfile"), upper.join("newlink")).unwrap();
    mknod_whiteout(&upper.join("keep"));
    fs::create_dir(upper.join("opq")).unwrap();
    set_xattr(&upper.join("opq"), "trusted.overlay.opaque", b"y");
    // docker diff on it, against the image's layers.
    let changes = archive::changes(&upper, &dirs);
    let summary: Vec<(String, u8)> = changes.into_iter().map(|c| (c.path, c.kind)).collect();
    assert_eq!(
        summary,
        vec![
            ("/d".to_string(), CHANGE_MODIFIED),
            ("/d/sub".to_string(), CHANGE_ADDED),
            ("/d/sub/f".to_string(), CHANGE_ADDED),
            ("/keep".to_string(), CHANGE_DELETED),
            ("/newfile".to_string(), CHANGE_ADDED),
            ("/newlink".to_string(), CHANGE_ADDED),
            ("/opq".to_string(), CHANGE_ADDED),
        ]
    );

    let committed = s
        .commit(
            Some(&img),
            &upper,
            None,
            ImageConfigChanges { config: None, changes: vec!["CMD [\"/bin/true\"]".into()] },
            Some("committed:v1"),
            Some("a comment"),
            Some("me"),
            "sh -c touch",
        )
        .unwrap();
    assert_eq!(committed.diff_ids.len(), 3);
    assert_eq!(committed.config.author().as_deref(), Some("me"));
    let blob = fs::read(dir.path().join("oci/blobs/sha256").join(&committed.diff_ids[2][7..])).unwrap();
    let names = tar_names(&blob);
    assert_eq!(names, vec!["d/", "d/sub/", "d/sub/f", ".wh.keep", "newfile", "newlink", "opq/", "opq/.wh..wh..opq"]);
    let mut a = tar::Archive::new(blob.as_slice());
    let link = a.entries().unwrap().map(|e| e.unwrap()).find(|e| e.path().unwrap() == Path::new("newlink")).unwrap();
    assert_eq!(link.header().entry_type(), EntryType::Link);
    assert_eq!(link.link_name().unwrap().unwrap(), Path::new("newfile"));
    // Round trip: unpacking the committed layer restores the overlay form.
    let cdirs = s.layer_dirs(&committed).unwrap();
    let c = &cdirs[2];
    assert!(fs::symlink_metadata(c.join("keep")).unwrap().file_type().is_char_device());
    assert_eq!(xattr(&c.join("opq"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert_eq!(fs::metadata(c.join("newfile")).unwrap().ino(), fs::metadata(c.join("newlink")).unwrap().ino());

    // History: newest first, sizes per non-empty layer; an empty upper adds an empty layer entry.
    let empty_upper = dir.path().join("empty");
    fs::create_dir(&empty_upper).unwrap();
    let same = s
        .commit(Some(&committed), &empty_upper, None, ImageConfigChanges::default(), None, None, None, "true")
        .unwrap();
    assert_eq!(same.diff_ids, committed.diff_ids);
    assert_eq!(same.config.config().clone().unwrap().cmd().as_deref().unwrap(), ["/bin/true"]);
    let h = s.history(&same);
    let by: Vec<&str> = h.iter().map(|i| i.created_by.as_str()).collect();
    assert_eq!(by, vec!["true", "sh -c touch", "RUN x", "base"]);
    assert_eq!(h[0].size, 0);
    assert_eq!(h[0].id, same.id);
    assert_eq!(h[1].id, "<missing>");
    assert_eq!(h[1].size, blob.len() as i64);
    assert_eq!(h[1].comment, "a comment");
    assert_eq!(h[3].size, base_tar.len() as i64);
    assert!(same.repo_tags.is_empty());
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    berth_fs::xattr::get(path, name).unwrap_or_else(|e| panic!("getxattr {name} on {}: {e}", path.display()))
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    berth_fs::xattr::set(path, name, value).unwrap_or_else(|e| panic!("setxattr {name} on {}: {e}", path.display()));
}

fn mknod_whiteout(path: &Path) {
    run("mknod", &[&path.to_string_lossy(), "c", "0", "0"]);
}

#[test]
fn resolve_in_root_with_nasty_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("d/e")).unwrap();
    std::os::unix::fs::symlink("/..//../etc", root.join("a")).unwrap();
    std::os::unix::fs::symlink("../../..", root.join("d/up")).unwrap();
    std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
    std::os::unix::fs::symlink("/d/e/../up/etc/../../tmp", root.join("chain")).unwrap();
    std::os::unix::fs::symlink("/", root.join("slash")).unwrap();

    let r = |p: &str| archive::resolve_in_root(root, p).unwrap();
    assert_eq!(r("/a/passwd"), root.join("etc/passwd"));
    assert_eq!(r("a"), root.join("etc"));
    assert_eq!(r("/d/up/x"), root.join("x"));
    assert_eq!(r("/d/up/../../../etc"), root.join("etc"));
    assert_eq!(r("/chain"), root.join("tmp"));
    assert_eq!(r("/slash/slash/etc/shadow"), root.join("etc/shadow"));
    assert_eq!(r("../../../../"), root.to_path_buf());
    assert_eq!(r("/"), root.to_path_buf());
    assert_eq!(r("/nonexistent/../etc"), root.join("etc"));
    assert!(archive::resolve_in_root(root, "/loop/x").is_err());
}

#[test]
fn evil_tars_write_nothing_outside() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    let marker = outside.path().join("victim");
    fs::write(&marker, b"untouched").unwrap();
    let outside_rel = format!("{}", outside.path().display());

    // `..` entries are refused.
    let evil = TarBuf::new().raw_file("../../evil", b"x").bytes();
    assert!(archive::extract_tar(&root, "/", evil.as_slice(), false, None, None).is_err());
    assert!(!dir.path().join("evil").exists());
    // A symlink to / (or to the host path) followed by writes through it stays inside.
    let evil = TarBuf::new()
        .symlink("l", "/")
        .file("l/etc/evil", b"x")
        .symlink("o", &outside_rel)
        .file("o/victim", b"overwritten")
        .symlink("rel", "../../../../../../..")
        .file("rel/evil2", b"x")
        .bytes();
    archive::extract_tar(&root, "/", evil.as_slice(), false, None, None).unwrap();
    assert!(root.join("etc/evil").is_file());
    assert!(root.join("evil2").is_file());
    assert!(root.join(outside_rel.trim_start_matches('/')).join("victim").is_file());
    assert_eq!(fs::read(&marker).unwrap(), b"untouched");
    assert!(!Path::new("/etc/evil").exists());
    // A hard link to a host path is resolved inside the root: it links the copy in the root, not the host file.
    let evil = TarBuf::new().hardlink("h", &format!("{}", marker.display())).bytes();
    archive::extract_tar(&root, "/", evil.as_slice(), false, None, None).unwrap();
    assert_eq!(fs::metadata(&marker).unwrap().nlink(), 1);
    let inside = root.join(outside_rel.trim_start_matches('/')).join("victim");
    assert_eq!(fs::metadata(root.join("h")).unwrap().ino(), fs::metadata(&inside).unwrap().ino());
    let evil = TarBuf::new().hardlink("h2", "/etc/passwd").hardlink("h3", "../../../../etc/passwd").bytes();
    assert!(archive::extract_tar(&root, "/", evil.as_slice(), false, None, None).is_err());
    assert!(!root.join("h2").exists());
    // The dest dir itself may be a symlink to "/": it resolves inside.
    std::os::unix::fs::symlink("/", root.join("toroot")).unwrap();
    let t = TarBuf::new().file("inside", b"i").bytes();
    archive::extract_tar(&root, "/toroot", t.as_slice(), false, None, None).unwrap();
    assert!(root.join("inside").is_file());

    // The same evil tar as an image layer.
    let (sdir, s) = store();
    let evil = TarBuf::new()
        .symlink("l", "/")
        .file("l/etc/evil", b"x")
        .symlink("o", &outside_rel)
        .file("o/victim", b"w")
        .bytes();
    let img = s.import(evil.as_slice(), None, &[], None).unwrap();
    let layer = &s.layer_dirs(&img).unwrap()[0];
    assert!(layer.join("etc/evil").is_file());
    assert_eq!(fs::read(&marker).unwrap(), b"untouched");
    let evil = TarBuf::new().raw_file("../../evil", b"x").bytes();
    let img = s.import(evil.as_slice(), None, &[], None).unwrap();
    assert!(s.layer_dirs(&img).is_err());
    assert!(!sdir.path().join("evil").exists());
    assert!(!sdir.path().join("layers/evil").exists());
}

#[test]
fn cp_stat_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("etc/sub")).unwrap();
    fs::write(root.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
    fs::set_permissions(root.join("etc/passwd"), fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("pw")).unwrap();

    let st = archive::stat(root, "/etc/passwd").unwrap();
    assert_eq!((st.name.as_str(), st.size, st.mode), ("passwd", 26, 0o644));
    assert!(st.mtime.ends_with('Z'), "{}", st.mtime);
    let st = archive::stat(root, "/etc").unwrap();
    assert_eq!(st.mode & (1 << 31), 1 << 31);
    let st = archive::stat(root, "/pw").unwrap();
    assert_eq!(st.mode & (1 << 27), 1 << 27);
    assert_eq!(st.link_target, "/etc/passwd");
    let json = serde_json::to_value(&st).unwrap();
    assert!(json.get("linkTarget").is_some());
    match archive::stat(root, "/nope") {
        Err(e @ ImageError::PathNotFound { .. }) => {
            assert_eq!(e.to_string(), "Could not find the file /nope")
        }
        other => panic!("{other:?}"),
    }

    let mut out = Vec::new();
    archive::write_tar(root, "/etc", &mut out, None).unwrap();
    assert_eq!(tar_names(&out), vec!["etc/", "etc/passwd", "etc/sub/"]);
    let mut out = Vec::new();
    archive::write_tar(root, "/pw", &mut out, None).unwrap();
    assert_eq!(tar_names(&out), vec!["pw"]);

    // cp in: into an existing dir, with dir/non-dir protection.
    let t = TarBuf::new().dir("new/").file("new/f", b"f").bytes();
    archive::extract_tar(root, "/etc/sub", t.as_slice(), false, None, None).unwrap();
    assert_eq!(fs::read(root.join("etc/sub/new/f")).unwrap(), b"f");
    let t = TarBuf::new().file("sub", b"x").bytes();
    assert!(archive::extract_tar(root, "/etc", t.as_slice(), true, None, None).is_err());
    assert!(root.join("etc/sub").is_dir());
    assert!(matches!(
        archive::extract_tar(root, "/missing", t.as_slice(), false, None, None),
        Err(ImageError::PathNotFound { .. })
    ));
    assert!(matches!(
        archive::extract_tar(root, "/etc/passwd", t.as_slice(), false, None, None),
        Err(ImageError::NotADirectory { .. })
    ));
    // gzip accepted.
    let t = gzip(&TarBuf::new().file("gz", b"z").bytes());
    archive::extract_tar(root, "/", t.as_slice(), false, None, None).unwrap();
    assert!(root.join("gz").is_file());

    let mut out = Vec::new();
    archive::export(root, &mut out, None).unwrap();
    let names = tar_names(&out);
    assert!(names.contains(&"etc/passwd".to_string()) && names.contains(&"pw".to_string()), "{names:?}");
    let mut a = tar::Archive::new(out.as_slice());
    let mut content = String::new();
    a.entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().unwrap() == Path::new("etc/passwd"))
        .unwrap()
        .read_to_string(&mut content)
        .unwrap();
    assert!(content.starts_with("root:"));
}

#[test]
fn reference_normalize_is_public() {
    assert_eq!(reference::normalize("busybox").unwrap(), "busybox:latest");
    assert_eq!(reference::normalize("docker.io/library/busybox").unwrap(), "busybox:latest");
    assert!(reference::normalize("Busybox").is_err());
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<ImageStore>();
    let _: Option<PathBuf> = None;
}

/// Unmounts on drop, so a failing assertion does not leave a mount behind.
struct Mount(PathBuf);

impl Mount {
    /// Overlay with `layers` LOWEST first (as `layer_dirs` returns them); overlayfs wants the top first.
    fn overlay(layers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> Mount {
        let lower: Vec<String> = layers.iter().rev().map(|p| p.display().to_string()).collect();
        let opts = format!("lowerdir={},upperdir={},workdir={}", lower.join(":"), upper.display(), work.display());
        run("mount", &["-t", "overlay", "overlay", "-o", &opts, &target.to_string_lossy()]);
        Mount(target.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn unpacked_layers_work_as_overlay_lowerdirs_and_commit_real_upper() {
    let (dir, s) = store();
    s.ensure_busybox().unwrap();
    let bb = s.get("busybox").unwrap();
    let tar = TarBuf::new()
        .dir("bin/")
        .file("bin/.wh.ls", b"")
        .dir("etc/")
        .file("etc/.wh..wh..opq", b"")
        .file("etc/only", b"1")
        .bytes();
    let tar_path = dir.path().join("l.tar");
    fs::write(&tar_path, &tar).unwrap();
    let img = s
        .create_from(
            Some(&bb),
            Some(&tar_path),
            bb.config.config().clone().unwrap(),
            HistoryEntry::default(),
            &["ov".into()],
        )
        .unwrap();
    let layers = s.layer_dirs(&img).unwrap();
    let (upper, work, merged) = (dir.path().join("upper"), dir.path().join("work"), dir.path().join("merged"));
    for d in [&upper, &work, &merged] {
        fs::create_dir(d).unwrap();
    }
    {
        let _m = Mount::overlay(&layers, &upper, &work, &merged);
        assert!(!merged.join("bin/ls").exists(), "whiteout in the top layer hides bin/ls");
        assert!(merged.join("bin/cat").exists());
        let etc: Vec<_> = fs::read_dir(merged.join("etc")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(etc, vec!["only"], "opaque etc hides passwd/group");
        run("chroot", &[&merged.to_string_lossy(), "/bin/sh", "-c", "rm /bin/cat && echo x > /new && mkdir /etc/y"]);
    }
    let changes: Vec<(String, u8)> = archive::changes(&upper, &layers).into_iter().map(|c| (c.path, c.kind)).collect();
    assert_eq!(
        changes,
        vec![
            ("/bin".to_string(), CHANGE_MODIFIED),
            ("/bin/cat".to_string(), CHANGE_DELETED),
            ("/etc".to_string(), CHANGE_MODIFIED),
            ("/etc/y".to_string(), CHANGE_ADDED),
            ("/new".to_string(), CHANGE_ADDED),
        ]
    );
    let committed = s
        .commit(Some(&img), &upper, None, ImageConfigChanges::default(), Some("ov:2"), None, None, "sh -c edit")
        .unwrap();
    assert_eq!(committed.diff_ids.len(), 3);
    let layers = s.layer_dirs(&committed).unwrap();
    let (upper2, work2) = (dir.path().join("upper2"), dir.path().join("work2"));
    fs::create_dir(&upper2).unwrap();
    fs::create_dir(&work2).unwrap();
    let _m = Mount::overlay(&layers, &upper2, &work2, &merged);
    assert!(!merged.join("bin/cat").exists());
    assert!(!merged.join("bin/ls").exists());
    assert!(merged.join("bin/busybox").exists());
    assert_eq!(fs::read(merged.join("new")).unwrap(), b"x\n");
    assert!(merged.join("etc/y").is_dir());
    assert!(merged.join("etc/only").is_file());
    let out = run("chroot", &[&merged.to_string_lossy(), "/bin/sh", "-c", "echo ok"]);
    assert_eq!(out.trim(), "ok");
}
