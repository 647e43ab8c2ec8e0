//! The security review of containers: `GET /berth/audit` (every container) and `GET /berth/audit/{id-or-name}`
//! answer [`ContainerAudit`]s, and the playground's Security page shows them. The rules live in the engine
//! (`berth_engine::audit`); these are only what travels.

use serde::{Deserialize, Serialize};

/// One container and what a reviewer would flag in how it was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerAudit {
    /// The full container id.
    pub id: String,
    /// Without the leading slash.
    pub name: String,
    /// The image as the user named it (`busybox`, `web:1`).
    pub image: String,
    /// Highest severity first; empty when nothing is flagged.
    pub findings: Vec<Finding>,
}

/// One risk in a container's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable across releases (`root-user`, `privileged`): tests, scripts and the page's anchors match on it.
    pub id: String,
    pub severity: Severity,
    /// One line naming what is wrong in this container ("Runs as root", "Adds capabilities: SYS_ADMIN").
    pub title: String,
    /// Why it matters, in a sentence a student understands.
    pub why: String,
    /// What to change, with the docker flag that does it. Commands and flags are between backticks
    /// (``Run as an ordinary user: `--user 1000:1000` ``), in `why` too; the page shows them as code.
    pub fix: String,
}

/// How much a finding matters. Ordered from the most serious, so sorting puts `High` first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A way out of the container onto the host, or to the host's other containers.
    High,
    /// Makes an escape or a leak much easier, or lets the container hurt the host.
    Medium,
    /// Worth tightening; often the default and sometimes meant.
    Low,
}

impl Severity {
    /// How the page and reports name it.
    pub fn label(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_is_lowercase_and_snake_case() {
        let audit = ContainerAudit {
            id: "abc".into(),
            name: "web".into(),
            image: "busybox".into(),
            findings: vec![Finding {
                id: "privileged".into(),
                severity: Severity::High,
                title: "Runs privileged".into(),
                why: "why".into(),
                fix: "fix".into(),
            }],
        };
        let json = serde_json::to_value(&audit).unwrap();
        assert_eq!(json["findings"][0]["severity"], "high");
        assert_eq!(json["findings"][0]["id"], "privileged");
        assert_eq!(serde_json::from_value::<ContainerAudit>(json).unwrap(), audit);
        assert!(Severity::High < Severity::Low);
    }
}
