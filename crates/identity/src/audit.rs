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

    /// The newest `limit` entries whose actor or target is one of `names` (a class's sessions as
    /// `session:<id>` and ids, its instructor as `user:<name>`, the class's name), newest first.
    pub async fn audit_log_of(&self, names: &[String], limit: i64) -> Result<Vec<AuditEntry>, IdentityError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let list = (0..names.len()).map(|i| format!("${}", i + 1)).collect::<Vec<_>>().join(", ");
        let statement = format!(
            "SELECT at, actor, action, target, outcome FROM audit WHERE actor IN ({list}) OR target IN ({list}) \
             ORDER BY at DESC LIMIT ${}",
            names.len() + 1
        );
        let mut query = sqlx::query(&statement);
        for name in names {
            query = query.bind(name);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// The newest `limit` entries, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, IdentityError> {
        let rows = sqlx::query("SELECT at, actor, action, target, outcome FROM audit ORDER BY at DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entry_from_row).collect()
    }
}

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<AuditEntry, IdentityError> {
    Ok(AuditEntry {
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        outcome: row.try_get("outcome")?,
    })
}
