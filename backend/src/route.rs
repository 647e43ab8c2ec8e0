//! `berth route`: routed ports (`/berth/routes` on the daemon's unix socket): make one in any of the four forms,
//! list them with each backend's weight, traffic and health, switch, reweight, roll back, remove.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use berth_shared::api::routes::{
    BackendRef, OnFailure, RampGuard, RouteCreate, RouteMode, RouteProtocol, RouteRule, RouteView, Sticky,
    DEFAULT_DRAIN_MS,
};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::admin::call;

#[derive(Args)]
pub struct RouteArgs {
    /// The daemon's unix socket.
    #[arg(long, default_value = "/run/berth.sock")]
    socket: PathBuf,
    #[command(subcommand)]
    command: RouteCommand,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeName {
    BlueGreen,
    Weighted,
    Ramped,
    Shadow,
}

#[derive(Args)]
struct CreateArgs {
    name: String,
    /// The host port the route listens on.
    #[arg(long)]
    port: u16,
    /// The host address to listen on (all by default).
    #[arg(long)]
    host_ip: Option<String>,
    /// Relay TCP connections instead of HTTP requests (blue-green and weighted only).
    #[arg(long)]
    tcp: bool,
    /// A backend: NAME=CONTAINER:PORT, or NAME=service:[PROJECT/]SERVICE:PORT for a compose service. Repeat.
    #[arg(long = "backend", required = true)]
    backends: Vec<String>,
    #[arg(long, value_enum)]
    mode: ModeName,
    /// blue-green: the live backend (the first one by default).
    #[arg(long)]
    live: Option<String>,
    /// blue-green: how long what runs on the old backend may finish after a switch (Go duration).
    #[arg(long)]
    drain: Option<String>,
    /// weighted: NAME=PERCENT, adding up to 100. Repeat.
    #[arg(long = "weight")]
    weights: Vec<String>,
    /// weighted: keep each client on its backend with this cookie.
    #[arg(long)]
    sticky_cookie: Option<String>,
    /// weighted: the same value of this header always goes to the same backend.
    #[arg(long)]
    sticky_header: Option<String>,
    /// weighted: WHEN->BACKEND, WHEN one of header:NAME=VALUE, path:/PREFIX, cookie:NAME=VALUE. Repeat.
    #[arg(long = "rule")]
    rules: Vec<String>,
    /// ramped: the backend the traffic leaves.
    #[arg(long)]
    from: Option<String>,
    /// ramped: the backend it goes to, step by step.
    #[arg(long)]
    to: Option<String>,
    #[arg(long, default_value_t = 5)]
    steps: u32,
    /// ramped: time between steps (Go duration).
    #[arg(long, default_value = "10s")]
    interval: String,
    /// ramped: the new backend's error rate (0.1 = 10 %) that stops the ramp.
    #[arg(long, default_value_t = 0.1)]
    max_error_rate: f64,
    /// ramped: the window the error rate is measured over.
    #[arg(long, default_value = "10s")]
    window: String,
    /// ramped: fewer requests than this in the window say nothing yet.
    #[arg(long, default_value_t = 5)]
    min_requests: u64,
    /// ramped: pause, or roll back to 0 %, when the error rate passes the threshold.
    #[arg(long, default_value = "rollback", value_parser = ["rollback", "pause"])]
    on_failure: String,
    /// shadow: the backend that answers the clients.
    #[arg(long)]
    primary: Option<String>,
    /// shadow: the backend that gets a copy of each request, its answers compared.
    #[arg(long)]
    shadow: Option<String>,
}

#[derive(Subcommand)]
enum RouteCommand {
    /// Make a route: bind a host port and send its traffic to the backends.
    Create(Box<CreateArgs>),
    /// The routes, with each backend's weight, requests, errors and health.
    Ls,
    /// A route in full, as JSON (counters, latency histogram, ramp, shadow differences).
    Inspect { name: String },
    /// blue-green: make another backend the live one (refused when it is unhealthy, unless --force).
    Switch {
        name: String,
        to: String,
        #[arg(long)]
        force: bool,
    },
    /// One step back: the live backend or weights before the last change; a ramp to 0 %.
    Rollback { name: String },
    /// weighted: new weights, NAME=PERCENT adding up to 100.
    Weights {
        name: String,
        #[arg(required = true)]
        weights: Vec<String>,
    },
    /// Close the route's port and forget it.
    Rm { name: String },
}

pub fn run(args: RouteArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("start tokio")?;
    runtime.block_on(async move {
        let socket = args.socket;
        match args.command {
            RouteCommand::Create(create) => {
                let body = create_request(*create)?;
                let made = call(&socket, "POST", "/berth/routes", Some(serde_json::to_value(&body)?)).await?;
                let view: RouteView = serde_json::from_value(made).context("the daemon's answer")?;
                println!("route {} on port {}: {}", view.name, view.host_port, describe(&view.mode));
            }
            RouteCommand::Ls => {
                let all = call(&socket, "GET", "/berth/routes", None).await?;
                let views: Vec<RouteView> = serde_json::from_value(all).context("the daemon's answer")?;
                print_table(&views);
            }
            RouteCommand::Inspect { name } => {
                let view = call(&socket, "GET", &format!("/berth/routes/{name}"), None).await?;
                println!("{}", serde_json::to_string_pretty(&view)?);
            }
            RouteCommand::Switch { name, to, force } => {
                let body = json!({"to": to, "force": force});
                let view = call(&socket, "POST", &format!("/berth/routes/{name}/switch"), Some(body)).await?;
                let view: RouteView = serde_json::from_value(view).context("the daemon's answer")?;
                println!("{name}: {}", describe(&view.mode));
            }
            RouteCommand::Rollback { name } => {
                let view = call(&socket, "POST", &format!("/berth/routes/{name}/rollback"), None).await?;
                let view: RouteView = serde_json::from_value(view).context("the daemon's answer")?;
                println!("{name}: {}", describe(&view.mode));
            }
            RouteCommand::Weights { name, weights } => {
                let body = json!({"weights": parse_weights(&weights)?});
                let view = call(&socket, "POST", &format!("/berth/routes/{name}/weights"), Some(body)).await?;
                let view: RouteView = serde_json::from_value(view).context("the daemon's answer")?;
                println!("{name}: {}", describe(&view.mode));
            }
            RouteCommand::Rm { name } => {
                call(&socket, "DELETE", &format!("/berth/routes/{name}"), None).await?;
                println!("removed {name}");
            }
        }
        anyhow::Ok(())
    })
}

fn millis(value: &str, flag: &str) -> anyhow::Result<u64> {
    let nanos = berth_shared::go_duration::parse_nanos(value)
        .with_context(|| format!("{flag} {value:?} is not a duration such as 10s or 500ms"))?;
    u64::try_from(nanos / 1_000_000).with_context(|| format!("{flag} {value:?} is out of range"))
}

/// `NAME=CONTAINER:PORT` or `NAME=service:[PROJECT/]SERVICE:PORT`.
fn parse_backend(text: &str) -> anyhow::Result<BackendRef> {
    let shape = || format!("--backend {text:?}: NAME=CONTAINER:PORT or NAME=service:[PROJECT/]SERVICE:PORT");
    let (name, target) = text.split_once('=').with_context(shape)?;
    let (target, port) = target.rsplit_once(':').with_context(shape)?;
    let port: u16 = port.parse().with_context(shape)?;
    let mut backend = BackendRef { name: name.into(), container: None, service: None, project: None, port };
    match target.strip_prefix("service:") {
        Some(service) => match service.split_once('/') {
            Some((project, service)) => {
                backend.project = Some(project.into());
                backend.service = Some(service.into());
            }
            None => backend.service = Some(service.into()),
        },
        None => backend.container = Some(target.into()),
    }
    Ok(backend)
}

fn parse_weights(pairs: &[String]) -> anyhow::Result<BTreeMap<String, u32>> {
    pairs
        .iter()
        .map(|pair| {
            let (name, weight) = pair.split_once('=').with_context(|| format!("weight {pair:?}: NAME=PERCENT"))?;
            let weight: u32 = weight.parse().with_context(|| format!("weight {pair:?}: the percent is a number"))?;
            Ok((name.to_string(), weight))
        })
        .collect()
}

fn create_request(args: CreateArgs) -> anyhow::Result<RouteCreate> {
    let backends = args.backends.iter().map(|b| parse_backend(b)).collect::<anyhow::Result<Vec<_>>>()?;
    let first = backends.first().map(|b| b.name.clone()).unwrap_or_default();
    let needed = |value: Option<String>, flag: &str| value.with_context(|| format!("this mode needs {flag}"));
    let mode = match args.mode {
        ModeName::BlueGreen => RouteMode::BlueGreen {
            live: args.live.unwrap_or(first),
            drain_ms: match &args.drain {
                Some(drain) => millis(drain, "--drain")?,
                None => DEFAULT_DRAIN_MS,
            },
        },
        ModeName::Weighted => {
            let sticky = match (args.sticky_cookie, args.sticky_header) {
                (Some(_), Some(_)) => anyhow::bail!("stick by a cookie or by a header, not both"),
                (Some(cookie), None) => Some(Sticky::Cookie(cookie)),
                (None, Some(header)) => Some(Sticky::Header(header)),
                (None, None) => None,
            };
            let rules = args
                .rules
                .iter()
                .map(|rule| {
                    let (when, backend) =
                        rule.rsplit_once("->").with_context(|| format!("--rule {rule:?}: WHEN->BACKEND"))?;
                    Ok(RouteRule { when: when.trim().into(), backend: backend.trim().into() })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            RouteMode::Weighted { weights: parse_weights(&args.weights)?, sticky, rules }
        }
        ModeName::Ramped => RouteMode::Ramped {
            from: needed(args.from, "--from")?,
            to: needed(args.to, "--to")?,
            steps: args.steps,
            interval_ms: millis(&args.interval, "--interval")?,
            guard: RampGuard {
                error_rate: args.max_error_rate,
                window_ms: millis(&args.window, "--window")?,
                min_requests: args.min_requests,
                on_failure: match args.on_failure.as_str() {
                    "pause" => OnFailure::Pause,
                    _ => OnFailure::Rollback,
                },
            },
        },
        ModeName::Shadow => {
            RouteMode::Shadow { primary: needed(args.primary, "--primary")?, shadow: needed(args.shadow, "--shadow")? }
        }
    };
    Ok(RouteCreate {
        name: args.name,
        host_port: args.port,
        host_ip: args.host_ip,
        protocol: if args.tcp { RouteProtocol::Tcp } else { RouteProtocol::Http },
        backends,
        mode,
    })
}

fn describe(mode: &RouteMode) -> String {
    match mode {
        RouteMode::BlueGreen { live, .. } => format!("blue/green, live {live}"),
        RouteMode::Weighted { weights, .. } => {
            let listed: Vec<String> = weights.iter().map(|(n, w)| format!("{n} {w}%")).collect();
            format!("weighted, {}", listed.join(", "))
        }
        RouteMode::Ramped { from, to, steps, interval_ms, .. } => {
            format!("ramped from {from} to {to} in {steps} steps of {interval_ms} ms")
        }
        RouteMode::Shadow { primary, shadow } => format!("shadow, {primary} answers, {shadow} compared"),
    }
}

fn print_table(views: &[RouteView]) {
    println!(
        "{:<16}{:<8}{:<12}{:<14}{:<8}{:<10}{:<8}HEALTH",
        "ROUTE", "PORT", "MODE", "BACKEND", "WEIGHT", "REQUESTS", "ERRORS"
    );
    for view in views {
        let mode = match view.mode {
            RouteMode::BlueGreen { .. } => "blue-green",
            RouteMode::Weighted { .. } => "weighted",
            RouteMode::Ramped { .. } => "ramped",
            RouteMode::Shadow { .. } => "shadow",
        };
        for (i, backend) in view.backends.iter().enumerate() {
            let (name, port, mode) = match i {
                0 => (view.name.as_str(), view.host_port.to_string(), mode),
                _ => ("", String::new(), ""),
            };
            let health = match &backend.unhealthy_reason {
                None => "healthy".to_string(),
                Some(reason) => format!("unhealthy: {reason}"),
            };
            println!(
                "{name:<16}{port:<8}{mode:<12}{:<14}{:<8}{:<10}{:<8}{health}",
                backend.name,
                format!("{}%", backend.weight),
                backend.counters.requests,
                backend.counters.errors
            );
        }
        if let Some(shadow) = &view.shadow {
            println!("{:<36}shadow: {} compared, {} differ", "", shadow.compared, shadow.differences);
        }
        if let Some(ramp) = &view.ramp {
            println!("{:<36}ramp: step {}/{}, {:?}", "", ramp.step, ramp.steps, ramp.phase);
        }
    }
}
