//! Inside `berth init`, in the container's fresh mount namespace: the spec's mounts, `/dev`, `pivot_root`, masked
//! and read-only paths. Runs single-threaded; a [`RootfsError`] reaches the daemon as its message over the sync
//! pipe, so the wording is what users see (`failed to start container process: mount ... on ...: EPERM: ...`).

use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Spec};

use super::mount_options;
use super::paths::resolve_in_root;
use super::rootfs_plan::{self, MountStep};
use berth_fs::in_root::{self, InRootError, Root};

/// What failed while building the container's filesystem. Each variant's text is the one the daemon reports.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RootfsError {
    /// The spec names no root.
    #[error("spec has no root")]
    NoRoot,
    /// `root.path` is relative.
    #[error("root path {} is not absolute", path.display())]
    RootNotAbsolute { path: PathBuf },
    /// A mount's destination is relative.
    #[error("mount destination {} is not absolute", path.display())]
    DestinationNotAbsolute { path: PathBuf },
    /// A bind mount without a source.
    #[error("bind mount {} has no source", destination.display())]
    BindWithoutSource { destination: PathBuf },
    /// A device of type `a` (all), which only a cgroup rule can name.
    #[error("device {} has type 'a'", path.display())]
    DeviceTypeAll { path: PathBuf },
    /// Writing a sysctl under /proc/sys failed.
    #[error("sysctl {key}={value}: {source}")]
    Sysctl {
        key: String,
        value: String,
        #[source]
        source: io::Error,
    },
    /// A mount(2) failed. `what` is the kind of mount (`tmpfs`, `remount`, `bind /src`, the spec's type).
    #[error("mount {what} on {}: {source}", target.display())]
    Mount {
        what: String,
        target: PathBuf,
        #[source]
        source: Errno,
    },
    /// A file operation on a path failed (`mkdir`, `create`, `chmod`, `chown`, `symlink`, `resolve`, ...).
    #[error("{op} {}: {source}", path.display())]
    Path {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A system call on a path failed (`mknod`, `chdir`, `pivot_root`).
    #[error("{op} {}: {source}", path.display())]
    PathErrno {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: Errno,
    },
    /// A lookup or change inside the root, by descriptor, failed (`mount point`, `reopen mount point`, ...).
    #[error("{op} {}: {source}", path.display())]
    InRoot {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: InRootError,
    },
    /// A file operation not tied to one path of the spec failed (`resolve console`, `terminal path`).
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// A system call on the old root failed (`make old root rslave`, `detach old root`).
    #[error("{op}: {source}")]
    OldRoot {
        op: &'static str,
        #[source]
        source: Errno,
    },
}

impl RootfsError {
    fn path(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        RootfsError::Path { op, path: path.into(), source }
    }

    fn errno(op: &'static str, path: impl Into<PathBuf>, source: Errno) -> Self {
        RootfsError::PathErrno { op, path: path.into(), source }
    }

    fn in_root(op: &'static str, path: impl Into<PathBuf>, source: InRootError) -> Self {
        RootfsError::InRoot { op, path: path.into(), source }
    }
}

type Res<T> = Result<T, RootfsError>;

fn mount_err(what: impl Into<String>, target: &Path, source: Errno) -> RootfsError {
    RootfsError::Mount { what: what.into(), target: target.to_path_buf(), source }
}

/// The absolute rootfs path of a spec.
pub(crate) fn root_of(spec: &Spec) -> Res<PathBuf> {
    let root = spec.root().as_ref().ok_or(RootfsError::NoRoot)?.path();
    if !root.is_absolute() {
        return Err(RootfsError::RootNotAbsolute { path: root.clone() });
    }
    fs::canonicalize(root).map_err(|e| RootfsError::path("rootfs", root, e))
}

