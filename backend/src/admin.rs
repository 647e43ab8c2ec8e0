//! `berth admin`: accounts, classes and sessions of a shared daemon, through `/berth/admin/...` on its unix
//! socket (root's, and served nowhere else).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use serde_json::{json, Value};

#[derive(Args)]
pub struct AdminArgs {
    /// The daemon's unix socket.
    #[arg(long, default_value = "/run/berth.sock")]
    socket: PathBuf,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Make an account; the password is read from stdin (one line).
    CreateUser {
        name: String,
        #[arg(long, value_parser = ["admin", "instructor", "student"])]
        role: String,
    },
    /// Make a class and print its join link.
    CreateClass {
        name: String,
        #[arg(long)]
        seats: i64,
        /// A session's maximum age (Go duration: 4h, 90m).
        #[arg(long, default_value = "4h")]
        max_age: String,
        /// A session ends after this long without use.
        #[arg(long, default_value = "30m")]
        idle: String,
        /// Memory of one session, all its containers together (512m, 2g).
        #[arg(long, default_value = "2g")]
        memory: String,
        /// CPUs of one session.
        #[arg(long, default_value_t = 1.0)]
        cpus: f64,
        /// Processes of one session.
        #[arg(long, default_value_t = 500)]
        pids: i64,
        /// Disk of one session (writable layers, volumes, built images).
        #[arg(long, default_value = "5g")]
        disk: String,
        /// Containers of one session.
        #[arg(long, default_value_t = 10)]
        containers: i64,
        /// Host ports one session may publish (`-p`), all its containers together.
        #[arg(long, default_value_t = 10)]
        ports: i64,
        /// How far past --max-age a session may be extended ("extend" in its page), in all; 0 for never.
        #[arg(long, default_value = "1h")]
        extend: String,
        /// The base of the join link printed, as students reach the daemon.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
    },
    /// Seat a session in a class and print `session ID` and `token TOKEN` (for scripts and tests).
    NewSession {
        #[arg(long)]
        class: String,
    },
    /// List the sessions not yet ended.
    Sessions,
    /// End a session and remove everything it made.
    EndSession { id: String },
    /// The newest audit entries.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("start tokio")?;
    runtime.block_on(async move {
        let socket = args.socket;
        match args.command {
            AdminCommand::CreateUser { name, role } => {
                let mut password = String::new();
                std::io::stdin().read_line(&mut password).context("read the password from stdin")?;
                let password = password.trim_end_matches(['\r', '\n']);
                let user = call(
                    &socket,
                    "POST",
                    "/berth/admin/users",
                    Some(json!({"name": name, "role": role, "password": password})),
                )
                .await?;
                println!(
                    "user {} ({})",
                    user["name"].as_str().unwrap_or_default(),
                    user["role"].as_str().unwrap_or_default()
                );
            }
            AdminCommand::CreateClass {
                name,
                seats,
                max_age,
                idle,
                memory,
                cpus,
                pids,
                disk,
                containers,
                ports,
                extend,
                url,
            } => {
                let limits = json!({
                    "max_age_secs": seconds(&max_age, "--max-age")?,
                    "idle_secs": seconds(&idle, "--idle")?,
                    "memory_bytes": size(&memory, "--memory")?,
                    "nano_cpus": (cpus * 1e9).round() as i64,
                    "pids": pids,
                    "disk_bytes": size(&disk, "--disk")?,
                    "containers": containers,
                    "ports": ports,
                    "extend_secs": seconds(&extend, "--extend")?,
                });
                let made = call(
                    &socket,
                    "POST",
                    "/berth/admin/classes",
                    Some(json!({"name": name, "seats": seats, "limits": limits})),
                )
                .await?;
                let token = made["join_link"]["token"].as_str().unwrap_or_default();
                println!("class {name}: {seats} seats");
                println!("join {}/berth/join/{token}", url.trim_end_matches('/'));
            }
            AdminCommand::NewSession { class } => {
                let seated = call(&socket, "POST", "/berth/admin/sessions", Some(json!({"class": class}))).await?;
                println!("session {}", seated["session"]["id"].as_str().unwrap_or_default());
                println!("token {}", seated["token"].as_str().unwrap_or_default());
            }
            AdminCommand::Sessions => {
                let sessions = call(&socket, "GET", "/berth/admin/sessions", None).await?;
                println!("{:<14}{:<20}{:<12}{:<22}", "SESSION", "CLASS", "CONTAINERS", "EXPIRES");
                for session in sessions.as_array().into_iter().flatten() {
                    let expires = session["expires"].as_i64().and_then(|t| chrono::DateTime::from_timestamp(t, 0));
                    println!(
                        "{:<14}{:<20}{:<12}{:<22}",
                        session["id"].as_str().unwrap_or_default(),
                        session["class"].as_str().unwrap_or_default(),
                        session["containers"].as_u64().unwrap_or_default(),
                        expires.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
                    );
                }
            }
            AdminCommand::EndSession { id } => {
                let ended = call(&socket, "DELETE", &format!("/berth/admin/sessions/{id}"), None).await?;
                println!("ended {id}: {} containers removed", ended["containers_removed"].as_u64().unwrap_or_default());
            }
            AdminCommand::Audit { limit } => {
                let entries = call(&socket, "GET", &format!("/berth/admin/audit?limit={limit}"), None).await?;
                for entry in entries.as_array().into_iter().flatten() {
                    let at = entry["at"].as_i64().and_then(|t| chrono::DateTime::from_timestamp(t, 0));
                    println!(
                        "{} {} {} {} {}",
                        at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        entry["actor"].as_str().unwrap_or_default(),
                        entry["action"].as_str().unwrap_or_default(),
                        entry["target"].as_str().unwrap_or_default(),
                        entry["outcome"].as_str().unwrap_or_default(),
                    );
                }
            }
        }
        anyhow::Ok(())
    })
}

fn seconds(value: &str, flag: &str) -> anyhow::Result<i64> {
    let nanos = berth_shared::go_duration::parse_nanos(value)
        .with_context(|| format!("{flag} {value:?} is not a duration such as 4h or 30m"))?;
    i64::try_from(nanos / 1_000_000_000).with_context(|| format!("{flag} {value:?} is too long"))
}

fn size(value: &str, flag: &str) -> anyhow::Result<i64> {
    let bytes = super::parse_size(value).map_err(|error| anyhow::anyhow!("{flag}: {error}"))?;
    i64::try_from(bytes).with_context(|| format!("{flag} {value:?} is too large"))
}

/// One request to the daemon's unix socket; an error answer becomes the daemon's message.
pub(crate) async fn call(
    socket: &std::path::Path,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let stream = tokio::net::UnixStream::connect(socket).await.with_context(|| {
        format!("connect to the daemon at {} (is `berth serve` running, and are you root?)", socket.display())
    })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .context("talk to the daemon")?;
    tokio::spawn(connection);
    let payload = body.map(|body| body.to_string()).unwrap_or_default();
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "berth")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(payload)))
        .context("make the request")?;
    let response = sender.send_request(request).await.context("send the request")?;
    let status = response.status();
    let bytes = response.into_body().collect().await.context("read the answer")?.to_bytes();
    let value: Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"message": String::from_utf8_lossy(&bytes)}));
    if !status.is_success() {
        let message = value["message"].as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
        if status == hyper::StatusCode::NOT_FOUND && message.starts_with("page not found") {
            anyhow::bail!("the daemon has no accounts: start it with `berth serve --auth accounts`");
        }
        anyhow::bail!("{message}");
    }
    Ok(value)
}
