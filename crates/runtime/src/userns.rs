//! The container's user namespace, entered last: PID 1 makes every mount, sysctl and rlimit as host root in
//! namespaces the host's user namespace owns, then unshares a user namespace of its own. A forked child that
//! stays outside writes the maps (a process cannot map itself to ids it does not hold), the container's stdio is
//! handed to its user first (the daemon made those pipes and ptys as host root; runc's fixStdioPermissions), and
//! the mounts stay the host's to change: the remapped root can undo none of them. `docker exec` joins the user
//! namespace after the others, for the same reason.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::stat::SFlag;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Gid, Uid};
use oci_spec::runtime::{LinuxIdMapping, Spec};

#[derive(Debug, thiserror::Error)]
pub(crate) enum UserNamespaceError {
    #[error("create the user namespace: {0}")]
    Unshare(Errno),
    #[error("join the container's user namespace: {0}")]
    Join(Errno),
    #[error("fork the id mapper: {0}")]
    Fork(Errno),
    #[error("write the user namespace's {file}: {source}")]
    Map { file: &'static str, source: Errno },
    #[error("the id mapper ended without writing the maps: {0:?}")]
    Mapper(WaitStatus),
    #[error("give the container's stdio to uid {uid}: {source}")]
    Stdio { uid: u32, source: Errno },
    #[error("read {path}: {source}")]
    Read { path: String, source: std::io::Error },
}

/// The id maps a spec asks for, as the lines `/proc/<pid>/uid_map` and `gid_map` take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdMaps {
    pub uid_map: String,
    pub gid_map: String,
}

impl IdMaps {
    pub(crate) fn from_spec(spec: &Spec) -> IdMaps {
        let linux = spec.linux().as_ref();
        let lines = |maps: Option<&Vec<LinuxIdMapping>>| -> String {
            maps.into_iter().flatten().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
        };
        IdMaps {
            uid_map: lines(linux.and_then(|l| l.uid_mappings().as_ref())),
            gid_map: lines(linux.and_then(|l| l.gid_mappings().as_ref())),
        }
    }

    /// The maps of a running process, for an exec that joins it.
    pub(crate) fn of_process(pid: i32) -> Result<IdMaps, UserNamespaceError> {
        let read = |file: &str| {
            let path = format!("/proc/{pid}/{file}");
            std::fs::read_to_string(&path).map_err(|source| UserNamespaceError::Read { path, source })
        };
        Ok(IdMaps { uid_map: read("uid_map")?, gid_map: read("gid_map")? })
    }

    pub(crate) fn host_uid(&self, uid: u32) -> Option<u32> {
        host_id(&self.uid_map, uid)
    }

    pub(crate) fn host_gid(&self, gid: u32) -> Option<u32> {
        host_id(&self.gid_map, gid)
    }
}

/// The host id of `id` under a map's lines (`inside outside count`).
fn host_id(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|line| {
        let mut fields = line.split_whitespace().map(|f| f.parse::<u64>().ok());
        let (inside, outside, count) = (fields.next()??, fields.next()??, fields.next()??);
        let offset = u64::from(id).checked_sub(inside).filter(|o| *o < count)?;
        u32::try_from(outside + offset).ok()
    })
}

/// Unshares a user namespace and has a forked child (still outside it) write `maps` for us. Returns in the new
/// namespace with every capability in it and no id yet: the caller's setresuid picks the container's user.
pub(crate) fn enter_new(maps: &IdMaps) -> Result<(), UserNamespaceError> {
    let (ready_read, ready_write) = nix::unistd::pipe().map_err(UserNamespaceError::Fork)?;
    // SAFETY: `berth init` is single-threaded, so the child may run any code; it only writes two files and exits.
    match unsafe { nix::unistd::fork() }.map_err(UserNamespaceError::Fork)? {
        ForkResult::Child => {
            drop(ready_write);
            let mut byte = [0u8; 1];
            // EOF without a byte: the parent could not unshare and reports that itself.
            let code = match nix::unistd::read(&ready_read, &mut byte) {
                Ok(1) => match write_maps(nix::unistd::getppid().as_raw(), maps) {
                    Ok(()) => 0,
                    Err((file, errno)) => map_exit_code(file, errno),
                },
                _ => 1,
            };
            super::init::exit(code)
        }
        ForkResult::Parent { child } => {
            drop(ready_read);
            let unshared = nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(UserNamespaceError::Unshare);
            if unshared.is_ok() {
                let _ = nix::unistd::write(&ready_write, b"1");
            }
            drop(ready_write);
            let status = waitpid(child, None).map_err(UserNamespaceError::Fork)?;
            unshared?;
            match status {
                WaitStatus::Exited(_, 0) => Ok(()),
                WaitStatus::Exited(_, code) if code >= 2 => {
                    let (file, errno) = decode_exit_code(code);
                    Err(UserNamespaceError::Map { file, source: errno })
                }
                other => Err(UserNamespaceError::Mapper(other)),
            }
        }
    }
}

