//! The `berth` binary: `berth serve` runs the daemon; `berth compose` drives a compose project through it; `berth init` (hidden) is the first process of every container.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

mod admin;
mod compose;
mod route;
mod tls;

#[derive(Parser)]
#[command(name = "berth", version, about = "A container engine that speaks the Docker Engine API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// One value, parsed once at startup: the size of the serve arguments costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the daemon: the Engine API on a unix socket and over HTTP, plus the web playground.
    Serve(ServeArgs),
    /// Run a compose project against the daemon (a client of its Engine API, like docker compose).
    Compose(compose::ComposeArgs),
    /// Accounts, classes and sessions of a shared daemon (`berth serve --auth accounts`), over its unix socket.
    Admin(admin::AdminArgs),
    /// Routed ports: blue/green, weighted A/B, ramped and shadow traffic to containers, through the daemon.
    Route(route::RouteArgs),
}

/// Who may use the HTTP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuthMode {
    /// Whoever reaches the port controls the daemon: for one person on loopback.
    None,
    /// Every request names a session of a class; each session sees only its own containers.
    Accounts,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Where images, containers and volumes are kept.
    #[arg(long, default_value = "/var/lib/berth")]
    root: PathBuf,
    /// The Engine API's unix socket (DOCKER_HOST=unix://PATH), mode 0660: root's, and --socket-group's.
    #[arg(long, default_value = "/run/berth.sock")]
    socket: PathBuf,
    /// The group that may use the unix socket besides root (like dockerd's `docker` group).
    #[arg(long, value_name = "GROUP")]
    socket_group: Option<String>,
    /// Address for the web app and the same API over HTTP.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// Who may use the HTTP port: `none` (anyone who reaches it is root on this host, so only a loopback address
    /// is accepted) or `accounts` (sessions of classes, each confined to its own objects; see `berth admin`).
    #[arg(long, value_enum, default_value_t = AuthMode::None)]
    auth: AuthMode,
    /// With `--auth none`: serve a non-loopback --http address anyway. Everyone who can reach it can run
    /// privileged containers, that is, own this host.
    #[arg(long)]
    insecure_open: bool,
    /// Serve the HTTP port over TLS with this PEM certificate chain (with --tls-key); cookies are then Secure.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The accounts database: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB` (default: <root>/identity.db).
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// How often sessions past their maximum age or idle timeout are ended and removed (seconds). Hidden: a knob
    /// for tests.
    #[arg(long, value_name = "SECONDS", default_value_t = 15, hide = true,
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..))]
    session_sweep_interval: u64,
    /// A name the HTTP port is reached by, besides its address, localhost and the machine's hostname (repeatable).
    /// Requests for any other Host are refused (DNS rebinding).
    #[arg(long = "http-host", value_name = "NAME")]
    http_hosts: Vec<String>,
    /// A web origin besides the daemon's own allowed to call the HTTP port, e.g. https://class.example.org
    /// (repeatable). Requests from any other origin are refused.
    #[arg(long = "allowed-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    allowed_origins: Vec<String>,
    /// The most a build context may be on the wire: larger uploads get 413 (bytes, or with k, m, g).
    #[arg(long, value_name = "SIZE", default_value = "8g", value_parser = parse_size)]
    max_upload_size: u64,
    /// The most an uploaded archive may unpack to, checked from its headers before anything is written, so a
    /// compressed bomb is refused (bytes, or with k, m, g).
    #[arg(long, value_name = "SIZE", default_value = "8g", value_parser = parse_size)]
    max_unpacked_size: u64,
    /// The pids limit of a container created without --pids-limit (0: none), so one fork bomb cannot take the
    /// host's process table. A container may still ask for --pids-limit -1 (unlimited).
    #[arg(long, value_name = "N", default_value = "0")]
    default_pids_limit: i64,
    /// Run containers in user namespaces, as dockerd's flag: `default` (a `berth-remap` user, made with a
    /// subordinate range if missing) or USER[:GROUP] with ranges in /etc/subuid and /etc/subgid. Root in a
    /// container is then an unprivileged host uid; `docker run --userns host` opts one container out.
    #[arg(long, value_name = "default|USER[:GROUP]")]
    userns_remap: Option<String>,
    /// With --userns-remap: each container gets a 65,536-id slice of the range of its own (beyond dockerd), so no
    /// two containers share host ids.
    #[arg(long, requires = "userns_remap")]
    userns_private_ranges: bool,
    /// Containers keep running while the daemon stops, restarts or is upgraded, under their monitors, and the next
    /// start adopts them (dockerd's --live-restore, on by default here). `--live-restore=false` stops them at a
    /// clean exit, as dockerd does by default.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "true|false")]
    live_restore: bool,
    /// The built web app (default: `<dir of this binary>/../web`).
    #[arg(long)]
    web_dir: Option<PathBuf>,
    /// The Linux bridge of the default `bridge` network (also names the daemon's iptables chains).
    #[arg(long, default_value = "berth0")]
    bridge_name: String,
    /// The default `bridge` network's subnet.
    #[arg(long, default_value = "10.88.0.0/16")]
    bridge_subnet: berth_network::Subnet,
    /// The most running containers one bridge takes (each network's, the default one's too); the next start on it
    /// is refused with a message naming the bridge, before its network namespace is made. A Linux bridge holds
    /// 1,023 ports, so more is refused at start.
    #[arg(long, value_name = "N", default_value_t = berth_network::BRIDGE_PORT_LIMIT, value_parser = parse_bridge_limit)]
    max_containers_per_bridge: usize,
    /// A registry mirror for Docker Hub images, tried before Docker Hub (repeatable), e.g. http://10.0.0.5:5000.
    #[arg(long = "registry-mirror", value_name = "URL")]
    registry_mirrors: Vec<String>,
    /// A registry reached over plain HTTP or unverified TLS (repeatable): `host[:port]` or a CIDR range.
    /// Registries on 127.0.0.0/8 are insecure without it, as with dockerd. CA files for a registry go in
    /// `<root>/certs.d/<host[:port]>/*.crt`.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure_registries: Vec<String>,
    /// The most events kept for `docker events --since` (under <root>/events, across restarts); at least half
    /// of them are always there. Hidden: a knob for tests and tight disks, not for everyday use.
    #[arg(long, value_name = "N", default_value_t = 2048, hide = true,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..))]
    max_event_history: usize,
    /// The log driver of containers that name none (json-file, none, syslog, gelf), as dockerd's.
    #[arg(long, value_name = "DRIVER", default_value = "json-file")]
    log_driver: String,
    /// An option of the default log driver, `key=value` (repeatable), e.g. syslog-address=udp://10.0.0.5:514.
    #[arg(long = "log-opt", value_name = "KEY=VALUE", value_parser = parse_log_opt)]
    log_opts: Vec<(String, String)>,
}

