//! Layer tars: safe extraction (with OCI → overlayfs whiteout conversion) and creation from a directory tree
//! (with overlayfs → OCI whiteout conversion).
//!
//! OCI whiteouts: `.wh.name` deletes `name`; `.wh..wh..opq` makes its directory opaque.
//! Overlayfs whiteouts: a 0:0 character device `name`; xattr `trusted.overlay.opaque=y` on the directory.

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::archive::{display_bytes, resolve_rel};
use super::error::{ImageError, IoContext};

pub(crate) const WHITEOUT_PREFIX: &str = ".wh.";
pub(crate) const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
pub(crate) const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";
pub(crate) const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";
/// The only xattr written into tars (like Docker): file capabilities.
const CAPABILITY_XATTR: &str = "security.capability";

/// Wrap `r` in a gzip decoder if it starts with the gzip magic.
pub(crate) fn maybe_gunzip<'a, R: Read + 'a>(r: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut buf = BufReader::new(r);
    let head = buf.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(flate2::read::GzDecoder::new(buf)))
    } else {
        Ok(Box::new(buf))
    }
}

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

/// Extract a tar stream into `root.join(base)`. Every entry's parent is resolved inside `root` (symlinks
/// evaluated as if `root` were `/`), so no entry can create or modify anything outside `root`.
/// Hard links must point inside the archive's destination. Ownership, mode, mtime and xattrs are preserved.
pub(crate) fn apply_tar(root: &Path, base: &Path, reader: impl Read, opts: &ApplyOptions) -> Result<(), ImageError> {
    let mut archive = tar::Archive::new(reader);
    let mut dir_times: Vec<(PathBuf, u64)> = Vec::new();
    let entries = archive.entries().ctx(root)?;
    let mut unpacked: u64 = 0;
    for entry in entries {
        let mut entry = entry.ctx(root)?;
        if let Some(limit) = opts.max_bytes {
            unpacked = unpacked.saturating_add(entry.size()).saturating_add(ENTRY_OVERHEAD);
            if unpacked > limit {
                return Err(ImageError::TooLarge { limit });
            }
        }
        apply_entry(root, base, &mut entry, opts, &mut dir_times)?;
    }
    // Directory mtimes last, deepest first: creating children changed them.
    for (path, mtime) in dir_times.iter().rev() {
        set_mtime(path, *mtime)?;
    }
    Ok(())
}

