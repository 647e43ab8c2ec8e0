//! /networks/...: list, inspect, create, remove, connect, disconnect, prune.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{
    EndpointResource, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse,
    NetworkDisconnectRequest, NetworkInspect,
};
use chrono::SecondsFormat;
use serde::Deserialize;

use super::body::JsonBody;
use super::caller::Caller;
use super::container_views::parse_filters;
use super::error::{ApiError, ApiResult};
use berth_engine::{labels_match, Engine};
use berth_network::NetworkRecord;

/// A network as `docker network inspect` and `ls` show it.
pub fn view(network: &NetworkRecord) -> NetworkInspect {
    let ipv6_config = network.pool6.as_ref().map(|pool6| IpamConfig {
        subnet: Some(pool6.subnet.to_string()),
        gateway: Some(pool6.gateway.to_string()),
        ip_range: pool6.ip_range.map(|r| r.to_string()),
        auxiliary_addresses: None,
    });
    let ipam_config = network
        .pool
        .as_ref()
        .map(|pool| {
            vec![IpamConfig {
                subnet: Some(pool.subnet.to_string()),
                gateway: Some(pool.gateway.to_string()),
                ip_range: pool.ip_range.map(|r| r.to_string()),
                auxiliary_addresses: (!pool.aux_addresses.is_empty())
                    .then(|| pool.aux_addresses.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()),
            }]
        })
        .unwrap_or_default()
        .into_iter()
        .chain(ipv6_config)
        .collect();
    let containers = network
        .endpoints
        .values()
        .map(|e| {
            let prefix = network.pool.as_ref().map(|p| p.subnet.prefix()).unwrap_or(32);
            (
                e.container_id.clone(),
                EndpointResource {
                    name: Some(e.container_name.clone()),
                    endpoint_id: Some(e.endpoint_id.clone()),
                    mac_address: Some(e.mac.clone()),
                    ipv4_address: Some(format!("{}/{prefix}", e.ip)),
                    ipv6_address: Some(
                        e.ip6
                            .zip(network.pool6.as_ref())
                            .map(|(ip, pool6)| format!("{ip}/{}", pool6.subnet.prefix()))
                            .unwrap_or_default(),
                    ),
                },
            )
        })
        .collect();
    let mut options = network.options.clone();
    if network.predefined && network.pool.is_some() {
        options.insert("com.docker.network.bridge.name".into(), network.bridge.clone());
        options.insert("com.docker.network.bridge.default_bridge".into(), "true".into());
    }
    NetworkInspect {
        name: Some(network.name.clone()),
        id: Some(network.id.clone()),
        created: Some(network.created.to_rfc3339_opts(SecondsFormat::Nanos, true)),
        scope: Some("local".into()),
        driver: Some(network.driver.as_str().into()),
        enable_ipv4: Some(network.pool.is_some()),
        enable_ipv6: Some(network.pool6.is_some()),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(ipam_config),
            options: network.ipam_options.clone(),
        }),
        internal: Some(network.internal),
        attachable: Some(network.attachable),
        ingress: Some(false),
        config_only: Some(false),
        options: Some(options),
        labels: Some(network.labels.clone()),
        containers: Some(containers),
        ..Default::default()
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    filters: Option<String>,
}

fn matches(network: &NetworkRecord, filters: &HashMap<String, Vec<String>>) -> Result<bool, ApiError> {
    for (key, values) in filters {
        if values.is_empty() {
            continue;
        }
        let matched = match key.as_str() {
            "name" => values.iter().any(|v| network.name.contains(v.as_str())),
            "id" => values.iter().any(|v| network.id.starts_with(v.as_str())),
            "driver" => values.iter().any(|v| v == network.driver.as_str()),
            "label" => labels_match(&network.labels, values),
            "scope" => values.iter().any(|v| v == "local"),
            "type" => values.iter().any(|v| match v.as_str() {
                "custom" => !network.predefined,
                "builtin" => network.predefined,
                other => other.is_empty(),
            }),
            "dangling" => values.iter().any(|v| {
                let dangling = !network.predefined && network.endpoints.is_empty();
                matches!(v.as_str(), "true" | "1") == dangling
            }),
            other => return Err(ApiError::bad_request(format!("invalid filter '{other}'"))),
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn list(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Response> {
    let filters = parse_filters(query.filters.as_deref()).map_err(ApiError::bad_request)?;
    let mut out = Vec::new();
    for network in engine.network_list_in(caller.scope()) {
        if matches(&network, &filters)? {
            out.push(view(&network));
        }
    }
    Ok(Json(out).into_response())
}

pub async fn inspect(State(engine): State<Arc<Engine>>, Path(id): Path<String>) -> ApiResult<Response> {
    let network = engine.network(&id)?;
    Ok(Json(view(&network)).into_response())
}

pub async fn create(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    JsonBody(request): JsonBody<NetworkCreateRequest>,
) -> ApiResult<Response> {
    if caller.tenant().is_some() {
        super::session_policy::check_network_create(&request)?;
    }
    let record = engine.network_create_owned(caller.tenant(), &request).await?;
    Ok((StatusCode::CREATED, Json(NetworkCreateResponse { id: record.id, warning: String::new() })).into_response())
}

pub async fn delete(State(engine): State<Arc<Engine>>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    engine.network_remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The container a connect or disconnect names, as the engine should look it up: a session's by its full id.
fn container_reference(engine: &Engine, caller: &Caller, reference: &str) -> ApiResult<String> {
    match caller.tenant() {
        None => Ok(reference.to_string()),
        Some(_) => Ok(engine.container_in(caller.scope(), reference)?.id.clone()),
    }
}

pub async fn connect(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<NetworkConnectRequest>,
) -> ApiResult<StatusCode> {
    let container = container_reference(&engine, &caller, &request.container)?;
    engine.network_connect(&id, &container, request.endpoint_config).await?;
    Ok(StatusCode::OK)
}

pub async fn disconnect(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<NetworkDisconnectRequest>,
) -> ApiResult<StatusCode> {
    // A container gone already is disconnected by the name its endpoint kept (`--force`), on the session's own
    // network (the path was resolved in the session).
    let container = container_reference(&engine, &caller, &request.container).unwrap_or(request.container.clone());
    engine.network_disconnect(&id, &container).await?;
    Ok(StatusCode::OK)
}

pub async fn prune(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Response> {
    use super::prune_filter::{PruneFilters, NETWORKS};
    let filters = PruneFilters::parse(query.filters.as_deref(), NETWORKS)?;
    let deleted = engine.network_prune(caller.scope(), &filters.engine_filter("")?).await;
    Ok(super::prune_answer::answer("NetworksDeleted", deleted, None))
}
