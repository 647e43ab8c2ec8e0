//! `GET /system/df` as API versions before 1.52 answer it (what the docker CLI up to 28 reads). bollard-stubs
//! generates only the 1.52 shape (`SystemDataUsageResponse`), so the older one is composed here of its models, with
//! moby's `omitempty`/`omitzero`: a part not asked for is absent, one asked for is a list, maybe empty.

use bollard_stubs::models::{BuildCache, ContainerSummary, ImageSummary, Volume};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskUsage {
    /// The bytes all image layers take, each once.
    #[serde(rename = "LayersSize", default, skip_serializing_if = "is_zero")]
    pub layers_size: i64,
    #[serde(rename = "Images", default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<ImageSummary>>,
    #[serde(rename = "Containers", default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<ContainerSummary>>,
    #[serde(rename = "Volumes", default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<Volume>>,
    #[serde(rename = "BuildCache", default, skip_serializing_if = "Option::is_none")]
    pub build_cache: Option<Vec<BuildCache>>,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_not_asked_for_are_absent() {
        let usage = DiskUsage { volumes: Some(Vec::new()), ..Default::default() };
        assert_eq!(serde_json::to_string(&usage).unwrap(), r#"{"Volumes":[]}"#);
    }
}
