//! `/berth/classes/...`: the class view of a signed-in instructor (or admin) on the HTTP port. An instructor sees
//! and acts on their own classes only; another's class is as unknown as a missing one. Each action is audited
//! under the account's name.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use berth_engine::{Engine, Scope};
use berth_identity::{ClassLimits, Identity, Role, User};
use berth_shared::api::class_view::{
    BroadcastRequest, ClassMessage, ClassSummary, JoinLinkView, NewClass, SessionAction, SessionUsage, TerminalRef,
};

use super::caller::Caller;
use super::error::ApiResult;
use super::ApiError;

#[derive(Clone)]
pub(crate) struct ClassView {
    pub identity: Arc<Identity>,
    pub engine: Arc<Engine>,
}

/// The signed-in instructor or admin; a session, a student account or the operator is refused.
fn instructor(caller: &Caller) -> ApiResult<&User> {
    match caller {
        Caller::Account(user) if matches!(user.role, Role::Admin | Role::Instructor) => Ok(user),
        Caller::Account(user) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{} is a student: the class view is for instructors", user.name),
        )),
        _ => Err(ApiError::new(StatusCode::FORBIDDEN, "the class view needs an instructor's sign-in")),
    }
}

async fn record(view: &ClassView, user: &User, action: &str, target: &str, outcome: &str) {
    super::auth::audit(&view.identity, &format!("user:{}", user.name), action, target, outcome).await;
}

pub(crate) async fn list(State(view): State<ClassView>, caller: Caller) -> ApiResult<Json<Vec<ClassSummary>>> {
    let user = instructor(&caller)?;
    let sessions = view.identity.sessions().await?;
    let now = chrono::Utc::now().timestamp();
    let classes = view.identity.classes_of(user).await?;
    Ok(Json(
        classes
            .into_iter()
            .map(|class| ClassSummary {
                sessions: sessions.iter().filter(|s| s.class == class.name && !s.is_over(now)).count(),
                name: class.name,
                instructor: class.instructor,
                seats: class.seats,
                max_age_secs: class.limits.max_age_secs,
                idle_secs: class.limits.idle_secs,
            })
            .collect(),
    ))
}

fn link_view(link: berth_identity::JoinLink) -> JoinLinkView {
    JoinLinkView { path: format!("/berth/join/{}", link.token), class: link.class, expires: link.expires }
}

/// Makes a class of the signed-in instructor's and its first join link.
pub(crate) async fn create(
    State(view): State<ClassView>,
    caller: Caller,
    Json(body): Json<NewClass>,
) -> ApiResult<(StatusCode, Json<JoinLinkView>)> {
    let user = instructor(&caller)?;
    let defaults = ClassLimits::default();
    let limits = ClassLimits {
        max_age_secs: body.max_age_secs.unwrap_or(defaults.max_age_secs),
        idle_secs: body.idle_secs.unwrap_or(defaults.idle_secs),
        memory_bytes: body.memory_bytes.unwrap_or(defaults.memory_bytes),
        containers: body.containers.unwrap_or(defaults.containers),
        ..defaults
    };
    let created = view.identity.create_class_of(user, &body.name, body.seats, limits).await;
    let outcome = created.as_ref().map_or_else(|e| format!("refused: {e}"), |_| "ok".to_string());
    record(&view, user, "create-class", &body.name, &outcome).await;
    let class = created?;
    let link = view.identity.create_join_link(&class.name, limits.max_age_secs).await?;
    Ok((StatusCode::CREATED, Json(link_view(link))))
}

/// A new join link of the class; the old ones keep working until revoked.
pub(crate) async fn new_link(
    State(view): State<ClassView>,
    caller: Caller,
    Path(class): Path<String>,
) -> ApiResult<(StatusCode, Json<JoinLinkView>)> {
    let user = instructor(&caller)?;
    let class = view.identity.class_of(user, &class).await?;
    let link = view.identity.create_join_link(&class.name, class.limits.max_age_secs).await?;
    record(&view, user, "new-join-link", &class.name, "ok").await;
    Ok((StatusCode::CREATED, Json(link_view(link))))
}

