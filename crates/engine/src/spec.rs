//! Turns a container's Docker configuration (Config + HostConfig) into the OCI runtime spec the runtime executes,
//! and checks that configuration the way dockerd does before anything is created.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use bollard_stubs::models::{HostConfig, MountType, RestartPolicyNameEnum};
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxIdMappingBuilder, LinuxMemoryBuilder,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder, Mount,
    MountBuilder, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use super::container::ContainerRecord;
use super::networking::NetworkNamespace;
use super::EngineError;
use berth_image::archive::read_in_root;

/// Docker's default capability set (moby oci/caps/defaults.go).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(message.into())
}

fn spec_error(err: oci_spec::OciSpecError) -> EngineError {
    invalid(format!("invalid runtime spec: {err}"))
}

fn cpu_count() -> i64 {
    std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1)
}

/// The runtimes a container may name: runc's names, which compose files, scripts and clients written for dockerd
/// use, and Berth's own; every one runs the container the same way, with `berth init`.
pub const KNOWN_RUNTIMES: [&str; 3] = ["runc", "io.containerd.runc.v2", "berth"];
/// What a container that names no runtime records, and `docker info` calls the default: dockerd's.
pub const DEFAULT_RUNTIME: &str = "runc";

/// The checks dockerd makes at create (and update) time, with its messages.
pub fn validate_host_config(host: &HostConfig) -> Result<(), EngineError> {
    if let Some(runtime) = host.runtime.as_deref().filter(|r| !r.is_empty() && !KNOWN_RUNTIMES.contains(r)) {
        return Err(invalid(format!("Unknown runtime specified {runtime}")));
    }
    let memory = host.memory.unwrap_or(0);
    let swap = host.memory_swap.unwrap_or(0);
    if memory > 0 && memory < 6 * 1024 * 1024 {
        return Err(invalid("Minimum memory limit allowed is 6MB"));
    }
    if swap > 0 && memory == 0 {
        return Err(invalid("You should always set the Memory limit when using Memoryswap limit, see usage"));
    }
    if swap > 0 && swap < memory {
        return Err(invalid("Minimum memoryswap limit should be larger than memory limit, see usage"));
    }
    let nano_cpus = host.nano_cpus.unwrap_or(0);
    if nano_cpus > 0 && (host.cpu_quota.unwrap_or(0) > 0 || host.cpu_period.unwrap_or(0) > 0) {
        return Err(invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set"));
    }
    let cpus = cpu_count();
    if nano_cpus < 0 || nano_cpus > cpus * 1_000_000_000 || (nano_cpus > 0 && nano_cpus < 10_000_000) {
        return Err(invalid(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )));
    }
    if host.cpu_shares.unwrap_or(0) < 0 {
        return Err(invalid("invalid CPU shares: must be a positive number"));
    }
    if let Some(period) = host.cpu_period.filter(|p| *p != 0) {
        if !(1000..=1_000_000).contains(&period) {
            return Err(invalid(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ));
        }
    }
    if let Some(quota) = host.cpu_quota.filter(|q| *q > 0) {
        if quota < 1000 {
            return Err(invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)"));
        }
    }
    if let Some(policy) = &host.restart_policy {
        let retries = policy.maximum_retry_count.unwrap_or(0);
        match policy.name {
            Some(RestartPolicyNameEnum::ON_FAILURE) if retries < 0 => {
                return Err(invalid("invalid restart policy: maximum retry count cannot be negative"));
            }
            Some(RestartPolicyNameEnum::ALWAYS) | Some(RestartPolicyNameEnum::UNLESS_STOPPED) => {
                if retries != 0 {
                    return Err(invalid(
                        "invalid restart policy: maximum retry count can only be used with 'on-failure'",
                    ));
                }
                if host.auto_remove.unwrap_or(false) {
                    return Err(invalid("can't create 'AutoRemove' container with restart policy"));
                }
            }
            _ => {}
        }
    }
    super::security::seccomp(host, &capabilities(host)?)?;
    for ulimit in host.ulimits.iter().flatten() {
        let name = ulimit.name.as_deref().unwrap_or("");
        rlimit_type(name).ok_or_else(|| invalid(format!("invalid ulimit type: {name}")))?;
        if ulimit.soft.unwrap_or(0) > ulimit.hard.unwrap_or(0) {
            return Err(invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                ulimit.soft.unwrap_or(0),
                ulimit.hard.unwrap_or(0)
            )));
        }
    }
    if let Some(log) = &host.log_config {
        let driver = log.typ.as_deref().filter(|t| !t.is_empty()).unwrap_or("json-file");
        super::log_drivers::validate(driver, &log.config.clone().unwrap_or_default())?;
    }
    // Other network modes name a network: the engine checks that it exists.
    for bind in host.binds.iter().flatten() {
        parse_bind(bind)?;
    }
    for path in host.tmpfs.iter().flat_map(|m| m.keys()) {
        if !path.starts_with('/') {
            return Err(invalid(format!(
                "invalid mount config for type \"tmpfs\": invalid mount path: '{path}' mount path must be absolute"
            )));
        }
    }
    Ok(())
}

