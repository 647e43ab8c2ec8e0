//! `POST /containers/{id}/attach` and `POST /exec/{id}/start`: the hijacked, bidirectional streams.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use bollard_stubs::models::ExecStartConfig;
use bytes::Bytes;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::activity::Activity;
use super::body::{parse_json, require_json};
use super::detach_keys::{parse as parse_detach_keys, Detector, Input};
use super::error::{ApiError, ApiResult};
use super::flag;
use super::streams::{channel_body, frame, hijack, wants_upgrade, AsyncReadWrite, MULTIPLEXED, RAW};
use berth_engine::logs::LogsOptions;
use berth_engine::{Engine, Output, Status, StdinMessage, StreamKind};

#[derive(Deserialize)]
pub struct AttachQuery {
    stream: Option<String>,
    stdin: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    logs: Option<String>,
    #[serde(rename = "detachKeys")]
    detach_keys: Option<String>,
}

/// Where a client's input goes, and what ends it.
struct StdinForward {
    stdin: mpsc::Sender<StdinMessage>,
    /// Close the process's stdin at the client's EOF. As dockerd, never on a tty: a client that detached or went
    /// away leaves the process running.
    close_at_eof: bool,
    /// On a tty, the detach keys' watch; `detached` is told when they are typed.
    detector: Option<Detector>,
    detached: Option<oneshot::Sender<()>>,
}

/// Reads the client's side into stdin messages until EOF or the detach keys.
async fn forward_stdin(
    mut reader: tokio::io::ReadHalf<Box<dyn AsyncReadWrite>>,
    mut forward: StdinForward,
    activity: Activity,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                activity.note();
                let (data, detach) = match forward.detector.as_mut().map(|d| d.feed(&buffer[..n])) {
                    None => (buffer[..n].to_vec(), false),
                    Some(Input::Forward(data)) => (data, false),
                    Some(Input::Detach(data)) => (data, true),
                };
                if !data.is_empty() && forward.stdin.send(StdinMessage::Data(Bytes::from(data))).await.is_err() {
                    return;
                }
                if detach {
                    if let Some(detached) = forward.detached.take() {
                        let _ = detached.send(());
                    }
                    return;
                }
            }
        }
    }
    if forward.close_at_eof {
        let _ = forward.stdin.send(StdinMessage::Close).await;
    }
}

/// The detach keys a request names (or the default), in dockerd's 400 when they cannot be parsed; `what` is
/// "detach" for attach and "escape" for exec, as dockerd words each.
pub(crate) fn detach_keys(keys: Option<&str>, what: &str) -> ApiResult<Vec<u8>> {
    let keys = keys.unwrap_or("");
    parse_detach_keys(keys).map_err(|_| ApiError::bad_request(format!("Invalid {what} keys ({keys}) provided")))
}

/// A stdin forward with its detach channel: the receiver ends the output side when the keys are typed.
fn stdin_forward(
    stdin: mpsc::Sender<StdinMessage>,
    tty: bool,
    close_at_eof: bool,
    keys: Vec<u8>,
) -> (StdinForward, Option<oneshot::Receiver<()>>) {
    if !tty {
        return (StdinForward { stdin, close_at_eof, detector: None, detached: None }, None);
    }
    let (sender, receiver) = oneshot::channel();
    let forward =
        StdinForward { stdin, close_at_eof: false, detector: Some(Detector::new(keys)), detached: Some(sender) };
    (forward, Some(receiver))
}

/// The output streams a client asked for.
#[derive(Clone, Copy)]
struct Wanted {
    stdout: bool,
    stderr: bool,
}

impl Wanted {
    fn contains(self, stream: StreamKind) -> bool {
        match stream {
            StreamKind::Stdout => self.stdout,
            StreamKind::Stderr => self.stderr,
            StreamKind::Stdin => false,
        }
    }
}

/// The next chunk of a wanted stream of a container's live output; None once the output ends.
async fn next_wanted(output: &mut broadcast::Receiver<Output>, wanted: Wanted) -> Option<(StreamKind, Bytes)> {
    loop {
        match output.recv().await {
            Ok(Output::Chunk(stream, data)) if wanted.contains(stream) => return Some((stream, data)),
            Ok(Output::Chunk(..)) => {}
            Ok(Output::End) | Err(broadcast::error::RecvError::Closed) => return None,
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::warn!(skipped, "attach client too slow; output dropped");
            }
        }
    }
}

