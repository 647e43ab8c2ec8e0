//! `berth compose`: the compose CLI. A client of the daemon's Engine API (through `bollard`), like docker compose:
//! it reads the compose files from disk, resolves them with `berth_shared::compose::load`, and turns the project
//! into networks, volumes, images and containers labelled as docker-compose 1.29 labels them, so either tool can
//! pick up what the other made.
//!
//! - `project`: the files, `.env` and environment in, a resolved project (or positioned diagnostics) out.
//! - `client`: the connection, compose's labels and names, the project's containers.
//! - `up`: networks, volumes, builds, containers in startup order, `depends_on` conditions, recreation by hash.
//! - `build`: the build context as a tar (honouring `.dockerignore`) sent to `POST /build`.
//! - `lifecycle`: start, stop, restart, kill, rm and down.
//! - `ps`: ps, top and port.
//! - `logs`: every container's log, interleaved with a coloured `service_1 | ` prefix.
//! - `exec`: exec and run.
//! - `progress`: per-service progress for people (stderr) or as JSON lines (`--progress json`, for the playground).

mod build;
mod client;
mod exec;
mod lifecycle;
mod logs;
mod progress;
mod project;
mod ps;
mod pull;
mod routes;
mod up;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

pub use client::Session;

#[derive(Args)]
pub struct ComposeArgs {
    /// Compose files, later ones overriding earlier ones (default: compose.yaml, docker-compose.yml, ... in the
    /// current directory, or COMPOSE_FILE).
    #[arg(short = 'f', long = "file")]
    files: Vec<PathBuf>,
    /// The project name (default: COMPOSE_PROJECT_NAME, the files' `name:`, or the project directory's name).
    #[arg(short = 'p', long = "project-name")]
    project_name: Option<String>,
    /// The daemon (default: DOCKER_HOST, or unix:///run/berth.sock).
    #[arg(long, short = 'H')]
    host: Option<String>,
    /// Profiles to enable.
    #[arg(long = "profile")]
    profiles: Vec<String>,
    /// How to report progress per service: `text` for people, `json` for one event per line on stdout.
    #[arg(long, value_enum, default_value_t)]
    progress: progress::ProgressMode,
    #[command(subcommand)]
    command: ComposeCommand,
}

#[derive(Subcommand)]
enum ComposeCommand {
    /// Create and start the project's containers.
    Up(up::UpArgs),
    /// Stop and remove the project's containers and networks (and, with -v, its volumes).
    Down(lifecycle::DownArgs),
    /// List the project's containers.
    Ps(ps::PsArgs),
    /// Show the containers' output.
    Logs(logs::LogsArgs),
    /// Start existing containers.
    Start(lifecycle::ServicesArgs),
    /// Stop running containers.
    Stop(lifecycle::StopArgs),
    /// Restart containers.
    Restart(lifecycle::StopArgs),
    /// Send a signal to running containers.
    Kill(lifecycle::KillArgs),
    /// Remove stopped containers.
    Rm(lifecycle::RmArgs),
    /// Run a command in a running container.
    Exec(exec::ExecArgs),
    /// Run a one-off command in a new container of a service.
    Run(exec::RunArgs),
    /// Build the images of services that have `build:`.
    Build(lifecycle::ServicesArgs),
    /// Pull the images of services without `build:`.
    Pull(lifecycle::ServicesArgs),
    /// Print the resolved project as YAML.
    Config,
    /// Show the processes of the project's containers.
    Top(lifecycle::ServicesArgs),
    /// Print the host address a container port is published on.
    Port(ps::PortArgs),
}

/// Runs one compose command; returns the process exit code.
pub fn run(args: ComposeArgs) -> anyhow::Result<i32> {
    let loaded = project::load_project(&args.files, args.project_name.as_deref(), &args.profiles)?;
    if let ComposeCommand::Config = args.command {
        print!("{}", berth_shared::compose::to_yaml(&loaded.project));
        return Ok(0);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start tokio")?;
    runtime.block_on(async move {
        let mut session = Session::connect(args.host.as_deref(), loaded)?;
        session.progress = args.progress;
        match args.command {
            ComposeCommand::Up(up_args) => up::up(&session, up_args).await.map(|()| 0),
            ComposeCommand::Down(down_args) => lifecycle::down(&session, down_args).await.map(|()| 0),
            ComposeCommand::Ps(ps_args) => ps::ps(&session, ps_args).await.map(|()| 0),
            ComposeCommand::Logs(logs_args) => logs::logs(&session, logs_args).await.map(|()| 0),
            ComposeCommand::Start(services) => lifecycle::start(&session, &services.services).await.map(|()| 0),
            ComposeCommand::Stop(stop_args) => lifecycle::stop(&session, stop_args).await.map(|()| 0),
            ComposeCommand::Restart(stop_args) => lifecycle::restart(&session, stop_args).await.map(|()| 0),
            ComposeCommand::Kill(kill_args) => lifecycle::kill(&session, kill_args).await.map(|()| 0),
            ComposeCommand::Rm(rm_args) => lifecycle::rm(&session, rm_args).await.map(|()| 0),
            ComposeCommand::Exec(exec_args) => exec::exec(&session, exec_args).await,
            ComposeCommand::Run(run_args) => exec::run(&session, run_args).await,
            ComposeCommand::Build(services) => {
                build::build_services(&session, &services.services, true).await.map(|()| 0)
            }
            ComposeCommand::Top(services) => ps::top(&session, &services.services).await.map(|()| 0),
            ComposeCommand::Port(port_args) => ps::port(&session, port_args).await.map(|()| 0),
            ComposeCommand::Pull(services) => {
                pull::pull_services(&session, &services.services, false).await.map(|()| 0)
            }
            ComposeCommand::Config => Ok(0),
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::ComposeArgs;

    #[derive(Parser)]
    struct ComposeOnly {
        #[command(flatten)]
        compose: ComposeArgs,
    }

    /// clap checks flag clashes (say, a global -f against `logs -f`) only when a command is parsed: check them all.
    #[test]
    fn every_subcommand_has_consistent_flags() {
        ComposeOnly::command().debug_assert();
    }
}