fn rlimit_type(name: &str) -> Option<PosixRlimitType> {
    Some(match name {
        "core" => PosixRlimitType::RlimitCore,
        "cpu" => PosixRlimitType::RlimitCpu,
        "data" => PosixRlimitType::RlimitData,
        "fsize" => PosixRlimitType::RlimitFsize,
        "locks" => PosixRlimitType::RlimitLocks,
        "memlock" => PosixRlimitType::RlimitMemlock,
        "msgqueue" => PosixRlimitType::RlimitMsgqueue,
        "nice" => PosixRlimitType::RlimitNice,
        "nofile" => PosixRlimitType::RlimitNofile,
        "nproc" => PosixRlimitType::RlimitNproc,
        "rss" => PosixRlimitType::RlimitRss,
        "rtprio" => PosixRlimitType::RlimitRtprio,
        "rttime" => PosixRlimitType::RlimitRttime,
        "sigpending" => PosixRlimitType::RlimitSigpending,
        "stack" => PosixRlimitType::RlimitStack,
        "as" => PosixRlimitType::RlimitAs,
        _ => return None,
    })
}

fn parse_capability(name: &str) -> Result<Capability, EngineError> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    Capability::from_str(bare).map_err(|_| invalid(format!("unknown capability: \"{name}\"")))
}

/// Docker's rule: start from the defaults, drop (ALL drops everything), then add (ALL adds everything).
pub fn capabilities(host: &HostConfig) -> Result<HashSet<Capability>, EngineError> {
    let adds = host.cap_add.clone().unwrap_or_default();
    let drops = host.cap_drop.clone().unwrap_or_default();
    let is_all = |c: &String| c.eq_ignore_ascii_case("ALL") || c.eq_ignore_ascii_case("CAP_ALL");
    let mut set: HashSet<Capability> = if host.privileged.unwrap_or(false) || adds.iter().any(is_all) {
        all_capabilities()
    } else {
        DEFAULT_CAPABILITIES.iter().filter_map(|c| Capability::from_str(c).ok()).collect()
    };
    if drops.iter().any(is_all) {
        set.clear();
    }
    for drop in drops.iter().filter(|c| !is_all(c)) {
        set.remove(&parse_capability(drop)?);
    }
    for add in adds.iter().filter(|c| !is_all(c)) {
        set.insert(parse_capability(add)?);
    }
    Ok(set)
}

fn all_capabilities() -> HashSet<Capability> {
    caps::all()
        .into_iter()
        .filter_map(|cap| {
            let name = cap.to_string();
            Capability::from_str(name.strip_prefix("CAP_").unwrap_or(&name)).ok()
        })
        .collect()
}

/// A `-v` bind: `src:dst[:opts]`. A source without a leading slash names a volume.
pub struct BindSpec {
    pub source: String,
    pub destination: String,
    pub read_only: bool,
}

pub fn parse_bind(bind: &str) -> Result<BindSpec, EngineError> {
    let parts: Vec<&str> = bind.split(':').collect();
    let (source, destination, options) = match parts.as_slice() {
        [src, dst] => (*src, *dst, ""),
        [src, dst, opts] => (*src, *dst, *opts),
        _ => return Err(invalid(format!("invalid volume specification: '{bind}'"))),
    };
    if source.is_empty() || !destination.starts_with('/') {
        return Err(invalid(format!("invalid volume specification: '{bind}'")));
    }
    if destination == "/" {
        return Err(invalid(format!("invalid volume specification: '{bind}': invalid mount config for type \"bind\": invalid specification: destination can't be '/'")));
    }
    let mut read_only = false;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => read_only = true,
            "rw" | "z" | "Z" | "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "nocopy"
            | "consistent" | "cached" | "delegated" => {}
            _ => return Err(invalid(format!("invalid mode: {option}"))),
        }
    }
    Ok(BindSpec { source: source.to_string(), destination: destination.to_string(), read_only })
}

