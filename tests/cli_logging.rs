//! Log drivers through the real docker CLI, each against a receiver this test runs: `none` and the refusals in
//! dockerd's words, syslog over a unix datagram socket, UDP and TCP (PRI from facility and severity, the tag's
//! template, the format's fields, a TCP receiver that hangs up and is reconnected to), GELF over UDP (gzip,
//! chunking of a long line, every field's value), fluentd's forward protocol over TCP, journald's native entries
//! (on its socket, bound here where no journald runs), `local`, the daemon's default driver (`berth serve
//! --log-driver`), a driver that keeps sending while the daemon is down, and what a session may not choose.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use support::Daemon;

const WAIT: Duration = Duration::from_secs(20);

fn hostname() -> String {
    nix::unistd::gethostname().expect("hostname").into_string().expect("utf-8 hostname")
}

fn inspect(daemon: &Daemon, format: &str, name: &str) -> String {
    daemon.ok(&["inspect", "-f", format, name]).trim().to_string()
}

/// A syslog message in srslog's default (unix) or rfc3164 format: PRI, the stamp, the host (rfc3164), the tag,
/// the pid and the text.
struct Bsd {
    pri: u32,
    host: Option<String>,
    tag: String,
    text: String,
}

fn parse_bsd(message: &str, with_host: bool) -> Bsd {
    let message = message.strip_suffix('\n').unwrap_or_else(|| panic!("not newline-terminated: {message:?}"));
    let (pri, rest) = message.strip_prefix('<').and_then(|m| m.split_once('>')).expect("a PRI");
    // "Mar  7 09:05:01 ": always 16 bytes (the day padded with a space).
    let (stamp, rest) = rest.split_at(16);
    assert!(chrono::NaiveTime::parse_from_str(&stamp[7..15], "%H:%M:%S").is_ok(), "stamp {stamp:?}");
    let (host, rest) = if with_host {
        let (host, rest) = rest.split_once(' ').expect("a host");
        (Some(host.to_string()), rest)
    } else {
        (None, rest)
    };
    let (tag_pid, text) = rest.split_once("]: ").expect("tag[pid]: ");
    let (tag, pid) = tag_pid.rsplit_once('[').expect("tag[pid");
    assert!(pid.parse::<u32>().is_ok(), "pid {pid:?}");
    Bsd { pri: pri.parse().expect("numeric PRI"), host, tag: tag.into(), text: text.into() }
}

#[test]
fn none_and_unknown_drivers_and_options_answer_as_dockerd() {
    let daemon = Daemon::start();
    let out = daemon.ok(&["run", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "unheard"]);
    assert_eq!(out.trim(), "unheard", "attached output still reaches the client");
    assert_eq!(inspect(&daemon, "{{.HostConfig.LogConfig.Type}}", "quiet"), "none");
    let logs = daemon.docker(&["logs", "quiet"]);
    assert!(!logs.success() && logs.stderr.contains("configured logging driver does not support reading"), "{logs:?}");

    let refused = |args: &[&str], expected: &str| {
        let mut full = vec!["run", "--rm"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["busybox", "true"]);
        let out = daemon.docker(&full);
        assert!(!out.success() && out.stderr.contains(expected), "{args:?}: {out:?}");
    };
    refused(&["--log-driver", "nosuch"], "logger: no log driver named 'nosuch' is registered");
    refused(&["--log-driver", "syslog", "--log-opt", "foo=bar"], "unknown log opt 'foo' for syslog log driver");
    refused(&["--log-opt", "foo=bar"], "unknown log opt 'foo' for json-file log driver");
    refused(&["--log-driver", "gelf"], "gelf-address is a required parameter");
    refused(
        &["--log-driver", "gelf", "--log-opt", "gelf-address=udp://h"],
        "please provide gelf-address as proto://host:port",
    );
    refused(&["--log-driver", "syslog", "--log-opt", "syslog-facility=nope"], "invalid syslog facility");
    refused(&["--log-driver", "syslog", "--log-opt", "syslog-format=json"], "Invalid syslog format");
    refused(&["--log-driver", "syslog", "--log-opt", "syslog-address=unixgram:///nonexistent/log"], "no such file");
    assert_eq!(daemon.ok(&["ps", "-aq", "--filter", "name=^/quiet$"]).lines().count(), 1, "nothing else was made");
}

