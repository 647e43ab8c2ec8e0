//! `docker run --rm busybox true`, the whole round trip a user waits for: CLI start, create, attach, wait, start,
//! exit, auto-remove. Samples alternate between the engines, so a change in machine load hits both alike.

use super::daemons::Daemon;
use super::report::{rounded, Figure, Report, Side};
use super::stats::{millis, summarize};
use super::{Bench, Repeats};

pub fn measure(bench: &Bench, report: &mut Report) {
    let results = interleaved_samples(bench, &["run", "--rm", "busybox", "true"], bench.plan.run_rm_true);
    let figure = report.figure("run_rm_true_ms");
    record_samples(figure, results);
    // The client's share: a Go program starting, HEAD /_ping and GET /version. `docker run` pays it too, then
    // makes five more requests (create, attach, wait, start, and the wait's answer), so no engine can go below it.
    let version = ["version", "--format", "{{.Server.Version}}"];
    for (side, result) in interleaved_samples(bench, &version, bench.plan.run_rm_true) {
        if let Some(summary) = result.ok().and_then(|samples| summarize(&samples)) {
            figure.add_extra(format!("{}_cli_version_ms", side.key()), rounded(summary.median));
        }
    }
}

/// Times one docker command on every engine, engine after engine in each round, warm-up rounds discarded.
/// An engine whose command fails stops being sampled; its error is returned in place of samples.
pub fn interleaved_samples(bench: &Bench, args: &[&str], repeats: Repeats) -> Vec<(Side, Result<Vec<f64>, String>)> {
    interleaved_samples_on(&bench.daemons(), args, repeats)
}

/// [`interleaved_samples`] on the daemons given.
pub fn interleaved_samples_on(
    daemons: &[&Daemon],
    args: &[&str],
    repeats: Repeats,
) -> Vec<(Side, Result<Vec<f64>, String>)> {
    let mut results: Vec<(Side, Result<Vec<f64>, String>)> =
        daemons.iter().map(|daemon| (daemon.side, Ok(Vec::new()))).collect();
    for round in 0..repeats.warmup + repeats.runs {
        for (daemon, (_, result)) in daemons.iter().zip(results.iter_mut()) {
            let Ok(samples) = result else { continue };
            match daemon.docker.run(args) {
                Ok(finished) if round >= repeats.warmup => samples.push(millis(finished.elapsed)),
                Ok(_) => {}
                Err(error) => *result = Err(format!("{error:#}")),
            }
        }
    }
    results
}

/// Medians as the values, p95 and run counts beside them, failures as notes.
pub fn record_samples(figure: &mut Figure, results: Vec<(Side, Result<Vec<f64>, String>)>) {
    for (side, result) in results {
        match result.map(|samples| summarize(&samples)) {
            Ok(Some(summary)) => figure.set_summary(side, summary),
            Ok(None) => figure.note(format!("{}: no samples", side.key())),
            Err(error) => figure.note(format!("{}: {error}", side.key())),
        }
    }
}
