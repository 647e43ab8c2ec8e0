//! Registries that lie, loop, break off or serve hostile tars, and a daemon killed mid-pull, through the real
//! docker CLI (issue #11's "Bad input" and "Crash safety").
//!
//! The hostile registry is a small HTTP/1.1 server run here on 127.0.0.1 ([`HostileServer`]): it speaks just
//! enough of the distribution API (`GET /v2/`, manifests, blobs with or without `Range`) to serve images built
//! here ([`Image`]: an OCI manifest, config and gzipped layers with correct digests and diff IDs, so only the part
//! a case makes hostile is). Each case's handler misbehaves in one way and serves everything else honestly,
//! including the tag `good`, whose pull afterwards shows that the daemon still works.
//!
//! A refused pull must end with a clear error, no image, a daemon that still serves, and an image store exactly
//! as it was: no `.tmp-*` file or directory and no blob or layer directory that no image references
//! ([`StoreListing`]).
//!
//! What dockerd 20.10 says for the same pulls (from these tests run with `BERTH_E2E_DOCKER_HOST` pointing at a
//! reference dockerd) is in each test's comments; Berth's words need not be the same here, only clear.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest as _, Sha256};
use support::registry::{host_arch, seed_image, Registry};
use support::Daemon;

const DOCKER: &str = "/usr/local/bin/docker";
/// The one repository a hostile server serves: images are `127.0.0.1:PORT/x:TAG`.
const REPOSITORY: &str = "x";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Berth's (and containerd's) bound on a manifest, as its error message states it.
const MANIFEST_LIMIT: u64 = 4 << 20;
/// The busybox image's own /etc/passwd: not the host's, so a read of it through a symlink tells whose it was.
const IMAGE_PASSWD: &str = "root:x:0:0:hostile-registry image:/root:/bin/sh\n";
/// How long a condition the test waits for may take (a pull of a few MB on a machine busy with builds).
const WAIT: Duration = Duration::from_secs(90);

#[test]
fn a_100_mb_manifest_is_refused_at_the_size_limit() {
    const SIZE: u64 = 100_000_000;
    let daemon = Daemon::start();
    let before = StoreListing::of(&daemon);
    let sent = Arc::new(Progress::default());
    let repository = Repository::with_good_image();
    let server = HostileServer::start({
        let sent = Arc::clone(&sent);
        move |request, stream| {
            if request.path == manifest_path("1") {
                return stream_huge_manifest(request, stream, SIZE, &sent);
            }
            serve_honestly(&repository, request, stream)
        }
    });
    let reference = server.reference("1");

    // dockerd: "Error response from daemon: ..." (see the report of this test's run against dockerd).
    let stderr = pull_fails(&daemon, &reference);
    assert_eq!(
        stderr.trim(),
        format!("Error response from daemon: manifest for {reference} is larger than {MANIFEST_LIMIT} bytes"),
        "{}",
        daemon.log_tail()
    );
    before.assert_unchanged(&daemon, &server);
    assert_daemon_still_pulls(&daemon, &server);

    // The bound must bound what is read, not only what is parsed: a manifest of 10 GB would otherwise be held in
    // memory whole before it is refused. What the server got rid of is what the daemon read plus what the two
    // sockets' buffers hold (a few MB on loopback).
    let sent_so_far = || format!("{} bytes sent", sent.bytes.load(Ordering::SeqCst));
    wait_for(&daemon, "the server to stop sending the manifest", || sent.done.load(Ordering::SeqCst), sent_so_far);
    let bytes = sent.bytes.load(Ordering::SeqCst);
    assert!(
        bytes < SIZE / 4,
        "the daemon read {bytes} bytes of a {SIZE}-byte manifest before refusing it: the {MANIFEST_LIMIT}-byte \
         limit is applied after the whole body is in memory (the daemon's peak RSS: {})\n{}",
        peak_rss(&daemon),
        daemon.log_tail()
    );
}

#[test]
fn a_redirect_loop_on_the_manifest_is_cut_short() {
    let daemon = Daemon::start();
    let before = StoreListing::of(&daemon);
    let redirects = Arc::new(AtomicUsize::new(0));
    let repository = Repository::with_good_image();
    let server = HostileServer::start({
        let redirects = Arc::clone(&redirects);
        move |request, stream| {
            let path = manifest_path("1");
            if request.path == path {
                redirects.fetch_add(1, Ordering::SeqCst);
                return respond(stream, request, 302, &[("Location", &path)], b"");
            }
            serve_honestly(&repository, request, stream)
        }
    });
    let reference = server.reference("1");

    // dockerd: `Error response from daemon: Head "/v2/x/manifests/1": stopped after 10 redirects`.
    let stderr = pull_fails(&daemon, &reference);
    assert_eq!(
        stderr.trim(),
        format!(
            "Error response from daemon: pulling {reference}: error following redirect for url (http://{}{}): too \
             many redirects",
            server.address(),
            manifest_path("1")
        ),
        "{}",
        daemon.log_tail()
    );
    let followed = redirects.load(Ordering::SeqCst);
    assert!((2..=32).contains(&followed), "the daemon followed the loop {followed} times");
    before.assert_unchanged(&daemon, &server);
    assert_daemon_still_pulls(&daemon, &server);
}