/// Everything before `pivot_root`, as [`rootfs_plan::plan`] decided: mounts, `/dev`, the console, the working
/// directory. `cgroup_dirs` are the container's cgroup directories (for a `cgroup` mount).
pub(crate) fn prepare(spec: &Spec, root: &Path, tty: bool, cgroup_dirs: &[PathBuf]) -> Res<()> {
    let plan = rootfs_plan::plan(spec, tty)?;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | plan.propagation, None::<&str>)
        .map_err(|e| mount_err("propagation", Path::new("/"), e))?;
    // pivot_root needs the new root to be a mount point.
    mount(Some(root), root, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| mount_err("rootfs bind", root, e))?;
    if plan.dev_tmpfs {
        let dev = resolve_in_root(root, Path::new("/dev")).map_err(|e| RootfsError::path("resolve", "/dev", e))?;
        fs::create_dir_all(&dev).map_err(|e| RootfsError::path("mkdir", &dev, e))?;
        mount(Some("tmpfs"), &dev, Some("tmpfs"), MsFlags::MS_NOSUID, Some("mode=755,size=65536k"))
            .map_err(|e| mount_err("tmpfs", &dev, e))?;
    }
    for step in &plan.mounts {
        mount_entry(root, step, cgroup_dirs)?;
    }
    if plan.make_devices {
        let devices: &[LinuxDevice] = spec.linux().as_ref().and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
        create_devices(root, devices)?;
        dev_symlinks(root)?;
    }
    if plan.console {
        bind_console(root)?;
    }
    if let Some(cwd) = plan.cwd {
        // Made inside the root by descriptor, like the mount points.
        let tree = Root::open(root).map_err(|e| RootfsError::in_root("rootfs", root, e))?;
        tree.mkdir_all(cwd, 0o755, None).map_err(|e| RootfsError::in_root("mkdir cwd", cwd, e))?;
    }
    Ok(())
}

/// Mounts one planned entry onto its destination inside the root. The destination is opened with
/// openat2(RESOLVE_IN_ROOT), made first if missing, and the mount goes onto `/proc/self/fd/N` of that descriptor:
/// a symlink put in its path meanwhile (a volume shared with a running container) cannot send the mount outside
/// the root (runc's fix for CVE-2021-30465). What follows the mount (remount flags, propagation) opens the
/// destination anew: a descriptor taken before the mount names the directory underneath it.
fn mount_entry(root: &Path, step: &MountStep<'_>, cgroup_dirs: &[PathBuf]) -> Res<()> {
    let tree = Root::open(root).map_err(|e| RootfsError::in_root("rootfs", root, e))?;
    let dest_in = step.destination();
    // Where it goes, for messages.
    let dest = root.join(dest_in.strip_prefix("/").unwrap_or(dest_in));
    let propagation = match step {
        MountStep::Cgroup { options, .. } => {
            // The cgroup code lays out its v1 tmpfs by path (binds into it by name): it gets the path the kernel
            // resolved inside the root, not the one the spec wrote.
            let point = mount_point(&tree, dest_in, true)?;
            let resolved = in_root::fd_path(point.as_fd()).map_err(|e| RootfsError::path("resolve", dest_in, e))?;
            return mount_cgroup(&resolved, options, cgroup_dirs);
        }
        MountStep::Bind { source, recursive, remount, propagation, .. } => {
            let meta = fs::metadata(source).map_err(|e| RootfsError::path("bind source", source, e))?;
            let point = mount_point(&tree, dest_in, meta.is_dir())?;
            let rec = if *recursive { MsFlags::MS_REC } else { MsFlags::empty() };
            mount(
                Some(*source),
                &in_root::proc_path(point.as_fd()),
                None::<&str>,
                MsFlags::MS_BIND | rec,
                None::<&str>,
            )
            .map_err(|e| mount_err(format!("bind {}", source.display()), &dest, e))?;
            if !remount.is_empty() {
                let now = mounted(&tree, dest_in)?;
                remount_bind(&in_root::proc_path(now.as_fd()), *remount)?;
            }
            propagation
        }
        MountStep::Filesystem { typ, source, flags, data, propagation, .. } => {
            let point = mount_point(&tree, dest_in, true)?;
            let target = in_root::proc_path(point.as_fd());
            match mount(Some(*source), &target, Some(*typ), *flags, data.as_deref()) {
                Ok(()) => {}
                Err(e) if *typ == "sysfs" => {
                    // Without a network namespace of our own sysfs may refuse: bind the host's, read-only.
                    tracing::debug!(error = %e, "sysfs mount failed, binding /sys");
                    mount(Some("/sys"), &target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                        .map_err(|e| mount_err("bind /sys", &dest, e))?;
                    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
                    let now = mounted(&tree, dest_in)?;
                    remount_bind(&in_root::proc_path(now.as_fd()), flags)?;
                }
                Err(e) => return Err(mount_err(*typ, &dest, e)),
            }
            propagation
        }
    };
    if !propagation.is_empty() {
        let now = mounted(&tree, dest_in)?;
        let target = in_root::proc_path(now.as_fd());
        for p in propagation {
            mount(None::<&str>, &target, None::<&str>, *p, None::<&str>)
                .map_err(|e| mount_err("propagation", &dest, e))?;
        }
    }
    Ok(())
}

/// The mount point `dest` inside the root, made if missing (a directory, or an empty file for a file bind mount),
/// held by descriptor.
fn mount_point(tree: &Root, dest: &Path, dir: bool) -> Res<OwnedFd> {
    let fail = |e: InRootError| RootfsError::in_root("mount point", dest, e);
    if dir {
        return tree.mkdir_all(dest, 0o755, None).map_err(fail);
    }
    match tree.resolve(dest) {
        Ok(fd) => return Ok(fd),
        Err(InRootError::NotFound { .. }) => {}
        Err(e) => return Err(fail(e)),
    }
    tree.mkdir_all(dest.parent().unwrap_or(Path::new("/")), 0o755, None).map_err(fail)?;
    let entry = tree.entry(dest).map_err(fail)?;
    match entry.at().create_file(0o644) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(RootfsError::path("create", dest, e)),
    }
    tree.resolve(dest).map_err(fail)
}

