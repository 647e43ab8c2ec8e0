//! The audit log: who did what to what, and how it went; kept in the database, never only in memory.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::secret::now;
use super::{Identity, IdentityError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    /// `operator`, `session:<id>`, `user:<name>` or `anonymous`.
    pub actor: String,
    pub action: String,
    pub target: String,
    /// `ok`, or why it was refused.
    pub outcome: String,
}

impl Identity {
    pub async fn audit(&self, actor: &str, action: &str, target: &str, outcome: &str) -> Result<(), IdentityError> {
        sqlx::query("INSERT INTO audit (at, actor, action, target, outcome) VALUES ($1, $2, $3, $4, $5)")
            .bind(now())
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(outcome)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest `limit` entries, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, IdentityError> {
        let rows = sqlx::query("SELECT at, actor, action, target, outcome FROM audit ORDER BY at DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    outcome: row.try_get("outcome")?,
                })
            })
            .collect()
    }
}
