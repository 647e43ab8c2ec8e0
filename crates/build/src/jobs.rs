//! Builds as jobs of the daemon: a build runs detached from the request that started it and records its typed
//! events, so any number of readers (the docker CLI's `POST /build` stream, a playground page, the same page
//! after a reload) can follow it from the first event on.
//!
//! Memory is bounded: the newest [`KEEP_FINISHED`] finished jobs are kept (running ones always), and a job keeps at
//! most [`MAX_OUTPUT_BYTES`] of RUN output; past that, output is dropped with one warning event saying so.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use berth_shared::api::build::{BuildEvent, OutputStream};
use berth_shared::api::build_jobs::{BuildJobEvent, BuildJobState, BuildJobSummary};
use futures_util::Stream;
use tokio::sync::watch;

use super::{BuildContext, BuildError, BuildOptions, Progress};
use berth_engine::Engine;

/// Finished jobs kept for `GET /berth/builds` and reattaching pages.
pub const KEEP_FINISHED: usize = 16;
/// RUN output one job keeps (the rest of a flood is dropped, with a warning event).
pub const MAX_OUTPUT_BYTES: usize = 8 << 20;

/// Every build job of this daemon (in memory: a restarted daemon has none).
#[derive(Debug, Default)]
pub struct BuildJobs {
    jobs: Mutex<VecDeque<Arc<BuildJob>>>,
    /// Counted apart from `jobs`, which forgets old jobs: the daemon's metrics want every build since it started.
    totals: Arc<Totals>,
}

#[derive(Debug, Default)]
struct Totals {
    started: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
}

/// Builds since the daemon started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildTotals {
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
}

#[derive(Debug)]
pub struct BuildJob {
    pub id: String,
    /// The tenant whose build it is: only it (and the operator) may list and follow it.
    owner: Option<String>,
    tags: Vec<String>,
    started_ms: u64,
    record: Mutex<Record>,
    /// The number of recorded events, so followers wake when it grows or the job ends.
    changed: watch::Sender<usize>,
}

#[derive(Debug)]
struct Record {
    events: Vec<BuildJobEvent>,
    state: BuildJobState,
    finished_ms: Option<u64>,
    output_bytes: usize,
    step: Option<usize>,
    total_steps: Option<usize>,
    image_id: Option<String>,
    error: Option<String>,
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves a consistent record (every update is one assignment).
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl BuildJobs {
    /// Starts a job: awaits `context` (the upload, a git clone...), builds, and records every event. The job runs
    /// on its own task: readers coming and going never affect it.
    pub fn start<F>(&self, engine: Arc<Engine>, options: BuildOptions, context: F) -> Arc<BuildJob>
    where
        F: Future<Output = Result<BuildContext, BuildError>> + Send + 'static,
    {
        let job = Arc::new(BuildJob {
            id: format!("{:032x}", rand::random::<u128>()),
            owner: options.owner.clone(),
            tags: options.tags.clone(),
            started_ms: now_ms(),
            record: Mutex::new(Record {
                events: Vec::new(),
                state: BuildJobState::Running,
                finished_ms: None,
                output_bytes: 0,
                step: None,
                total_steps: None,
                image_id: None,
                error: None,
            }),
            changed: watch::channel(0).0,
        });
        {
            let mut jobs = lock(&self.jobs);
            jobs.push_front(job.clone());
            // Drop the oldest finished jobs beyond the limit; running ones stay whatever their number.
            let mut finished = 0;
            jobs.retain(|job| {
                let keep = job.state() == BuildJobState::Running || finished < KEEP_FINISHED;
                if job.state() != BuildJobState::Running {
                    finished += 1;
                }
                keep
            });
        }
        tracing::info!(id = %job.id, tags = ?job.tags, "build job started");
        self.totals.started.fetch_add(1, Ordering::Relaxed);
        let totals = self.totals.clone();
        let running = job.clone();
        tokio::spawn(async move {
            let (progress, mut events) = Progress::new();
            let recorder = {
                let job = running.clone();
                tokio::spawn(async move {
                    while let Some(event) = events.recv().await {
                        job.record(event);
                    }
                })
            };
            let succeeded = match context.await {
                Ok(context) => {
                    let result = super::build(&engine, &context, &options, &progress).await;
                    // Removing a large context is blocking work.
                    let _ = tokio::task::spawn_blocking(move || drop(context)).await;
                    result.is_ok()
                }
                Err(error) => {
                    progress.emit(BuildEvent::Failed {
                        message: error.to_string(),
                        line: None,
                        last_image_id: None,
                        code: None,
                    });
                    false
                }
            };
            drop(progress);
            let _ = recorder.await;
            running.finish(succeeded);
            let outcome = if succeeded { &totals.succeeded } else { &totals.failed };
            outcome.fetch_add(1, Ordering::Relaxed);
        });
        job
    }

    /// The job `id` if `scope` sees it.
    pub fn get(&self, scope: berth_engine::Scope<'_>, id: &str) -> Option<Arc<BuildJob>> {
        lock(&self.jobs).iter().find(|job| job.id == id && scope.sees(job.owner.as_deref())).cloned()
    }

    /// The jobs `scope` sees, newest first.
    pub fn list(&self, scope: berth_engine::Scope<'_>) -> Vec<BuildJobSummary> {
        lock(&self.jobs).iter().filter(|job| scope.sees(job.owner.as_deref())).map(|job| job.summary()).collect()
    }

    pub fn totals(&self) -> BuildTotals {
        BuildTotals {
            started: self.totals.started.load(Ordering::Relaxed),
            succeeded: self.totals.succeeded.load(Ordering::Relaxed),
            failed: self.totals.failed.load(Ordering::Relaxed),
        }
    }
}

impl BuildJob {
    pub fn state(&self) -> BuildJobState {
        lock(&self.record).state
    }

