//! Extended attributes of a path itself (the `l*xattr` calls: a symlink's own, never its target's).

use std::ffi::CString;
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

/// The largest value read: the kernel's own limit for one attribute.
const MAX_VALUE: usize = 64 * 1024;

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a path or xattr name"))
}

/// The value of `name` on `path`; `None` when the path has no such attribute.
pub fn get(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    get_at(path, name, Follow::No)
}

/// Sets `name` on `path` to `value`, replacing what was there.
pub fn set(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    set_at(path, name, value, Follow::No)
}

/// [`get`] on the file a descriptor (an `O_PATH` one too) refers to; not for a symlink's own descriptor.
pub fn get_fd(fd: BorrowedFd<'_>, name: &str) -> io::Result<Option<Vec<u8>>> {
    get_at(&crate::in_root::proc_path(fd), name, Follow::Yes)
}

/// [`set`] on the file a descriptor (an `O_PATH` one too) refers to; not for a symlink's own descriptor.
pub fn set_fd(fd: BorrowedFd<'_>, name: &str, value: &[u8]) -> io::Result<()> {
    set_at(&crate::in_root::proc_path(fd), name, value, Follow::Yes)
}

/// Whether the last component is followed: a descriptor is reached through its `/proc/self/fd` magic link, which
/// must be followed; a path names the entry itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Follow {
    Yes,
    No,
}

fn get_at(path: &Path, name: &str, follow: Follow) -> io::Result<Option<Vec<u8>>> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let c_name = c_string(name.as_bytes())?;
    let mut buf = vec![0u8; 256];
    loop {
        let (path_ptr, name_ptr, buf_ptr) = (c_path.as_ptr(), c_name.as_ptr(), buf.as_mut_ptr().cast());
        let len = match follow {
            // SAFETY: both strings are NUL-terminated and outlive the call; `buf` is writable for `buf.len()`.
            Follow::Yes => unsafe { libc::getxattr(path_ptr, name_ptr, buf_ptr, buf.len()) },
            // SAFETY: as above.
            Follow::No => unsafe { libc::lgetxattr(path_ptr, name_ptr, buf_ptr, buf.len()) },
        };
        if let Ok(len) = usize::try_from(len) {
            buf.truncate(len);
            return Ok(Some(buf));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENODATA) => return Ok(None),
            Some(libc::ERANGE) if buf.len() < MAX_VALUE => buf.resize((buf.len() * 4).min(MAX_VALUE), 0),
            _ => return Err(err),
        }
    }
}

fn set_at(path: &Path, name: &str, value: &[u8], follow: Follow) -> io::Result<()> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let c_name = c_string(name.as_bytes())?;
    let (path_ptr, name_ptr, value_ptr) = (c_path.as_ptr(), c_name.as_ptr(), value.as_ptr().cast());
    let rc = match follow {
        // SAFETY: both strings are NUL-terminated and outlive the call; `value` is valid for `value.len()` bytes.
        Follow::Yes => unsafe { libc::setxattr(path_ptr, name_ptr, value_ptr, value.len(), 0) },
        // SAFETY: as above.
        Follow::No => unsafe { libc::lsetxattr(path_ptr, name_ptr, value_ptr, value.len(), 0) },
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_absence_is_none() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("a file");
        assert_eq!(get(&file, "user.berth.absent").expect("get"), None);
        let long = vec![7u8; 3000];
        set(&file, "user.berth.long", &long).expect("set");
        assert_eq!(get(&file, "user.berth.long").expect("get"), Some(long));
        assert!(get(&dir.path().join("missing"), "user.x").is_err());
        assert!(set(&file, "user.with\0nul", b"v").is_err());
        let fd = std::fs::File::open(&file).expect("an fd");
        set_fd(std::os::fd::AsFd::as_fd(&fd), "user.berth.fd", b"by fd").expect("set by fd");
        assert_eq!(get(&file, "user.berth.fd").expect("get"), Some(b"by fd".to_vec()));
        assert_eq!(
            get_fd(std::os::fd::AsFd::as_fd(&fd), "user.berth.long").expect("get by fd").map(|v| v.len()),
            Some(3000)
        );
    }
}
