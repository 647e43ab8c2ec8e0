//! The HTTP port's guard against the browser. A web page on any site can make the user's browser send requests
//! to the port (simple POSTs, forms, `no-cors` fetches, websockets), and DNS rebinding can point a foreign name at
//! it; the Engine API behind the port runs containers as root. So on this port, and only here:
//!
//! - the `Host` must be one of the daemon's own names (bind address, loopback, `localhost`, the machine's
//!   hostname, local addresses when bound to all of them, `--http-host` names), else 421;
//! - a request that carries an `Origin` (every cross-origin POST, fetch with side effects and websocket upgrade
//!   does) must come from the daemon's own origin or an `--allowed-origin`, and one marked
//!   `Sec-Fetch-Site: cross-site`/`same-site` must be such an allowed origin or a plain navigation, else 403;
//! - the playground's own state-changing endpoints (`/berth/...`) need the [`CLIENT_HEADER`], which a foreign
//!   page cannot add without a CORS preflight, and Berth never answers one.
//!
//! Clients that are not browsers (docker CLI, docker-py, compose, bollard) send no `Origin` and pass unchanged.
//! The unix socket has no guard: its file mode is its access control.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use berth_shared::api::CLIENT_HEADER;

use super::ApiError;

/// Who may talk to the HTTP port: its names and the foreign origins an operator allowed.
#[derive(Debug, Clone)]
pub struct HttpGuard {
    bind: IpAddr,
    /// Lower-case, without a trailing dot.
    names: HashSet<String>,
    /// Lower-case `scheme://host[:port]`, without a trailing slash.
    allowed_origins: HashSet<String>,
    /// `https` when the port is served over TLS: the daemon's own origin is then `https://<Host>`.
    scheme: &'static str,
}

/// Why a request was turned away; becomes the response and a log line.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    ForeignHost(String),
    ForeignOrigin(String),
    CrossSite(String),
    MissingClientHeader,
}

impl Refusal {
    fn into_error(self) -> ApiError {
        match self {
            Refusal::ForeignHost(host) => ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                format!("Host {host:?} is not one of this daemon's names (add it with --http-host)"),
            ),
            Refusal::ForeignOrigin(origin) => ApiError::new(
                StatusCode::FORBIDDEN,
                format!("requests from origin {origin:?} are not allowed (add it with --allowed-origin)"),
            ),
            Refusal::CrossSite(site) => ApiError::new(
                StatusCode::FORBIDDEN,
                format!("cross-site requests are not allowed (Sec-Fetch-Site: {site})"),
            ),
            Refusal::MissingClientHeader => ApiError::new(
                StatusCode::FORBIDDEN,
                format!("the playground's endpoints need the {CLIENT_HEADER} header"),
            ),
        }
    }
}

impl HttpGuard {
    /// `bind` is the port's listening address; `extra_names` are `--http-host` values; `allowed_origins` are
    /// `--allowed-origin` values such as `https://class.example.org`.
    pub fn new(bind: SocketAddr, extra_names: &[String], allowed_origins: &[String]) -> HttpGuard {
        let mut names: HashSet<String> = extra_names.iter().map(|name| normalize_name(name)).collect();
        names.insert("localhost".into());
        if let Ok(hostname) = nix::unistd::gethostname() {
            let hostname = normalize_name(&hostname.to_string_lossy());
            if let Some((short, _)) = hostname.split_once('.') {
                names.insert(short.to_string());
            }
            names.insert(hostname);
        }
        let allowed_origins =
            allowed_origins.iter().map(|origin| origin.trim_end_matches('/').to_ascii_lowercase()).collect();
        HttpGuard { bind: bind.ip(), names, allowed_origins, scheme: "http" }
    }

    /// The port is served over TLS (`--tls-cert`): pages of the daemon's own origin are `https://`.
    pub fn over_tls(mut self) -> HttpGuard {
        self.scheme = "https";
        self
    }

    fn check(&self, method: &Method, path: &str, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = header_text(headers, header::HOST.as_str());
        // Browsers always send Host; a client without one is not a browser and cannot be rebound.
        if let Some(host) = host {
            if !self.serves_host(host) {
                return Err(Refusal::ForeignHost(host.to_string()));
            }
        }
        let origin = header_text(headers, header::ORIGIN.as_str());
        let allowed_foreign = origin.is_some_and(|origin| self.allowed_origins.contains(&origin.to_ascii_lowercase()));
        if let Some(origin) = origin {
            let own = host.is_some_and(|host| origin.eq_ignore_ascii_case(&format!("{}://{host}", self.scheme)));
            if !own && !allowed_foreign {
                return Err(Refusal::ForeignOrigin(origin.to_string()));
            }
        }
        if let Some(site) = header_text(headers, "sec-fetch-site") {
            let cross = site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site");
            let navigation = matches!(*method, Method::GET | Method::HEAD)
                && header_text(headers, "sec-fetch-mode").is_some_and(|mode| mode.eq_ignore_ascii_case("navigate"));
            if cross && !allowed_foreign && !navigation {
                return Err(Refusal::CrossSite(site.to_string()));
            }
        }
        let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if changes_state && path.starts_with("/berth/") && !headers.contains_key(CLIENT_HEADER) {
            return Err(Refusal::MissingClientHeader);
        }
        Ok(())
    }

