//! A real image registry for the pull, push and login tests: Debian's CNCF distribution registry
//! (`/usr/bin/docker-registry`, 2.8) on a loopback port, configured by a file written here, storing on disk under
//! `<target>/e2e/registry-XXXXXX/`.
//!
//! - [`Registry::anonymous`]: plain HTTP, no auth.
//! - [`Registry::basic_tls`]: htpasswd (bcrypt) auth over TLS, with a CA made here ([`Registry::ca_pem`]).
//! - [`Registry::token_auth`]: `auth: token`, with a token server run here on another loopback port
//!   ([`TokenServer`]): it checks Basic credentials and signs ES256 JWTs the registry verifies against its root bundle.
//! - [`Registry::proxy`]: a pull-through cache of another registry, to stand in for a mirror of Docker Hub.
//!
//! Images get in without Berth: [`seed_image`] and [`seed_multi_platform`] write an OCI image layout (the host's
//! static busybox as the first layer, so the images run) and push it with skopeo.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::{free_port, target_dir, Daemon};

const REGISTRY: &str = "/usr/bin/docker-registry";
const SKOPEO: &str = "/usr/bin/skopeo";
/// The registry starts in well under a second; the margin is for a machine busy with builds.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// What the registry's `auth: token` config and the token server agree on: the JWT's `aud` and `iss`.
const TOKEN_SERVICE: &str = "berth-e2e-registry";
const TOKEN_ISSUER: &str = "berth-e2e-token-server";
/// Seeded images' timestamps, fixed so that the same content always has the same digests.
const SEED_CREATED: &str = "2024-01-01T00:00:00Z";

/// A running registry. Dropping it kills the registry (and its token server) and removes its directory, unless the
/// test is failing: then the directory, with the registry's log, is kept and its path printed.
pub struct Registry {
    process: Child,
    dir: PathBuf,
    address: String,
    tls: bool,
    credentials: Option<(String, String)>,
    token_server: Option<TokenServer>,
}

/// What sets one variant apart from another.
struct Variant {
    /// Top-level config sections beyond the common ones (`auth:`, `proxy:`).
    config: String,
    /// Serve HTTPS with the server.crt and server.key in the registry's directory.
    tls: bool,
    /// How `GET /v2/` over plain HTTP answers once the registry serves (see [`Registry::wait_until_ready`]).
    ready_status: u16,
    credentials: Option<(String, String)>,
    token_server: Option<TokenServer>,
}

impl Registry {
    /// Plain HTTP, anyone may pull and push.
    pub fn anonymous() -> Registry {
        let variant =
            Variant { config: String::new(), tls: false, ready_status: 200, credentials: None, token_server: None };
        Registry::start(registry_dir(), variant)
    }

    /// HTTPS with a certificate for 127.0.0.1 and localhost signed by a CA made for this registry, and htpasswd
    /// auth with one user. A client trusts it through [`Registry::ca_pem`] (see [`Registry::install_ca`]).
    pub fn basic_tls(user: &str, password: &str) -> Registry {
        let dir = registry_dir();
        write_tls_files(&dir);
        // Cost 4, bcrypt's least: the registry checks the hash on every request, and strength is moot here.
        let hash = bcrypt::hash(password, 4).expect("hashing the registry password");
        let htpasswd = dir.join("htpasswd");
        write(&htpasswd, format!("{user}:{hash}\n").as_bytes());
        let variant = Variant {
            config: format!("auth:\n  htpasswd:\n    realm: berth-e2e\n    path: {}\n", htpasswd.display()),
            tls: true,
            // Go's HTTPS server answers plain HTTP with "400 Client sent an HTTP request to an HTTPS server": the
            // sign that it serves, with no TLS client needed here.
            ready_status: 400,
            credentials: Some((user.to_string(), password.to_string())),
            token_server: None,
        };
        Registry::start(dir, variant)
    }