/// What is mounted at `dest` now (the new mount's root), held by descriptor; mount through its
/// [`in_root::proc_path`] while it is held.
fn mounted(tree: &Root, dest: &Path) -> Res<OwnedFd> {
    tree.resolve(dest).map_err(|e| RootfsError::in_root("reopen mount point", dest, e))
}

/// `/sys/fs/cgroup` in the container. cgroup v2: a fresh cgroup2 mount (rooted at the container's cgroup when it
/// has a cgroup namespace). cgroup v1: a tmpfs with each hierarchy's container directory bound in, like runc, so
/// `/sys/fs/cgroup/memory/memory.limit_in_bytes` shows the container's own limit.
fn mount_cgroup(dest: &Path, opts: &mount_options::MountOptions, cgroup_dirs: &[PathBuf]) -> Res<()> {
    create_mount_point(dest, true)?;
    let keep = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    let flags = opts.flags & keep;
    let unified = nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    if unified {
        return mount(Some("cgroup2"), dest, Some("cgroup2"), flags, None::<&str>)
            .map_err(|e| mount_err("cgroup2", dest, e));
    }
    let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("tmpfs"), dest, Some("tmpfs"), base, Some("mode=755")).map_err(|e| mount_err("tmpfs", dest, e))?;
    let hierarchies = v1_mount_points(&berth_fs::mount_table::mounts());
    for dir in cgroup_dirs {
        let Some(mp) = hierarchies.iter().find(|mp| dir.starts_with(mp)) else {
            continue;
        };
        let Some(name) = mp.file_name() else { continue };
        let target = dest.join(name);
        create_mount_point(&target, true)?;
        mount(Some(dir.as_path()), &target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(|e| mount_err(format!("bind {}", dir.display()), &target, e))?;
        remount_bind(&target, flags | base)?;
        let name = name.to_string_lossy();
        if name.contains(',') {
            // Co-mounted controllers (cpu,cpuacct): each name is a link to the joint directory.
            for part in name.split(',') {
                let _ = symlink(name.as_ref(), dest.join(part));
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        mount(None::<&str>, dest, None::<&str>, MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base, None::<&str>)
            .map_err(|e| mount_err("read-only remount", dest, e))?;
    }
    Ok(())
}

/// Mount points of the cgroup v1 hierarchies.
fn v1_mount_points(mounts: &[berth_fs::mount_table::Mount]) -> Vec<PathBuf> {
    mounts.iter().filter(|m| m.fs_type == "cgroup").map(|m| m.mount_point.clone()).collect()
}

/// A directory, or an empty file for file bind mounts.
fn create_mount_point(dest: &Path, dir: bool) -> Res<()> {
    if dir {
        fs::create_dir_all(dest).map_err(|e| RootfsError::path("mkdir", dest, e))
    } else {
        if dest.exists() {
            return Ok(());
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| RootfsError::path("mkdir", parent, e))?;
        }
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dest)
            .map(drop)
            .map_err(|e| RootfsError::path("create", dest, e))
    }
}

/// The flags a mount already has that a remount must keep.
fn current_flags(path: &Path) -> MsFlags {
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs_flag, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    ] {
        if f.contains(fs_flag) {
            out |= ms;
        }
    }
    out
}

