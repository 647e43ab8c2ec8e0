//! berth-shared: the contract that Berth's daemon (`berth`) and its browser playground (`berth-web`) both compile.
//!
//! It builds for `wasm32-unknown-unknown` and for the host, and it does no I/O: every function here is a pure
//! transformation of values, so the browser can parse and lint locally and the daemon can trust the same code.
//!
//! - [`api`]: Engine API models (re-exported from bollard-stubs) and Berth's own wire types (build events, layers,
//!   terminal protocol, security audit).
//! - [`dockerfile`]: Dockerfile parser (directives, continuations, heredocs, JSON/shell forms, spans),
//!   variable substitution, printer and linter.
//! - [`compose`]: compose files loaded into a resolved project (interpolation, extends, override merge,
//!   validation with line:column), startup order, config hashes and `compose config` output.
//! - [`go_duration`]: Go's `time.ParseDuration`, for HEALTHCHECK flags and relative event times.

pub mod api;
pub mod dockerfile;
pub mod compose;
pub mod go_duration;
