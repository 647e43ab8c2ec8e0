//! `docker build` of a fixed eight-step Dockerfile over a context of 50 small files, with the legacy builder on
//! both engines (POST /build): cold (`--no-cache`, every step runs) and cached (every step a cache hit). A Berth
//! without a working builder gets null and the reason, and the bench goes on.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::daemons::Daemon;
use super::http;
use super::report::Report;
use super::stats::summarize;
use super::Bench;

const TAG: &str = "berth-bench-build:latest";
const SMALL_FILES: usize = 50;

/// Eight steps: FROM, ENV, WORKDIR, COPY of the 50 files, a 5 MB RUN, a RUN reading the files, LABEL, CMD.
const DOCKERFILE: &str = "\
FROM busybox
ENV BENCH_STEP=environment
WORKDIR /app
COPY files/ /app/files/
RUN dd if=/dev/zero of=/big bs=1M count=5
RUN cat /app/files/* | wc -c > /app/total
LABEL org.opencontainers.image.title=berth-bench
CMD [\"cat\", \"/app/total\"]
";

pub fn measure(bench: &Bench, report: &mut Report) {
    let context = bench.run_dir.join("build-context");
    if let Err(error) = write_context(&context) {
        for name in ["build_cold_s", "build_cached_s"] {
            report.figure(name).note(format!("writing the build context: {error:#}"));
        }
        return;
    }
    let context_arg = context.to_string_lossy().into_owned();
    for daemon in bench.daemons() {
        let side = daemon.side;
        let cold = builds(daemon, &["build", "--no-cache", "--tag", TAG, &context_arg], bench.plan.build_cold_runs);
        let cold_ok = cold.is_ok();
        match cold {
            Ok(samples) => report.figure("build_cold_s").set_summary(side, summarize(&samples).expect("runs > 0")),
            Err(error) => {
                report.figure("build_cold_s").note(format!("{}: {}", side.key(), why_build_failed(daemon, &error)))
            }
        }
        if !cold_ok {
            report.figure("build_cached_s").note(format!("{}: no cached build without a cold one", side.key()));
            continue;
        }
        match builds(daemon, &["build", "--tag", TAG, &context_arg], bench.plan.build_cached_runs) {
            Ok(samples) => report.figure("build_cached_s").set_summary(side, summarize(&samples).expect("runs > 0")),
            Err(error) => report.figure("build_cached_s").note(format!("{}: {error:#}", side.key())),
        }
    }
}

/// The CLI streams the context while the daemon answers, so an engine without a builder shows up as a broken
/// pipe; asking `POST /build` directly gives the real answer.
fn why_build_failed(daemon: &Daemon, error: &anyhow::Error) -> String {
    match http::post_empty(&daemon.socket, "/build", Duration::from_secs(10)) {
        Ok(response) if response.status == 404 => "POST /build answered 404: no builder in this engine yet".into(),
        _ => {
            let message = format!("{error:#}");
            format!("docker build failed: {}", message.rsplit(" | ").next().unwrap_or(&message))
        }
    }
}

/// Seconds per build, `runs` times.
fn builds(daemon: &Daemon, args: &[&str], runs: usize) -> Result<Vec<f64>> {
    (0..runs.max(1)).map(|_| Ok(daemon.docker.run(args)?.elapsed.as_secs_f64())).collect()
}

/// The Dockerfile and `files/file-NN.txt`, 50 files of 1 KiB of text each, the same on every run.
fn write_context(dir: &Path) -> Result<()> {
    let files = dir.join("files");
    std::fs::create_dir_all(&files).with_context(|| format!("creating {}", files.display()))?;
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE)?;
    for n in 0..SMALL_FILES {
        let mut content = String::with_capacity(1024);
        while content.len() < 1024 {
            let _ = writeln!(content, "file {n:02}, line {}: the quick brown fox", content.len() / 40);
        }
        content.truncate(1024);
        std::fs::write(files.join(format!("file-{n:02}.txt")), content)?;
    }
    Ok(())
}
