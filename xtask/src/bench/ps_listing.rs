//! `docker ps -a` with 100 and then 1,000 (created, never started) containers present: the cost of listing, which
//! the web app's container view and every `docker ps` pays, and whether it grows with the containers linearly
//! (#16). Beside each CLI figure, the API's answer alone (`GET /containers/json?all=1` on the socket, no CLI
//! process) as `<engine>_api_ms`.
//!
//! The first 100 are made by `docker create` on the default bridge, as a user would; the other 900 through the API
//! with `--network none` on both engines (the bench's bridges are /24s, and Berth takes an address at create), so
//! both engines list the same thing.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::json;

use super::daemons::Daemon;
use super::http;
use super::report::{rounded, Report, Side};
use super::run_latency::{interleaved_samples, record_samples};
use super::stats::{millis, summarize};
use super::{Bench, Repeats};

const FEW: usize = 100;
const MANY: usize = 1000;
const API_TIMEOUT: Duration = Duration::from_secs(60);

pub fn measure(bench: &Bench, report: &mut Report) {
    let mut ready = Vec::new();
    for daemon in bench.daemons() {
        match create_containers(daemon) {
            Ok(seconds) => {
                report.figure("ps_100_ms").add_extra(format!("{}_create_100_s", daemon.name()), rounded(seconds));
                ready.push(daemon.side);
            }
            Err(error) => report.figure("ps_100_ms").note(format!("{}: creating {FEW}: {error:#}", daemon.name())),
        }
    }
    measure_listing(bench, report, "ps_100_ms", &ready, bench.plan.ps_100);

    let mut ready_many = Vec::new();
    for daemon in bench.daemons().into_iter().filter(|daemon| ready.contains(&daemon.side)) {
        match create_through_api(daemon, MANY - FEW) {
            Ok(seconds) => {
                let key = format!("{}_create_{}_api_s", daemon.name(), MANY - FEW);
                report.figure("ps_1000_ms").add_extra(key, rounded(seconds));
                ready_many.push(daemon.side);
            }
            Err(error) => report.figure("ps_1000_ms").note(format!("{}: creating {MANY}: {error:#}", daemon.name())),
        }
    }
    measure_listing(bench, report, "ps_1000_ms", &ready_many, bench.plan.ps_1000);

    for daemon in bench.daemons() {
        if let Err(error) = daemon.docker.remove_all_containers() {
            report.figure("ps_1000_ms").note(format!("{}: removing the containers: {error:#}", daemon.name()));
        }
    }
}

/// `docker ps -a` as the figure, the API alone beside it; both interleaved between the engines.
fn measure_listing(bench: &Bench, report: &mut Report, name: &str, ready: &[Side], repeats: Repeats) {
    let results = interleaved_samples(bench, &["ps", "-a"], repeats)
        .into_iter()
        .filter(|(side, _)| ready.contains(side))
        .collect();
    record_samples(report.figure(name), results);
    let daemons: Vec<&Daemon> = bench.daemons().into_iter().filter(|daemon| ready.contains(&daemon.side)).collect();
    let mut samples: Vec<Result<Vec<f64>, String>> = daemons.iter().map(|_| Ok(Vec::new())).collect();
    for round in 0..repeats.warmup + repeats.runs {
        for (daemon, result) in daemons.iter().zip(samples.iter_mut()) {
            let Ok(list) = result else { continue };
            match time_api_listing(daemon) {
                Ok(elapsed) if round >= repeats.warmup => list.push(millis(elapsed)),
                Ok(_) => {}
                Err(error) => *result = Err(format!("{error:#}")),
            }
        }
    }
    let figure = report.figure(name);
    let mut medians = Vec::new();
    for (daemon, result) in daemons.iter().zip(samples) {
        match result.map(|list| summarize(&list)) {
            Ok(Some(summary)) => {
                figure.add_extra(format!("{}_api_ms", daemon.name()), rounded(summary.median));
                figure.add_extra(format!("{}_api_p95_ms", daemon.name()), rounded(summary.p95));
                medians.push((daemon.side, summary.median));
            }
            Ok(None) => {}
            Err(error) => figure.note(format!("{}: GET /containers/json: {error}", daemon.name())),
        }
    }
    let median = |side| medians.iter().find(|(s, _)| *s == side).map(|(_, m)| *m);
    if let (Some(berth), Some(dockerd)) = (median(Side::Berth), median(Side::Dockerd)) {
        if dockerd > 0.0 {
            figure.add_extra("api_ratio", rounded(berth / dockerd));
        }
    }
}

fn time_api_listing(daemon: &Daemon) -> Result<Duration> {
    let (response, elapsed) = http::timed_get(&daemon.socket, "/containers/json?all=1", API_TIMEOUT)?;
    if response.status != 200 {
        bail!("GET /containers/json?all=1 answered {}", response.status);
    }
    Ok(elapsed)
}

/// Creates the containers one `docker create` at a time; returns the seconds that took.
fn create_containers(daemon: &Daemon) -> Result<f64> {
    daemon.docker.remove_all_containers()?;
    let started = Instant::now();
    for _ in 0..FEW {
        daemon.docker.run(&["create", "busybox", "true"])?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// `count` more containers through `POST /containers/create`, without a network; returns the seconds that took.
fn create_through_api(daemon: &Daemon, count: usize) -> Result<f64> {
    let body = json!({ "Image": "busybox", "Cmd": ["true"], "HostConfig": { "NetworkMode": "none" } });
    let started = Instant::now();
    for _ in 0..count {
        let response = http::post_json(&daemon.socket, "/containers/create", &body, API_TIMEOUT)?;
        if response.status != 201 {
            bail!("POST /containers/create answered {}: {}", response.status, String::from_utf8_lossy(&response.body));
        }
    }
    Ok(started.elapsed().as_secs_f64())
}
