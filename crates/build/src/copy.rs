//! COPY and ADD on the filesystem: resolving sources inside the build context (never outside it) or inside another
//! image's root, and writing them into the mounted root of the step's container, whose upper directory becomes the
//! layer. Blocking; callers run it on a blocking thread.

use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::dockerignore::glob_component;
use berth_fs::id_shift::IdShift;
use berth_fs::in_root::{At, Entry, InRootError, Root};
use berth_image::{archive, ImageError};

/// What can make COPY, ADD or WORKDIR fail on the filesystem. The texts are those the build reports (after
/// `COPY failed: ` and before ` (Dockerfile line N)`); `written` is a source as the Dockerfile wrote it.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// `..` or a symlink (absolute, or climbing above the context) leads out of the build context.
    #[error("forbidden path outside the build context: {written}")]
    OutsideContext { written: String },
    /// More than [`MAX_SYMLINKS`] links while resolving one source.
    #[error("{written}: too many levels of symbolic links")]
    TooManyLinks { written: String },
    /// Docker's wording for a source that is not in the context.
    #[error("file not found in build context or excluded by .dockerignore: stat {written}: file does not exist")]
    NotInContext { written: String },
    /// A `COPY --from` source that is not in the other image.
    #[error("{written}: no such file or directory")]
    NotInImage { written: String },
    /// Nothing matched the sources.
    #[error("no source files were specified")]
    NoSources,
    /// A source could not be read (its link, metadata, contents).
    #[error("{written}: {source}")]
    Source {
        written: String,
        #[source]
        source: io::Error,
    },
    /// A `COPY --from` source could not be resolved inside the other image's root.
    #[error(transparent)]
    ImageSource(ImageError),
    /// `--chown` names a user the image's /etc/passwd does not have.
    #[error("unable to find user {user}: no matching entries in passwd file")]
    UnknownUser { user: String },
    /// The user's line in /etc/passwd has no numeric uid.
    #[error("invalid uid for user {user}")]
    InvalidUid { user: String },
    /// The user's line in /etc/passwd has no numeric gid.
    #[error("invalid gid for user {user}")]
    InvalidGid { user: String },
    /// `--chown` names a group the image's /etc/group does not have.
    #[error("unable to find group {group}: no matching entries in group file")]
    UnknownGroup { group: String },
    /// `--chmod` is not an octal mode up to 7777.
    #[error("invalid chmod parameter: {value}")]
    InvalidChmod { value: String },
    /// Resolving or making the destination inside the step's root failed.
    #[error(transparent)]
    Destination(#[from] InRootError),
    /// An ADD archive could not be unpacked into the root.
    #[error(transparent)]
    Extract(ImageError),
    /// Writing one file, directory or link into the root failed; `shown` is its container path.
    #[error("copy to {}: {source}", shown.display())]
    Write {
        shown: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Listing a source directory failed.
    #[error("read {}: {source}", path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Reading the metadata of an entry of a source directory failed.
    #[error("stat {}: {source}", path.display())]
    Stat {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Give up after this many symlinks while resolving one source path.
const MAX_SYMLINKS: usize = 255;

/// A source resolved to a path on the host.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    /// The name it is copied under when the destination is a directory.
    pub name: String,
    /// The path as the Dockerfile wrote it (for messages and cache checksums).
    pub written: String,
}

impl Source {
    fn failed(&self, source: io::Error) -> CopyError {
        CopyError::Source { written: self.written.clone(), source }
    }
}

fn has_wildcard(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// Lexically cleans a context path; `None` if it climbs out of the context with `..`.
fn clean_relative(path: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(name) => out.push(name.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop()?;
            }
            _ => {}
        }
    }
    Some(out)
}

/// Resolves `rel` (components below `root`) following symlinks, refusing any that lead outside `root`: absolute
/// targets, or relative ones that climb above it.
pub fn resolve_strict(root: &Path, rel: &[String], written: &str) -> Result<PathBuf, CopyError> {
    let outside = || CopyError::OutsideContext { written: written.to_string() };
    let mut pending: std::collections::VecDeque<String> = rel.iter().cloned().collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(component) = pending.pop_front() {
        if component == ".." {
            resolved.pop().ok_or_else(outside)?;
            continue;
        }
        if component == "." || component.is_empty() {
            continue;
        }
        let candidate: PathBuf = root.join(resolved.iter().collect::<PathBuf>()).join(&component);
        match fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(CopyError::TooManyLinks { written: written.to_string() });
                }
                let target = fs::read_link(&candidate)
                    .map_err(|source| CopyError::Source { written: written.to_string(), source })?;
                if target.is_absolute() {
                    return Err(outside());
                }
                for (i, part) in target.components().enumerate() {
                    let part = match part {
                        Component::Normal(name) => name.to_string_lossy().into_owned(),
                        Component::ParentDir => "..".to_string(),
                        _ => continue,
                    };
                    pending.insert(i, part);
                }
            }
            Ok(_) => resolved.push(component),
            Err(_) => return Err(CopyError::NotInContext { written: written.to_string() }),
        }
    }
    Ok(root.join(resolved.iter().collect::<PathBuf>()))
}

