//! Who may use a shared Berth, kept in a real database: accounts (argon2id passwords, roles), classes (seats,
//! limits, lifetimes), join links, sessions (the tenants the engine's objects belong to) with their API tokens,
//! and the audit log. SQLite under `--root` by default (WAL, migrations at open); PostgreSQL by URL, through the
//! same queries (sqlx's Any driver, portable SQL). Nothing of this module lives only in memory.
//!
//! Tokens and join links are random and stored only as their SHA-256: the database alone opens nothing.

mod accounts;
mod audit;
mod broadcasts;
mod classes;
mod error;
mod logins;
mod secret;
mod sessions;

use std::path::Path;

pub use accounts::{Role, User};
pub use audit::AuditEntry;
pub use broadcasts::Broadcast;
pub use classes::{Class, ClassLimits, JoinLink};
pub use error::IdentityError;
pub use logins::{Login, LOGIN_TOKEN_PREFIX};
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

    #[tokio::test]
    async fn a_name_that_fails_too_often_is_refused_for_a_while() {
        let (_dir, identity) = store().await;
        identity.create_user("grace", Role::Instructor, "compilers rule").await.expect("user");
        let login = identity.sign_in_for_login("grace", "compilers rule").await.expect("sign in");
        assert_eq!(identity.authenticate_login(&login.token).await.expect("login").name, "grace");
        for _ in 0..5 {
            assert!(matches!(
                identity.sign_in_for_login("grace", "wrong guess").await,
                Err(IdentityError::SignInFailed)
            ));
        }
        // The right password no longer helps, and the wait is said.
        match identity.sign_in_for_login("grace", "compilers rule").await {
            Err(IdentityError::TooManyAttempts { retry_after_secs }) => {
                assert!((1..=300).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another name is untouched, and a signed-in browser stays signed in until it signs out.
        identity.create_user("linus", Role::Instructor, "kernel hacker").await.expect("user");
        identity.sign_in_for_login("linus", "kernel hacker").await.expect("another name");
        assert!(identity.authenticate_login(&login.token).await.is_ok());
        identity.sign_out(&login.token).await.expect("sign out");
        assert!(matches!(identity.authenticate_login(&login.token).await, Err(IdentityError::BadToken)));
        assert!(matches!(identity.authenticate_login("bl_forged").await, Err(IdentityError::BadToken)));
    }

    #[tokio::test]
    async fn instructors_see_their_own_classes_only() {
        let (_dir, identity) = store().await;
        let ada = identity.create_user("ada", Role::Instructor, "analytical engine").await.expect("ada");
        let bob = identity.create_user("bob", Role::Instructor, "difference engine").await.expect("bob");
        let root = identity.create_user("root", Role::Admin, "the whole machine").await.expect("admin");
        identity.create_class_of(&ada, "ada-101", 3, ClassLimits::default()).await.expect("class");
        identity.create_class("operators", 3, ClassLimits::default()).await.expect("class");
        let names = |classes: Vec<Class>| classes.into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(identity.classes_of(&ada).await.expect("ada's")), ["ada-101"]);
        assert!(identity.classes_of(&bob).await.expect("bob's").is_empty());
        assert_eq!(names(identity.classes_of(&root).await.expect("all")), ["ada-101", "operators"]);
        assert_eq!(identity.class_of(&ada, "ada-101").await.expect("own").instructor.as_deref(), Some("ada"));
        assert!(matches!(identity.class_of(&bob, "ada-101").await, Err(IdentityError::NotFound { .. })));
    }

    #[tokio::test]
    async fn a_session_extends_up_to_its_class_limit() {
        let (_dir, identity) = store().await;
        let limits = ClassLimits { max_age_secs: 600, extend_secs: 300, ..ClassLimits::default() };
        identity.create_class("short", 2, limits).await.expect("class");
        let seated = identity.new_session("short", None).await.expect("session");
        let extended = identity.extend_session(&seated.session.id).await.expect("extend");
        // One step of 300 s (the smaller of age and extension), and never past the limit: created + 600 + 300.
        assert_eq!(extended.expires, seated.session.expires + 300);
        assert_eq!(Identity::extend_limit(&extended), seated.session.created + 900);
        assert!(matches!(identity.extend_session(&seated.session.id).await, Err(IdentityError::CannotExtend { .. })));
        let none_without_extension = ClassLimits { extend_secs: 0, ..limits };
        identity.create_class("fixed", 2, none_without_extension).await.expect("class");
        let fixed = identity.new_session("fixed", None).await.expect("session");
        assert!(matches!(identity.extend_session(&fixed.session.id).await, Err(IdentityError::CannotExtend { .. })));
    }

    #[tokio::test]
    async fn a_class_hears_its_broadcasts() {
        let (_dir, identity) = store().await;
        identity.create_class("loud", 2, ClassLimits::default()).await.expect("class");
        identity.create_class("quiet", 2, ClassLimits::default()).await.expect("class");
        identity.broadcast("loud", "ada", "  break until 11:00 ").await.expect("send");
        assert!(identity.broadcast("loud", "ada", "   ").await.is_err());
        let heard = identity.broadcasts("loud", 0).await.expect("read");
        assert_eq!(heard.len(), 1);
        assert_eq!((heard[0].author.as_str(), heard[0].text.as_str()), ("ada", "break until 11:00"));
        assert!(identity.broadcasts("quiet", 0).await.expect("read").is_empty());
        assert!(identity.broadcasts("loud", heard[0].at + 1).await.expect("read").is_empty());
    }

    #[test]
    fn database_passwords_stay_out_of_the_log() {
        assert_eq!(redact("postgres://berth:secret@db:5432/berth"), "postgres://…@db:5432/berth");
        assert_eq!(redact("sqlite:///var/lib/berth/identity.db"), "sqlite:///var/lib/berth/identity.db");
    }
}
