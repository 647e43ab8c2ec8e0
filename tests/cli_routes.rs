//! Routed ports end to end: two real busybox httpd containers behind `berth route`, each mode's promise checked
//! by what the clients got: a blue/green switch under load loses no request, 80/20 weights land within 5 points,
//! a sticky cookie holds, a ramp rolls itself back when the new version answers 500, shadow mode counts the
//! answers that differ; a backend its HEALTHCHECK calls unhealthy gets no traffic and no switch without force;
//! bad input gets its 400/404/409; a route survives a daemon restart; compose's `x-berth-route` makes one.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use support::{free_port, unix_request, Daemon};

const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// One daemon for the tests that need no restart.
fn daemon() -> &'static Daemon {
    static DAEMON: OnceLock<Daemon> = OnceLock::new();
    DAEMON.get_or_init(|| Daemon::start().stop_at_exit())
}

/// `berth route --socket <the daemon's> ARGS`: (success, stdout, stderr).
fn route(daemon: &Daemon, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BERTH)
        .arg("route")
        .arg("--socket")
        .arg(daemon.socket())
        .args(args)
        .output()
        .expect("running berth route");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn route_ok(daemon: &Daemon, args: &[&str]) -> String {
    let (ok, stdout, stderr) = route(daemon, args);
    assert!(ok, "berth route {args:?} failed: {stderr}");
    stdout
}

fn inspect(daemon: &Daemon, name: &str) -> serde_json::Value {
    serde_json::from_str(&route_ok(daemon, &["inspect", name])).expect("inspect prints JSON")
}

/// A busybox httpd container serving `files` (paths under /www; those under cgi-bin/ executable) from a folder
/// of the test's, so a test can change an answer by writing the file. Returns when it accepts connections.
fn httpd(daemon: &Daemon, name: &str, files: &[(&str, &str)]) {
    let dir = daemon.scratch_dir(name);
    for (path, content) in files {
        write_file(&dir, path, content);
    }
    let volume = format!("{}:/www", dir.display());
    daemon.ok(&["run", "-d", "--name", name, "-v", &volume, "busybox", "httpd", "-f", "-p", "80", "-h", "/www"]);
    let ip = daemon
        .ok(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name])
        .trim()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect((ip.as_str(), 80)).is_err() {
        assert!(Instant::now() < deadline, "httpd in {name} did not start listening on {ip}:80");
        thread::sleep(Duration::from_millis(20));
    }
}

fn write_file(dir: &Path, path: &str, content: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    // Written beside and renamed over, so httpd never runs a half-written CGI.
    let temporary = file.with_extension("new");
    std::fs::write(&temporary, content).unwrap();
    if path.starts_with("cgi-bin/") {
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::rename(&temporary, &file).unwrap();
}

/// A CGI answering `status` with `body`; busybox httpd passes an answer starting with `HTTP/` through as is.
fn cgi(status: &str, body: &str) -> String {
    format!("#!/bin/sh\nprintf 'HTTP/1.1 {status}\\r\\nContent-Type: text/plain\\r\\n\\r\\n{body}'\n")
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// One request through the route on 127.0.0.1:port (a new connection each, as most clients of a class make).
fn get(port: u16, path: &str, headers: &str) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to the route");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{headers}\r\n").unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("reading the answer");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = match head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        true => dechunk(body),
        false => body.to_string(),
    };
    Answer { status, head: head.to_string(), body: body.trim().to_string() }
}

/// A chunked body's data (the router re-frames a backend's close-delimited answer, as a CGI's, in chunks).
fn dechunk(mut rest: &str) -> String {
    let mut data = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || after.len() < size {
            break;
        }
        data.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    data
}