/// Resolves `user` (`name`, `uid`, `name:group`, `uid:gid`) against the container's /etc/passwd and /etc/group.
pub fn resolve_user(rootfs: &Path, user: &str, group_add: &[String]) -> Result<(u32, u32, Vec<u32>), EngineError> {
    let passwd = read_in_root(rootfs, "/etc/passwd");
    let group = read_in_root(rootfs, "/etc/group");
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let passwd_entry = passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|fields| {
        fields.len() >= 4 && (fields[0] == user_part || (user_part.parse::<u32>().is_ok() && fields[2] == user_part))
    });
    let (uid, mut gid, user_name) = match (&passwd_entry, user_part.parse::<u32>()) {
        (Some(fields), _) => (
            fields[2].parse().map_err(|_| invalid(format!("invalid uid in passwd entry for {user_part}")))?,
            fields[3].parse().unwrap_or(0),
            fields[0].to_string(),
        ),
        (None, Ok(uid)) => (uid, 0, String::new()),
        (None, Err(_)) => {
            return Err(invalid(format!("unable to find user {user_part}: no matching entries in passwd file")))
        }
    };
    let lookup_group = |name: &str| -> Result<u32, EngineError> {
        if let Ok(gid) = name.parse::<u32>() {
            return Ok(gid);
        }
        group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|fields| fields.len() >= 3 && fields[0] == name)
            .and_then(|fields| fields[2].parse().ok())
            .ok_or_else(|| invalid(format!("unable to find group {name}: no matching entries in group file")))
    };
    if let Some(group_name) = group_part {
        gid = lookup_group(group_name)?;
    }
    let mut additional: Vec<u32> = Vec::new();
    if group_part.is_none() && !user_name.is_empty() {
        for fields in group.lines().map(|l| l.split(':').collect::<Vec<_>>()) {
            if fields.len() >= 4 && fields[3].split(',').any(|member| member == user_name) {
                if let Ok(member_gid) = fields[2].parse::<u32>() {
                    additional.push(member_gid);
                }
            }
        }
    }
    for extra in group_add {
        additional.push(lookup_group(extra)?);
    }
    additional.retain(|g| *g != gid);
    additional.dedup();
    Ok((uid, gid, additional))
}

pub fn resources(host: &HostConfig) -> Result<LinuxResources, EngineError> {
    let mut builder = LinuxResourcesBuilder::default();
    let memory = host.memory.unwrap_or(0);
    if memory > 0 {
        let swap = match host.memory_swap.unwrap_or(0) {
            0 => memory * 2,
            -1 => -1,
            total => total,
        };
        builder = builder.memory(LinuxMemoryBuilder::default().limit(memory).swap(swap).build().map_err(spec_error)?);
    }
    let mut cpu = LinuxCpuBuilder::default();
    let mut cpu_set = false;
    if let Some(shares) = host.cpu_shares.filter(|s| *s > 0) {
        cpu = cpu.shares(shares.max(2) as u64);
        cpu_set = true;
    }
    if let Some(nano) = host.nano_cpus.filter(|n| *n > 0) {
        cpu = cpu.period(100_000u64).quota(nano * 100_000 / 1_000_000_000);
        cpu_set = true;
    } else {
        if let Some(period) = host.cpu_period.filter(|p| *p > 0) {
            cpu = cpu.period(period as u64);
            cpu_set = true;
        }
        if let Some(quota) = host.cpu_quota.filter(|q| *q > 0) {
            cpu = cpu.quota(quota);
            cpu_set = true;
        }
    }
    if cpu_set {
        builder = builder.cpu(cpu.build().map_err(spec_error)?);
    }
    if let Some(limit) = host.pids_limit.filter(|l| *l > 0) {
        builder = builder.pids(LinuxPidsBuilder::default().limit(limit).build().map_err(spec_error)?);
    }
    builder.build().map_err(spec_error)
}

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, EngineError> {
    MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(spec_error)
}

