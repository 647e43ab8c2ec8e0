//! Signing in with a password, for the instructor's and admin's view in the browser: a login token that names the
//! account until it signs out or the token expires, and a limit on failed attempts per name, kept in the database
//! so a restart does not reset it and several daemons on one database share it.

use sqlx::Row as _;

use super::accounts::{user_from_row, User};
use super::secret::{new_token, now, token_hash};
use super::{Identity, IdentityError};

/// What every login token starts with (a session's API tokens start `bt_`).
pub const LOGIN_TOKEN_PREFIX: &str = "bl_";

/// A browser's sign-in lasts a working day.
const LOGIN_SECS: i64 = 12 * 3600;
/// At most this many failed attempts per name within the window; then that name is refused until the oldest
/// failure leaves the window, whatever the password.
const FAILURES_ALLOWED: i64 = 5;
const FAILURE_WINDOW_SECS: i64 = 300;

/// A signed-in account and the one copy of its login token.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: User,
    pub token: String,
    pub expires: i64,
}

impl Identity {
    /// Signs `name` in with `password`, unless the name has failed too often lately (checked first, so a locked
    /// name costs no hash and tells nothing about the password).
    pub async fn sign_in_for_login(&self, name: &str, password: &str) -> Result<Login, IdentityError> {
        let at = now();
        let window_start = at - FAILURE_WINDOW_SECS;
        let recent = sqlx::query(
            "SELECT COUNT(*) AS failures, MIN(at) AS oldest FROM sign_in_failures WHERE name = $1 AND at > $2",
        )
        .bind(name)
        .bind(window_start)
        .fetch_one(&self.pool)
        .await?;
        let failures: i64 = recent.try_get("failures")?;
        if failures >= FAILURES_ALLOWED {
            let oldest: Option<i64> = recent.try_get("oldest")?;
            let retry_after = oldest.map_or(FAILURE_WINDOW_SECS, |oldest| oldest + FAILURE_WINDOW_SECS - at).max(1);
            return Err(IdentityError::TooManyAttempts { retry_after_secs: retry_after });
        }
        let user = match self.sign_in(name, password).await {
            Ok(user) => user,
            Err(IdentityError::SignInFailed) => {
                sqlx::query("INSERT INTO sign_in_failures (name, at) VALUES ($1, $2)")
                    .bind(name)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                sqlx::query("DELETE FROM sign_in_failures WHERE at <= $1")
                    .bind(window_start)
                    .execute(&self.pool)
                    .await?;
                return Err(IdentityError::SignInFailed);
            }
            Err(other) => return Err(other),
        };
        let token = new_token(LOGIN_TOKEN_PREFIX.trim_end_matches('_'));
        let expires = at + LOGIN_SECS;
        sqlx::query("INSERT INTO logins (token_hash, user_id, created, expires, ended) VALUES ($1, $2, $3, $4, NULL)")
            .bind(token_hash(&token))
            .bind(&user.id)
            .bind(at)
            .bind(expires)
            .execute(&self.pool)
            .await?;
        Ok(Login { user, token, expires })
    }

    /// The account a login token names, while it has not expired or signed out.
    pub async fn authenticate_login(&self, token: &str) -> Result<User, IdentityError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role, u.created FROM logins l JOIN users u ON u.id = l.user_id \
             WHERE l.token_hash = $1 AND l.ended IS NULL AND l.expires > $2",
        )
        .bind(token_hash(token))
        .bind(now())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(IdentityError::BadToken)?;
        user_from_row(&row)
    }

    /// Ends a login: the token stops working at once.
    pub async fn sign_out(&self, token: &str) -> Result<(), IdentityError> {
        sqlx::query("UPDATE logins SET ended = $1 WHERE token_hash = $2 AND ended IS NULL")
            .bind(now())
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