/// Expands wildcards component by component below `root` (symlinks not followed while matching).
fn expand_glob(root: &Path, components: &[String]) -> Vec<Vec<String>> {
    let mut matches: Vec<Vec<String>> = vec![Vec::new()];
    for component in components {
        let mut next = Vec::new();
        for prefix in &matches {
            let dir = root.join(prefix.iter().collect::<PathBuf>());
            if !has_wildcard(component) {
                let mut path = prefix.clone();
                path.push(component.clone());
                if fs::symlink_metadata(dir.join(component)).is_ok() {
                    next.push(path);
                }
                continue;
            }
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<String> =
                entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            for name in names {
                if glob_component(component, &name) {
                    let mut path = prefix.clone();
                    path.push(name);
                    next.push(path);
                }
            }
        }
        matches = next;
    }
    matches
}

/// Resolves the sources of a COPY from the build context.
pub fn context_sources(root: &Path, written: &[String]) -> Result<Vec<Source>, CopyError> {
    let mut out = Vec::new();
    for source in written {
        let components = clean_relative(source).ok_or_else(|| CopyError::OutsideContext { written: source.clone() })?;
        let candidates = if has_wildcard(source) { expand_glob(root, &components) } else { vec![components] };
        for rel in candidates {
            let path = resolve_strict(root, &rel, source)?;
            let name = rel.last().cloned().unwrap_or_else(|| ".".to_string());
            out.push(Source { path, name, written: rel.join("/") });
        }
    }
    if out.is_empty() {
        return Err(CopyError::NoSources);
    }
    Ok(out)
}

/// Resolves the sources of a `COPY --from` inside another image's root (symlinks stay inside that root).
pub fn image_sources(root: &Path, written: &[String]) -> Result<Vec<Source>, CopyError> {
    let mut out = Vec::new();
    for source in written {
        let components = clean_relative(source).unwrap_or_default();
        let candidates = if has_wildcard(source) { expand_glob(root, &components) } else { vec![components] };
        for rel in candidates {
            let joined = format!("/{}", rel.join("/"));
            let path = archive::resolve_in_root(root, &joined).map_err(CopyError::ImageSource)?;
            if fs::symlink_metadata(&path).is_err() {
                return Err(CopyError::NotInImage { written: source.clone() });
            }
            let name = rel.last().cloned().unwrap_or_else(|| ".".to_string());
            out.push(Source { path, name, written: joined });
        }
    }
    if out.is_empty() {
        return Err(CopyError::NoSources);
    }
    Ok(out)
}

/// How files land in the image.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ownership {
    /// `--chown`, resolved; 0:0 otherwise (Docker's default for COPY and ADD).
    pub uid: u32,
    pub gid: u32,
    /// `--chmod`.
    pub mode: Option<u32>,
    /// The workspace is a remapped container's: `uid`/`gid` (and an ADDed archive's owners) are its ids, written
    /// as the host's.
    pub ids: Option<IdShift>,
}

impl Ownership {
    /// The owner as written on disk.
    fn on_disk(&self) -> (u32, u32) {
        match self.ids {
            Some(ids) => (ids.host_uid(self.uid), ids.host_gid(self.gid)),
            None => (self.uid, self.gid),
        }
    }
}