    /// Plain HTTP with `auth: token`: the registry sends clients to a [`TokenServer`] that knows one user.
    pub fn token_auth(user: &str, password: &str) -> Registry {
        let dir = registry_dir();
        let token_server = TokenServer::start(&dir, user, password);
        let variant = Variant {
            config: format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    \
                 rootcertbundle: {bundle}\n    autoredirect: false\n",
                realm = token_server.realm(),
                bundle = token_server.certificate_path.display()
            ),
            tls: false,
            // The challenge that sends a client to the token server.
            ready_status: 401,
            credentials: Some((user.to_string(), password.to_string())),
            token_server: Some(token_server),
        };
        Registry::start(dir, variant)
    }

    /// A pull-through cache of `upstream_url` (`http://127.0.0.1:PORT`): it answers for the upstream's
    /// repositories under the same names, fetching and keeping what it has not got. Pushes are refused.
    pub fn proxy(upstream_url: &str) -> Registry {
        let variant = Variant {
            config: format!("proxy:\n  remoteurl: {upstream_url}\n"),
            tls: false,
            ready_status: 200,
            credentials: None,
            token_server: None,
        };
        Registry::start(registry_dir(), variant)
    }

    fn start(dir: PathBuf, variant: Variant) -> Registry {
        let address = format!("127.0.0.1:{}", free_port());
        let tls_config = if variant.tls {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            )
        } else {
            String::new()
        };
        // The access log is off and the level is warn so that the log holds what went wrong, not every request.
        // A fixed http.secret silences the warning about a random one (it signs upload state between requests).
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    \
             rootdirectory: {storage}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n  secret: berth-e2e\n\
             {tls_config}{extra}",
            storage = dir.join("storage").display(),
            extra = variant.config
        );
        let config_path = dir.join("config.yml");
        write(&config_path, config.as_bytes());
        let log = std::fs::File::create(dir.join("registry.log")).expect("creating the registry log");
        let process = Command::new(REGISTRY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the registry log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {REGISTRY} (Debian's docker-registry package): {error}"));
        let mut registry = Registry {
            process,
            dir,
            address,
            tls: variant.tls,
            credentials: variant.credentials,
            token_server: variant.token_server,
        };
        registry.wait_until_ready(variant.ready_status);
        registry
    }

    /// Polls `GET /v2/` over plain HTTP until it answers `expected`: 200 where anyone may pull, 401 where a token
    /// is needed, and 400 from an HTTPS port (see [`Registry::basic_tls`]).
    fn wait_until_ready(&mut self, expected: u16) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.process.try_wait().expect("polling the registry") {
                panic!("the registry exited during startup ({status})\n{}", self.log());
            }
            let last = match status_of_get(&self.address, "/v2/") {
                Ok(status) if status == expected => return,
                other => other,
            };
            if Instant::now() > deadline {
                panic!(
                    "the registry on {} did not answer GET /v2/ with {expected} within {STARTUP_TIMEOUT:?} \
                     (last: {last:?})\n{}",
                    self.address,
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`: the registry part of an image reference.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `http://127.0.0.1:PORT` or `https://...`.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.address)
    }

    /// The registry's user and password, for the variants that have one.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The PEM file of the CA that signed this registry's certificate ([`Registry::basic_tls`] only).
    pub fn ca_pem(&self) -> PathBuf {
        assert!(self.tls, "only Registry::basic_tls serves TLS");
        self.dir.join("ca.crt")
    }

    /// Makes `daemon` trust this registry's CA the way dockerd is told to: `<root>/certs.d/HOST:PORT/ca.crt`.
    pub fn install_ca(&self, daemon: &Daemon) {
        let dir = daemon.root().join("certs.d").join(&self.address);
        std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("creating {}: {error}", dir.display()));
        std::fs::copy(self.ca_pem(), dir.join("ca.crt"))
            .unwrap_or_else(|error| panic!("copying the CA into {}: {error}", dir.display()));
    }

    /// Where the registry keeps the content of blob `digest` (`sha256:HEX`).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or_else(|| panic!("{digest} is not a sha256 digest"));
        self.dir.join("storage/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }

    /// Whether the registry's storage holds repository `repo` (a proxy stores what it fetched for a client).
    pub fn has_repository(&self, repo: &str) -> bool {
        self.dir.join("storage/docker/registry/v2/repositories").join(repo).is_dir()
    }

    /// The token server of a [`Registry::token_auth`] registry.
    pub fn token_server(&self) -> &TokenServer {
        self.token_server.as_ref().expect("only Registry::token_auth has a token server")
    }

    /// The manifest digest the registry serves for `repo:tag`, as skopeo (not Berth) sees it: the digest of the
    /// bytes the registry returns, so it is the index's for a multi-platform image.
    pub fn remote_digest(&self, repo: &str, tag: &str) -> String {
        let raw = self.skopeo("", &["inspect", "--raw", &self.image(repo, tag)]);
        format!("sha256:{}", hex::encode(Sha256::digest(raw.as_bytes())))
    }

    /// `skopeo inspect` of `repo:tag`, decoded: Digest, Layers, Architecture, ...
    pub fn inspect(&self, repo: &str, tag: &str) -> Value {
        let output = self.skopeo("", &["inspect", &self.image(repo, tag)]);
        serde_json::from_str(&output).unwrap_or_else(|error| panic!("skopeo inspect: {error} in {output}"))
    }

    /// The digest of the config of `repo:tag`: the image ID a daemon that pulls it must show.
    pub fn config_digest(&self, repo: &str, tag: &str) -> String {
        let config = self.skopeo("", &["inspect", "--raw", "--config", &self.image(repo, tag)]);
        format!("sha256:{}", hex::encode(Sha256::digest(config.as_bytes())))
    }

    /// The digests of the uncompressed layers of `repo:tag` as the registry holds them: skopeo downloads the
    /// blobs (checking their digests) into an OCI layout, and each is uncompressed and hashed here. Equal diff IDs
    /// mean the same tar, byte for byte.
    pub fn layer_diff_ids(&self, repo: &str, tag: &str) -> Vec<String> {
        let layout = OciLayout::new();
        let dest = format!("oci:{}:copy", layout.dir.path().display());
        self.skopeo("src-", &["copy", &self.image(repo, tag), &dest]);
        let index: Value = read_json(&layout.dir.path().join("index.json"));
        let manifest: Value = read_json(&layout.blob_path(index["manifests"][0]["digest"].as_str().expect("a digest")));
        let layers = manifest["layers"].as_array().expect("a manifest lists its layers");
        layers
            .iter()
            .map(|layer| {
                let blob = std::fs::read(layout.blob_path(layer["digest"].as_str().expect("a layer digest")))
                    .expect("reading a copied layer");
                let media_type = layer["mediaType"].as_str().unwrap_or_default();
                let tar = if media_type.ends_with("gzip") {
                    let mut tar = Vec::new();
                    flate2::read::GzDecoder::new(blob.as_slice()).read_to_end(&mut tar).expect("gunzipping a layer");
                    tar
                } else {
                    blob
                };
                format!("sha256:{}", hex::encode(Sha256::digest(&tar)))
            })
            .collect()
    }

    /// `docker://127.0.0.1:PORT/REPO:TAG`, as skopeo names an image in a registry.
    fn image(&self, repo: &str, tag: &str) -> String {
        format!("docker://{}/{repo}:{tag}", self.address)
    }

    /// `skopeo inspect` of `repo:tag` with TLS verified against [`Registry::ca_pem`] alone: a check of the
    /// certificates this harness makes, by a client other than the one under test.
    pub fn inspect_trusting_ca(&self, repo: &str, tag: &str) -> Value {
        let certs = self.dir.join("skopeo-certs");
        std::fs::create_dir_all(&certs).expect("creating skopeo's cert dir");
        std::fs::copy(self.ca_pem(), certs.join("ca.crt")).expect("copying the CA for skopeo");
        let cert_dir = format!("--cert-dir={}", certs.display());
        let output = self.run_skopeo("", &["inspect", &cert_dir, &self.image(repo, tag)], true);
        serde_json::from_str(&output).unwrap_or_else(|error| panic!("skopeo inspect: {error} in {output}"))
    }

    /// Runs `skopeo SUBCOMMAND --{SIDE}tls-verify=false --{SIDE}creds USER:PASSWORD REST...` and returns stdout;
    /// panics with its output and the registry log if it fails. `side` is "src-" or "dest-" for the end of a copy
    /// that is this registry, "" for inspect. No TLS verification: skopeo is not under test, and the CA is.
    fn skopeo(&self, side: &str, args: &[&str]) -> String {
        self.run_skopeo(side, args, false)
    }

    fn run_skopeo(&self, side: &str, args: &[&str], verify_tls: bool) -> String {
        let (subcommand, rest) = args.split_first().expect("a skopeo subcommand");
        let mut command = Command::new(SKOPEO);
        // No /etc/containers/policy.json need be there: what skopeo copies here is the test's own.
        command.args(["--insecure-policy", subcommand]).arg(format!("--{side}tls-verify={verify_tls}"));
        if let Some((user, password)) = self.credentials() {
            command.arg(format!("--{side}creds")).arg(format!("{user}:{password}"));
        }
        let output = command.args(rest).output().unwrap_or_else(|error| panic!("starting {SKOPEO}: {error}"));
        if !output.status.success() {
            panic!(
                "skopeo {} failed ({})\n--- stdout\n{}\n--- stderr\n{}\n{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                self.log()
            );
        }
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn log(&self) -> String {
        let path = self.dir.join("registry.log");
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        format!("--- registry log ({})\n{log}", path.display())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        self.token_server.take();
        if thread::panicking() {
            eprintln!("e2e: registry directory kept at {}", self.dir.display());
        } else if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("e2e: removing {}: {error}", self.dir.display());
        }
    }
}

/// `<target>/e2e/registry-XXXXXX`, for the registry's config, storage, keys and log.
fn registry_dir() -> PathBuf {
    let e2e = target_dir().join("e2e");
    std::fs::create_dir_all(&e2e).unwrap_or_else(|error| panic!("creating {}: {error}", e2e.display()));
    tempfile::Builder::new()
        .prefix("registry-")
        .tempdir_in(&e2e)
        .unwrap_or_else(|error| panic!("creating a temp dir in {}: {error}", e2e.display()))
        // Registry's Drop removes it, or keeps it when the test fails.
        .keep()
}

/// The status code of `GET path` over plain HTTP.
fn status_of_get(address: &str, path: &str) -> std::io::Result<u16> {
    get(address, path, &[]).map(|(status, _)| status)
}

/// `GET path` on `address` over plain HTTP/1.0 (so read to end of file: no chunks, no keep-alive) with `headers`:
/// the status code and the body.
pub fn get(address: &str, path: &str, headers: &[(&str, &str)]) -> std::io::Result<(u16, String)> {
    request(address, "GET", path, headers, "")
}

/// `POST path` of a form (`a=1&b=2`), otherwise as [`get`].
pub fn post_form(address: &str, path: &str, form: &str) -> std::io::Result<(u16, String)> {
    let length = form.len().to_string();
    let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", length.as_str())];
    request(address, "POST", path, &headers, form)
}

fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {address}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{request}\r\n{body}")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    Ok((status, body.to_string()))
}

