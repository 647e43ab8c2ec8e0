//! Input that tries to reach the daemon's host or break its invariants (issue 20's code-read holes): an image
//! whose /etc/passwd points at a host file, a `docker load` archive whose metadata is a symlink out of it, a
//! build `remote=` naming a host directory, a `since` that used to panic the handler, and a hundred creates racing
//! for one name. One daemon for the binary.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use support::Daemon;

/// One daemon for every check: each test binary shares one where it can.
#[test]
fn hostile_input_reaches_nothing() {
    let daemon = Daemon::start();
    copy_chown_reads_the_images_passwd_not_the_hosts(&daemon);
    load_does_not_follow_metadata_symlinks_out_of_the_archive(&daemon);
    build_remote_cannot_name_a_host_path(&daemon);
    log_times_with_multibyte_input_are_a_clear_error(&daemon);
    concurrent_creates_of_one_name_make_one_container(&daemon);
    host_side_unpacks_take_no_devices_or_setuid(&daemon);
    missing_bind_sources_are_not_made_in_system_dirs(&daemon);
    a_slow_exec_reader_does_not_grow_the_daemon(&daemon);
    stdin_nobody_reads_does_not_grow_the_daemon(&daemon);
    uploads_past_the_limits_are_refused(&daemon);
    containers_reach_only_published_ports_on_the_host(&daemon);
}

/// One HTTP/1.0 request over the daemon's socket: the status and the body.
fn request(daemon: &Daemon, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut stream = std::os::unix::net::UnixStream::connect(daemon.socket()).expect("connecting to the daemon");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).expect("a read timeout");
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: berth\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).expect("sending");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("reading the answer");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0), body.to_string())
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|error| panic!("writing {name}: {error}"));
}

/// `COPY --chown=name` looks the name up in the image's /etc/passwd: an absolute symlink there means a path in
/// the image, never the daemon's host file of that name.
fn copy_chown_reads_the_images_passwd_not_the_hosts(daemon: &Daemon) {
    let host = daemon.scratch_dir("host-files");
    write(&host, "passwd", "hostonly:x:4242:4343::/:/bin/sh\n");
    let context = daemon.scratch_dir("chown-context");
    write(&context, "file.txt", "payload\n");
    let dockerfile = format!(
        "FROM busybox\nRUN ln -sf {} /etc/passwd\nCOPY --chown=hostonly file.txt /file.txt\n",
        host.join("passwd").display()
    );
    write(&context, "Dockerfile", &dockerfile);
    let out = daemon.docker(&["build", "-t", "chown-escape", context.to_str().expect("a utf-8 path")]);
    assert!(!out.success(), "the build found a user that exists only on the host: {out:?}");
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("unable to find user hostonly"), "{said}");

    // The same lookup through a symlink that stays inside the image works.
    write(&context, "Dockerfile", "FROM busybox\nRUN echo 'inside:x:4242:4343::/:/bin/sh' > /etc/passwd.real && ln -sf /etc/passwd.real /etc/passwd\nCOPY --chown=inside file.txt /file.txt\nRUN stat -c %u:%g /file.txt > /owner\n");
    daemon.ok(&["build", "-t", "chown-inside", context.to_str().expect("a utf-8 path")]);
    let owner = daemon.ok(&["run", "--rm", "chown-inside", "cat", "/owner"]);
    assert_eq!(owner.trim(), "4242:4343");
}

