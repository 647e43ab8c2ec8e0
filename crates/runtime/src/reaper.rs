//! `berth init` staying as the container's PID 1 (the `berth.init` annotation, `docker run --init`), like tini:
//! it forks the user program, forwards signals to it, reaps every zombie, and exits with the program's status.

use std::convert::Infallible;

use nix::errno::Errno;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::Process;

use super::capabilities::{self, CapSets};
use super::init::{exec_process, exit, Failure, Sync};
use super::seccomp::Program;

const FORWARDED: &[Signal] = &[
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Runs as PID 1 until the program exits. The program's setup errors still reach the daemon: the child keeps the
/// close-on-exec sync pipe, PID 1 closes its copy.
pub(crate) fn run_as_init(
    sync: &mut Sync,
    process: &Process,
    tty: bool,
    seccomp: Option<&Program>,
) -> Result<Infallible, Failure> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    set.add(Signal::SIGTTOU);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).map_err(|e| format!("block signals: {e}"))?;

    // SAFETY: `berth init` is single-threaded, so the child may run any code.
    let child = match unsafe { nix::unistd::fork() } {
        Err(e) => return Err(Failure::other(format!("fork: {e}"))),
        Ok(ForkResult::Child) => {
            if tty {
                // Own process group in the foreground, so ^C reaches the program once (not PID 1 too).
                let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
                let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpid());
            }
            match exec_process(process, seccomp) {
                Ok(never) => match never {},
                Err(f) => sync_fail(sync, f),
            }
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    // Our copy of the sync pipe must go, or the daemon never sees EOF.
    sync.close();
    // PID 1 needs no more privilege than the container; it only signals and reaps.
    if let Some(c) = process.capabilities().as_ref().map(CapSets::from_spec) {
        let _ = capabilities::drop_bounding(&c.bounding);
    }
    set.remove(Signal::SIGTTOU);
    loop {
        let sig = match set.wait() {
            Ok(s) => s,
            Err(Errno::EINTR) => continue,
            Err(_) => exit(1),
        };
        if sig == Signal::SIGCHLD {
            if let Some(code) = reap(child) {
                // Give orphans a last chance to be collected, then go: the kernel kills the rest.
                let _ = reap(Pid::from_raw(-1));
                exit(code);
            }
        } else {
            let _ = kill(child, sig);
        }
    }
}

fn sync_fail(sync: &mut Sync, f: Failure) -> ! {
    let code = f.kind.exit_code();
    sync.send(&super::config::SyncMessage::Error { kind: f.kind, message: f.message });
    exit(code)
}

/// Reaps every exited child; the exit code if `main` was among them.
fn reap(main: Pid) -> Option<i32> {
    let mut result = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == main => result = Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => result = Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return result,
            Ok(_) => {}
        }
    }
}
