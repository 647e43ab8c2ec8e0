//! Reading 100 running containers' figures. `stats_100_containers_ms`: one `GET /containers/{id}/stats?stream=false`
//! for each of 100 running containers, all at once (as a dashboard polling every container would), on both
//! engines; each answer takes two samples a second apart on both, so about a second is the floor and the figure
//! says how far above it the engine gets with 100 at a time. `metrics_scrape_100_ms`: one `GET /metrics` with the
//! same 100 running, Berth alone: dockerd has no per-container metrics endpoint to compare with (its
//! `--metrics-addr` exports the daemon's own figures, not its containers').

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::daemons::Daemon;
use super::http;
use super::report::{Report, Side};
use super::stats::{millis, summarize};
use super::{Bench, Repeats};

const CONTAINERS: usize = 100;
const TIMEOUT: Duration = Duration::from_secs(120);

pub fn measure(bench: &Bench, report: &mut Report) {
    let mut ready: Vec<(&Daemon, Vec<String>)> = Vec::new();
    for daemon in bench.daemons() {
        match start_containers(daemon) {
            Ok(ids) => ready.push((daemon, ids)),
            Err(error) => {
                let note = format!("{}: starting {CONTAINERS} containers: {error:#}", daemon.name());
                report.figure("stats_100_containers_ms").note(note.clone());
                if daemon.side == Side::Berth {
                    report.figure("metrics_scrape_100_ms").note(note);
                }
            }
        }
    }
    for (daemon, ids) in &ready {
        let figure = report.figure("stats_100_containers_ms");
        match samples(bench.plan.stats_100, || all_stats(daemon, ids)) {
            Ok(samples) => {
                if let Some(summary) = summarize(&samples) {
                    figure.set_summary(daemon.side, summary);
                }
            }
            Err(error) => figure.note(format!("{}: {error:#}", daemon.name())),
        }
        if daemon.side == Side::Berth {
            let figure = report.figure("metrics_scrape_100_ms");
            figure.note("Berth only: dockerd has no per-container metrics endpoint");
            match samples(bench.plan.metrics_scrape, || scrape(daemon)) {
                Ok(samples) => {
                    if let Some(summary) = summarize(&samples) {
                        figure.set_summary(Side::Berth, summary);
                    }
                }
                Err(error) => figure.note(format!("berth: {error:#}")),
            }
            match http::get(&daemon.socket, "/metrics", TIMEOUT) {
                Ok(response) => figure.add_extra("berth_scrape_bytes", response.body.len()),
                Err(error) => figure.note(format!("berth: {error:#}")),
            }
        }
    }
    for (daemon, _) in &ready {
        if let Err(error) = daemon.docker.remove_all_containers() {
            report
                .figure("stats_100_containers_ms")
                .note(format!("{}: removing the containers: {error:#}", daemon.name()));
        }
    }
}

fn samples(repeats: Repeats, mut once: impl FnMut() -> Result<Duration>) -> Result<Vec<f64>> {
    let mut samples = Vec::new();
    for round in 0..repeats.warmup + repeats.runs {
        let elapsed = once()?;
        if round >= repeats.warmup {
            samples.push(millis(elapsed));
        }
    }
    Ok(samples)
}

fn start_containers(daemon: &Daemon) -> Result<Vec<String>> {
    daemon.docker.remove_all_containers()?;
    (0..CONTAINERS)
        .map(|_| {
            Ok(daemon
                .docker
                .output(&["run", "-d", "--network", "none", "busybox", "sleep", "1000"])?
                .trim()
                .to_string())
        })
        .collect()
}

/// Every container's stats requested at once, one connection each; the time until the last answer.
fn all_stats(daemon: &Daemon, ids: &[String]) -> Result<Duration> {
    let started = Instant::now();
    let answers: Vec<Result<u16>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                scope.spawn(move || {
                    http::get(&daemon.socket, &format!("/containers/{id}/stats?stream=false"), TIMEOUT)
                        .map(|response| response.status)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a stats request's thread panicked"))))
            .collect()
    });
    let elapsed = started.elapsed();
    for answer in answers {
        let status = answer.context("GET /containers/{id}/stats")?;
        if status != 200 {
            bail!("GET /containers/{{id}}/stats?stream=false answered {status}");
        }
    }
    Ok(elapsed)
}

fn scrape(daemon: &Daemon) -> Result<Duration> {
    let (response, elapsed) = http::timed_get(&daemon.socket, "/metrics", TIMEOUT)?;
    if response.status != 200 {
        bail!("GET /metrics answered {}", response.status);
    }
    let series = String::from_utf8_lossy(&response.body).matches("berth_container_cpu_seconds_total{").count();
    if series != CONTAINERS {
        bail!("GET /metrics has CPU figures of {series} containers, not {CONTAINERS}");
    }
    Ok(elapsed)
}
