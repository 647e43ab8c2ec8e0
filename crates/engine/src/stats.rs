//! `docker stats` and `docker top`: numbers from the container's cgroup and /proc, in Docker's shapes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bollard_stubs::models::{
    ContainerBlkioStatEntry, ContainerBlkioStats, ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats,
    ContainerNetworkStats, ContainerPidsStats, ContainerStatsResponse, ContainerStorageStats, ContainerThrottlingData,
    ContainerTopResponse,
};
use chrono::{DateTime, SecondsFormat, Utc};

use super::container::Container;
use super::{Engine, EngineError};
use berth_runtime::{BlkioEntry, CgroupStats, HostCpu};

/// dockerd's stats collector interval (daemon/stats_collector.go, started with 1 s): a stream's objects are this
/// far apart, and so are the two samples of a `stream=false` answer.
const INTERVAL: Duration = Duration::from_secs(1);

/// Go's zero `time.Time`, which dockerd sends as `preread` when there is no previous sample.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The `memory_stats.stats` keys dockerd fills on cgroup v1 (daemon/stats_unix.go statsV1): always all of them,
/// 0 where memory.stat lacks one, and nothing else.
const MEMORY_KEYS_V1: &[&str] = &[
    "cache",
    "rss",
    "rss_huge",
    "mapped_file",
    "dirty",
    "writeback",
    "pgpgin",
    "pgpgout",
    "pgfault",
    "pgmajfault",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "hierarchical_memory_limit",
    "hierarchical_memsw_limit",
    "total_cache",
    "total_rss",
    "total_rss_huge",
    "total_mapped_file",
    "total_dirty",
    "total_writeback",
    "total_pgpgin",
    "total_pgpgout",
    "total_pgfault",
    "total_pgmajfault",
    "total_inactive_anon",
    "total_active_anon",
    "total_inactive_file",
    "total_active_file",
    "total_unevictable",
];

/// The same for cgroup v2 (statsV2), whose memory.stat names differ.
const MEMORY_KEYS_V2: &[&str] = &[
    "anon",
    "file",
    "kernel_stack",
    "slab",
    "sock",
    "shmem",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "anon_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "pgfault",
    "pgmajfault",
    "workingset_refault",
    "workingset_activate",
    "workingset_nodereclaim",
    "pgrefill",
    "pgscan",
    "pgsteal",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "thp_fault_alloc",
    "thp_collapse_alloc",
];

/// One reading of a running container: its cgroup and the host's CPU time taken right after it, so that the
/// container's and the system's deltas between two samples cover the same interval (dockerd samples the system
/// "close to container usage to avoid noise").
struct Sample {
    at: DateTime<Utc>,
    cgroup: CgroupStats,
    host: Option<HostCpu>,
}

/// `None` when the container has no cgroup (not running): dockerd answers an empty object then.
fn sample(container: &Container) -> Option<Sample> {
    let cgroup = container.cgroup()?.stats();
    let host = berth_runtime::host_cpu();
    Some(Sample { at: Utc::now(), cgroup, host })
}

fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// What Go's encoder writes for dockerd's zero `CPUStats` (`precpu_stats` without a previous sample, or the
/// `cpu_stats` of a stopped container): the counters that are not `omitempty`, as 0.
fn zero_cpu_stats() -> ContainerCpuStats {
    ContainerCpuStats {
        cpu_usage: Some(ContainerCpuUsage {
            total_usage: Some(0),
            percpu_usage: None,
            usage_in_kernelmode: Some(0),
            usage_in_usermode: Some(0),
        }),
        system_cpu_usage: None,
        online_cpus: None,
        throttling_data: Some(ContainerThrottlingData {
            periods: Some(0),
            throttled_periods: Some(0),
            throttled_time: Some(0),
        }),
    }
}

fn cpu_stats(sample: &Sample) -> ContainerCpuStats {
    let stats = &sample.cgroup;
    ContainerCpuStats {
        cpu_usage: Some(ContainerCpuUsage {
            total_usage: Some(stats.cpu_total_ns),
            percpu_usage: (!stats.cpu_per_cpu_ns.is_empty()).then(|| stats.cpu_per_cpu_ns.clone()),
            usage_in_kernelmode: Some(stats.cpu_system_ns),
            usage_in_usermode: Some(stats.cpu_user_ns),
        }),
        // Both omitempty in dockerd: left out when /proc/stat could not be read.
        system_cpu_usage: sample.host.map(|h| h.usage_ns).filter(|&ns| ns > 0),
        online_cpus: sample.host.map(|h| h.online_cpus).filter(|&n| n > 0),
        throttling_data: Some(ContainerThrottlingData {
            periods: Some(stats.throttling_periods),
            throttled_periods: Some(stats.throttled_periods),
            throttled_time: Some(stats.throttled_time_ns),
        }),
    }
}