#[test]
fn a_blue_green_switch_under_load_loses_no_request_and_rolls_back() {
    let d = daemon();
    httpd(d, "bg-blue", &[("index.html", "blue")]);
    httpd(d, "bg-green", &[("index.html", "green")]);
    let port = free_port().to_string();
    route_ok(
        d,
        &[
            "create",
            "bg",
            "--port",
            &port,
            "--mode",
            "blue-green",
            "--backend",
            "blue=bg-blue:80",
            "--backend",
            "green=bg-green:80",
            "--drain",
            "2s",
        ],
    );
    let port: u16 = port.parse().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let load = {
        let done = done.clone();
        thread::spawn(move || {
            let mut answers = Vec::new();
            for _ in 0..1000 {
                let answer = get(port, "/", "");
                answers.push((answer.status, answer.body));
                done.fetch_add(1, Ordering::Relaxed);
            }
            answers
        })
    };
    while done.load(Ordering::Relaxed) < 300 {
        thread::sleep(Duration::from_millis(5));
    }
    route_ok(d, &["switch", "bg", "green"]);
    let answers = load.join().unwrap();
    let failed: Vec<_> = answers.iter().filter(|(status, _)| *status != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of 1000 requests failed during the switch: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    let first_green = answers.iter().position(|(_, body)| body == "green").expect("the switch reached the load");
    assert!(first_green >= 300, "blue served until the switch");
    assert!(answers[first_green..].iter().all(|(_, body)| body == "green"), "nothing went back to blue");
    route_ok(d, &["rollback", "bg"]);
    assert_eq!(get(port, "/", "").body, "blue");
    let view = inspect(d, "bg");
    assert_eq!(view["mode"]["live"], "blue");
    let served: u64 =
        view["backends"].as_array().unwrap().iter().map(|b| b["counters"]["requests"].as_u64().unwrap()).sum();
    assert_eq!(served, 1001);
}

#[test]
fn weights_of_80_20_land_within_5_points_and_a_sticky_cookie_holds() {
    let d = daemon();
    httpd(d, "ab-a", &[("index.html", "a")]);
    httpd(d, "ab-b", &[("index.html", "b")]);
    let port = free_port();
    route_ok(
        d,
        &[
            "create",
            "ab",
            "--port",
            &port.to_string(),
            "--mode",
            "weighted",
            "--backend",
            "a=ab-a:80",
            "--backend",
            "b=ab-b:80",
            "--weight",
            "a=80",
            "--weight",
            "b=20",
        ],
    );
    let to_b = (0..2000).filter(|_| get(port, "/", "").body == "b").count();
    assert!((300..=500).contains(&to_b), "b got {to_b} of 2000 (20 % is 400)");
    let metrics = d.get("/metrics").expect("metrics").1;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("berth_route_requests_total{") && l.contains("route=\"ab\"") && l.contains("backend=\"b\"")
        })
        .unwrap_or_else(|| panic!("no route counter in /metrics"));
    assert_eq!(line.rsplit(' ').next().unwrap(), to_b.to_string(), "{line}");

    let (ok, _, stderr) = route(d, &["weights", "ab", "a=60", "b=30"]);
    assert!(!ok);
    assert!(stderr.contains("weights must add up to 100; a=60, b=30 add up to 90"), "{stderr}");

    let sticky_port = free_port();
    route_ok(
        d,
        &[
            "create",
            "sticky",
            "--port",
            &sticky_port.to_string(),
            "--mode",
            "weighted",
            "--backend",
            "a=ab-a:80",
            "--backend",
            "b=ab-b:80",
            "--weight",
            "a=50",
            "--weight",
            "b=50",
            "--sticky-cookie",
            "lane",
        ],
    );
    for _ in 0..5 {
        let first = get(sticky_port, "/", "");
        let cookie = first
            .head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .expect("a sticky cookie on the first answer")
            .to_string();
        let pair = cookie.split(';').next().unwrap();
        assert_eq!(pair, format!("lane={}", first.body));
        for _ in 0..20 {
            assert_eq!(get(sticky_port, "/", &format!("Cookie: {pair}\r\n")).body, first.body, "the cookie holds");
        }
    }
    route_ok(d, &["rm", "sticky"]);
    route_ok(d, &["rm", "ab"]);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "a removed route's port is closed");
}

