//! Which namespaces `berth init` creates and which it joins, and what a new one asks of it afterwards (hostname,
//! loopback), decided from the spec alone so every rule is tested without root.

use std::path::Path;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// A namespace list `berth init` cannot carry out. The text reaches the daemon as the start error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum NamespaceError {
    #[error("joining a user namespace ({}) is not supported", path.display())]
    JoinUser { path: std::path::PathBuf },
    #[error("joining a mount namespace ({}) is not supported", path.display())]
    JoinMount { path: std::path::PathBuf },
    #[error("the spec must ask for a new mount namespace")]
    NoMountNamespace,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NamespacePlan<'a> {
    /// Created by one `unshare` after the joins (always a mount namespace).
    pub unshare: CloneFlags,
    /// A user namespace of the container's own, entered last (`userns.rs`), not in `unshare`.
    pub new_user: bool,
    /// Joined with `setns`, in the spec's order (`--network container:x`, a pinned network namespace).
    pub join: Vec<(&'a Path, CloneFlags)>,
    /// Set once in the new UTS namespace; never in the host's.
    pub hostname: Option<&'a str>,
    pub domainname: Option<&'a str>,
    /// A new network namespace starts with `lo` down.
    pub loopback: bool,
}

pub(crate) fn plan(spec: &Spec) -> Result<NamespacePlan<'_>, NamespaceError> {
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_deref()).unwrap_or(&[]);
    let mut unshare = CloneFlags::empty();
    let mut join = Vec::new();
    let mut new_user = false;
    for ns in namespaces {
        match ns.path() {
            Some(path) if ns.typ() == LinuxNamespaceType::User => {
                return Err(NamespaceError::JoinUser { path: path.clone() })
            }
            None if ns.typ() == LinuxNamespaceType::User => new_user = true,
            Some(path) if ns.typ() == LinuxNamespaceType::Mount => {
                return Err(NamespaceError::JoinMount { path: path.clone() })
            }
            Some(path) => join.push((path.as_path(), flag(ns.typ()))),
            None => unshare |= flag(ns.typ()),
        }
    }
    if !unshare.contains(CloneFlags::CLONE_NEWNS) {
        return Err(NamespaceError::NoMountNamespace);
    }
    let uts = unshare.contains(CloneFlags::CLONE_NEWUTS);
    Ok(NamespacePlan {
        unshare,
        new_user,
        join,
        hostname: set_in_new_uts(uts, spec.hostname()),
        domainname: set_in_new_uts(uts, spec.domainname()),
        loopback: unshare.contains(CloneFlags::CLONE_NEWNET),
    })
}

/// A name to set: only in a UTS namespace of the container's own, and only when it says something.
fn set_in_new_uts(uts: bool, name: &Option<String>) -> Option<&str> {
    name.as_deref().filter(|name| uts && !name.is_empty())
}

fn flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME is not in nix's CloneFlags; 0x80 is its value.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{LinuxBuilder, LinuxNamespace, LinuxNamespaceBuilder, SpecBuilder};

    use super::*;

    fn ns(typ: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let builder = LinuxNamespaceBuilder::default().typ(typ);
        match path {
            Some(path) => builder.path(path).build().expect("a namespace"),
            None => builder.build().expect("a namespace"),
        }
    }

    fn spec(namespaces: Vec<LinuxNamespace>, hostname: &str) -> Spec {
        SpecBuilder::default()
            .hostname(hostname)
            .linux(LinuxBuilder::default().namespaces(namespaces).build().expect("linux"))
            .build()
            .expect("a spec")
    }

    #[test]
    fn a_bridged_container_creates_all_but_its_pinned_network() {
        use LinuxNamespaceType::*;
        let spec = spec(
            vec![
                ns(Pid, None),
                ns(Network, Some("/var/lib/berth/netns/abc")),
                ns(Ipc, None),
                ns(Uts, None),
                ns(Mount, None),
            ],
            "abc123",
        );
        let plan = plan(&spec).expect("a plan");
        assert_eq!(
            plan.unshare,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWNS
        );
        assert_eq!(plan.join, vec![(Path::new("/var/lib/berth/netns/abc"), CloneFlags::CLONE_NEWNET)]);
        assert_eq!(plan.hostname, Some("abc123"));
        assert!(!plan.loopback, "a joined network namespace is the network module's to configure");
    }

    #[test]
    fn network_none_gets_loopback_and_host_uts_keeps_the_hostname() {
        use LinuxNamespaceType::*;
        let none = spec(vec![ns(Network, None), ns(Mount, None), ns(Uts, None)], "box");
        assert!(plan(&none).expect("a plan").loopback);
        let host_uts = spec(vec![ns(Mount, None)], "box");
        assert_eq!(plan(&host_uts).expect("a plan").hostname, None, "never set the host's hostname");
        let empty = spec(vec![ns(Mount, None), ns(Uts, None)], "");
        assert_eq!(plan(&empty).expect("a plan").hostname, None);
    }

    #[test]
    fn what_init_cannot_do_is_refused_with_its_reason() {
        use LinuxNamespaceType::*;
        let remapped = spec(vec![ns(User, None), ns(Mount, None)], "");
        let remapped = plan(&remapped).expect("a plan");
        assert!(remapped.new_user);
        assert_eq!(remapped.unshare, CloneFlags::CLONE_NEWNS, "the user namespace comes last, not with the others");
        assert_eq!(
            plan(&spec(vec![ns(User, Some("/proc/1/ns/user")), ns(Mount, None)], "")).unwrap_err().to_string(),
            "joining a user namespace (/proc/1/ns/user) is not supported"
        );
        assert_eq!(
            plan(&spec(vec![ns(Mount, Some("/proc/1/ns/mnt"))], "")).unwrap_err().to_string(),
            "joining a mount namespace (/proc/1/ns/mnt) is not supported"
        );
        assert_eq!(plan(&spec(vec![ns(Pid, None)], "")), Err(NamespaceError::NoMountNamespace));
    }
}