/// uid_map failures exit 2 + errno·2, gid_map ones 3 + errno·2 (errno < 128 fits an exit code).
fn map_exit_code(file: &'static str, errno: Errno) -> i32 {
    let base = if file == "uid_map" { 2 } else { 3 };
    (base + (errno as i32).clamp(0, 125) * 2).min(255)
}

fn decode_exit_code(code: i32) -> (&'static str, Errno) {
    let file = if code % 2 == 0 { "uid_map" } else { "gid_map" };
    (file, Errno::from_raw((code - 2) / 2))
}

fn write_maps(pid: i32, maps: &IdMaps) -> Result<(), (&'static str, Errno)> {
    for (file, text) in [("uid_map", &maps.uid_map), ("gid_map", &maps.gid_map)] {
        std::fs::write(format!("/proc/{pid}/{file}"), text)
            .map_err(|e| (file, Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))?;
    }
    Ok(())
}

/// Joins the user namespace of `target` (after its other namespaces: their owner is the host's user namespace).
pub(crate) fn join(namespace: BorrowedFd<'_>) -> Result<(), UserNamespaceError> {
    nix::sched::setns(namespace, CloneFlags::CLONE_NEWUSER).map_err(UserNamespaceError::Join)
}

/// Gives fds 0, 1 and 2 to the host ids of the container's user, so it can reopen them (`/proc/self/fd/1`,
/// `/dev/stdout`, a tty's `/dev/console`): pipes, sockets and terminals only, never /dev/null or a file.
pub(crate) fn hand_over_stdio(maps: &IdMaps, uid: u32, gid: u32) -> Result<(), UserNamespaceError> {
    let (Some(host_uid), Some(host_gid)) = (maps.host_uid(uid), maps.host_gid(gid)) else {
        return Ok(());
    };
    for fd in 0..3 {
        // SAFETY: fds 0-2 are open for the life of `berth init`; the borrow ends within this iteration.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let Ok(stat) = nix::sys::stat::fstat(fd) else { continue };
        let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
        let null = kind == SFlag::S_IFCHR && stat.st_rdev == libc::makedev(1, 3);
        if !matches!(kind, SFlag::S_IFIFO | SFlag::S_IFSOCK | SFlag::S_IFCHR) || null || stat.st_uid == host_uid {
            continue;
        }
        match nix::unistd::fchown(fd, Some(Uid::from_raw(host_uid)), Some(Gid::from_raw(host_gid))) {
            // A terminal of another devpts instance, or one the kernel will not chown: the program still has it.
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::EPERM) => {}
            Err(source) => return Err(UserNamespaceError::Stdio { uid: host_uid, source }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_through_each_line() {
        let maps = IdMaps { uid_map: "0 100000 65536\n".into(), gid_map: "         0     200000      65536\n".into() };
        assert_eq!(maps.host_uid(0), Some(100_000));
        assert_eq!(maps.host_uid(1000), Some(101_000));
        assert_eq!(maps.host_uid(65_536), None);
        assert_eq!(maps.host_gid(5), Some(200_005));
        assert_eq!(host_id("0 0 4294967295\n", 7), Some(7), "the host's own map is the identity");
        assert_eq!(host_id("0 1000 1\n1 100000 65535\n", 1), Some(100_000));
    }

    #[test]
    fn mapper_failures_come_back_with_file_and_errno() {
        for file in ["uid_map", "gid_map"] {
            for errno in [Errno::EPERM, Errno::EINVAL, Errno::ENOENT] {
                assert_eq!(decode_exit_code(map_exit_code(file, errno)), (file, errno));
            }
        }
    }
}
