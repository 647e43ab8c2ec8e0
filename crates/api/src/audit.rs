//! The security review: `GET /berth/audit` (every container, newest first) and `GET /berth/audit/{id-or-name}`,
//! as berth-shared's `ContainerAudit`. A plain GET that changes nothing, so on the HTTP port it passes the guard
//! like the other `/berth/...` reads; the playground sends its client header anyway.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;

use berth_engine::Engine;
use berth_shared::api::audit::ContainerAudit;

use super::error::ApiResult;

pub async fn all(State(engine): State<Arc<Engine>>) -> Json<Vec<ContainerAudit>> {
    Json(engine.audit())
}

/// An unknown container is a 404 with dockerd's `No such container: <name>`.
pub async fn one(State(engine): State<Arc<Engine>>, Path(reference): Path<String>) -> ApiResult<Json<ContainerAudit>> {
    Ok(Json(engine.audit_container(&reference)?))
}