/// Resolves `--chown=user[:group]` against the image's /etc/passwd and /etc/group.
pub fn resolve_chown(rootfs: &Path, spec: &str) -> Result<(u32, u32), CopyError> {
    let (user, group) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    let passwd = archive::read_in_root(rootfs, "/etc/passwd");
    let (uid, primary_gid) = match user.parse::<u32>() {
        Ok(uid) => (uid, lookup(&passwd, 2, |f| f[2] == user).unwrap_or(uid)),
        Err(_) => {
            let entry = passwd
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 3 && f[0] == user)
                .ok_or_else(|| CopyError::UnknownUser { user: user.to_string() })?;
            let uid = entry[2].parse().map_err(|_| CopyError::InvalidUid { user: user.to_string() })?;
            let gid = entry[3].parse().map_err(|_| CopyError::InvalidGid { user: user.to_string() })?;
            (uid, gid)
        }
    };
    let gid = match group {
        None => match user.parse::<u32>() {
            Ok(uid) => uid,
            Err(_) => primary_gid,
        },
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = archive::read_in_root(rootfs, "/etc/group");
                lookup(&groups, 2, |f| f[0] == group)
                    .ok_or_else(|| CopyError::UnknownGroup { group: group.to_string() })?
            }
        },
    };
    Ok((uid, gid))
}

fn lookup(file: &str, field: usize, matches: impl Fn(&[&str]) -> bool) -> Option<u32> {
    file.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > field && matches(f))
        .and_then(|f| f[field].parse().ok())
}