#[test]
fn syslog_over_a_unix_datagram_socket_carries_facility_severity_and_tag() {
    let daemon = Daemon::start();
    let path = daemon.scratch_dir("syslog").join("log.sock");
    let receiver = UnixDatagram::bind(&path).expect("bind the syslog socket");
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let address = format!("syslog-address=unixgram://{}", path.display());
    daemon.ok(&[
        "run",
        "--name",
        "sl",
        "--log-driver",
        "syslog",
        "--log-opt",
        &address,
        "--log-opt",
        "syslog-facility=local3",
        "--log-opt",
        "tag={{.Name}}/{{.ID}}/{{.ImageName}}",
        "busybox",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2",
    ]);
    let id = inspect(&daemon, "{{.Id}}", "sl");
    let mut received = BTreeMap::new();
    for _ in 0..2 {
        let mut buffer = [0u8; 4096];
        let n = receiver.recv(&mut buffer).expect("a syslog datagram");
        let message = parse_bsd(std::str::from_utf8(&buffer[..n]).expect("utf-8"), false);
        assert_eq!(message.tag, format!("sl/{}/busybox", &id[..12]));
        received.insert(message.text, message.pri);
    }
    // local3 is 19: 19 * 8 + 6 (info) for stdout, + 3 (err) for stderr.
    assert_eq!(received, BTreeMap::from([("to-err".to_string(), 155), ("to-out".to_string(), 158)]));
    // The local cache (dockerd's dual logging): docker logs still reads what went to syslog.
    let logs = daemon.docker(&["logs", "sl"]);
    assert!(logs.success() && logs.stdout.contains("to-out") && logs.stderr.contains("to-err"), "{logs:?}");

    let address = format!("syslog-address=unixgram://{}", path.display());
    daemon.ok(&[
        "run",
        "--name",
        "nocache",
        "--log-driver",
        "syslog",
        "--log-opt",
        &address,
        "--log-opt",
        "cache-disabled=true",
        "busybox",
        "echo",
        "x",
    ]);
    let mut buffer = [0u8; 4096];
    let n = receiver.recv(&mut buffer).expect("a syslog datagram");
    let message = parse_bsd(std::str::from_utf8(&buffer[..n]).unwrap(), false);
    let id = inspect(&daemon, "{{.Id}}", "nocache");
    assert_eq!((message.pri, message.tag.as_str(), message.text.as_str()), (30, &id[..12], "x"), "daemon.info");
    let logs = daemon.docker(&["logs", "nocache"]);
    assert!(!logs.success() && logs.stderr.contains("configured logging driver does not support reading"), "{logs:?}");
}

#[test]
fn syslog_rfc5424_over_udp_names_host_tag_and_time() {
    let daemon = Daemon::start();
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let address = format!("syslog-address=udp://{}", receiver.local_addr().unwrap());
    for (format, fraction) in [("rfc5424", false), ("rfc5424micro", true)] {
        let name = format!("u-{format}");
        daemon.ok(&[
            "run",
            "--name",
            &name,
            "--log-driver",
            "syslog",
            "--log-opt",
            &address,
            "--log-opt",
            &format!("syslog-format={format}"),
            "--log-opt",
            "syslog-facility=user",
            "busybox",
            "echo",
            "over udp",
        ]);
        let id = inspect(&daemon, "{{.Id}}", &name);
        let mut buffer = [0u8; 4096];
        let n = receiver.recv(&mut buffer).expect("a syslog datagram");
        let text = std::str::from_utf8(&buffer[..n]).unwrap();
        // <PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID - MSG, with the tag as app-name and msgid (dockerd's).
        let fields: Vec<&str> = text.splitn(8, ' ').collect();
        assert_eq!(fields.len(), 8, "{text:?}");
        assert_eq!(fields[0], "<14>1", "user (1) * 8 + info (6)");
        let time = chrono::DateTime::parse_from_rfc3339(fields[1]).expect("an RFC 3339 timestamp");
        assert!((chrono::Utc::now() - time.to_utc()).num_seconds().abs() < 60, "{time}");
        assert_eq!(fields[1].contains('.'), fraction, "{}", fields[1]);
        assert_eq!(fields[2], hostname());
        assert_eq!((fields[3], fields[5]), (&id[..12], &id[..12]));
        assert!(fields[4].parse::<u32>().is_ok(), "{text:?}");
        assert_eq!((fields[6], fields[7]), ("-", "over udp\n"));
    }
}

