//! Layer tars: safe extraction (with OCI → overlayfs whiteout conversion) and creation from a directory tree
//! (with overlayfs → OCI whiteout conversion).
//!
//! OCI whiteouts: `.wh.name` deletes `name`; `.wh..wh..opq` makes its directory opaque.
//! Overlayfs whiteouts: a 0:0 character device `name`; xattr `trusted.overlay.opaque=y` on the directory.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_fs::id_shift::IdShift;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, SFlag};
use tar::{EntryType, Header};

use super::archive::display_bytes;
use super::error::{ImageError, IoContext};
use berth_fs::in_root::{self, At, Entry, Root};

pub(crate) const WHITEOUT_PREFIX: &str = ".wh.";
pub(crate) const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
pub(crate) const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";
pub(crate) const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";
/// The only xattr written into tars (like Docker): file capabilities.
const CAPABILITY_XATTR: &str = "security.capability";

/// How [`apply_tar`] treats entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct ApplyOptions {
    /// Convert OCI whiteouts to overlayfs form (layer unpacking). When false, `.wh.` names are ordinary files.
    pub overlay_whiteouts: bool,
    /// Refuse to replace a directory with a non-directory or the reverse (`docker cp` option).
    pub no_overwrite_dir_non_dir: bool,
    /// Apply the metadata of a `./` entry to the target directory itself.
    pub apply_root_metadata: bool,
    /// The tree is a directory of the daemon's host, not a container's filesystem: device nodes are refused,
    /// setuid/setgid bits dropped and xattrs not applied.
    pub host_tree: bool,
    /// The most the entries may add up to (their sizes plus a header each), checked from the headers before a
    /// byte is written: a small compressed upload cannot fill the disk. None: no limit.
    pub max_bytes: Option<u64>,
    /// The tree is a remapped container's: the entries' owners are the container's ids, written as the host's.
    pub ids: Option<IdShift>,
}

impl ApplyOptions {
    /// An image layer (pulled, or from the layout) into its own directory in overlayfs form, ready to be a lowerdir.
    pub(crate) fn image_layer(max_bytes: Option<u64>) -> Self {
        ApplyOptions { overlay_whiteouts: true, apply_root_metadata: true, max_bytes, ..ApplyOptions::default() }
    }
}

/// What a tar entry costs against [`ApplyOptions::max_bytes`].
const ENTRY_OVERHEAD: u64 = 512;

/// Lexically clean a tar entry name into a path relative to the extraction directory.
/// `None` for the directory itself; an error if `..` would climb above it.
fn clean_entry_path(raw: &Path) -> Result<Option<PathBuf>, ImageError> {
    let mut out: Vec<&OsStr> = Vec::new();
    for part in raw.as_os_str().as_bytes().split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() {
                    return Err(ImageError::unsafe_path(display_bytes(raw), "path escapes the destination"));
                }
            }
            p => out.push(OsStr::from_bytes(p)),
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(out.iter().collect()))
}

/// Extract a tar stream into `base` inside `root` (`base` must exist; it is never made). Every entry's parent is
/// resolved inside `root` by the kernel (symlinks evaluated as if `root` were `/`, see [`berth_fs::in_root`]) and every
/// entry is made relative to its parent's descriptor, so nothing can be created or changed outside `root`, even in
/// a tree that a running container changes meanwhile. Hard links must point inside the archive's destination.
/// Ownership, mode, mtime and xattrs are preserved.
pub(crate) fn apply_tar(root: &Path, base: &Path, reader: impl Read, opts: &ApplyOptions) -> Result<(), ImageError> {
    let tree = Root::open(root)?;
    let mut archive = tar::Archive::new(reader);
    let mut dir_times: Vec<(PathBuf, u64)> = Vec::new();
    let entries = archive.entries().map_err(|e| ImageError::unreadable_archive(&e))?;
    let mut unpacked: u64 = 0;
    for entry in entries {
        let mut entry = entry.map_err(|e| ImageError::unreadable_archive(&e))?;
        if let Some(limit) = opts.max_bytes {
            unpacked = unpacked.saturating_add(entry.size()).saturating_add(ENTRY_OVERHEAD);
            if unpacked > limit {
                return Err(ImageError::TooLarge { limit });
            }
        }
        apply_entry(&tree, base, &mut entry, opts, &mut dir_times)?;
    }
    // Directory mtimes last, deepest first: creating children changed them. Found again by name; one that went
    // away meanwhile (a running container's doing) keeps whatever time it has.
    for (path, mtime) in dir_times.iter().rev() {
        match tree.entry(path) {
            Ok(dir) => dir.at().set_times(mtime_secs(*mtime)).ctx(path)?,
            Err(e) => tracing::debug!(path = %path.display(), error = %e, "directory gone before its mtime was set"),
        }
    }
    Ok(())
}

