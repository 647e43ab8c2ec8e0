//! `docker cp`, `docker export` and `docker diff` helpers on a container's filesystem.
//!
//! Every user path is resolved inside `root` through [`berth_fs::in_root`]: symlinks, absolute or relative, are
//! evaluated by the kernel as if `root` were `/` (like moby's `FollowSymlinkInScope`, but without a path string
//! between the check and the use), so no path can lead outside it, even while a running container changes its
//! filesystem under the copy.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{ImageError, IoContext};
use super::layer::{self, ApplyOptions, TarOptions, TreeTar};
use berth_fs::id_shift::IdShift;
use berth_fs::in_root::{self, At, Entry, InRootError, Root};

/// Resolve `path` inside `root`, following symlinks as if `root` were `/`. The result always starts with `root`;
/// components that do not exist are appended as they are. A path string: only for trees nobody changes meanwhile
/// (a build context, a `docker load` directory, an image's root); a live container's goes through [`Root`].
pub fn resolve_in_root(root: &Path, path: &str) -> Result<PathBuf, ImageError> {
    let inside = Root::open(root)?.resolve_name(Path::new(path))?;
    Ok(root.join(inside.strip_prefix("/").unwrap_or(&inside)))
}

/// A text file of the image read as the container would see it (an absolute symlink points inside `root`, never
/// at the daemon's host); empty when it is missing, unreadable or not a regular file, as for /etc/passwd lookups.
pub fn read_in_root(root: &Path, path: &str) -> String {
    let Ok(mut file) = Root::open(root).and_then(|tree| tree.open_file(Path::new(path))) else {
        return String::new();
    };
    let mut text = String::new();
    match file.read_to_string(&mut text) {
        Ok(_) => text,
        Err(_) => String::new(),
    }
}

/// The entry a `docker cp` path names (moby's `ResolvePath`): the last component is not followed (a symlink is
/// the link itself) unless the path ends in `/` or `/.`, which ask for what it points to.
fn lookup(tree: &Root, path: &str) -> Result<Entry, ImageError> {
    let found = if path.ends_with('/') || path.ends_with("/.") {
        tree.resolve_dir(Path::new(path)).map(|dir| Entry::new(dir, "."))
    } else {
        tree.entry(Path::new(path))
    };
    found.map_err(|e| match e {
        InRootError::NotFound { .. } | InRootError::NotADirectory { .. } => {
            ImageError::PathNotFound { path: path.to_string() }
        }
        other => other.into(),
    })
}

/// Lexically clean `path` as an absolute container path: `/a/../b/./c` → `/b/c`; never above `/`.
pub fn clean_abs(path: &str) -> String {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    let mut s = String::from("/");
    s.push_str(&out.iter().map(|n| n.to_string_lossy()).collect::<Vec<_>>().join("/"));
    s
}

/// What `HEAD /containers/{id}/archive` reports in `X-Docker-Container-Path-Stat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go `os.FileMode` bits: permission bits plus type bits (dir `1<<31`, symlink `1<<27`, ...).
    pub mode: u32,
    /// RFC 3339.
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go's `os.FileMode` type bits.
mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

fn go_file_mode(m: &fs::Metadata) -> u32 {
    let ft = m.file_type();
    let raw = m.mode();
    let mut mode = raw & 0o777;
    if ft.is_dir() {
        mode |= go_mode::DIR;
    } else if ft.is_symlink() {
        mode |= go_mode::SYMLINK;
    } else if ft.is_block_device() {
        mode |= go_mode::DEVICE;
    } else if ft.is_char_device() {
        mode |= go_mode::DEVICE | go_mode::CHAR_DEVICE;
    } else if ft.is_fifo() {
        mode |= go_mode::NAMED_PIPE;
    } else if ft.is_socket() {
        mode |= go_mode::SOCKET;
    }
    if raw & 0o4000 != 0 {
        mode |= go_mode::SETUID;
    }
    if raw & 0o2000 != 0 {
        mode |= go_mode::SETGID;
    }
    if raw & 0o1000 != 0 {
        mode |= go_mode::STICKY;
    }
    mode
}

