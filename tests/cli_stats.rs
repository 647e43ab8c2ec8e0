//! `docker stats` and `GET /containers/{id}/stats` through the real docker CLI and the raw API (#15 item 1): the
//! numbers, not just the fields, as dockerd gives them on this cgroup v1 host.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use support::Daemon;

const MIB: f64 = 1024.0 * 1024.0;

/// `12.34%` as the number.
fn percent(text: &str) -> f64 {
    text.trim().trim_end_matches('%').parse().unwrap_or_else(|e| panic!("{text:?} is no percentage: {e}"))
}

/// A size as the docker CLI prints it (`1.5MiB`, `256MiB`, `348kB`, `16.8MB`, `0B`), in bytes.
fn size(text: &str) -> f64 {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or_else(|e| panic!("{text:?} is no size: {e}"));
    let factor = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => MIB,
        "GiB" => 1024.0 * MIB,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unit {other:?} in {text:?}"),
    };
    number * factor
}

fn stats_line(daemon: &Daemon, format: &str, name: &str) -> String {
    daemon.ok(&["stats", "--no-stream", "--format", format, name]).trim().to_string()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("{value} is no time"))
}

fn u64_at(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or_else(|| panic!("no number at {pointer} in {value}"))
}

/// Polls `condition` every 100 ms for up to 20 s.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn cpu_percent_of_a_busy_loop_and_an_idle_container() {
    let daemon = Daemon::start();
    daemon.ok(&["run", "-d", "--name", "busy", "busybox", "sh", "-c", "while :; do :; done"]);
    daemon.ok(&["run", "-d", "--name", "idle", "busybox", "sleep", "1000"]);
    // One spinning shell is one CPU: 100 % in docker's scale (CPU time over host time, times online CPUs), less
    // what the other load on the machine takes from it.
    let busy = percent(&stats_line(&daemon, "{{.CPUPerc}}", "busy"));
    assert!(busy > 40.0, "a busy loop reads {busy} %");
    let idle = percent(&stats_line(&daemon, "{{.CPUPerc}}", "idle"));
    assert!(idle < 5.0, "sleep reads {idle} %");
    eprintln!("cpu: busy loop {busy} %, idle {idle} %");
}

#[test]
fn memory_usage_and_limit() {
    let daemon = Daemon::start();
    daemon.ok(&["run", "-d", "--name", "mem", "--memory", "256m", "busybox", "sleep", "1000"]);
    // tmpfs pages are charged to the writer's cgroup and stay (shmem is not the inactive file cache docker
    // subtracts), so usage covers them. /dev/shm is 64 MiB, as Docker's default.
    daemon.ok(&["exec", "mem", "dd", "if=/dev/zero", "of=/dev/shm/x", "bs=1M", "count=48"]);
    let line = stats_line(&daemon, "{{.MemUsage}}", "mem");
    let (usage, limit) = line.split_once(" / ").unwrap_or_else(|| panic!("MemUsage {line:?}"));
    assert!(size(usage) >= 48.0 * MIB, "{line}");
    assert!(size(usage) < 80.0 * MIB, "{line}");
    assert_eq!(size(limit), 256.0 * MIB, "{line}");
    let percent = percent(&stats_line(&daemon, "{{.MemPerc}}", "mem"));
    assert!((18.0..32.0).contains(&percent), "48 MiB of 256 MiB reads {percent} %");

    let stats = daemon.get_json("/containers/mem/stats?stream=false&one-shot=true");
    let memory = &stats["memory_stats"];
    assert_eq!(u64_at(memory, "/limit"), 256 << 20);
    let cache = u64_at(memory, "/stats/cache");
    let rss = u64_at(memory, "/stats/rss");
    assert!(cache >= 48 << 20, "the tmpfs file is page cache: {memory}");
    assert!(rss > 0 && rss < 16 << 20, "a sleeping busybox's anonymous memory: {memory}");
    // usage_in_bytes is charged in per-CPU batches of up to 64 pages, so it may trail memory.stat a little.
    assert!(u64_at(memory, "/usage") + (1 << 20) >= cache + rss, "{memory}");
    assert!(u64_at(memory, "/max_usage") >= u64_at(memory, "/usage"), "{memory}");
    assert_eq!(u64_at(memory, "/stats/hierarchical_memory_limit"), 256 << 20);
    // Exactly dockerd's v1 keys (daemon/stats_unix.go), nothing of memory.stat beyond them.
    let keys = memory["stats"].as_object().expect("memory_stats.stats").len();
    assert_eq!(keys, 32, "{memory}");
}

