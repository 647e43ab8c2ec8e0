//! What `berth init` does to a container's filesystem, decided from the spec alone: the root's propagation,
//! whether Berth makes `/dev`, each mount classified with its flags, the console, the working directory. Pure, so
//! the decisions are tested without root; `rootfs` carries the plan out with the syscalls.

use std::path::Path;

use nix::mount::MsFlags;
use oci_spec::runtime::{Mount, Spec};

use super::mount_options::{self, MountOptions};
use super::rootfs::RootfsError;

#[derive(Debug, PartialEq)]
pub(crate) struct RootfsPlan<'a> {
    /// How the root is remounted first (`linux.rootfsPropagation`, private unless the spec says otherwise).
    pub propagation: MsFlags,
    /// The spec mounts nothing at `/dev`: Berth mounts its own tmpfs there (nosuid, not nodev, as Docker).
    pub dev_tmpfs: bool,
    /// Device nodes and the /dev symlinks are made: not into a bind of the host's /dev (`-v /dev:/dev`).
    pub make_devices: bool,
    /// The pty becomes /dev/console (a tty container whose /dev is its own).
    pub console: bool,
    pub mounts: Vec<MountStep<'a>>,
    /// Made if missing, inside the root.
    pub cwd: Option<&'a Path>,
}

#[derive(Debug, PartialEq)]
pub(crate) enum MountStep<'a> {
    /// `/sys/fs/cgroup`: cgroup2, or a tmpfs with the container's v1 directories bound in.
    Cgroup { destination: &'a Path, options: MountOptions },
    /// A bind mount, then a remount for the flags a bind cannot take at once (ro, nosuid, ...).
    Bind { source: &'a Path, destination: &'a Path, recursive: bool, remount: MsFlags, propagation: Vec<MsFlags> },
    /// A filesystem of its own (proc, tmpfs, devpts, mqueue, sysfs...).
    Filesystem {
        typ: &'a str,
        source: &'a Path,
        destination: &'a Path,
        flags: MsFlags,
        data: Option<String>,
        propagation: Vec<MsFlags>,
    },
}

impl MountStep<'_> {
    pub fn destination(&self) -> &Path {
        match self {
            MountStep::Cgroup { destination, .. }
            | MountStep::Bind { destination, .. }
            | MountStep::Filesystem { destination, .. } => destination,
        }
    }
}

/// The plan for `spec`; `tty`: the process gets a pty. A spec the kernel could not carry out (a relative
/// destination, a bind without a source) is refused here, before anything is mounted.
pub(crate) fn plan(spec: &Spec, tty: bool) -> Result<RootfsPlan<'_>, RootfsError> {
    let propagation = match spec.linux().as_ref().and_then(|l| l.rootfs_propagation().as_deref()) {
        Some("shared") | Some("rshared") => MsFlags::MS_SHARED,
        Some("slave") | Some("rslave") => MsFlags::MS_SLAVE,
        Some("unbindable") | Some("runbindable") => MsFlags::MS_UNBINDABLE,
        _ => MsFlags::MS_PRIVATE,
    };
    let spec_mounts: &[Mount] = spec.mounts().as_deref().unwrap_or(&[]);
    let mounts = spec_mounts.iter().map(step).collect::<Result<Vec<_>, _>>()?;
    let dev = mounts.iter().find(|m| m.destination() == Path::new("/dev"));
    // `-v /dev:/dev`: the host's /dev is in there; never mknod or symlink into it.
    let dev_is_bind = matches!(dev, Some(MountStep::Bind { .. }));
    Ok(RootfsPlan {
        propagation,
        dev_tmpfs: dev.is_none(),
        make_devices: !dev_is_bind,
        console: tty && !dev_is_bind,
        mounts,
        cwd: spec.process().as_ref().map(|p| p.cwd().as_path()),
    })
}

