//! Engine API models, generated from Docker's OpenAPI spec by bollard-stubs (never hand-written here), and
//! Berth's own wire types for what the Engine API does not cover.
//!
//! - [`audit`]: the security review of containers (`GET /berth/audit`): findings with why and fix.
//! - [`build`]: typed build progress events (the legacy `docker build` JSON stream is rendered from them).
//! - [`build_jobs`]: builds as daemon jobs a reloaded page rejoins, and the build cache's prediction.
//! - [`class_view`]: the instructor's view of a class's sessions on a shared daemon.
//! - [`compose`]: compose progress per service (`berth compose --progress json`, the playground's compose page).
//! - [`disk_usage`]: `GET /system/df` in the shape API versions before 1.52 answer.
//! - [`layers`]: per-layer file trees, wasted space and image diffs.
//! - [`routes`]: routed ports (blue/green, weighted, ramped, shadow) and their live counters.
//! - [`terminal`]: the terminal websocket protocol.

pub mod audit;
pub mod build;
pub mod build_jobs;
pub mod class_view;
pub mod compose;
pub mod disk_usage;
pub mod layers;
pub mod routes;
pub mod session;
pub mod terminal;

pub use bollard_stubs::models;

/// How the daemon decodes a JSON request body, of any type: one whose bytes are all whitespace is the type's
/// default (clients send none for many POSTs), anything else must be one JSON document of that type. Here rather
/// than in berth-api so that fuzz/ feeds hostile bytes to the very function the daemon calls.
pub fn decode_json_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
}

/// The header the playground puts on every request it makes. The daemon's HTTP port refuses the playground's
/// state-changing `/berth/...` requests without it: a page on another origin cannot add a custom header without a
/// CORS preflight, and Berth grants none.
pub const CLIENT_HEADER: &str = "x-berth-client";