/// A `docker load` archive whose manifest.json is a symlink to a file on the host must not be read through it.
fn load_does_not_follow_metadata_symlinks_out_of_the_archive(daemon: &Daemon) {
    let (status, saved) = {
        let out = daemon.docker_command(&["save", "busybox"]).output().expect("docker save");
        (out.status, out.stdout)
    };
    assert!(status.success(), "docker save busybox");
    // The archive's entries, minus index.json (so manifest.json is the only way in) and manifest.json itself.
    let mut entries: Vec<(tar::Header, Vec<u8>)> = Vec::new();
    let mut manifest = String::new();
    let mut archive = tar::Archive::new(saved.as_slice());
    for entry in archive.entries().expect("a tar") {
        let mut entry = entry.expect("an entry");
        let path = entry.path().expect("a path").to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("entry data");
        match path.as_str() {
            "manifest.json" => manifest = String::from_utf8(data).expect("utf-8 manifest"),
            "index.json" => {}
            _ => entries.push((entry.header().clone(), data)),
        }
    }
    assert!(manifest.contains("busybox"), "{manifest}");
    let leaked_manifest = manifest.replace("busybox:latest", "leaked:1");
    let host = daemon.scratch_dir("load-host");
    write(&host, "manifest.json", &leaked_manifest);

    let archive_with = |manifest: Option<&str>| -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (header, data) in &entries {
            builder.append(header, data.as_slice()).expect("copying an entry");
        }
        match manifest {
            Some(text) => {
                let mut header = tar::Header::new_gnu();
                header.set_size(text.len() as u64);
                header.set_mode(0o644);
                builder.append_data(&mut header, "manifest.json", text.as_bytes()).expect("manifest.json");
            }
            None => {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                header.set_mode(0o777);
                builder
                    .append_link(&mut header, "manifest.json", host.join("manifest.json"))
                    .expect("manifest.json as a symlink");
            }
        }
        builder.into_inner().expect("the archive")
    };

    let out = daemon.docker_with_input(&["load"], &archive_with(None));
    assert!(!out.success(), "a load read the host's manifest.json: {out:?}");
    let tags = daemon.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(!tags.contains("leaked"), "{tags}");
    // The same archive with that manifest as a plain file loads: the refusal is the symlink's.
    let out = daemon.docker_with_input(&["load"], &archive_with(Some(&leaked_manifest)));
    assert!(out.success(), "the control archive loads: {out:?}");
    let tags = daemon.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(tags.contains("leaked:1"), "{tags}");
}

/// Over the API, `remote=` names a git repository elsewhere, never a path on the daemon's host (dockerd's rule).
fn build_remote_cannot_name_a_host_path(daemon: &Daemon) {
    for remote in ["/etc", "file:///etc", "..%2F..%2Fetc"] {
        let (status, body) =
            request(daemon, "POST", &format!("/build?remote={remote}&t=host-etc"), "application/x-tar", b"");
        assert_eq!(status, 400, "remote={remote}: {body}");
        assert!(body.contains("could not be recognized as URL"), "remote={remote}: {body}");
    }
    let tags = daemon.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!tags.contains("host-etc"), "{tags}");
}

/// A `since` with multibyte characters after the dot used to be sliced mid-character and panic the handler.
fn log_times_with_multibyte_input_are_a_clear_error(daemon: &Daemon) {
    daemon.ok(&["create", "--name", "logs-since", "busybox", "true"]);
    let (status, body) =
        daemon.get("/containers/logs-since/logs?stdout=1&since=1.%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9").expect("an answer");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid time value"), "{body}");
    assert_eq!(daemon.get("/_ping").map(|(status, _)| status), Some(200), "the daemon keeps serving");
}

/// A hundred creates of one name at once make one container; the others get Docker's conflict.
fn concurrent_creates_of_one_name_make_one_container(daemon: &Daemon) {
    let body = br#"{"Image":"busybox","Cmd":["true"]}"#;
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..100)
            .map(|_| {
                scope.spawn(|| request(daemon, "POST", "/containers/create?name=one-name", "application/json", body).0)
            })
            .collect();
        threads.into_iter().map(|thread| thread.join().expect("a create thread")).collect()
    });
    let created = statuses.iter().filter(|status| **status == 201).count();
    let conflicts = statuses.iter().filter(|status| **status == 409).count();
    assert_eq!((created, conflicts), (1, 99), "{statuses:?}");
    let list = daemon.get_json("/containers/json?all=1&filters=%7B%22name%22%3A%5B%22one-name%22%5D%7D");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}

