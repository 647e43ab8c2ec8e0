//! exec (a command in a running container of a service) and run (a one-off container of a service).

use std::io::{IsTerminal, Write};

use anyhow::Context;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{AttachContainerOptions, RemoveContainerOptions, WaitContainerOptions};
use clap::Args;
use futures_util::StreamExt;

use super::client::Session;

#[derive(Args)]
pub struct ExecArgs {
    /// No pseudo-terminal (and no standard input).
    #[arg(short = 'T')]
    no_tty: bool,
    #[arg(short = 'u', long)]
    user: Option<String>,
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Which container of the service (1-based).
    #[arg(long, default_value_t = 1)]
    index: u32,
    service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

#[derive(Args)]
pub struct RunArgs {
    /// Remove the container when the command exits.
    #[arg(long)]
    rm: bool,
    /// No pseudo-terminal (accepted; output is never a terminal).
    #[arg(short = 'T')]
    no_tty: bool,
    /// Do not start the services this one depends on.
    #[arg(long)]
    no_deps: bool,
    service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub async fn exec(session: &Session, args: ExecArgs) -> anyhow::Result<i32> {
    session.check_services(std::slice::from_ref(&args.service))?;
    let containers = session.containers(std::slice::from_ref(&args.service), false).await?;
    let container = containers
        .iter()
        .find(|container| container.number == args.index && container.running)
        .with_context(|| format!("service {:?} is not running container #{}", args.service, args.index))?;
    let tty = !args.no_tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let options = CreateExecOptions {
        attach_stdin: Some(!args.no_tty),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(tty),
        env: (!args.env.is_empty()).then(|| args.env.clone()),
        cmd: Some(args.command.clone()),
        user: args.user.clone(),
        working_dir: args.workdir.clone(),
        ..Default::default()
    };
    let created = session.docker.create_exec(&container.id, options).await.context("create the exec")?;
    let started = session
        .docker
        .start_exec(&created.id, Some(StartExecOptions { detach: false, tty, output_capacity: None }))
        .await
        .context("start the exec")?;
    if let StartExecResults::Attached { mut output, mut input } = started {
        if !args.no_tty {
            tokio::spawn(async move {
                let mut stdin = tokio::io::stdin();
                let _ = tokio::io::copy(&mut stdin, &mut input).await;
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut input).await;
            });
        }
        while let Some(chunk) = output.next().await {
            write_output(chunk.context("read the exec's output")?);
        }
    }
    let inspected = session.docker.inspect_exec(&created.id).await.context("inspect the exec")?;
    Ok(inspected.exit_code.and_then(|code| i32::try_from(code).ok()).unwrap_or(0))
}

pub async fn run(session: &Session, args: RunArgs) -> anyhow::Result<i32> {
    session.check_services(std::slice::from_ref(&args.service))?;
    let _ = args.no_tty;
    super::up::ensure_networks(session).await?;
    super::up::ensure_volumes(session).await?;
    if !args.no_deps {
        let dependencies: Vec<String> =
            session.project.dependencies(&args.service).into_iter().map(str::to_string).collect();
        for dependency in session.containers(&dependencies, false).await? {
            if !dependency.running {
                session.docker.start_container(&dependency.id, None).await?;
            }
        }
    }
    super::build::build_services(session, std::slice::from_ref(&args.service), false).await?;
    let number = session.containers(std::slice::from_ref(&args.service), true).await?.len() as u32 + 1;
    let command = (!args.command.is_empty()).then(|| args.command.clone());
    let id = super::up::create_container(session, &args.service, number, command, true).await?;
    let attach = AttachContainerOptions { stream: true, stdout: true, stderr: true, ..Default::default() };
    let attached = session.docker.attach_container(&id, Some(attach)).await.context("attach to the container")?;
    session.docker.start_container(&id, None).await.context("start the container")?;
    let mut output = attached.output;
    while let Some(chunk) = output.next().await {
        write_output(chunk.context("read the container's output")?);
    }
    let mut waits = session.docker.wait_container(&id, None::<WaitContainerOptions>);
    let code = match waits.next().await {
        Some(Ok(response)) => response.status_code,
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(error)) => return Err(error).context("wait for the container"),
        None => 0,
    };
    if args.rm {
        let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        session.docker.remove_container(&id, Some(options)).await.context("remove the container")?;
    }
    Ok(i32::try_from(code).unwrap_or(1))
}

fn write_output(chunk: LogOutput) {
    match chunk {
        LogOutput::StdErr { message } => {
            let _ = std::io::stderr().write_all(&message);
        }
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(&message);
            let _ = stdout.flush();
        }
        LogOutput::StdIn { .. } => {}
    }
}