fn mtime_secs(mtime: u64) -> i64 {
    i64::try_from(mtime).unwrap_or(0)
}

fn apply_entry<R: Read>(
    tree: &Root,
    base: &Path,
    entry: &mut tar::Entry<'_, R>,
    opts: &ApplyOptions,
    dir_times: &mut Vec<(PathBuf, u64)>,
) -> Result<(), ImageError> {
    let raw_path = entry.path().ctx(tree.path())?.into_owned();
    let kind = entry.header().entry_type();
    if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader | EntryType::GNULongName | EntryType::GNULongLink) {
        return Ok(());
    }
    if opts.host_tree && matches!(kind, EntryType::Char | EntryType::Block) {
        return Err(ImageError::unsafe_path(display_bytes(&raw_path), "device nodes are not allowed here"));
    }
    let Some(rel) = clean_entry_path(&raw_path)? else {
        if opts.apply_root_metadata && kind == EntryType::Directory {
            let dir = Entry::new(tree.resolve_dir(base)?, ".");
            set_metadata(dir.at(), base, entry.header(), false, opts.ids)?;
            dir_times.push((base.to_path_buf(), entry.header().mtime().unwrap_or(0)));
        }
        return Ok(());
    };
    let name = match rel.file_name() {
        Some(n) => n.to_os_string(),
        None => return Ok(()),
    };
    let shown = base.join(&rel);
    let parent = tree.mkdir_all_below(base, rel.parent().unwrap_or(Path::new("")), 0o755, None)?;
    let name_str = name.to_string_lossy();

    if opts.overlay_whiteouts && name_str.starts_with(WHITEOUT_PREFIX) {
        if name_str == WHITEOUT_OPAQUE {
            berth_fs::xattr::set_fd(parent.as_fd(), OVERLAY_OPAQUE_XATTR, b"y").ctx(&shown)?;
        } else if name_str.starts_with(WHITEOUT_META_PREFIX) {
            tracing::debug!(entry = %display_bytes(&raw_path), "ignoring whiteout metadata entry");
        } else {
            let victim = &name_str[WHITEOUT_PREFIX.len()..];
            if victim.is_empty() || victim == "." || victim == ".." {
                return Err(ImageError::unsafe_path(display_bytes(&raw_path), "invalid whiteout"));
            }
            let victim = OsStr::from_bytes(&name.as_bytes()[WHITEOUT_PREFIX.len()..]);
            let target = At { dir: parent.as_fd(), name: victim };
            target.remove_all().ctx(&shown)?;
            target.mknod(SFlag::S_IFCHR, 0, 0).ctx(&shown)?;
            lchown(target, &shown, entry.header(), opts.ids)?;
        }
        return Ok(());
    }

    let target = At { dir: parent.as_fd(), name: &name };
    let existing = target.metadata().ok();
    if let Some(old) = &existing {
        let new_is_dir = kind == EntryType::Directory;
        if opts.no_overwrite_dir_non_dir && old.is_dir() != new_is_dir {
            return Err(ImageError::unsafe_path(
                display_bytes(&raw_path),
                if old.is_dir() {
                    "cannot overwrite directory with non-directory"
                } else {
                    "cannot overwrite non-directory with directory"
                },
            ));
        }
        if !(old.is_dir() && new_is_dir) {
            target.remove_all().ctx(&shown)?;
        }
    }

    let header = entry.header().clone();
    let mtime = mtime_secs(header.mtime().unwrap_or(0));
    match kind {
        EntryType::Directory => {
            if existing.as_ref().map(|m| m.is_dir()) != Some(true) {
                target.mkdir(0o700).ctx(&shown)?;
            }
            set_metadata(target, &shown, &header, false, opts.ids)?;
            dir_times.push((shown.clone(), header.mtime().unwrap_or(0)));
        }
        EntryType::Symlink => {
            let link = entry
                .link_name()
                .ctx(&shown)?
                .ok_or_else(|| ImageError::unsafe_path(display_bytes(&raw_path), "symlink without target"))?;
            target.symlink(&link).ctx(&shown)?;
            set_metadata(target, &shown, &header, true, opts.ids)?;
        }
        EntryType::Link => {
            let link = entry
                .link_name()
                .ctx(&shown)?
                .ok_or_else(|| ImageError::unsafe_path(display_bytes(&raw_path), "hard link without target"))?;
            let link_rel = clean_entry_path(&link)?
                .ok_or_else(|| ImageError::unsafe_path(display_bytes(&link), "hard link to the destination"))?;
            let source = tree.entry(&base.join(link_rel))?;
            match source.at().metadata() {
                Ok(m) if !m.is_dir() => {}
                _ => {
                    return Err(ImageError::unsafe_path(
                        display_bytes(&link),
                        "hard link target missing or a directory",
                    ))
                }
            }
            target.hard_link_from(source.at()).ctx(&shown)?;
        }
        EntryType::Char | EntryType::Block | EntryType::Fifo => {
            let fmt = match kind {
                EntryType::Char => SFlag::S_IFCHR,
                EntryType::Block => SFlag::S_IFBLK,
                _ => SFlag::S_IFIFO,
            };
            let major = header.device_major().ok().flatten().unwrap_or(0);
            let minor = header.device_minor().ok().flatten().unwrap_or(0);
            target.mknod(fmt, 0o600, libc::makedev(major, minor)).ctx(&shown)?;
            set_metadata(target, &shown, &header, false, opts.ids)?;
            target.set_times(mtime).ctx(&shown)?;
        }
        _ => {
            // Regular files, and (POSIX says) any unknown type.
            let mut f = target.create_file(0o600).ctx(&shown)?;
            io::copy(entry, &mut f).ctx(&shown)?;
            drop(f);
            set_metadata(target, &shown, &header, false, opts.ids)?;
            target.set_times(mtime).ctx(&shown)?;
        }
    }
    if opts.host_tree {
        drop_set_id_bits(target, &shown, &header)?;
    } else if kind != EntryType::Link {
        apply_pax_xattrs(entry, target, &shown)?;
    }
    if kind == EntryType::Symlink {
        target.set_times(mtime).ctx(&shown)?;
    }
    Ok(())
}