/// The playground's compose files are unpacked into a directory of the host, not of a container: a device node
/// is refused and a setuid bit dropped there; and the daemon's root is closed to other users of the host.
fn host_side_unpacks_take_no_devices_or_setuid(daemon: &Daemon) {
    use std::os::unix::fs::PermissionsExt as _;
    let project = |extra: &dyn Fn(&mut tar::Builder<Vec<u8>>)| -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let compose = b"services:\n  app:\n    image: busybox\n    command: [\"true\"]\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(compose.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, "compose.yaml", compose.as_slice()).expect("compose.yaml");
        extra(&mut builder);
        builder.into_inner().expect("the archive")
    };
    let with_disk = project(&|builder| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Block);
        header.set_device_major(8).expect("a major");
        header.set_device_minor(0).expect("a minor");
        header.set_mode(0o666);
        header.set_size(0);
        builder.append_data(&mut header, "disk", std::io::empty()).expect("a block device entry");
    });
    let (status, body) = request(daemon, "POST", "/berth/compose/devnode/up", "application/x-tar", &with_disk);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("device nodes are not allowed"), "{body}");
    let projects = daemon.root().join("playground/compose");
    assert!(std::fs::symlink_metadata(projects.join("devnode/disk")).is_err(), "the device node was made");

    let with_setuid = project(&|builder| {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o4755);
        header.set_size(3);
        builder.append_data(&mut header, "tool", b"#!\n".as_slice()).expect("a setuid file");
    });
    let (status, body) = request(daemon, "POST", "/berth/compose/setuid/up", "application/x-tar", &with_setuid);
    assert_eq!(status, 200, "{body}");
    let mode = std::fs::metadata(projects.join("setuid/tool")).expect("the unpacked file").permissions().mode();
    assert_eq!(mode & 0o7777, 0o755, "setuid dropped, the rest kept");
    let (status, body) = request(daemon, "POST", "/berth/compose/setuid/down", "application/x-tar", b"");
    assert_eq!(status, 200, "{body}");

    let root_mode = std::fs::metadata(daemon.root()).expect("the daemon root").permissions().mode();
    assert_eq!(root_mode & 0o777, 0o700, "{}", daemon.root().display());
}

/// `-v /missing:/x` makes the directory as Docker does, but never inside /proc, /sys or the daemon's own root.
fn missing_bind_sources_are_not_made_in_system_dirs(daemon: &Daemon) {
    let inside_root = daemon.root().join("containers/planted");
    let sources = [PathBuf::from("/sys/berth-planted"), PathBuf::from("/proc/berth-planted"), inside_root];
    for source in &sources {
        let volume = format!("{}:/x", source.display());
        let out = daemon.docker(&["run", "--rm", "-v", &volume, "busybox", "true"]);
        assert!(!out.success(), "-v {volume}: {out:?}");
        assert!(out.stderr.contains("Berth does not create it there"), "-v {volume}: {}", out.stderr);
        assert!(!source.exists(), "{} was made", source.display());
    }
    let elsewhere = daemon.scratch_dir("binds").join("made/by/run");
    let volume = format!("{}:/x", elsewhere.display());
    daemon.ok(&["run", "--rm", "-v", &volume, "busybox", "true"]);
    assert!(elsewhere.is_dir(), "a missing source elsewhere is made, as Docker does");
}

fn daemon_rss_kib(daemon: &Daemon) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).expect("the daemon's status");
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmRSS in kB")
}

