//! The bytes a directory tree holds, as dockerd's `directory.Size` counts them (`docker system df`, the space a
//! prune reclaims): the apparent size of every file that is not a directory, each hard-linked inode once.
//!
//! The tree may be a running container's upper directory, so the walk goes by descriptor: each directory is opened
//! relative to its parent's with `O_NOFOLLOW`, and a directory swapped for a symlink meanwhile is skipped rather
//! than followed onto the host (the same race as CVE-2018-15664).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};

/// The size of the tree at `path`; 0 when it does not exist. Entries that vanish during the walk count as 0.
pub fn tree_size(path: &Path) -> io::Result<u64> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let root = match nix::fcntl::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(0),
        Err(errno) => return Err(errno.into()),
    };
    let mut seen = HashSet::new();
    let mut total = 0u64;
    let mut pending = vec![root];
    while let Some(dir) = pending.pop() {
        for name in super::in_root::read_dir_names(dir.as_fd())? {
            let Ok(stat) = fstatat(dir.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else { continue };
            if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
                if let Some(child) = open_child(dir.as_fd(), &name) {
                    pending.push(child);
                }
                continue;
            }
            if stat.st_size > 0 && (stat.st_nlink <= 1 || seen.insert((stat.st_dev, stat.st_ino))) {
                total = total.saturating_add(stat.st_size as u64);
            }
        }
    }
    Ok(total)
}

/// A subdirectory opened without following a symlink; None when it is gone or no longer a directory.
fn open_child(dir: BorrowedFd<'_>, name: &OsStr) -> Option<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(dir, name, flags, Mode::empty()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_once_and_never_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/one"), vec![0u8; 1000]).unwrap();
        std::fs::write(root.join("a/b/two"), vec![0u8; 24]).unwrap();
        std::fs::hard_link(root.join("a/one"), root.join("again")).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("big"), vec![0u8; 5000]).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        let link_len = outside.path().as_os_str().len() as u64;
        assert_eq!(tree_size(root).unwrap(), 1000 + 24 + link_len);
        assert_eq!(tree_size(&root.join("missing")).unwrap(), 0);
    }
}
