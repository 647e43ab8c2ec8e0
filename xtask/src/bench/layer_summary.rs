//! The playground's layer view: `GET /berth/images/{name}/layers` (Berth's own API; dockerd has no such thing)
//! for an image whose top layer adds 10,000 files. The endpoint is probed first, so this reports null with the
//! reason until it lands and measures it from then on without a change here.

use std::time::Duration;

use anyhow::{bail, Result};

use super::daemons::Daemon;
use super::http;
use super::report::Report;
use super::stats::{millis, summarize};
use super::Bench;

const LAYERS_PATH: &str = "/berth/images/{name}/layers";
const IMAGE: &str = "berth-bench-layer10k:latest";
/// busybox's sh, writing 10,000 small files in one layer.
const MAKE_FILES: &str = "mkdir /many && cd /many && i=0; while [ $i -lt 10000 ]; do echo $i > f$i; i=$((i+1)); done";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub fn measure(bench: &Bench, report: &mut Report) {
    let figure = report.figure("layer_summary_10k_ms");
    figure.note("dockerd: no layer summary endpoint (Berth's own API)");
    let Some(repeats) = bench.plan.layer_summary else {
        figure.note("berth: skipped in --quick");
        return;
    };
    match summary_samples(bench.berth, repeats.warmup, repeats.runs) {
        Ok(samples) => figure.set_summary(super::report::Side::Berth, summarize(&samples).expect("runs > 0")),
        Err(error) => figure.note(format!("berth: {error:#}")),
    }
}

fn summary_samples(berth: &Daemon, warmup: usize, runs: usize) -> Result<Vec<f64>> {
    let probe = layers_path("busybox:latest");
    let response = http::get(&berth.socket, &probe, REQUEST_TIMEOUT)?;
    if !is_layer_summary(&response) {
        bail!("GET {probe} answered {} without a layer list: no layer summaries in this Berth yet", response.status);
    }
    berth.docker.run(&["run", "--name", "berth-bench-layer10k", "busybox", "sh", "-c", MAKE_FILES])?;
    berth.docker.run(&["commit", "berth-bench-layer10k", IMAGE])?;
    berth.docker.run(&["rm", "--force", "berth-bench-layer10k"])?;
    let path = layers_path(IMAGE);
    let mut samples = Vec::with_capacity(runs);
    for request in 0..warmup + runs.max(1) {
        let (response, elapsed) = http::timed_get(&berth.socket, &path, REQUEST_TIMEOUT)?;
        if !is_layer_summary(&response) {
            bail!("GET {path} answered {} without a layer list", response.status);
        }
        if request >= warmup {
            samples.push(millis(elapsed));
        }
    }
    Ok(samples)
}

/// A 200 with `{"layers": [...]}` (berth_shared::api::layers::ImageLayers); the web app answers unknown paths
/// with its HTML page and 200, which is not one.
fn is_layer_summary(response: &http::Response) -> bool {
    response.status == 200 && response.json().is_some_and(|body| body["layers"].is_array())
}

/// Image names go into the path as they are (`name:tag`), as the Engine API's /images/{name}/json does.
fn layers_path(image: &str) -> String {
    LAYERS_PATH.replace("{name}", image)
}