/// Owner first (chown clears setuid), then mode (not for symlinks).
fn set_metadata(
    target: At<'_>,
    shown: &Path,
    header: &Header,
    is_symlink: bool,
    ids: Option<IdShift>,
) -> Result<(), ImageError> {
    lchown(target, shown, header, ids)?;
    if !is_symlink {
        target.chmod(header.mode().unwrap_or(0o644) & 0o7777).ctx(shown)?;
    }
    Ok(())
}

/// On the host a setuid file would be a way in for whoever can reach it.
fn drop_set_id_bits(target: At<'_>, shown: &Path, header: &Header) -> Result<(), ImageError> {
    let mode = header.mode().unwrap_or(0o644);
    if mode & 0o6000 == 0 || header.entry_type().is_symlink() || header.entry_type().is_hard_link() {
        return Ok(());
    }
    target.chmod(mode & 0o1777).ctx(shown)
}

fn lchown(target: At<'_>, shown: &Path, header: &Header, ids: Option<IdShift>) -> Result<(), ImageError> {
    let uid = u32::try_from(header.uid().unwrap_or(0)).unwrap_or(0);
    let gid = u32::try_from(header.gid().unwrap_or(0)).unwrap_or(0);
    let (uid, gid) = match ids {
        Some(ids) => (ids.host_uid(uid), ids.host_gid(gid)),
        None => (uid, gid),
    };
    match target.chown(uid, gid) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            tracing::warn!(path = %shown.display(), uid, gid, "cannot chown (not root?)");
            Ok(())
        }
        Err(e) => Err(ImageError::io(shown, e)),
    }
}

fn apply_pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>, target: At<'_>, shown: &Path) -> Result<(), ImageError> {
    let Some(exts) = entry.pax_extensions().ctx(shown)? else {
        return Ok(());
    };
    for ext in exts {
        let ext = ext.ctx(shown)?;
        let Ok(key) = ext.key() else { continue };
        let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) else {
            continue;
        };
        if name.starts_with(OVERLAY_XATTR_PREFIX) {
            tracing::warn!(path = %shown.display(), xattr = name, "ignoring overlay xattr from archive");
            continue;
        }
        if let Err(e) = target.set_xattr(name, ext.value_bytes()) {
            tracing::warn!(path = %shown.display(), xattr = name, error = %e, "cannot set xattr");
        }
    }
    Ok(())
}

