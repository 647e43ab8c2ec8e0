//! A class on one machine (`--auth accounts`): 50 sessions with 10 idle containers each. Two figures, Berth alone
//! (dockerd has no sessions):
//! - `class_ps_p99_ms`: `docker ps` of one session (its token in the CLI's config.json, over the HTTP port), every
//!   session in turn, p99 over all of them;
//! - `class_join_to_shell_p99_ms`: a join link opened (`GET /berth/join/...`) to a shell prompt in a new container
//!   of that session: the cookie, create and start of `sh` with a tty, the playground's terminal websocket, until
//!   the prompt arrives.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tungstenite::client::IntoClientRequest as _;
use tungstenite::Message;

use super::daemons::{self, Daemon};
use super::docker_cli::DockerCli;
use super::report::{rounded, Report, Side};
use super::stats::{millis, summarize};
use super::Bench;

const SESSIONS: usize = 50;
const CONTAINERS_PER_SESSION: usize = 10;
const TIMEOUT: Duration = Duration::from_secs(30);

pub fn measure(bench: &Bench, report: &mut Report) {
    match samples(bench) {
        Ok((ps, join)) => {
            for (name, samples, what) in [
                ("class_ps_p99_ms", ps, "docker ps of one session among 50 with 10 idle containers each (target 200)"),
                ("class_join_to_shell_p99_ms", join, "join link opened to a shell prompt, 50 sessions (target 200)"),
            ] {
                let figure = report.figure(name);
                figure.note(format!("Berth only: {what}"));
                if let Some(summary) = summarize(&samples) {
                    figure.set(Side::Berth, summary.p99);
                    figure.add_extra("berth_p50", rounded(summary.median));
                    figure.add_extra("berth_runs", summary.runs);
                }
            }
        }
        Err(error) => {
            for name in ["class_ps_p99_ms", "class_join_to_shell_p99_ms"] {
                report.figure(name).note(format!("berth: {error:#}"));
            }
        }
    }
}

fn samples(bench: &Bench) -> Result<(Vec<f64>, Vec<f64>)> {
    let dir = bench.run_dir.join("berth-class");
    let berth = daemons::start_berth_with(
        bench.cleanup,
        &bench.berth_binary,
        &dir,
        &bench.adopt_bridge,
        &["--auth", "accounts"],
    )?;
    let made = admin(
        &bench.berth_binary,
        &berth.socket,
        &["create-class", "bench", "--seats", "120", "--containers", "20", "--url", &format!("http://{}", berth.http)],
    )?;
    let link = made.lines().find_map(|l| l.strip_prefix("join ")).context("create-class printed no join link")?;
    let join_path = link.find("/berth/join/").map(|at| link[at..].to_string()).context("a join path")?;

    let mut clients = Vec::with_capacity(SESSIONS);
    for index in 0..SESSIONS {
        let printed = admin(&bench.berth_binary, &berth.socket, &["new-session", "--class", "bench"])?;
        let token = printed.lines().find_map(|l| l.strip_prefix("token ")).context("new-session printed no token")?;
        let config = dir.join(format!("session-{index}"));
        let cli = DockerCli::over_tcp(&berth.http, config.clone())?;
        let headers = serde_json::json!({ "HttpHeaders": { "Authorization": format!("Bearer {token}") } });
        std::fs::write(config.join("config.json"), headers.to_string()).context("writing a session's config.json")?;
        for _ in 0..CONTAINERS_PER_SESSION {
            cli.output(&["run", "-d", "busybox", "sleep", "100000"])?;
        }
        clients.push(cli);
    }
    let mut ps = Vec::new();
    for round in 0..3 {
        for cli in &clients {
            let finished = cli.run(&["ps", "-q"])?;
            let listed = finished.stdout.split_whitespace().count();
            if listed != CONTAINERS_PER_SESSION {
                bail!("a session's docker ps listed {listed} containers, not its {CONTAINERS_PER_SESSION}");
            }
            if round > 0 {
                ps.push(millis(finished.elapsed));
            }
        }
    }
    let mut join = Vec::new();
    for _ in 0..SESSIONS {
        join.push(millis(join_to_shell(&berth, &join_path)?));
    }
    let _ = berth.docker.remove_all_containers();
    procfs_stop(&berth);
    Ok((ps, join))
}

fn procfs_stop(berth: &Daemon) {
    super::procfs::stop_process(berth.pid, None, Duration::from_secs(60));
}

fn admin(berth: &Path, socket: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(berth).arg("admin").arg("--socket").arg(socket).args(args).output()?;
    if !output.status.success() {
        bail!("berth admin {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// One HTTP/1.0 request on the daemon's port: status, headers and body.
fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut text = format!("{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, head.to_string(), body.to_string()))
}

/// From opening the join link to the shell's prompt in the playground's terminal.
fn join_to_shell(berth: &Daemon, join_path: &str) -> Result<Duration> {
    let address = berth.http.as_str();
    let started = Instant::now();
    let (status, head, _) = request(address, "GET", join_path, &[], "")?;
    if status != 303 {
        bail!("the join link answered {status}");
    }
    let cookie = head
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: ").or_else(|| line.strip_prefix("Set-Cookie: ")))
        .and_then(|value| value.split(';').next())
        .context("the join link set no cookie")?
        .to_string();
    let client = berth_client_header();
    let headers = [("Cookie", cookie.as_str()), (client, "bench"), ("Content-Type", "application/json")];
    let create = serde_json::json!({ "Image": "busybox", "Cmd": ["sh"], "Tty": true, "OpenStdin": true }).to_string();
    let (status, _, body) = request(address, "POST", "/containers/create", &headers, &create)?;
    if status != 201 {
        bail!("create answered {status}: {body}");
    }
    let id = serde_json::from_str::<serde_json::Value>(&body)?["Id"].as_str().context("no Id")?.to_string();
    let (status, _, body) = request(address, "POST", &format!("/containers/{id}/start"), &headers, "")?;
    if status != 204 {
        bail!("start answered {status}: {body}");
    }
    let stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut ws = format!("ws://{address}/berth/terminals/ws?container={id}&mode=tty").into_client_request()?;
    ws.headers_mut().insert("Cookie", cookie.parse()?);
    let (mut socket, _) = tungstenite::client::client(ws, stream).map_err(|e| anyhow::anyhow!("terminal: {e}"))?;
    let mut seen = Vec::new();
    loop {
        match socket.read().context("reading the terminal")? {
            Message::Binary(bytes) => {
                seen.extend_from_slice(&bytes);
                if seen.windows(2).any(|w| w == b"# ") {
                    break;
                }
            }
            Message::Close(_) => bail!("the terminal closed before the prompt"),
            _ => {}
        }
    }
    let elapsed = started.elapsed();
    let _ = socket.close(None);
    Ok(elapsed)
}

fn berth_client_header() -> &'static str {
    "X-Berth-Client"
}
