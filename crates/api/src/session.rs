//! `/berth/session...`: a session's own view of itself, for the page: who it is, its limits and expiry, the class's
//! messages, "extend", and a token for the docker CLI with the lines to paste.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use berth_identity::{Identity, Session};
use berth_shared::api::class_view::ClassMessage;
use berth_shared::api::session::{CliAccess, SessionInfo};

use super::auth::Accounts;
use super::caller::Caller;
use super::error::ApiResult;
use super::ApiError;

fn session_of(caller: &Caller) -> ApiResult<&Session> {
    match caller {
        Caller::Session(session) => Ok(session),
        Caller::Operator => Err(ApiError::not_found("no session: the operator has none")),
        Caller::Account(user) => {
            Err(ApiError::not_found(format!("no session: {} is signed in to the class view", user.name)))
        }
    }
}

pub(crate) async fn info(State(accounts): State<Arc<Accounts>>, caller: Caller) -> ApiResult<Json<SessionInfo>> {
    let session = session_of(&caller)?;
    Ok(Json(view(&accounts.identity, session).await?))
}

async fn view(identity: &Identity, session: &Session) -> ApiResult<SessionInfo> {
    let messages = identity
        .broadcasts(&session.class, session.created)
        .await?
        .into_iter()
        .map(|message| ClassMessage { at: message.at, author: message.author, text: message.text })
        .collect();
    Ok(SessionInfo {
        id: session.id.clone(),
        class: session.class.clone(),
        expires: session.expires,
        idle_expires: (session.last_active + session.limits.idle_secs).min(session.expires),
        extend_until: Identity::extend_limit(session).max(session.expires),
        memory_bytes: session.limits.memory_bytes,
        nano_cpus: session.limits.nano_cpus,
        pids: session.limits.pids,
        containers: session.limits.containers,
        messages,
    })
}

/// `POST /berth/session/extend`: the session's end pushed out within its class's limit; 409 at the limit.
pub(crate) async fn extend(State(accounts): State<Arc<Accounts>>, caller: Caller) -> ApiResult<Json<SessionInfo>> {
    let session = session_of(&caller)?;
    let extended = accounts.identity.extend_session(&session.id).await;
    let outcome = match &extended {
        Ok(session) => format!("ok: until {}", session.expires),
        Err(error) => format!("refused: {error}"),
    };
    super::auth::audit(&accounts.identity, &caller.actor(), "extend-session", &session.id, &outcome).await;
    Ok(Json(view(&accounts.identity, &extended?).await?))
}

/// A new token of the caller's session, and how the docker CLI uses it against this port (the Host the page
/// reached the daemon by).
pub(crate) async fn new_cli_token(
    State(accounts): State<Arc<Accounts>>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<CliAccess>)> {
    let session = session_of(&caller)?;
    let token = accounts.identity.issue_token(&session.id).await?;
    super::auth::audit(&accounts.identity, &caller.actor(), "issue-token", &session.id, "ok").await;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    let config_json = serde_json::json!({ "HttpHeaders": { "Authorization": format!("Bearer {token}") } }).to_string();
    Ok((StatusCode::CREATED, Json(CliAccess { token, docker_host: format!("tcp://{host}"), config_json })))
}