#[test]
fn a_ramp_rolls_back_by_itself_when_the_new_version_answers_500() {
    let d = daemon();
    httpd(d, "ramp-old", &[("cgi-bin/v", &cgi("200 OK", "old"))]);
    httpd(d, "ramp-new", &[("cgi-bin/v", &cgi("200 OK", "new"))]);
    let port = free_port();
    route_ok(
        d,
        &[
            "create",
            "ramp",
            "--port",
            &port.to_string(),
            "--mode",
            "ramped",
            "--backend",
            "old=ramp-old:80",
            "--backend",
            "new=ramp-new:80",
            "--from",
            "old",
            "--to",
            "new",
            "--steps",
            "4",
            "--interval",
            "1s",
            "--max-error-rate",
            "0.2",
            "--window",
            "5s",
            "--min-requests",
            "3",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while inspect(d, "ramp")["ramp"]["step"].as_u64().unwrap() < 2 {
        assert!(Instant::now() < deadline, "the ramp did not step");
        assert_eq!(get(port, "/cgi-bin/v", "").status, 200);
    }
    write_file(&d.scratch_dir("ramp-new"), "cgi-bin/v", &cgi("500 Broken", "broken"));
    while inspect(d, "ramp")["ramp"]["phase"] != "rolled_back" {
        assert!(Instant::now() < deadline, "the ramp did not roll back: {}", inspect(d, "ramp")["ramp"]);
        get(port, "/cgi-bin/v", "");
    }
    let view = inspect(d, "ramp");
    assert!(view["ramp"]["reason"].as_str().unwrap().contains("error rate"), "{}", view["ramp"]);
    assert_eq!(view["backends"][1]["weight"], 0);
    for _ in 0..50 {
        let answer = get(port, "/cgi-bin/v", "");
        assert_eq!((answer.status, answer.body.as_str()), (200, "old"));
    }
    route_ok(d, &["rm", "ramp"]);
}

#[test]
fn shadow_answers_from_the_primary_and_counts_the_differences() {
    let d = daemon();
    httpd(d, "sh-v1", &[("index.html", "same"), ("diff.html", "one")]);
    httpd(d, "sh-v2", &[("index.html", "same"), ("diff.html", "two")]);
    let port = free_port();
    route_ok(
        d,
        &[
            "create",
            "shadow",
            "--port",
            &port.to_string(),
            "--mode",
            "shadow",
            "--backend",
            "v1=sh-v1:80",
            "--backend",
            "v2=sh-v2:80",
            "--primary",
            "v1",
            "--shadow",
            "v2",
        ],
    );
    for i in 0..15 {
        let path = if i % 3 == 0 { "/diff.html" } else { "/" };
        let answer = get(port, path, "");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, if path == "/" { "same" } else { "one" }, "the client gets the primary's answer");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while inspect(d, "shadow")["shadow"]["compared"].as_u64().unwrap() < 15 {
        assert!(Instant::now() < deadline, "comparisons did not finish: {}", inspect(d, "shadow")["shadow"]);
        thread::sleep(Duration::from_millis(20));
    }
    let shadow = &inspect(d, "shadow")["shadow"];
    assert_eq!(shadow["compared"], 15);
    assert_eq!(shadow["differences"], 5);
    assert_eq!(shadow["body_differences"], 5);
    assert_eq!(shadow["status_differences"], 0);
    let samples = shadow["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 5);
    assert!(samples.iter().all(|s| s["path"] == "/diff.html" && s["primary_status"] == 200));
    route_ok(d, &["rm", "shadow"]);
}

#[test]
fn bad_input_gets_404_400_and_409_with_the_reason() {
    let d = daemon();
    httpd(d, "bad-web", &[("index.html", "web")]);
    let post = |body: serde_json::Value| {
        unix_request(d.socket(), "POST", "/berth/routes", Some(&body.to_string())).expect("the daemon answers")
    };
    let request = |backends: serde_json::Value, mode: serde_json::Value, port: u16| serde_json::json!({"name": "bad", "host_port": port, "backends": backends, "mode": mode});
    let web = serde_json::json!([{"name": "a", "container": "bad-web", "port": 80}]);
    let live = serde_json::json!({"kind": "blue_green", "live": "a"});

    let (status, body) = post(request(
        serde_json::json!([{"name": "a", "container": "no-such", "port": 80}]),
        live.clone(),
        free_port(),
    ));
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("No such container: no-such"), "{body}");

    let (status, body) = post(request(
        serde_json::json!([{"name": "a", "container": "bad-web", "port": 81}]),
        live.clone(),
        free_port(),
    ));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("has no port 81"), "{body}");

    let uneven = serde_json::json!({"kind": "weighted", "weights": {"a": 70}});
    let (status, body) = post(request(web.clone(), uneven, free_port()));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("weights must add up to 100; a=70 add up to 70"), "{body}");

    let rule = serde_json::json!({"kind": "weighted", "weights": {"a": 100}, "rules": [{"when": "query:x=1", "backend": "a"}]});
    let (status, body) = post(request(web.clone(), rule, free_port()));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("rule \\\"query:x=1\\\" cannot parse"), "{body}");

    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let (status, body) = post(request(web.clone(), live.clone(), taken.local_addr().unwrap().port()));
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("is already in use"), "{body}");

    let (ok, _, stderr) = route(d, &["inspect", "never-made"]);
    assert!(!ok);
    assert!(stderr.contains("No such route: never-made"), "{stderr}");
}

#[test]
fn a_route_survives_a_daemon_restart() {
    // Its containers keep running across the restart, so the route is back with the same addresses at once.
    let mut d = Daemon::start_with_args(&["--live-restore=true"]);
    httpd(&d, "keep-blue", &[("index.html", "blue")]);
    httpd(&d, "keep-green", &[("index.html", "green")]);
    let port = free_port();
    route_ok(
        &d,
        &[
            "create",
            "keep",
            "--port",
            &port.to_string(),
            "--mode",
            "blue-green",
            "--backend",
            "blue=keep-blue:80",
            "--backend",
            "green=keep-green:80",
        ],
    );
    route_ok(&d, &["switch", "keep", "green"]);
    assert_eq!(get(port, "/", "").body, "green");
    d.restart();
    let answer = get(port, "/", "");
    assert_eq!((answer.status, answer.body.as_str()), (200, "green"), "the route is back, with green live");
    let view = inspect(&d, "keep");
    assert_eq!(view["can_roll_back"], true);
    route_ok(&d, &["rollback", "keep"]);
    assert_eq!(get(port, "/", "").body, "blue");
    d.ok(&["rm", "-f", "keep-blue", "keep-green"]);
}

