//! Networks and volumes. Both endpoints are newer than the rest of Berth's API; the pages say so when they
//! answer 404.

use bollard_stubs::models::{Network, VolumeListResponse};

use super::{get_json, DaemonError};

pub async fn networks() -> Result<Vec<Network>, DaemonError> {
    get_json("/networks").await
}

pub async fn volumes() -> Result<VolumeListResponse, DaemonError> {
    get_json("/volumes").await
}
