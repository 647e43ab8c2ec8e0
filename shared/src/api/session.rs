//! The page's view of its own session on a shared daemon (`GET /berth/session`), and a token for the docker CLI
//! (`POST /berth/session/tokens`).

use serde::{Deserialize, Serialize};

use super::class_view::ClassMessage;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub class: String,
    /// Unix seconds: when the session ends at the latest, and when it ends if nothing more happens.
    pub expires: i64,
    pub idle_expires: i64,
    /// The latest `expires` can be pushed to by extending (equal to `expires` when it cannot).
    #[serde(default)]
    pub extend_until: i64,
    pub memory_bytes: i64,
    pub nano_cpus: i64,
    pub pids: i64,
    pub containers: i64,
    /// What the class's instructor sent since the session began, oldest first.
    #[serde(default)]
    pub messages: Vec<ClassMessage>,
}

/// What the page shows for the docker CLI: the two things to paste.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CliAccess {
    pub token: String,
    /// `export DOCKER_HOST=tcp://HOST:PORT`
    pub docker_host: String,
    /// The config.json that sends the token (`{"HttpHeaders": {"Authorization": "Bearer ..."}}`).
    pub config_json: String,
}
