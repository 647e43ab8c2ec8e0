//! The body of `POST /containers/create` as dockerd's ContainerConfigWrapper reads it: besides the container's
//! config and its HostConfig, the older top-level fields that clients still send. docker-py puts `MacAddress` and
//! `Runtime` beside `Image`, and any host setting at the top level counts when no HostConfig is given.

use bollard_stubs::models::{ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub(crate) struct CreateRequest {
    #[serde(flatten)]
    body: ContainerCreateBody,
    /// Before API 1.44 the MAC address was the container's; it is now its primary network endpoint's.
    #[serde(rename = "MacAddress")]
    mac_address: Option<String>,
    #[serde(flatten)]
    top_level_host: HostConfig,
}

impl CreateRequest {
    /// The body with the top-level fields moved where the engine reads them.
    pub(crate) fn into_body(self) -> ContainerCreateBody {
        let CreateRequest { mut body, mac_address, top_level_host } = self;
        body.host_config = Some(merged_host_config(body.host_config.take(), top_level_host));
        if let Some(mac) = mac_address.filter(|m| !m.is_empty()) {
            let mode = body
                .host_config
                .as_ref()
                .and_then(|h| h.network_mode.clone())
                .filter(|m| !m.is_empty() && m != "default")
                .unwrap_or_else(|| "bridge".into());
            let endpoints = body
                .networking_config
                .get_or_insert_with(NetworkingConfig::default)
                .endpoints_config
                .get_or_insert_with(Default::default);
            let named = if endpoints.contains_key("default") && !endpoints.contains_key(&mode) {
                "default".to_string()
            } else {
                mode
            };
            let endpoint = endpoints.entry(named).or_insert_with(EndpointSettings::default);
            if endpoint.mac_address.as_deref().is_none_or(str::is_empty) {
                endpoint.mac_address = Some(mac);
            }
        }
        body
    }
}

/// moby's getHostConfig: the inner HostConfig wins, taking only memory, swap, CPU shares and cpuset from the top
/// level; without one, the top level's host settings are the HostConfig.
fn merged_host_config(inner: Option<HostConfig>, top: HostConfig) -> HostConfig {
    let Some(mut inner) = inner else { return top };
    let unset = |value: Option<i64>| value.is_none_or(|v| v == 0);
    if unset(inner.memory) && !unset(top.memory) {
        inner.memory = top.memory;
    }
    if unset(inner.memory_swap) && !unset(top.memory_swap) {
        inner.memory_swap = top.memory_swap;
    }
    if unset(inner.cpu_shares) && !unset(top.cpu_shares) {
        inner.cpu_shares = top.cpu_shares;
    }
    if inner.cpuset_cpus.as_deref().is_none_or(str::is_empty) && top.cpuset_cpus.is_some() {
        inner.cpuset_cpus = top.cpuset_cpus;
    }
    inner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ContainerCreateBody {
        serde_json::from_str::<CreateRequest>(json).expect("a create body").into_body()
    }

    #[test]
    fn top_level_host_settings_count_without_a_host_config() {
        let body = parse(r#"{"Image":"busybox","Cmd":["echo"],"Runtime":"runc","Memory":1024,"HostConfig":null}"#);
        assert_eq!(body.image.as_deref(), Some("busybox"));
        assert_eq!(body.cmd, Some(vec!["echo".to_string()]));
        let host = body.host_config.unwrap();
        assert_eq!((host.runtime.as_deref(), host.memory), (Some("runc"), Some(1024)));
    }

    #[test]
    fn the_inner_host_config_wins_but_takes_the_old_resource_fields() {
        let body =
            parse(r#"{"Image":"b","Runtime":"x","Memory":1024,"HostConfig":{"Runtime":"runc","Privileged":false}}"#);
        let host = body.host_config.unwrap();
        assert_eq!((host.runtime.as_deref(), host.memory), (Some("runc"), Some(1024)));
    }

    #[test]
    fn a_top_level_mac_address_goes_to_the_primary_endpoint() {
        let body = parse(r#"{"Image":"b","MacAddress":"02:42:ac:11:00:0a"}"#);
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(endpoints["bridge"].mac_address.as_deref(), Some("02:42:ac:11:00:0a"));
        let body = parse(
            r#"{"Image":"b","MacAddress":"02:42:ac:11:00:0a","HostConfig":{"NetworkMode":"web"},
                "NetworkingConfig":{"EndpointsConfig":{"web":{"MacAddress":"02:42:ac:11:00:0b"}}}}"#,
        );
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(endpoints["web"].mac_address.as_deref(), Some("02:42:ac:11:00:0b"), "the endpoint's own wins");
    }
}