/// The value of xattr `name` on `path` (not following symlinks), or `None`.
pub(crate) fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    berth_fs::xattr::get(path, name).ok().flatten()
}

/// Overlayfs whiteout: a character device 0:0.
pub(crate) fn is_overlay_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// A directory carrying `trusted.overlay.opaque=y`.
pub(crate) fn is_opaque_dir(path: &Path) -> bool {
    get_xattr(path, OVERLAY_OPAQUE_XATTR).as_deref() == Some(b"y")
}

/// Entry names of a directory, sorted bytewise.
pub(crate) fn sorted_dir(dir: &Path) -> Result<Vec<OsString>, ImageError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).ctx(dir)? {
        names.push(entry.ctx(dir)?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// How [`TreeTar`] writes entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct TarOptions {
    /// Convert overlayfs whiteouts (0:0 char devices, opaque xattr) to OCI `.wh.` entries.
    pub overlay_whiteouts: bool,
    /// Do not descend into directories on another device than the first entry.
    pub one_file_system: bool,
    /// The tree is a remapped container's: owners are written as the ids the container sees.
    pub ids: Option<IdShift>,
}

/// Writes directory trees into a tar, sorted, with hard links preserved.
pub(crate) struct TreeTar<W: Write> {
    builder: tar::Builder<W>,
    opts: TarOptions,
    links: HashMap<(u64, u64), PathBuf>,
    root_dev: Option<u64>,
    entries: u64,
}

impl<W: Write> TreeTar<W> {
    pub(crate) fn new(out: W, opts: TarOptions) -> Self {
        TreeTar { builder: tar::Builder::new(out), opts, links: HashMap::new(), root_dev: None, entries: 0 }
    }

    /// Use the device of `dir` as the one not to leave (with `one_file_system`).
    pub(crate) fn set_root_dev(&mut self, dir: BorrowedFd<'_>) -> Result<(), ImageError> {
        self.root_dev = Some(fstat(dir).map_err(io::Error::from).ctx("the tree's root")?.st_dev);
        Ok(())
    }

    /// Append everything in directory `dir` (not the directory itself), each under its own name.
    pub(crate) fn append_children(&mut self, dir: BorrowedFd<'_>) -> Result<(), ImageError> {
        for name in in_root::read_dir_names(dir).ctx("the tree's root")? {
            self.append(At { dir, name: &name }, Path::new(&name))?;
        }
        Ok(())
    }

    /// Number of entries written.
    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }

    pub(crate) fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }

    /// Append the entry `src` (recursively) under the name `name`. The walk holds each entry by descriptor and goes
    /// on relative to it: a directory swapped for a symlink meanwhile is never followed, and a file is read through
    /// the descriptor that was looked at (see [`berth_fs::in_root`]).
    pub(crate) fn append(&mut self, src: At<'_>, name: &Path) -> Result<(), ImageError> {
        let fd = src.open_path().ctx(name)?;
        let meta = fstat_meta(&fd).ctx(name)?;
        let root_dev = *self.root_dev.get_or_insert(meta.dev());
        let ft = meta.file_type();
        let mut header = Header::new_gnu();
        header.set_mode(meta.mode() & 0o7777);
        let (uid, gid) = match self.opts.ids {
            Some(ids) => (ids.container_uid(meta.uid()), ids.container_gid(meta.gid())),
            None => (meta.uid(), meta.gid()),
        };
        header.set_uid(u64::from(uid));
        header.set_gid(u64::from(gid));
        header.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
        header.set_size(0);

        if self.opts.overlay_whiteouts && is_overlay_whiteout(&meta) {
            let file_name = name.file_name().unwrap_or_default();
            let mut wh = OsString::from(WHITEOUT_PREFIX);
            wh.push(file_name);
            let wh_path = name.parent().unwrap_or(Path::new("")).join(wh);
            header.set_entry_type(EntryType::Regular);
            header.set_mode(0o600);
            self.builder.append_data(&mut header, &wh_path, io::empty()).ctx(name)?;
            self.entries += 1;
            return Ok(());
        }

        if ft.is_socket() {
            tracing::debug!(path = %name.display(), "skipping socket");
            return Ok(());
        }
        let xattrs = xattr_records(fd.as_fd(), &meta);
        if ft.is_dir() {
            header.set_entry_type(EntryType::Directory);
            let mut dir_name = name.as_os_str().to_os_string();
            if !dir_name.as_bytes().ends_with(b"/") {
                dir_name.push("/");
            }
            self.append_pax(with_names(xattrs, Path::new(&dir_name), None), name)?;
            self.builder.append_data(&mut header, Path::new(&dir_name), io::empty()).ctx(name)?;
            self.entries += 1;
            if self.opts.overlay_whiteouts
                && berth_fs::xattr::get_fd(fd.as_fd(), OVERLAY_OPAQUE_XATTR).ok().flatten().as_deref() == Some(b"y")
            {
                let mut h = Header::new_gnu();
                h.set_entry_type(EntryType::Regular);
                h.set_mode(0o600);
                h.set_size(0);
                h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
                self.builder.append_data(&mut h, name.join(WHITEOUT_OPAQUE), io::empty()).ctx(name)?;
                self.entries += 1;
            }
            if self.opts.one_file_system && meta.dev() != root_dev {
                tracing::debug!(path = %name.display(), "not crossing into another filesystem");
                return Ok(());
            }
            for child in in_root::read_dir_names(fd.as_fd()).ctx(name)? {
                self.append(At { dir: fd.as_fd(), name: &child }, &name.join(&child))?;
            }
            return Ok(());
        }
        if ft.is_symlink() {
            // Read through the descriptor: the link that was looked at, even if the name is something else now.
            let target = nix::fcntl::readlinkat(&fd, "").map_err(io::Error::from).ctx(name)?;
            header.set_entry_type(EntryType::Symlink);
            self.append_pax(with_names(xattrs, name, None), name)?;
            self.builder.append_link(&mut header, name, Path::new(&target)).ctx(name)?;
            self.entries += 1;
            return Ok(());
        }
        if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            header.set_entry_type(if ft.is_char_device() {
                EntryType::Char
            } else if ft.is_block_device() {
                EntryType::Block
            } else {
                EntryType::Fifo
            });
            let rdev = meta.rdev();
            header.set_device_major(libc::major(rdev)).ctx(name)?;
            header.set_device_minor(libc::minor(rdev)).ctx(name)?;
            self.append_pax(with_names(xattrs, name, None), name)?;
            self.builder.append_data(&mut header, name, io::empty()).ctx(name)?;
            self.entries += 1;
            return Ok(());
        }
        // Regular file (or hard link to one already written).
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                header.set_entry_type(EntryType::Link);
                let first = first.clone();
                self.append_pax(with_names(xattrs, name, Some(&first)), name)?;
                self.builder.append_link(&mut header, name, &first).ctx(name)?;
                self.entries += 1;
                return Ok(());
            }
            self.links.insert(key, name.to_path_buf());
        }
        header.set_entry_type(EntryType::Regular);
        header.set_size(meta.len());
        // The inode the descriptor holds, reopened for reading: a regular file, checked above.
        let file = in_root::reopen(fd.as_fd(), OFlag::O_RDONLY).ctx(name)?;
        // Guard against the file changing size under us: the header promised meta.len() bytes.
        let reader = file.take(meta.len()).chain(io::repeat(0)).take(meta.len());
        self.append_pax(with_names(xattrs, name, None), name)?;
        self.builder.append_data(&mut header, name, reader).ctx(name)?;
        self.entries += 1;
        Ok(())
    }

    /// Emit one PAX header with `records`, if there are any, for the entry that follows.
    fn append_pax(&mut self, records: Vec<u8>, name: &Path) -> Result<(), ImageError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut h = Header::new_ustar();
        h.set_entry_type(EntryType::XHeader);
        h.set_path("PaxHeader").ctx(name)?;
        h.set_mode(0o644);
        h.set_size(records.len() as u64);
        h.set_cksum();
        self.builder.append(&h, records.as_slice()).ctx(name)?;
        Ok(())
    }
}

