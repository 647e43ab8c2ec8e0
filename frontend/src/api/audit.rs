//! The security review of every container (`GET /berth/audit`), as berth-shared's wire type.

use berth_shared::api::audit::ContainerAudit;

use super::{get_json, DaemonError};

pub async fn all() -> Result<Vec<ContainerAudit>, DaemonError> {
    get_json("/berth/audit").await
}