/// An exec that writes fast to a client that does not read: the process waits on its full pipe, the daemon holds
/// a bounded amount (before, every byte queued in the daemon's memory).
fn a_slow_exec_reader_does_not_grow_the_daemon(daemon: &Daemon) {
    daemon.ok(&["run", "-d", "--name", "fast-writer", "busybox", "sleep", "1000"]);
    let create = br#"{"AttachStdout":true,"AttachStderr":true,"Cmd":["sh","-c","yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 800000000"]}"#;
    let (status, body) = request(daemon, "POST", "/containers/fast-writer/exec", "application/json", create);
    assert_eq!(status, 201, "{body}");
    let exec: serde_json::Value = serde_json::from_str(&body).expect("the exec's id");
    let id = exec["Id"].as_str().expect("an Id");
    let before = daemon_rss_kib(daemon);

    let mut stream = std::os::unix::net::UnixStream::connect(daemon.socket()).expect("connecting to the daemon");
    let start = br#"{"Detach":false,"Tty":false}"#;
    write!(
        stream,
        "POST /exec/{id}/start HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {}\r\n\r\n",
        start.len()
    )
    .and_then(|()| stream.write_all(start))
    .expect("starting the exec");
    // Read only the first bytes (the answer's head and a little output), then stop reading while the exec writes
    // hundreds of megabytes at full speed. Watched for a few seconds: the daemon's memory must stay put.
    let mut first = [0u8; 4096];
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).expect("a read timeout");
    let n = stream.read(&mut first).expect("the exec's answer");
    assert!(
        String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    let mut peak = before;
    let watch_until = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while std::time::Instant::now() < watch_until {
        peak = peak.max(daemon_rss_kib(daemon));
        assert!(peak < before + 96 * 1024, "the daemon grew from {before} kB to {peak} kB for one unread exec");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let exec_state = daemon.get_json(&format!("/exec/{id}/json"));
    assert_eq!(exec_state["Running"], true, "the writer waits for its reader: {exec_state}");
    // Reading again gets the output, in order.
    let mut more = vec![0u8; 1 << 16];
    let n = stream.read(&mut more).expect("more output");
    let text = String::from_utf8_lossy(&more[..n]);
    assert!(text.contains("0123456789abcdefghijklmnopqrstuvwxyz"), "{text:?}");
    drop(stream);
    daemon.ok(&["rm", "-f", "fast-writer"]);
}

/// A client pouring input into a container that never reads it: the client's writes wait, the daemon holds a
/// bounded amount.
fn stdin_nobody_reads_does_not_grow_the_daemon(daemon: &Daemon) {
    daemon.ok(&["run", "-d", "-i", "--name", "no-reader", "busybox", "sleep", "1000"]);
    let before = daemon_rss_kib(daemon);
    let mut stream = std::os::unix::net::UnixStream::connect(daemon.socket()).expect("connecting to the daemon");
    write!(
        stream,
        "POST /containers/no-reader/attach?stream=1&stdin=1 HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("attaching");
    let mut head = [0u8; 1024];
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).expect("a read timeout");
    let n = stream.read(&mut head).expect("the attach answer");
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head[..n]));
    // Write until the daemon stops taking more (a write waits a second without progress) or 400 MB went in.
    stream.set_write_timeout(Some(std::time::Duration::from_secs(1))).expect("a write timeout");
    let chunk = vec![b'x'; 1 << 20];
    let mut written = 0usize;
    while written < 400 << 20 {
        match stream.write(&chunk) {
            Ok(n) => written += n,
            Err(_) => break,
        }
    }
    let after = daemon_rss_kib(daemon);
    assert!(written < 200 << 20, "the daemon took {} MB of input nobody reads", written >> 20);
    assert!(after < before + 96 * 1024, "the daemon grew from {before} kB to {after} kB");
    drop(stream);
    daemon.ok(&["rm", "-f", "no-reader"]);
}

/// HTTP/1.1 chunked framing over a stream, so an upload can be endless without a Content-Length.
struct Chunked<W: Write>(W);

