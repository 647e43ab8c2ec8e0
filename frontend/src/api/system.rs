use bollard_stubs::models::SystemVersion;

use super::{get_json, DaemonError};

/// `GET /version`: the engine and API versions of the daemon serving this page.
pub async fn version() -> Result<SystemVersion, DaemonError> {
    get_json("/version").await
}
