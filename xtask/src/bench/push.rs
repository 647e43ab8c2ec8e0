//! `docker push` of the pulled `big:1` (200 MB in five layers of noise, [`super::big_image`]), tagged
//! `127.0.0.1:PORT/pushed-<engine>-<n>:1` for a registry started for that one push, with empty storage, and
//! stopped (storage removed) right after. A fresh registry and not only a fresh repository: a registry that holds
//! the layers lets a client skip them (a HEAD that answers 200, "Layer already exists") or mount them from the
//! repository they came from (dockerd asks for that for layers it pulled from the same registry), and the push
//! would then upload nothing. The registry's start and stop, the tag and the untag are not timed.
//!
//! What each engine uploads is its own business; the report says what arrived: `<engine>_uploaded_mb` is what
//! the registry stored (layers, config, manifest), `<engine>_layers_as_pulled` how many of the five layer blobs
//! are the pulled ones, byte for byte. dockerd keeps no compressed blobs: it tars each layer again from its
//! overlay2 directory and gzips it (noise stays 40 MB), five layers at a time (its default
//! max-concurrent-uploads), so none of its layers is as pulled. A Berth that keeps the pulled blobs can send them
//! unchanged. Rounds alternate between the engines.

use anyhow::{bail, Result};

use super::big_image::Source;
use super::daemons::Daemon;
use super::registry::Registry;
use super::report::{rounded, Figure, Report, Side};
use super::stats::summarize;
use super::Bench;

const FIGURE: &str = "push_200mb_s";

/// What one push did.
struct Pushed {
    seconds: f64,
    uploaded: u64,
    layers_as_pulled: usize,
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
    let repeats = bench.plan.push_200mb;
    let daemons = bench.daemons();
    // The pull figure leaves the image on each engine; run alone (`--only push_200mb_s`), this pulls it.
    let mut results: Vec<Result<Vec<Pushed>, String>> = daemons
        .iter()
        .map(|daemon| ensure_pulled(daemon, &source.image).map(|()| Vec::new()).map_err(|error| format!("{error:#}")))
        .collect();
    for round in 0..repeats.warmup + repeats.runs.max(1) {
        for (daemon, result) in daemons.iter().zip(results.iter_mut()) {
            let Ok(measured) = result else { continue };
            match push_to_fresh_registry(bench, daemon, source, round + 1) {
                Ok(pushed) if round >= repeats.warmup => measured.push(pushed),
                Ok(_) => {}
                Err(error) => *result = Err(format!("{error:#}")),
            }
        }
    }
    for (daemon, result) in daemons.iter().zip(results) {
        let side = daemon.side;
        // The image goes, as it came: the engines' stores are as before the pull figure.
        let _ = super::pull::remove_image(daemon, &source.image);
        match result {
            Ok(measured) => record(figure, side, &measured),
            Err(error) => {
                println!("xtask bench: {FIGURE}: {}: {error}", side.key());
                figure.note(format!("{}: {error}", side.key()));
            }
        }
    }
}

fn record(figure: &mut Figure, side: Side, measured: &[Pushed]) {
    let seconds: Vec<f64> = measured.iter().map(|pushed| pushed.seconds).collect();
    figure.set_summary(side, summarize(&seconds).expect("runs > 0"));
    // The same for every push of one engine: the last one speaks for all.
    if let Some(last) = measured.last() {
        figure.add_extra(format!("{}_uploaded_mb", side.key()), rounded(last.uploaded as f64 / 1e6));
        figure.add_extra(format!("{}_layers_as_pulled", side.key()), last.layers_as_pulled);
    }
}

fn ensure_pulled(daemon: &Daemon, image: &str) -> Result<()> {
    if daemon.docker.try_run(&["image", "inspect", image]).is_none() {
        daemon.docker.run(&["pull", image]).map_err(|error| error.context(format!("pulling {image} to push it")))?;
    }
    Ok(())
}

/// The engine's push number `n`, to a registry of its own.
fn push_to_fresh_registry(bench: &Bench, daemon: &Daemon, source: &Source, n: usize) -> Result<Pushed> {
    let name = format!("pushed-{}-{n}", daemon.name());
    let registry = Registry::start(bench.cleanup, &bench.run_dir.join(format!("registry-{name}")))?;
    let target = format!("{}/{name}:1", registry.address);
    daemon.docker.run(&["tag", &source.image, &target])?;
    let pushed = daemon.docker.run(&["push", &target]);
    // Only the tag goes: the image keeps its source name.
    let untagged = daemon.docker.run(&["rmi", &target]);
    let seconds = pushed?.elapsed.as_secs_f64();
    untagged?;
    let uploaded = registry.blob_bytes();
    // Noise does not compress, so any gzip of the layers is about as big as the pulled ones; far less means layers
    // were skipped, and this push timed something else.
    if (uploaded as f64) < source.layer_bytes as f64 * 0.9 {
        bail!(
            "`docker push {target}` succeeded, yet the registry holds {:.0} MB of the image's {:.0} MB of layers",
            uploaded as f64 / 1e6,
            source.layer_bytes as f64 / 1e6
        );
    }
    let in_repository = registry.repository_blobs(&name);
    let layers_as_pulled = source.layer_digests.iter().filter(|digest| in_repository.contains(digest)).count();
    Ok(Pushed { seconds, uploaded, layers_as_pulled })
}
