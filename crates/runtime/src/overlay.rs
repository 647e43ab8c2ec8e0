//! The container's root filesystem in the daemon's mount namespace: an overlay of the image layers, or, where
//! overlay cannot mount, a copy of the layers into `upper` (like Docker's vfs driver) bind-mounted at `merged`.
//! How a layer is copied (what its whiteouts mean) is the caller's to say: this crate knows no image format.
//!
//! A container in a user namespace sees the layers through idmapped clones (`idmap.rs`) attached under
//! `<merged>.lowers/`, stacked by overlay and detached again (overlay keeps private clones of its layers); its
//! upper dir belongs to its remapped root. Where the kernel or the filesystem cannot idmap, the layers are copied as
//! in vfs mode and their owners shifted into the range.

use std::ffi::CString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use berth_fs::id_shift::IdShift;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::idmap;
use super::RuntimeError;

/// In `work`: says `upper` holds a full copy of the layers (vfs mode), so it is never copied over again.
const VFS_MARKER: &str = "berth-vfs";

/// Mounts `lowers` (lowest layer first) + `upper` + `work` at `merged`. Does nothing if `merged` is already a mount
/// point. Falls back to `copy_layer(layer, upper)` for each layer, lowest first, when overlay cannot be mounted.
/// With `ids`, the container's files are seen (and written) as that range's host ids.
pub fn mount_rootfs(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
    copy_layer: impl Fn(&Path, &Path) -> io::Result<()>,
    ids: Option<&IdShift>,
) -> Result<(), RuntimeError> {
    for d in [upper, work, merged] {
        fs::create_dir_all(d).map_err(|e| RuntimeError::path("mkdir", d, e))?;
    }
    if let Some(ids) = ids {
        // The merged root takes its owner from the upper dir's root.
        shift_owner(upper, ids)?;
    }
    if is_mount_point(merged) {
        tracing::debug!(merged = %merged.display(), "rootfs already mounted");
        return Ok(());
    }
    let marker = work.join(VFS_MARKER);
    if marker.exists() || lowers.is_empty() {
        return bind(upper, merged);
    }
    let mounted = match ids {
        None => mount_overlay(lowers, upper, work, merged),
        Some(ids) => mount_idmapped_overlay(lowers, upper, work, merged, ids),
    };
    match mounted {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, merged = %merged.display(), "overlay mount failed, copying layers (vfs)");
            for layer in lowers {
                copy_layer(layer, upper).map_err(|e| RuntimeError::path("copy layer", layer, e))?;
            }
            if let Some(ids) = ids {
                shift_tree(upper, ids)?;
            }
            fs::write(&marker, b"").map_err(|e| RuntimeError::path("write", &marker, e))?;
            bind(upper, merged)
        }
    }
}

/// The overlay over idmapped clones of `lowers`, attached for the mount only.
fn mount_idmapped_overlay(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
    ids: &IdShift,
) -> Result<(), RuntimeError> {
    let user_namespace = idmap::user_namespace(ids)?;
    let mut staging = merged.as_os_str().to_owned();
    staging.push(".lowers");
    let staging = PathBuf::from(staging);
    let mut clones = Vec::with_capacity(lowers.len());
    let result = (|| {
        for (index, layer) in lowers.iter().enumerate() {
            let clone = staging.join(index.to_string());
            // A clone a crash left behind is replaced.
            let _ = umount2(&clone, MntFlags::MNT_DETACH);
            fs::create_dir_all(&clone).map_err(|e| RuntimeError::path("mkdir", &clone, e))?;
            idmap::mount_idmapped(layer, &clone, std::os::fd::AsFd::as_fd(&*user_namespace))?;
            clones.push(clone);
        }
        mount_overlay(&clones, upper, work, merged)
    })();
    for clone in &clones {
        let _ = umount2(clone, MntFlags::MNT_DETACH);
    }
    let _ = fs::remove_dir_all(&staging);
    result
}

/// Gives `path` to the range's root if the host's root has it (a fresh upper dir).
fn shift_owner(path: &Path, ids: &IdShift) -> Result<(), RuntimeError> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(path).map_err(|e| RuntimeError::path("stat", path, e))?;
    if meta.uid() < ids.size && meta.gid() < ids.size {
        std::os::unix::fs::lchown(path, Some(ids.host_uid(meta.uid())), Some(ids.host_gid(meta.gid())))
            .map_err(|e| RuntimeError::path("chown", path, e))?;
    }
    Ok(())
}

/// Shifts every entry under `dir` still owned by an unshifted id (a layer just copied in) into the range; what
/// the container wrote already is, so a second walk changes nothing.
fn shift_tree(dir: &Path, ids: &IdShift) -> Result<(), RuntimeError> {
    shift_owner(dir, ids)?;
    for entry in fs::read_dir(dir).map_err(|e| RuntimeError::path("read dir", dir, e))? {
        let path = entry.map_err(|e| RuntimeError::path("read dir", dir, e))?.path();
        let kind = fs::symlink_metadata(&path).map_err(|e| RuntimeError::path("stat", &path, e))?.file_type();
        if kind.is_dir() {
            shift_tree(&path, ids)?;
        } else {
            shift_owner(&path, ids)?;
        }
    }
    Ok(())
}

/// Detaches whatever is mounted at `merged`; fine if nothing is.
pub fn unmount_rootfs(merged: &Path) -> Result<(), RuntimeError> {
    match umount2(merged, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(RuntimeError::path("unmount", merged, e)),
    }
}

