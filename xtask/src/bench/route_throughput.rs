//! `route_rps` and `route_p99_ms`: requests through a Berth route (an 80/20 split of two busybox httpd containers)
//! against the same requests sent straight to one backend, and through an nginx (Debian's package, installed for
//! it) doing the same split. The anchor here is the direct connection, not dockerd, which has no router: the
//! figures' Berth value is the route's, and `direct_*`, `nginx_*` and the ratios are extras beside it.
//!
//! Each of [`CLIENTS`] threads sends `GET /` for the plan's seconds, one request after another, over a kept-alive
//! connection while the server keeps it (busybox httpd closes each one, so every request connects anew on all three
//! paths alike).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::daemons::{free_port, Daemon};
use super::http;
use super::report::{rounded, Report, Side};
use super::stats::{millis, summarize, Summary};
use super::Bench;

const CLIENTS: usize = 4;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const BACKENDS: [&str; 2] = ["bench-route-a", "bench-route-b"];

/// Requests per second and the latency summary of one path.
struct Load {
    rps: f64,
    latency: Summary,
    failed: usize,
}

pub fn measure(bench: &Bench, report: &mut Report) {
    let berth = bench.berth;
    let outcome = measure_paths(bench, berth);
    let _ = berth.docker.try_run(&[&["rm", "-f"][..], &BACKENDS[..]].concat());
    let _ = http::delete(&berth.socket, "/berth/routes/bench-split", REQUEST_TIMEOUT);
    let (direct, routed, nginx) = match outcome {
        Ok(loads) => loads,
        Err(error) => {
            for name in ["route_rps", "route_p99_ms"] {
                report.figure(name).note(format!("not measured: {error:#}"));
            }
            return;
        }
    };
    let rps = report.figure("route_rps");
    rps.note("berth: through an 80/20 route of two busybox httpd; anchor: straight to one of them (not dockerd)");
    rps.set(Side::Berth, rounded(routed.rps));
    rps.add_extra("direct", rounded(direct.rps));
    rps.add_extra("ratio_to_direct", rounded(routed.rps / direct.rps));
    rps.add_extra("failed_requests", routed.failed + direct.failed);
    let p99 = report.figure("route_p99_ms");
    p99.note("berth: p99 through the route; direct_p99 straight to a backend; overhead_ms the difference");
    p99.set(Side::Berth, rounded(routed.latency.p99));
    p99.add_extra("direct_p99", rounded(direct.latency.p99));
    p99.add_extra("overhead_ms", rounded(routed.latency.p99 - direct.latency.p99));
    p99.add_extra("berth_p50", rounded(routed.latency.median));
    match nginx {
        Ok(nginx) => {
            let rps = report.figure("route_rps");
            rps.add_extra("nginx", rounded(nginx.rps));
            rps.add_extra("ratio_to_nginx", rounded(routed.rps / nginx.rps));
            let p99 = report.figure("route_p99_ms");
            p99.add_extra("nginx_p99", rounded(nginx.latency.p99));
            p99.add_extra("nginx_overhead_ms", rounded(nginx.latency.p99 - direct.latency.p99));
        }
        Err(error) => {
            for name in ["route_rps", "route_p99_ms"] {
                report.figure(name).note(format!("nginx: {error:#}"));
            }
        }
    }
}