fn step(m: &Mount) -> Result<MountStep<'_>, RootfsError> {
    let typ = m.typ().as_deref().unwrap_or("none");
    let destination = m.destination().as_path();
    if !destination.is_absolute() {
        return Err(RootfsError::DestinationNotAbsolute { path: destination.to_path_buf() });
    }
    let options = mount_options::parse(m.options().as_deref().unwrap_or(&[]));
    if matches!(typ, "cgroup" | "cgroup2") {
        return Ok(MountStep::Cgroup { destination, options });
    }
    if options.is_bind() || typ == "bind" {
        let source = m
            .source()
            .as_deref()
            .ok_or_else(|| RootfsError::BindWithoutSource { destination: destination.to_path_buf() })?;
        return Ok(MountStep::Bind {
            source,
            destination,
            recursive: options.flags.contains(MsFlags::MS_REC),
            remount: options.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT),
            propagation: options.propagation,
        });
    }
    Ok(MountStep::Filesystem {
        typ,
        source: m.source().as_deref().unwrap_or(Path::new(typ)),
        destination,
        flags: options.flags,
        data: (!options.data.is_empty()).then_some(options.data),
        propagation: options.propagation,
    })
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{LinuxBuilder, MountBuilder, ProcessBuilder, SpecBuilder};

    use super::*;

    fn mount(destination: &str, typ: &str, source: Option<&str>, options: &[&str]) -> Mount {
        let mut builder = MountBuilder::default()
            .destination(destination)
            .typ(typ)
            .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>());
        if let Some(source) = source {
            builder = builder.source(source);
        }
        builder.build().expect("a mount")
    }

    fn spec(mounts: Vec<Mount>, propagation: Option<&str>) -> Spec {
        let mut linux = LinuxBuilder::default();
        if let Some(propagation) = propagation {
            linux = linux.rootfs_propagation(propagation);
        }
        SpecBuilder::default()
            .mounts(mounts)
            .linux(linux.build().expect("linux"))
            .process(ProcessBuilder::default().cwd("/work/dir").build().expect("a process"))
            .build()
            .expect("a spec")
    }

    #[test]
    fn a_docker_like_spec_gets_its_own_dev_and_console() {
        let spec = spec(
            vec![
                mount("/proc", "proc", Some("proc"), &["nosuid", "noexec", "nodev"]),
                mount("/dev/pts", "devpts", Some("devpts"), &["nosuid", "noexec", "newinstance", "mode=0620"]),
                mount("/sys/fs/cgroup", "cgroup", Some("cgroup"), &["ro", "nosuid"]),
                mount("/data", "bind", Some("/host/data"), &["rbind", "ro", "nosuid"]),
            ],
            None,
        );
        let plan = plan(&spec, true).expect("a plan");
        assert_eq!(plan.propagation, MsFlags::MS_PRIVATE);
        assert!(plan.dev_tmpfs && plan.make_devices && plan.console);
        assert_eq!(plan.cwd, Some(Path::new("/work/dir")));
        assert_eq!(
            plan.mounts[0],
            MountStep::Filesystem {
                typ: "proc",
                source: Path::new("proc"),
                destination: Path::new("/proc"),
                flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
                data: None,
                propagation: vec![],
            }
        );
        let MountStep::Filesystem { data, .. } = &plan.mounts[1] else { panic!("devpts: {:?}", plan.mounts[1]) };
        assert_eq!(data.as_deref(), Some("newinstance,mode=0620"));
        assert!(matches!(plan.mounts[2], MountStep::Cgroup { .. }));
        assert_eq!(
            plan.mounts[3],
            MountStep::Bind {
                source: Path::new("/host/data"),
                destination: Path::new("/data"),
                recursive: true,
                remount: MsFlags::MS_RDONLY | MsFlags::MS_NOSUID,
                propagation: vec![],
            }
        );
    }

    #[test]
    fn the_hosts_dev_bound_in_gets_no_nodes_and_no_console() {
        let spec = spec(vec![mount("/dev", "bind", Some("/dev"), &["rbind", "rprivate"])], Some("rslave"));
        let plan = plan(&spec, true).expect("a plan");
        assert_eq!(plan.propagation, MsFlags::MS_SLAVE);
        assert!(!plan.dev_tmpfs && !plan.make_devices && !plan.console);
        let MountStep::Bind { propagation, remount, .. } = &plan.mounts[0] else { panic!("{:?}", plan.mounts[0]) };
        assert_eq!(propagation, &vec![MsFlags::MS_REC | MsFlags::MS_PRIVATE]);
        assert!(remount.is_empty());
    }

    #[test]
    fn a_spec_tmpfs_on_dev_still_gets_nodes() {
        let spec = spec(vec![mount("/dev", "tmpfs", Some("tmpfs"), &["nosuid", "mode=755"])], None);
        let plan = plan(&spec, false).expect("a plan");
        assert!(!plan.dev_tmpfs && plan.make_devices && !plan.console);
    }

    #[test]
    fn impossible_mounts_are_refused_before_anything_is_mounted() {
        let relative = spec(vec![mount("data", "tmpfs", None, &[])], None);
        assert_eq!(plan(&relative, false).unwrap_err().to_string(), "mount destination data is not absolute");
        let sourceless = spec(vec![mount("/data", "bind", None, &["rbind"])], None);
        assert!(matches!(plan(&sourceless, false), Err(RootfsError::BindWithoutSource { .. })));
    }
}