fn bind(src: &Path, dst: &Path) -> Result<(), RuntimeError> {
    mount(Some(src), dst, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| RuntimeError::path("bind mount rootfs", dst, e))
}

/// The overlay's `lowerdir=`: the top layer comes first.
pub(crate) fn overlay_data(lowers: &[PathBuf], upper: &Path, work: &Path) -> String {
    let lower: Vec<String> = lowers.iter().rev().map(|p| escape_opt(p)).collect();
    format!("lowerdir={},upperdir={},workdir={}", lower.join(":"), escape_opt(upper), escape_opt(work))
}

/// Overlay's option parser splits on `,` and `:`; backslash escapes them.
fn escape_opt(p: &Path) -> String {
    let s = p.to_string_lossy();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Overlay features that would make the upper dir more than a plain diff of the layers (metacopy keeps only
/// metadata for chowned files, redirect_dir records renamed directories as xattrs) or tie it to these exact lower
/// inodes (index): commit, `docker diff` and re-mounting after a daemon restart all read the upper dir as a diff.
const PLAIN_DIFF_OPTIONS: &[(&str, &str)] = &[("index", "off"), ("redirect_dir", "off"), ("metacopy", "off")];

fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, merged: &Path) -> Result<(), RuntimeError> {
    let data = overlay_data(lowers, upper, work);
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let options: String = PLAIN_DIFF_OPTIONS.iter().map(|(key, value)| format!(",{key}={value}")).collect();
    if data.len() + options.len() >= page {
        return mount_overlay_fsconfig(lowers, upper, work, merged);
    }
    let with_options = format!("{data}{options}");
    mount(Some("overlay"), merged, Some("overlay"), MsFlags::empty(), Some(with_options.as_str()))
        // A kernel that does not know one of the options refuses the mount; its defaults are then the same.
        .or_else(|_| mount(Some("overlay"), merged, Some("overlay"), MsFlags::empty(), Some(data.as_str())))
        .map_err(|e| RuntimeError::path("mount overlay", merged, e))
}

/// The new mount API, one `lowerdir+` per layer: no page-size limit on the option string (Linux 6.8+).
fn mount_overlay_fsconfig(lowers: &[PathBuf], upper: &Path, work: &Path, merged: &Path) -> Result<(), RuntimeError> {
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
    let err = |op: &'static str| RuntimeError::path(op, merged, io::Error::last_os_error());
    // SAFETY: fsopen takes a NUL-terminated name and flags; the fd is checked and owned below.
    let fs_fd = unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), libc::FSOPEN_CLOEXEC) };
    if fs_fd < 0 {
        return Err(err("fsopen overlay"));
    }
    // SAFETY: the kernel just returned this fd; nobody else owns it.
    let fs_fd = unsafe { OwnedFd::from_raw_fd(fs_fd as i32) };
    let set = |key: &std::ffi::CStr, value: &CString| -> Result<(), RuntimeError> {
        // SAFETY: fsconfig(FSCONFIG_SET_STRING) reads two NUL-terminated strings that live across the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs_fd.as_raw_fd(),
                libc::FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        };
        if rc < 0 {
            return Err(err("fsconfig overlay"));
        }
        Ok(())
    };
    for l in lowers.iter().rev() {
        set(c"lowerdir+", &idmap::cstr(l)?)?;
    }
    set(c"upperdir", &idmap::cstr(upper)?)?;
    set(c"workdir", &idmap::cstr(work)?)?;
    for (key, value) in PLAIN_DIFF_OPTIONS {
        if let (Ok(key), Ok(value)) = (CString::new(*key), CString::new(*value)) {
            // An option this kernel does not know is one whose default is already a plain diff.
            let _ = set(&key, &value);
        }
    }
    // SAFETY: FSCONFIG_CMD_CREATE takes no key or value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs_fd.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if rc < 0 {
        return Err(err("create overlay"));
    }
    // SAFETY: fsmount on the configured context fd; the returned fd is checked and owned below.
    let mnt = unsafe { libc::syscall(libc::SYS_fsmount, fs_fd.as_raw_fd(), libc::FSMOUNT_CLOEXEC, 0) };
    if mnt < 0 {
        return Err(err("fsmount overlay"));
    }
    // SAFETY: the kernel just returned this fd; nobody else owns it.
    let mnt = unsafe { OwnedFd::from_raw_fd(mnt as i32) };
    idmap::attach(mnt.as_fd(), &idmap::cstr(merged)?, merged)
}

/// Whether `p` is the mount point of some mount (in /proc/self/mountinfo).
pub(crate) fn is_mount_point(p: &Path) -> bool {
    let Ok(canon) = fs::canonicalize(p) else {
        return false;
    };
    berth_fs::mount_table::mount_points().contains(&canon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_lowerdir_order_is_top_first() {
        let data = overlay_data(
            &[PathBuf::from("/l/base"), PathBuf::from("/l/mid"), PathBuf::from("/l/top")],
            Path::new("/u"),
            Path::new("/w"),
        );
        assert_eq!(data, "lowerdir=/l/top:/l/mid:/l/base,upperdir=/u,workdir=/w");
        assert_eq!(escape_opt(Path::new("/a:b,c")), "/a\\:b\\,c");
    }

    #[test]
    fn the_root_and_proc_are_mount_points() {
        assert!(is_mount_point(Path::new("/")));
        assert!(is_mount_point(Path::new("/proc")));
    }
}
