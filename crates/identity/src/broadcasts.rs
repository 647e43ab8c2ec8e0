//! Messages an instructor sends to a whole class; each session's page shows those sent since it was seated.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::secret::now;
use super::{Identity, IdentityError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broadcast {
    pub at: i64,
    pub author: String,
    pub text: String,
}

/// A message is a line or two for a banner, not a document.
const MAX_TEXT: usize = 2000;
/// A page shows the newest few.
const SHOWN: i64 = 20;

impl Identity {
    pub async fn broadcast(&self, class: &str, author: &str, text: &str) -> Result<Broadcast, IdentityError> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_TEXT {
            return Err(IdentityError::Invalid(format!("a message has 1 to {MAX_TEXT} characters")));
        }
        let class = self.class(class).await?;
        let message = Broadcast { at: now(), author: author.to_string(), text: text.to_string() };
        sqlx::query("INSERT INTO broadcasts (class_id, at, author, text) VALUES ($1, $2, $3, $4)")
            .bind(&class.id)
            .bind(message.at)
            .bind(&message.author)
            .bind(&message.text)
            .execute(&self.pool)
            .await?;
        Ok(message)
    }

    /// The newest messages to `class` sent at or after `since`, oldest first.
    pub async fn broadcasts(&self, class: &str, since: i64) -> Result<Vec<Broadcast>, IdentityError> {
        let class = self.class(class).await?;
        let rows = sqlx::query(
            "SELECT at, author, text FROM broadcasts WHERE class_id = $1 AND at >= $2 ORDER BY at DESC LIMIT $3",
        )
        .bind(&class.id)
        .bind(since)
        .bind(SHOWN)
        .fetch_all(&self.pool)
        .await?;
        let mut messages = rows
            .iter()
            .map(|row| {
                Ok(Broadcast { at: row.try_get("at")?, author: row.try_get("author")?, text: row.try_get("text")? })
            })
            .collect::<Result<Vec<_>, IdentityError>>()?;
        messages.reverse();
        Ok(messages)
    }
}
