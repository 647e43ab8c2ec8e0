//! `daemon_restart_adopt_100_ms`: a Berth with 100 running containers is killed with SIGKILL and started again;
//! the figure is the time from the new process's spawn to its first answer on the socket, by which point it has
//! reconnected to every container's monitor and adopted it (recovery runs before the socket is bound; the bench
//! checks that all 100 read running, with the pids they had). Berth alone: the reference dockerd runs without
//! `--live-restore`, and a dockerd restart adopts through its containerd, which survives a SIGKILL of dockerd, so
//! the two restarts are not the same work.

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::daemons::{self, Daemon};
use super::report::Report;
use super::stats::summarize;
use super::{http, procfs, Bench};

const CONTAINERS: usize = 100;
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub fn measure(bench: &Bench, report: &mut Report) {
    let figure = report.figure("daemon_restart_adopt_100_ms");
    match samples(bench) {
        Ok(samples) => {
            if let Some(summary) = summarize(&samples) {
                figure.set_summary(super::report::Side::Berth, summary);
            }
            figure.note("Berth only: time from spawn to serving with 100 running containers adopted");
        }
        Err(error) => {
            figure.note(format!("berth: {error:#}"));
        }
    }
}

fn samples(bench: &Bench) -> Result<Vec<f64>> {
    let dir = bench.run_dir.join("berth-adopt");
    let mut berth = daemons::start_berth_with(bench.cleanup, &bench.berth_binary, &dir, &bench.adopt_bridge, &[])?;
    for _ in 0..CONTAINERS {
        berth.docker.output(&["run", "-d", "busybox", "sleep", "1000"])?;
    }
    let pids_before = running_pids(&berth)?;
    let mut samples = Vec::new();
    for _ in 0..bench.plan.restart_adopt {
        kill_hard(berth.pid)?;
        let spawned = Instant::now();
        berth = daemons::spawn_berth(bench.cleanup, &bench.berth_binary, &dir, &bench.adopt_bridge, &[])?;
        while !http::ping(&berth.socket) {
            if !procfs::alive(berth.pid) || spawned.elapsed() > READY_TIMEOUT {
                bail!("the restarted Berth did not answer\n{}", berth.log_tail());
            }
            thread::sleep(Duration::from_millis(2));
        }
        samples.push(spawned.elapsed().as_secs_f64() * 1000.0);
        let pids = running_pids(&berth)?;
        if pids != pids_before {
            bail!(
                "after the restart {} containers run with their old pids, not {CONTAINERS}",
                pids.intersection(&pids_before).count()
            );
        }
    }
    berth.docker.remove_all_containers()?;
    // A clean stop takes its bridge and NAT chains with it: the classroom figure's Berth uses the same bridge next.
    procfs::stop_process(berth.pid, None, Duration::from_secs(30));
    Ok(samples)
}

/// The pids of the running containers, by the API.
fn running_pids(berth: &Daemon) -> Result<BTreeSet<u32>> {
    let output = berth.docker.output(&["ps", "-q"])?;
    let ids: Vec<&str> = output.split_whitespace().collect();
    if ids.len() != CONTAINERS {
        bail!("{} containers run, not {CONTAINERS}", ids.len());
    }
    let mut args = vec!["inspect", "--format", "{{.State.Pid}}"];
    args.extend(ids);
    let pids = berth.docker.output(&args)?;
    pids.split_whitespace().map(|pid| pid.parse::<u32>().with_context(|| format!("pid {pid:?}"))).collect()
}

fn kill_hard(pid: u32) -> Result<()> {
    procfs::send_signal(pid, 9);
    let deadline = Instant::now() + Duration::from_secs(10);
    while procfs::alive(pid) {
        if Instant::now() > deadline {
            bail!("the daemon {pid} outlived SIGKILL");
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
