//! `run_rm_userns_ms`: `docker run --rm --network none busybox true` on a Berth and a dockerd that both run with
//! `--userns-remap default`, started for this figure alone (the other figures' daemons do not remap). The
//! network is `none` on both so the figure is the user namespace's cost, not a bridge's; the remapped Berth's
//! figure without remapping (`berth_no_userns_ms`, on the main daemon, also `--network none`) is reported beside it.

use super::daemons::{self, Daemon};
use super::report::{rounded, Report};
use super::run_latency::{interleaved_samples_on, record_samples};
use super::stats::summarize;
use super::{busybox_image, Bench};

const RUN: &[&str] = &["run", "--rm", "--network", "none", "busybox", "true"];

pub fn measure(bench: &Bench, report: &mut Report) {
    let figure = report.figure("run_rm_userns_ms");
    let dir = bench.run_dir.join("berth-userns");
    let berth = match daemons::start_berth_with(
        bench.cleanup,
        &bench.berth_binary,
        &dir,
        &bench.userns_bridge,
        &["--userns-remap", "default"],
    ) {
        Ok(berth) => berth,
        Err(error) => {
            figure.note(format!("berth --userns-remap default: {error:#}"));
            return;
        }
    };
    let dockerd = bench.dockerd.and_then(|_| {
        let started = daemons::start_dockerd_with(
            bench.cleanup,
            &bench.run_dir.join("dockerd-userns"),
            None,
            &["--userns-remap", "default"],
        )
        .and_then(|dockerd| {
            busybox_image::copy_to_dockerd(&berth, &dockerd, &bench.run_dir.join("image-userns"))?;
            Ok(dockerd)
        });
        match started {
            Ok(dockerd) => Some(dockerd),
            Err(error) => {
                figure.note(format!("dockerd --userns-remap default: {error:#}"));
                None
            }
        }
    });
    let remapped: Vec<&Daemon> = std::iter::once(&berth).chain(dockerd.as_ref()).collect();
    record_samples(figure, interleaved_samples_on(&remapped, RUN, bench.plan.run_rm_true));
    let plain = interleaved_samples_on(&[bench.berth], RUN, bench.plan.run_rm_true);
    if let Some((_, Ok(samples))) = plain.into_iter().next() {
        if let Some(summary) = summarize(&samples) {
            figure.add_extra("berth_no_userns_ms".to_string(), rounded(summary.median));
        }
    }
}