#[test]
fn a_layer_that_always_breaks_off_fails_the_pull_naming_it() {
    let daemon = Daemon::start();
    let before = StoreListing::of(&daemon);
    let layer = Layer::from_tar(tar_of(&[Entry::File("noise", &noise(1, 1 << 20), 0o644)]));
    let (digest, size) = (layer.digest.clone(), layer.gzip.len() as u64);
    let layer_path = blob_path(&digest);
    let repository = Repository::with_good_image().tagged("1", Image::new(vec![layer.clone()]));
    let server = HostileServer::start({
        let layer_path = layer_path.clone();
        move |request, stream| {
            if request.path == layer_path {
                // Every answer announces the rest of the blob and sends half of it.
                let start = request.range_start().unwrap_or(0);
                return send_blob(stream, request, &layer.gzip, Some((size - start) / 2));
            }
            serve_honestly(&repository, request, stream)
        }
    });
    let reference = server.reference("1");

    // dockerd retries too, and then says only "unexpected EOF".
    let stderr = pull_fails(&daemon, &reference);
    assert_eq!(
        stderr.trim(),
        format!("filesystem layer verification failed for digest {digest}"),
        "{}",
        daemon.log_tail()
    );
    // Each retry asked for the rest from the byte where the last answer stopped.
    let starts: Vec<u64> = server
        .requests()
        .iter()
        .filter(|logged| logged.path == layer_path)
        .map(|logged| logged.range_start.unwrap_or(0))
        .collect();
    let mut expected = vec![0];
    while expected.len() < starts.len() {
        let last = *expected.last().expect("one start");
        expected.push(last + (size - last) / 2);
    }
    assert_eq!(starts, expected, "resumed where each download broke off");
    assert!((2..=10).contains(&starts.len()), "{} attempts at the layer", starts.len());
    before.assert_unchanged(&daemon, &server);
    assert_daemon_still_pulls(&daemon, &server);
}

#[test]
fn a_layer_that_breaks_off_once_is_resumed_with_a_range() {
    let daemon = Daemon::start();
    let marker = Layer::from_tar(tar_of(&[Entry::File("marker", b"resumed\n", 0o644)]));
    let image = Image::new(vec![busybox_layer().clone(), marker]);
    let busybox = busybox_layer();
    let size = busybox.gzip.len() as u64;
    let repository = Repository::with_good_image().tagged("1", image.clone());
    let cut_once = AtomicBool::new(false);
    let busybox_path = blob_path(&busybox.digest);
    let server = HostileServer::start(move |request, stream| {
        if request.path == busybox_path && !cut_once.swap(true, Ordering::SeqCst) {
            return send_blob(stream, request, &busybox.gzip, Some(size / 2));
        }
        serve_honestly(&repository, request, stream)
    });
    let reference = server.reference("1");

    let pulled = daemon.ok(&["pull", &reference]);
    assert!(pulled.contains(&format!("Status: Downloaded newer image for {reference}")), "{pulled}");
    let starts: Vec<Option<u64>> = server
        .requests()
        .iter()
        .filter(|logged| logged.path == blob_path(&busybox.digest))
        .map(|logged| logged.range_start)
        .collect();
    // A resumed download, not a new one: the second request starts where the first answer stopped.
    assert_eq!(starts, vec![Some(0), Some(size / 2)], "{}", daemon.log_tail());
    let id = daemon.ok(&["image", "inspect", "-f", "{{.Id}}", &reference]);
    assert_eq!(id.trim(), image.config_digest);
    assert_eq!(daemon.ok(&["run", "--rm", &reference, "cat", "/marker"]), "resumed\n");
}

#[test]
fn a_layer_with_a_parent_dir_entry_is_refused_and_nothing_escapes() {
    let daemon = Daemon::start();
    let before = StoreListing::of(&daemon);
    let tmp_escape = Path::new("/tmp/escape");
    let tmp_before = identity(tmp_escape);
    // One hostile entry after a harmless one; and one that climbs far enough to reach /tmp from any store.
    let escape = Layer::from_tar(tar_of(&[
        Entry::File("inside", b"inside the layer\n", 0o644),
        Entry::File("../escape", b"escaped\n", 0o644),
    ]));
    let deep_name = format!("{}tmp/escape", "../".repeat(24));
    let deep = Layer::from_tar(tar_of(&[Entry::File(&deep_name, b"escaped\n", 0o644)]));
    let repository = Repository::with_good_image()
        .tagged("1", Image::new(vec![escape.clone()]))
        .tagged("2", Image::new(vec![deep.clone()]));
    let server = HostileServer::start(move |request, stream| serve_honestly(&repository, request, stream));

    // dockerd: see the report.
    for (tag, layer, name) in [("1", &escape, "../escape"), ("2", &deep, deep_name.as_str())] {
        let reference = server.reference(tag);
        let stderr = pull_fails(&daemon, &reference);
        assert_eq!(
            stderr.trim(),
            format!("failed to register layer {}: unsafe path {name:?}: path escapes the destination", layer.digest),
            "{}",
            daemon.log_tail()
        );
    }
    // Where `escape` would land: beside the layer being unpacked (`image/layers/.tmp-*/../escape`), or further up.
    let layers = daemon.root().join("image/layers");
    for dir in layers.ancestors().take_while(|dir| *dir != Path::new("/")) {
        let path = dir.join("escape");
        assert!(identity(&path).is_none(), "{} exists", path.display());
    }
    assert_eq!(identity(tmp_escape), tmp_before, "/tmp/escape was made or changed by the pull");
    before.assert_unchanged(&daemon, &server);
    assert_daemon_still_pulls(&daemon, &server);
}