/// Where named volumes live (`-v name:/path` mounts `<volumes>/<name>/_data`), and the network namespace.
pub struct SpecPaths<'a> {
    pub rootfs: &'a Path,
    pub container_dir: &'a Path,
    pub volumes_dir: &'a Path,
    pub network: &'a NetworkNamespace,
}

pub fn build_spec(record: &ContainerRecord, paths: &SpecPaths<'_>) -> Result<Spec, EngineError> {
    let config = &record.config;
    let host = &record.host_config;
    let tty = config.tty.unwrap_or(false);

    let (uid, gid, additional_gids) =
        resolve_user(paths.rootfs, config.user.as_deref().unwrap_or(""), &host.group_add.clone().unwrap_or_default())?;
    let user = UserBuilder::default().uid(uid).gid(gid).additional_gids(additional_gids).build().map_err(spec_error)?;

    let mut env: Vec<String> = config.env.clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
    let hostname = config.hostname.clone().unwrap_or_else(|| record.id[..12].to_string());
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={hostname}"));
    }
    if tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = if uid == 0 { "/root".to_string() } else { home_of(paths.rootfs, uid).unwrap_or("/".into()) };
        env.push(format!("HOME={home}"));
    }

    let caps = capabilities(host)?;
    let non_root = uid != 0;
    let capability_sets = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(if non_root { HashSet::new() } else { caps.clone() })
        .permitted(if non_root { HashSet::new() } else { caps.clone() })
        .inheritable(HashSet::new())
        .ambient(HashSet::new())
        .build()
        .map_err(spec_error)?;

    let mut rlimits = Vec::new();
    for ulimit in host.ulimits.iter().flatten() {
        let name = ulimit.name.as_deref().unwrap_or("");
        let typ = rlimit_type(name).ok_or_else(|| invalid(format!("invalid ulimit type: {name}")))?;
        rlimits.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(ulimit.soft.unwrap_or(0).max(0) as u64)
                .hard(ulimit.hard.unwrap_or(0).max(0) as u64)
                .build()
                .map_err(spec_error)?,
        );
    }

    let no_new_privileges = super::security::parse(host.security_opt.as_deref().unwrap_or_default())?.no_new_privileges;
    let seccomp = super::security::seccomp(host, &caps)?;

    let mut args = Vec::new();
    args.push(record.path.clone());
    args.extend(record.args.iter().cloned());
    let cwd = config.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into());

    let process = ProcessBuilder::default()
        .terminal(tty)
        .user(user)
        .args(args)
        .env(env)
        .cwd(cwd)
        .capabilities(capability_sets)
        .rlimits(rlimits)
        .no_new_privileges(no_new_privileges)
        .build()
        .map_err(spec_error)?;

    let shm_size = host.shm_size.filter(|s| *s > 0).unwrap_or(64 * 1024 * 1024);
    let shm_option = format!("size={}k", shm_size / 1024);
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"])?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        )?,
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"])?,
        mount("/sys/fs/cgroup", "cgroup", "cgroup", &["ro", "nosuid", "noexec", "nodev"])?,
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"])?,
        mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", &shm_option])?,
    ];
    for file in ["resolv.conf", "hostname", "hosts"] {
        let source = paths.container_dir.join(file);
        mounts.push(mount(&format!("/etc/{file}"), "bind", &source.to_string_lossy(), &["rbind", "rprivate"])?);
    }
    for bind in host.binds.iter().flatten() {
        let bind = parse_bind(bind)?;
        let source = host_source(&bind.source, paths.volumes_dir, true)?;
        let mode = if bind.read_only { "ro" } else { "rw" };
        mounts.push(mount(&bind.destination, "bind", &source.to_string_lossy(), &["rbind", "rprivate", mode])?);
    }
    for spec_mount in host.mounts.iter().flatten() {
        let target = spec_mount.target.clone().unwrap_or_default();
        if !target.starts_with('/') {
            return Err(invalid(format!("invalid mount config: mount path must be absolute: '{target}'")));
        }
        let read_only = spec_mount.read_only.unwrap_or(false);
        let mode = if read_only { "ro" } else { "rw" };
        match spec_mount.typ {
            Some(MountType::BIND) => {
                let source = spec_mount.source.clone().unwrap_or_default();
                let path = host_source(&source, paths.volumes_dir, false)?;
                mounts.push(mount(&target, "bind", &path.to_string_lossy(), &["rbind", "rprivate", mode])?);
            }
            Some(MountType::VOLUME) => {
                let name = spec_mount.source.clone().unwrap_or_default();
                let name = if name.is_empty() { super::names::new_id() } else { name };
                let path = host_source(&name, paths.volumes_dir, true)?;
                mounts.push(mount(&target, "bind", &path.to_string_lossy(), &["rbind", "rprivate", mode])?);
            }
            Some(MountType::TMPFS) => {
                let mut options = vec!["nosuid".to_string(), "nodev".to_string(), "noexec".to_string()];
                if let Some(tmpfs) = &spec_mount.tmpfs_options {
                    if let Some(size) = tmpfs.size_bytes.filter(|s| *s > 0) {
                        options.push(format!("size={size}"));
                    }
                    if let Some(mode) = tmpfs.mode {
                        options.push(format!("mode={mode:o}"));
                    }
                }
                if read_only {
                    options.push("ro".into());
                }
                let refs: Vec<&str> = options.iter().map(String::as_str).collect();
                mounts.push(mount(&target, "tmpfs", "tmpfs", &refs)?);
            }
            _ => return Err(invalid(format!("mount type not supported by Berth for {target}"))),
        }
    }
    for extra in &record.extra_mounts {
        if mounts.iter().any(|m| m.destination() == Path::new(&extra.destination)) {
            continue;
        }
        let source = host_source(&extra.source, paths.volumes_dir, true)?;
        let mode = if extra.read_only { "ro" } else { "rw" };
        mounts.push(mount(&extra.destination, "bind", &source.to_string_lossy(), &["rbind", "rprivate", mode])?);
    }
    for (target, options) in host.tmpfs.iter().flatten() {
        let mut list = vec!["nosuid", "nodev", "noexec"];
        list.extend(options.split(',').filter(|o| !o.is_empty()));
        mounts.push(mount(target, "tmpfs", "tmpfs", &list)?);
    }

    if let Some(ids) = &record.id_shift {
        remap_mount_owners(&mut mounts, ids);
    }

    let mut namespaces =
        vec![LinuxNamespaceType::Pid, LinuxNamespaceType::Mount, LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts];
    if record.id_shift.is_some() {
        namespaces.push(LinuxNamespaceType::User);
    }
    let mut namespace_list = Vec::new();
    for typ in namespaces {
        namespace_list.push(LinuxNamespaceBuilder::default().typ(typ).build().map_err(spec_error)?);
    }
    match paths.network {
        NetworkNamespace::Host => {}
        NetworkNamespace::New => namespace_list
            .push(LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Network).build().map_err(spec_error)?),
        // `berth init` joins a namespace with a path (setns) instead of making one.
        NetworkNamespace::Join(path) => namespace_list.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(path.clone())
                .build()
                .map_err(spec_error)?,
        ),
    }

    let mut linux = LinuxBuilder::default()
        .namespaces(namespace_list)
        .resources(resources(host)?)
        .masked_paths(MASKED_PATHS.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        .readonly_paths(READONLY_PATHS.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(spec_error)?;
    linux.set_seccomp(seccomp);
    if let Some(ids) = &record.id_shift {
        let map =
            |host_id: u32| LinuxIdMappingBuilder::default().container_id(0u32).host_id(host_id).size(ids.size).build();
        linux.set_uid_mappings(Some(vec![map(ids.uid).map_err(spec_error)?]));
        linux.set_gid_mappings(Some(vec![map(ids.gid).map_err(spec_error)?]));
    }
    if !matches!(paths.network, NetworkNamespace::Host) {
        linux.set_sysctl(Some(unprivileged_network_sysctls()));
    }

    let root = RootBuilder::default()
        .path(paths.rootfs)
        .readonly(host.readonly_rootfs.unwrap_or(false))
        .build()
        .map_err(spec_error)?;

    let mut annotations = std::collections::HashMap::new();
    if host.init.unwrap_or(false) {
        annotations.insert("berth.init".to_string(), "true".to_string());
    }

    SpecBuilder::default()
        .version("1.0.2")
        .root(root)
        .hostname(if host.network_mode.as_deref() == Some("host") { host_name() } else { hostname })
        .mounts(mounts)
        .process(process)
        .linux(linux)
        .annotations(annotations)
        .build()
        .map_err(spec_error)
}

/// dockerd's defaults for a container with a network namespace of its own (daemon/oci_linux.go): any user may
/// bind a port below 1024 and open ICMP sockets. A remapped root needs them most: the namespace belongs to the
/// host's user namespace, where it holds no capability.
fn unprivileged_network_sysctls() -> std::collections::HashMap<String, String> {
    [("net.ipv4.ip_unprivileged_port_start", "0"), ("net.ipv4.ping_group_range", "0 2147483647")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What the kernel makes for a mount belongs to its mounter, host root: tmpfs roots (`/dev`, `/dev/shm`,
/// `--tmpfs`) go to the remapped root or the `uid=`/`gid=` asked for, shifted; devpts's tty group is shifted.
fn remap_mount_owners(mounts: &mut [Mount], ids: &berth_fs::id_shift::IdShift) {
    for mount in mounts.iter_mut() {
        let typ = mount.typ().as_deref().unwrap_or("");
        if typ != "tmpfs" && typ != "devpts" {
            continue;
        }
        let mut options = mount.options().clone().unwrap_or_default();
        let mut uid = (typ == "tmpfs").then_some(0);
        let mut gid = (typ == "tmpfs").then_some(0);
        options.retain(|option| {
            let number = |prefix: &str| option.strip_prefix(prefix).and_then(|v| v.parse::<u32>().ok());
            if let Some(n) = number("uid=") {
                uid = Some(n);
                return false;
            }
            if let Some(n) = number("gid=") {
                gid = Some(n);
                return false;
            }
            true
        });
        if let Some(uid) = uid {
            options.push(format!("uid={}", ids.host_uid(uid)));
        }
        if let Some(gid) = gid {
            options.push(format!("gid={}", ids.host_gid(gid)));
        }
        mount.set_options(Some(options));
    }
}

fn home_of(rootfs: &Path, uid: u32) -> Option<String> {
    read_in_root(rootfs, "/etc/passwd")
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 6 && fields[2] == uid.to_string())
        .map(|fields| fields[5].to_string())
}

fn host_name() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into())
}

/// Docker makes a missing `-v` source, but not inside the kernel's /proc and /sys nor inside the daemon's own
/// state, where a new directory could shadow or confuse what the daemon keeps (checked on the real path of the
/// nearest existing ancestor, so a symlink cannot lead there either).
fn refuse_to_create_in_system_dirs(path: &Path, volumes_dir: &Path) -> Result<(), EngineError> {
    let cleaned = PathBuf::from(berth_image::archive::clean_abs(&path.to_string_lossy()));
    let mut existing = cleaned.as_path();
    while !existing.exists() {
        existing = existing.parent().unwrap_or(Path::new("/"));
    }
    let real = existing.canonicalize().unwrap_or_else(|_| existing.to_path_buf());
    let real = real.join(cleaned.strip_prefix(existing).unwrap_or(Path::new("")));
    let daemon_root = volumes_dir.parent().and_then(|root| root.canonicalize().ok());
    let forbidden = [Some(PathBuf::from("/proc")), Some(PathBuf::from("/sys")), daemon_root];
    if forbidden.iter().flatten().any(|dir| real.starts_with(dir)) {
        return Err(invalid(format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {} (Berth does not create it there)",
            path.display()
        )));
    }
    Ok(())
}

