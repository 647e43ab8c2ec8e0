//! The instructor's class view on a shared daemon (`/berth/classes/...`): a class's sessions with what each uses
//! now and the terminals open in it, and what the page sends to make a class or to act on a session.

use serde::{Deserialize, Serialize};

/// One class as its instructor's list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassSummary {
    pub name: String,
    pub instructor: Option<String>,
    pub seats: i64,
    /// Seats taken by live sessions.
    pub sessions: usize,
    pub max_age_secs: i64,
    pub idle_secs: i64,
}

/// `POST /berth/classes`: a class of the signed-in instructor's, with the class defaults for what is left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewClass {
    pub name: String,
    pub seats: i64,
    #[serde(default)]
    pub max_age_secs: Option<i64>,
    #[serde(default)]
    pub idle_secs: Option<i64>,
    #[serde(default)]
    pub memory_bytes: Option<i64>,
    #[serde(default)]
    pub containers: Option<i64>,
}

/// A join link, given out once: its path on this port (`/berth/join/...`) and when it stops working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinLinkView {
    pub class: String,
    pub path: String,
    pub expires: i64,
}

/// A terminal open in a session's container, which the instructor may watch read-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminalRef {
    pub id: String,
    pub container_id: String,
    pub container_name: String,
}

/// One session of a class, with what it uses now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionUsage {
    pub id: String,
    pub user: Option<String>,
    pub created: i64,
    pub expires: i64,
    pub idle_expires: i64,
    pub last_active: i64,
    pub containers: usize,
    pub running: usize,
    /// CPU time of its running containers so far: a rate is two readings apart.
    pub cpu_nanos: u64,
    pub memory_bytes: u64,
    pub memory_limit: i64,
    pub disk_bytes: u64,
    pub disk_limit: i64,
    pub terminals: Vec<TerminalRef>,
}

/// What an instructor does to one session (`POST /berth/classes/{class}/sessions/{id}/{action}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionAction {
    /// Ends it and removes everything it made.
    End,
    /// Pushes its end out, within its class's limit.
    Extend,
    /// Removes everything it made; the session and its tokens go on.
    Reset,
}

/// `POST /berth/classes/{class}/broadcast`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BroadcastRequest {
    pub text: String,
}

/// A message to a class, as each of its sessions' pages shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMessage {
    pub at: i64,
    pub author: String,
    pub text: String,
}
