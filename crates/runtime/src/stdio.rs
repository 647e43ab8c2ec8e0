//! A process's stdio: a pty or pipes, made for `berth init` to hand to the process (a container's, by its
//! monitor; an exec's, by the daemon).

use std::os::fd::OwnedFd;

use super::launch::Stdio;
use super::monitor::{STDERR, STDOUT};
use super::RuntimeError;

/// The other ends of a process's stdio: what reads its output and writes its input.
#[derive(Debug)]
pub struct StdioEnds {
    /// Output by stream ([`STDOUT`], [`STDERR`]); with a pty one reader of the master, as stdout.
    pub outputs: Vec<(u8, OwnedFd)>,
    /// The pty master, for resizes.
    pub pty: Option<OwnedFd>,
    /// Where the process's stdin is written, when it is kept open.
    pub stdin: Option<OwnedFd>,
}

fn pipe() -> Result<(OwnedFd, OwnedFd), RuntimeError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("pipe", e))
}

/// A pty (with `tty`) or pipes, all close-on-exec: the process's ends (for [`Stdio`]) and the other ends.
pub fn make_stdio(tty: bool, open_stdin: bool, size: (u16, u16)) -> Result<(Stdio, StdioEnds), RuntimeError> {
    if tty {
        let pty = crate::open_pty(size.0.max(1), size.1.max(1))?;
        let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| RuntimeError::sys("dup pty master", e));
        let reader = dup(&pty.master)?;
        let stdin = if open_stdin { Some(dup(&pty.master)?) } else { None };
        let ends = StdioEnds { outputs: vec![(STDOUT, reader)], pty: Some(pty.master), stdin };
        return Ok((Stdio::Tty { slave: pty.slave }, ends));
    }
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let (stdin_child, stdin_ours) = if open_stdin {
        let (read, write) = pipe()?;
        (Some(read), Some(write))
    } else {
        (None, None)
    };
    Ok((
        Stdio::Pipes { stdin: stdin_child, stdout: stdout_write, stderr: stderr_write },
        StdioEnds { outputs: vec![(STDOUT, stdout_read), (STDERR, stderr_read)], pty: None, stdin: stdin_ours },
    ))
}
