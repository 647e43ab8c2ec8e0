//! Sessions: a seat in a class (or an operator's scratch space), the tenant everything a person makes belongs to.
//! Each has an expiry and API tokens; a token names exactly one live session.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::classes::{Class, ClassLimits};
use super::secret::{new_id, new_token, now, token_hash};
use super::{Identity, IdentityError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// 12 hex characters: the tenant name engine objects carry, and the `/s/{id}/` of port URLs.
    pub id: String,
    pub class: String,
    pub user: Option<String>,
    pub limits: ClassLimits,
    pub created: i64,
    pub expires: i64,
    pub last_active: i64,
    pub ended: Option<i64>,
}

impl Session {
    /// Ended by someone, or past its maximum age or idle timeout.
    pub fn is_over(&self, now: i64) -> bool {
        self.ended.is_some() || now >= self.expires || now >= self.last_active + self.limits.idle_secs
    }
}

/// A session just made, with the one copy of its first token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewSession {
    pub session: Session,
    pub token: String,
}

/// `last_active` is written at most this often per session, not at every request.
const TOUCH_EVERY_SECS: i64 = 15;

const SESSION_COLUMNS: &str = "s.id, s.user_id, s.created, s.expires, s.last_active, s.ended, s.class_id";

impl Identity {
    /// Seats someone in `class` (by name) if a seat is free.
    pub async fn new_session(&self, class: &str, user: Option<&str>) -> Result<NewSession, IdentityError> {
        let class = self.class(class).await?;
        self.seat(&class, user).await
    }

    /// Seats whoever opened a join link in its class.
    pub async fn join(&self, link_token: &str) -> Result<NewSession, IdentityError> {
        let class = self.join_link_class(link_token).await?;
        self.seat(&class, None).await
    }

