//! Who may use a shared Berth, kept in a real database: accounts (argon2id passwords, roles), classes (seats,
//! limits, lifetimes), join links, sessions (the tenants the engine's objects belong to) with their API tokens,
//! and the audit log. SQLite under `--root` by default (WAL, migrations at open); PostgreSQL by URL, through the
//! same queries (sqlx's Any driver, portable SQL). Nothing of this module lives only in memory.
//!
//! Tokens and join links are random and stored only as their SHA-256: the database alone opens nothing.

mod accounts;
mod audit;
mod classes;
mod error;
mod secret;
mod sessions;

use std::path::Path;

pub use accounts::{Role, User};
pub use audit::AuditEntry;
pub use classes::{Class, ClassLimits, JoinLink};
pub use error::IdentityError;
pub use sessions::{NewSession, Session};

pub struct Identity {
    pool: sqlx::AnyPool,
    /// Checked against when a sign-in names no user, so timing tells nothing.
    decoy_hash: String,
    seating: tokio::sync::Mutex<()>,
}

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Identity {
    /// The embedded default: `<root>/identity.db`.
    pub fn sqlite_url(root: &Path) -> String {
        format!("sqlite://{}?mode=rwc", root.join("identity.db").display())
    }

    /// Opens the database at `url` (`sqlite://...` or `postgres://...`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Identity, IdentityError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let pool = sqlx::any::AnyPoolOptions::new().max_connections(if sqlite { 4 } else { 8 }).connect(url).await?;
        if sqlite {
            // Readers never wait for the writer; the setting stays with the file.
            sqlx::query("PRAGMA journal_mode=WAL").execute(&pool).await?;
        }
        MIGRATIONS.run(&pool).await?;
        let decoy_hash = tokio::task::spawn_blocking(accounts::decoy_hash)
            .await
            .map_err(|e| IdentityError::Hash(e.to_string()))??;
        tracing::info!(database = %redact(url), "identity store open");
        Ok(Identity { pool, decoy_hash, seating: tokio::sync::Mutex::new(()) })
    }

    /// Closes the pool, so a SQLite file is checkpointed and released.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database URL for the log, without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Identity) {
        let dir = tempfile::tempdir().expect("tempdir");
        let identity = Identity::open(&Identity::sqlite_url(dir.path())).await.expect("open");
        (dir, identity)
    }

    #[tokio::test]
    async fn users_sign_in_with_their_password_only() {
        let (_dir, identity) = store().await;
        identity.create_user("ada", Role::Instructor, "analytical engine").await.expect("create");
        let again = identity.create_user("ada", Role::Student, "another one!").await.err().map(|e| e.to_string());
        assert_eq!(again.as_deref(), Some("user \"ada\" already exists"));
        assert_eq!(identity.sign_in("ada", "analytical engine").await.expect("sign in").role, Role::Instructor);
        assert!(matches!(identity.sign_in("ada", "analytical Engine").await, Err(IdentityError::SignInFailed)));
        assert!(matches!(identity.sign_in("nobody", "analytical engine").await, Err(IdentityError::SignInFailed)));
        assert!(identity.create_user("bob", Role::Student, "short").await.is_err());
    }

    #[tokio::test]
    async fn a_class_seats_as_many_sessions_as_it_has_seats() {
        let (_dir, identity) = store().await;
        identity.create_class("intro", 2, ClassLimits::default()).await.expect("class");
        let link = identity.create_join_link("intro", 3600).await.expect("link");
        let first = identity.join(&link.token).await.expect("first seat");
        let second = identity.new_session("intro", None).await.expect("second seat");
        assert_ne!(first.session.id, second.session.id);
        let full = identity.join(&link.token).await.err().map(|e| e.to_string());
        assert_eq!(full.as_deref(), Some("the class \"intro\" has all its 2 seats taken"));
        identity.end_session(&first.session.id).await.expect("end");
        identity.join(&link.token).await.expect("a seat freed by the ended session");
        assert!(matches!(identity.join("bj_forged").await, Err(IdentityError::BadToken)));
        identity.revoke_join_links("intro").await.expect("revoke");
        assert!(matches!(identity.join(&link.token).await, Err(IdentityError::LinkRevoked)));
    }

    #[tokio::test]
    async fn a_token_names_its_session_until_the_session_ends() {
        let (_dir, identity) = store().await;
        identity.create_class("lab", 5, ClassLimits::default()).await.expect("class");
        let seated = identity.new_session("lab", None).await.expect("session");
        let session = identity.authenticate(&seated.token).await.expect("token");
        assert_eq!(session.id, seated.session.id);
        assert_eq!(session.class, "lab");
        assert!(matches!(identity.authenticate("bt_forged").await, Err(IdentityError::BadToken)));
        identity.end_session(&session.id).await.expect("end");
        assert!(matches!(identity.authenticate(&seated.token).await, Err(IdentityError::BadToken)));
        assert!(identity.sessions().await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn state_survives_reopening_the_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = Identity::sqlite_url(dir.path());
        let token = {
            let identity = Identity::open(&url).await.expect("open");
            identity.create_user("root-admin", Role::Admin, "a long password").await.expect("user");
            identity.create_class("night", 3, ClassLimits::default()).await.expect("class");
            let seated = identity.new_session("night", None).await.expect("session");
            identity.audit("operator", "create-class", "night", "ok").await.expect("audit");
            identity.close().await;
            seated.token
        };
        let identity = Identity::open(&url).await.expect("reopen");
        assert_eq!(identity.authenticate(&token).await.expect("token").class, "night");
        assert_eq!(identity.sign_in("root-admin", "a long password").await.expect("user").role, Role::Admin);
        let log = identity.audit_log(10).await.expect("audit");
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].action, "create-class");
    }

    #[test]
    fn database_passwords_stay_out_of_the_log() {
        assert_eq!(redact("postgres://berth:secret@db:5432/berth"), "postgres://…@db:5432/berth");
        assert_eq!(redact("sqlite:///var/lib/berth/identity.db"), "sqlite:///var/lib/berth/identity.db");
    }
}