/// The value of an `Authorization` header for HTTP Basic auth.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// ca.crt, server.crt and server.key in `dir`: a CA, and a server certificate it signed for 127.0.0.1 and localhost.
pub fn write_tls_files(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("generating the CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.distinguished_name.push(DnType::CommonName, "Berth e2e registry CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("signing the CA certificate");

    let server_key = KeyPair::generate().expect("generating the server key");
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("server parameters");
    server_params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    // Stated rather than left out: some verifiers (webpki among them) are strict about what a leaf is for.
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let server_cert = server_params.signed_by(&server_key, &issuer).expect("signing the server certificate");

    write(&dir.join("ca.crt"), ca_cert.pem().as_bytes());
    write(&dir.join("server.crt"), server_cert.pem().as_bytes());
    write(&dir.join("server.key"), server_key.serialize_pem().as_bytes());
}

/// One token the [`TokenServer`] issued: who asked, and the scopes it granted (`repository:demo:pull,push`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// None for an anonymous request, which gets a token with no access.
    pub user: Option<String>,
    pub scopes: Vec<String>,
}

/// The registry's token service, as Docker Hub's auth.docker.io or docker_auth would be: `GET /token?service=..&
/// scope=..` with Basic credentials (or `POST /token` with an OAuth2 password grant) answers a JWT granting the
/// scopes asked for, signed ES256 by a key whose self-signed certificate is both in the JWT's `x5c` header and in
/// the registry's `rootcertbundle`. Wrong credentials get 401; none get a token with no access, so the registry
/// then refuses the request itself.
pub struct TokenServer {
    address: String,
    certificate_path: PathBuf,
    grants: Arc<Mutex<Vec<Grant>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

struct TokenSigner {
    key: ring::signature::EcdsaKeyPair,
    certificate_der: Vec<u8>,
    user: String,
    password: String,
    serial: AtomicU64,
}

impl TokenServer {
    fn start(dir: &Path, user: &str, password: &str) -> TokenServer {
        let key_pair = rcgen::KeyPair::generate().expect("generating the token signing key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("token certificate parameters");
        params.distinguished_name.push(rcgen::DnType::CommonName, TOKEN_ISSUER);
        let certificate = params.self_signed(&key_pair).expect("signing the token certificate");
        let certificate_path = dir.join("token-signer.crt");
        write(&certificate_path, certificate.pem().as_bytes());
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            key_pair.serialized_der(),
            &ring::rand::SystemRandom::new(),
        )
        .expect("loading the token signing key into ring");
        let signer = Arc::new(TokenSigner {
            key,
            certificate_der: certificate.der().to_vec(),
            user: user.to_string(),
            password: password.to_string(),
            serial: AtomicU64::new(0),
        });

        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the token server");
        let address = listener.local_addr().expect("the token server's address").to_string();
        let grants = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (grants, stop) = (grants.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (signer, grants) = (signer.clone(), grants.clone());
                    // One thread a connection: a client that keeps one open must not hold up the others.
                    thread::spawn(move || {
                        if let Err(error) = serve_token_request(stream, &signer, &grants) {
                            eprintln!("e2e token server: {error}");
                        }
                    });
                }
            })
        };
        TokenServer { address, certificate_path, grants, stop, thread: Some(thread) }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The `service` a token request names, and the JWT's audience.
    pub fn service(&self) -> &'static str {
        TOKEN_SERVICE
    }

    /// `http://127.0.0.1:PORT/token`, the realm the registry names in its `WWW-Authenticate` challenge.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.address)
    }

    /// Every token issued so far, oldest first.
    pub fn grants(&self) -> Vec<Grant> {
        self.grants.lock().expect("the grants lock").clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // accept() blocks: a connection of our own wakes it to see the flag.
        let _ = TcpStream::connect(&self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_token_request(stream: TcpStream, signer: &TokenSigner, grants: &Mutex<Vec<Grant>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut fields = parse_form(query);
    let length: usize = headers.get("content-length").and_then(|length| length.parse().ok()).unwrap_or(0);
    if method == "POST" {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        fields.extend(parse_form(&String::from_utf8_lossy(&body)));
    }

    let response = if path != "/token" || !matches!(method, "GET" | "POST") {
        error_response(404, "NOT_FOUND", "no such endpoint")
    } else {
        // Basic credentials for GET (what docker login and pulls send); username and password fields for an
        // OAuth2 password grant.
        let basic = headers
            .get("authorization")
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
            .and_then(|decoded| String::from_utf8(decoded).ok())
            .and_then(|pair| pair.split_once(':').map(|(user, password)| (user.to_string(), password.to_string())));
        let form = match (field(&fields, "username"), field(&fields, "password")) {
            (Some(user), Some(password)) => Some((user.to_string(), password.to_string())),
            _ => None,
        };
        match basic.or(form) {
            Some((user, password)) if user != signer.user || password != signer.password => {
                error_response(401, "UNAUTHORIZED", "incorrect username or password")
            }
            credentials => {
                let user = credentials.map(|(user, _)| user);
                let scopes: Vec<String> = if user.is_some() {
                    fields.iter().filter(|(name, _)| name == "scope").map(|(_, scope)| scope.clone()).collect()
                } else {
                    Vec::new()
                };
                let token = signer.sign(user.as_deref().unwrap_or(""), &scopes);
                grants.lock().expect("the grants lock").push(Grant { user, scopes });
                let issued_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let body = json!({"token": token, "access_token": token, "expires_in": 300, "issued_at": issued_at});
                (200, body.to_string())
            }
        }
    };
    let (status, body) = response;
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        _ => "Not Found",
    };
    let mut stream = stream;
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status == 401 {
        head.push_str("WWW-Authenticate: Basic realm=\"berth-e2e\"\r\n");
    }
    write!(stream, "{head}\r\n{body}")?;
    stream.flush()
}

fn error_response(status: u16, code: &str, message: &str) -> (u16, String) {
    (status, json!({"errors": [{"code": code, "message": message}]}).to_string())
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

/// `a=1&scope=x&scope=y` → pairs, percent- and plus-decoded, repeated names kept (a token request may ask for
/// several scopes).
fn parse_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TokenSigner {
    /// A JWT as distribution's token auth verifies it: ES256 over `header.claims`, the signer's certificate in
    /// `x5c` (chained to the root bundle: here it is the bundle), `aud` the service and `iss` the issuer, and
    /// `access` the granted scopes (`repository:NAME:ACTIONS`; NAME has no colon, ACTIONS are comma-separated).
    fn sign(&self, user: &str, scopes: &[String]) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970").as_secs();
        let access: Vec<Value> = scopes
            .iter()
            .filter_map(|scope| {
                let (kind, rest) = scope.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                Some(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&self.certificate_der)]});
        let claims = json!({
            "iss": TOKEN_ISSUER,
            "sub": user,
            "aud": TOKEN_SERVICE,
            // A little slack on nbf: the registry and this process read the same clock, but not at the same instant.
            "nbf": now - 10,
            "iat": now,
            "exp": now + 300,
            "jti": format!("berth-e2e-{}", self.serial.fetch_add(1, Ordering::SeqCst)),
            "access": access,
        });
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature =
            self.key.sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes()).expect("signing a token");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

/// What [`seed_image`] pushed.
#[derive(Clone, Debug)]
pub struct SeededImage {
    /// `127.0.0.1:PORT/REPO:TAG`.
    pub reference: String,
    /// The digest of the manifest as pushed (the registry serves it unchanged).
    pub manifest_digest: String,
    /// The image ID: the digest of its config.
    pub config_digest: String,
    /// The digests of the compressed layers as the registry stores them, busybox first.
    pub layer_digests: Vec<String>,
}

/// What [`seed_multi_platform`] pushed.
#[derive(Clone, Debug)]
pub struct SeededIndex {
    pub reference: String,
    /// The digest of the image index.
    pub index_digest: String,
    /// The image for this machine's architecture.
    pub host: PlatformImage,
    /// The image for the other architecture in the index.
    pub other: PlatformImage,
}

/// One platform's image in a [`SeededIndex`].
#[derive(Clone, Debug)]
pub struct PlatformImage {
    /// As image platforms name it (Go's GOARCH): amd64, arm64.
    pub arch: String,
    pub manifest_digest: String,
    /// The image ID.
    pub config_digest: String,
}

/// Pushes `REPO:TAG` to `registry`: an image of the host's static busybox (so it runs, `sh` and all) and then one
/// layer per entry of `layers`, each a list of (absolute path, content) files. Digests are the same for the same
/// content every time.
pub fn seed_image(registry: &Registry, repo: &str, tag: &str, layers: &[&[(&str, &str)]]) -> SeededImage {
    let layout = OciLayout::new();
    let reference = format!("{}/{repo}:{tag}", registry.address());
    let image = layout.image(&reference, host_arch(), layers);
    layout.write_index(&image.manifest, tag);
    let source = format!("oci:{}:{tag}", layout.dir.path().display());
    // --preserve-digests: skopeo must push the blobs and manifest as written, or the digests returned are wrong.
    registry.skopeo("dest-", &["copy", "--preserve-digests", &source, &registry.image(repo, tag)]);
    SeededImage {
        reference,
        manifest_digest: image.manifest.digest,
        config_digest: image.config_digest,
        layer_digests: image.layer_digests,
    }
}

/// Pushes `REPO:TAG` as an OCI image index of two images, one for this machine's architecture and one for another
/// (arm64 on amd64, amd64 elsewhere); each has the busybox layer and a file `/platform` holding its architecture.
pub fn seed_multi_platform(registry: &Registry, repo: &str, tag: &str) -> SeededIndex {
    let layout = OciLayout::new();
    let host = host_arch();
    let other = if host == "amd64" { "arm64" } else { "amd64" };
    let reference = format!("{}/{repo}:{tag}", registry.address());
    let host_image = layout.image(&reference, host, &[&[("/platform", &format!("{host}\n"))]]);
    let other_image = layout.image(&reference, other, &[&[("/platform", &format!("{other}\n"))]]);
    let platform_entry = |image: &BuiltImage, arch: &str| {
        json!({
            "mediaType": image.manifest.media_type,
            "digest": image.manifest.digest,
            "size": image.manifest.size,
            "platform": {"architecture": arch, "os": "linux"},
        })
    };
    let index = json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [platform_entry(&host_image, host), platform_entry(&other_image, other)],
    });
    let index = layout.blob(INDEX_MEDIA_TYPE, index.to_string().as_bytes());
    layout.write_index(&index, tag);
    let source = format!("oci:{}:{tag}", layout.dir.path().display());
    registry.skopeo("dest-", &["copy", "--all", "--preserve-digests", &source, &registry.image(repo, tag)]);
    SeededIndex {
        reference,
        index_digest: index.digest,
        host: PlatformImage {
            arch: host.to_string(),
            manifest_digest: host_image.manifest.digest,
            config_digest: host_image.config_digest,
        },
        other: PlatformImage {
            arch: other.to_string(),
            manifest_digest: other_image.manifest.digest,
            config_digest: other_image.config_digest,
        },
    }
}