fn parse_log_opt(value: &str) -> Result<(String, String), String> {
    value
        .split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{value:?} is not key=value"))
}

/// `1048576`, `512k`, `64m`, `8g` (powers of 1024).
fn parse_size(value: &str) -> Result<u64, String> {
    let lower = value.trim().to_ascii_lowercase();
    let (digits, shift) = if let Some(digits) = lower.strip_suffix('k') {
        (digits, 10)
    } else if let Some(digits) = lower.strip_suffix('m') {
        (digits, 20)
    } else if let Some(digits) = lower.strip_suffix('g') {
        (digits, 30)
    } else {
        (lower.as_str(), 0)
    };
    let number: u64 = digits.trim().parse().map_err(|_| format!("{value:?} is not a size like 512m or 8g"))?;
    number.checked_mul(1 << shift).ok_or_else(|| format!("{value:?} is too large"))
}

/// 1 to the kernel's 1,023 ports per bridge: beyond it a start would fail in the kernel, after its namespace.
fn parse_bridge_limit(value: &str) -> Result<usize, String> {
    let limit = berth_network::BRIDGE_PORT_LIMIT;
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=limit).contains(&n) => Ok(n),
        _ => Err(format!("{value:?} is not a number from 1 to {limit} (a Linux bridge holds {limit} ports)")),
    }
}

/// `scheme://host[:port]` and nothing more, as browsers send it in `Origin`.
fn parse_origin(value: &str) -> Result<String, String> {
    let value = value.trim_end_matches('/');
    let (scheme, rest) = value.split_once("://").ok_or("an origin looks like https://host[:port]")?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err("an origin looks like https://host[:port], without a path".into());
    }
    Ok(value.to_string())
}

fn main() -> anyhow::Result<()> {
    // `berth init` must stay single-threaded and start before anything else: it becomes the container's process.
    if std::env::args().nth(1).as_deref() == Some("init") {
        berth_runtime::init_main();
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let name = &args.bridge_name;
            if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
                anyhow::bail!("--bridge-name must be a valid interface name of at most 15 characters");
            }
            serve(args)
        }
        Command::Compose(args) => {
            let code = compose::run(args)?;
            std::process::exit(code)
        }
        Command::Admin(args) => admin::run(args),
        Command::Route(args) => route::run(args),
    }
}