/// The PAX record carrying `security.capability`, if the file has one (never for a symlink).
fn xattr_records(fd: BorrowedFd<'_>, meta: &fs::Metadata) -> Vec<u8> {
    if meta.file_type().is_symlink() {
        return Vec::new();
    }
    match berth_fs::xattr::get_fd(fd, CAPABILITY_XATTR).ok().flatten() {
        Some(value) => pax_record(&format!("{PAX_XATTR_PREFIX}{CAPABILITY_XATTR}"), &value),
        None => Vec::new(),
    }
}

/// `records` plus `path` (and `linkpath` for a hard link) when a name starts with `./`: the tar crate drops `.`
/// components from header names, but `docker cp ctr:/dir/. dest` needs its entries below `./`, the base the CLI
/// renames to its destination (moby's TarWithOptions writes them so).
fn with_names(mut records: Vec<u8>, name: &Path, hard_link: Option<&Path>) -> Vec<u8> {
    let below_dot = |p: &Path| p.as_os_str().as_bytes().starts_with(b"./") && p.as_os_str().len() > 2;
    if below_dot(name) {
        records.extend(pax_record("path", name.as_os_str().as_bytes()));
    }
    if let Some(link) = hard_link.filter(|l| below_dot(l)) {
        records.extend(pax_record("linkpath", link.as_os_str().as_bytes()));
    }
    records
}