fn apply_entry<R: Read>(
    root: &Path,
    base: &Path,
    entry: &mut tar::Entry<'_, R>,
    opts: &ApplyOptions,
    dir_times: &mut Vec<(PathBuf, u64)>,
) -> Result<(), ImageError> {
    let raw_path = entry.path().ctx(root)?.into_owned();
    let kind = entry.header().entry_type();
    if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader | EntryType::GNULongName | EntryType::GNULongLink) {
        return Ok(());
    }
    if opts.host_tree && matches!(kind, EntryType::Char | EntryType::Block) {
        return Err(ImageError::unsafe_path(display_bytes(&raw_path), "device nodes are not allowed here"));
    }
    let Some(rel) = clean_entry_path(&raw_path)? else {
        if opts.apply_root_metadata && kind == EntryType::Directory {
            let dir = root.join(base);
            set_metadata(&dir, entry.header(), false)?;
            dir_times.push((dir, entry.header().mtime().unwrap_or(0)));
        }
        return Ok(());
    };
    let name = match rel.file_name() {
        Some(n) => n.to_os_string(),
        None => return Ok(()),
    };
    let parent_rel = base.join(rel.parent().unwrap_or(Path::new("")));
    let parent = ensure_dir_in_root(root, &parent_rel)?;
    let name_str = name.to_string_lossy();

    if opts.overlay_whiteouts && name_str.starts_with(WHITEOUT_PREFIX) {
        if name_str == WHITEOUT_OPAQUE {
            set_xattr(&parent, OVERLAY_OPAQUE_XATTR, b"y")?;
        } else if name_str.starts_with(WHITEOUT_META_PREFIX) {
            tracing::debug!(entry = %display_bytes(&raw_path), "ignoring whiteout metadata entry");
        } else {
            let victim = &name_str[WHITEOUT_PREFIX.len()..];
            if victim.is_empty() || victim == "." || victim == ".." {
                return Err(ImageError::unsafe_path(display_bytes(&raw_path), "invalid whiteout"));
            }
            let target = parent.join(OsStr::from_bytes(&name.as_bytes()[WHITEOUT_PREFIX.len()..]));
            remove_existing(&target)?;
            mknod(&target, libc::S_IFCHR, 0, 0)?;
            lchown(&target, entry.header().uid().unwrap_or(0), entry.header().gid().unwrap_or(0))?;
        }
        return Ok(());
    }

    let target = parent.join(&name);
    let existing = fs::symlink_metadata(&target).ok();
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
            remove_existing(&target)?;
        }
    }

    let header = entry.header().clone();
    match kind {
        EntryType::Directory => {
            if existing.as_ref().map(|m| m.is_dir()) != Some(true) {
                fs::create_dir(&target).ctx(&target)?;
            }
            set_metadata(&target, &header, false)?;
            dir_times.push((target.clone(), header.mtime().unwrap_or(0)));
        }
        EntryType::Symlink => {
            let link = entry
                .link_name()
                .ctx(&target)?
                .ok_or_else(|| ImageError::unsafe_path(display_bytes(&raw_path), "symlink without target"))?;
            std::os::unix::fs::symlink(&link, &target).ctx(&target)?;
            set_metadata(&target, &header, true)?;
        }
        EntryType::Link => {
            let link = entry
                .link_name()
                .ctx(&target)?
                .ok_or_else(|| ImageError::unsafe_path(display_bytes(&raw_path), "hard link without target"))?;
            let link_rel = clean_entry_path(&link)?
                .ok_or_else(|| ImageError::unsafe_path(display_bytes(&link), "hard link to the destination"))?;
            let source = resolve_entry_nofollow(root, &base.join(link_rel))?;
            match fs::symlink_metadata(&source) {
                Ok(m) if !m.is_dir() => {}
                _ => {
                    return Err(ImageError::unsafe_path(
                        display_bytes(&link),
                        "hard link target missing or a directory",
                    ))
                }
            }
            fs::hard_link(&source, &target).ctx(&target)?;
        }
        EntryType::Char | EntryType::Block | EntryType::Fifo => {
            let fmt = match kind {
                EntryType::Char => libc::S_IFCHR,
                EntryType::Block => libc::S_IFBLK,
                _ => libc::S_IFIFO,
            };
            let major = header.device_major().ok().flatten().unwrap_or(0);
            let minor = header.device_minor().ok().flatten().unwrap_or(0);
            mknod(&target, fmt | 0o600, major, minor)?;
            set_metadata(&target, &header, false)?;
            set_mtime(&target, header.mtime().unwrap_or(0))?;
        }
        _ => {
            // Regular files, and (POSIX says) any unknown type.
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&target).ctx(&target)?;
            io::copy(entry, &mut f).ctx(&target)?;
            drop(f);
            set_metadata(&target, &header, false)?;
            set_mtime(&target, header.mtime().unwrap_or(0))?;
        }
    }
    if opts.host_tree {
        drop_set_id_bits(&target, &header)?;
    } else if kind != EntryType::Link {
        apply_pax_xattrs(entry, &target)?;
    }
    if kind == EntryType::Symlink {
        set_mtime(&target, header.mtime().unwrap_or(0))?;
    }
    Ok(())
}

/// Resolve a path relative to `root` whose last component is not followed.
fn resolve_entry_nofollow(root: &Path, rel: &Path) -> Result<PathBuf, ImageError> {
    Ok(root.join(resolve_rel(root, rel, false)?))
}

/// Resolve `rel` inside `root` (following symlinks in scope) and create the missing directories (0755).
fn ensure_dir_in_root(root: &Path, rel: &Path) -> Result<PathBuf, ImageError> {
    let resolved = resolve_rel(root, rel, true)?;
    let mut cur = root.to_path_buf();
    for c in resolved.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(ImageError::NotADirectory { path: display_bytes(&cur) }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&cur).ctx(&cur)?;
                fs::set_permissions(&cur, fs::Permissions::from_mode(0o755)).ctx(&cur)?;
            }
            Err(e) => return Err(ImageError::io(&cur, e)),
        }
    }
    Ok(cur)
}

fn remove_existing(path: &Path) -> Result<(), ImageError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).ctx(path),
        Ok(_) => fs::remove_file(path).ctx(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ImageError::io(path, e)),
    }
}

/// Owner first (chown clears setuid), then mode (not for symlinks).
fn set_metadata(path: &Path, header: &Header, is_symlink: bool) -> Result<(), ImageError> {
    lchown(path, header.uid().unwrap_or(0), header.gid().unwrap_or(0))?;
    if !is_symlink {
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).ctx(path)?;
    }
    Ok(())
}