/// Direct, routed and (when nginx runs here) nginx's loads, in that order.
fn measure_paths(bench: &Bench, berth: &Daemon) -> Result<(Load, Load, Result<Load>)> {
    let mut addresses = Vec::new();
    for (name, body) in BACKENDS.iter().zip(["a", "b"]) {
        let script = format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
        berth.docker.run(&["run", "-d", "--name", name, "busybox", "sh", "-c", &script])?;
        let ip = berth.docker.output(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", name])?;
        let address: SocketAddr = format!("{ip}:80").parse().with_context(|| format!("{name}'s address {ip}"))?;
        wait_until_serving(address)?;
        addresses.push(address);
    }
    let port = free_port()?;
    let route = serde_json::json!({
        "name": "bench-split",
        "host_port": port,
        "backends": [
            {"name": "a", "container": BACKENDS[0], "port": 80},
            {"name": "b", "container": BACKENDS[1], "port": 80},
        ],
        "mode": {"kind": "weighted", "weights": {"a": 80, "b": 20}},
    });
    let made = http::post_json(&berth.socket, "/berth/routes", &route, REQUEST_TIMEOUT)?;
    if made.status != 201 && made.status != 200 {
        bail!("POST /berth/routes: {} {}", made.status, String::from_utf8_lossy(&made.body));
    }
    let routed_address: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    wait_until_serving(routed_address)?;
    let seconds = bench.plan.route_seconds;
    let direct = load(addresses[0], seconds);
    let routed = load(routed_address, seconds);
    let nginx = with_nginx(bench.run_dir, &addresses, |address| Ok(load(address, seconds)));
    Ok((direct, routed, nginx))
}

fn wait_until_serving(address: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if get_once(&mut None, address).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("nothing answered on {address} within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`CLIENTS`] threads sending requests to `address` for `seconds`.
fn load(address: SocketAddr, seconds: u64) -> Load {
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let (mut latencies, mut failed, mut connection) = (Vec::new(), 0, None);
                while Instant::now() < until {
                    let sent = Instant::now();
                    match get_once(&mut connection, address) {
                        Ok(()) => latencies.push(millis(sent.elapsed())),
                        Err(_) => failed += 1,
                    }
                }
                (latencies, failed)
            })
        })
        .collect();
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for thread in threads {
        if let Ok((samples, failures)) = thread.join() {
            latencies.extend(samples);
            failed += failures;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let latency = summarize(&latencies).unwrap_or(Summary { median: f64::NAN, p95: f64::NAN, p99: f64::NAN, runs: 0 });
    Load { rps: latencies.len() as f64 / elapsed, latency, failed }
}

/// One `GET /` on the kept connection (made anew when there is none); the connection is dropped when the answer
/// says it closes or anything fails.
fn get_once(connection: &mut Option<TcpStream>, address: SocketAddr) -> Result<()> {
    let mut stream = match connection.take() {
        Some(stream) => stream,
        None => {
            let stream = TcpStream::connect_timeout(&address, REQUEST_TIMEOUT)?;
            stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
            stream.set_nodelay(true)?;
            stream
        }
    };
    stream.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")?;
    let mut answer = Vec::with_capacity(512);
    let mut buffer = [0u8; 4096];
    let (head_end, length, closes) = loop {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            bail!("closed before the answer's head");
        }
        answer.extend_from_slice(&buffer[..read]);
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            if !head.starts_with("http/1.1 200") && !head.starts_with("http/1.0 200") {
                bail!("answer {}", head.lines().next().unwrap_or(""));
            }
            let length = head.lines().find_map(|line| {
                line.strip_prefix("content-length:").map(str::trim).and_then(|v| v.parse::<usize>().ok())
            });
            let closes = head.starts_with("http/1.0") || head.contains("connection: close") || length.is_none();
            break (end + 4, length, closes);
        }
    };
    match length {
        Some(length) => {
            while answer.len() < head_end + length {
                let read = stream.read(&mut buffer)?;
                if read == 0 {
                    bail!("closed inside the body");
                }
                answer.extend_from_slice(&buffer[..read]);
            }
        }
        None => while stream.read(&mut buffer)? > 0 {},
    }
    if !closes {
        *connection = Some(stream);
    }
    Ok(())
}

/// Runs `work` against an nginx of the bench's own on a loopback port, splitting 80/20 between `backends` as the
/// route does; stopped afterwards.
fn with_nginx<T>(run_dir: &Path, backends: &[SocketAddr], work: impl FnOnce(SocketAddr) -> Result<T>) -> Result<T> {
    super::install::ensure_nginx()?;
    let dir = run_dir.join("nginx");
    std::fs::create_dir_all(dir.join("logs")).with_context(|| format!("creating {}", dir.display()))?;
    let port = free_port()?;
    let config = format!(
        "worker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  upstream split {{ server {a} weight=4; server {b} weight=1; keepalive 16; }}\n  \
         server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://split; proxy_http_version 1.1; \
         proxy_set_header Connection \"\"; }} }}\n}}\n",
        dir = dir.display(),
        a = backends[0],
        b = backends[1],
    );
    let config_path = dir.join("nginx.conf");
    std::fs::write(&config_path, config).with_context(|| format!("writing {}", config_path.display()))?;
    let mut nginx: Child = Command::new("nginx")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting nginx")?;
    let address: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let result = wait_until_serving(address).and_then(|()| work(address));
    stop_nginx(&mut nginx);
    result
}

/// SIGTERM, which nginx's master passes on to its workers; a SIGKILL would leave them behind. SIGKILL only if it
/// has not gone within 5 s.
fn stop_nginx(nginx: &mut Child) {
    if let Ok(pid) = i32::try_from(nginx.id()) {
        // SAFETY: kill(2) with our own child's pid and a signal number; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if matches!(nginx.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = nginx.kill();
    let _ = nginx.wait();
}
