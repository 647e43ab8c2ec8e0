//! A session's activity beyond its requests: what it types into a terminal, an attach or an exec counts toward
//! its idle time as an API call does, so someone typing for an hour into one long-lived connection is not idle.
//! The auth layer puts an [`Activity`] beside a session's [`Caller`](super::caller::Caller); the operator's is a
//! no-op.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use berth_identity::Identity;

/// The database is written at most this often per connection (authentication writes it as often per session).
const NOTE_EVERY_SECS: i64 = 15;

#[derive(Clone, Default)]
pub struct Activity {
    session: Option<Arc<SessionActivity>>,
}

struct SessionActivity {
    identity: Arc<Identity>,
    session: String,
    last_noted: AtomicI64,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Activity {
    /// `session`'s, just authenticated (so just marked active).
    pub(crate) fn of(identity: Arc<Identity>, session: &str) -> Activity {
        let session = SessionActivity { identity, session: session.to_string(), last_noted: AtomicI64::new(now()) };
        Activity { session: Some(Arc::new(session)) }
    }

    /// The session did something (typed); marks it active, without waiting for the database.
    pub(crate) fn note(&self) {
        let Some(activity) = &self.session else { return };
        let now = now();
        let last = activity.last_noted.load(Ordering::Relaxed);
        if now - last < NOTE_EVERY_SECS {
            return;
        }
        if activity.last_noted.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return;
        }
        let activity = activity.clone();
        tokio::spawn(async move {
            if let Err(error) = activity.identity.touch(&activity.session, now).await {
                tracing::warn!(session = %activity.session, %error, "cannot mark a session active");
            }
        });
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Activity {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Activity, Self::Rejection> {
        Ok(parts.extensions.get::<Activity>().cloned().unwrap_or_default())
    }
}
