//! A backend's counters: requests, errors, connect failures, what is under way, a latency histogram, and the
//! recent outcomes a ramp's guard reads its error rate from.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth_shared::api::routes::{BackendCounters, LatencyBucket};

/// Upper bounds of the histogram's buckets, in milliseconds; a last one is +Inf.
pub(crate) const BUCKETS_MS: [f64; 14] =
    [0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0];

/// Outcomes kept for error rates: enough for any window at the rates a class's containers see, bounded anyway.
const RECENT_OUTCOMES: usize = 8192;

#[derive(Default)]
pub(crate) struct Stats {
    requests: AtomicU64,
    errors: AtomicU64,
    connect_failures: AtomicU64,
    active: AtomicU64,
    buckets: [AtomicU64; BUCKETS_MS.len() + 1],
    latency_sum_us: AtomicU64,
    recent: Mutex<VecDeque<(Instant, bool)>>,
}

impl Stats {
    /// An answer (or a TCP connection) that took `latency` to its head.
    pub fn record(&self, latency: Duration, error: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let ms = latency.as_secs_f64() * 1000.0;
        let bucket = BUCKETS_MS.iter().position(|le| ms <= *le).unwrap_or(BUCKETS_MS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.remember(error);
    }

    /// A connection that could not be made: a request and an error, with no latency.
    pub fn record_connect_failure(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.connect_failures.fetch_add(1, Ordering::Relaxed);
        self.remember(true);
    }

    /// An answer whose head came but whose body broke off.
    pub fn record_broken_body(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.remember(true);
    }

    fn remember(&self, error: bool) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == RECENT_OUTCOMES {
            recent.pop_front();
        }
        recent.push_back((Instant::now(), error));
    }

    /// (requests, errors) of the last `window`.
    pub fn recent(&self, window: Duration) -> (u64, u64) {
        let now = Instant::now();
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let within = recent.iter().rev().take_while(|(at, _)| now.duration_since(*at) <= window);
        within.fold((0, 0), |(requests, errors), (_, error)| (requests + 1, errors + u64::from(*error)))
    }

    /// Counts a request under way until the guard drops.
    pub fn begin(&self) -> Active<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        Active(&self.active)
    }

    pub fn counters(&self) -> BackendCounters {
        let mut cumulative = 0;
        let latency_buckets = BUCKETS_MS
            .iter()
            .zip(&self.buckets)
            .map(|(le_ms, count)| {
                cumulative += count.load(Ordering::Relaxed);
                LatencyBucket { le_ms: *le_ms, count: cumulative }
            })
            .collect();
        let latency_count = self.buckets.iter().map(|count| count.load(Ordering::Relaxed)).sum();
        BackendCounters {
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            connect_failures: self.connect_failures.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            latency_buckets,
            latency_count,
            latency_sum_ms: self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

pub(crate) struct Active<'a>(&'a AtomicU64);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_errors_are_counted() {
        let stats = Stats::default();
        stats.record(Duration::from_micros(300), false);
        stats.record(Duration::from_millis(7), true);
        stats.record_connect_failure();
        let counters = stats.counters();
        assert_eq!((counters.requests, counters.errors, counters.connect_failures), (3, 2, 1));
        assert_eq!(counters.latency_buckets[0], LatencyBucket { le_ms: 0.5, count: 1 });
        assert_eq!(counters.latency_buckets[3], LatencyBucket { le_ms: 5.0, count: 1 });
        assert_eq!(counters.latency_buckets[4], LatencyBucket { le_ms: 10.0, count: 2 });
        assert_eq!(counters.latency_buckets.last().unwrap().count, 2);
        assert_eq!(counters.latency_buckets.len(), BUCKETS_MS.len());
        assert_eq!(counters.latency_count, 2);
        assert_eq!(stats.recent(Duration::from_secs(60)), (3, 2));
    }
}
