//! `docker stats` and `docker top`: numbers from the container's cgroup and /proc, in Docker's shapes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bollard_stubs::models::{
    ContainerBlkioStats, ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats, ContainerNetworkStats,
    ContainerPidsStats, ContainerStatsResponse, ContainerThrottlingData, ContainerTopResponse,
};
use chrono::{SecondsFormat, Utc};

use super::container::Container;
use super::{Engine, EngineError};
use berth_runtime::CgroupStats;

fn online_cpus() -> u32 {
    std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1)
}

fn cpu_stats(stats: Option<&CgroupStats>) -> ContainerCpuStats {
    let Some(stats) = stats else {
        return ContainerCpuStats::default();
    };
    ContainerCpuStats {
        cpu_usage: Some(ContainerCpuUsage {
            total_usage: Some(stats.cpu_total_ns),
            percpu_usage: (!stats.cpu_per_cpu_ns.is_empty()).then(|| stats.cpu_per_cpu_ns.clone()),
            usage_in_kernelmode: Some(stats.cpu_system_ns),
            usage_in_usermode: Some(stats.cpu_user_ns),
        }),
        system_cpu_usage: Some(berth_runtime::host_cpu_usage_ns()),
        online_cpus: Some(online_cpus()),
        throttling_data: Some(ContainerThrottlingData {
            periods: Some(stats.throttling_periods),
            throttled_periods: Some(stats.throttled_periods),
            throttled_time: Some(stats.throttled_time_ns),
        }),
    }
}

struct Sample {
    at: chrono::DateTime<Utc>,
    cgroup: Option<CgroupStats>,
}

fn sample(container: &Container) -> Sample {
    Sample { at: Utc::now(), cgroup: container.cgroup().map(|c| c.stats()) }
}

fn to_response(container: &Container, current: &Sample, previous: Option<&Sample>) -> ContainerStatsResponse {
    let record = container.snapshot();
    let pid = record.state.pid;
    let stats = current.cgroup.as_ref();
    let networks: HashMap<String, ContainerNetworkStats> = if pid > 0 {
        berth_runtime::net_dev_stats(pid)
            .into_iter()
            .filter(|n| n.iface != "lo")
            .map(|n| {
                (
                    n.iface.clone(),
                    ContainerNetworkStats {
                        rx_bytes: Some(n.rx_bytes),
                        rx_packets: Some(n.rx_packets),
                        rx_errors: Some(n.rx_errors),
                        rx_dropped: Some(n.rx_dropped),
                        tx_bytes: Some(n.tx_bytes),
                        tx_packets: Some(n.tx_packets),
                        tx_errors: Some(n.tx_errors),
                        tx_dropped: Some(n.tx_dropped),
                        ..Default::default()
                    },
                )
            })
            .collect()
    } else {
        HashMap::new()
    };
    let memory = stats.map(|s| {
        let mut map: HashMap<String, u64> = s.memory_stat.iter().map(|(k, v)| (k.clone(), *v)).collect();
        map.insert("total_inactive_file".into(), s.memory_inactive_file);
        map.entry("inactive_file".into()).or_insert(s.memory_inactive_file);
        ContainerMemoryStats {
            usage: Some(s.memory_usage),
            max_usage: Some(s.memory_max_usage),
            stats: Some(map),
            failcnt: Some(s.memory_failcnt),
            limit: Some(s.memory_limit),
            ..Default::default()
        }
    });
    ContainerStatsResponse {
        id: Some(container.id.clone()),
        name: Some(format!("/{}", record.name)),
        os_type: Some("linux".into()),
        read: Some(current.at.to_rfc3339_opts(SecondsFormat::Nanos, true)),
        preread: Some(
            previous.map(|p| p.at.to_rfc3339_opts(SecondsFormat::Nanos, true)).unwrap_or("0001-01-01T00:00:00Z".into()),
        ),
        cpu_stats: Some(cpu_stats(stats)),
        precpu_stats: Some(cpu_stats(previous.and_then(|p| p.cgroup.as_ref()))),
        memory_stats: Some(memory.unwrap_or_default()),
        networks: (!networks.is_empty()).then_some(networks),
        pids_stats: Some(ContainerPidsStats {
            current: stats.map(|s| s.pids_current),
            limit: stats.and_then(|s| s.pids_limit),
        }),
        blkio_stats: Some(ContainerBlkioStats::default()),
        num_procs: Some(0),
        storage_stats: None,
    }
}