/// Writes framed output to a hijacked connection until it ends, the client goes or detaches, then closes the
/// connection and stops forwarding the client's input.
async fn write_frames(
    mut frames: mpsc::Receiver<Bytes>,
    mut writer: tokio::io::WriteHalf<Box<dyn AsyncReadWrite>>,
    stdin_task: Option<tokio::task::JoinHandle<()>>,
    detached: Option<oneshot::Receiver<()>>,
) {
    let detached = async move {
        match detached {
            // A forward that ended without detaching (EOF) drops the sender: keep writing output then.
            Some(receiver) => {
                if receiver.await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(detached);
    loop {
        let chunk = tokio::select! {
            chunk = frames.recv() => chunk,
            () = &mut detached => None,
        };
        let Some(chunk) = chunk else { break };
        if writer.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = writer.flush().await;
    let _ = writer.shutdown().await;
    if let Some(task) = stdin_task {
        task.abort();
    }
}

pub async fn attach(
    State(engine): State<Arc<Engine>>,
    activity: Activity,
    Path(id): Path<String>,
    Query(query): Query<AttachQuery>,
    mut request: Request,
) -> ApiResult<Response> {
    let container = engine.container(&id)?;
    let record = container.snapshot();
    // As dockerd: a stopped container may be attached to, and the stream carries its next run (`docker start
    // -ai` attaches first, then starts); "You cannot attach to a stopped container" is the docker CLI's own check.
    match record.state.status {
        Status::Paused => {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                format!("container {id} is paused, unpause the container before attach"),
            ))
        }
        Status::Restarting => {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                format!("container {id} is restarting, wait until the container is running"),
            ))
        }
        _ => {}
    }
    let tty = record.config.tty.unwrap_or(false);
    let wanted = Wanted { stdout: flag(&query.stdout), stderr: flag(&query.stderr) };
    let want_stream = query.stream.is_none() || flag(&query.stream);
    // Subscribe before answering: the CLI attaches, then starts; nothing between may be lost.
    let mut output = container.output.subscribe();
    engine.note_attach(&container);
    let history = if flag(&query.logs) {
        let options = LogsOptions { stdout: wanted.stdout, stderr: wanted.stderr, ..Default::default() };
        Some(berth_engine::logs::stream_logs(container.clone(), options))
    } else {
        None
    };
    let stdin = (flag(&query.stdin) && record.config.open_stdin.unwrap_or(false)).then(|| container.stdin_tx.clone());
    let stdin_once = record.config.stdin_once.unwrap_or(false);
    let keys = detach_keys(query.detach_keys.as_deref(), "detach")?;

    let (tx, rx) = mpsc::channel::<Bytes>(256);
    tokio::spawn(async move {
        if let Some(mut history) = history {
            while let Some(entry) = history.recv().await {
                if tx.send(frame(tty, entry.stream, &entry.line)).await.is_err() {
                    return;
                }
            }
        }
        if !want_stream {
            return;
        }
        while let Some((stream, data)) = next_wanted(&mut output, wanted).await {
            if tx.send(frame(tty, stream, &data)).await.is_err() {
                return;
            }
        }
    });

    if !wants_upgrade(&request) {
        return Ok(super::streams::streaming(if tty { RAW } else { MULTIPLEXED }, channel_body(rx)));
    }
    Ok(hijack(&mut request, tty, move |io| async move {
        let (reader, writer) = tokio::io::split(io);
        let (stdin_task, detached) = match stdin {
            Some(stdin) => {
                let (forward, detached) = stdin_forward(stdin, tty, stdin_once, keys);
                (Some(tokio::spawn(forward_stdin(reader, forward, activity))), detached)
            }
            None => (None, None),
        };
        write_frames(rx, writer, stdin_task, detached).await;
    }))
}