/// This machine's architecture as image platforms name it (Go's GOARCH).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no GOARCH name known for {other}"),
    }
}

const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A blob written into an OCI layout.
#[derive(Clone)]
struct Descriptor {
    media_type: String,
    digest: String,
    size: usize,
}

impl Descriptor {
    fn to_json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

struct BuiltImage {
    manifest: Descriptor,
    config_digest: String,
    layer_digests: Vec<String>,
}

/// An OCI image layout in a temp dir under `<target>/e2e/`, as skopeo's `oci:` transport reads it.
struct OciLayout {
    dir: tempfile::TempDir,
}

impl OciLayout {
    fn new() -> OciLayout {
        let e2e = target_dir().join("e2e");
        std::fs::create_dir_all(&e2e).unwrap_or_else(|error| panic!("creating {}: {error}", e2e.display()));
        let dir = tempfile::Builder::new().prefix("oci-layout-").tempdir_in(&e2e).expect("creating an OCI layout dir");
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).expect("creating blobs/sha256");
        write(&dir.path().join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#);
        OciLayout { dir }
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir.path().join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
    }

    fn blob(&self, media_type: &str, bytes: &[u8]) -> Descriptor {
        let hex = hex::encode(Sha256::digest(bytes));
        write(&self.dir.path().join("blobs/sha256").join(&hex), bytes);
        Descriptor { media_type: media_type.to_string(), digest: format!("sha256:{hex}"), size: bytes.len() }
    }