/// Only root, and the --socket-group if one is given, may connect: the socket is the whole Engine API.
fn restrict_socket(socket: &Path, group: Option<&str>) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(group) = group {
        let gid = nix::unistd::Group::from_name(group)
            .with_context(|| format!("look up group {group}"))?
            .with_context(|| format!("--socket-group {group}: no such group"))?
            .gid;
        nix::unistd::chown(socket, None, Some(gid)).with_context(|| format!("chgrp {group} {}", socket.display()))?;
    }
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod 0660 {}", socket.display()))
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let ServeArgs {
        root,
        socket,
        socket_group,
        http,
        auth,
        insecure_open,
        database,
        session_sweep_interval,
        tls_cert,
        tls_key,
        http_hosts,
        allowed_origins,
        max_upload_size,
        max_unpacked_size,
        web_dir,
        default_pids_limit,
        bridge_name,
        bridge_subnet,
        max_containers_per_bridge,
        registry_mirrors,
        insecure_registries,
        userns_remap,
        userns_private_ranges,
        live_restore,
        max_event_history,
        log_driver,
        log_opts,
    } = args;
    let log_default = berth_engine::log_drivers::DaemonDefault::new(&log_driver, log_opts.into_iter().collect())
        .context("failed to set log opts")?;
    let network = berth_network::NetworkConfig { bridge_name, bridge_subnet, max_containers_per_bridge };
    let limits = berth_engine::Limits {
        max_upload: max_upload_size,
        max_unpacked: max_unpacked_size,
        default_pids: Some(default_pids_limit).filter(|n| *n > 0),
        max_event_history,
    };
    let registry = berth_engine::RegistryConfig {
        mirrors: registry_mirrors,
        insecure: insecure_registries,
        ..berth_engine::RegistryConfig::default()
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let tls = match (&tls_cert, &tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    if auth == AuthMode::None && !http.ip().is_loopback() {
        if !insecure_open {
            anyhow::bail!(
                "--http {http} is not a loopback address and --auth is none: anyone who reaches it would control \
                 this host. Use --auth accounts, or --insecure-open if that is really meant"
            );
        }
        tracing::warn!(
            http = %http,
            "--insecure-open: the Engine API is open to everyone who can reach this address, and so is root on this host"
        );
    }
    berth_runtime::become_subreaper().context("become child subreaper")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start tokio")?;
    runtime.block_on(async move {
        std::fs::create_dir_all(&root).with_context(|| format!("create {}", root.display()))?;
        // Layers, contexts and playground files under it are root's; no other user of the host may walk in.
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("chmod 0700 {}", root.display()))?;
        }
        let userns = match &userns_remap {
            Some(setting) => Some(
                berth_engine::UsernsRemap::resolve(setting, userns_private_ranges)
                    .with_context(|| format!("--userns-remap {setting}"))?,
            ),
            None => None,
        };
        let engine = berth_engine::Engine::open_with(&root, network, limits, registry, userns)
            .await
            .context("open the engine state")?;
        engine.set_live_restore(live_restore);
        engine.set_log_default(log_default);
        // No build outlives the daemon that ran it.
        berth_build::remove_leftovers(&engine);
        if let Some(parent) = socket.parent() {
            std::fs::create_dir_all(parent).ok();
        }
        let _ = std::fs::remove_file(&socket);
        let unix = tokio::net::UnixListener::bind(&socket).with_context(|| format!("bind {}", socket.display()))?;
        restrict_socket(&socket, socket_group.as_deref())?;
        let tcp = tokio::net::TcpListener::bind(http).await.with_context(|| format!("bind {http}"))?;
        // The playground's compose commands run as children in the project's folder: they need an absolute path.
        let socket_path = socket.canonicalize().unwrap_or_else(|_| socket.clone());
        let daemon = berth_api::Daemon::new(engine.clone(), format!("unix://{}", socket_path.display()));
        daemon.restore_routes().await;
        let identity = match auth {
            AuthMode::None => None,
            AuthMode::Accounts => {
                let url = database.unwrap_or_else(|| berth_identity::Identity::sqlite_url(&root));
                let identity = std::sync::Arc::new(
                    berth_identity::Identity::open(&url).await.context("open the accounts database")?,
                );
                berth_api::spawn_reaper(
                    identity.clone(),
                    engine.clone(),
                    std::time::Duration::from_secs(session_sweep_interval),
                );
                Some(identity)
            }
        };
        tracing::info!(socket = %socket.display(), http = %http, root = %root.display(), auth = ?auth, "berth is serving");
        let unix_server = axum::serve(unix, berth_api::service(daemon.clone(), web_dir.clone(), identity.clone()));
        let mut guard = berth_api::HttpGuard::new(http, &http_hosts, &allowed_origins);
        if tls.is_some() {
            guard = guard.over_tls();
        }
        let access = match &identity {
            None => berth_api::HttpAccess::Open,
            Some(identity) => berth_api::HttpAccess::Accounts(std::sync::Arc::new(berth_api::Accounts {
                identity: identity.clone(),
                secure: tls.is_some(),
            })),
        };
        let http_app = berth_api::http_service(daemon, web_dir, guard, access);
        let tcp_server = async move {
            match tls {
                Some(acceptor) => axum::serve(tls::TlsListener::new(tcp, acceptor)?, http_app).await,
                None => axum::serve(tcp, http_app).await,
            }
        };
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            anyhow::Ok(())
        };
        tokio::select! {
            result = unix_server => result.context("unix socket server")?,
            result = tcp_server => result.context("http server")?,
            result = shutdown => { result?; tracing::info!("shutting down"); }
        }
        engine.shutdown().await;
        if let Some(identity) = identity {
            identity.close().await;
        }
        let _ = std::fs::remove_file(&socket);
        anyhow::Ok(())
    })
}