/// Changes the per-mount flags of a bind mount (e.g. makes it read-only), keeping those it has.
fn remount_bind(path: &Path, flags: MsFlags) -> Res<()> {
    let all = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | current_flags(path) | flags;
    mount(None::<&str>, path, None::<&str>, all, None::<&str>).map_err(|e| mount_err("remount", path, e))
}

struct Dev {
    path: &'static str,
    major: u64,
    minor: u64,
}

/// Docker's default devices.
const DEFAULT_DEVICES: &[Dev] = &[
    Dev { path: "/dev/null", major: 1, minor: 3 },
    Dev { path: "/dev/zero", major: 1, minor: 5 },
    Dev { path: "/dev/full", major: 1, minor: 7 },
    Dev { path: "/dev/random", major: 1, minor: 8 },
    Dev { path: "/dev/urandom", major: 1, minor: 9 },
    Dev { path: "/dev/tty", major: 5, minor: 0 },
];

fn create_devices(root: &Path, devices: &[LinuxDevice]) -> Res<()> {
    for d in DEFAULT_DEVICES {
        if devices.iter().any(|x| x.path() == Path::new(d.path)) {
            continue;
        }
        make_device(root, Path::new(d.path), SFlag::S_IFCHR, d.major, d.minor, 0o666, 0, 0)?;
    }
    for d in devices {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => return Err(RootfsError::DeviceTypeAll { path: d.path().clone() }),
        };
        let (major, minor) = (u64::try_from(d.major()).unwrap_or(0), u64::try_from(d.minor()).unwrap_or(0));
        let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
        make_device(root, d.path(), kind, major, minor, mode, d.uid().unwrap_or(0), d.gid().unwrap_or(0))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn make_device(
    root: &Path,
    path: &Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
) -> Res<()> {
    let dest = resolve_in_root(root, path).map_err(|e| RootfsError::path("resolve", path, e))?;
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| RootfsError::path("mkdir", parent, e))?;
    }
    let _ = fs::remove_file(&dest);
    match mknod(&dest, kind, Mode::from_bits_truncate(mode), makedev(major, minor)) {
        Ok(()) => {
            fs::set_permissions(&dest, fs::Permissions::from_mode(mode))
                .map_err(|e| RootfsError::path("chmod", &dest, e))?;
            std::os::unix::fs::chown(&dest, Some(uid), Some(gid)).map_err(|e| RootfsError::path("chown", &dest, e))?;
        }
        // Something is mounted there already (a bind-mounted device from the spec): it wins.
        Err(nix::errno::Errno::EEXIST) => {}
        Err(nix::errno::Errno::EPERM) => {
            // No CAP_MKNOD here: bind the host's device instead.
            create_mount_point(&dest, false)?;
            mount(Some(path), &dest, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .map_err(|e| mount_err(format!("bind {}", path.display()), &dest, e))?;
        }
        Err(e) => return Err(RootfsError::errno("mknod", dest, e)),
    }
    Ok(())
}

fn dev_symlinks(root: &Path) -> Res<()> {
    let dev = resolve_in_root(root, Path::new("/dev")).map_err(|e| RootfsError::path("resolve", "/dev", e))?;
    for (target, name) in [
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("/proc/kcore", "core"),
        ("pts/ptmx", "ptmx"),
    ] {
        let link = dev.join(name);
        if name == "ptmx" {
            let _ = fs::remove_file(&link);
        }
        match symlink(target, &link) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(RootfsError::path("symlink", link, e)),
        }
    }
    Ok(())
}

/// Binds our terminal (fd 0, the pty slave) onto `/dev/console`. By path: the open fd belongs to a mount of the
/// daemon's namespace, which cannot be a bind source here, but its path resolves in our copy of the mounts.
fn bind_console(root: &Path) -> Res<()> {
    let console = resolve_in_root(root, Path::new("/dev/console"))
        .map_err(|source| RootfsError::Sys { op: "resolve console", source })?;
    let slave = fs::read_link("/proc/self/fd/0").map_err(|source| RootfsError::Sys { op: "terminal path", source })?;
    let _ = fs::remove_file(&console);
    create_mount_point(&console, false)?;
    mount(Some(&slave), &console, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| mount_err(format!("console {}", slave.display()), &console, e))
}

