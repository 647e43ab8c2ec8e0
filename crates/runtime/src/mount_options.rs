//! fstab-style mount options (as found in an OCI spec) to `mount(2)` flags and data.

use nix::mount::MsFlags;

/// A parsed option list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags for the `mount(2)` call.
    pub flags: MsFlags,
    /// Propagation changes to apply after mounting (`rprivate`, `shared`, ...).
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific data (`size=64m,mode=755`).
    pub data: String,
}

impl MountOptions {
    /// Whether this is a bind mount.
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// Whether it must end up read-only.
    #[cfg(test)]
    pub fn is_readonly(&self) -> bool {
        self.flags.contains(MsFlags::MS_RDONLY)
    }
}

/// Parses options the way runc does: known flags set or clear bits, propagation names are collected, anything
/// else is handed to the filesystem as data.
pub(crate) fn parse(options: &[String]) -> MountOptions {
    let mut out = MountOptions { flags: MsFlags::empty(), propagation: Vec::new(), data: String::new() };
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        let opt = opt.as_str();
        if let Some((clear, flag)) = flag_of(opt) {
            if clear {
                out.flags.remove(flag);
            } else {
                out.flags.insert(flag);
            }
        } else if let Some(p) = propagation_of(opt) {
            out.propagation.push(p);
        } else if IGNORED.contains(&opt) {
            // Options some tools put in specs that are not kernel options.
        } else {
            data.push(opt);
        }
    }
    out.data = data.join(",");
    out
}

const IGNORED: &[&str] = &["tmpcopyup", "notmpcopyup", "idmap", "ridmap", "private-rbind"];

fn flag_of(opt: &str) -> Option<(bool, MsFlags)> {
    let r = match opt {
        "async" => (true, MsFlags::MS_SYNCHRONOUS),
        "atime" => (true, MsFlags::MS_NOATIME),
        "bind" => (false, MsFlags::MS_BIND),
        "defaults" => (false, MsFlags::empty()),
        "dev" => (true, MsFlags::MS_NODEV),
        "diratime" => (true, MsFlags::MS_NODIRATIME),
        "dirsync" => (false, MsFlags::MS_DIRSYNC),
        "exec" => (true, MsFlags::MS_NOEXEC),
        "mand" => (false, MsFlags::MS_MANDLOCK),
        "noatime" => (false, MsFlags::MS_NOATIME),
        "nodev" => (false, MsFlags::MS_NODEV),
        "nodiratime" => (false, MsFlags::MS_NODIRATIME),
        "noexec" => (false, MsFlags::MS_NOEXEC),
        "nomand" => (true, MsFlags::MS_MANDLOCK),
        "norelatime" => (true, MsFlags::MS_RELATIME),
        "nostrictatime" => (true, MsFlags::MS_STRICTATIME),
        "nosuid" => (false, MsFlags::MS_NOSUID),
        "rbind" => (false, MsFlags::MS_BIND | MsFlags::MS_REC),
        "relatime" => (false, MsFlags::MS_RELATIME),
        "remount" => (false, MsFlags::MS_REMOUNT),
        "ro" => (false, MsFlags::MS_RDONLY),
        "rw" => (true, MsFlags::MS_RDONLY),
        "strictatime" => (false, MsFlags::MS_STRICTATIME),
        "suid" => (true, MsFlags::MS_NOSUID),
        "sync" => (false, MsFlags::MS_SYNCHRONOUS),
        _ => return None,
    };
    Some(r)
}

fn propagation_of(opt: &str) -> Option<MsFlags> {
    let p = match opt {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    };
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tmpfs_dev_options() {
        let o = parse(&opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]));
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.is_bind());
    }

    #[test]
    fn devpts_options() {
        let o = parse(&opts(&["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]));
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    }

    #[test]
    fn readonly_rbind() {
        let o = parse(&opts(&["rbind", "ro", "rprivate"]));
        assert!(o.is_bind());
        assert!(o.is_readonly());
        assert!(o.flags.contains(MsFlags::MS_REC));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert!(o.data.is_empty());
    }

    #[test]
    fn later_options_win() {
        let o = parse(&opts(&["ro", "rw", "nodev", "dev", "exec"]));
        assert!(o.flags.is_empty());
    }
}