impl<W: Write> Write for Chunked<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        write!(self.0, "{:x}\r\n", data.len())?;
        self.0.write_all(data)?;
        self.0.write_all(b"\r\n")?;
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A context announced as 10 GB is a 413 before a byte is read; a gzip bomb (a tar entry of 10 GB of zeros,
/// a few MB on the wire) is refused from its header, and neither leaves anything in the build directory.
fn uploads_past_the_limits_are_refused(daemon: &Daemon) {
    let mut stream = std::os::unix::net::UnixStream::connect(daemon.socket()).expect("connecting to the daemon");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("a read timeout");
    write!(stream, "POST /berth/builds HTTP/1.0\r\nHost: berth\r\nContent-Type: application/x-tar\r\nContent-Length: 10000000000\r\n\r\n")
        .expect("announcing 10 GB");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.0 413") || answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("--max-upload-size"), "{answer}");

    let answer = send_gzip_bomb(daemon, "POST /berth/builds");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("--max-unpacked-size"), "{answer}");
    // The same bomb as `docker load` and as `docker cp` into a container.
    let answer = send_gzip_bomb(daemon, "POST /images/load");
    assert!(answer.contains("--max-unpacked-size"), "load: {answer}");
    daemon.ok(&["create", "--name", "cp-target", "busybox", "true"]);
    let answer = send_gzip_bomb(daemon, "PUT /containers/cp-target/archive?path=/");
    assert!(answer.starts_with("HTTP/1.1 400"), "cp: {answer}");
    assert!(answer.contains("--max-unpacked-size"), "cp: {answer}");
    let work = daemon.root().join("build/tmp");
    let left: Vec<_> =
        std::fs::read_dir(&work).map(|dir| dir.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "the refused contexts left {left:?}");

    // A bomb inside the context: ADD of a local .tar.gz whose one entry claims 10 GB.
    let context = daemon.scratch_dir("add-bomb");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut header = tar::Header::new_gnu();
    header.set_path("zeros").expect("a name");
    header.set_size(10 << 30);
    header.set_mode(0o644);
    header.set_cksum();
    gzip.write_all(header.as_bytes()).and_then(|()| gzip.write_all(&[0u8; 1 << 16])).expect("the bomb's start");
    std::fs::write(context.join("bomb.tar.gz"), gzip.finish().expect("the bomb")).expect("writing the bomb");
    write(&context, "Dockerfile", "FROM busybox\nADD bomb.tar.gz /x/\n");
    let out = daemon.docker(&["build", "-t", "add-bomb", context.to_str().expect("a utf-8 path")]);
    assert!(!out.success(), "ADD unpacked a 10 GB bomb: {out:?}");
    assert!(format!("{}{}", out.stdout, out.stderr).contains("--max-unpacked-size"), "{out:?}");
}

/// Streams a gzip'd tar whose one entry is 10 GB of zeros (a few MB on the wire), chunked, to `request_line`;
/// returns the daemon's answer. The daemon must stop reading early: the upload fails long before 10 GB.
fn send_gzip_bomb(daemon: &Daemon, request_line: &str) -> String {
    let mut stream = std::os::unix::net::UnixStream::connect(daemon.socket()).expect("connecting to the daemon");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("a read timeout");
    stream.set_write_timeout(Some(std::time::Duration::from_secs(5))).expect("a write timeout");
    write!(stream, "{request_line} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .expect("starting the upload");
    let writer = stream.try_clone().expect("a second handle");
    let gzip = flate2::write::GzEncoder::new(Chunked(writer), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gzip);
    let mut header = tar::Header::new_gnu();
    header.set_size(10 << 30);
    header.set_mode(0o644);
    let refused_early = tar.append_data(&mut header, "zeros", std::io::repeat(0).take(10 << 30)).is_err();
    assert!(refused_early, "{request_line}: the daemon read a 10 GB bomb to its end");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A service of the host listening on the bridge's gateway is out of the containers' reach; a published port on
/// the same address is not.
fn containers_reach_only_published_ports_on_the_host(daemon: &Daemon) {
    let bridge = daemon.get_json("/networks/bridge");
    let gateway = bridge["IPAM"]["Config"][0]["Gateway"].as_str().expect("the bridge's gateway").to_string();
    let host_service = std::net::TcpListener::bind((gateway.as_str(), 0)).expect("a host service on the gateway");
    let port = host_service.local_addr().expect("its port").port().to_string();
    assert!(
        std::net::TcpStream::connect((gateway.as_str(), port.parse::<u16>().unwrap())).is_ok(),
        "the host reaches it"
    );
    let out = daemon.docker(&["run", "--rm", "busybox", "nc", "-w", "3", &gateway, &port]);
    assert!(!out.success(), "a container reached a host service on {gateway}:{port}: {out:?}");

    let published = support::free_port().to_string();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "published-web",
        "-p",
        &format!("{published}:80"),
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let get = format!("printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {gateway} {published}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let out = daemon.docker(&["run", "--rm", "busybox", "sh", "-c", &get]);
        if out.stdout.contains("200 OK") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "a container could not reach the published port: {out:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    daemon.ok(&["rm", "-f", "published-web"]);
}
