//! `/berth/admin/...`: accounts, classes and sessions for `berth admin`. Served on the unix socket only (root's,
//! outside every session); the HTTP port has no such routes.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use berth_engine::{Engine, Scope};
use berth_identity::{ClassLimits, Identity, Role};
use serde::{Deserialize, Serialize};

use super::error::ApiResult;
use super::ApiError;

#[derive(Clone)]
struct Admin {
    identity: Arc<Identity>,
    engine: Arc<Engine>,
}

pub(crate) fn routes(identity: Arc<Identity>, engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/berth/admin/users", get(users).post(create_user))
        .route("/berth/admin/classes", get(classes).post(create_class))
        .route("/berth/admin/sessions", get(sessions).post(new_session))
        .route("/berth/admin/sessions/{id}", delete(end_session))
        .route("/berth/admin/audit", get(audit_log))
        .with_state(Admin { identity, engine })
}

async fn record(admin: &Admin, action: &str, target: &str, outcome: &str) {
    super::auth::audit(&admin.identity, "operator", action, target, outcome).await;
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    role: Role,
    password: String,
}

async fn create_user(
    State(admin): State<Admin>,
    Json(body): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<berth_identity::User>)> {
    let user = admin.identity.create_user(&body.name, body.role, &body.password).await?;
    record(&admin, "create-user", &user.name, "ok").await;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn users(State(admin): State<Admin>) -> ApiResult<Json<Vec<berth_identity::User>>> {
    Ok(Json(admin.identity.users().await?))
}

#[derive(Deserialize)]
struct NewClass {
    name: String,
    seats: i64,
    #[serde(default)]
    limits: Option<ClassLimits>,
    /// How long the class's join link works; the class's maximum age by default.
    #[serde(default)]
    link_valid_secs: Option<i64>,
}

#[derive(Serialize)]
struct CreatedClass {
    class: berth_identity::Class,
    join_link: berth_identity::JoinLink,
}

async fn create_class(
    State(admin): State<Admin>,
    Json(body): Json<NewClass>,
) -> ApiResult<(StatusCode, Json<CreatedClass>)> {
    let limits = body.limits.unwrap_or_default();
    let class = admin.identity.create_class(&body.name, body.seats, limits).await?;
    let valid = body.link_valid_secs.unwrap_or(limits.max_age_secs);
    let join_link = admin.identity.create_join_link(&class.name, valid).await?;
    record(&admin, "create-class", &class.name, "ok").await;
    Ok((StatusCode::CREATED, Json(CreatedClass { class, join_link })))
}

async fn classes(State(admin): State<Admin>) -> ApiResult<Json<Vec<berth_identity::Class>>> {
    Ok(Json(admin.identity.classes().await?))
}

#[derive(Deserialize)]
struct NewSessionBody {
    class: String,
    #[serde(default)]
    user: Option<String>,
}

async fn new_session(
    State(admin): State<Admin>,
    Json(body): Json<NewSessionBody>,
) -> ApiResult<(StatusCode, Json<berth_identity::NewSession>)> {
    let seated = admin.identity.new_session(&body.class, body.user.as_deref()).await?;
    admin.engine.prepare_tenant(&seated.session.id);
    record(&admin, "new-session", &seated.session.id, "ok").await;
    Ok((StatusCode::CREATED, Json(seated)))
}

#[derive(Serialize)]
struct SessionView {
    #[serde(flatten)]
    session: berth_identity::Session,
    containers: usize,
}

async fn sessions(State(admin): State<Admin>) -> ApiResult<Json<Vec<SessionView>>> {
    let sessions = admin.identity.sessions().await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|session| {
                let containers = admin.engine.containers_in(Scope::Tenant(&session.id)).len();
                SessionView { session, containers }
            })
            .collect(),
    ))
}

#[derive(Serialize)]
struct EndedSession {
    session: berth_identity::Session,
    containers_removed: usize,
}

/// Ends the session (its tokens stop at once) and removes what it made.
async fn end_session(State(admin): State<Admin>, Path(id): Path<String>) -> ApiResult<Json<EndedSession>> {
    let session = admin.identity.end_session(&id).await?;
    let removed = admin.engine.remove_tenant(&session.id).await.map_err(ApiError::from);
    let outcome = match &removed {
        Ok(count) => format!("ok: {count} containers removed"),
        Err(error) => format!("ended; removal failed: {}", error.message),
    };
    record(&admin, "end-session", &id, &outcome).await;
    Ok(Json(EndedSession { session, containers_removed: removed? }))
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<i64>,
}

async fn audit_log(
    State(admin): State<Admin>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<Vec<berth_identity::AuditEntry>>> {
    Ok(Json(admin.identity.audit_log(query.limit.unwrap_or(100).clamp(1, 10_000)).await?))
}
