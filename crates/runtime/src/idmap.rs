//! Idmapped mounts: a directory whose files are owned by the container's ids (`0..`) seen through a mount that
//! shows them as the host ids of a user namespace (`uid..`), so one copy of an image's layers serves containers of
//! every range unchanged. The mapping comes from a user namespace the kernel needs as an fd: a
//! `berth init hold-user-namespace` process is spawned in a new one (unshare is its only pre-exec step), the daemon
//! writes its maps, opens `/proc/<pid>/ns/user` and lets it go; the fd keeps the namespace, one per range.

use std::collections::HashMap;
use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use berth_fs::id_shift::IdShift;

use super::RuntimeError;

/// The argument after `init` that makes `berth init` a namespace holder.
pub(crate) const HOLD_USER_NAMESPACE: &str = "hold-user-namespace";

/// More ranges than this (private ranges, one per container) and the cache starts over; an fd is cheap to remake.
const CACHED_NAMESPACES: usize = 16;

static NAMESPACES: Mutex<Option<HashMap<IdShift, Arc<OwnedFd>>>> = Mutex::new(None);

/// `berth init hold-user-namespace`: waits for its stdin to close. Its user namespace is all it is for.
pub(crate) fn hold_main() -> ! {
    let mut sink = [0u8; 64];
    while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
    super::init::exit(0)
}

/// A user namespace mapping `shift`'s range, made once per range.
pub fn user_namespace(shift: &IdShift) -> Result<Arc<OwnedFd>, RuntimeError> {
    let mut guard = NAMESPACES.lock().unwrap_or_else(|p| p.into_inner());
    let cache = guard.get_or_insert_with(HashMap::new);
    if let Some(fd) = cache.get(shift) {
        return Ok(fd.clone());
    }
    let fd = Arc::new(new_user_namespace(shift)?);
    if cache.len() >= CACHED_NAMESPACES {
        cache.clear();
    }
    cache.insert(*shift, fd.clone());
    Ok(fd)
}

fn new_user_namespace(shift: &IdShift) -> Result<OwnedFd, RuntimeError> {
    let exe = super::launch::init_executable();
    let mut cmd = Command::new(&exe);
    cmd.arg("init").arg(HOLD_USER_NAMESPACE).env_clear().current_dir("/");
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: the closure only calls unshare(2), which is async-signal-safe, and reads errno; it allocates
    // nothing and takes no locks, so it is sound in the child of a multithreaded process.
    unsafe {
        cmd.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWUSER) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| RuntimeError::Spawn { exe, source })?;
    let pid = child.id();
    let opened = (|| {
        for (file, text) in [("uid_map", shift.uid_map()), ("gid_map", shift.gid_map())] {
            let path = format!("/proc/{pid}/{file}");
            std::fs::write(&path, text).map_err(|e| RuntimeError::path("write", path, e))?;
        }
        let path = format!("/proc/{pid}/ns/user");
        std::fs::File::open(&path).map(OwnedFd::from).map_err(|e| RuntimeError::path("open", path, e))
    })();
    drop(child.stdin.take());
    let _ = child.wait();
    opened
}

/// Mounts a clone of `source` at `target` (an existing directory), showing its ids through `user_namespace`.
pub fn mount_idmapped(source: &Path, target: &Path, user_namespace: BorrowedFd<'_>) -> Result<(), RuntimeError> {
    let source_c = cstr(source)?;
    let target_c = cstr(target)?;
    // SAFETY: open_tree reads one NUL-terminated path that lives across the call; the fd is checked and owned.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            source_c.as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    };
    if tree < 0 {
        return Err(RuntimeError::path("clone mount", source, std::io::Error::last_os_error()));
    }
    // SAFETY: the kernel just returned this fd; nobody else owns it.
    let tree = unsafe { OwnedFd::from_raw_fd(tree as i32) };
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: user_namespace.as_raw_fd() as u64,
    };
    // SAFETY: mount_setattr reads one mount_attr of the size passed, alive across the call, on the fd above.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc < 0 {
        return Err(RuntimeError::path("idmap mount", source, std::io::Error::last_os_error()));
    }
    attach(tree.as_fd(), &target_c, target)
}

/// Attaches a detached mount (from open_tree or fsmount) at `target`.
pub(crate) fn attach(mount: BorrowedFd<'_>, target_c: &CString, target: &Path) -> Result<(), RuntimeError> {
    // SAFETY: move_mount of a detached mount fd onto an absolute NUL-terminated path alive across the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mount.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target_c.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(RuntimeError::path("move_mount", target, std::io::Error::last_os_error()));
    }
    Ok(())
}

pub(crate) fn cstr(p: &Path) -> Result<CString, RuntimeError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| RuntimeError::path("path", p, std::io::Error::from(std::io::ErrorKind::InvalidInput)))
}