/// `GET /containers/{id}/attach/ws`: the same stream as attach, over a websocket. Output goes out as binary frames,
/// never multiplexed (stdout and stderr alike); text or binary frames from the client go to stdin.
pub async fn attach_ws(
    State(engine): State<Arc<Engine>>,
    activity: Activity,
    Path(id): Path<String>,
    Query(query): Query<AttachQuery>,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> ApiResult<Response> {
    use axum::extract::ws::Message;
    use futures_util::{SinkExt, StreamExt};

    let container = engine.container(&id)?;
    let record = container.snapshot();
    // Before API 1.42 the flags were ignored and everything was attached; an absent flag keeps that default.
    let wants = |value: &Option<String>| value.is_none() || flag(value);
    let wanted = Wanted { stdout: wants(&query.stdout), stderr: wants(&query.stderr) };
    let want_stream = query.stream.is_none() || flag(&query.stream);
    let mut output = container.output.subscribe();
    engine.note_attach(&container);
    let history = flag(&query.logs).then(|| {
        let options = LogsOptions { stdout: wanted.stdout, stderr: wanted.stderr, ..Default::default() };
        berth_engine::logs::stream_logs(container.clone(), options)
    });
    let stdin = (wants(&query.stdin) && record.config.open_stdin.unwrap_or(false)).then(|| container.stdin_tx.clone());
    Ok(upgrade.on_upgrade(move |socket| async move {
        let (mut sink, mut incoming) = socket.split();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = incoming.next().await {
                let data = match message {
                    Message::Binary(data) => data,
                    Message::Text(text) => Bytes::copy_from_slice(text.as_bytes()),
                    Message::Close(_) => break,
                    _ => continue,
                };
                if let Some(stdin) = &stdin {
                    activity.note();
                    let _ = stdin.send(StdinMessage::Data(data)).await;
                }
            }
        });
        if let Some(mut history) = history {
            while let Some(entry) = history.recv().await {
                if sink.send(Message::Binary(entry.line.clone())).await.is_err() {
                    return;
                }
            }
        }
        if want_stream {
            while let Some((_, data)) = next_wanted(&mut output, wanted).await {
                if sink.send(Message::Binary(data)).await.is_err() {
                    break;
                }
            }
        }
        let _ = sink.send(Message::Close(None)).await;
        reader.abort();
    }))
}

/// Frames an exec's output for the client, dropping the streams it did not ask for.
fn exec_frames(mut output: mpsc::Receiver<Output>, tty: bool, wanted: Wanted) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    tokio::spawn(async move {
        while let Some(message) = output.recv().await {
            match message {
                // A gone client must not block the process: keep draining.
                Output::Chunk(stream, data) if wanted.contains(stream) => {
                    let _ = tx.send(frame(tty, stream, &data)).await;
                }
                Output::Chunk(..) => {}
                Output::End => return,
            }
        }
    });
    rx
}

pub async fn exec_start(
    State(engine): State<Arc<Engine>>,
    activity: Activity,
    Path(id): Path<String>,
    mut request: Request,
) -> ApiResult<Response> {
    let exec = engine.exec(&id)?;
    let body = axum::body::to_bytes(std::mem::take(request.body_mut()), 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    require_json(request.headers(), !body.is_empty())?;
    let start: ExecStartConfig = parse_json(&body)?;
    engine.exec_check(&id)?;
    let keys = detach_keys(exec.config.detach_keys.as_deref(), "escape")?;
    // As dockerd: the start request's Tty decides the framing, not the exec's. docker-py starts a tty exec with
    // `Tty: false` and reads stdcopy frames; the docker CLI sends `Tty: true` with `exec -t` and reads raw bytes.
    let tty = start.tty.unwrap_or(false);
    let process_tty = exec.config.tty.unwrap_or(false);
    let wanted =
        Wanted { stdout: exec.config.attach_stdout.unwrap_or(true), stderr: exec.config.attach_stderr.unwrap_or(true) };
    if start.detach.unwrap_or(false) {
        let streams = engine.exec_start(&id).await?;
        // Nobody reads the output; drain it so the process never blocks on a full pipe.
        let mut output = streams.output;
        tokio::spawn(async move { while output.recv().await.is_some() {} });
        return Ok(axum::http::StatusCode::OK.into_response());
    }
    if !wants_upgrade(&request) {
        let streams = engine.exec_start(&id).await?;
        let rx = exec_frames(streams.output, tty, wanted);
        return Ok(super::streams::streaming(if tty { RAW } else { MULTIPLEXED }, channel_body(rx)));
    }
    // Docker starts the process only once the connection is hijacked; starting earlier lets output race the 101
    // into the client's HTTP parser buffer, where docker-py never looks for it.
    Ok(hijack(&mut request, tty, move |io| async move {
        let (reader, mut writer) = tokio::io::split(io);
        let streams = match engine.exec_start(&id).await {
            Ok(streams) => streams,
            Err(err) => {
                let _ = writer.write_all(&frame(tty, StreamKind::Stderr, format!("{err}\n").as_bytes())).await;
                let _ = writer.shutdown().await;
                return;
            }
        };
        let (stdin_task, detached) = match streams.stdin {
            Some(stdin) => {
                let (forward, detached) = stdin_forward(stdin, process_tty, true, keys);
                (Some(tokio::spawn(forward_stdin(reader, forward, activity))), detached)
            }
            None => (None, None),
        };
        write_frames(exec_frames(streams.output, tty, wanted), writer, stdin_task, detached).await;
    }))
}