/// Makes `root` the new `/` and detaches the old one.
pub(crate) fn pivot(root: &Path) -> Res<()> {
    nix::unistd::chdir(root).map_err(|e| RootfsError::errno("chdir", root, e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| RootfsError::errno("pivot_root", root, e))?;
    // The old root is now stacked on "."; make sure nothing propagates, then drop it.
    mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)
        .map_err(|source| RootfsError::OldRoot { op: "make old root rslave", source })?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|source| RootfsError::OldRoot { op: "detach old root", source })?;
    nix::unistd::chdir("/").map_err(|e| RootfsError::errno("chdir", "/", e))?;
    Ok(())
}

/// After `pivot_root`: sysctls, masked paths, read-only paths, read-only root.
pub(crate) fn finish(spec: &Spec) -> Res<()> {
    if let Some(linux) = spec.linux() {
        if let Some(sysctl) = linux.sysctl() {
            for (k, v) in sysctl {
                let p = Path::new("/proc/sys").join(k.replace('.', "/"));
                fs::write(&p, v).map_err(|source| RootfsError::Sysctl { key: k.clone(), value: v.clone(), source })?;
            }
        }
        for p in linux.masked_paths().as_deref().unwrap_or(&[]) {
            mask_path(Path::new(p))?;
        }
        for p in linux.readonly_paths().as_deref().unwrap_or(&[]) {
            readonly_path(Path::new(p))?;
        }
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | current_flags(Path::new("/"));
        mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
            .map_err(|e| mount_err("read-only remount", Path::new("/"), e))?;
    }
    Ok(())
}

fn mask_path(p: &Path) -> Res<()> {
    let meta = match fs::metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(RootfsError::path("mask", p, e)),
    };
    let r = if meta.is_dir() {
        mount(Some("tmpfs"), p, Some("tmpfs"), MsFlags::MS_RDONLY, None::<&str>)
    } else {
        mount(Some("/dev/null"), p, None::<&str>, MsFlags::MS_BIND, None::<&str>)
    };
    r.map_err(|e| mount_err("mask", p, e))
}

fn readonly_path(p: &Path) -> Res<()> {
    match mount(Some(p), p, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>) {
        Ok(()) => {}
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(mount_err("read-only bind", p, e)),
    }
    remount_bind(p, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v1_hierarchies() {
        let info = "30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n\
                    31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n\
                    32 25 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n\
                    33 1 8:1 / / rw - ext4 /dev/vda rw\n";
        assert_eq!(
            v1_mount_points(&berth_fs::mount_table::parse(info)),
            vec![PathBuf::from("/sys/fs/cgroup/memory"), PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")]
        );
    }

    #[test]
    fn errors_keep_the_reported_wording() {
        // The daemon shows these texts to users (`failed to start container process: ...`).
        let eperm = || io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(
            mount_err("tmpfs", Path::new("/r/dev"), Errno::EPERM).to_string(),
            "mount tmpfs on /r/dev: EPERM: Operation not permitted"
        );
        assert_eq!(
            RootfsError::path("mkdir", "/r/x", eperm()).to_string(),
            "mkdir /r/x: Operation not permitted (os error 1)"
        );
        assert_eq!(
            RootfsError::errno("chdir", "/", Errno::ENOENT).to_string(),
            "chdir /: ENOENT: No such file or directory"
        );
        let missing = InRootError::NotFound { path: "/app".into() };
        assert_eq!(
            RootfsError::in_root("mkdir cwd", "/app", missing).to_string(),
            "mkdir cwd /app: /app: no such file or directory"
        );
        assert_eq!(
            RootfsError::Sys { op: "terminal path", source: eperm() }.to_string(),
            "terminal path: Operation not permitted (os error 1)"
        );
        assert_eq!(
            RootfsError::OldRoot { op: "detach old root", source: Errno::EINVAL }.to_string(),
            "detach old root: EINVAL: Invalid argument"
        );
        let sysctl = RootfsError::Sysctl { key: "net.ipv4.ip_forward".into(), value: "1".into(), source: eperm() };
        assert_eq!(sysctl.to_string(), "sysctl net.ipv4.ip_forward=1: Operation not permitted (os error 1)");
        assert_eq!(RootfsError::DeviceTypeAll { path: "/dev/x".into() }.to_string(), "device /dev/x has type 'a'");
        assert_eq!(RootfsError::NoRoot.to_string(), "spec has no root");
    }
}