fn memory_stats(stats: &CgroupStats) -> ContainerMemoryStats {
    let keys = if stats.unified { MEMORY_KEYS_V2 } else { MEMORY_KEYS_V1 };
    let map: HashMap<String, u64> =
        keys.iter().map(|k| (k.to_string(), stats.memory_stat.get(*k).copied().unwrap_or(0))).collect();
    // usage, max_usage, failcnt and limit are omitempty in dockerd.
    let nonzero = |v: u64| (v > 0).then_some(v);
    ContainerMemoryStats {
        usage: nonzero(stats.memory_usage),
        max_usage: nonzero(stats.memory_max_usage),
        stats: Some(map),
        failcnt: nonzero(stats.memory_failcnt),
        limit: nonzero(stats.memory_limit),
        ..Default::default()
    }
}

fn blkio_entries(entries: &[BlkioEntry]) -> Vec<ContainerBlkioStatEntry> {
    entries
        .iter()
        .map(|e| ContainerBlkioStatEntry {
            major: Some(e.major),
            minor: Some(e.minor),
            op: Some(e.op.clone()),
            value: Some(e.value),
        })
        .collect()
}

fn blkio_stats(stats: &CgroupStats) -> ContainerBlkioStats {
    if stats.unified {
        // v2 has bytes only; dockerd leaves the other lists out.
        return ContainerBlkioStats {
            io_service_bytes_recursive: Some(blkio_entries(&stats.blkio_service_bytes)),
            ..Default::default()
        };
    }
    // On v1 dockerd sends every list, empty where the kernel keeps no such counter (no CFQ/BFQ scheduler).
    ContainerBlkioStats {
        io_service_bytes_recursive: Some(blkio_entries(&stats.blkio_service_bytes)),
        io_serviced_recursive: Some(blkio_entries(&stats.blkio_serviced)),
        io_queue_recursive: Some(Vec::new()),
        io_service_time_recursive: Some(Vec::new()),
        io_wait_time_recursive: Some(Vec::new()),
        io_merged_recursive: Some(Vec::new()),
        io_time_recursive: Some(Vec::new()),
        sectors_recursive: Some(Vec::new()),
    }
}

fn network_stats(container: &Container) -> Option<HashMap<String, ContainerNetworkStats>> {
    let record = container.snapshot();
    let pid = record.state.pid;
    // A host-network container has no sandbox interfaces of its own: dockerd reports none rather than the host's.
    if pid <= 0 || record.host_config.network_mode.as_deref() == Some("host") {
        return None;
    }
    let networks: HashMap<String, ContainerNetworkStats> = berth_runtime::net_dev_stats(pid)
        .into_iter()
        .filter(|n| n.iface != "lo")
        .map(|n| {
            let stats = ContainerNetworkStats {
                rx_bytes: Some(n.rx_bytes),
                rx_packets: Some(n.rx_packets),
                rx_errors: Some(n.rx_errors),
                rx_dropped: Some(n.rx_dropped),
                tx_bytes: Some(n.tx_bytes),
                tx_packets: Some(n.tx_packets),
                tx_errors: Some(n.tx_errors),
                tx_dropped: Some(n.tx_dropped),
                ..Default::default()
            };
            (n.iface, stats)
        })
        .collect();
    (!networks.is_empty()).then_some(networks)
}

/// What dockerd answers for a container that is not running: id, name and OS, with Go's zero values for the
/// rest (daemon/stats.go).
fn empty_response(container: &Container) -> ContainerStatsResponse {
    ContainerStatsResponse {
        id: Some(container.id.clone()),
        name: Some(format!("/{}", container.name())),
        os_type: Some("linux".into()),
        read: Some(ZERO_TIME.into()),
        preread: Some(ZERO_TIME.into()),
        cpu_stats: Some(zero_cpu_stats()),
        precpu_stats: Some(zero_cpu_stats()),
        memory_stats: Some(ContainerMemoryStats::default()),
        networks: None,
        pids_stats: Some(ContainerPidsStats::default()),
        blkio_stats: Some(ContainerBlkioStats::default()),
        num_procs: Some(0),
        storage_stats: Some(ContainerStorageStats::default()),
    }
}

/// One sample as a stats object without a previous reading (`precpu_stats` zero, `preread` Go's zero time);
/// callers that have one put it in with [`with_previous`].
fn to_response(container: &Container, current: Option<&Sample>) -> ContainerStatsResponse {
    let Some(current) = current else {
        return empty_response(container);
    };
    let stats = &current.cgroup;
    ContainerStatsResponse {
        read: Some(timestamp(&current.at)),
        cpu_stats: Some(cpu_stats(current)),
        memory_stats: Some(memory_stats(stats)),
        networks: network_stats(container),
        pids_stats: Some(ContainerPidsStats {
            current: Some(stats.pids_current).filter(|&n| n > 0),
            limit: stats.pids_limit.filter(|&n| n > 0),
        }),
        blkio_stats: Some(blkio_stats(stats)),
        ..empty_response(container)
    }
}

