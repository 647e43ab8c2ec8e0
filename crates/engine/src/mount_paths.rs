//! Where `docker cp` finds a container path that is in a volume or a bind mount: at the mount's source on the
//! host. A running container's mounts live in its own mount namespace, so the rootfs the daemon sees has only the
//! empty mount point there. The lookup is lexical: a symlink in the rootfs that leads into a mount is not followed.

use std::path::{Path, PathBuf};

use super::container::{Container, MountRecord};
use berth_image::archive::clean_abs;

/// A container path, located for an archive call: the tree to resolve it in and the path inside that tree.
pub(crate) struct Located {
    pub root: PathBuf,
    pub path: String,
    /// The name the entry has in the container, where the host's differs (a mount point, a bound file).
    pub name: Option<String>,
}

/// The mount that holds `path` (the deepest whose destination is it or a parent of it), with the rest of the path
/// below the mount point ("/" for the mount point itself).
pub(crate) fn covering_mount<'a>(mounts: &'a [MountRecord], path: &str) -> Option<(&'a MountRecord, String)> {
    let path = clean_abs(path);
    mounts
        .iter()
        .filter_map(|mount| {
            let destination = clean_abs(&mount.destination);
            let rest = if destination == "/" {
                path.clone()
            } else if path == destination {
                "/".to_string()
            } else {
                path.strip_prefix(&destination).filter(|rest| rest.starts_with('/'))?.to_string()
            };
            Some((destination.len(), mount, rest))
        })
        .max_by_key(|(depth, _, _)| *depth)
        .map(|(_, mount, rest)| (mount, rest))
}

/// `path` in `container`, whose rootfs is mounted at `rootfs`, with its mounts' sources as the host has them.
pub(crate) fn locate(container: &Container, mounts: &[MountRecord], rootfs: &Path, path: &str) -> Located {
    let in_rootfs = || Located { root: rootfs.to_path_buf(), path: path.to_string(), name: None };
    let Some((mount, rest)) = covering_mount(mounts, path) else { return in_rootfs() };
    let source =
        if mount.source.starts_with('/') { PathBuf::from(&mount.source) } else { container.volume_data(&mount.source) };
    let mount_name = || Path::new(&clean_abs(&mount.destination)).file_name().map(|n| n.to_string_lossy().into_owned());
    if source.is_dir() {
        let name = (rest == "/").then(mount_name).flatten();
        return Located { root: source, path: rest, name };
    }
    // A bound file: the tree is its directory on the host, the entry keeps the container's name for it.
    match (source.parent(), source.file_name()) {
        (Some(parent), Some(file)) if rest == "/" => {
            Located { root: parent.to_path_buf(), path: format!("/{}", file.to_string_lossy()), name: mount_name() }
        }
        _ => in_rootfs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(destination: &str) -> MountRecord {
        MountRecord { source: "v".into(), destination: destination.into(), read_only: false, anonymous: false }
    }

    #[test]
    fn the_deepest_mount_holding_the_path_is_found() {
        let mounts = [mount("/data"), mount("/data/inner/"), mount("/datafile")];
        let found = |path| covering_mount(&mounts, path).map(|(m, rest)| (m.destination.clone(), rest));
        assert_eq!(found("/data/a.txt"), Some(("/data".into(), "/a.txt".into())));
        assert_eq!(found("/data/inner/x/../y"), Some(("/data/inner/".into(), "/y".into())));
        assert_eq!(found("/data"), Some(("/data".into(), "/".into())));
        assert_eq!(found("/datafile"), Some(("/datafile".into(), "/".into())));
        assert_eq!(found("/dat"), None);
        assert_eq!(found("/etc/hosts"), None);
        assert_eq!(found("/data/../etc"), None, "cleaned before it is matched");
    }
}
