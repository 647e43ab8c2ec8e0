//! Pseudo-terminals for `docker run -t`: both ends are opened close-on-exec (the daemon is multithreaded, so an fd
//! without it could leak into any process spawned meanwhile).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::RuntimeError;

/// A master/slave pair. The slave goes to the container (as fds 0, 1, 2), the master stays in the daemon.
#[derive(Debug)]
pub struct Pty {
    /// The daemon's end: read the container's output, write its input, resize.
    pub master: OwnedFd,
    /// The container's end.
    pub slave: OwnedFd,
}

/// Opens a pty of `rows` x `cols`.
pub fn open_pty(rows: u16, cols: u16) -> Result<Pty, RuntimeError> {
    // SAFETY: plain open(2) of a constant NUL-terminated path; the result is checked.
    let fd = unsafe { libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(RuntimeError::path("open", "/dev/ptmx", std::io::Error::last_os_error()));
    }
    // SAFETY: fd was just returned by open(2) and is owned by nobody else.
    let master = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to an int that lives across the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) } != 0 {
        return Err(RuntimeError::sys("unlock pty", std::io::Error::last_os_error()));
    }
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new fd (checked below).
    let sfd =
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if sfd < 0 {
        return Err(RuntimeError::sys("open pty slave", std::io::Error::last_os_error()));
    }
    // SAFETY: sfd was just returned by the kernel and is owned by nobody else.
    let slave = unsafe { OwnedFd::from_raw_fd(sfd) };
    set_winsize(master.as_raw_fd(), rows, cols)?;
    Ok(Pty { master, slave })
}

/// Changes the window size (the container gets SIGWINCH).
pub fn resize_pty(master: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<(), RuntimeError> {
    set_winsize(master.as_raw_fd(), rows, cols)
}

fn set_winsize(fd: i32, rows: u16, cols: u16) -> Result<(), RuntimeError> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives across the call.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(RuntimeError::sys("resize pty", std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn pty_opens_and_resizes() {
        let pty = open_pty(24, 80).unwrap();
        resize_pty(pty.master.as_fd(), 50, 132).unwrap();
        let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCGWINSZ writes into a winsize that lives across the call.
        let rc = unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
        assert_eq!(rc, 0);
        assert_eq!((ws.ws_row, ws.ws_col), (50, 132));
        // SAFETY: F_GETFD on an open fd.
        let flags = unsafe { libc::fcntl(pty.slave.as_raw_fd(), libc::F_GETFD) };
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }
}