impl Engine {
    /// One stats object with a filled `precpu_stats` (two samples a short interval apart), as `--no-stream` wants.
    pub async fn stats_once(&self, reference: &str) -> Result<ContainerStatsResponse, EngineError> {
        let container = self.container(reference)?;
        let first = sample(&container);
        if container.status().is_running() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let second = sample(&container);
        Ok(to_response(&container, &second, Some(&first)))
    }

    /// One stats object from a single sample (`one-shot=true`): precpu_stats stays empty.
    pub fn stats_now(&self, reference: &str) -> Result<ContainerStatsResponse, EngineError> {
        let container = self.container(reference)?;
        Ok(to_response(&container, &sample(&container), None))
    }

    /// A stats object every second until the receiver goes away.
    pub fn stats_stream(
        &self,
        reference: &str,
    ) -> Result<tokio::sync::mpsc::Receiver<ContainerStatsResponse>, EngineError> {
        let container: Arc<Container> = self.container(reference)?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut previous: Option<Sample> = None;
            loop {
                let current = sample(&container);
                if tx.send(to_response(&container, &current, previous.as_ref())).await.is_err() {
                    return;
                }
                previous = Some(current);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Ok(rx)
    }

    /// `docker top`: runs the host's `ps` (with the caller's arguments) and keeps the container's processes.
    pub async fn top(&self, reference: &str, ps_args: Option<&str>) -> Result<ContainerTopResponse, EngineError> {
        let container = self.container(reference)?;
        if !container.status().is_running() {
            return Err(EngineError::Conflict(format!("Container {} is not running", container.id)));
        }
        let pids: Vec<i32> = container.cgroup().map(|c| c.pids()).unwrap_or_default();
        let args: Vec<String> =
            ps_args.filter(|a| !a.is_empty()).unwrap_or("-ef").split_whitespace().map(str::to_string).collect();
        let output =
            tokio::process::Command::new("ps").args(&args).output().await.map_err(|e| EngineError::io("run ps", e))?;
        if !output.status.success() {
            return Err(EngineError::InvalidArgument(format!(
                "ps: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&output.stdout), &pids)
    }
}

/// Keeps the rows of `ps` output whose PID column is one of `pids` (moby daemon/top_unix.go).
fn parse_ps(output: &str, pids: &[i32]) -> Result<ContainerTopResponse, EngineError> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or("");
    let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
    let pid_column = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| EngineError::InvalidArgument("Couldn't find PID field in ps output".into()))?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_column].parse::<i32>() else { continue };
        if pids.contains(&pid) {
            // The last column (the command) may contain spaces.
            let mut row: Vec<String> = fields[..titles.len() - 1].iter().map(|f| f.to_string()).collect();
            row.push(fields[titles.len() - 1..].join(" "));
            processes.push(row);
        }
    }
    Ok(ContainerTopResponse { titles: Some(titles), processes: Some(processes) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_are_filtered_by_pid() {
        let output = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:00 ? 00:00:00 sleep 1000\n";
        let top = parse_ps(output, &[42]).unwrap();
        assert_eq!(top.processes.unwrap(), vec![vec!["root", "42", "1", "0", "10:00", "?", "00:00:00", "sleep 1000"]]);
        assert!(parse_ps("USER COMMAND\n", &[1]).is_err());
    }
}
