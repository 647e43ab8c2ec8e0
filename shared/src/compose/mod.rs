//! Compose files: load one or more of them into a resolved [`Project`], as `docker compose` does, without I/O.
//!
//! [`load`] runs the pipeline, one step per file:
//! - [`yaml`](self): the YAML text into a tree whose nodes keep their line:column (saphyr-parser events).
//! - [`interpolate`]: `${VAR:-default}` and friends, from the caller's environment and the project's `.env`
//!   ([`dotenv`]).
//! - `decode`, `decode_project`, `decode_service`: the tree into the typed [`model`], every syntax
//!   (short/long ports in `ports`, volumes in `mounts`, durations and sizes in [`units`]) into one canonical form;
//!   env_files and other files come through the caller's [`FileSource`].
//! - `extends`: services built on other services, in the same file or another one, chained.
//! - `merge`: later files override earlier ones with compose's rules.
//! - `validate`: references between services, networks, volumes, secrets and configs; dependency cycles.
//!
//! Then the [`Project`] answers [`Project::startup_order`] (`order`) and [`Project::config_hash`] (`hash`), and
//! [`to_yaml`] prints it for `compose config`. Every error and warning is a [`Diagnostic`] with file, line:column
//! and the path of the value (`services.web.ports[1]`).
//!
//! Not done: `include`, the `!reset`/`!override` merge tags, multi-document files (only the first document is
//! read), and compose attributes listed as ignored (a warning says so) such as `devices` or `deploy.replicas`.

mod decode;
mod decode_project;
mod decode_service;
pub mod dotenv;
mod emit;
pub mod error;
mod extends;
mod hash;
pub mod interpolate;
mod load;
mod merge;
pub mod model;
mod mounts;
mod order;
mod paths;
mod ports;
mod project_name;
mod shell_words;
mod suggest;
pub mod units;
mod validate;
mod yaml;

pub use dotenv::parse_dotenv;
pub use emit::to_yaml;
pub use error::{ComposeError, Diagnostic, Severity};
pub use hash::service_config_hash;
pub use interpolate::{interpolate, Interpolated};
pub use load::{load, FileSource, LoadOptions, Loaded, NoFiles};
pub use model::*;
pub use project_name::normalize_project_name;
pub use units::{parse_byte_size, Duration};

#[cfg(test)]
mod tests;