    pub fn summary(&self) -> BuildJobSummary {
        let record = lock(&self.record);
        BuildJobSummary {
            id: self.id.clone(),
            state: record.state,
            tags: self.tags.clone(),
            started_ms: self.started_ms,
            finished_ms: record.finished_ms,
            step: record.step,
            total_steps: record.total_steps,
            image_id: record.image_id.clone(),
            error: record.error.clone(),
        }
    }

    fn record(&self, event: BuildEvent) {
        let mut record = lock(&self.record);
        match &event {
            BuildEvent::Step { number, total, .. } => {
                record.step = Some(*number);
                record.total_steps = Some(*total);
            }
            BuildEvent::Built { image_id } => record.image_id = Some(image_id.clone()),
            BuildEvent::Failed { message, .. } => record.error = Some(message.clone()),
            BuildEvent::Output { text, .. } => {
                let before = record.output_bytes;
                record.output_bytes = before.saturating_add(text.len());
                if record.output_bytes > MAX_OUTPUT_BYTES {
                    if before <= MAX_OUTPUT_BYTES {
                        let text = format!(
                            "[output truncated: a build keeps the first {} MiB of output]\n",
                            MAX_OUTPUT_BYTES >> 20
                        );
                        let event = BuildEvent::Output { stream: OutputStream::Stderr, text };
                        record.events.push(BuildJobEvent { time_ms: now_ms(), event });
                        self.changed.send_replace(record.events.len());
                    }
                    return;
                }
            }
            _ => {}
        }
        record.events.push(BuildJobEvent { time_ms: now_ms(), event });
        self.changed.send_replace(record.events.len());
    }

    fn finish(&self, succeeded: bool) {
        let mut record = lock(&self.record);
        record.state = if succeeded { BuildJobState::Succeeded } else { BuildJobState::Failed };
        record.finished_ms = Some(now_ms());
        let count = record.events.len();
        drop(record);
        tracing::info!(id = %self.id, succeeded, "build job finished");
        // Followers waiting for more events learn that none will come.
        self.changed.send_modify(|value| *value = count);
    }

    /// Every event from the first, then the live ones as they come, in batches; ends when the job has ended and
    /// every event was given.
    pub fn follow(self: &Arc<Self>) -> impl Stream<Item = Vec<BuildJobEvent>> + Send + 'static {
        let receiver = self.changed.subscribe();
        futures_util::stream::unfold((self.clone(), receiver, 0_usize), |(job, mut receiver, next)| async move {
            loop {
                // Mark the current value seen before reading, so an event recorded after the read wakes us.
                receiver.borrow_and_update();
                let (batch, running) = {
                    let record = lock(&job.record);
                    (record.events.get(next..).unwrap_or_default().to_vec(), record.state == BuildJobState::Running)
                };
                if !batch.is_empty() {
                    let next = next + batch.len();
                    return Some((batch, (job, receiver, next)));
                }
                if !running {
                    return None;
                }
                if receiver.changed().await.is_err() {
                    return None;
                }
            }
        })
    }
}