    /// An image for `arch`: busybox, then `layers`. `reference` goes in a label, so that each seeded image has its
    /// own ID even where the layers are the same (a daemon shared by several tests, as a reference dockerd is,
    /// would otherwise find the image of one test already there in another).
    fn image(&self, reference: &str, arch: &str, layers: &[&[(&str, &str)]]) -> BuiltImage {
        let busybox = busybox_layer();
        let extra: Vec<Layer> = layers.iter().map(|files| Layer::of_files(files)).collect();
        let all: Vec<&Layer> = std::iter::once(busybox).chain(extra.iter()).collect();
        let descriptors: Vec<Descriptor> = all.iter().map(|layer| self.blob(LAYER_MEDIA_TYPE, &layer.gzip)).collect();
        let history: Vec<Value> =
            all.iter().map(|layer| json!({"created": SEED_CREATED, "created_by": layer.description})).collect();
        let config = json!({
            "created": SEED_CREATED,
            "architecture": arch,
            "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": {"org.berth.e2e.seeded-as": reference}},
            "rootfs": {"type": "layers", "diff_ids": all.iter().map(|layer| layer.diff_id.clone()).collect::<Vec<_>>()},
            "history": history,
        });
        let config = self.blob(CONFIG_MEDIA_TYPE, config.to_string().as_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": config.to_json(),
            "layers": descriptors.iter().map(Descriptor::to_json).collect::<Vec<_>>(),
        });
        BuiltImage {
            manifest: self.blob(MANIFEST_MEDIA_TYPE, manifest.to_string().as_bytes()),
            config_digest: config.digest,
            layer_digests: descriptors.into_iter().map(|descriptor| descriptor.digest).collect(),
        }
    }

    /// index.json naming `top` (a manifest or an index) `tag`, which is how `oci:DIR:TAG` finds it.
    fn write_index(&self, top: &Descriptor, tag: &str) {
        let mut entry = top.to_json();
        entry["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let index = json!({"schemaVersion": 2, "manifests": [entry]});
        write(&self.dir.path().join("index.json"), index.to_string().as_bytes());
    }
}