#[test]
fn syslog_over_tcp_is_newline_framed_and_reconnects() {
    let daemon = Daemon::start();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("syslog-address=tcp://{}", listener.local_addr().unwrap());
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "tt",
        "--log-driver",
        "syslog",
        "--log-opt",
        &address,
        "--log-opt",
        "syslog-format=rfc3164",
        "--log-opt",
        "tag=app",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two; sleep 2; echo three; sleep 1; echo four",
    ]);
    let (first, _) = listener.accept().expect("the monitor connects");
    first.set_read_timeout(Some(WAIT)).unwrap();
    let mut lines = BufReader::new(first);
    for expected in ["one", "two"] {
        let mut line = String::new();
        lines.read_line(&mut line).expect("a line");
        let message = parse_bsd(&line, true);
        assert_eq!(
            (message.pri, message.host, message.tag, message.text),
            (30, Some(hostname()), "app".into(), expected.into())
        );
    }
    // The receiver goes away: the monitor notices the hang-up and connects again for the next message.
    drop(lines);
    let (second, _) = listener.accept().expect("the monitor reconnects");
    second.set_read_timeout(Some(WAIT)).unwrap();
    let mut text = String::new();
    let mut lines = BufReader::new(second);
    while !text.contains("four") {
        let mut line = String::new();
        if lines.read_line(&mut line).expect("a line") == 0 {
            break;
        }
        text.push_str(&parse_bsd(&line, true).text);
        text.push(' ');
    }
    assert!(text.contains("four"), "{text:?}");
    daemon.ok(&["wait", "tt"]);
}

/// Collects GELF datagrams into messages (chunks reassembled by id), decompressed and parsed.
fn gelf_messages(receiver: &UdpSocket, count: usize) -> Vec<(serde_json::Value, usize)> {
    let mut chunks: BTreeMap<[u8; 8], BTreeMap<u8, Vec<u8>>> = BTreeMap::new();
    let mut messages = Vec::new();
    while messages.len() < count {
        let mut buffer = vec![0u8; 65536];
        let n = receiver.recv(&mut buffer).expect("a GELF datagram");
        buffer.truncate(n);
        let (payload, pieces) = if buffer.starts_with(&[0x1e, 0x0f]) {
            let id: [u8; 8] = buffer[2..10].try_into().unwrap();
            let (sequence, total) = (buffer[10], buffer[11]);
            assert!(n <= 1420, "a chunk fits go-gelf's 1420 bytes: {n}");
            let parts = chunks.entry(id).or_default();
            parts.insert(sequence, buffer[12..].to_vec());
            if parts.len() < total as usize {
                continue;
            }
            let parts = chunks.remove(&id).unwrap();
            (parts.into_values().flatten().collect::<Vec<u8>>(), total as usize)
        } else {
            (buffer, 1)
        };
        let mut json = Vec::new();
        match payload.get(..2) {
            Some([0x1f, 0x8b]) => flate2::read::GzDecoder::new(&payload[..]).read_to_end(&mut json).unwrap(),
            Some([0x78, _]) => flate2::read::ZlibDecoder::new(&payload[..]).read_to_end(&mut json).unwrap(),
            _ => {
                json = payload;
                0
            }
        };
        messages.push((serde_json::from_slice(&json).expect("GELF JSON"), pieces));
    }
    messages
}

