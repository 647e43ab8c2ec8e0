//! ps (the project's containers), top (their processes) and port (where a container port is published).

use anyhow::Context;
use clap::Args;

use super::client::Session;

#[derive(Args)]
pub struct PsArgs {
    /// Only the container ids.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Service names only.
    #[arg(long)]
    services_only: bool,
    services: Vec<String>,
}

#[derive(Args)]
pub struct PortArgs {
    service: String,
    private_port: u16,
    #[arg(long, default_value = "tcp")]
    protocol: String,
    /// Which container of the service (1-based).
    #[arg(long, default_value_t = 1)]
    index: u32,
}

pub async fn ps(session: &Session, args: PsArgs) -> anyhow::Result<()> {
    session.check_services(&args.services)?;
    let containers = session.containers(&args.services, false).await?;
    if args.quiet {
        containers.iter().for_each(|container| println!("{}", container.id));
        return Ok(());
    }
    if args.services_only {
        let mut services: Vec<&str> = containers.iter().map(|container| container.service.as_str()).collect();
        services.dedup();
        services.iter().for_each(|service| println!("{service}"));
        return Ok(());
    }
    let rows: Vec<[String; 5]> = containers
        .iter()
        .map(|container| {
            let summary = &container.summary;
            let ports = summary
                .ports
                .iter()
                .flatten()
                .map(|port| {
                    let protocol = port.typ.map(|typ| typ.to_string()).unwrap_or_else(|| "tcp".to_string());
                    match port.public_port {
                        Some(public) => format!(
                            "{}:{public}->{}/{protocol}",
                            port.ip.as_deref().unwrap_or("0.0.0.0"),
                            port.private_port
                        ),
                        None => format!("{}/{protocol}", port.private_port),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            [
                container.name.clone(),
                summary.command.clone().unwrap_or_default(),
                container.service.clone(),
                summary.status.clone().unwrap_or_default(),
                ports,
            ]
        })
        .collect();
    let headers = ["NAME", "COMMAND", "SERVICE", "STATUS", "PORTS"];
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let print_row = |cells: [&str; 5]| {
        let line: Vec<String> =
            cells.iter().zip(widths).map(|(cell, width)| format!("{cell:width$}")).collect::<Vec<_>>();
        println!("{}", line.join("   ").trim_end());
    };
    print_row(headers);
    for row in &rows {
        print_row([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    Ok(())
}

pub async fn top(session: &Session, services: &[String]) -> anyhow::Result<()> {
    session.check_services(services)?;
    for container in session.containers(services, false).await?.into_iter().filter(|container| container.running) {
        let processes = session
            .docker
            .top_processes(&container.id, None)
            .await
            .with_context(|| format!("top {}", container.name))?;
        println!("{}", container.name);
        println!("{}", processes.titles.unwrap_or_default().join("\t"));
        for process in processes.processes.unwrap_or_default() {
            println!("{}", process.join("\t"));
        }
        println!();
    }
    Ok(())
}

pub async fn port(session: &Session, args: PortArgs) -> anyhow::Result<()> {
    session.check_services(std::slice::from_ref(&args.service))?;
    let containers = session.containers(std::slice::from_ref(&args.service), false).await?;
    let container = containers
        .iter()
        .find(|container| container.number == args.index)
        .with_context(|| format!("no container {} of service {}", args.index, args.service))?;
    let inspected = session.docker.inspect_container(&container.id, None).await?;
    let key = format!("{}/{}", args.private_port, args.protocol);
    let binding = inspected
        .network_settings
        .and_then(|settings| settings.ports)
        .and_then(|ports| ports.get(&key).cloned().flatten())
        .and_then(|bindings| bindings.into_iter().next());
    match binding {
        Some(binding) => println!(
            "{}:{}",
            binding.host_ip.unwrap_or_else(|| "0.0.0.0".to_string()),
            binding.host_port.unwrap_or_default()
        ),
        None => println!(),
    }
    Ok(())
}
