//! What the kernel says about memory, processes, mounts and disk usage (/proc, /sys/fs/cgroup, lstat), and the few
//! system calls the cleanup needs (kill, umount2). Linux only, like Berth.

use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// `MemAvailable` from /proc/meminfo, in KiB: what the kernel could hand out without swapping.
pub fn mem_available_kib() -> Result<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
    meminfo_field(&meminfo, "MemAvailable").context("/proc/meminfo has no MemAvailable")
}

fn meminfo_field(meminfo: &str, field: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// `MemAvailable` averaged over a few readings a moment apart, to smooth out the page cache's breathing.
pub fn steady_mem_available_kib() -> Result<f64> {
    const READINGS: u32 = 5;
    let mut sum = 0.0;
    for reading in 0..READINGS {
        if reading > 0 {
            thread::sleep(Duration::from_millis(100));
        }
        sum += mem_available_kib()? as f64;
    }
    Ok(sum / f64::from(READINGS))
}

/// The /proc/meminfo lines where per-container kernel memory shows: unreclaimable slab (namespaces, mounts,
/// network devices, sockets), shmem (tmpfs such as a container's /dev and /dev/shm), page tables, kernel stacks
/// and per-CPU allocations (network namespaces' counters). KiB each, in this order.
pub const KERNEL_MEMORY_FIELDS: [&str; 5] = ["SUnreclaim", "Shmem", "PageTables", "KernelStack", "Percpu"];

pub fn kernel_memory_kib() -> Result<[u64; 5]> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
    Ok(KERNEL_MEMORY_FIELDS.map(|field| meminfo_field(&meminfo, field).unwrap_or(0)))
}

/// One line of the process table.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    pub pid: u32,
    pub parent: u32,
    /// The arguments joined by spaces (empty for kernel threads).
    pub command_line: String,
}

/// Every process visible in /proc. Processes that exit while being read are skipped.
pub fn processes() -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let parent = stat_field(&stat, 4)?.parse().ok()?;
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let command_line = String::from_utf8_lossy(&raw).trim_end_matches('\0').replace('\0', " ");
            Some(ProcessInfo { pid, parent, command_line })
        })
        .collect()
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat. The command name (field 2) is in parentheses and may
/// contain spaces and parentheses itself, so fields are counted after its last ')'.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(n.checked_sub(3)?)
}

/// `roots` and everything below them in the process tree.
pub fn descendants(table: &[ProcessInfo], roots: &HashSet<u32>) -> HashSet<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for process in table {
        children.entry(process.parent).or_default().push(process.pid);
    }
    let mut found: HashSet<u32> = roots.clone();
    let mut queue: Vec<u32> = roots.iter().copied().collect();
    while let Some(pid) = queue.pop() {
        for &child in children.get(&pid).into_iter().flatten() {
            if found.insert(child) {
                queue.push(child);
            }
        }
    }
    found
}

/// Resident memory of a process in KiB (`VmRSS`), None once it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    meminfo_field(&status, "VmRSS")
}

/// Proportional resident memory in KiB (`Pss` of smaps_rollup): shared pages split among the processes sharing
/// them, so a sum over processes counts each page once.
pub fn pss_kib(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    meminfo_field(&rollup, "Pss")
}

/// Bytes charged to the memory cgroup of `pid` (v1 `memory.usage_in_bytes`, v2 `memory.current`).
pub fn cgroup_memory_bytes(pid: u32) -> Option<u64> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let file = cgroups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let relative = path.trim_start_matches('/');
        if controllers.split(',').any(|controller| controller == "memory") {
            Some(Path::new("/sys/fs/cgroup/memory").join(relative).join("memory.usage_in_bytes"))
        } else if controllers.is_empty() && Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            Some(Path::new("/sys/fs/cgroup").join(relative).join("memory.current"))
        } else {
            None
        }
    })?;
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Whether `pid` still runs (a zombie does not).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_field(&stat, 3) != Some("Z"),
        Err(_) => false,
    }
}