#[test]
fn absolute_symlinks_in_a_layer_resolve_inside_the_container() {
    let daemon = Daemon::start();
    // A directory of the host that the layers' symlinks name: a pull or a container that followed one on the host
    // would write here.
    let host_side = daemon.scratch_dir("host-side");
    let host_side_name = host_side.to_str().expect("a UTF-8 scratch path").to_string();
    let links = Layer::from_tar(tar_of(&[
        Entry::Dir("etc", 0o755),
        Entry::Symlink("etc/hostfile", "/etc/shadow"),
        Entry::Symlink("etc/hostpasswd", "/etc/passwd"),
        Entry::Symlink("etc/hostdir", &host_side_name),
    ]));
    // The same link, and a file the tar puts through it: unpacked inside the layer, at the path the link names
    // there (Berth makes the missing directories in the layer; dockerd, unpacking in a chroot of the layer, fails
    // the pull with "failed to register layer: Error processing tar file(exit status 1): open
    // /etc/hostdir/through: no such file or directory"). Either way nothing reaches the host.
    let through = Layer::from_tar(tar_of(&[
        Entry::Dir("etc", 0o755),
        Entry::Symlink("etc/hostdir", &host_side_name),
        Entry::File("etc/hostdir/through", b"written through an absolute symlink\n", 0o644),
    ]));
    let repository = Repository::with_good_image()
        .tagged("1", Image::new(vec![busybox_layer().clone(), links]))
        .tagged("2", Image::new(vec![busybox_layer().clone(), through]));
    let server = HostileServer::start(move |request, stream| serve_honestly(&repository, request, stream));
    let reference = server.reference("1");

    daemon.ok(&["pull", &reference]);
    assert_eq!(daemon.ok(&["run", "--rm", &reference, "readlink", "/etc/hostfile"]), "/etc/shadow\n");
    // The image has no /etc/shadow: the host's is not what the symlink reaches.
    let shadow = daemon.docker(&["run", "--rm", &reference, "cat", "/etc/hostfile"]);
    assert_eq!(shadow.code, Some(1), "{shadow:?}");
    assert_eq!(shadow.stdout, "", "{shadow:?}");
    assert!(shadow.stderr.contains("No such file or directory"), "{shadow:?}");
    let passwd = daemon.ok(&["run", "--rm", &reference, "cat", "/etc/hostpasswd"]);
    assert_eq!(passwd, IMAGE_PASSWD);
    let host_passwd = std::fs::read_to_string("/etc/passwd").expect("reading the host's /etc/passwd");
    assert_ne!(passwd, host_passwd);
    // A file a container writes through the link lands in the container, at the path the link names there.
    let script = format!(
        "mkdir -p {host_side_name} && echo from the container > /etc/hostdir/written && cat {host_side_name}/written"
    );
    assert_eq!(daemon.ok(&["run", "--rm", &reference, "sh", "-c", &script]), "from the container\n");
    assert_eq!(names_in(&host_side), Vec::<String>::new(), "written on the host");

    let through = server.reference("2");
    daemon.ok(&["pull", &through]);
    let script = format!("cat /etc/hostdir/through {host_side_name}/through");
    assert_eq!(
        daemon.ok(&["run", "--rm", &through, "sh", "-c", &script]),
        "written through an absolute symlink\nwritten through an absolute symlink\n"
    );
    assert_eq!(names_in(&host_side), Vec::<String>::new(), "unpacked onto the host");
}