    async fn seat(&self, class: &Class, user: Option<&str>) -> Result<NewSession, IdentityError> {
        let user_id = match user {
            Some(name) => Some(self.user(name).await?.id),
            None => None,
        };
        let created = now();
        let session = Session {
            id: new_id(6),
            class: class.name.clone(),
            user: user.map(str::to_string),
            limits: class.limits,
            created,
            expires: created + class.limits.max_age_secs,
            last_active: created,
            ended: None,
        };
        // The count and the insert are one statement, so two joins racing for the last seat cannot both get it;
        // the lock keeps this daemon's own joins in line on databases that would run them side by side.
        let _seating = self.seating.lock().await;
        let inserted = sqlx::query(
            "INSERT INTO sessions (id, class_id, user_id, created, expires, last_active, ended) \
             SELECT $1, $2, $3, $4, $5, $6, NULL WHERE \
             (SELECT COUNT(*) FROM sessions WHERE class_id = $7 AND ended IS NULL AND expires > $8) < $9",
        )
        .bind(&session.id)
        .bind(&class.id)
        .bind(user_id)
        .bind(session.created)
        .bind(session.expires)
        .bind(session.last_active)
        .bind(&class.id)
        .bind(created)
        .bind(class.seats)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(IdentityError::ClassFull { class: class.name.clone(), seats: class.seats });
        }
        drop(_seating);
        let token = self.issue_token(&session.id).await?;
        Ok(NewSession { session, token })
    }

    /// Another API token for a live session (the page's, a second terminal's).
    pub async fn issue_token(&self, session: &str) -> Result<String, IdentityError> {
        let token = new_token("bt");
        sqlx::query("INSERT INTO tokens (token_hash, session_id, created) VALUES ($1, $2, $3)")
            .bind(token_hash(&token))
            .bind(session)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// The live session a token names; every request of a session passes here first.
    pub async fn authenticate(&self, token: &str) -> Result<Session, IdentityError> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1"
        ))
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(IdentityError::BadToken)?;
        let mut session = self.session_from_row(&row).await?;
        let now = now();
        if session.is_over(now) {
            return Err(IdentityError::BadToken);
        }
        if now - session.last_active >= TOUCH_EVERY_SECS {
            self.touch(&session.id, now).await?;
            session.last_active = now;
        }
        Ok(session)
    }

    /// Marks a session active now (terminal input, a port URL's traffic).
    pub async fn touch(&self, session: &str, at: i64) -> Result<(), IdentityError> {
        sqlx::query("UPDATE sessions SET last_active = $1 WHERE id = $2 AND last_active < $3")
            .bind(at)
            .bind(session)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> Result<Session, IdentityError> {
        let row = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| IdentityError::NotFound { kind: "session", name: id.to_string() })?;
        self.session_from_row(&row).await
    }

    /// Every session not yet ended, oldest first (ended ones are kept for the audit trail, not listed).
    pub async fn sessions(&self) -> Result<Vec<Session>, IdentityError> {
        let rows =
            sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.ended IS NULL ORDER BY s.created"))
                .fetch_all(&self.pool)
                .await?;
        let mut sessions = Vec::with_capacity(rows.len());
        for row in &rows {
            sessions.push(self.session_from_row(row).await?);
        }
        Ok(sessions)
    }

    /// The live sessions of `class` (by name), oldest first.
    pub async fn class_sessions(&self, class: &str) -> Result<Vec<Session>, IdentityError> {
        let class = self.class(class).await?;
        Ok(self.sessions().await?.into_iter().filter(|session| session.class == class.name).collect())
    }

    /// The ids of every session `class` ever seated, ended ones too (for its audit trail).
    pub async fn class_session_ids(&self, class: &str) -> Result<Vec<String>, IdentityError> {
        let class = self.class(class).await?;
        let rows = sqlx::query("SELECT id FROM sessions WHERE class_id = $1 ORDER BY created")
            .bind(&class.id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// The latest a session may be extended to: its class's maximum age and extension past it.
    pub fn extend_limit(session: &Session) -> i64 {
        session.created + session.limits.max_age_secs + session.limits.extend_secs
    }

    /// Pushes a live session's end out by one step (its class's maximum age or extension, the smaller), never
    /// past its extension limit; also counts as activity. Refused once the session is at its limit.
    pub async fn extend_session(&self, id: &str) -> Result<Session, IdentityError> {
        let mut session = self.session(id).await?;
        let at = now();
        if session.is_over(at) {
            return Err(IdentityError::NotFound { kind: "session", name: id.to_string() });
        }
        let limit = Identity::extend_limit(&session);
        let step = session.limits.max_age_secs.min(session.limits.extend_secs);
        let expires = (session.expires + step).min(limit);
        if expires <= session.expires {
            return Err(IdentityError::CannotExtend { until: session.expires });
        }
        sqlx::query("UPDATE sessions SET expires = $1, last_active = $2 WHERE id = $3 AND ended IS NULL")
            .bind(expires)
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        session.expires = expires;
        session.last_active = at;
        Ok(session)
    }

    /// Ends a session: its tokens stop working at once. What it made is the engine's to remove.
    pub async fn end_session(&self, id: &str) -> Result<Session, IdentityError> {
        let mut session = self.session(id).await?;
        if session.ended.is_none() {
            let at = now();
            sqlx::query("UPDATE sessions SET ended = $1 WHERE id = $2 AND ended IS NULL")
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await?;
            session.ended = Some(at);
        }
        Ok(session)
    }

    async fn session_from_row(&self, row: &sqlx::any::AnyRow) -> Result<Session, IdentityError> {
        let class = self.class_by_id(&row.try_get::<String, _>("class_id")?).await?;
        let user = match row.try_get::<Option<String>, _>("user_id")? {
            Some(id) => Some(self.user_name(&id).await?),
            None => None,
        };
        Ok(Session {
            id: row.try_get("id")?,
            class: class.name,
            user,
            limits: class.limits,
            created: row.try_get("created")?,
            expires: row.try_get("expires")?,
            last_active: row.try_get("last_active")?,
            ended: row.try_get("ended")?,
        })
    }
}
