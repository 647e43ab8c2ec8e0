//! Services' `x-berth-route`: the routed ports `up` makes once the services run (a route that already exists is
//! kept as it is, with its live backend or weights, so a second `up` does not undo a switch) and `down` removes,
//! through `/berth/routes` on the daemon's unix socket. Each service naming a route is one of its backends, by
//! its service name.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use berth_shared::api::routes::{BackendRef, RouteCreate, RouteMode, RouteProtocol};
use berth_shared::compose::model::BerthRoute;

use super::client::Session;

/// The routes the project's services declare, in the daemon's request form.
fn declared(session: &Session) -> anyhow::Result<Vec<RouteCreate>> {
    let mut by_route: BTreeMap<&str, Vec<(&str, &BerthRoute)>> = BTreeMap::new();
    for (service, definition) in &session.project.services {
        if let Some(route) = &definition.berth_route {
            by_route.entry(route.route.as_str()).or_default().push((service.as_str(), route));
        }
    }
    let mut requests = Vec::new();
    for (name, members) in by_route {
        let host_port = members.iter().map(|(_, r)| r.host_port).find(|p| *p != 0);
        let host_port = host_port.with_context(|| format!("x-berth-route {name}: no service gives its host_port"))?;
        let mode_name = members.iter().map(|(_, r)| r.mode.as_str()).find(|m| !m.is_empty()).unwrap_or("blue-green");
        let pick = |what: &str, chosen: &dyn Fn(&BerthRoute) -> bool| -> anyhow::Result<String> {
            let found: Vec<&str> = members.iter().filter(|(_, r)| chosen(r)).map(|(s, _)| *s).collect();
            match found.as_slice() {
                [one] => Ok(one.to_string()),
                _ => bail!("x-berth-route {name}: exactly one service is the {what} ({} are)", found.len()),
            }
        };
        let mode = match mode_name {
            "blue-green" => RouteMode::BlueGreen {
                live: pick("live one (live: true)", &|r| r.live)?,
                drain_ms: berth_shared::api::routes::DEFAULT_DRAIN_MS,
            },
            "weighted" => RouteMode::Weighted {
                weights: members.iter().map(|(s, r)| (s.to_string(), r.weight.unwrap_or(0))).collect(),
                sticky: None,
                rules: Vec::new(),
            },
            "shadow" => RouteMode::Shadow {
                primary: pick("primary (shadow: false)", &|r| !r.shadow)?,
                shadow: pick("shadow (shadow: true)", &|r| r.shadow)?,
            },
            other => bail!("x-berth-route {name}: mode {other:?} is blue-green, weighted or shadow"),
        };
        let backends = members
            .iter()
            .map(|(service, route)| BackendRef {
                name: service.to_string(),
                container: None,
                service: Some(service.to_string()),
                project: Some(session.project.name.clone()),
                port: route.port,
            })
            .collect();
        requests.push(RouteCreate {
            name: name.to_string(),
            host_port,
            host_ip: None,
            protocol: RouteProtocol::Http,
            backends,
            mode,
        });
    }
    Ok(requests)
}

fn socket(session: &Session) -> anyhow::Result<PathBuf> {
    match session.host.strip_prefix("unix://") {
        Some(path) => Ok(PathBuf::from(path)),
        None => bail!("x-berth-route needs the daemon's unix socket (DOCKER_HOST is {})", session.host),
    }
}

pub async fn ensure(session: &Session) -> anyhow::Result<()> {
    let declared = declared(session)?;
    if declared.is_empty() {
        return Ok(());
    }
    let socket = socket(session)?;
    for request in declared {
        let path = format!("/berth/routes/{}", request.name);
        if crate::admin::call(&socket, "GET", &path, None).await.is_ok() {
            eprintln!("Route {} exists, kept as it is", request.name);
            continue;
        }
        let body = serde_json::to_value(&request)?;
        crate::admin::call(&socket, "POST", "/berth/routes", Some(body))
            .await
            .with_context(|| format!("make route {}", request.name))?;
        eprintln!("Route {} on port {}", request.name, request.host_port);
    }
    Ok(())
}

pub async fn remove(session: &Session) -> anyhow::Result<()> {
    let declared = declared(session)?;
    if declared.is_empty() {
        return Ok(());
    }
    let socket = socket(session)?;
    for request in declared {
        if crate::admin::call(&socket, "DELETE", &format!("/berth/routes/{}", request.name), None).await.is_ok() {
            eprintln!("Removed route {}", request.name);
        }
    }
    Ok(())
}
