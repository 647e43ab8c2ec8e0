//! The `berth` binary: `berth serve` runs the daemon; `berth compose` drives a compose project through it; `berth init` (hidden) is the first process of every container.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod compose;

#[derive(Parser)]
#[command(name = "berth", version, about = "A container engine that speaks the Docker Engine API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: the Engine API on a unix socket and over HTTP, plus the web playground.
    Serve {
        /// Where images, containers and volumes are kept.
        #[arg(long, default_value = "/var/lib/berth")]
        root: PathBuf,
        /// The Engine API's unix socket (DOCKER_HOST=unix://PATH).
        #[arg(long, default_value = "/run/berth.sock")]
        socket: PathBuf,
        /// Address for the web app and the same API over HTTP.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// The built web app (default: `<dir of this binary>/../web`).
        #[arg(long)]
        web_dir: Option<PathBuf>,
        /// The Linux bridge of the default `bridge` network (also names the daemon's iptables chains).
        #[arg(long, default_value = "berth0")]
        bridge_name: String,
        /// The default `bridge` network's subnet.
        #[arg(long, default_value = "10.88.0.0/16")]
        bridge_subnet: berth::network::Subnet,
    },
    /// Run a compose project against the daemon (a client of its Engine API, like docker compose).
    Compose(compose::ComposeArgs),
}

fn main() -> anyhow::Result<()> {
    // `berth init` must stay single-threaded and start before anything else: it becomes the container's process.
    if std::env::args().nth(1).as_deref() == Some("init") {
        berth::runtime::init_main();
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { root, socket, http, web_dir, bridge_name, bridge_subnet } => {
            if bridge_name.is_empty() || bridge_name.len() > 15 || bridge_name.contains(['/', ' ']) {
                anyhow::bail!("--bridge-name must be a valid interface name of at most 15 characters");
            }
            let network = berth::network::NetworkConfig { bridge_name, bridge_subnet };
            serve(root, socket, http, web_dir, network)
        }
        Command::Compose(args) => {
            let code = compose::run(args)?;
            std::process::exit(code)
        }
    }
}

fn serve(
    root: PathBuf,
    socket: PathBuf,
    http: SocketAddr,
    web_dir: Option<PathBuf>,
    network: berth::network::NetworkConfig,
) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    berth::runtime::become_subreaper().context("become child subreaper")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start tokio")?;
    runtime.block_on(async move {
        std::fs::create_dir_all(&root).with_context(|| format!("create {}", root.display()))?;
        let engine = berth::engine::Engine::open(&root, network).await.context("open the engine state")?;
        if let Some(parent) = socket.parent() {
            std::fs::create_dir_all(parent).ok();
        }
        let _ = std::fs::remove_file(&socket);
        let unix = tokio::net::UnixListener::bind(&socket).with_context(|| format!("bind {}", socket.display()))?;
        let tcp = tokio::net::TcpListener::bind(http).await.with_context(|| format!("bind {http}"))?;
        // The playground's compose commands run as children in the project's folder: they need an absolute path.
        let socket_path = socket.canonicalize().unwrap_or_else(|_| socket.clone());
        berth::playground::compose::set_daemon_host(format!("unix://{}", socket_path.display()));
        tracing::info!(socket = %socket.display(), http = %http, root = %root.display(), "berth is serving");
        let unix_server = axum::serve(unix, berth::api::service(engine.clone(), web_dir.clone()));
        let tcp_server = axum::serve(tcp, berth::api::service(engine.clone(), web_dir));
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
        let _ = std::fs::remove_file(&socket);
        anyhow::Ok(())
    })
}
