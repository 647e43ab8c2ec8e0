//! `docker pull 127.0.0.1:PORT/big:1` (five 40 MB layers of noise, [`super::big_image`]) from the bench's private
//! registry into a cold store. Before every pull `docker rmi` removes the image, and the engine's directory must be
//! back within [`COLD_SLACK`] of its size before the first pull; otherwise layers survived the rmi, the pull would
//! reuse them, and the engine gets an error instead of a number. (dockerd releases a layer's overlay2 directory
//! when its last image goes and keeps no compressed blobs, since the bench's dockerd does not use containerd's
//! image store; Berth deletes unreferenced blobs on rmi.)
//!
//! Rounds alternate between the engines, as in [`super::run_latency`]. The registry has just written or served
//! the blobs, so they come from the page cache over loopback: the time is each engine's own fetching, verifying,
//! unpacking and writing. dockerd fetches three layers at a time (its default max-concurrent-downloads).
//! `<engine>_stored_mb` beside the time is how much the engine's directory grew with one pull.

use anyhow::{bail, Result};

use super::daemons::Daemon;
use super::procfs::bytes_under;
use super::report::{rounded, Report};
use super::stats::summarize;
use super::Bench;

const FIGURE: &str = "pull_200mb_s";
/// Half a layer: metadata and logs may grow a little between pulls; one layer left behind is 40 MB.
const COLD_SLACK: u64 = 20_000_000;

/// One engine's pulls so far.
struct Pulls {
    /// The engine's directory without the image, before the first pull.
    baseline: u64,
    seconds: Vec<f64>,
    stored: u64,
}

pub fn measure(bench: &Bench, report: &mut Report) {
    let figure = report.figure(FIGURE);
    let source = match bench.source_image() {
        Ok(source) => source,
        Err(error) => {
            println!("xtask bench: {FIGURE}: the local registry: {error}");
            figure.note(format!("the local registry: {error}"));
            return;
        }
    };
    let repeats = bench.plan.pull_200mb;
    let daemons = bench.daemons();
    let mut results: Vec<Result<Pulls, String>> = daemons
        .iter()
        .map(|daemon| {
            remove_image(daemon, &source.image)
                .map(|()| Pulls { baseline: bytes_under(&daemon.dir), seconds: Vec::new(), stored: 0 })
                .map_err(|error| format!("{error:#}"))
        })
        .collect();
    for round in 0..repeats.warmup + repeats.runs.max(1) {
        for (daemon, result) in daemons.iter().zip(results.iter_mut()) {
            let Ok(pulls) = result else { continue };
            match cold_pull(daemon, &source.image, pulls.baseline) {
                Ok((seconds, stored)) => {
                    if round >= repeats.warmup {
                        pulls.seconds.push(seconds);
                    }
                    pulls.stored = stored;
                }
                Err(error) => *result = Err(format!("{error:#}")),
            }
        }
    }
    for (daemon, result) in daemons.iter().zip(results) {
        let side = daemon.side;
        match result {
            Ok(pulls) => {
                figure.set_summary(side, summarize(&pulls.seconds).expect("runs > 0"));
                figure.add_extra(format!("{}_stored_mb", side.key()), rounded(pulls.stored as f64 / 1e6));
            }
            Err(error) => {
                println!("xtask bench: {FIGURE}: {}: {error}", side.key());
                figure.note(format!("{}: {error}", side.key()));
            }
        }
    }
}

/// Removes the image (it is there after every pull but the first), checks that its layers went with it, then
/// pulls. Returns the pull's seconds and how much the engine's directory grew.
fn cold_pull(daemon: &Daemon, image: &str, baseline: u64) -> Result<(f64, u64)> {
    remove_image(daemon, image)?;
    let before = bytes_under(&daemon.dir);
    if before > baseline + COLD_SLACK {
        bail!(
            "`docker rmi {image}` left {:.0} MB more in {} than there was before the first pull: the layers \
             stayed, so the pull would not be cold",
            (before - baseline) as f64 / 1e6,
            daemon.dir.display()
        );
    }
    let elapsed = daemon.docker.run(&["pull", image])?.elapsed;
    Ok((elapsed.as_secs_f64(), bytes_under(&daemon.dir).saturating_sub(before)))
}

pub fn remove_image(daemon: &Daemon, image: &str) -> Result<()> {
    if daemon.docker.try_run(&["image", "inspect", image]).is_some() {
        daemon.docker.run(&["rmi", image])?;
        if daemon.docker.try_run(&["image", "inspect", image]).is_some() {
            bail!("`docker rmi {image}` succeeded but the image is still there");
        }
    }
    Ok(())
}
