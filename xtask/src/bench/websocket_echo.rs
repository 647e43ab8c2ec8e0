//! Keystroke echo over a websocket terminal: one byte sent to a tty container's stdin through the Engine API's
//! `GET /containers/{id}/attach/ws`, until the terminal's echo of it comes back. That is the path a browser
//! terminal takes (websocket -> daemon -> pty -> line discipline echo -> daemon -> websocket); `cat` keeps the pty
//! open and prints nothing itself, since no newline is ever sent.
//!
//! The check is made at run time: an engine that answers the upgrade with an error (Berth before its websocket
//! endpoint lands) gets null and the answer as a note.

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tungstenite::{Message, WebSocket};

use super::daemons::Daemon;
use super::report::Report;
use super::stats::{millis, summarize};
use super::Bench;

/// Unversioned, so each engine answers at its own API version.
const ATTACH_WS: &str = "/containers/{id}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1";
const ECHO_TIMEOUT: Duration = Duration::from_secs(5);

pub fn measure(bench: &Bench, report: &mut Report) {
    for daemon in bench.daemons() {
        let side = daemon.side;
        match echo_samples(daemon, bench.plan.ws_echo.warmup, bench.plan.ws_echo.runs) {
            Ok(samples) => {
                let summary = summarize(&samples).expect("runs > 0");
                let figure = report.figure("ws_echo_p99_ms");
                figure.set(side, summary.p99);
                figure.add_extra(format!("{}_p50", side.key()), super::report::rounded(summary.median));
                figure.add_extra(format!("{}_runs", side.key()), summary.runs);
            }
            Err(error) => report.figure("ws_echo_p99_ms").note(format!("{}: {error:#}", side.key())),
        }
    }
}

fn echo_samples(daemon: &Daemon, warmup: usize, runs: usize) -> Result<Vec<f64>> {
    let id = daemon.docker.output(&["run", "--detach", "--interactive", "--tty", "busybox", "cat"])?;
    let samples = connect(daemon, &id).and_then(|mut socket| {
        let mut samples = Vec::with_capacity(runs);
        for keystroke in 0..warmup + runs.max(1) {
            let key = b'a' + (keystroke % 26) as u8;
            let round_trip = echo_once(&mut socket, key)?;
            if keystroke >= warmup {
                samples.push(millis(round_trip));
            }
        }
        let _ = socket.close(None);
        Ok(samples)
    });
    let _ = daemon.docker.run(&["rm", "--force", &id]);
    samples
}

fn connect(daemon: &Daemon, id: &str) -> Result<WebSocket<UnixStream>> {
    let stream = UnixStream::connect(&daemon.socket)?;
    stream.set_read_timeout(Some(ECHO_TIMEOUT))?;
    stream.set_write_timeout(Some(ECHO_TIMEOUT))?;
    let url = format!("ws://localhost{}", ATTACH_WS.replace("{id}", id));
    match tungstenite::client::client(url.as_str(), stream) {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            let path = ATTACH_WS.split('?').next().unwrap_or(ATTACH_WS);
            bail!("GET {path} answered {} instead of upgrading to a websocket", response.status())
        }
        Err(error) => Err(anyhow::anyhow!("websocket handshake: {error}")),
    }
}

/// Sends one key and waits until a frame carrying it comes back.
fn echo_once(socket: &mut WebSocket<UnixStream>, key: u8) -> Result<Duration> {
    let sent = Instant::now();
    socket.send(Message::binary(vec![key])).context("sending a keystroke")?;
    loop {
        let payload = match socket.read().context("waiting for the echo")? {
            Message::Binary(bytes) => bytes.to_vec(),
            Message::Text(text) => text.as_bytes().to_vec(),
            Message::Close(frame) => bail!("the engine closed the websocket: {frame:?}"),
            _ => continue,
        };
        if payload.contains(&key) {
            return Ok(sent.elapsed());
        }
    }
}