pub fn send_signal(pid: u32, signal: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    if pid > 0 {
        // SAFETY: kill(2) with a positive pid and a signal number; no memory is shared with the callee.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// SIGTERM, then SIGKILL if `pid` is still there after `grace`. With `child`, also reaps it (a process the bench
/// spawned stays a zombie, and looks alive to /proc readers, until it is waited for).
pub fn stop_process(pid: u32, mut child: Option<&mut Child>, grace: Duration) {
    let gone = |child: &mut Option<&mut Child>| match child {
        Some(child) => child.try_wait().map(|status| status.is_some()).unwrap_or(true),
        None => !alive(pid),
    };
    if gone(&mut child) {
        return;
    }
    send_signal(pid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if gone(&mut child) {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    eprintln!("xtask bench: pid {pid} ignored SIGTERM for {grace:?}; sending SIGKILL");
    send_signal(pid, libc::SIGKILL);
    match child {
        Some(child) => {
            let _ = child.wait();
        }
        None => {
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive(pid) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Mount points at or below `dir`, deepest first (a point listed twice is two stacked mounts: both are listed).
pub fn mount_points_under(dir: &Path) -> Vec<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mount_points_in(&mounts, dir)
}

fn mount_points_in(mounts: &str, dir: &Path) -> Vec<PathBuf> {
    let mut points: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(unescape_mount_field)
        .filter(|point| point.starts_with(dir))
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    points
}

/// Unmounts everything at or below `dir`, lazily (MNT_DETACH), so that busy mounts go too. remove_dir_all on a
/// directory with a bind mount inside would otherwise descend into what is mounted there.
pub fn unmount_all_under(dir: &Path) {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    for point in mount_points_under(&dir) {
        let Ok(path) = CString::new(point.as_os_str().as_bytes()) else { continue };
        // SAFETY: umount2(2) with a NUL-terminated path that lives across the call.
        if unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } != 0 {
            eprintln!("xtask bench: unmounting {}: {}", point.display(), std::io::Error::last_os_error());
        }
    }
}

/// /proc/self/mounts writes space, tab, newline and backslash in paths as octal escapes (`\040`).
fn unescape_mount_field(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).is_some_and(|digits| digits.iter().all(|b| (b'0'..=b'7').contains(b)));
        if bytes[i] == b'\\' && octal {
            out.push((bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// Bytes in the files below `dir`, as `du --apparent-size -x` counts them: each inode once (a store that
/// hard-links one file into several places holds its bytes once), and nothing on another filesystem (a container's
/// overlay mounted inside an engine's root is not the engine's store). 0 for a missing `dir`.
pub fn bytes_under(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = std::fs::symlink_metadata(dir) else { return 0 };
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries.filter_map(|entry| entry.ok()) {
            let Ok(metadata) = entry.metadata() else { continue };
            if metadata.dev() != top.dev() {
                continue;
            }
            if metadata.is_dir() {
                pending.push(entry.path());
            } else if seen.insert(metadata.ino()) {
                total += metadata.len();
            }
        }
    }
    total
}

/// The 1-, 5- and 15-minute load averages: a busy machine makes every figure here slower and noisier.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(|field| field.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meminfo_fields_exactly() {
        let meminfo = "MemTotal:       24683520 kB\nMemFree:        17544192 kB\nMemAvailable:   23754752 kB\n";
        assert_eq!(meminfo_field(meminfo, "MemAvailable"), Some(23754752));
        assert_eq!(meminfo_field(meminfo, "Mem"), None);
    }

    #[test]
    fn stat_fields_survive_odd_command_names() {
        let stat = "1234 (a) b (c)) S 1 1234 1234 0 -1";
        assert_eq!(stat_field(stat, 3), Some("S"));
        assert_eq!(stat_field(stat, 4), Some("1"));
    }

    #[test]
    fn the_process_table_has_this_process_and_its_parent() {
        let me = processes().into_iter().find(|process| process.pid == std::process::id()).unwrap();
        assert_eq!(me.parent, std::os::unix::process::parent_id());
        assert!(!me.command_line.is_empty());
        assert!(alive(me.pid));
    }

    #[test]
    fn descendants_follow_the_tree() {
        let table: Vec<ProcessInfo> = [(1, 0), (10, 1), (11, 10), (12, 11), (20, 1)]
            .map(|(pid, parent)| ProcessInfo { pid, parent, command_line: String::new() })
            .to_vec();
        let found = descendants(&table, &HashSet::from([10]));
        assert_eq!(found, HashSet::from([10, 11, 12]));
    }

    #[test]
    fn bytes_under_counts_hard_links_once() {
        let dir = std::env::temp_dir().join(format!("xtask-bytes-under-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a"), [0u8; 1000]).unwrap();
        std::fs::write(dir.join("sub/b"), [0u8; 24]).unwrap();
        std::fs::hard_link(dir.join("a"), dir.join("sub/a-again")).unwrap();
        let bytes = bytes_under(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(bytes, 1024);
        assert_eq!(bytes_under(&dir), 0);
    }

    #[test]
    fn mount_points_below_a_dir_deepest_first_with_escapes() {
        let mounts = "\
overlay /bench/run/berth/containers/a/merged overlay rw 0 0
proc /bench/run/berth/containers/a/merged/proc proc rw 0 0
tmpfs /bench/run/with\\040space tmpfs rw 0 0
tmpfs /bench/runner tmpfs rw 0 0
proc /proc proc rw 0 0
";
        let points = mount_points_in(mounts, Path::new("/bench/run"));
        assert_eq!(
            points,
            [
                PathBuf::from("/bench/run/berth/containers/a/merged/proc"),
                PathBuf::from("/bench/run/berth/containers/a/merged"),
                PathBuf::from("/bench/run/with space"),
            ]
        );
    }
}
