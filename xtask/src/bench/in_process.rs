//! Berth's figures without the docker CLI and HTTP in front, and the machine's floor beside them:
//!
//! - start_in_process_ms: create + start + wait of `busybox true` through `berth::engine::Engine`, timed inside
//!   backend/examples/bench_in_process.rs (release build) on its own state root.
//! - unshare_floor_ms: `unshare --fork --pid --mount --uts --ipc --net true`, the namespaces alone: no engine
//!   can start a container faster than this.
//! - lint_1000_lines_ms: parse + lint of a 1000-line Dockerfile with berth-shared, in the same example program.
//!   A linter that finds nothing in a file full of known mistakes has no rules yet: null, with the parse time.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::report::{rounded, Report, Side};
use super::stats::{millis, summarize};
use super::{Bench, Repeats};

pub fn measure(bench: &Bench, report: &mut Report) {
    start_in_process(bench, report);
    unshare_floor(bench, report);
    lint(bench, report);
}

fn start_in_process(bench: &Bench, report: &mut Report) {
    let root = bench.run_dir.join("in-process");
    let root_arg = root.to_string_lossy().into_owned();
    let figure = report.figure("start_in_process_ms");
    figure.note("dockerd: not applicable (Berth's engine as a library, no CLI or HTTP)");
    match run_example(bench, &["start", "--root", &root_arg], bench.plan.start_in_process) {
        Ok(samples) => {
            match summarize(&numbers(&samples["total_ms"])) {
                Some(summary) => figure.set_summary(Side::Berth, summary),
                None => figure.note("berth: the example reported no samples"),
            }
            for phase in ["create", "start", "exit", "remove"] {
                if let Some(summary) = summarize(&numbers(&samples[format!("{phase}_ms")])) {
                    figure.add_extra(format!("berth_{phase}_median_ms"), rounded(summary.median));
                }
            }
        }
        Err(error) => figure.note(format!("berth: {error:#}")),
    }
}

fn unshare_floor(bench: &Bench, report: &mut Report) {
    let figure = report.figure("unshare_floor_ms");
    figure.note("not an engine: unshare(1) of the namespaces a container gets, the floor under start_in_process_ms");
    let repeats = bench.plan.unshare_floor;
    let mut samples = Vec::with_capacity(repeats.runs);
    for run in 0..repeats.warmup + repeats.runs {
        let started = Instant::now();
        let status =
            Command::new("unshare").args(["--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "true"]).status();
        let elapsed = started.elapsed();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => return figure.note(format!("unshare failed ({status})")),
            Err(error) => return figure.note(format!("starting unshare: {error}")),
        }
        if run >= repeats.warmup {
            samples.push(millis(elapsed));
        }
    }
    if let Some(summary) = summarize(&samples) {
        figure.set_summary(Side::Berth, summary);
    }
}

fn lint(bench: &Bench, report: &mut Report) {
    let figure = report.figure("lint_1000_lines_ms");
    figure.note("dockerd: no linter");
    let samples = match run_example(bench, &["lint"], bench.plan.lint) {
        Ok(samples) => samples,
        Err(error) => return figure.note(format!("berth: {error:#}")),
    };
    let parse = summarize(&numbers(&samples["parse_ms"]));
    if let Some(parse) = parse {
        figure.add_extra("berth_parse_median_ms", rounded(parse.median));
    }
    let diagnostics = samples["diagnostics"].as_u64().unwrap_or(0);
    figure.add_extra("berth_diagnostics", diagnostics);
    if diagnostics == 0 {
        figure.note(format!(
            "berth: berth_shared::dockerfile::lint::lint found nothing in a file full of known mistakes: its rules \
             have not landed on this branch (parse alone: {} ms)",
            parse.map(|parse| rounded(parse.median)).unwrap_or(f64::NAN)
        ));
        return;
    }
    match summarize(&numbers(&samples["total_ms"])) {
        Some(summary) => figure.set_summary(Side::Berth, summary),
        None => figure.note("berth: the example reported no samples"),
    }
}

/// Runs the in-process example and decodes the JSON object it prints.
fn run_example(bench: &Bench, args: &[&str], repeats: Repeats) -> Result<Value> {
    let output = Command::new(&bench.in_process_example)
        .args(args)
        .args(["--warmup", &repeats.warmup.to_string(), "--runs", &repeats.runs.to_string()])
        .output()
        .with_context(|| format!("starting {}", bench.in_process_example.display()))?;
    if !output.status.success() {
        bail!(
            "{} {} failed ({}): {}",
            bench.in_process_example.display(),
            args.join(" "),
            output.status,
            super::docker_cli::last_lines(&String::from_utf8_lossy(&output.stderr), 5)
        );
    }
    serde_json::from_slice(&output.stdout).context("decoding the example's output")
}

fn numbers(value: &Value) -> Vec<f64> {
    value.as_array().into_iter().flatten().filter_map(Value::as_f64).collect()
}