/// On the host a setuid file would be a way in for whoever can reach it.
fn drop_set_id_bits(path: &Path, header: &Header) -> Result<(), ImageError> {
    let mode = header.mode().unwrap_or(0o644);
    if mode & 0o6000 == 0 || header.entry_type().is_symlink() || header.entry_type().is_hard_link() {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o1777)).ctx(path)
}

fn lchown(path: &Path, uid: u64, gid: u64) -> Result<(), ImageError> {
    let (uid, gid) = (u32::try_from(uid).unwrap_or(0), u32::try_from(gid).unwrap_or(0));
    match std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            tracing::warn!(path = %path.display(), uid, gid, "cannot chown (not root?)");
            Ok(())
        }
        Err(e) => Err(ImageError::io(path, e)),
    }
}

fn apply_pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>, target: &Path) -> Result<(), ImageError> {
    let Some(exts) = entry.pax_extensions().ctx(target)? else {
        return Ok(());
    };
    for ext in exts {
        let ext = ext.ctx(target)?;
        let Ok(key) = ext.key() else { continue };
        let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) else {
            continue;
        };
        if name.starts_with(OVERLAY_XATTR_PREFIX) {
            tracing::warn!(path = %target.display(), xattr = name, "ignoring overlay xattr from archive");
            continue;
        }
        if let Err(e) = set_xattr(target, name, ext.value_bytes()) {
            tracing::warn!(path = %target.display(), xattr = name, error = %e, "cannot set xattr");
        }
    }
    Ok(())
}

fn cpath(path: &Path) -> Result<CString, ImageError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| ImageError::unsafe_path(display_bytes(path), "path contains a NUL byte"))
}

fn mknod(path: &Path, mode: libc::mode_t, major: u32, minor: u32) -> Result<(), ImageError> {
    let c = cpath(path)?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call; mknod does not retain it.
    let rc = unsafe { libc::mknod(c.as_ptr(), mode, libc::makedev(major, minor)) };
    if rc != 0 {
        return Err(ImageError::io(path, io::Error::last_os_error()));
    }
    Ok(())
}

/// Set atime and mtime of `path` (not following a symlink).
pub(crate) fn set_mtime(path: &Path, mtime: u64) -> Result<(), ImageError> {
    let c = cpath(path)?;
    let t = libc::timespec { tv_sec: i64::try_from(mtime).unwrap_or(0) as libc::time_t, tv_nsec: 0 };
    let times = [t, t];
    // SAFETY: `c` is NUL-terminated and `times` is an array of two timespecs, both valid for the call.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    if rc != 0 {
        return Err(ImageError::io(path, io::Error::last_os_error()));
    }
    Ok(())
}