/// `fstat` as [`fs::Metadata`] without giving up the descriptor.
fn fstat_meta(fd: &OwnedFd) -> io::Result<fs::Metadata> {
    in_root::fd_metadata(fd.try_clone()?)
}

/// One PAX record: "<len> <key>=<value>\n" where len counts the whole record.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut rec = format!("{len} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

/// Write the diff in an overlayfs upper dir as an OCI layer tar. Returns the number of entries written
/// (0: the upper dir is empty).
pub(crate) fn diff_upper_to_tar<W: Write>(upper: &Path, ids: Option<IdShift>, out: W) -> Result<(W, u64), ImageError> {
    // A running container's upper dir changes under the walk (docker commit without --pause): held by descriptor.
    let tree = Root::open(upper)?;
    let mut t = TreeTar::new(out, TarOptions { overlay_whiteouts: true, one_file_system: false, ids });
    t.append_children(tree.as_fd())?;
    let n = t.entries();
    let w = t.finish().ctx(upper)?;
    Ok((w, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths() {
        assert_eq!(pax_record("a", b"b"), b"6 a=b\n");
        let r = pax_record("SCHILY.xattr.user.x", &[0u8; 100]);
        let len: usize =
            std::str::from_utf8(&r[..r.iter().position(|b| *b == b' ').unwrap()]).unwrap().parse().unwrap();
        assert_eq!(len, r.len());
    }

    #[test]
    fn entries_through_symlinks_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        fs::create_dir(&root).unwrap();
        fs::create_dir(&outside).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let link = |b: &mut tar::Builder<Vec<u8>>, name: &str, target: &Path, kind: EntryType| {
            let mut h = Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, name, target).unwrap();
        };
        link(&mut b, "escape", &outside, EntryType::Symlink);
        link(&mut b, "up", Path::new("../../.."), EntryType::Symlink);
        let file = |b: &mut tar::Builder<Vec<u8>>, name: &str| {
            let mut h = Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            b.append_data(&mut h, name, &b"x"[..]).unwrap();
        };
        file(&mut b, "escape/through-abs");
        file(&mut b, "up/through-dotdot");
        link(&mut b, "hard", Path::new("escape/through-abs"), EntryType::Link);
        let tar = b.into_inner().unwrap();
        apply_tar(&root, Path::new(""), &tar[..], &ApplyOptions::default()).unwrap();
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "nothing written outside the root");
        let inside = root.join(outside.strip_prefix("/").unwrap());
        assert!(inside.join("through-abs").is_file());
        assert!(root.join("through-dotdot").is_file());
        assert_eq!(
            fs::metadata(root.join("hard")).unwrap().ino(),
            fs::metadata(inside.join("through-abs")).unwrap().ino()
        );
    }

    #[test]
    fn entry_paths_are_cleaned() {
        assert_eq!(clean_entry_path(Path::new("./a/b/../c")).unwrap(), Some(PathBuf::from("a/c")));
        assert_eq!(clean_entry_path(Path::new("/etc/passwd")).unwrap(), Some(PathBuf::from("etc/passwd")));
        assert_eq!(clean_entry_path(Path::new("./")).unwrap(), None);
        assert!(clean_entry_path(Path::new("../../evil")).is_err());
        assert!(clean_entry_path(Path::new("a/../../evil")).is_err());
    }
}
