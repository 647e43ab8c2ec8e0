//! Browser-side logic with no DOM in it, each piece tested with wasm-bindgen-test:
//!
//! - [`tar`]: a ustar writer for the build context held in memory.
//! - [`build_progress`]: a build job's typed events into steps with states, output and durations.
//! - [`cache_prediction`]: the daemon's cache prediction as a mark per step and a summary.
//! - [`log_frames`]: Docker's multiplexed log/attach frames (8-byte headers) into lines, incrementally.
//! - [`json_lines`]: a byte stream of newline-separated JSON values (build events and stats streams), incrementally.
//! - [`layer_title`]: a layer's title (its Dockerfile line, or its instruction without content hashes), "1 file".
//! - [`lint`]: berth-shared's Dockerfile lint, positioned for the editor (UTF-16 offsets).
//! - [`compose_check`]: berth-shared's compose loader, its diagnostics positioned the same way.
//! - [`compose_graph`]: the services graph of a compose project (depends_on and links), laid out by depth.
//! - [`compose_run`]: a compose up/down's progress stream into per-service states.
//! - [`merged_logs`]: the logs of several containers merged by timestamp, prefixed with their service.
//! - [`stats`]: CPU and memory figures from Docker's stats objects, as `docker stats` computes them, and the network rate.
//! - [`run_defaults`]: whether the run dialog starts with `-it` for an image (its command is a shell).
//! - [`image_reference`]: a typed image name split into name and tag (or digest) as the docker CLI splits it, and
//!   an image's source from its `RepoDigests`.
//! - [`pull_progress`]: a pull's progress messages into one row per layer, the final status or the error.
//! - [`code_spans`]: text with backticked commands (a security finding's why and fix) into plain and code pieces.
//! - [`chart_axes`]: a chart's round top value and its ticks.
//! - [`shortcuts`]: the one table of keyboard shortcuts (the key handler, the sidebar and the `?` overlay).
//! - [`format`]: bytes, durations and timestamps for people.
//! - [`route_traffic`]: a route's request and error rates from two reads of its counters, and its weights.
//! - [`route_form`]: the route page's create form into a `POST /berth/routes` body.

pub mod build_progress;
pub mod cache_prediction;
pub mod chart_axes;
pub mod code_spans;
pub mod compose_check;
pub mod compose_graph;
pub mod compose_run;
pub mod format;
pub mod image_reference;
pub mod json_lines;
pub mod layer_title;
pub mod lint;
pub mod log_frames;
pub mod merged_logs;
pub mod pull_progress;
pub mod route_form;
pub mod route_traffic;
pub mod run_defaults;
pub mod shortcuts;
pub mod stats;
pub mod tar;
