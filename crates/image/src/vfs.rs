//! Docker's vfs storage driver in one function: a layer directory (whiteouts in overlay form) copied over a full
//! copy of the layers below it, for hosts where overlay cannot mount.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::layer::{WHITEOUT_OPAQUE as WH_OPAQUE, WHITEOUT_PREFIX as WH_PREFIX};

/// Copies layer directory `src` over `dst`, honouring whiteouts: a 0/0 character device or a `.wh.NAME` file
/// removes NAME, an opaque directory (`trusted.overlay.opaque=y` or `.wh..wh..opq`) hides what was below.
pub fn apply_layer(src: &Path, dst: &Path) -> io::Result<()> {
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    apply_dir(src, dst, &mut links)
}

fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn clear_dir(p: &Path) -> io::Result<()> {
    let entries = match fs::read_dir(p) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        remove_any(&e?.path())?;
    }
    Ok(())
}

fn is_opaque_dir(p: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| berth_fs::xattr::get(p, name).ok().flatten().as_deref() == Some(b"y"))
}

fn apply_dir(src: &Path, dst: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> io::Result<()> {
    let entries: Vec<fs::DirEntry> = fs::read_dir(src)?.collect::<io::Result<_>>()?;
    if entries.iter().any(|e| e.file_name().as_bytes() == WH_OPAQUE.as_bytes()) {
        clear_dir(dst)?;
    }
    for entry in entries {
        let name = entry.file_name();
        let name_b = name.as_bytes();
        let s = entry.path();
        let d = dst.join(&name);
        if name_b == WH_OPAQUE.as_bytes() {
            continue;
        }
        if let Some(hidden) = name_b.strip_prefix(WH_PREFIX.as_bytes()) {
            remove_any(&dst.join(std::ffi::OsStr::from_bytes(hidden)))?;
            continue;
        }
        let meta = fs::symlink_metadata(&s)?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            remove_any(&d)?;
            continue;
        }
        if ft.is_dir() {
            match fs::symlink_metadata(&d) {
                Ok(m) if m.is_dir() => {
                    if is_opaque_dir(&s) {
                        clear_dir(&d)?;
                    }
                }
                Ok(_) => {
                    fs::remove_file(&d)?;
                    fs::create_dir(&d)?;
                }
                Err(_) => fs::create_dir(&d)?,
            }
            apply_dir(&s, &d, links)?;
            fs::set_permissions(&d, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
            std::os::unix::fs::lchown(&d, Some(meta.uid()), Some(meta.gid()))?;
            continue;
        }
        remove_any(&d)?;
        if meta.nlink() > 1 && !ft.is_dir() {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                fs::hard_link(first, &d)?;
                continue;
            }
            links.insert((meta.dev(), meta.ino()), d.clone());
        }
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&s)?, &d)?;
        } else if ft.is_file() {
            fs::copy(&s, &d)?;
            fs::set_permissions(&d, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else {
            let kind = nix::sys::stat::SFlag::from_bits_truncate(meta.mode() & libc::S_IFMT);
            let perm = nix::sys::stat::Mode::from_bits_truncate(meta.mode() & 0o7777);
            nix::sys::stat::mknod(&d, kind, perm, meta.rdev()).map_err(io::Error::from)?;
        }
        std::os::unix::fs::lchown(&d, Some(meta.uid()), Some(meta.gid()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vfs_applies_whiteouts() {
        let t = tempfile::tempdir().unwrap();
        let (l1, l2, out) = (t.path().join("l1"), t.path().join("l2"), t.path().join("out"));
        fs::create_dir_all(l1.join("etc/sub")).unwrap();
        fs::create_dir_all(l1.join("opaque")).unwrap();
        fs::create_dir_all(l1.join("opq2")).unwrap();
        fs::write(l1.join("etc/a"), "a").unwrap();
        fs::write(l1.join("etc/b"), "b").unwrap();
        fs::write(l1.join("etc/sub/c"), "c").unwrap();
        fs::write(l1.join("opaque/old"), "old").unwrap();
        fs::write(l1.join("opq2/old"), "old").unwrap();
        fs::write(l1.join("gone"), "x").unwrap();
        std::os::unix::fs::symlink("etc/a", l1.join("link")).unwrap();

        fs::create_dir_all(l2.join("etc")).unwrap();
        fs::create_dir_all(l2.join("opaque")).unwrap();
        fs::create_dir_all(l2.join("opq2")).unwrap();
        fs::write(l2.join("etc/.wh.b"), "").unwrap();
        fs::write(l2.join("etc/a"), "a2").unwrap();
        fs::write(l2.join("opaque/.wh..wh..opq"), "").unwrap();
        fs::write(l2.join("opaque/new"), "new").unwrap();
        fs::write(l2.join("opq2/new"), "new").unwrap();
        nix::sys::stat::mknod(&l2.join("gone"), nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::empty(), 0)
            .unwrap();
        berth_fs::xattr::set(&l2.join("opq2"), "trusted.overlay.opaque", b"y").unwrap();

        fs::create_dir_all(&out).unwrap();
        apply_layer(&l1, &out).unwrap();
        apply_layer(&l2, &out).unwrap();
        assert_eq!(fs::read_to_string(out.join("etc/a")).unwrap(), "a2");
        assert!(!out.join("etc/b").exists());
        assert!(!out.join("etc/.wh.b").exists());
        assert_eq!(fs::read_to_string(out.join("etc/sub/c")).unwrap(), "c");
        assert!(!out.join("opaque/old").exists());
        assert!(out.join("opaque/new").exists());
        assert!(!out.join("opaque/.wh..wh..opq").exists());
        assert!(!out.join("opq2/old").exists());
        assert!(out.join("opq2/new").exists());
        assert!(fs::symlink_metadata(out.join("gone")).is_err());
        assert_eq!(fs::read_link(out.join("link")).unwrap(), Path::new("etc/a"));
    }
}