/// The basename Docker reports for a container path (`/` for the root). A path ending in `/.` (copy what is in
/// the directory) is `.`, as Go's `filepath.Base` of moby's trailing-dot-preserving path: the CLI renames entries
/// from that base to its destination.
fn base_name(path: &str) -> String {
    if path.ends_with("/.") && clean_abs(path) != "/" {
        return ".".to_string();
    }
    let clean = clean_abs(path);
    match clean.rsplit('/').next() {
        Some("") | None => "/".to_string(),
        Some(b) => b.to_string(),
    }
}

/// Stat a container path (the last component is not followed; a symlink reports its resolved target).
pub fn stat(root: &Path, path: &str) -> Result<PathStat, ImageError> {
    let tree = Root::open(root)?;
    let entry = lookup(&tree, path)?;
    let meta = match entry.at().metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => {
            return Err(ImageError::PathNotFound { path: path.to_string() })
        }
        Err(e) => return Err(ImageError::io(path, e)),
    };
    let link_target = if meta.file_type().is_symlink() {
        tree.resolve_name(Path::new(path))?.to_string_lossy().into_owned()
    } else {
        String::new()
    };
    Ok(PathStat {
        name: base_name(path),
        size: meta.len() as i64,
        mode: go_file_mode(&meta),
        mtime: rfc3339(meta.mtime(), meta.mtime_nsec()),
        link_target,
    })
}

