//! Summaries of repeated measurements: the median says what a typical run costs, the tail percentiles say how bad
//! a slow one gets. Percentiles use the nearest-rank method (no interpolation), so every reported number is a time
//! that was actually measured.

use std::time::Duration;

/// The typical and the slow case of a set of samples, in the samples' unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub p95: f64,
    pub p99: f64,
    pub runs: usize,
}

/// None for no samples (a figure that could not be measured has no summary rather than a zero).
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(Summary {
        median: median_of_sorted(&sorted),
        p95: percentile_of_sorted(&sorted, 95.0),
        p99: percentile_of_sorted(&sorted, 99.0),
        runs: sorted.len(),
    })
}

/// The middle value, or the mean of the two middle values for an even count.
fn median_of_sorted(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

/// Nearest rank: the smallest sample with at least `percent`% of the samples at or below it.
fn percentile_of_sorted(sorted: &[f64], percent: f64) -> f64 {
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::summarize;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(summarize(&[3.0, 1.0, 2.0]).unwrap().median, 2.0);
        assert_eq!(summarize(&[4.0, 1.0, 3.0, 2.0]).unwrap().median, 2.5);
        assert_eq!(summarize(&[7.0]).unwrap().median, 7.0);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<f64> = (1..=20).map(f64::from).collect();
        let summary = summarize(&samples).unwrap();
        // 95% of 20 is 19: the 19th smallest.
        assert_eq!(summary.p95, 19.0);
        // 99% of 20 rounds up to 20: the largest.
        assert_eq!(summary.p99, 20.0);
        assert_eq!(summary.runs, 20);

        let hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let summary = summarize(&hundred).unwrap();
        assert_eq!((summary.median, summary.p95, summary.p99), (50.5, 95.0, 99.0));
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let summary = summarize(&[5.0]).unwrap();
        assert_eq!((summary.median, summary.p95, summary.p99), (5.0, 5.0, 5.0));
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(summarize(&[]), None);
    }
}
