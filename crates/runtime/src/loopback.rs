//! Bringing up `lo` in a fresh network namespace (an ioctl on a datagram socket: no netlink needed for one flag).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What failed while bringing up `lo` (reported by `berth init` with this wording).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoopbackError {
    /// socket(2) for the ioctls.
    #[error("socket: {0}")]
    Socket(#[source] io::Error),
    /// SIOCGIFFLAGS.
    #[error("get lo flags: {0}")]
    GetFlags(#[source] io::Error),
    /// SIOCSIFFLAGS.
    #[error("set lo up: {0}")]
    SetUp(#[source] io::Error),
}

/// Sets `IFF_UP` on `lo` in the current network namespace.
pub(crate) fn bring_up_lo() -> Result<(), LoopbackError> {
    // SAFETY: socket(2) with constant arguments; the fd is checked and then owned.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(LoopbackError::Socket(io::Error::last_os_error()));
    }
    // SAFETY: fd was just created and is owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills the flags of a valid, NUL-terminated ifreq that lives across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } != 0 {
        return Err(LoopbackError::GetFlags(io::Error::last_os_error()));
    }
    // SAFETY: after SIOCGIFFLAGS the union holds ifru_flags.
    unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: SIOCSIFFLAGS reads the same valid ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } != 0 {
        return Err(LoopbackError::SetUp(io::Error::last_os_error()));
    }
    Ok(())
}