pub(crate) fn rfc3339(secs: i64, nanos: i64) -> String {
    chrono::DateTime::from_timestamp(secs, nanos.clamp(0, 999_999_999) as u32)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// `docker cp CONTAINER:path -`: a tar whose top entry is the basename of `path` (a symlink is archived as itself).
/// With `ids`, owners are the ids a remapped container sees.
pub fn write_tar(root: &Path, path: &str, out: impl Write, ids: Option<IdShift>) -> Result<(), ImageError> {
    let name = match base_name(path).as_str() {
        "/" => ".".to_string(),
        b => b.to_string(),
    };
    write_tar_as(root, path, &name, out, ids)
}

/// [`write_tar`] with the entry named `name` (a mount point's name in the container, not its source's).
pub fn write_tar_as(
    root: &Path,
    path: &str,
    name: &str,
    out: impl Write,
    ids: Option<IdShift>,
) -> Result<(), ImageError> {
    let tree = Root::open(root)?;
    let entry = lookup(&tree, path)?;
    if entry.at().metadata().is_err() {
        return Err(ImageError::PathNotFound { path: path.to_string() });
    }
    let mut t = TreeTar::new(out, TarOptions { ids, ..TarOptions::default() });
    t.append(entry.at(), Path::new(name))?;
    t.finish().ctx(path)?.flush().ctx(path)?;
    Ok(())
}

/// `docker cp - CONTAINER:dest`: extract `tar` (plain or gzip) into `dest_dir_in_container`, which must exist
/// and be a directory (symlinks followed inside `root`). Every entry is made inside `root`; nothing is written
/// outside it. With `ids`, the entries' owners are a remapped container's ids, written as the host's.
pub fn extract_tar(
    root: &Path,
    dest_dir_in_container: &str,
    tar: impl Read,
    no_overwrite_dir_non_dir: bool,
    max_bytes: Option<u64>,
    ids: Option<IdShift>,
) -> Result<(), ImageError> {
    let dest = Path::new(dest_dir_in_container);
    match Root::open(root)?.resolve_dir(dest) {
        Ok(_) => {}
        Err(InRootError::NotADirectory { .. }) => {
            return Err(ImageError::NotADirectory { path: dest_dir_in_container.to_string() })
        }
        Err(InRootError::NotFound { .. }) => {
            return Err(ImageError::PathNotFound { path: dest_dir_in_container.to_string() })
        }
        Err(e) => return Err(e.into()),
    }
    let opts = ApplyOptions { no_overwrite_dir_non_dir, max_bytes, ids, ..ApplyOptions::default() };
    layer::apply_tar(root, dest, berth_fs::decompress::decompressed(tar).ctx(dest)?, &opts)
}

/// Unpacks a build context into `dir`, refusing it from the headers on as soon as its entries add up to more than
/// `max_bytes`. `tar` is already decoded: the caller looked at its first bytes to tell an archive from a bare
/// Dockerfile, and sniffing again would take a first entry named `BZh...` for bzip2.
pub fn extract_build_context(dir: &Path, tar: impl Read, max_bytes: Option<u64>) -> Result<(), ImageError> {
    let opts = ApplyOptions { max_bytes, ..ApplyOptions::default() };
    layer::apply_tar(dir, Path::new(""), tar, &opts)
}

/// Unpacks a tar (plain or gzip) into `dir`, a directory of the daemon's host rather than a container's
/// filesystem: entries stay inside it, and device nodes, setuid/setgid bits and xattrs do not come along.
pub fn extract_tar_on_host(dir: &Path, tar: impl Read) -> Result<(), ImageError> {
    let opts = ApplyOptions { host_tree: true, ..ApplyOptions::default() };
    layer::apply_tar(dir, Path::new(""), berth_fs::decompress::decompressed(tar).ctx(dir)?, &opts)
}

/// `docker export`: the whole filesystem under `rootfs` as a tar. Mount points below `rootfs` (another device)
/// are archived as empty directories. With `ids`, owners are the ids a remapped container sees.
pub fn export(rootfs: &Path, out: impl Write, ids: Option<IdShift>) -> Result<(), ImageError> {
    let tree = Root::open(rootfs)?;
    let mut t = TreeTar::new(out, TarOptions { one_file_system: true, ids, ..TarOptions::default() });
    t.set_root_dev(tree.as_fd())?;
    t.append_children(tree.as_fd())?;
    t.finish().ctx(rootfs)?.flush().ctx(rootfs)?;
    Ok(())
}

/// One line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    #[serde(rename = "Path")]
    pub path: String,
    /// 0 modified, 1 added, 2 deleted.
    #[serde(rename = "Kind")]
    pub kind: u8,
}

pub const CHANGE_MODIFIED: u8 = 0;
pub const CHANGE_ADDED: u8 = 1;
pub const CHANGE_DELETED: u8 = 2;

/// `docker diff` from an overlay upper dir. `lower_dirs` are the image's layers, LOWEST first (as
/// `ImageStore::layer_dirs` returns them). Parents of changes are reported as modified; sorted by path.
pub fn changes(upper_dir: &Path, lower_dirs: &[PathBuf]) -> Vec<Change> {
    let mut out: BTreeMap<String, u8> = BTreeMap::new();
    // A running container changes its upper dir under the walk: held by descriptor, like cp.
    match Root::open(upper_dir) {
        Ok(upper) => walk_changes(upper.as_fd(), Path::new(""), lower_dirs, &mut out),
        Err(e) => tracing::warn!(dir = %upper_dir.display(), error = %e, "cannot open upper dir for diff"),
    }
    // Parents of every change are modified (Docker records them even when their mtime did not change).
    let paths: Vec<String> = out.keys().cloned().collect();
    for p in paths {
        let mut parent = Path::new(&p).parent();
        while let Some(dir) = parent {
            let d = dir.to_string_lossy().into_owned();
            if d == "/" || d.is_empty() {
                break;
            }
            out.entry(d).or_insert(CHANGE_MODIFIED);
            parent = dir.parent();
        }
    }
    out.into_iter().map(|(path, kind)| Change { path, kind }).collect()
}