#[test]
fn compose_up_makes_the_route_its_services_declare_and_down_removes_it() {
    let d = daemon();
    let dir = d.scratch_dir("compose-routed");
    let port = free_port();
    let service = |colour: &str, route: &str| {
        format!(
            "  {colour}:\n    image: busybox\n    command: [\"sh\", \"-c\", \"mkdir -p /www && echo {colour} > /www/index.html && exec httpd -f -p 80 -h /www\"]\n    x-berth-route: {route}\n"
        )
    };
    let file = format!(
        "services:\n{}{}",
        service("blue", &format!("{{route: site, host_port: {port}, port: 80, mode: blue-green, live: true}}")),
        service("green", "{route: site, port: 80}")
    );
    std::fs::write(dir.join("compose.yaml"), file).unwrap();
    let compose = |args: &[&str]| {
        let output = Command::new(BERTH)
            .arg("compose")
            .args(args)
            .current_dir(&dir)
            .env("DOCKER_HOST", format!("unix://{}", d.socket().display()))
            .output()
            .expect("running berth compose");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "berth compose {args:?}: {stderr}");
        stderr
    };
    let said = compose(&["-p", "routed", "up", "-d"]);
    assert!(said.contains(&format!("Route site on port {port}")), "{said}");
    assert_eq!(get(port, "/", "").body, "blue");
    route_ok(d, &["switch", "site", "green"]);
    assert_eq!(get(port, "/", "").body, "green");
    let said = compose(&["-p", "routed", "up", "-d"]);
    assert!(said.contains("Route site exists, kept as it is"), "{said}");
    assert_eq!(get(port, "/", "").body, "green", "a second up keeps the switch");
    compose(&["-p", "routed", "down"]);
    let (ok, _, stderr) = route(d, &["inspect", "site"]);
    assert!(!ok && stderr.contains("No such route: site"), "{stderr}");
}

#[test]
fn a_backend_its_healthcheck_calls_unhealthy_gets_no_traffic_and_no_switch_without_force() {
    let d = daemon();
    httpd(d, "hc-blue", &[("index.html", "blue")]);
    let dir = d.scratch_dir("hc-green");
    write_file(&dir, "index.html", "green");
    let volume = format!("{}:/www", dir.display());
    d.ok(&[
        "run",
        "-d",
        "--name",
        "hc-green",
        "-v",
        &volume,
        "--health-cmd",
        "false",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let port = free_port();
    route_ok(
        d,
        &[
            "create",
            "hc",
            "--port",
            &port.to_string(),
            "--mode",
            "weighted",
            "--backend",
            "blue=hc-blue:80",
            "--backend",
            "green=hc-green:80",
            "--weight",
            "blue=50",
            "--weight",
            "green=50",
        ],
    );
    wait_until_unhealthy(d, "hc", 1, Duration::from_secs(30));
    let reason = inspect(d, "hc")["backends"][1]["unhealthy_reason"].as_str().unwrap().to_string();
    assert!(reason.contains("HEALTHCHECK"), "{reason}");
    for _ in 0..40 {
        assert_eq!(get(port, "/", "").body, "blue", "an unhealthy backend gets no traffic");
    }
    route_ok(d, &["rm", "hc"]);

    let bg_port = free_port();
    route_ok(
        d,
        &[
            "create",
            "hc-bg",
            "--port",
            &bg_port.to_string(),
            "--mode",
            "blue-green",
            "--backend",
            "blue=hc-blue:80",
            "--backend",
            "green=hc-green:80",
        ],
    );
    wait_until_unhealthy(d, "hc-bg", 1, Duration::from_secs(10));
    let (ok, _, stderr) = route(d, &["switch", "hc-bg", "green"]);
    assert!(!ok && stderr.contains("backend green is not healthy"), "{stderr}");
    route_ok(d, &["switch", "hc-bg", "green", "--force"]);
    assert_eq!(inspect(d, "hc-bg")["mode"]["live"], "green");
    assert_eq!(get(bg_port, "/", "").body, "blue", "while green is unhealthy its traffic goes to a healthy one");
    route_ok(d, &["rm", "hc-bg"]);
}

/// Waits until the route's watch marks backend `index` unhealthy.
fn wait_until_unhealthy(d: &Daemon, route: &str, index: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while inspect(d, route)["backends"][index]["healthy"] != false {
        assert!(Instant::now() < deadline, "{route}'s backend {index} never became unhealthy: {}", inspect(d, route));
        thread::sleep(Duration::from_millis(100));
    }
}
