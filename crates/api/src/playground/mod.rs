//! What the daemon does for the web playground beyond the Engine API.
//!
//! - [`compose`]: compose projects from the page: their files unpacked under `<root>/playground/compose/<name>/`,
//!   `up` and `down` run by the daemon's own `berth compose`, progress as typed events.

pub mod compose;