fn walk_changes(dir: BorrowedFd<'_>, rel: &Path, lowers: &[PathBuf], out: &mut BTreeMap<String, u8>) {
    let names = match in_root::read_dir_names(dir) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(dir = %rel.display(), error = %e, "cannot read upper dir for diff");
            return;
        }
    };
    for name in names {
        let child_rel = rel.join(&name);
        let child = At { dir, name: &name };
        let Ok(meta) = child.metadata() else {
            continue;
        };
        let path = format!("/{}", child_rel.to_string_lossy());
        if layer::is_overlay_whiteout(&meta) {
            out.insert(path, CHANGE_DELETED);
            continue;
        }
        let in_lower = exists_in_lowers(lowers, &child_rel);
        out.insert(path, if in_lower { CHANGE_MODIFIED } else { CHANGE_ADDED });
        if meta.is_dir() {
            // Not followed if it became a symlink since.
            if let Ok(sub) = child.open_dir() {
                walk_changes(sub.as_fd(), &child_rel, lowers, out);
            }
        }
    }
}

/// Is `rel` visible in the union of `lowers` (lowest first)? Honors whiteouts and opaque dirs in the lowers.
fn exists_in_lowers(lowers: &[PathBuf], rel: &Path) -> bool {
    for lower in lowers.iter().rev() {
        match fs::symlink_metadata(lower.join(rel)) {
            Ok(m) => return !layer::is_overlay_whiteout(&m),
            Err(_) => {
                // Hidden below if an ancestor in this layer is a whiteout, opaque, or not a directory.
                let mut anc = rel.parent();
                while let Some(a) = anc {
                    if a.as_os_str().is_empty() {
                        break;
                    }
                    let p = lower.join(a);
                    if let Ok(m) = fs::symlink_metadata(&p) {
                        if !m.is_dir() || layer::is_opaque_dir(&p) {
                            return false;
                        }
                    }
                    anc = a.parent();
                }
            }
        }
    }
    false
}

/// Bytes of a path for error messages.
pub(crate) fn display_bytes(p: &Path) -> String {
    String::from_utf8_lossy(p.as_os_str().as_bytes()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn names(root: &Path, path: &str) -> Vec<(String, tar::EntryType)> {
        let mut out = Vec::new();
        write_tar(root, path, &mut out, None).unwrap();
        let mut archive = tar::Archive::new(out.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().to_string_lossy().into_owned(), e.header().entry_type())
            })
            .collect()
    }

    #[test]
    fn cp_paths_follow_docker() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fs::create_dir_all(root.join("data/sub")).unwrap();
        fs::write(root.join("data/sub/f"), "hi").unwrap();
        symlink("/data/sub", root.join("lnk")).unwrap();
        // The link itself, unless the path ends in / or /.
        assert_eq!(names(root, "/lnk"), [("lnk".to_string(), tar::EntryType::Symlink)]);
        assert_eq!(names(root, "/lnk/")[1], ("lnk/f".to_string(), tar::EntryType::Regular));
        let contents: Vec<String> = names(root, "/data/.").into_iter().map(|(n, _)| n).collect();
        assert_eq!(contents, ["./", "./sub/", "./sub/f"]);
        let stat = stat(root, "/lnk").unwrap();
        assert_eq!((stat.name.as_str(), stat.link_target.as_str()), ("lnk", "/data/sub"));
        assert!(matches!(write_tar(root, "/nope", io::sink(), None), Err(ImageError::PathNotFound { .. })));
        assert!(matches!(
            extract_tar(root, "/nope", io::empty(), false, None, None),
            Err(ImageError::PathNotFound { .. })
        ));
        assert!(matches!(
            extract_tar(root, "/data/sub/f", io::empty(), false, None, None),
            Err(ImageError::NotADirectory { .. })
        ));
        assert_eq!(read_in_root(root, "/lnk/f"), "hi");
    }
}
