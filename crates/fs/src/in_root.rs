//! Paths inside a root directory, resolved by the kernel so that no step can leave it.
//!
//! A container's merged directory is live: a path string checked once and used again is resolved anew through
//! whatever the container has made of it meanwhile, so a directory swapped for a symlink between the check and the
//! open sends the daemon onto its own host (docker's CVE-2018-15664 for `docker cp`, runc's CVE-2021-30465 for
//! mount destinations). [`Root`] holds an `O_PATH` descriptor of the root, and every lookup is one
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` from it: symlinks, absolute or relative, and `..` are
//! evaluated by the kernel as if the root were `/`, and `/proc/<pid>/fd`-style magic links are refused. Every
//! change is a `*at` call on the last component relative to its parent's descriptor ([`At`]), never following a
//! symlink there; modes and xattrs go through `/proc/self/fd/N` of an `O_PATH|O_NOFOLLOW` descriptor, which names
//! that very inode. Nothing here knows about images or containers (it moves into a berth-fs crate later).
//!
//! Needs Linux 5.6 (openat2) and a mounted /proc.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, mkdirat, mknodat, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

/// Give up after this many symlinks in one walk that this module follows itself (the kernel stops at 40).
const MAX_SYMLINKS: usize = 255;
/// `openat2(RESOLVE_IN_ROOT)` answers EAGAIN when a rename anywhere might have made `..` unsafe; try again.
const EAGAIN_RETRIES: usize = 64;

/// What can go wrong resolving a path inside a [`Root`]. `path` is the path as the caller gave it.
#[derive(Debug, thiserror::Error)]
pub enum InRootError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: not a directory")]
    NotADirectory { path: String },
    /// ELOOP: a symlink loop, or a magic link (RESOLVE_NO_MAGICLINKS refuses them with the same errno).
    #[error("{path}: too many levels of symbolic links, or a /proc magic link")]
    TooManyLinks { path: String },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: &'static str },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
}

impl InRootError {
    fn from_errno(op: &'static str, path: &Path, errno: Errno) -> Self {
        let path = path.to_string_lossy().into_owned();
        match errno {
            Errno::ENOENT => InRootError::NotFound { path },
            Errno::ENOTDIR => InRootError::NotADirectory { path },
            Errno::ELOOP => InRootError::TooManyLinks { path },
            other => InRootError::Io { op, path, source: other.into() },
        }
    }
}

impl From<InRootError> for io::Error {
    fn from(e: InRootError) -> io::Error {
        let errno = match &e {
            InRootError::NotFound { .. } => libc::ENOENT,
            InRootError::NotADirectory { .. } => libc::ENOTDIR,
            InRootError::TooManyLinks { .. } => libc::ELOOP,
            InRootError::Invalid { .. } => libc::EINVAL,
            InRootError::Io { source, .. } => return io::Error::new(source.kind(), e.to_string()),
        };
        io::Error::from_raw_os_error(errno)
    }
}

type Result<T> = std::result::Result<T, InRootError>;

/// A directory that paths are resolved in as if it were `/`.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

impl Root {
    /// Opens `path`, a directory of the daemon's own (trusted, so resolved normally).
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| InRootError::from_errno("open", path, e))?;
        Ok(Root { fd, path: path.to_path_buf() })
    }

    /// The host path it was opened at (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// An `O_PATH` descriptor of what `path` names, every symlink (the last one too) followed inside the root.
    pub fn resolve(&self, path: &Path) -> Result<OwnedFd> {
        self.openat2(path, OFlag::O_PATH).map_err(|e| InRootError::from_errno("open", path, e))
    }

    /// Like [`Root::resolve`], and it must be a directory.
    pub fn resolve_dir(&self, path: &Path) -> Result<OwnedFd> {
        self.openat2(path, OFlag::O_PATH | OFlag::O_DIRECTORY).map_err(|e| InRootError::from_errno("open", path, e))
    }

    /// A regular file, for reading, symlinks followed inside the root. Anything else (a FIFO that would block, a
    /// device) is refused without being opened.
    pub fn open_file(&self, path: &Path) -> Result<File> {
        let fd = self.resolve(path)?;
        let st = fstat(&fd).map_err(|e| InRootError::from_errno("stat", path, e))?;
        if SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT) != SFlag::S_IFREG {
            return Err(InRootError::Invalid {
                path: path.to_string_lossy().into_owned(),
                reason: "not a regular file",
            });
        }
        reopen(fd.as_fd(), OFlag::O_RDONLY).map_err(|source| InRootError::Io {
            op: "open",
            path: path.to_string_lossy().into_owned(),
            source,
        })
    }

    /// The entry `path` names, its parent resolved inside the root and its last component not followed: a symlink
    /// there is the symlink itself. For `/`, or a path ending in `..`, the directory itself (named `.`).
    pub fn entry(&self, path: &Path) -> Result<Entry> {
        let mut parts = components(path);
        match parts.last() {
            None => Ok(Entry { dir: self.resolve_dir(Path::new("."))?, name: OsString::from(".") }),
            Some(last) if last == ".." => Ok(Entry { dir: self.resolve_dir(path)?, name: OsString::from(".") }),
            Some(_) => {
                let name = parts.pop().unwrap_or_default();
                let dir = self
                    .openat2(&join(&parts), OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .map_err(|e| InRootError::from_errno("open", path, e))?;
                Ok(Entry { dir, name })
            }
        }
    }

    /// Creates directory `path` and its missing parents (like `mkdir -p`, symlinks followed inside the root, a
    /// dangling one by creating its target); new directories get `mode` and `owner`. Returns an `O_PATH`
    /// descriptor of the directory.
    pub fn mkdir_all(&self, path: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<OwnedFd> {
        self.mkdir_all_below(Path::new(""), path, mode, owner)
    }

    /// [`Root::mkdir_all`] of `base/rel` where `base` must exist already: it is never made, so an extraction into
    /// a directory that goes away meanwhile fails rather than making it anew.
    pub fn mkdir_all_below(&self, base: &Path, rel: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<OwnedFd> {
        let shown = base.join(rel);
        let mut parts = components(base);
        let mut keep = parts.len();
        parts.extend(components(rel));
        let mut links = 0usize;
        'walk: loop {
            // The longest prefix that exists (usually all of it: one call).
            let mut len = parts.len();
            let mut dir = loop {
                match self.openat2(&join(&parts[..len]), OFlag::O_PATH | OFlag::O_DIRECTORY) {
                    Ok(fd) => break fd,
                    Err(Errno::ENOENT) if len > keep => len -= 1,
                    Err(e) => return Err(InRootError::from_errno("open", &shown, e)),
                }
            };
            // Below it everything is made here, one component at a time, relative to its parent's descriptor.
            let mut made: Vec<OwnedFd> = Vec::new();
            for i in len..parts.len() {
                let name = parts[i].as_os_str();
                if name == ".." {
                    // The parent of a directory made just now; the prefix above already resolved `..` otherwise.
                    dir = made.pop().ok_or_else(|| InRootError::Invalid {
                        path: shown.to_string_lossy().into_owned(),
                        reason: "`..` above a directory being created",
                    })?;
                    continue;
                }
                let created = match mkdirat(&dir, name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) => true,
                    Err(Errno::EEXIST) => false,
                    Err(e) => return Err(InRootError::from_errno("mkdir", &shown, e)),
                };
                let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                match openat(&dir, name, flags, Mode::empty()) {
                    Ok(fd) => {
                        if created {
                            let fail = |source| InRootError::Io { op: "mkdir", path: display(&shown), source };
                            fd_chmod(fd.as_fd(), mode).map_err(fail)?;
                            if let Some((uid, gid)) = owner {
                                fd_chown(fd.as_fd(), uid, gid).map_err(fail)?;
                            }
                        }
                        made.push(std::mem::replace(&mut dir, fd));
                    }
                    Err(Errno::ENOTDIR | Errno::ELOOP) => {
                        // A symlink whose target is missing (or one made meanwhile): go on from its target.
                        let at = At { dir: dir.as_fd(), name };
                        let Ok(target) = at.read_link() else {
                            return Err(InRootError::NotADirectory { path: display(&shown) });
                        };
                        links += 1;
                        if links > MAX_SYMLINKS {
                            return Err(InRootError::TooManyLinks { path: display(&shown) });
                        }
                        let mut next = if target.is_absolute() { Vec::new() } else { parts[..i].to_vec() };
                        next.extend(components(&target));
                        next.extend(parts[i + 1..].iter().cloned());
                        parts = next;
                        keep = 0;
                        continue 'walk;
                    }
                    Err(e) => return Err(InRootError::from_errno("open", &shown, e)),
                }
            }
            return Ok(dir);
        }
    }

    /// The path inside the root that `path` names with every symlink followed (as `/a/b`); components that do not
    /// exist are kept as they are. A name, not a handle: by the time it is used the tree may have changed, so it
    /// is for messages (`docker cp`'s link target) and for trees nobody else changes (a build context).
    pub fn resolve_name(&self, path: &Path) -> Result<PathBuf> {
        let mut pending: VecDeque<OsString> = components(path).into();
        let mut resolved: Vec<OsString> = Vec::new();
        let mut links = 0usize;
        while let Some(part) = pending.pop_front() {
            if part == ".." {
                resolved.pop();
                continue;
            }
            let link = match self.openat2(&join(&resolved), OFlag::O_PATH | OFlag::O_DIRECTORY) {
                Ok(dir) => {
                    let at = At { dir: dir.as_fd(), name: &part };
                    match at.metadata() {
                        Ok(m) if m.file_type().is_symlink() => {
                            Some(at.read_link().map_err(|source| InRootError::Io {
                                op: "readlink",
                                path: display(path),
                                source,
                            })?)
                        }
                        _ => None,
                    }
                }
                Err(Errno::ENOENT | Errno::ENOTDIR) => None,
                Err(e) => return Err(InRootError::from_errno("open", path, e)),
            };
            match link {
                Some(target) => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(InRootError::TooManyLinks { path: display(path) });
                    }
                    if target.is_absolute() {
                        resolved.clear();
                    }
                    for part in components(&target).into_iter().rev() {
                        pending.push_front(part);
                    }
                }
                None => resolved.push(part),
            }
        }
        Ok(Path::new("/").join(join(&resolved)))
    }

    fn openat2(&self, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let rel = if path.as_os_str().is_empty() { Path::new(".") } else { path };
        let mut tries = 0;
        loop {
            match openat2(&self.fd, rel, how) {
                Err(Errno::EAGAIN) if tries < EAGAIN_RETRIES => tries += 1,
                other => return other,
            }
        }
    }
}

/// An entry found by [`Root::entry`]: its parent directory's descriptor and its name there.
#[derive(Debug)]
pub struct Entry {
    dir: OwnedFd,
    name: OsString,
}

impl Entry {
    /// `name` in the directory `dir` (an `O_PATH` descriptor is enough); `.` is the directory itself.
    pub fn new(dir: OwnedFd, name: impl Into<OsString>) -> Entry {
        Entry { dir, name: name.into() }
    }

    pub fn at(&self) -> At<'_> {
        At { dir: self.dir.as_fd(), name: &self.name }
    }
}

/// A name in a directory held by descriptor. Every operation acts on that name itself and never follows it if it
/// is a symlink; `.` names the directory. The name must be one component (no `/`).
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub dir: BorrowedFd<'a>,
    pub name: &'a OsStr,
}

impl At<'_> {
    /// An `O_PATH` descriptor of the entry itself (a symlink is not followed): it pins the inode, so what is then
    /// read or changed through it is what was looked at.
    pub fn open_path(&self) -> io::Result<OwnedFd> {
        Ok(openat(self.dir, self.name, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?)
    }

    /// A directory entry as a directory (`O_PATH`), refusing a symlink.
    pub fn open_dir(&self) -> io::Result<OwnedFd> {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        Ok(openat(self.dir, self.name, flags, Mode::empty())?)
    }

    /// `lstat`.
    pub fn metadata(&self) -> io::Result<fs::Metadata> {
        fd_metadata(self.open_path()?)
    }

    pub fn read_link(&self) -> io::Result<PathBuf> {
        Ok(PathBuf::from(readlinkat(self.dir, self.name)?))
    }

    /// A new regular file for writing (`O_EXCL`: never an existing file, never through a symlink).
    pub fn create_file(&self, mode: u32) -> io::Result<File> {
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        Ok(File::from(openat(self.dir, self.name, flags, Mode::from_bits_truncate(mode))?))
    }

    pub fn mkdir(&self, mode: u32) -> io::Result<()> {
        Ok(mkdirat(self.dir, self.name, Mode::from_bits_truncate(mode))?)
    }

    pub fn symlink(&self, target: &Path) -> io::Result<()> {
        Ok(symlinkat(target, self.dir, self.name)?)
    }

    /// A hard link here to `source` (a symlink there is linked as itself).
    pub fn hard_link_from(&self, source: At<'_>) -> io::Result<()> {
        Ok(linkat(source.dir, source.name, self.dir, self.name, AtFlags::empty())?)
    }

    pub fn mknod(&self, kind: SFlag, mode: u32, dev: libc::dev_t) -> io::Result<()> {
        Ok(mknodat(self.dir, self.name, kind, Mode::from_bits_truncate(mode), dev)?)
    }

    /// Removes a non-directory.
    pub fn remove_file(&self) -> io::Result<()> {
        Ok(unlinkat(self.dir, self.name, UnlinkatFlags::NoRemoveDir)?)
    }

    /// Removes the entry, a directory with everything in it; gone already is fine. Symlinks inside are removed,
    /// never followed.
    pub fn remove_all(&self) -> io::Result<()> {
        match unlinkat(self.dir, self.name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::EISDIR | Errno::EPERM) => {}
            Err(e) => return Err(e.into()),
        }
        match self.open_dir() {
            Ok(dir) => {
                for name in read_dir_names(dir.as_fd())? {
                    At { dir: dir.as_fd(), name: &name }.remove_all()?;
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        }
        match unlinkat(self.dir, self.name, UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `lchown`.
    pub fn chown(&self, uid: u32, gid: u32) -> io::Result<()> {
        let (uid, gid) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
        Ok(fchownat(self.dir, self.name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)?)
    }

    /// Sets the permission bits; a symlink (whose mode means nothing) is left alone.
    pub fn chmod(&self, mode: u32) -> io::Result<()> {
        let fd = self.open_path()?;
        if SFlag::from_bits_truncate(fstat(&fd)?.st_mode & libc::S_IFMT) == SFlag::S_IFLNK {
            return Ok(());
        }
        fd_chmod(fd.as_fd(), mode)
    }

    /// Sets atime and mtime (of a symlink itself).
    pub fn set_times(&self, secs: i64) -> io::Result<()> {
        let t = TimeSpec::new(secs, 0);
        Ok(utimensat(self.dir, self.name, &t, &t, UtimensatFlags::NoFollowSymlink)?)
    }

    /// Sets an xattr; on a symlink it is skipped (no `lsetxattr` relative to a descriptor before Linux 6.13).
    pub fn set_xattr(&self, name: &str, value: &[u8]) -> io::Result<()> {
        let fd = self.open_path()?;
        if SFlag::from_bits_truncate(fstat(&fd)?.st_mode & libc::S_IFMT) == SFlag::S_IFLNK {
            return Ok(());
        }
        crate::xattr::set_fd(fd.as_fd(), name, value)
    }
}

/// `/proc/self/fd/N`: a path the kernel resolves to the descriptor's own file, whatever happened to its name. The
/// target to give `mount(2)` and the way to reopen an `O_PATH` descriptor (runc's technique).
pub fn proc_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens the file an (`O_PATH`) descriptor refers to, with `flags`.
pub fn reopen(fd: BorrowedFd<'_>, flags: OFlag) -> io::Result<File> {
    let fd = nix::fcntl::open(&proc_path(fd), flags | OFlag::O_CLOEXEC, Mode::empty())?;
    Ok(File::from(fd))
}

/// The descriptor's metadata (`fstat`; works on `O_PATH` descriptors).
pub fn fd_metadata(fd: OwnedFd) -> io::Result<fs::Metadata> {
    File::from(fd).metadata()
}

/// The path a descriptor's file has now, as the kernel names it (for a mount helper that wants a path).
pub fn fd_path(fd: BorrowedFd<'_>) -> io::Result<PathBuf> {
    fs::read_link(proc_path(fd))
}

/// `chmod` of the descriptor's file (through /proc: `fchmod` refuses `O_PATH` descriptors).
pub fn fd_chmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    fs::set_permissions(proc_path(fd), fs::Permissions::from_mode(mode))
}

/// `chown` of the descriptor's file (`AT_EMPTY_PATH` works on `O_PATH` descriptors).
pub fn fd_chown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    let (uid, gid) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
    Ok(fchownat(fd, "", uid, gid, AtFlags::AT_EMPTY_PATH)?)
}

/// The names in a directory (an `O_PATH` descriptor is enough), without `.` and `..`, sorted bytewise.
pub fn read_dir_names(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let fd = openat(dir, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let mut listing = nix::dir::Dir::from_fd(fd)?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(OsString::from(OsStr::from_bytes(&name)));
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// The components of `path` as names and `..`; `/`, empty and `.` components dropped. Bytes, so that a name is
/// never reinterpreted.
fn components(path: &Path) -> Vec<OsString> {
    path.as_os_str()
        .as_bytes()
        .split(|b| *b == b'/')
        .filter(|part| !part.is_empty() && *part != b".")
        .map(|part| OsString::from(OsStr::from_bytes(part)))
        .collect()
}

fn join(parts: &[OsString]) -> PathBuf {
    parts.iter().collect()
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::symlink;

    /// A root inside a scratch directory, with a host file beside it that nothing may reach.
    fn setup() -> (tempfile::TempDir, PathBuf, Root) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(root.join("real/dir")).unwrap();
        fs::create_dir_all(t.path().join("etc")).unwrap();
        fs::write(t.path().join("etc/secret"), "host").unwrap();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/secret"), "inside").unwrap();
        let opened = Root::open(&root).unwrap();
        (t, root, opened)
    }

    fn read(root: &Root, path: &str) -> String {
        let mut s = String::new();
        root.open_file(Path::new(path)).unwrap().read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn absolute_symlinks_stay_inside() {
        let (t, root, r) = setup();
        let host_etc = t.path().join("etc");
        symlink("/real", root.join("abs")).unwrap();
        symlink(&host_etc, root.join("hostish")).unwrap();
        symlink("/etc/secret", root.join("real/secret")).unwrap();
        assert_eq!(read(&r, "/real/secret"), "inside");
        assert_eq!(read(&r, "real/secret"), "inside");
        // A link to the host's absolute path names that path inside the root, where it does not exist.
        assert!(matches!(r.open_file(Path::new("/hostish/secret")), Err(InRootError::NotFound { .. })));
        assert_eq!(r.resolve_name(Path::new("/abs/dir/x")).unwrap(), Path::new("/real/dir/x"));
        assert_eq!(r.resolve_name(Path::new("/real/secret")).unwrap(), Path::new("/etc/secret"));
        assert_eq!(r.resolve_name(Path::new("/")).unwrap(), Path::new("/"));
        // The last component is not followed by entry(): the link itself.
        let e = r.entry(Path::new("/abs")).unwrap();
        assert!(e.at().metadata().unwrap().file_type().is_symlink());
        assert_eq!(e.at().read_link().unwrap(), Path::new("/real"));
    }

    #[test]
    fn dot_dot_cannot_climb_out() {
        let (t, root, r) = setup();
        symlink("../../../../etc", root.join("real/escape")).unwrap();
        assert_eq!(read(&r, "/real/escape/secret"), "inside");
        assert_eq!(read(&r, "/../../../etc/secret"), "inside");
        assert_eq!(r.resolve_name(Path::new("/real/escape/secret")).unwrap(), Path::new("/etc/secret"));
        assert_eq!(r.resolve_name(Path::new("/../../x")).unwrap(), Path::new("/x"));
        r.mkdir_all(Path::new("/../../made/deeper"), 0o755, None).unwrap();
        assert!(root.join("made/deeper").is_dir());
        assert!(!t.path().join("made").exists());
        let e = r.entry(Path::new("/real/escape/../../new")).unwrap();
        e.at().create_file(0o644).unwrap().write_all(b"n").unwrap();
        assert!(root.join("new").is_file());
    }

    #[test]
    fn symlink_loops_are_a_clear_error() {
        let (_t, root, r) = setup();
        symlink("b", root.join("a")).unwrap();
        symlink("a", root.join("b")).unwrap();
        let e = r.resolve(Path::new("/a")).unwrap_err();
        assert!(matches!(e, InRootError::TooManyLinks { .. }), "{e}");
        assert!(e.to_string().contains("too many levels of symbolic links"), "{e}");
        assert!(matches!(r.resolve_name(Path::new("/a/x")), Err(InRootError::TooManyLinks { .. })));
        assert!(matches!(r.mkdir_all(Path::new("/a/x"), 0o755, None), Err(InRootError::TooManyLinks { .. })));
        assert_eq!(io::Error::from(e).raw_os_error(), Some(libc::ELOOP));
    }

    #[test]
    fn magic_links_are_refused() {
        // /proc/self/root and /proc/self/cwd are magic links: following one would jump anywhere.
        let proc_self = Root::open(Path::new("/proc/self")).unwrap();
        assert!(matches!(proc_self.resolve(Path::new("root")), Err(InRootError::TooManyLinks { .. })));
        assert!(matches!(proc_self.resolve(Path::new("cwd/x")), Err(InRootError::TooManyLinks { .. })));
        let slash = Root::open(Path::new("/")).unwrap();
        assert!(matches!(slash.resolve(Path::new("/proc/self/root/etc")), Err(InRootError::TooManyLinks { .. })));
        // An ordinary symlink in /proc is fine: /proc/self is one.
        assert!(slash.resolve_dir(Path::new("/proc/self/fd")).is_ok());
    }

    #[test]
    fn mkdir_all_creates_through_dangling_links_inside() {
        let (t, root, r) = setup();
        symlink("/target", root.join("dangling")).unwrap();
        r.mkdir_all(Path::new("/dangling/sub"), 0o750, None).unwrap();
        assert!(root.join("target/sub").is_dir());
        assert_eq!(fs::metadata(root.join("target/sub")).unwrap().permissions().mode() & 0o777, 0o750);
        assert!(!t.path().join("target").exists());
        fs::write(root.join("file"), "").unwrap();
        assert!(matches!(r.mkdir_all(Path::new("/file/x"), 0o755, None), Err(InRootError::NotADirectory { .. })));
        // The base of an extraction is never made.
        assert!(matches!(
            r.mkdir_all_below(Path::new("/gone"), Path::new("a"), 0o755, None),
            Err(InRootError::NotFound { .. })
        ));
        assert!(!root.join("gone").exists());
        r.mkdir_all_below(Path::new("/real"), Path::new("a/b"), 0o755, None).unwrap();
        assert!(root.join("real/a/b").is_dir());
    }

    #[test]
    fn remove_all_does_not_follow_symlinks_out() {
        let (t, root, r) = setup();
        fs::create_dir_all(root.join("tree/sub")).unwrap();
        symlink(t.path().join("etc"), root.join("tree/sub/out")).unwrap();
        symlink("/etc", root.join("tree/in")).unwrap();
        let e = r.entry(Path::new("/tree")).unwrap();
        e.at().remove_all().unwrap();
        assert!(!root.join("tree").exists());
        assert_eq!(fs::read_to_string(t.path().join("etc/secret")).unwrap(), "host");
        assert_eq!(fs::read_to_string(root.join("etc/secret")).unwrap(), "inside");
        e.at().remove_all().unwrap();
    }

    #[test]
    fn entry_operations_act_on_the_name_itself() {
        let (t, root, r) = setup();
        symlink(t.path().join("etc/secret"), root.join("link")).unwrap();
        let e = r.entry(Path::new("/link")).unwrap();
        // chmod and xattrs leave a symlink alone rather than follow it onto the host.
        e.at().chmod(0o777).unwrap();
        assert_eq!(fs::metadata(t.path().join("etc/secret")).unwrap().permissions().mode() & 0o777, 0o644);
        assert!(e.at().create_file(0o644).is_err());
        e.at().remove_file().unwrap();
        e.at().symlink(Path::new("/etc/secret")).unwrap();
        assert_eq!(read(&r, "/link"), "inside");
        assert!(matches!(r.open_file(Path::new("/real")), Err(InRootError::Invalid { .. })));
        let names = read_dir_names(r.as_fd()).unwrap();
        assert_eq!(names, ["etc", "link", "real"]);
    }
}