/// The host path behind a bind or volume source. `-v /missing:/x` creates the directory (Docker's legacy
/// behaviour); `--mount type=bind` with a missing source is an error.
fn host_source(source: &str, volumes_dir: &Path, create_missing: bool) -> Result<PathBuf, EngineError> {
    if source.starts_with('/') {
        let path = PathBuf::from(source);
        if !path.exists() {
            if create_missing {
                refuse_to_create_in_system_dirs(&path, volumes_dir)?;
                std::fs::create_dir_all(&path)
                    .map_err(|e| EngineError::io(format!("create bind source {source}"), e))?;
            } else {
                return Err(invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {source}"
                )));
            }
        }
        return Ok(path);
    }
    if source.contains('/') || source.is_empty() || source.starts_with('.') {
        return Err(invalid(format!(
            "create {source}: \"{source}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    let data = volumes_dir.join(source).join("_data");
    std::fs::create_dir_all(&data).map_err(|e| EngineError::io(format!("create volume {source}"), e))?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::{ResourcesUlimits, RestartPolicy};

    #[test]
    fn capability_arithmetic_matches_docker() {
        let host = HostConfig {
            cap_drop: Some(vec!["chown".into()]),
            cap_add: Some(vec!["CAP_SYS_ADMIN".into()]),
            ..Default::default()
        };
        let set = capabilities(&host).unwrap();
        assert!(!set.contains(&Capability::Chown));
        assert!(set.contains(&Capability::SysAdmin));
        assert!(set.contains(&Capability::Kill));
        let none = HostConfig {
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(vec!["NET_ADMIN".into()]),
            ..Default::default()
        };
        assert_eq!(capabilities(&none).unwrap(), HashSet::from([Capability::NetAdmin]));
        let bad = HostConfig { cap_add: Some(vec!["FROB".into()]), ..Default::default() };
        assert!(capabilities(&bad).unwrap_err().to_string().contains("unknown capability"));
    }

    #[test]
    fn limits_are_checked_like_dockerd() {
        let small = HostConfig { memory: Some(1024), ..Default::default() };
        assert_eq!(validate_host_config(&small).unwrap_err().to_string(), "Minimum memory limit allowed is 6MB");
        let swap = HostConfig { memory: Some(64 << 20), memory_swap: Some(32 << 20), ..Default::default() };
        assert!(validate_host_config(&swap).unwrap_err().to_string().contains("memoryswap"));
        let cpus = HostConfig { nano_cpus: Some(1_000 * 1_000_000_000), ..Default::default() };
        assert!(validate_host_config(&cpus).unwrap_err().to_string().contains("Range of CPUs"));
        let restart = HostConfig {
            auto_remove: Some(true),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::ALWAYS),
                maximum_retry_count: None,
            }),
            ..Default::default()
        };
        assert!(validate_host_config(&restart).is_err());
        let ulimit = HostConfig {
            ulimits: Some(vec![ResourcesUlimits { name: Some("nofile".into()), soft: Some(10), hard: Some(5) }]),
            ..Default::default()
        };
        assert!(validate_host_config(&ulimit).is_err());
    }

    #[test]
    fn memory_swap_defaults_to_twice_memory() {
        let host = HostConfig { memory: Some(32 << 20), ..Default::default() };
        let res = resources(&host).unwrap();
        let memory = res.memory().as_ref().unwrap();
        assert_eq!(memory.limit(), Some(32 << 20));
        assert_eq!(memory.swap(), Some(64 << 20));
        let cpus = HostConfig { nano_cpus: Some(1_500_000_000), ..Default::default() };
        let cpu = resources(&cpus).unwrap().cpu().clone().unwrap();
        assert_eq!(cpu.quota(), Some(150_000));
        assert_eq!(cpu.period(), Some(100_000));
    }

    #[test]
    fn users_resolve_from_the_image_files() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(root.path().join("etc/group"), "root:x:0:\napp:x:1000:\nstaff:x:50:app\n").unwrap();
        assert_eq!(resolve_user(root.path(), "", &[]).unwrap(), (0, 0, vec![]));
        assert_eq!(resolve_user(root.path(), "app", &[]).unwrap(), (1000, 1000, vec![50]));
        assert_eq!(resolve_user(root.path(), "1000:staff", &[]).unwrap(), (1000, 50, vec![]));
        assert_eq!(resolve_user(root.path(), "4242", &[]).unwrap(), (4242, 0, vec![]));
        assert!(resolve_user(root.path(), "nosuch", &[])
            .unwrap_err()
            .to_string()
            .contains("unable to find user nosuch"));
    }

    #[test]
    fn binds_parse() {
        let bind = parse_bind("/h:/c:ro").unwrap();
        assert!(bind.read_only);
        assert!(parse_bind("/h").is_err());
        assert!(parse_bind("/h:relative").is_err());
        assert!(parse_bind("/h:/c:bogus").is_err());
    }
}