#[test]
fn gelf_over_udp_sends_dockerds_fields_and_chunks_long_lines() {
    let daemon = Daemon::start();
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let address = format!("gelf-address=udp://{}", receiver.local_addr().unwrap());
    // 9,000 random bytes as 18,000 hex digits: gzip halves them at best, so the message needs several chunks.
    let script = "echo hello; head -c 9000 /dev/urandom | od -An -tx1 -v | tr -d ' \\n'; echo; echo bad >&2";
    daemon.ok(&[
        "run",
        "--name",
        "gg",
        "--log-driver",
        "gelf",
        "--log-opt",
        &address,
        "--log-opt",
        "labels=team",
        "--label",
        "team=blue",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let (id, image, created) = (
        inspect(&daemon, "{{.Id}}", "gg"),
        inspect(&daemon, "{{.Image}}", "gg"),
        inspect(&daemon, "{{.Created}}", "gg"),
    );
    // Docker's copier cuts a line at 16 KiB: the 18,000 digits are two messages, of 16,384 and 1,616.
    let mut messages = gelf_messages(&receiver, 4);
    messages.sort_by_key(|(m, _)| m["short_message"].as_str().map(str::len));
    let (bad, hello, rest, first) = (&messages[0], &messages[1], &messages[2], &messages[3]);
    assert_eq!((bad.0["short_message"].as_str(), bad.0["level"].as_u64()), (Some("bad"), Some(3)));
    let m = &hello.0;
    assert_eq!(hello.1, 1, "a short message is one datagram");
    assert_eq!(m["version"], "1.1");
    assert_eq!(m["host"], hostname().as_str());
    assert_eq!(m["short_message"], "hello");
    assert_eq!(m["level"], 6);
    assert_eq!(m["_container_id"], id.as_str());
    assert_eq!(m["_container_name"], "gg");
    assert_eq!(m["_image_id"], image.as_str());
    assert_eq!(m["_image_name"], "busybox");
    assert_eq!(m["_command"], format!("sh -c {script}").as_str());
    assert_eq!(m["_tag"], &id[..12]);
    assert_eq!(m["team"].as_str().or(m["_team"].as_str()), Some("blue"));
    let sent_created = chrono::DateTime::parse_from_rfc3339(m["_created"].as_str().expect("_created")).unwrap();
    assert_eq!(sent_created, chrono::DateTime::parse_from_rfc3339(&created).unwrap());
    let timestamp = m["timestamp"].as_f64().expect("a numeric timestamp");
    assert!((chrono::Utc::now().timestamp() as f64 - timestamp).abs() < 60.0, "{timestamp}");
    let lengths = [first, rest].map(|(m, _)| m["short_message"].as_str().map_or(0, str::len));
    assert_eq!(lengths, [16 * 1024, 18_000 - 16 * 1024]);
    assert!(first.1 > 1, "16 KiB of random hex digits, gzipped, need several chunks: {}", first.1);
    assert!([first, rest].iter().all(|(m, _)| m["short_message"]
        .as_str()
        .unwrap()
        .bytes()
        .all(|b| b.is_ascii_hexdigit())));
}

#[test]
fn gelf_without_compression_and_zlib_reassemble() {
    let daemon = Daemon::start();
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let address = format!("gelf-address=udp://{}", receiver.local_addr().unwrap());
    for compression in ["none", "zlib"] {
        daemon.ok(&[
            "run",
            "--rm",
            "--log-driver",
            "gelf",
            "--log-opt",
            &address,
            "--log-opt",
            &format!("gelf-compression-type={compression}"),
            "busybox",
            "sh",
            "-c",
            "head -c 10000 /dev/zero | tr '\\0' x; echo",
        ]);
        let messages = gelf_messages(&receiver, 1);
        let (message, pieces) = &messages[0];
        assert_eq!(message["short_message"].as_str(), Some("x".repeat(10_000).as_str()));
        assert_eq!(*pieces > 1, compression == "none", "{compression}: {pieces} datagrams");
    }
}

#[test]
fn the_daemons_default_driver_and_options_apply_to_containers_that_name_none() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let address = format!("gelf-address=udp://{}", receiver.local_addr().unwrap());
    let daemon =
        Daemon::start_with_args(&["--log-driver", "gelf", "--log-opt", &address, "--log-opt", "tag=t-{{.Name}}"]);
    daemon.ok(&["run", "--name", "dd", "busybox", "echo", "via default"]);
    assert_eq!(inspect(&daemon, "{{.HostConfig.LogConfig.Type}}", "dd"), "gelf");
    let messages = gelf_messages(&receiver, 1);
    assert_eq!(messages[0].0["short_message"], "via default");
    assert_eq!(messages[0].0["_tag"], "t-dd");
    // Another driver does not get the default's options (they would be unknown to it).
    daemon.ok(&["run", "--name", "jj", "--log-driver", "json-file", "busybox", "echo", "to the file"]);
    assert_eq!(daemon.ok(&["logs", "jj"]).trim(), "to the file");
    assert_eq!(inspect(&daemon, "{{json .HostConfig.LogConfig.Config}}", "jj"), "{}");
}

#[test]
fn fluentd_gets_forward_protocol_messages_with_the_containers_fields() {
    let daemon = Daemon::start();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("fluentd-address={}", listener.local_addr().unwrap());
    daemon.ok(&[
        "run",
        "--name",
        "fl",
        "--log-driver",
        "fluentd",
        "--log-opt",
        &address,
        "--log-opt",
        "tag=docker.{{.Name}}",
        "--log-opt",
        "env=COLOR",
        "-e",
        "COLOR=red",
        "busybox",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2",
    ]);
    let id = inspect(&daemon, "{{.Id}}", "fl");
    let (connection, _) = listener.accept().expect("the monitor connects");
    connection.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(connection);
    let mut records = BTreeMap::new();
    for _ in 0..2 {
        type Message = (String, i64, BTreeMap<String, String>, Option<()>);
        let (tag, time, record, option): Message = rmp_serde::from_read(&mut reader).expect("a forward message");
        assert_eq!((tag.as_str(), option), ("docker.fl", None));
        assert!((chrono::Utc::now().timestamp() - time).abs() < 60, "{time}");
        assert_eq!(record["container_id"], id);
        assert_eq!(record["container_name"], "/fl");
        assert_eq!(record["COLOR"], "red");
        records.insert(record["source"].clone(), record["log"].clone());
    }
    let expected = BTreeMap::from([("stderr".to_string(), "to-err".to_string()), ("stdout".into(), "to-out".into())]);
    assert_eq!(records, expected);
}

#[test]
fn a_driver_keeps_sending_while_the_daemon_is_down() {
    let mut daemon = Daemon::start();
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let address = format!("syslog-address=udp://{}", receiver.local_addr().unwrap());
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "--log-driver",
        "syslog",
        "--log-opt",
        &address,
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.2; done",
    ]);
    let mut buffer = [0u8; 4096];
    receiver.recv(&mut buffer).expect("a first tick");
    daemon.crash_and_restart_with(|_| {
        // What came before the crash goes; the next tick was sent with no daemon running.
        receiver.set_nonblocking(true).unwrap();
        while receiver.recv(&mut buffer).is_ok() {}
        receiver.set_nonblocking(false).unwrap();
        let n = receiver.recv(&mut buffer).expect("a tick while the daemon is down");
        assert!(std::str::from_utf8(&buffer[..n]).unwrap().ends_with(": tick\n"));
    });
    daemon.ok(&["rm", "-f", "ticker"]);
}

