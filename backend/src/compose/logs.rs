//! `compose logs`: every container's log, line by line, behind a `service_1  | ` prefix (coloured on a terminal),
//! interleaved as the lines arrive.

use std::io::{IsTerminal, Write};

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use clap::Args;
use futures_util::StreamExt;

use super::client::{ProjectContainer, Session};

/// The ANSI colours compose cycles through for its prefixes.
const PREFIX_COLOURS: [u8; 6] = [36, 33, 32, 35, 34, 31];

#[derive(Args)]
pub struct LogsArgs {
    /// Follow the output.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Plain prefixes.
    #[arg(long)]
    no_color: bool,
    /// Lines from the end of each log (default: all).
    #[arg(long, default_value = "all")]
    tail: String,
    services: Vec<String>,
}

pub async fn logs(session: &Session, args: LogsArgs) -> anyhow::Result<()> {
    session.check_services(&args.services)?;
    let containers = session.containers(&args.services, false).await?;
    let colour = !args.no_color && std::io::stdout().is_terminal();
    print_logs(session, containers, args.follow, &args.tail, colour).await
}

/// Follows the logs of `services` (all when empty) until every container's output ends: `up` without -d.
pub async fn follow(session: &Session, services: &[String]) -> anyhow::Result<()> {
    let containers = session.containers(services, false).await?;
    let colour = std::io::stdout().is_terminal();
    print_logs(session, containers, true, "all", colour).await
}

async fn print_logs(
    session: &Session,
    containers: Vec<ProjectContainer>,
    follow: bool,
    tail: &str,
    colour: bool,
) -> anyhow::Result<()> {
    let width = containers.iter().map(|container| container.short_name().len()).max().unwrap_or(0);
    let mut readers = Vec::new();
    for (index, container) in containers.into_iter().enumerate() {
        let padded = format!("{:width$} | ", container.short_name());
        let prefix = if colour {
            format!("\x1b[{}m{padded}\x1b[0m", PREFIX_COLOURS[index % PREFIX_COLOURS.len()])
        } else {
            padded
        };
        let options = LogsOptions { follow, stdout: true, stderr: true, tail: tail.to_string(), ..Default::default() };
        let mut stream = session.docker.logs(&container.id, Some(options));
        readers.push(async move {
            let mut pending = Vec::new();
            while let Some(chunk) = stream.next().await {
                let bytes = match chunk {
                    Ok(
                        LogOutput::StdOut { message } | LogOutput::StdErr { message } | LogOutput::Console { message },
                    ) => message,
                    Ok(LogOutput::StdIn { .. }) => continue,
                    Err(error) => {
                        eprintln!("{}: {error}", container.name);
                        break;
                    }
                };
                pending.extend_from_slice(&bytes);
                while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    print_line(&prefix, &line);
                }
            }
            if !pending.is_empty() {
                pending.push(b'\n');
                print_line(&prefix, &pending);
            }
        });
    }
    futures_util::future::join_all(readers).await;
    Ok(())
}

/// One whole line under the stdout lock, so lines of different containers never mix.
fn print_line(prefix: &str, line: &[u8]) {
    let stdout = std::io::stdout();
    let mut locked = stdout.lock();
    let _ = locked.write_all(prefix.as_bytes());
    let _ = locked.write_all(line);
    let _ = locked.flush();
}
