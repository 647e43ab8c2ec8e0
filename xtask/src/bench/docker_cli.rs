//! The one docker CLI that drives both engines, so that the client's own cost is the same on both sides. Each
//! engine gets its own DOCKER_HOST and an empty DOCKER_CONFIG (no contexts, credential helpers or proxies from the
//! machine), and every command has a deadline so a hung daemon cannot hang the bench.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The docker CLI 28 client these machines have; Debian's docker.io brings an older /usr/bin/docker, not used.
const PREFERRED_DOCKER: &str = "/usr/local/bin/docker";

/// Long enough for a cold build; a command that takes longer is stuck.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

pub fn docker_program() -> PathBuf {
    if Path::new(PREFERRED_DOCKER).exists() {
        PathBuf::from(PREFERRED_DOCKER)
    } else {
        PathBuf::from("docker")
    }
}

#[derive(Debug, Clone)]
pub struct DockerCli {
    program: PathBuf,
    /// `unix:///.../docker.sock`.
    host: String,
    config_dir: PathBuf,
}

/// What a docker command did and how long it took, from spawn to exit with both pipes drained.
#[derive(Debug)]
pub struct Finished {
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
}

impl DockerCli {
    /// `config_dir` is created empty if missing.
    pub fn new(socket: &Path, config_dir: PathBuf) -> Result<DockerCli> {
        std::fs::create_dir_all(&config_dir).with_context(|| format!("creating {}", config_dir.display()))?;
        Ok(DockerCli { program: docker_program(), host: format!("unix://{}", socket.display()), config_dir })
    }

    /// The CLI over TCP to `address` (a Berth's HTTP port), with the config (HttpHeaders, say) in `config_dir`.
    pub fn over_tcp(address: &str, config_dir: PathBuf) -> Result<DockerCli> {
        std::fs::create_dir_all(&config_dir).with_context(|| format!("creating {}", config_dir.display()))?;
        Ok(DockerCli { program: docker_program(), host: format!("tcp://{address}"), config_dir })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(args)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", &self.config_dir)
            // The legacy builder on both sides: Berth implements POST /build, and buildx is not installed here.
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_API_VERSION")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `docker ARGS` and times it; a non-zero exit is an error carrying the command's stderr.
    pub fn run(&self, args: &[&str]) -> Result<Finished> {
        let line = format!("docker {}", args.join(" "));
        let (status, finished) = self.run_with_status(args).with_context(|| format!("running `{line}`"))?;
        if !status.success() {
            bail!("`{line}` against {} failed ({status}): {}", self.host, last_lines(&finished.stderr, 3));
        }
        Ok(finished)
    }

    /// stdout of a successful `docker ARGS`, trimmed.
    pub fn output(&self, args: &[&str]) -> Result<String> {
        Ok(self.run(args)?.stdout.trim().to_string())
    }

    /// Like [`run`](Self::run), but a failure is a value: for probes and best-effort cleanup.
    pub fn try_run(&self, args: &[&str]) -> Option<Finished> {
        match self.run_with_status(args) {
            Ok((status, finished)) if status.success() => Some(finished),
            _ => None,
        }
    }

    fn run_with_status(&self, args: &[&str]) -> Result<(std::process::ExitStatus, Finished)> {
        let mut command = self.command(args);
        let started = Instant::now();
        let mut child = command.spawn().with_context(|| format!("starting {}", self.program.display()))?;
        // A watchdog instead of polling: the wait below is a plain blocking wait, so the timing is exact.
        let (done, finished_signal) = mpsc::channel::<()>();
        let pid = child.id();
        let watchdog = thread::spawn(move || {
            if finished_signal.recv_timeout(COMMAND_TIMEOUT) == Err(mpsc::RecvTimeoutError::Timeout) {
                super::procfs::send_signal(pid, libc::SIGKILL);
            }
        });
        // Read both pipes while the command runs, or a chatty one blocks on a full pipe.
        let mut stderr_pipe = child.stderr.take().context("stderr is piped")?;
        let stderr_reader = thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut bytes);
            bytes
        });
        let mut stdout = Vec::new();
        child.stdout.take().context("stdout is piped")?.read_to_end(&mut stdout)?;
        let status = child.wait()?;
        let stderr = stderr_reader.join().unwrap_or_default();
        let elapsed = started.elapsed();
        let _ = done.send(());
        let _ = watchdog.join();
        if elapsed >= COMMAND_TIMEOUT {
            bail!("docker {} did not finish within {COMMAND_TIMEOUT:?}", args.join(" "));
        }
        let finished = Finished {
            elapsed,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        Ok((status, finished))
    }

    /// Removes every container, running or not: the state each figure starts from.
    pub fn remove_all_containers(&self) -> Result<()> {
        let ids = self.output(&["ps", "-aq"])?;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(&ids);
            self.run(&args)?;
        }
        Ok(())
    }
}

/// The end of a command's output, on one line, for an error message or a report note.
pub fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::last_lines;

    #[test]
    fn last_lines_skips_blank_lines_and_joins() {
        assert_eq!(last_lines("a\n\nb\nc\n\n", 2), "b | c");
        assert_eq!(last_lines("only", 3), "only");
        assert_eq!(last_lines("", 3), "");
    }
}