#[test]
fn a_session_of_a_shared_daemon_cannot_point_a_driver_at_the_host() {
    let daemon = Daemon::start_with_args(&["--auth", "accounts"]);
    daemon.admin(&["create-class", "lab", "--seats", "2"]);
    let printed = daemon.admin(&["new-session", "--class", "lab"]);
    let token = printed.lines().find_map(|l| l.strip_prefix("token ")).expect("a token").trim().to_string();
    let config = daemon.scratch_dir("docker-config");
    let headers = serde_json::json!({ "HttpHeaders": { "Authorization": format!("Bearer {token}") } });
    std::fs::write(config.join("config.json"), headers.to_string()).unwrap();
    for (args, reason) in [
        (&["--log-driver", "syslog", "--log-opt", "syslog-address=unix:///run/berth.sock"][..], "--log-driver syslog"),
        (&["--log-driver", "gelf", "--log-opt", "gelf-address=udp://127.0.0.1:9"][..], "--log-driver gelf"),
        (&["--log-opt", "fluentd-address=127.0.0.1:24224"][..], "--log-opt fluentd-address"),
    ] {
        let mut full = vec!["run", "--rm"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["busybox", "true"]);
        let out = daemon.docker_over_http_as(&config, &full);
        assert!(!out.success() && out.stderr.contains(reason) && out.stderr.contains("sends from the host"), "{out:?}");
    }
    let out =
        daemon.docker_over_http_as(&config, &["run", "--rm", "--log-opt", "max-size=1m", "busybox", "echo", "ok"]);
    assert!(out.success() && out.stdout.trim() == "ok", "{out:?}");
}

