//! `docker ps -a` with 100 (created, never started) containers present: the cost of listing, which the web app's
//! container view and every `docker ps` pays.

use std::time::Instant;

use anyhow::Result;

use super::daemons::Daemon;
use super::report::{rounded, Report};
use super::run_latency::{interleaved_samples, record_samples};
use super::Bench;

const CONTAINERS: usize = 100;

pub fn measure(bench: &Bench, report: &mut Report) {
    let mut ready = Vec::new();
    for daemon in bench.daemons() {
        match create_containers(daemon) {
            Ok(seconds) => {
                report.figure("ps_100_ms").add_extra(format!("{}_create_100_s", daemon.name()), rounded(seconds));
                ready.push(daemon.side);
            }
            Err(error) => {
                report.figure("ps_100_ms").note(format!("{}: creating {CONTAINERS}: {error:#}", daemon.name()))
            }
        }
    }
    let results = interleaved_samples(bench, &["ps", "-a"], bench.plan.ps_100)
        .into_iter()
        .filter(|(side, _)| ready.contains(side))
        .collect();
    record_samples(report.figure("ps_100_ms"), results);
    for daemon in bench.daemons() {
        if let Err(error) = daemon.docker.remove_all_containers() {
            report.figure("ps_100_ms").note(format!("{}: removing the containers: {error:#}", daemon.name()));
        }
    }
}

/// Creates the containers one `docker create` at a time; returns the seconds that took.
fn create_containers(daemon: &Daemon) -> Result<f64> {
    daemon.docker.remove_all_containers()?;
    let started = Instant::now();
    for _ in 0..CONTAINERS {
        daemon.docker.run(&["create", "busybox", "true"])?;
    }
    Ok(started.elapsed().as_secs_f64())
}
