//! `docker cp` (both ways) and `docker export` against a container that swaps a directory for a symlink to a host
//! directory as fast as it can (issue 20 item 4, the CVE-2021-30465 class): whatever the timing, the daemon must
//! never read a host file into an archive, nor write an uploaded file onto the host. The container's symlink names a
//! directory that exists only on the host, holding the same deep tree as the container's directory, so a resolution
//! that checked `d` once and then used the path string in the daemon's own view of the merged directory would land
//! on the host's copy: the depth makes that window wide enough to hit. One daemon for the binary.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::Daemon;

/// Requests of each kind (cp out, cp in) over the API; the CLI and export add a few more.
const ITERATIONS: usize = 5000;
const CLI_ITERATIONS: usize = 25;
const EXPORTS: usize = 40;
/// Levels of `x/` below the racing directory.
const DEPTH: usize = 48;

#[test]
fn racing_symlinks_never_reach_the_host() {
    let daemon = Daemon::start();
    let secret = daemon.scratch_dir("host-secret");
    let host_marker = format!("host-only-{}-{:?}", std::process::id(), Instant::now());
    let deep = vec!["x"; DEPTH].join("/");
    std::fs::create_dir_all(secret.join(&deep)).expect("making the host tree");
    std::fs::write(secret.join(&deep).join("marker"), &host_marker).expect("writing the host marker");
    let secret_str = secret.to_str().expect("a utf-8 path");

    // `d` is, in turn: a directory holding the tree, missing, a symlink to the host directory, missing. Renames,
    // so each state is whole. Inside the container the symlink's target does not exist. A daemon that makes the
    // missing `d` anew (an upload's parents) would stop the loop: such a `d` is removed.
    let script = format!(
        "cd / && mkdir -p d/{deep} && echo container-copy > d/{deep}/marker && ln -s {secret_str} d.link && \
         while true; do \
           if [ -d d.dir ] && [ -d d ] && [ ! -L d ]; then rm -rf d; fi; \
           mv -T d d.dir; mv -T d.link d; mv -T d d.link; mv -T d.dir d; \
         done 2>/dev/null"
    );
    daemon.ok(&["run", "-d", "--name", "racer", "busybox", "sh", "-c", &script]);
    wait_until(|| daemon.docker(&["exec", "racer", "sh", "-c", "test -L /d.link -o -L /d"]).success());

    let upload = one_file_tar(&format!("{deep}/dropped"), b"from-cp-in\n");
    let get_marker = format!("/containers/racer/archive?path=/d/{deep}/marker");
    let cli_marker = format!("racer:/d/{deep}/marker");
    let cli_dest = format!("racer:/d/{deep}/");
    let started = Instant::now();
    let counts = Counts::default();
    std::thread::scope(|s| {
        // cp out: the file at the bottom of the racing directory.
        s.spawn(|| {
            for _ in 0..ITERATIONS {
                let (status, body) = request(&daemon, "GET", &get_marker, &[]);
                if contains(&body, host_marker.as_bytes()) {
                    counts.leaked_reads.fetch_add(1, Ordering::Relaxed);
                } else if status == 200 && contains(&body, b"container-copy") {
                    counts.out_ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        // cp in: into the racing directory, creating the tree's parents.
        s.spawn(|| {
            for _ in 0..ITERATIONS {
                let (status, _) = request(&daemon, "PUT", "/containers/racer/archive?path=/d", &upload);
                if status == 200 {
                    counts.in_ok.fetch_add(1, Ordering::Relaxed);
                }
                counts.leaked_writes.fetch_add(host_writes(&secret, &deep), Ordering::Relaxed);
            }
        });
        // The CLI both ways, and export.
        s.spawn(|| {
            let out_dir = daemon.scratch_dir("cli-out");
            let file = out_dir.join("upload.txt");
            std::fs::write(&file, "from-cli\n").expect("writing the CLI upload");
            for i in 0..CLI_ITERATIONS {
                let dest = out_dir.join(format!("copied-{i}"));
                let _ = daemon.docker(&["cp", &cli_marker, dest.to_str().expect("a utf-8 path")]);
                if contains(&std::fs::read(&dest).unwrap_or_default(), host_marker.as_bytes()) {
                    counts.leaked_reads.fetch_add(1, Ordering::Relaxed);
                }
                let _ = daemon.docker(&["cp", file.to_str().expect("a utf-8 path"), &cli_dest]);
                counts.leaked_writes.fetch_add(host_writes(&secret, &deep), Ordering::Relaxed);
            }
            for _ in 0..EXPORTS {
                let (status, body) = request(&daemon, "GET", "/containers/racer/export", &[]);
                assert_eq!(status, 200, "export answered {status}");
                if contains(&body, host_marker.as_bytes()) {
                    counts.leaked_exports.fetch_add(1, Ordering::Relaxed);
                } else if contains(&body, b"container-copy") {
                    counts.export_ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    });
    let elapsed = started.elapsed();
    let n = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    eprintln!(
        "cp_race: {ITERATIONS} cp-out + {ITERATIONS} cp-in over the API, {CLI_ITERATIONS} of each with the CLI, \
         {EXPORTS} exports in {elapsed:?}; went through: out {}, in {}, export {}; reached the host: reads {}, \
         writes {}, exports {}",
        n(&counts.out_ok),
        n(&counts.in_ok),
        n(&counts.export_ok),
        n(&counts.leaked_reads),
        n(&counts.leaked_writes),
        n(&counts.leaked_exports),
    );
    assert_eq!(n(&counts.leaked_reads), 0, "docker cp read the host's file");
    assert_eq!(n(&counts.leaked_writes), 0, "docker cp wrote into the host's directory");
    assert_eq!(n(&counts.leaked_exports), 0, "docker export archived the host's file");
    let marker = std::fs::read_to_string(secret.join(&deep).join("marker")).expect("reading the host marker");
    assert_eq!(marker, host_marker, "the host marker was changed");
    let (out_hits, in_hits) = (n(&counts.out_ok), n(&counts.in_ok));
    // The race is real only if both states were seen: some copies found the directory.
    assert!(out_hits > 0 && in_hits > 0, "no copy ever found the directory (out {out_hits}, in {in_hits})");
    // The uploads that went through are in the container: stopped, so that its directory holds still.
    daemon.ok(&["stop", "-t", "0", "racer"]);
    let landed = ["d", "d.dir"].iter().any(|d| {
        let (status, body) =
            request(&daemon, "GET", &format!("/containers/racer/archive?path=/{d}/{deep}/dropped"), &[]);
        status == 200 && contains(&body, b"from-cp-in")
    });
    assert!(landed, "the uploads landed in the container");
    daemon.ok(&["rm", "-f", "racer"]);
}

#[derive(Default)]
struct Counts {
    out_ok: AtomicUsize,
    in_ok: AtomicUsize,
    export_ok: AtomicUsize,
    leaked_reads: AtomicUsize,
    leaked_writes: AtomicUsize,
    leaked_exports: AtomicUsize,
}

/// How many files other than the marker are in the host tree (uploads that went through the symlink); removes
/// them, so that each one is counted once.
fn host_writes(secret: &Path, deep: &str) -> usize {
    let marker = secret.join(deep).join("marker");
    let mut found = 0;
    let mut pending = vec![secret.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("listing the host tree").flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            } else if path != marker {
                found += 1;
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    found
}

fn wait_until(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "the racing container did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn one_file_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, name, content).expect("a tar entry");
    builder.into_inner().expect("the tar")
}

/// One HTTP/1.0 request over the daemon's socket (no keep-alive, the body read to its end): status and body.
fn request(daemon: &Daemon, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = UnixStream::connect(daemon.socket()).expect("connecting to the daemon");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("a read timeout");
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: berth\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // A PUT the daemon refuses (the directory was a symlink just then) is answered before its body is read.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
    let mut response = Vec::new();
    // A stream the daemon cuts short (the path changed under it) is an answer too.
    let _ = stream.read_to_end(&mut response);
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |i| i + 4);
    let status = String::from_utf8_lossy(&response[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, response[split..].to_vec())
}