    /// A `Host` header's name or address, port aside, against the daemon's own.
    fn serves_host(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            Some(bracketed) => match bracketed.split_once(']') {
                Some((address, _)) => address,
                None => return false,
            },
            None => match host.rsplit_once(':') {
                Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
                _ => host,
            },
        };
        match name.parse::<IpAddr>() {
            Ok(address) => {
                address.is_loopback()
                    || address == self.bind
                    || (self.bind.is_unspecified() && local_addresses().contains(&address))
            }
            Err(_) => {
                let name = normalize_name(name);
                // RFC 6761: browsers resolve every *.localhost to loopback themselves, so no one can rebind one.
                name.ends_with(".localhost") || self.names.contains(&name)
            }
        }
    }
}

/// The middleware in front of every route on the HTTP port.
pub async fn guard(State(guard): State<Arc<HttpGuard>>, request: Request, next: Next) -> Response {
    match guard.check(request.method(), request.uri().path(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::warn!(
                method = %request.method(),
                path = %request.uri().path(),
                reason = ?refusal,
                "refused a request on the HTTP port"
            );
            refusal.into_error().into_response()
        }
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap_or("\u{fffd}"))
}

fn normalize_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The machine's interface addresses now (bridges come and go, so this is asked, not cached).
fn local_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    interfaces
        .filter_map(|interface| interface.address)
        .filter_map(|address| {
            if let Some(v4) = address.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> HttpGuard {
        HttpGuard::new(
            "127.0.0.1:8080".parse().unwrap(),
            &["class.example.org".into()],
            &["https://portal.example.org/".into()],
        )
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    fn check(method: Method, path: &str, pairs: &[(&'static str, &str)]) -> Result<(), Refusal> {
        guard().check(&method, path, &headers(pairs))
    }

    #[test]
    fn own_names_are_served_and_others_are_not() {
        let guard = guard();
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "127.0.0.2",
            "class.example.org:8080",
            "x.localhost",
        ] {
            assert!(guard.serves_host(host), "{host}");
        }
        for host in ["evil.example:8080", "10.1.2.3:8080", "[fe80::1]:8080", "[::1", "localhost.evil.example"] {
            assert!(!guard.serves_host(host), "{host}");
        }
        assert_eq!(
            check(Method::GET, "/containers/json", &[("host", "evil.example:8080")]),
            Err(Refusal::ForeignHost("evil.example:8080".into()))
        );
    }

    #[test]
    fn all_addresses_means_every_local_address() {
        let guard = HttpGuard::new("0.0.0.0:8080".parse().unwrap(), &[], &[]);
        for address in local_addresses() {
            let host = match address {
                IpAddr::V4(v4) => format!("{v4}:8080"),
                IpAddr::V6(v6) => format!("[{v6}]:8080"),
            };
            assert!(guard.serves_host(&host), "{host}");
        }
        assert!(!guard.serves_host("192.0.2.1:8080"), "a documentation address is no interface of this machine");
    }

    #[test]
    fn origins_must_be_the_daemons_own_or_allowed() {
        let own = [("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")];
        assert_eq!(check(Method::POST, "/containers/create", &own), Ok(()));
        let allowed =
            [("host", "127.0.0.1:8080"), ("origin", "https://Portal.example.org"), ("sec-fetch-site", "cross-site")];
        assert_eq!(check(Method::POST, "/containers/create", &allowed), Ok(()));
        let foreign = [("host", "127.0.0.1:8080"), ("origin", "http://evil.example")];
        assert_eq!(
            check(Method::POST, "/containers/x/start", &foreign),
            Err(Refusal::ForeignOrigin("http://evil.example".into()))
        );
        // Another port on the same host is another origin.
        let other_port = [("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:9090")];
        assert!(check(Method::GET, "/containers/x/attach/ws", &other_port).is_err());
        assert!(check(Method::POST, "/containers/create", &[("host", "127.0.0.1:8080"), ("origin", "null")]).is_err());
    }

    #[test]
    fn cross_site_fetches_are_refused_but_navigations_are_not() {
        let image = [("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "no-cors")];
        assert_eq!(check(Method::GET, "/containers/x/export", &image), Err(Refusal::CrossSite("cross-site".into())));
        let link = [("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "navigate")];
        assert_eq!(check(Method::GET, "/", &link), Ok(()));
        assert!(check(Method::POST, "/containers/create", &link).is_err(), "a form POST is a navigation too");
        let same = [("host", "127.0.0.1:8080"), ("sec-fetch-site", "same-origin"), ("sec-fetch-mode", "cors")];
        assert_eq!(check(Method::GET, "/containers/json", &same), Ok(()));
    }

    #[test]
    fn playground_changes_need_the_client_header() {
        let host = ("host", "127.0.0.1:8080");
        assert_eq!(check(Method::POST, "/berth/builds", &[host]), Err(Refusal::MissingClientHeader));
        assert_eq!(check(Method::POST, "/berth/builds", &[host, (CLIENT_HEADER, "playground")]), Ok(()));
        assert_eq!(check(Method::GET, "/berth/builds", &[host]), Ok(()));
        // The Engine API is for the docker CLI, which knows no such header.
        assert_eq!(check(Method::POST, "/containers/create", &[host]), Ok(()));
    }

    #[test]
    fn clients_without_browser_headers_pass() {
        assert_eq!(check(Method::POST, "/containers/create", &[]), Ok(()));
        assert_eq!(check(Method::POST, "/containers/create", &[("host", "localhost")]), Ok(()));
    }
}
