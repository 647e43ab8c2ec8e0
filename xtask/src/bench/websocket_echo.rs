//! Keystroke echo over a websocket terminal: one key typed into a tty container until the terminal's echo of it
//! comes back (websocket -> daemon -> pty -> line discipline echo -> daemon -> websocket). The container runs
//! `cat`, which keeps the pty open and prints nothing itself, since no newline is ever sent.
//!
//! Two websockets reach a container's terminal:
//! - the playground's terminal, Berth's own `GET /berth/terminals/ws?container=..&mode=tty`
//!   (berth_shared::api::terminal: keys go up as `{"type":"input"}` text frames, output comes down as binary
//!   frames): the figure's Berth value;
//! - the Engine API's `GET /containers/{id}/attach/ws` (raw bytes both ways), which dockerd has too: dockerd's
//!   value, and Berth's beside it as `berth_attach_ws_*`.
//!
//! Both are probed at run time: an engine that answers the upgrade with an error gets null and the answer as a
//! note, and is measured without a change here once the endpoint lands.

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tungstenite::{Message, WebSocket};

use super::daemons::Daemon;
use super::report::{rounded, Report, Side};
use super::stats::{millis, summarize, Summary};
use super::Bench;

const ECHO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// `/containers/{id}/attach/ws`, unversioned so that each engine answers at its own API version.
    EngineAttach,
    /// `/berth/terminals/ws`, the playground's terminal.
    PlaygroundTerminal,
}

impl Endpoint {
    fn path(self, container: &str) -> String {
        match self {
            Endpoint::EngineAttach => format!("/containers/{container}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1"),
            Endpoint::PlaygroundTerminal => format!("/berth/terminals/ws?container={container}&mode=tty"),
        }
    }

    /// The path without the container, for notes.
    fn name(self) -> &'static str {
        match self {
            Endpoint::EngineAttach => "GET /containers/{id}/attach/ws",
            Endpoint::PlaygroundTerminal => "GET /berth/terminals/ws",
        }
    }

    fn keystroke(self, key: u8) -> Message {
        match self {
            Endpoint::EngineAttach => Message::binary(vec![key]),
            Endpoint::PlaygroundTerminal => {
                let input = serde_json::json!({ "type": "input", "data": char::from(key).to_string() });
                Message::text(input.to_string())
            }
        }
    }
}

pub fn measure(bench: &Bench, report: &mut Report) {
    let repeats = bench.plan.ws_echo;
    let berth_terminal = echo_samples(bench.berth, Endpoint::PlaygroundTerminal, repeats.warmup, repeats.runs);
    let berth_attach = echo_samples(bench.berth, Endpoint::EngineAttach, repeats.warmup, repeats.runs);
    let dockerd_attach =
        bench.dockerd.map(|dockerd| echo_samples(dockerd, Endpoint::EngineAttach, repeats.warmup, repeats.runs));

    let figure = report.figure("ws_echo_p99_ms");
    figure.note(
        "berth: the playground terminal (/berth/terminals/ws); dockerd: the Engine API's /containers/{id}/attach/ws, \
         also measured on Berth as berth_attach_ws_*",
    );
    match berth_terminal {
        Ok(summary) => {
            figure.set(Side::Berth, summary.p99);
            figure.add_extra("berth_p50", rounded(summary.median));
            figure.add_extra("berth_runs", summary.runs);
        }
        Err(error) => figure.note(format!("berth: {error:#}")),
    }
    match berth_attach {
        Ok(summary) => {
            figure.add_extra("berth_attach_ws_p99", rounded(summary.p99));
            figure.add_extra("berth_attach_ws_p50", rounded(summary.median));
        }
        Err(error) => figure.note(format!("berth attach/ws: {error:#}")),
    }
    match dockerd_attach {
        Some(Ok(summary)) => {
            figure.set(Side::Dockerd, summary.p99);
            figure.add_extra("dockerd_p50", rounded(summary.median));
            figure.add_extra("dockerd_runs", summary.runs);
        }
        Some(Err(error)) => figure.note(format!("dockerd: {error:#}")),
        None => {}
    }
}

/// Milliseconds per keystroke on a fresh `cat` container, which is removed afterwards.
fn echo_samples(daemon: &Daemon, endpoint: Endpoint, warmup: usize, runs: usize) -> Result<Summary> {
    let id = daemon.docker.output(&["run", "--detach", "--interactive", "--tty", "busybox", "cat"])?;
    let samples = connect(daemon, endpoint, &id).and_then(|mut socket| {
        let mut samples = Vec::with_capacity(runs);
        for keystroke in 0..warmup + runs.max(1) {
            let key = b'a' + (keystroke % 26) as u8;
            let round_trip = echo_once(&mut socket, endpoint, key)?;
            if keystroke >= warmup {
                samples.push(millis(round_trip));
            }
        }
        let _ = socket.close(None);
        Ok(samples)
    });
    let _ = daemon.docker.run(&["rm", "--force", &id]);
    Ok(summarize(&samples?).expect("at least one run"))
}

fn connect(daemon: &Daemon, endpoint: Endpoint, container: &str) -> Result<WebSocket<UnixStream>> {
    let stream = UnixStream::connect(&daemon.socket)?;
    stream.set_read_timeout(Some(ECHO_TIMEOUT))?;
    stream.set_write_timeout(Some(ECHO_TIMEOUT))?;
    let url = format!("ws://localhost{}", endpoint.path(container));
    match tungstenite::client::client(url.as_str(), stream) {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            bail!("{} answered {} instead of upgrading to a websocket", endpoint.name(), response.status())
        }
        Err(error) => Err(anyhow::anyhow!("{} handshake: {error}", endpoint.name())),
    }
}

/// Sends one key and waits until terminal output carrying it comes back. Control messages (the playground's
/// hello and replay markers) are text frames and are skipped; so is attach/ws text from an engine that sends
/// output as text.
fn echo_once(socket: &mut WebSocket<UnixStream>, endpoint: Endpoint, key: u8) -> Result<Duration> {
    let sent = Instant::now();
    socket.send(endpoint.keystroke(key)).context("sending a keystroke")?;
    loop {
        let output = match socket.read().context("waiting for the echo")? {
            Message::Binary(bytes) => bytes.to_vec(),
            Message::Text(text) if endpoint == Endpoint::EngineAttach => text.as_bytes().to_vec(),
            Message::Close(frame) => bail!("the engine closed the websocket: {frame:?}"),
            _ => continue,
        };
        if output.contains(&key) {
            return Ok(sent.elapsed());
        }
    }
}