/// `--chmod=0755` (octal).
pub fn parse_chmod(value: &str) -> Result<u32, CopyError> {
    u32::from_str_radix(value, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or_else(|| CopyError::InvalidChmod { value: value.to_string() })
}

/// Is the file a tar archive (plain, gzip, bzip2 or xz), which ADD unpacks?
pub fn is_archive(path: &Path) -> bool {
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let mut head = Vec::with_capacity(512);
    if file.take(512).read_to_end(&mut head).is_err() {
        return false;
    }
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(b"BZh")
        || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || head.get(257..262) == Some(b"ustar")
}

/// Writes `sources` into `rootfs` at `dest` (an absolute container path; a trailing `/` means a directory).
/// `ADD` extracts local archives, each to at most `max_unpacked` bytes (a compressed bomb in the context).
/// Everything is made inside `rootfs` by descriptor ([`berth_fs::in_root`]): symlinks in the image are followed
/// inside it, never onto the daemon's host.
pub fn copy_into(
    rootfs: &Path,
    sources: &[Source],
    dest: &str,
    force_dir: bool,
    owner: Ownership,
    extract_archives: bool,
    max_unpacked: Option<u64>,
) -> Result<(), CopyError> {
    let tree = Root::open(rootfs)?;
    let dest_is_dir = force_dir
        || dest.ends_with('/')
        || dest.ends_with("/.")
        || sources.len() > 1
        || tree.resolve_dir(Path::new(dest)).is_ok();
    for source in sources {
        let meta = fs::metadata(&source.path).map_err(|e| source.failed(e))?;
        if meta.is_dir() {
            let target = make_dirs(&tree, dest, owner)?;
            copy_tree(&source.path, target.as_fd(), owner, Path::new(dest))?;
        } else if extract_archives && is_archive(&source.path) {
            make_dirs(&tree, dest, owner)?;
            let file = fs::File::open(&source.path).map_err(|e| source.failed(e))?;
            extract(rootfs, dest, file, max_unpacked, owner.ids)?;
        } else {
            let (target, shown) = if dest_is_dir {
                let dir = make_dirs(&tree, dest, owner)?;
                (Entry::new(dir, &source.name), Path::new(dest).join(&source.name))
            } else {
                let parent = Path::new(dest).parent().map(|p| p.to_string_lossy().into_owned());
                make_dirs(&tree, parent.as_deref().unwrap_or("/"), owner)?;
                // A symlink at the destination is followed (inside the root): the file goes where it points.
                let resolved = tree.resolve_name(Path::new(dest))?;
                (tree.entry(&resolved)?, PathBuf::from(dest))
            };
            copy_file(&source.path, target.at(), &meta, owner, &shown)?;
        }
    }
    Ok(())
}

fn extract(
    rootfs: &Path,
    dest: &str,
    file: fs::File,
    max_unpacked: Option<u64>,
    ids: Option<IdShift>,
) -> Result<(), CopyError> {
    // extract_tar decodes gzip, bzip2 and xz itself, once.
    archive::extract_tar(rootfs, dest, file, false, max_unpacked, ids).map_err(CopyError::Extract)
}

/// Creates `dir` (a container path) and its missing parents inside `rootfs`; new directories get 0755 and `owner`.
/// Returns the directory's descriptor.
pub fn mkdir_all(rootfs: &Path, dir: &str, owner: Ownership) -> Result<OwnedFd, CopyError> {
    make_dirs(&Root::open(rootfs)?, dir, owner)
}

fn make_dirs(tree: &Root, dir: &str, owner: Ownership) -> Result<OwnedFd, CopyError> {
    Ok(tree.mkdir_all(Path::new(dir), 0o755, Some(owner.on_disk()))?)
}

fn remove_non_dir(target: At<'_>) -> io::Result<()> {
    match target.metadata() {
        Ok(meta) if meta.is_dir() => Err(io::Error::other("cannot overwrite a directory with a file")),
        Ok(_) => target.remove_file(),
        Err(_) => Ok(()),
    }
}

fn copy_file(src: &Path, target: At<'_>, meta: &fs::Metadata, owner: Ownership, shown: &Path) -> Result<(), CopyError> {
    let fail = |source: io::Error| CopyError::Write { shown: shown.to_path_buf(), source };
    remove_non_dir(target).map_err(fail)?;
    let mut input = fs::File::open(src).map_err(fail)?;
    let mut output = target.create_file(0o600).map_err(fail)?;
    io::copy(&mut input, &mut output).map_err(fail)?;
    // Owner first (chown clears setuid), then mode; on the descriptor of the file just written.
    let (uid, gid) = owner.on_disk();
    let (uid, gid) = (Some(nix::unistd::Uid::from_raw(uid)), Some(nix::unistd::Gid::from_raw(gid)));
    nix::unistd::fchown(&output, uid, gid).map_err(|e| fail(e.into()))?;
    output.set_permissions(fs::Permissions::from_mode(owner.mode.unwrap_or(meta.mode() & 0o7777))).map_err(fail)?;
    Ok(())
}

/// Copies the contents of directory `src` into the directory held by `target` (symlinks copied as links).
fn copy_tree(src: &Path, target: BorrowedFd<'_>, owner: Ownership, shown: &Path) -> Result<(), CopyError> {
    let entries = fs::read_dir(src).map_err(|source| CopyError::ReadDir { path: src.to_path_buf(), source })?;
    let mut names: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let from = src.join(&name);
        let to = At { dir: target, name: &name };
        let shown = shown.join(&name);
        let meta = fs::symlink_metadata(&from).map_err(|source| CopyError::Stat { path: from.clone(), source })?;
        let fail = |source: io::Error| CopyError::Write { shown: shown.clone(), source };
        if meta.is_dir() {
            match to.metadata() {
                Ok(existing) if existing.is_dir() => {}
                Ok(_) => {
                    to.remove_file().map_err(fail)?;
                    to.mkdir(0o700).map_err(fail)?;
                }
                Err(_) => to.mkdir(0o700).map_err(fail)?,
            }
            let dir = to.open_dir().map_err(fail)?;
            copy_tree(&from, dir.as_fd(), owner, &shown)?;
            let (uid, gid) = owner.on_disk();
            to.chown(uid, gid).map_err(fail)?;
            to.chmod(owner.mode.unwrap_or(meta.mode() & 0o7777)).map_err(fail)?;
        } else if meta.file_type().is_symlink() {
            remove_non_dir(to).map_err(fail)?;
            let link = fs::read_link(&from).map_err(fail)?;
            to.symlink(&link).map_err(fail)?;
            let (uid, gid) = owner.on_disk();
            to.chown(uid, gid).map_err(fail)?;
        } else if meta.is_file() {
            copy_file(&from, to, &meta, owner, &shown)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_sources_stay_inside() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("a.txt"), "a").unwrap();
        fs::write(root.path().join("b.txt"), "b").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("../../etc", root.path().join("up")).unwrap();
        std::os::unix::fs::symlink("a.txt", root.path().join("ok")).unwrap();
        let names = |s: &[&str]| {
            context_sources(root.path(), &s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .map(|v| v.into_iter().map(|s| s.name).collect::<Vec<_>>())
                .map_err(|e| e.to_string())
        };
        assert_eq!(names(&["*.txt"]).unwrap(), ["a.txt", "b.txt"]);
        assert_eq!(names(&["ok"]).unwrap(), ["ok"]);
        assert!(names(&["../x"]).unwrap_err().contains("outside the build context"));
        assert!(names(&["abs"]).unwrap_err().contains("outside the build context"));
        assert!(names(&["up/passwd"]).unwrap_err().contains("outside the build context"));
        assert!(names(&["missing"]).unwrap_err().contains("file not found"));
        assert!(names(&["*.none"]).unwrap_err().contains("no source files"));
    }

    #[test]
    fn copy_file_and_directory_with_owner() {
        let src = tempfile::tempdir().unwrap();
        let rootfs = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("dir")).unwrap();
        fs::write(src.path().join("dir/inner"), "i").unwrap();
        fs::write(src.path().join("file"), "f").unwrap();
        let sources = context_sources(src.path(), &["file".to_string()]).unwrap();
        let owner = Ownership { uid: 1000, gid: 1000, mode: Some(0o640), ids: None };
        copy_into(rootfs.path(), &sources, "/app/renamed", false, owner, false, None).unwrap();
        let meta = fs::metadata(rootfs.path().join("app/renamed")).unwrap();
        assert_eq!((meta.uid(), meta.mode() & 0o777), (1000, 0o640));
        let sources = context_sources(src.path(), &["dir".to_string()]).unwrap();
        copy_into(rootfs.path(), &sources, "/app/d/", false, Ownership::default(), false, None).unwrap();
        assert_eq!(fs::read_to_string(rootfs.path().join("app/d/inner")).unwrap(), "i");
    }

    #[test]
    fn build_errors_keep_their_wording() {
        use crate::BuildError;
        let outside = CopyError::OutsideContext { written: "../x".into() };
        let copy = BuildError::Copy { line: 2, instruction: "COPY", source: outside };
        assert_eq!(copy.to_string(), "COPY failed: forbidden path outside the build context: ../x (Dockerfile line 2)");
        assert!(copy.is_user_error() && copy.is_step_failure() && copy.line() == Some(2));
        let chmod = BuildError::CopyFlag { line: 4, source: parse_chmod("9").unwrap_err() };
        assert_eq!(chmod.to_string(), "invalid chmod parameter: 9 (Dockerfile line 4)");
        let denied = io::Error::from_raw_os_error(nix::libc::EACCES);
        let write = CopyError::Write { shown: "/app/f".into(), source: denied };
        let workdir = BuildError::Workdir { line: 3, path: "/app".into(), source: write };
        assert_eq!(
            workdir.to_string(),
            "WORKDIR /app: copy to /app/f: Permission denied (os error 13) (Dockerfile line 3)"
        );
        assert_eq!(
            resolve_chown(Path::new("/nonexistent"), "nobody").unwrap_err().to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
    }

    #[test]
    fn chown_by_name() {
        let rootfs = tempfile::tempdir().unwrap();
        fs::create_dir(rootfs.path().join("etc")).unwrap();
        fs::write(rootfs.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
            .unwrap();
        fs::write(rootfs.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        assert_eq!(resolve_chown(rootfs.path(), "app").unwrap(), (1000, 1001));
        assert_eq!(resolve_chown(rootfs.path(), "app:staff").unwrap(), (1000, 50));
        assert_eq!(resolve_chown(rootfs.path(), "7:8").unwrap(), (7, 8));
        assert!(resolve_chown(rootfs.path(), "nobody").is_err());
    }
}
