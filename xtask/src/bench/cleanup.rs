//! Undoing what the bench started, whatever way it ends: normally, with an error (the guard's Drop), or by Ctrl-C,
//! SIGTERM or SIGHUP (a thread that waits for those signals, undoes everything, then exits with 128 + signal).
//!
//! Undo steps run newest first, each once. A step is registered under the same lock the signal thread takes, so
//! a daemon is never started without its undo step being in place, and a start attempted after cleanup began is
//! refused.

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use anyhow::{bail, Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

type UndoStep = Box<dyn FnOnce() + Send>;

/// The undo steps; None once cleanup has begun.
type Steps = Arc<Mutex<Option<Vec<(String, UndoStep)>>>>;

#[derive(Clone)]
pub struct Cleanup {
    steps: Steps,
}

/// Runs every undo step when dropped; also owns the signal thread.
pub struct CleanupGuard {
    cleanup: Cleanup,
    signals: signal_hook::iterator::Handle,
}

impl Cleanup {
    /// Starts watching for SIGINT, SIGTERM and SIGHUP. Call before starting anything.
    pub fn install() -> Result<CleanupGuard> {
        let cleanup = Cleanup { steps: Arc::new(Mutex::new(Some(Vec::new()))) };
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).context("installing signal handlers")?;
        let handle = signals.handle();
        let on_signal = cleanup.clone();
        thread::Builder::new()
            .name("bench-signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    eprintln!("\nxtask bench: interrupted (signal {signal}); stopping what the bench started");
                    on_signal.run_all();
                    std::process::exit(128 + signal);
                }
            })
            .context("starting the signal thread")?;
        Ok(CleanupGuard { cleanup, signals: handle })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Vec<(String, UndoStep)>>> {
        self.steps.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `start` and registers the undo step it returns, both under the lock: a signal arriving meanwhile waits,
    /// then undoes this too. Fails without running `start` once cleanup has begun.
    pub fn start<T>(&self, what: &str, start: impl FnOnce() -> Result<(T, UndoStep)>) -> Result<T> {
        let mut steps = self.lock();
        let Some(list) = steps.as_mut() else { bail!("not starting {what}: the bench is being stopped") };
        let (value, undo) = start()?;
        list.push((what.to_string(), undo));
        Ok(value)
    }

    /// Registers an undo step for something already in place.
    pub fn push(&self, what: &str, undo: impl FnOnce() + Send + 'static) {
        let mut steps = self.lock();
        match steps.as_mut() {
            Some(list) => list.push((what.to_string(), Box::new(undo))),
            // Cleanup has begun (or finished): undo at once rather than leave it behind.
            None => undo(),
        }
    }

    /// Runs every undo step, newest first. Holds the lock throughout, so a second caller (the guard's Drop while
    /// the signal thread is cleaning up) waits until everything is undone instead of exiting midway.
    pub fn run_all(&self) {
        let mut steps = self.lock();
        let Some(list) = steps.take() else { return };
        for (what, undo) in list.into_iter().rev() {
            println!("xtask bench: cleanup: {what}");
            undo();
        }
    }
}

impl CleanupGuard {
    pub fn cleanup(&self) -> &Cleanup {
        &self.cleanup
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        self.cleanup.run_all();
        self.signals.close();
    }
}

/// Boxes an undo closure for [`Cleanup::start`].
pub fn undo(step: impl FnOnce() + Send + 'static) -> UndoStep {
    Box::new(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleanup() -> Cleanup {
        Cleanup { steps: Arc::new(Mutex::new(Some(Vec::new()))) }
    }

    #[test]
    fn undo_steps_run_newest_first_and_once() {
        let cleanup = cleanup();
        let log = Arc::new(Mutex::new(Vec::new()));
        for name in ["run dir", "berth", "dockerd"] {
            let log = log.clone();
            cleanup.push(name, move || log.lock().unwrap().push(name));
        }
        cleanup.run_all();
        cleanup.run_all();
        assert_eq!(*log.lock().unwrap(), ["dockerd", "berth", "run dir"]);
    }

    #[test]
    fn nothing_starts_after_cleanup_began_and_late_steps_run_at_once() {
        let cleanup = cleanup();
        cleanup.run_all();
        let started = cleanup.start("daemon", || Ok(((), undo(|| {}))));
        assert!(started.is_err());
        let ran = Arc::new(Mutex::new(false));
        let flag = ran.clone();
        cleanup.push("late", move || *flag.lock().unwrap() = true);
        assert!(*ran.lock().unwrap());
    }
}