pub(crate) fn set_xattr(path: &Path, name: &str, value: &[u8]) -> Result<(), ImageError> {
    let c = cpath(path)?;
    let n = CString::new(name).map_err(|_| ImageError::unsafe_path(name, "xattr name contains a NUL byte"))?;
    // SAFETY: both strings are NUL-terminated and live across the call; `value` is valid for `value.len()` bytes.
    let rc = unsafe { libc::lsetxattr(c.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if rc != 0 {
        return Err(ImageError::io(path, io::Error::last_os_error()));
    }
    Ok(())
}

/// The value of xattr `name` on `path` (not following symlinks), or `None`.
pub(crate) fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let c = cpath(path).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: strings are NUL-terminated; `buf` is writable for `buf.len()` bytes.
        let rc = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if rc >= 0 {
            buf.truncate(rc as usize);
            return Some(buf);
        }
        if io::Error::last_os_error().raw_os_error() == Some(libc::ERANGE) && buf.len() < 65536 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        return None;
    }
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
    pub(crate) fn set_root_dev(&mut self, dir: &Path) -> Result<(), ImageError> {
        self.root_dev = Some(fs::symlink_metadata(dir).ctx(dir)?.dev());
        Ok(())
    }

    /// Number of entries written.
    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }

    pub(crate) fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }

    /// Append `src` (recursively) under the name `name`.
    pub(crate) fn append(&mut self, src: &Path, name: &Path) -> Result<(), ImageError> {
        let meta = fs::symlink_metadata(src).ctx(src)?;
        let root_dev = *self.root_dev.get_or_insert(meta.dev());
        let ft = meta.file_type();
        let mut header = Header::new_gnu();
        header.set_mode(meta.mode() & 0o7777);
        header.set_uid(u64::from(meta.uid()));
        header.set_gid(u64::from(meta.gid()));
        header.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
        header.set_size(0);

        if self.opts.overlay_whiteouts && is_overlay_whiteout(&meta) {
            let file_name = name.file_name().unwrap_or_default();
            let mut wh = OsString::from(WHITEOUT_PREFIX);
            wh.push(file_name);
            let wh_path = name.parent().unwrap_or(Path::new("")).join(wh);
            header.set_entry_type(EntryType::Regular);
            header.set_mode(0o600);
            self.builder.append_data(&mut header, &wh_path, io::empty()).ctx(src)?;
            self.entries += 1;
            return Ok(());
        }

        if ft.is_socket() {
            tracing::debug!(path = %src.display(), "skipping socket");
            return Ok(());
        }
        self.append_xattrs(src, &meta)?;
        if ft.is_dir() {
            header.set_entry_type(EntryType::Directory);
            let mut dir_name = name.as_os_str().to_os_string();
            if !dir_name.as_bytes().ends_with(b"/") {
                dir_name.push("/");
            }
            self.builder.append_data(&mut header, Path::new(&dir_name), io::empty()).ctx(src)?;
            self.entries += 1;
            if self.opts.overlay_whiteouts && is_opaque_dir(src) {
                let mut h = Header::new_gnu();
                h.set_entry_type(EntryType::Regular);
                h.set_mode(0o600);
                h.set_size(0);
                h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
                self.builder.append_data(&mut h, name.join(WHITEOUT_OPAQUE), io::empty()).ctx(src)?;
                self.entries += 1;
            }
            if self.opts.one_file_system && meta.dev() != root_dev {
                tracing::debug!(path = %src.display(), "not crossing into another filesystem");
                return Ok(());
            }
            for child in sorted_dir(src)? {
                self.append(&src.join(&child), &name.join(&child))?;
            }
            return Ok(());
        }
        if ft.is_symlink() {
            let target = fs::read_link(src).ctx(src)?;
            header.set_entry_type(EntryType::Symlink);
            self.builder.append_link(&mut header, name, &target).ctx(src)?;
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
            header.set_device_major(libc::major(rdev)).ctx(src)?;
            header.set_device_minor(libc::minor(rdev)).ctx(src)?;
            self.builder.append_data(&mut header, name, io::empty()).ctx(src)?;
            self.entries += 1;
            return Ok(());
        }
        // Regular file (or hard link to one already written).
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                header.set_entry_type(EntryType::Link);
                let first = first.clone();
                self.builder.append_link(&mut header, name, &first).ctx(src)?;
                self.entries += 1;
                return Ok(());
            }
            self.links.insert(key, name.to_path_buf());
        }
        header.set_entry_type(EntryType::Regular);
        header.set_size(meta.len());
        let file = fs::File::open(src).ctx(src)?;
        // Guard against the file changing size under us: the header promised meta.len() bytes.
        let reader = file.take(meta.len()).chain(io::repeat(0)).take(meta.len());
        self.builder.append_data(&mut header, name, reader).ctx(src)?;
        self.entries += 1;
        Ok(())
    }

    /// Emit a PAX header carrying `security.capability`, if the file has one.
    fn append_xattrs(&mut self, src: &Path, meta: &fs::Metadata) -> Result<(), ImageError> {
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        let Some(value) = get_xattr(src, CAPABILITY_XATTR) else {
            return Ok(());
        };
        let key = format!("{PAX_XATTR_PREFIX}{CAPABILITY_XATTR}");
        let record = pax_record(&key, &value);
        let mut h = Header::new_ustar();
        h.set_entry_type(EntryType::XHeader);
        h.set_path("PaxHeader").ctx(src)?;
        h.set_mode(0o644);
        h.set_size(record.len() as u64);
        h.set_cksum();
        self.builder.append(&h, record.as_slice()).ctx(src)?;
        Ok(())
    }
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
pub(crate) fn diff_upper_to_tar<W: Write>(upper: &Path, out: W) -> Result<(W, u64), ImageError> {
    let mut t = TreeTar::new(out, TarOptions { overlay_whiteouts: true, one_file_system: false });
    for name in sorted_dir(upper)? {
        t.append(&upper.join(&name), Path::new(&name))?;
    }
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
    fn entry_paths_are_cleaned() {
        assert_eq!(clean_entry_path(Path::new("./a/b/../c")).unwrap(), Some(PathBuf::from("a/c")));
        assert_eq!(clean_entry_path(Path::new("/etc/passwd")).unwrap(), Some(PathBuf::from("etc/passwd")));
        assert_eq!(clean_entry_path(Path::new("./")).unwrap(), None);
        assert!(clean_entry_path(Path::new("../../evil")).is_err());
        assert!(clean_entry_path(Path::new("a/../../evil")).is_err());
    }
}
