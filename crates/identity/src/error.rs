use thiserror::Error;

/// Everything the identity store can refuse or fail at. The api maps each to its HTTP status.
#[derive(Debug, Error)]
pub enum IdentityError {
    #[error("identity database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("identity database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("wrong user name or password")]
    SignInFailed,
    #[error("{0}")]
    Invalid(String),
    #[error("{kind} {name:?} already exists")]
    Exists { kind: &'static str, name: String },
    #[error("no such {kind}: {name}")]
    NotFound { kind: &'static str, name: String },
    #[error("this join link has expired")]
    LinkExpired,
    #[error("this join link was revoked")]
    LinkRevoked,
    #[error("the class {class:?} has all its {seats} seats taken")]
    ClassFull { class: String, seats: i64 },
    #[error("the token is not valid (unknown, or its session ended or expired)")]
    BadToken,
    #[error("too many failed sign-ins for this name: try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: i64 },
    #[error("the session cannot be extended further: it ends at its class's limit")]
    CannotExtend { until: i64 },
    #[error("hash a password: {0}")]
    Hash(String),
}

impl IdentityError {
    /// An INSERT's outcome: a row whose unique key is taken is `Exists` for `kind` `name`.
    pub(crate) fn unless_taken<T>(
        inserted: Result<T, sqlx::Error>,
        kind: &'static str,
        name: &str,
    ) -> Result<T, IdentityError> {
        inserted.map_err(|error| match error {
            sqlx::Error::Database(database) if database.is_unique_violation() => {
                IdentityError::Exists { kind, name: name.to_string() }
            }
            other => other.into(),
        })
    }
}
