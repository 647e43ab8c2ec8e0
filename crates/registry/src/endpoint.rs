//! Where a registry is and how to talk to it: mirrors first for Docker Hub, plain HTTP or unverified TLS only for
//! insecure registries (those named by `--insecure-registry`, and loopback ones, as dockerd treats them), and a
//! registry's own CA files from `<root>/certs.d/<host>/*.crt` like `/etc/docker/certs.d`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};

use super::RegistryError;

/// Docker Hub's registry host, for names in `docker.io`.
const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A registry that sends nothing for this long is taken to have stopped.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the probe of an insecure registry's TLS may take before plain HTTP is tried.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The daemon's registry settings.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// `--registry-mirror` URLs, tried in order for Docker Hub names before Docker Hub itself.
    pub mirrors: Vec<String>,
    /// `--insecure-registry` hosts (`host` or `host:port`) or CIDR ranges.
    pub insecure: Vec<String>,
    /// `<root>/certs.d`: a directory per registry host holding its CA certificates.
    pub certs_dir: PathBuf,
}

/// One place to reach a repository.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// `host[:port]`, as the distribution client addresses it.
    pub host: String,
    pub plain_http: bool,
    pub skip_tls_verify: bool,
    pub roots: Vec<Vec<u8>>,
    /// A mirror's failure is not the pull's: the next endpoint is tried.
    pub mirror: bool,
}

impl Endpoint {
    /// A distribution client for this endpoint, with its own token cache: nothing is shared between operations,
    /// so one user's credentials never serve another's request.
    pub(crate) fn client(&self) -> oci_client::Client {
        oci_client::Client::new(ClientConfig {
            protocol: if self.plain_http { ClientProtocol::Http } else { ClientProtocol::Https },
            accept_invalid_certificates: self.skip_tls_verify,
            extra_root_certificates: self
                .roots
                .iter()
                .map(|pem| Certificate { encoding: CertificateEncoding::Pem, data: pem.clone() })
                .collect(),
            use_monolithic_push: true,
            max_concurrent_download: 3,
            max_concurrent_upload: 3,
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        })
    }

    /// The base URL (`https://host`), for requests the distribution client does not make (login).
    pub(crate) fn base_url(&self) -> String {
        format!("{}://{}", if self.plain_http { "http" } else { "https" }, self.host)
    }

    /// An HTTP client with this endpoint's TLS settings.
    pub(crate) fn http(&self) -> Result<reqwest::Client, RegistryError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .danger_accept_invalid_certs(self.skip_tls_verify)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")));
        let mut roots = Vec::new();
        for pem in &self.roots {
            roots.push(reqwest::Certificate::from_pem(pem).map_err(|e| RegistryError::transport("CA certificate", e))?);
        }
        if !roots.is_empty() {
            builder = builder.tls_certs_merge(roots);
        }
        builder.build().map_err(|e| RegistryError::transport("HTTP client", e))
    }
}

impl RegistryConfig {
    /// The endpoints for a repository in `domain`, in the order to try them.
    pub(crate) async fn endpoints(&self, domain: &str) -> Vec<Endpoint> {
        let mut endpoints = Vec::new();
        if domain == berth_image::reference::DEFAULT_DOMAIN {
            for mirror in &self.mirrors {
                let (plain_http, host) = match mirror.trim_end_matches('/').split_once("://") {
                    Some(("http", host)) => (true, host.to_string()),
                    Some((_, host)) => (false, host.to_string()),
                    None => (false, mirror.trim_end_matches('/').to_string()),
                };
                let mut endpoint = self.endpoint(&host, true).await;
                endpoint.plain_http = plain_http;
                endpoints.push(endpoint);
            }
            endpoints.push(self.endpoint(DOCKER_HUB_HOST, false).await);
        } else {
            endpoints.push(self.endpoint(domain, false).await);
        }
        endpoints
    }

    async fn endpoint(&self, host: &str, mirror: bool) -> Endpoint {
        let roots = read_roots(&self.certs_dir, host);
        let mut endpoint =
            Endpoint { host: host.to_string(), plain_http: false, skip_tls_verify: false, roots, mirror };
        if self.is_insecure(host) {
            endpoint.skip_tls_verify = true;
            // dockerd's order for an insecure registry: TLS (unverified) if it speaks TLS at all, else plain HTTP.
            endpoint.plain_http = !speaks_tls(&endpoint).await;
        }
        endpoint
    }

    /// Whether `host` (`name[:port]`) may be reached without verified TLS.
    pub(crate) fn is_insecure(&self, host: &str) -> bool {
        let name = strip_port(host);
        if name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
            return true;
        }
        self.insecure
            .iter()
            .any(|entry| entry == host || entry == name || name.parse::<IpAddr>().is_ok_and(|ip| in_cidr(entry, ip)))
    }
}

/// `host` without a `:port` (and without brackets for IPv6).
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.contains(':') => name,
        _ => host,
    }
}

fn in_cidr(cidr: &str, ip: IpAddr) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else { return false };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else { return false };
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

/// The `*.crt` files in `certs_dir/<host>/`, as dockerd reads `/etc/docker/certs.d/<host>/`.
fn read_roots(certs_dir: &Path, host: &str) -> Vec<Vec<u8>> {
    // A host with `..` or `/` would name another directory.
    if host.contains('/') || host.contains("..") || certs_dir.as_os_str().is_empty() {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(certs_dir.join(host)) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "crt"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|path| match std::fs::read(&path) {
            Ok(pem) => Some(pem),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot read registry CA file");
                None
            }
        })
        .collect()
}

/// Whether the endpoint answers TLS (any HTTP status counts; a handshake or connection failure does not).
async fn speaks_tls(endpoint: &Endpoint) -> bool {
    let probe = Endpoint { plain_http: false, ..endpoint.clone() };
    let Ok(client) = probe.http() else { return false };
    let request = client.get(format!("{}/v2/", probe.base_url())).timeout(PROBE_TIMEOUT).send();
    request.await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_registries_are_insecure() {
        let config = RegistryConfig {
            insecure: vec!["reg.lan:5000".into(), "10.1.0.0/16".into(), "plain.lan".into()],
            ..RegistryConfig::default()
        };
        for host in ["127.0.0.1:5000", "localhost:5000", "127.9.9.9", "[::1]:5000", "reg.lan:5000", "10.1.2.3:80"] {
            assert!(config.is_insecure(host), "{host}");
        }
        assert!(config.is_insecure("plain.lan:443"), "a host listed without a port, at any port");
        for host in ["reg.lan:5001", "10.2.0.1:5000", "registry-1.docker.io", "example.com"] {
            assert!(!config.is_insecure(host), "{host}");
        }
    }

    #[test]
    fn ca_files_come_from_the_hosts_own_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let host = dir.path().join("reg.lan:5000");
        std::fs::create_dir(&host).expect("host dir");
        std::fs::write(host.join("ca.crt"), b"PEM").expect("ca");
        std::fs::write(host.join("client.key"), b"KEY").expect("key");
        assert_eq!(read_roots(dir.path(), "reg.lan:5000"), vec![b"PEM".to_vec()]);
        assert!(read_roots(dir.path(), "../etc").is_empty() && read_roots(dir.path(), "other").is_empty());
    }
}