#[test]
fn api_answer_carries_a_real_previous_sample() {
    let daemon = Daemon::start();
    let id = daemon.ok(&["run", "-d", "--name", "box", "busybox", "sh", "-c", "while :; do :; done"]);
    let id = id.trim();
    // Traffic of its own on eth0 (whether or not the gateway answers, the requests leave).
    daemon.docker(&["exec", "box", "sh", "-c", "ping -c 2 -W 1 $(ip route | awk '/default/ {print $3}')"]);

    let asked = Instant::now();
    let stats = daemon.get_json("/containers/box/stats?stream=false");
    let took = asked.elapsed();
    assert_eq!(stats["id"], id);
    assert_eq!(stats["name"], "/box");
    let (cpu, pre) = (&stats["cpu_stats"], &stats["precpu_stats"]);
    let (system, pre_system) = (u64_at(cpu, "/system_cpu_usage"), u64_at(pre, "/system_cpu_usage"));
    assert!(pre_system < system, "system_cpu_usage {pre_system} then {system}");
    let (total, pre_total) = (u64_at(cpu, "/cpu_usage/total_usage"), u64_at(pre, "/cpu_usage/total_usage"));
    assert!(pre_total < total, "the loop's CPU time {pre_total} then {total}");
    // Two samples a second apart, as dockerd's collector takes them.
    let apart = (time(&stats["read"]) - time(&stats["preread"])).to_std().expect("read after preread");
    assert!(apart >= Duration::from_millis(900) && apart < Duration::from_secs(3), "samples {apart:?} apart");
    assert!(took >= Duration::from_millis(900), "answered in {took:?}");
    // The host's CPU time over that second: 1e9 ns per online CPU, give or take the 10 ms jiffies.
    let cpus = u64_at(cpu, "/online_cpus");
    let host_cpus = std::fs::read_to_string("/proc/stat")
        .expect("/proc/stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count() as u64;
    assert_eq!(cpus, host_cpus);
    let per_cpu_second = (system - pre_system) as f64 / cpus as f64 / apart.as_secs_f64();
    assert!((0.8e9..1.2e9).contains(&per_cpu_second), "host CPU time per CPU per second: {per_cpu_second}");
    let percpu: Vec<u64> = cpu["cpu_usage"]["percpu_usage"]
        .as_array()
        .expect("percpu_usage")
        .iter()
        .map(|v| v.as_u64().expect("a number"))
        .collect();
    assert_eq!(percpu.len() as u64, cpus);
    // cpuacct.usage is the sum of cpuacct.usage_percpu, read a moment apart.
    let sum: u64 = percpu.iter().sum();
    assert!(sum.abs_diff(total) < 50_000_000, "percpu sum {sum} vs total {total}");
    assert!(u64_at(cpu, "/cpu_usage/usage_in_usermode") > 0);
    assert_eq!(u64_at(cpu, "/throttling_data/periods"), 0, "no CFS quota, no periods");
    assert!(u64_at(&stats, "/pids_stats/current") >= 1);
    assert!(u64_at(&stats, "/networks/eth0/tx_packets") >= 2, "{}", stats["networks"]);
    assert!(u64_at(&stats, "/networks/eth0/tx_bytes") >= 2 * 84, "two ICMP echo requests: {}", stats["networks"]);
    assert!(stats["networks"].get("lo").is_none(), "dockerd leaves lo out");

    // one-shot: a single sample, no wait, nothing previous (Go's zero time and zero counters).
    let asked = Instant::now();
    let once = daemon.get_json("/containers/box/stats?stream=false&one-shot=true");
    assert!(asked.elapsed() < Duration::from_millis(800), "one-shot took {:?}", asked.elapsed());
    assert_eq!(once["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(u64_at(&once, "/precpu_stats/cpu_usage/total_usage"), 0);
    assert!(once["precpu_stats"].get("system_cpu_usage").is_none(), "{once}");
    // Milliseconds later: /proc/stat moves in jiffies, so it may not have moved yet.
    assert!(u64_at(&once, "/cpu_stats/system_cpu_usage") >= system);

    // A stopped container answers at once with dockerd's empty object.
    daemon.ok(&["rm", "-f", "box"]);
    daemon.ok(&["create", "--name", "stopped", "busybox", "true"]);
    let asked = Instant::now();
    let empty = daemon.get_json("/containers/stopped/stats?stream=false");
    assert!(asked.elapsed() < Duration::from_millis(800));
    assert_eq!(empty["name"], "/stopped");
    assert_eq!(empty["read"], "0001-01-01T00:00:00Z");
    assert!(empty["memory_stats"].get("usage").is_none(), "{empty}");
    assert_eq!(daemon.get("/containers/nothing-here/stats?stream=false").map(|r| r.0), Some(404));
}

/// Reads a streaming stats answer object by object (HTTP/1.0: no chunking, the body ends when the daemon stops).
struct Stream {
    reader: BufReader<UnixStream>,
}

impl Stream {
    fn open(socket: &Path, path: &str) -> Stream {
        let mut stream = UnixStream::connect(socket).expect("connecting to the daemon");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
        write!(stream, "GET {path} HTTP/1.0\r\nHost: berth\r\n\r\n").expect("sending the request");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).expect("status line");
        assert!(line.contains(" 200 "), "{line}");
        while line.trim() != "" {
            line.clear();
            reader.read_line(&mut line).expect("a header");
        }
        Stream { reader }
    }

    /// The next object and when it arrived; None at the end of the body.
    fn next(&mut self) -> Option<(Value, Instant)> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some((serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e} in {line:?}")), Instant::now())),
            Err(error) => panic!("reading the stream: {error}"),
        }
    }
}

#[test]
fn streaming_sends_one_object_a_second_until_removal() {
    let daemon = Daemon::start();
    daemon.ok(&["run", "-d", "--name", "flow", "busybox", "sleep", "1000"]);
    let mut stream = Stream::open(daemon.socket(), "/containers/flow/stats");
    let (first, first_at) = stream.next().expect("a first object");
    let (second, second_at) = stream.next().expect("a second object");
    let (third, _) = stream.next().expect("a third object");
    // The first has nothing before it, as dockerd's; each later one carries the one before.
    assert_eq!(first["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(u64_at(&first, "/precpu_stats/cpu_usage/total_usage"), 0);
    assert_eq!(second["preread"], first["read"]);
    assert_eq!(second["precpu_stats"], first["cpu_stats"]);
    assert_eq!(third["precpu_stats"], second["cpu_stats"]);
    assert!(u64_at(&second, "/cpu_stats/system_cpu_usage") > u64_at(&first, "/cpu_stats/system_cpu_usage"));
    let apart = (time(&second["read"]) - time(&first["read"])).to_std().expect("in order");
    assert!(apart >= Duration::from_millis(900) && apart < Duration::from_secs(2), "samples {apart:?} apart");
    let arrived = second_at - first_at;
    assert!(arrived >= Duration::from_millis(800) && arrived < Duration::from_secs(2), "arrived {arrived:?} apart");

    // A stopped container keeps streaming (empty objects) until it is removed; then the body ends.
    daemon.ok(&["kill", "flow"]);
    wait_until("an object of the stopped container", || {
        stream.next().is_some_and(|(object, _)| object["read"] == "0001-01-01T00:00:00Z")
    });
    daemon.ok(&["rm", "flow"]);
    let removed = Instant::now();
    while stream.next().is_some() {
        assert!(removed.elapsed() < Duration::from_secs(5), "the stream goes on after rm");
    }
}

/// The whole disk under `path` (`MAJ:MIN`): blkio throttle rules are per disk, not per partition.
fn disk_of(path: &Path) -> Option<String> {
    let dev = std::fs::metadata(path).ok()?.dev();
    // glibc's gnu_dev_major / gnu_dev_minor.
    let (major, minor) = (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff), (dev & 0xff) | ((dev >> 12) & !0xff));
    let sys = Path::new("/sys/dev/block").join(format!("{major}:{minor}"));
    if !sys.exists() {
        return None;
    }
    if sys.join("partition").exists() {
        return std::fs::read_to_string(sys.join("../dev")).ok().map(|d| d.trim().to_string());
    }
    Some(format!("{major}:{minor}"))
}

#[test]
fn block_io_of_direct_writes() {
    let daemon = Daemon::start();
    let id = daemon.ok(&["run", "-d", "--name", "disk", "busybox", "sleep", "1000"]);
    let Some(disk) = disk_of(daemon.root()) else {
        panic!("the daemon root {} is on no block device: nothing to count block I/O on", daemon.root().display());
    };
    // Recent kernels set blk-throttle up lazily, at a disk's first throttle rule, and count the v1 blkio.throttle.*
    // statistics only on a disk where it is set up (block/blk-throttle.h, blk_should_throtl returns before
    // counting): dockerd reads 0B there too until some rule exists. A limit no test reaches sets it up, for good.
    let rule = Path::new("/sys/fs/cgroup/blkio/berth").join(id.trim()).join("blkio.throttle.write_bps_device");
    std::fs::write(&rule, format!("{disk} {}", 1u64 << 40)).unwrap_or_else(|e| panic!("{}: {e}", rule.display()));
    daemon.ok(&["exec", "disk", "dd", "if=/dev/zero", "of=/written", "bs=1M", "count=16", "oflag=direct"]);

    let line = stats_line(&daemon, "{{.BlockIO}}", "disk");
    let (_, written) = line.split_once(" / ").unwrap_or_else(|| panic!("BlockIO {line:?}"));
    assert!(size(written) >= 16.0 * MIB, "{line}");
    let stats = daemon.get_json("/containers/disk/stats?stream=false&one-shot=true");
    let entry = |list: &str, op: &str| -> u64 {
        stats["blkio_stats"][list]
            .as_array()
            .unwrap_or_else(|| panic!("no {list} in {stats}"))
            .iter()
            .filter(|e| e["op"] == op && format!("{}:{}", e["major"], e["minor"]) == disk)
            .map(|e| e["value"].as_u64().unwrap_or(0))
            .sum()
    };
    assert!(entry("io_service_bytes_recursive", "Write") >= 16 << 20, "{}", stats["blkio_stats"]);
    // 16 writes of 1 MiB, split by the block layer into requests of at most max_sectors_kb.
    assert!(entry("io_serviced_recursive", "Write") >= 16, "{}", stats["blkio_stats"]);
}