#[test]
fn a_pull_killed_midway_keeps_complete_layers_and_resumes_after_restart() {
    // Three layers of noise a few MB each (gzip cannot shrink it much) behind the busybox layer, in a real
    // registry; the pull goes through a proxy that holds the last layer half-sent until the test opens the gate.
    let noises: Vec<String> = (1..=3).map(|seed| noise_text(seed, 3 << 20)).collect();
    let files: Vec<(String, &str)> =
        noises.iter().enumerate().map(|(index, noise)| (format!("/noise-{}", index + 1), noise.as_str())).collect();
    let layers: Vec<[(&str, &str); 1]> = files.iter().map(|(path, noise)| [(path.as_str(), *noise)]).collect();
    let layers: Vec<&[(&str, &str)]> = layers.iter().map(|files| files.as_slice()).collect();
    let registry = Registry::anonymous();
    let seeded = seed_image(&registry, "crash", "1", &layers);
    let gated = seeded.layer_digests.last().expect("the last layer").clone();
    let gate = Arc::new(Gate::default());
    let proxy = HostileServer::start({
        let gated_path = format!("/v2/crash/blobs/{gated}");
        let (upstream, gate) = (registry.address().to_string(), Arc::clone(&gate));
        move |request, stream| {
            let held = (request.method == "GET" && request.path.starts_with(&gated_path)).then_some(&*gate);
            forward(&upstream, request, stream, held)
        }
    });
    let reference = format!("{}/crash:1", proxy.address());
    let mut daemon = Daemon::start();

    let pull = BackgroundPull::start(&daemon, &reference);
    let blobs = daemon.root().join("image/oci/blobs/sha256");
    let layers_dir = daemon.root().join("image/layers");
    let others: Vec<&String> = seeded.layer_digests.iter().filter(|digest| **digest != gated).collect();
    let state = || {
        format!(
            "gate reached: {}; blobs: {:?}; layers: {:?}; requests: {:#?}; pull: {:?}",
            gate.arrived(),
            names_in(&blobs),
            names_in(&layers_dir),
            proxy.requests(),
            pull.output()
        )
    };
    wait_for(
        &daemon,
        "the other layers stored and the last one half-way",
        || {
            gate.arrived()
                && others.iter().all(|digest| blobs.join(hex_of(digest)).is_file())
                && temp_names(&blobs).len() == 1
                && temp_names(&layers_dir).len() == 1
        },
        state,
    );
    let complete: BTreeSet<String> =
        seeded.layer_digests.iter().filter(|digest| blobs.join(hex_of(digest)).is_file()).cloned().collect();
    assert!(!complete.contains(&gated), "the held layer cannot be complete");

    daemon.crash_and_restart_with(|_| {});
    let interrupted = pull.finish(&daemon);
    assert_ne!(interrupted.0, Some(0), "the interrupted pull reported success: {interrupted:?}");

    assert_eq!(temp_names(&blobs), Vec::<String>::new(), "temp blobs left after the restart");
    assert_eq!(temp_names(&layers_dir), Vec::<String>::new(), "temp layer dirs left after the restart");
    for digest in &complete {
        let bytes = std::fs::read(blobs.join(hex_of(digest))).expect("reading a kept blob");
        assert_eq!(&sha256(&bytes), digest, "a blob kept across the crash is whole");
    }
    assert!(!blobs.join(hex_of(&gated)).exists(), "the half-downloaded layer has no blob");
    let images = daemon.ok(&["images", "--all", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(!images.lines().any(|line| line.contains("/crash")), "{images}");
    let inspect = daemon.docker(&["image", "inspect", &reference]);
    assert_eq!(inspect.code, Some(1), "{inspect:?}");
    assert!(inspect.stderr.contains("No such image"), "{inspect:?}");

    gate.open();
    let pulled = daemon.ok(&["pull", &reference]);
    let pulled: Vec<&str> = pulled.lines().map(str::trim_end).collect();
    for digest in &seeded.layer_digests {
        let line = if complete.contains(digest) {
            format!("{}: Already exists", short(digest))
        } else {
            format!("{}: Pull complete", short(digest))
        };
        assert!(pulled.contains(&line.as_str()), "no {line:?} in {pulled:#?}\n{}", daemon.log_tail());
    }
    assert!(pulled.contains(&format!("Status: Downloaded newer image for {reference}").as_str()), "{pulled:#?}");
    let id = daemon.ok(&["image", "inspect", "-f", "{{.Id}}", &reference]);
    assert_eq!(id.trim(), seeded.config_digest);
    let sums = daemon.ok(&["run", "--rm", &reference, "sha256sum", "/noise-1", "/noise-2", "/noise-3"]);
    let expected: String = files
        .iter()
        .map(|(path, noise)| format!("{}  {path}\n", hex::encode(Sha256::digest(noise.as_bytes()))))
        .collect();
    assert_eq!(sums, expected);
}

// --- What the checks share.

/// `docker pull` that must fail as the CLI does for a daemon's error (exit 1): its stderr.
fn pull_fails(daemon: &Daemon, reference: &str) -> String {
    let output = daemon.docker(&["pull", reference]);
    assert_eq!(output.code, Some(1), "docker pull {reference} should fail: {output:?}\n{}", daemon.log_tail());
    output.stderr
}

/// The daemon answers, and pulls and runs the honest image of the same server.
fn assert_daemon_still_pulls(daemon: &Daemon, server: &HostileServer) {
    let version = daemon.ok(&["version", "--format", "{{.Server.Version}}"]);
    assert!(!version.trim().is_empty(), "no server version");
    let good = server.reference("good");
    assert_eq!(daemon.ok(&["run", "--rm", &good, "cat", "/marker"]), "still pulls\n");
}

/// What the image store holds, by name: the images the daemon lists and the entries of the store's directories.
#[derive(Debug, PartialEq, Eq)]
struct StoreListing {
    images: String,
    entries: BTreeSet<String>,
}

impl StoreListing {
    fn of(daemon: &Daemon) -> StoreListing {
        let images = daemon.ok(&["images", "--all", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"]);
        let image = daemon.root().join("image");
        let mut entries = BTreeSet::new();
        for dir in ["", "oci", "oci/blobs/sha256", "layers", "layers-complete"] {
            for name in names_in(&image.join(dir)) {
                entries.insert(format!("{dir}/{name}"));
            }
        }
        StoreListing { images, entries }
    }

    /// After a refused pull: no image of the server's, nothing new in the store, and no temp file anywhere in it.
    fn assert_unchanged(&self, daemon: &Daemon, server: &HostileServer) {
        let now = StoreListing::of(daemon);
        assert!(
            !now.images.contains(&format!("{}/{REPOSITORY}:", server.address())),
            "a refused pull left an image: {}",
            now.images
        );
        let temps: Vec<&String> =
            now.entries.iter().filter(|entry| entry.rsplit('/').next().is_some_and(is_temp)).collect();
        assert!(temps.is_empty(), "temp files left in the store: {temps:?}\n{}", daemon.log_tail());
        let added: Vec<&String> = now.entries.difference(&self.entries).collect();
        let removed: Vec<&String> = self.entries.difference(&now.entries).collect();
        assert!(
            added.is_empty() && removed.is_empty(),
            "a refused pull changed the store: added {added:?} (blobs and layers no image references), removed \
             {removed:?}"
        );
        assert_eq!(now.images, self.images, "a refused pull changed the image list");
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Berth's temp files and directories (crates/image/src/layout.rs, `TMP_PREFIX`).
fn is_temp(name: &str) -> bool {
    name.starts_with(".tmp-")
}

fn temp_names(dir: &Path) -> Vec<String> {
    names_in(dir).into_iter().filter(|name| is_temp(name)).collect()
}

/// The inode and change time of `path` (not following a symlink), or None if nothing is there.
fn identity(path: &Path) -> Option<(u64, i64)> {
    std::fs::symlink_metadata(path).ok().map(|metadata| (metadata.ino(), metadata.ctime()))
}

/// The daemon's `VmHWM` (peak resident set size) as /proc states it.
fn peak_rss(daemon: &Daemon) -> String {
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap_or_default();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap_or("VmHWM: unknown");
    line.trim_start_matches("VmHWM:").trim().to_string()
}

/// Polls `condition` until it holds; panics after [`WAIT`] with the daemon log.
fn wait_for(daemon: &Daemon, what: &str, mut condition: impl FnMut() -> bool, state: impl Fn() -> String) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        if Instant::now() > deadline {
            panic!("waited {WAIT:?} for {what}; {}\n{}", state(), daemon.log_tail());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The 12 hex digits docker shows for a layer.
fn short(digest: &str) -> &str {
    &hex_of(digest)[..12]
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or_else(|| panic!("{digest} is not a sha256 digest"))
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `docker pull` run in the background, straight from the CLI binary (the harness's runs block), against the
/// daemon's socket; its output goes to files so that it never blocks on a pipe.
struct BackgroundPull {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl BackgroundPull {
    fn start(daemon: &Daemon, reference: &str) -> BackgroundPull {
        let dir = daemon.scratch_dir("background-pull");
        let config = daemon.scratch_dir("background-pull-config");
        let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
        let create = |path: &Path| File::create(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let child = Command::new(DOCKER)
            .args(["pull", reference])
            .env("DOCKER_HOST", format!("unix://{}", daemon.socket().display()))
            .env("DOCKER_CONFIG", config)
            .stdin(Stdio::null())
            .stdout(create(&stdout))
            .stderr(create(&stderr))
            .spawn()
            .unwrap_or_else(|error| panic!("starting {DOCKER}: {error}"));
        BackgroundPull { child: Some(child), stdout, stderr }
    }

    /// Waits for the command to end: its exit code, stdout and stderr.
    fn finish(mut self, daemon: &Daemon) -> (Option<i32>, String, String) {
        let mut child = self.child.take().expect("a running pull");
        let mut status = None;
        let output = self.output();
        wait_for(
            daemon,
            "the interrupted docker pull to end",
            || {
                status = child.try_wait().expect("polling docker pull");
                status.is_some()
            },
            || format!("{output:?}"),
        );
        let (stdout, stderr) = self.output();
        (status.and_then(|status| status.code()), stdout, stderr)
    }

    /// What the command printed so far: stdout and stderr.
    fn output(&self) -> (String, String) {
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        (read(&self.stdout), read(&self.stderr))
    }
}

impl Drop for BackgroundPull {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// --- Images built here, byte for byte.

/// A layer as a registry serves it: the gzipped tar, its digest, and the digest of the tar (its diff ID).
#[derive(Clone)]
struct Layer {
    gzip: Vec<u8>,
    digest: String,
    diff_id: String,
}

impl Layer {
    fn from_tar(tar: Vec<u8>) -> Layer {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&tar).expect("compressing a layer");
        let gzip = gzip.finish().expect("compressing a layer");
        Layer { digest: sha256(&gzip), diff_id: sha256(&tar), gzip }
    }
}

/// An image for this machine's platform: an OCI manifest and config naming `layers` with their right digests.
#[derive(Clone)]
struct Image {
    manifest: Vec<u8>,
    manifest_digest: String,
    config: Vec<u8>,
    config_digest: String,
    layers: Vec<Layer>,
}

impl Image {
    fn new(layers: Vec<Layer>) -> Image {
        let config = json!({
            "architecture": host_arch(),
            "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|layer| &layer.diff_id).collect::<Vec<_>>()},
        })
        .to_string()
        .into_bytes();
        let config_digest = sha256(&config);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len()},
            "layers": layers
                .iter()
                .map(|layer| json!({"mediaType": OCI_LAYER_GZIP, "digest": layer.digest, "size": layer.gzip.len()}))
                .collect::<Vec<_>>(),
        })
        .to_string()
        .into_bytes();
        Image { manifest_digest: sha256(&manifest), manifest, config, config_digest, layers }
    }

    fn blob(&self, digest: &str) -> Option<&[u8]> {
        if digest == self.config_digest {
            return Some(&self.config);
        }
        self.layers.iter().find(|layer| layer.digest == digest).map(|layer| layer.gzip.as_slice())
    }
}

/// A tar entry, its name written into the header as given: the tar crate refuses `..` and absolute names, which
/// are what some of these layers are made of.
enum Entry<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
}

fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for entry in entries {
        let (kind, name, link, data, mode) = match entry {
            Entry::Dir(name, mode) => (tar::EntryType::Directory, *name, "", &[][..], *mode),
            Entry::File(name, data, mode) => (tar::EntryType::Regular, *name, "", *data, *mode),
            Entry::Symlink(name, target) => (tar::EntryType::Symlink, *name, *target, &[][..], 0o777),
        };
        let mut header = tar::Header::new_gnu();
        let old = header.as_old_mut();
        assert!(name.len() < old.name.len() && link.len() < old.linkname.len(), "{name} or {link} is too long");
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        tar.append(&header, data).expect("adding an entry to a layer");
    }
    tar.into_inner().expect("finishing a layer tar")
}

/// The host's static busybox with its applets linked beside it, /etc/passwd and /etc/group: a runnable base.
/// Built once per test binary (gzipping 2 MB is not free on two busy cores).
fn busybox_layer() -> &'static Layer {
    static LAYER: OnceLock<Layer> = OnceLock::new();
    LAYER.get_or_init(|| {
        let busybox = std::fs::read("/bin/busybox").expect("reading /bin/busybox (Debian's busybox-static)");
        let applets = Command::new("/bin/busybox").arg("--list").output().expect("running busybox --list");
        let applets = String::from_utf8(applets.stdout).expect("busybox --list is text");
        let links: Vec<String> = applets
            .lines()
            .filter(|applet| !applet.is_empty() && *applet != "busybox")
            .map(|applet| format!("bin/{applet}"))
            .collect();
        let mut entries: Vec<Entry> =
            ["bin", "dev", "etc", "proc", "root", "sys"].into_iter().map(|dir| Entry::Dir(dir, 0o755)).collect();
        entries.push(Entry::Dir("tmp", 0o1777));
        entries.push(Entry::File("bin/busybox", &busybox, 0o755));
        entries.extend(links.iter().map(|link| Entry::Symlink(link, "busybox")));
        entries.push(Entry::File("etc/passwd", IMAGE_PASSWD.as_bytes(), 0o644));
        entries.push(Entry::File("etc/group", b"root:x:0:\n", 0o644));
        Layer::from_tar(tar_of(&entries))
    })
}

/// Bytes that look random (xorshift64*), the same for the same seed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// [`noise`] as printable ASCII, for the seeding helper, which takes files as text (gzip gets it down by a
/// sixth at most).
fn noise_text(seed: u64, len: usize) -> String {
    noise(seed, len).into_iter().map(|byte| char::from(b'!' + byte % 94)).collect()
}

// --- The hostile registry.

/// One request as the server read it; header names lowercased.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The first byte a `Range: bytes=N-[M]` asks for.
    fn range_start(&self) -> Option<u64> {
        let range = self.header("range")?.strip_prefix("bytes=")?;
        range.split('-').next()?.parse().ok()
    }
}

/// A request as the server logged it.
#[derive(Clone, Debug)]
struct Logged {
    path: String,
    range_start: Option<u64>,
}

/// What a handler does with the connection after answering.
enum After {
    KeepAlive,
    Close,
}

type Handler = dyn Fn(&Request, &mut TcpStream) -> io::Result<After> + Send + Sync;

/// An HTTP/1.1 server on a loopback port, a thread per connection, each request answered by the handler, which
/// writes the response itself (and so can lie in it).
struct HostileServer {
    address: String,
    log: Arc<Mutex<Vec<Logged>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl HostileServer {
    fn start(handler: impl Fn(&Request, &mut TcpStream) -> io::Result<After> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the hostile registry");
        let address = listener.local_addr().expect("its address").to_string();
        let handler: Arc<Handler> = Arc::new(handler);
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (handler, log) = (Arc::clone(&handler), Arc::clone(&log));
                    // Errors are the client hanging up, which several cases provoke.
                    thread::spawn(move || drop(serve_connection(stream, &*handler, &log)));
                }
            })
        };
        HostileServer { address, log, stop, thread: Some(thread) }
    }

    fn address(&self) -> &str {
        &self.address
    }

    /// `127.0.0.1:PORT/x:TAG`.
    fn reference(&self, tag: &str) -> String {
        format!("{}/{REPOSITORY}:{tag}", self.address)
    }

    fn requests(&self) -> Vec<Logged> {
        self.log.lock().expect("the request log").clone()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // accept() blocks: a connection of our own wakes it to see the flag.
        let _ = TcpStream::connect(&self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_connection(mut stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Logged>>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    // Berth and dockerd try TLS first on a loopback registry. A TLS record starts with 0x16 (handshake); closing
    // at once sends them to plain HTTP, where waiting for a request line would hold the probe until it timed out.
    let mut first = [0u8; 1];
    if stream.peek(&mut first)? == 1 && first[0] == 0x16 {
        return Ok(());
    }
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let request = Request { method, path, headers };
        let logged = Logged { path: request.path.clone(), range_start: request.range_start() };
        log.lock().expect("the request log").push(logged);
        match handler(&request, &mut stream)? {
            After::KeepAlive => {}
            After::Close => {
                // Only our side: nothing of the client's is left unread, so the close is a FIN, not a reset that
                // could drop the bytes sent before it.
                stream.shutdown(Shutdown::Write)?;
                return Ok(());
            }
        }
    }
}

fn respond(
    stream: &mut TcpStream,
    request: &Request,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<After> {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if request.method != "HEAD" {
        stream.write_all(body)?;
    }
    stream.flush()?;
    Ok(After::KeepAlive)
}

fn manifest_path(reference: &str) -> String {
    format!("/v2/{REPOSITORY}/manifests/{reference}")
}

fn blob_path(digest: &str) -> String {
    format!("/v2/{REPOSITORY}/blobs/{digest}")
}

/// What an honest registry holds: images by tag, in [`REPOSITORY`].
#[derive(Clone)]
struct Repository {
    tags: BTreeMap<String, Image>,
}

impl Repository {
    /// Only the tag `good`: busybox and a file /marker reading "still pulls".
    fn with_good_image() -> Repository {
        let marker = Layer::from_tar(tar_of(&[Entry::File("marker", b"still pulls\n", 0o644)]));
        let good = Image::new(vec![busybox_layer().clone(), marker]);
        Repository { tags: BTreeMap::from([("good".to_string(), good)]) }
    }

    fn tagged(mut self, tag: &str, image: Image) -> Repository {
        self.tags.insert(tag.to_string(), image);
        self
    }
}

fn registry_error(stream: &mut TcpStream, request: &Request, code: &str) -> io::Result<After> {
    let body = json!({"errors": [{"code": code, "message": code.to_ascii_lowercase().replace('_', " ")}]});
    respond(stream, request, 404, &[("Content-Type", "application/json")], body.to_string().as_bytes())
}

/// The distribution API as a well-behaved registry answers it.
fn serve_honestly(repository: &Repository, request: &Request, stream: &mut TcpStream) -> io::Result<After> {
    let path = request.path.split('?').next().unwrap_or("");
    if path == "/v2/" || path == "/v2" {
        let headers = [("Content-Type", "application/json"), ("Docker-Distribution-API-Version", "registry/2.0")];
        return respond(stream, request, 200, &headers, b"{}");
    }
    if let Some(reference) = path.strip_prefix(&manifest_path("")) {
        let image = repository
            .tags
            .get(reference)
            .or_else(|| repository.tags.values().find(|image| image.manifest_digest == reference));
        return match image {
            Some(image) => {
                let headers = [("Content-Type", OCI_MANIFEST), ("Docker-Content-Digest", &image.manifest_digest)];
                respond(stream, request, 200, &headers, &image.manifest)
            }
            None => registry_error(stream, request, "MANIFEST_UNKNOWN"),
        };
    }
    if let Some(digest) = path.strip_prefix(&blob_path("")) {
        return match repository.tags.values().find_map(|image| image.blob(digest)) {
            Some(blob) => send_blob(stream, request, blob, None),
            None => registry_error(stream, request, "BLOB_UNKNOWN"),
        };
    }
    registry_error(stream, request, "NAME_UNKNOWN")
}

/// A blob from where the request's `Range` starts (206 with a Content-Range, as distribution answers a range;
/// 200 without one). With `cut`, the whole rest is announced but only `cut` bytes of it are sent before the
/// connection is closed.
fn send_blob(stream: &mut TcpStream, request: &Request, blob: &[u8], cut: Option<u64>) -> io::Result<After> {
    let size = blob.len() as u64;
    let start = request.range_start();
    let from = start.unwrap_or(0);
    if from >= size && size > 0 {
        let range = format!("bytes */{size}");
        return respond(stream, request, 416, &[("Content-Range", &range)], b"");
    }
    let rest = &blob[from as usize..];
    let mut head = match start {
        Some(_) => {
            format!("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {from}-{}/{size}\r\n", size.saturating_sub(1))
        }
        None => "HTTP/1.1 200 OK\r\n".to_string(),
    };
    head.push_str(&format!("Content-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n", rest.len()));
    stream.write_all(head.as_bytes())?;
    if request.method == "HEAD" {
        return Ok(After::KeepAlive);
    }
    match cut {
        None => {
            stream.write_all(rest)?;
            stream.flush()?;
            Ok(After::KeepAlive)
        }
        Some(cut) => {
            stream.write_all(&rest[..cut as usize])?;
            stream.flush()?;
            Ok(After::Close)
        }
    }
}

/// How far a response the server streams has got.
#[derive(Default)]
struct Progress {
    /// Bytes of the body the kernel took.
    bytes: AtomicU64,
    /// The server stopped: all sent, or the client went away.
    done: AtomicBool,
}

/// A manifest of `size` bytes, announced with its Content-Length and sent 64 KiB at a time: a JSON object whose
/// one annotation is long.
fn stream_huge_manifest(request: &Request, stream: &mut TcpStream, size: u64, sent: &Progress) -> io::Result<After> {
    let result = (|| {
        let length = size.to_string();
        let headers = format!("HTTP/1.1 200 OK\r\nContent-Type: {OCI_MANIFEST}\r\nContent-Length: {length}\r\n\r\n");
        stream.write_all(headers.as_bytes())?;
        if request.method == "HEAD" {
            return Ok(());
        }
        let prefix = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","annotations":{{"pad":""#);
        let suffix = r#""}}"#;
        stream.write_all(prefix.as_bytes())?;
        let chunk = vec![b'a'; 64 << 10];
        let mut left = size - (prefix.len() + suffix.len()) as u64;
        sent.bytes.store(prefix.len() as u64, Ordering::SeqCst);
        while left > 0 {
            let n = left.min(chunk.len() as u64);
            stream.write_all(&chunk[..n as usize])?;
            sent.bytes.fetch_add(n, Ordering::SeqCst);
            left -= n;
        }
        stream.write_all(suffix.as_bytes())?;
        sent.bytes.fetch_add(suffix.len() as u64, Ordering::SeqCst);
        stream.flush()
    })();
    sent.done.store(true, Ordering::SeqCst);
    result.map(|()| After::Close)
}

/// A point a proxied response stops at until the test opens it.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    arrived: bool,
    open: bool,
}

impl Gate {
    fn arrive_and_wait(&self) {
        let mut state = self.state.lock().expect("the gate");
        state.arrived = true;
        self.changed.notify_all();
        while !state.open {
            state = self.changed.wait(state).expect("the gate");
        }
    }

    fn arrived(&self) -> bool {
        self.state.lock().expect("the gate").arrived
    }

    fn open(&self) {
        self.state.lock().expect("the gate").open = true;
        self.changed.notify_all();
    }
}

/// The request passed to the registry at `upstream` (one connection each way per request) and its answer passed
/// back; with `gate`, the body stops half-way until the gate opens.
fn forward(upstream: &str, request: &Request, client: &mut TcpStream, gate: Option<&Gate>) -> io::Result<After> {
    let mut registry = TcpStream::connect(upstream)?;
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n", request.method, request.path);
    for (name, value) in &request.headers {
        if name != "host" && name != "connection" {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("\r\n");
    registry.write_all(head.as_bytes())?;
    let mut answer = BufReader::new(registry);
    let mut answer_head = String::new();
    let mut length = None;
    loop {
        let mut line = String::new();
        if answer.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse::<u64>().ok();
        }
        answer_head.push_str(&line);
    }
    answer_head.push_str("Connection: close\r\n\r\n");
    client.write_all(answer_head.as_bytes())?;
    if let (Some(gate), Some(length)) = (gate, length) {
        io::copy(&mut (&mut answer).take(length / 2), client)?;
        client.flush()?;
        gate.arrive_and_wait();
    }
    io::copy(&mut answer, client)?;
    client.flush()?;
    Ok(After::Close)
}
