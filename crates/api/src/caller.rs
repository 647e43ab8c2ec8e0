//! Who a request comes from, decided once before routing: the operator (the unix socket, whose file mode is its
//! access control, and the HTTP port of a single-user daemon), a session of a shared one (`--auth accounts`), or
//! an account signed in with its password (an instructor's or admin's class view, which runs no containers).
//! Handlers take it as an extractor; a request that reached a handler without one is refused, never served as
//! the operator's.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use berth_engine::Scope;
use berth_identity::{Session, User};

use super::ApiError;

#[derive(Debug, Clone)]
pub enum Caller {
    Operator,
    Session(Arc<Session>),
    /// Signed in for the class view: sees classes and their sessions through `/berth/classes/...`, no engine
    /// object of its own.
    Account(Arc<User>),
}

/// The scope of an account's engine requests: owned by no one, so it sees nothing (confinement refuses them
/// before any handler; this is the second wall).
const NO_TENANT: &str = "";

impl Caller {
    /// What the caller's requests may see of the engine's objects.
    pub fn scope(&self) -> Scope<'_> {
        match self {
            Caller::Operator => Scope::Everything,
            Caller::Session(session) => Scope::Tenant(&session.id),
            Caller::Account(_) => Scope::Tenant(NO_TENANT),
        }
    }

    /// The tenant the caller's new objects belong to.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Caller::Operator => None,
            Caller::Session(session) => Some(&session.id),
            Caller::Account(_) => Some(NO_TENANT),
        }
    }

    /// How the audit log names the caller.
    pub fn actor(&self) -> String {
        match self {
            Caller::Operator => "operator".into(),
            Caller::Session(session) => format!("session:{}", session.id),
            Caller::Account(user) => format!("user:{}", user.name),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "authentication required"))
    }
}

/// Every request on this listener is the operator's (the unix socket; the HTTP port with `--auth none`).
pub(crate) async fn operator(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Caller::Operator);
    next.run(request).await
}
