//! `/berth/session...`: a session's own view of itself, for the page: who it is, its limits and expiry, and a
//! token for the docker CLI with the lines to paste.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use berth_shared::api::session::{CliAccess, SessionInfo};

use super::auth::Accounts;
use super::caller::Caller;
use super::error::ApiResult;
use super::ApiError;

fn session_of(caller: &Caller) -> ApiResult<&berth_identity::Session> {
    match caller {
        Caller::Session(session) => Ok(session),
        Caller::Operator => Err(ApiError::not_found("no session: the operator has none")),
    }
}

pub(crate) async fn info(caller: Caller) -> ApiResult<Json<SessionInfo>> {
    let session = session_of(&caller)?;
    Ok(Json(SessionInfo {
        id: session.id.clone(),
        class: session.class.clone(),
        expires: session.expires,
        idle_expires: (session.last_active + session.limits.idle_secs).min(session.expires),
        memory_bytes: session.limits.memory_bytes,
        nano_cpus: session.limits.nano_cpus,
        pids: session.limits.pids,
        containers: session.limits.containers,
    }))
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
