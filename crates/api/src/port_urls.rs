//! Port URLs: `/s/{session}/p/{hostport}/...` on the HTTP port reaches the session's container that publishes
//! that host port, so a student opens the web app they run from the class's one address, whatever the host's
//! firewall lets through. Only the session itself may open its port URLs (another session gets 404, as for
//! anything not its own); the request goes to the container's address on its session network, HTTP/1.1 with
//! streamed bodies, and an upgrade (a websocket) is tunnelled both ways. Berth's own credentials (its cookie, its
//! bearer token) are not passed on; X-Forwarded-Host and X-Forwarded-Prefix say where the app is.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use hyper_util::rt::TokioIo;

use super::caller::Caller;
use super::error::ApiError;
use berth_engine::{Engine, Scope};

/// `/s/{session}/p/{port}`: the app's root, with the slash its relative links need.
pub async fn root(caller: Caller, Path((session, port)): Path<(String, u16)>) -> Response {
    if caller.tenant() != Some(session.as_str()) {
        return not_found();
    }
    Redirect::permanent(&format!("/s/{session}/p/{port}/")).into_response()
}

#[derive(serde::Deserialize)]
pub struct PortPath {
    session: String,
    port: u16,
}

/// `/s/{session}/p/{port}/` and everything below it.
pub async fn forward(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    Path(PortPath { session, port }): Path<PortPath>,
    request: Request,
) -> Response {
    // The path's session is checked against the caller's before anything is looked up.
    if caller.tenant() != Some(session.as_str()) {
        return not_found();
    }
    let Some(backend) = published_backend(&engine, &session, port) else {
        return ApiError::not_found(format!("no container of this session publishes port {port}")).into_response();
    };
    let prefix = format!("/s/{session}/p/{port}");
    match proxy(backend, &prefix, request).await {
        Ok(response) => response,
        Err(error) => {
            tracing::info!(%error, %backend, "port URL: the container did not answer");
            ApiError::new(StatusCode::BAD_GATEWAY, format!("the container on port {port} did not answer: {error}"))
                .into_response()
        }
    }
}

fn not_found() -> Response {
    ApiError::not_found("page not found").into_response()
}

/// The address and container port behind `host_port`: the session's running container that publishes it, at
/// its address on its network.
fn published_backend(engine: &Engine, session: &str, host_port: u16) -> Option<SocketAddr> {
    let wanted = host_port.to_string();
    engine.containers_in(Scope::of(Some(session))).into_iter().filter(|c| c.status().is_running()).find_map(
        |container| {
            let view = engine.network_view(&container);
            let container_port = view.ports.iter().find_map(|(key, bindings)| {
                let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
                let bound = bindings.iter().flatten().any(|b| b.host_port.as_deref() == Some(wanted.as_str()));
                (protocol == "tcp" && bound).then(|| port.parse::<u16>().ok()).flatten()
            })?;
            let address: IpAddr = view
                .networks
                .values()
                .filter_map(|endpoint| endpoint.ip_address.as_deref())
                .find_map(|ip| ip.parse().ok())?;
            Some(SocketAddr::new(address, container_port))
        },
    )
}

#[derive(Debug, thiserror::Error)]
enum ProxyError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("{0}")]
    Http(#[from] hyper::Error),
    #[error("bad request target: {0}")]
    Target(#[from] axum::http::uri::InvalidUri),
}

async fn proxy(backend: SocketAddr, prefix: &str, mut request: Request) -> Result<Response, ProxyError> {
    let stream = tokio::net::TcpStream::connect(backend).await.map_err(ProxyError::Connect)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "port URL connection ended");
        }
    });
    let client_upgrade = request.headers().contains_key(header::UPGRADE).then(|| hyper::upgrade::on(&mut request));
    let rest = request.uri().path().strip_prefix(prefix).filter(|r| !r.is_empty()).unwrap_or("/").to_string();
    let target = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest,
    };
    *request.uri_mut() = target.parse::<Uri>()?;
    // The connection to the app is HTTP/1.1 whatever the client spoke; hyper answers the client in its own.
    *request.version_mut() = axum::http::Version::HTTP_11;
    let host = request.headers().get(header::HOST).cloned();
    strip_berth_credentials(request.headers_mut());
    let headers = request.headers_mut();
    if let Some(host) = host {
        headers.insert("x-forwarded-host", host);
    }
    if let Ok(value) = HeaderValue::from_str(prefix) {
        headers.insert("x-forwarded-prefix", value);
    }
    let mut response = sender.send_request(request).await?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let backend_upgrade = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                let (Ok(client), Ok(server)) = (client_upgrade.await, backend_upgrade.await) else { return };
                let (mut client, mut server) = (TokioIo::new(client), TokioIo::new(server));
                if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
                    tracing::debug!(%error, "port URL tunnel ended");
                }
            });
        }
    }
    Ok(response.map(Body::new))
}

/// Berth's session cookie and bearer token are Berth's: the app behind the port must not get them.
fn strip_berth_credentials(headers: &mut axum::http::HeaderMap) {
    let is_berth_token = |value: &HeaderValue| value.to_str().is_ok_and(|v| v.starts_with("Bearer bt_"));
    if headers.get(header::AUTHORIZATION).is_some_and(is_berth_token) {
        headers.remove(header::AUTHORIZATION);
    }
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(super::auth::SESSION_COOKIE))
        .map(str::to_string)
        .collect();
    headers.remove(header::COOKIE);
    if let Ok(value) = HeaderValue::from_str(&kept.join("; ")) {
        if !kept.is_empty() {
            headers.insert(header::COOKIE, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berths_credentials_stay_behind_and_the_apps_own_go_on() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer bt_secret"));
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark; berth_session=bt_secret"));
        headers.append(header::COOKIE, HeaderValue::from_static("app=1"));
        strip_berth_credentials(&mut headers);
        assert!(headers.get(header::AUTHORIZATION).is_none());
        assert_eq!(headers.get(header::COOKIE).unwrap(), "theme=dark; app=1");
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer the-apps-own"));
        headers.insert(header::COOKIE, HeaderValue::from_static("berth_session=bt_secret"));
        strip_berth_credentials(&mut headers);
        assert_eq!(headers.get(header::AUTHORIZATION).unwrap(), "Bearer the-apps-own");
        assert!(headers.get(header::COOKIE).is_none());
    }
}