#[test]
fn local_keeps_what_docker_logs_reads_with_its_own_options() {
    let daemon = Daemon::start();
    daemon.ok(&["run", "--name", "loc", "--log-driver", "local", "busybox", "sh", "-c", "echo kept; echo also >&2"]);
    let logs = daemon.docker(&["logs", "loc"]);
    assert!(logs.success() && logs.stdout.trim() == "kept" && logs.stderr.trim() == "also", "{logs:?}");
    let refused =
        daemon.docker(&["run", "--rm", "--log-driver", "local", "--log-opt", "max-file=1", "busybox", "true"]);
    assert!(refused.stderr.contains("compression cannot be enabled when max file count is 1"), "{refused:?}");
}

/// Reads journald's native protocol: `KEY=value` lines, or `KEY\n`, a u64 LE length, the value and `\n`.
fn journal_fields(mut entry: &[u8]) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    while !entry.is_empty() {
        let end = entry.iter().position(|&b| b == b'\n' || b == b'=').expect("a field name");
        let key = String::from_utf8(entry[..end].to_vec()).unwrap();
        let value;
        if entry[end] == b'=' {
            let stop = end + 1 + entry[end + 1..].iter().position(|&b| b == b'\n').expect("a newline");
            value = entry[end + 1..stop].to_vec();
            entry = &entry[stop + 1..];
        } else {
            let length = u64::from_le_bytes(entry[end + 1..end + 9].try_into().unwrap()) as usize;
            value = entry[end + 9..end + 9 + length].to_vec();
            assert_eq!(entry[end + 9 + length], b'\n');
            entry = &entry[end + 10 + length..];
        }
        fields.insert(key, String::from_utf8(value).unwrap());
    }
    fields
}

#[test]
fn journald_gets_native_entries_on_its_socket() {
    let socket = std::path::Path::new("/run/systemd/journal/socket");
    if socket.exists() {
        eprintln!("a journald runs here: this test binds its socket only where none does");
        return;
    }
    let made_dir = !socket.parent().unwrap().exists();
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let receiver = UnixDatagram::bind(socket).expect("bind the journal socket");
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let daemon = Daemon::start();
    let result = std::panic::catch_unwind(|| {
        daemon.ok(&[
            "run",
            "--name",
            "jd",
            "--log-driver",
            "journald",
            "--log-opt",
            "tag={{.ImageName}}",
            "--log-opt",
            "labels=com.example.team",
            "--label",
            "com.example.team=blue",
            "busybox",
            "echo",
            "to the journal",
        ]);
        let id = inspect(&daemon, "{{.Id}}", "jd");
        let mut buffer = vec![0u8; 65536];
        let n = receiver.recv(&mut buffer).expect("a journal entry");
        let fields = journal_fields(&buffer[..n]);
        let get = |key: &str| fields.get(key).map(String::as_str);
        assert_eq!(get("MESSAGE"), Some("to the journal"));
        assert_eq!(get("PRIORITY"), Some("6"));
        assert_eq!(get("CONTAINER_ID"), Some(&id[..12]));
        assert_eq!(get("CONTAINER_ID_FULL"), Some(id.as_str()));
        assert_eq!(get("CONTAINER_NAME"), Some("jd"));
        assert_eq!((get("CONTAINER_TAG"), get("SYSLOG_IDENTIFIER")), (Some("busybox"), Some("busybox")));
        assert_eq!(get("IMAGE_NAME"), Some("busybox"));
        assert_eq!(get("COM_EXAMPLE_TEAM"), Some("blue"));
        assert_eq!(get("CONTAINER_LOG_ORDINAL"), Some("1"));
        assert_eq!(get("CONTAINER_LOG_EPOCH").map(str::len), Some(64));
        assert!(chrono::DateTime::parse_from_rfc3339(get("SYSLOG_TIMESTAMP").unwrap()).is_ok());
    });
    let _ = std::fs::remove_file(socket);
    if made_dir {
        let _ = std::fs::remove_dir(socket.parent().unwrap());
        let _ = std::fs::remove_dir("/run/systemd");
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