/// A layer: its gzipped tar and the digest of the tar (the diff ID the image config lists).
struct Layer {
    gzip: Vec<u8>,
    diff_id: String,
    description: String,
}

impl Layer {
    fn of_files(files: &[(&str, &str)]) -> Layer {
        let mut tar = tar::Builder::new(Vec::new());
        let mut dirs = Vec::new();
        for (path, content) in files {
            let relative = path.trim_start_matches('/');
            // Parent directories first, once each, as a tar from a real filesystem would have them.
            let mut parent = PathBuf::new();
            for component in Path::new(relative).parent().into_iter().flat_map(Path::components) {
                parent.push(component);
                if !dirs.contains(&parent) {
                    dirs.push(parent.clone());
                    append_dir(&mut tar, &parent, 0o755);
                }
            }
            append_file(&mut tar, relative, content.as_bytes(), 0o644);
        }
        let names: Vec<&str> = files.iter().map(|(path, _)| *path).collect();
        Layer::finish(tar, format!("berth e2e seed: files {}", names.join(" ")))
    }

    fn finish(tar: tar::Builder<Vec<u8>>, description: String) -> Layer {
        let tar = tar.into_inner().expect("finishing a layer tar");
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&tar).expect("compressing a layer");
        Layer {
            gzip: gzip.finish().expect("compressing a layer"),
            diff_id: format!("sha256:{}", hex::encode(Sha256::digest(&tar))),
            description,
        }
    }
}

