//! `cargo xtask run [-- ARGS]`: everything needed to try Berth on this machine, then the daemon in the foreground.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{Context, Result};

use crate::workspace::Workspace;
use crate::{command, setup, web};

/// `berth serve`'s defaults; kept here only to print where to point a browser and the docker CLI.
const DEFAULT_HTTP: &str = "127.0.0.1:8080";
const DEFAULT_SOCKET: &str = "/run/berth.sock";

pub fn run(workspace: &Workspace, args: &[String]) -> Result<()> {
    // `cargo xtask run -- --http ...` hands xtask a literal "--" before the daemon's arguments.
    let serve_args = match args.split_first() {
        Some((first, rest)) if first == "--" => rest,
        _ => args,
    };

    setup::setup(workspace)?;
    web::web(workspace)?;
    command::run(command::cargo().args(["build", "--release", "-p", "berth"]).current_dir(&workspace.root))?;

    let http = flag_value(serve_args, "--http").unwrap_or(DEFAULT_HTTP);
    let socket = flag_value(serve_args, "--socket").unwrap_or(DEFAULT_SOCKET);
    println!();
    println!("Berth web app: http://{}/", browsable(http));
    println!("For the docker CLI:");
    println!("  export DOCKER_HOST=unix://{socket}");
    println!();

    let berth = workspace.target.join("release/berth");
    let error = Command::new(&berth).arg("serve").args(serve_args).exec();
    Err(error).with_context(|| format!("starting {}", berth.display()))
}

/// The value of `--name VALUE` or `--name=VALUE`; the last one wins, as with clap.
fn flag_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let mut value = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == name {
            value = args.next().map(String::as_str);
        } else if let Some(inline) = arg.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')) {
            value = Some(inline);
        }
    }
    value
}

/// A listen address as a browser can reach it: the wildcard addresses are not addresses to connect to.
fn browsable(listen: &str) -> String {
    if let Some(port) = listen.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = listen.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        listen.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{browsable, flag_value};

    #[test]
    fn reads_both_flag_spellings() {
        let args: Vec<String> =
            ["--root", "/r", "--http=0.0.0.0:9000", "--socket", "/s.sock"].map(String::from).to_vec();
        assert_eq!(flag_value(&args, "--http"), Some("0.0.0.0:9000"));
        assert_eq!(flag_value(&args, "--socket"), Some("/s.sock"));
        assert_eq!(flag_value(&args, "--missing"), None);
    }

    #[test]
    fn wildcard_listen_addresses_become_loopback() {
        assert_eq!(browsable("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(browsable("[::]:8080"), "[::1]:8080");
        assert_eq!(browsable("10.0.0.2:80"), "10.0.0.2:80");
    }
}
