//! Browser-side logic with no DOM in it, each piece tested with wasm-bindgen-test:
//!
//! - [`tar`]: a ustar writer for the build context held in memory.
//! - [`build_progress`]: a build job's typed events into steps with states, output and durations.
//! - [`cache_prediction`]: the daemon's cache prediction as a mark per step and a summary.
//! - [`log_frames`]: Docker's multiplexed log/attach frames (8-byte headers) into lines, incrementally.
//! - [`json_lines`]: a byte stream of newline-separated JSON values (build events and stats streams), incrementally.
//! - [`lint`]: berth-shared's Dockerfile lint, positioned for the editor (UTF-16 offsets).
//! - [`stats`]: CPU and memory figures from Docker's stats objects, as `docker stats` computes them.
//! - [`format`]: bytes, durations and timestamps for people.

pub mod build_progress;
pub mod cache_prediction;
pub mod format;
pub mod json_lines;
pub mod lint;
pub mod log_frames;
pub mod stats;
pub mod tar;