/// The host's static busybox at /bin/busybox with every applet linked beside it, /etc/passwd and /etc/group, and
/// the directories a container mounts over: the same recipe as Berth's default image. Built once per test binary
/// (gzipping 2 MB is not free on two busy cores).
fn busybox_layer() -> &'static Layer {
    static LAYER: OnceLock<Layer> = OnceLock::new();
    LAYER.get_or_init(|| {
        let busybox = std::fs::read("/bin/busybox").expect("reading /bin/busybox (Debian's busybox-static)");
        let applets = Command::new("/bin/busybox").arg("--list").output().expect("running busybox --list");
        let applets = String::from_utf8(applets.stdout).expect("busybox --list is text");
        let mut tar = tar::Builder::new(Vec::new());
        for dir in ["bin", "dev", "etc", "proc", "root", "sys"] {
            append_dir(&mut tar, Path::new(dir), 0o755);
        }
        append_dir(&mut tar, Path::new("tmp"), 0o1777);
        append_file(&mut tar, "bin/busybox", &busybox, 0o755);
        for applet in applets.lines().filter(|applet| !applet.is_empty() && *applet != "busybox") {
            let mut header = tar_header(tar::EntryType::Symlink, 0o777, 0);
            tar.append_link(&mut header, format!("bin/{applet}"), "busybox").expect("adding an applet link");
        }
        append_file(
            &mut tar,
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            0o644,
        );
        append_file(&mut tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644);
        Layer::finish(tar, "berth e2e seed: the host's busybox".to_string())
    })
}

fn tar_header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

fn append_dir(tar: &mut tar::Builder<Vec<u8>>, path: &Path, mode: u32) {
    let mut header = tar_header(tar::EntryType::Directory, mode, 0);
    tar.append_data(&mut header, path, std::io::empty()).expect("adding a directory to a layer");
}

fn append_file(tar: &mut tar::Builder<Vec<u8>>, path: &str, content: &[u8], mode: u32) {
    let mut header = tar_header(tar::EntryType::Regular, mode, content.len() as u64);
    tar.append_data(&mut header, path, content).expect("adding a file to a layer");
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
}