/// dockerd's loop (daemon/stats.go): each object carries the one before it as `preread` and `precpu_stats`.
fn with_previous(mut response: ContainerStatsResponse, previous: &ContainerStatsResponse) -> ContainerStatsResponse {
    response.preread = previous.read.clone();
    response.precpu_stats = previous.cpu_stats.clone();
    response
}

impl Engine {
    /// `stream=false`: two samples [`INTERVAL`] apart, the first one only as `precpu_stats` of the second, so the
    /// docker CLI's `--no-stream` computes CPU % over a real second. A container that is not running gets the
    /// empty object at once, as from dockerd.
    pub async fn stats_once(&self, reference: &str) -> Result<ContainerStatsResponse, EngineError> {
        let container = self.container(reference)?;
        if !container.status().is_running() {
            return Ok(empty_response(&container));
        }
        let first = to_response(&container, sample(&container).as_ref());
        tokio::time::sleep(INTERVAL).await;
        let second = to_response(&container, sample(&container).as_ref());
        Ok(with_previous(second, &first))
    }

    /// `stream=false&one-shot=true`: one sample, no wait; `precpu_stats` stays zero.
    pub fn stats_now(&self, reference: &str) -> Result<ContainerStatsResponse, EngineError> {
        let container = self.container(reference)?;
        Ok(Engine::stats_of(&container))
    }

    /// One sample of a container already in hand (no lookup, no wait): what `stats_now` answers, and what a
    /// metrics scrape reads of each running container, counters being all a scraper needs.
    pub fn stats_of(container: &Container) -> ContainerStatsResponse {
        if !container.status().is_running() {
            return empty_response(container);
        }
        to_response(container, sample(container).as_ref())
    }

    /// A stats object every [`INTERVAL`] until the receiver goes away or the container is removed (dockerd stops
    /// collecting at removal, not at exit: a stopped container streams empty objects). The first object has no
    /// previous reading, like dockerd's.
    pub fn stats_stream(
        &self,
        reference: &str,
    ) -> Result<tokio::sync::mpsc::Receiver<ContainerStatsResponse>, EngineError> {
        let container: Arc<Container> = self.container(reference)?;
        let mut waits = container.waits.subscribe();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(INTERVAL);
            // A client that reads slowly gets objects a second apart, not a burst of the ones it missed.
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut previous: Option<ContainerStatsResponse> = None;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    changed = waits.changed() => {
                        if changed.is_err() || waits.borrow().removed {
                            return;
                        }
                        continue;
                    }
                }
                let current = to_response(&container, sample(&container).as_ref());
                let response = match &previous {
                    Some(previous) => with_previous(current.clone(), previous),
                    None => current.clone(),
                };
                if tx.send(response).await.is_err() {
                    return;
                }
                previous = Some(current);
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

    #[test]
    fn memory_keys_are_dockerds() {
        let mut stats = CgroupStats { memory_usage: 4096, memory_limit: 1 << 30, ..Default::default() };
        stats.memory_stat.insert("cache".into(), 10);
        stats.memory_stat.insert("total_shmem".into(), 7);
        let memory = memory_stats(&stats);
        let map = memory.stats.expect("stats");
        assert_eq!(map.len(), MEMORY_KEYS_V1.len());
        assert_eq!(map.get("cache"), Some(&10));
        assert_eq!(map.get("total_inactive_file"), Some(&0), "present even where memory.stat lacks it");
        assert!(!map.contains_key("total_shmem"), "not one of dockerd's keys");
        assert_eq!((memory.usage, memory.max_usage, memory.failcnt), (Some(4096), None, None), "omitempty as in Go");
        let unified = memory_stats(&CgroupStats { unified: true, ..Default::default() });
        assert_eq!(unified.stats.expect("stats").len(), MEMORY_KEYS_V2.len());
    }

    #[test]
    fn zero_values_encode_as_go_does() {
        assert_eq!(
            serde_json::to_value(zero_cpu_stats()).expect("json"),
            serde_json::json!({
                "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
            })
        );
        let v1 = serde_json::to_value(blkio_stats(&CgroupStats::default())).expect("json");
        assert_eq!(v1.as_object().map(|o| o.len()), Some(8), "every v1 list, empty: {v1}");
        let v2 = serde_json::to_value(blkio_stats(&CgroupStats { unified: true, ..Default::default() })).expect("json");
        assert_eq!(v2, serde_json::json!({"io_service_bytes_recursive": []}));
    }
}