/// Revokes every join link of the class; seated sessions go on.
pub(crate) async fn revoke_links(
    State(view): State<ClassView>,
    caller: Caller,
    Path(class): Path<String>,
) -> ApiResult<StatusCode> {
    let user = instructor(&caller)?;
    let class = view.identity.class_of(user, &class).await?;
    let revoked = view.identity.revoke_join_links(&class.name).await?;
    record(&view, user, "revoke-join-links", &class.name, &format!("ok: {revoked} revoked")).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The class's live sessions with what each uses now and its open terminals.
pub(crate) async fn sessions(
    State(view): State<ClassView>,
    caller: Caller,
    Path(class): Path<String>,
) -> ApiResult<Json<Vec<SessionUsage>>> {
    let user = instructor(&caller)?;
    let class = view.identity.class_of(user, &class).await?;
    let now = chrono::Utc::now().timestamp();
    let sessions: Vec<_> =
        view.identity.class_sessions(&class.name).await?.into_iter().filter(|s| !s.is_over(now)).collect();
    let engine = view.engine.clone();
    // Usage reads cgroups and walks the session's trees: off the async workers.
    let usage = tokio::task::spawn_blocking(move || {
        sessions
            .into_iter()
            .map(|session| {
                let used = engine.tenant_usage(&session.id);
                let terminals = engine
                    .terminals_in(Scope::Tenant(&session.id))
                    .into_iter()
                    .map(|terminal| TerminalRef {
                        id: terminal.id.clone(),
                        container_id: terminal.container.id.clone(),
                        container_name: terminal.container.name(),
                    })
                    .collect();
                SessionUsage {
                    idle_expires: (session.last_active + session.limits.idle_secs).min(session.expires),
                    id: session.id,
                    user: session.user,
                    created: session.created,
                    expires: session.expires,
                    last_active: session.last_active,
                    containers: used.containers,
                    running: used.running,
                    cpu_nanos: used.cpu_nanos,
                    memory_bytes: used.memory_bytes,
                    memory_limit: session.limits.memory_bytes,
                    disk_bytes: used.disk_bytes,
                    disk_limit: session.limits.disk_bytes,
                    terminals,
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("reading usage: {e}")))?;
    Ok(Json(usage))
}

/// End, extend or reset one session of the class.
pub(crate) async fn act(
    State(view): State<ClassView>,
    caller: Caller,
    Path((class, id, action)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let user = instructor(&caller)?;
    let class = view.identity.class_of(user, &class).await?;
    let action: SessionAction = serde_json::from_value(serde_json::Value::String(action.clone()))
        .map_err(|_| ApiError::bad_request(format!("unknown action {action:?}: end, extend or reset")))?;
    let session = view.identity.session(&id).await?;
    if session.class != class.name || session.ended.is_some() {
        return Err(ApiError::not_found(format!("no such session in {}: {id}", class.name)));
    }
    let (name, outcome) = match action {
        SessionAction::End => {
            view.identity.end_session(&id).await?;
            let removed = view.engine.remove_tenant(&id).await.map_err(ApiError::from)?;
            ("end-session", format!("ok: {removed} containers removed"))
        }
        SessionAction::Extend => {
            let extended = view.identity.extend_session(&id).await?;
            ("extend-session", format!("ok: until {}", extended.expires))
        }
        SessionAction::Reset => {
            let removed = view.engine.remove_tenant(&id).await.map_err(ApiError::from)?;
            view.engine.prepare_tenant(&id);
            ("reset-session", format!("ok: {removed} containers removed"))
        }
    };
    record(&view, user, name, &id, &outcome).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A message every session of the class sees in its page.
pub(crate) async fn broadcast(
    State(view): State<ClassView>,
    caller: Caller,
    Path(class): Path<String>,
    Json(body): Json<BroadcastRequest>,
) -> ApiResult<(StatusCode, Json<ClassMessage>)> {
    let user = instructor(&caller)?;
    let class = view.identity.class_of(user, &class).await?;
    let sent = view.identity.broadcast(&class.name, &user.name, &body.text).await?;
    record(&view, user, "broadcast", &class.name, "ok").await;
    Ok((StatusCode::CREATED, Json(ClassMessage { at: sent.at, author: sent.author, text: sent.text })))
}

/// What was done in and to the class: by its sessions (ended ones too), to them, and to the class.
pub(crate) async fn audit(
    State(view): State<ClassView>,
    caller: Caller,
    Path(class): Path<String>,
) -> ApiResult<Json<Vec<berth_identity::AuditEntry>>> {
    let user = instructor(&caller)?;
    let class = view.identity.class_of(user, &class).await?;
    // The instructor's own actions name the class or one of its sessions as their target.
    let mut names = vec![class.name.clone()];
    for session in view.identity.class_session_ids(&class.name).await? {
        names.push(format!("session:{session}"));
        names.push(session);
    }
    Ok(Json(view.identity.audit_log_of(&names, 200).await?))
}
