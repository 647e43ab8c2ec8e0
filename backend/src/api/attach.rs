//! `POST /containers/{id}/attach` and `POST /exec/{id}/start`: the hijacked, bidirectional streams.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc};

use super::error::{ApiError, ApiResult};
use super::streams::{channel_body, frame, hijack, wants_upgrade, AsyncReadWrite, MULTIPLEXED, RAW};
use super::{flag, parse_json};
use crate::engine::logs::LogsOptions;
use crate::engine::{Engine, Output, Status, StdinMessage, StreamKind};

#[derive(Deserialize)]
pub struct AttachQuery {
    stream: Option<String>,
    stdin: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    logs: Option<String>,
}

/// Reads the client's side into stdin messages; at EOF, closes the process's stdin when `close_at_eof`.
async fn forward_stdin(
    mut reader: tokio::io::ReadHalf<Box<dyn AsyncReadWrite>>,
    stdin: mpsc::UnboundedSender<StdinMessage>,
    close_at_eof: bool,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stdin.send(StdinMessage::Data(Bytes::copy_from_slice(&buffer[..n]))).is_err() {
                    return;
                }
            }
        }
    }
    if close_at_eof {
        let _ = stdin.send(StdinMessage::Close);
    }
}

pub async fn attach(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<AttachQuery>,
    mut request: Request,
) -> ApiResult<Response> {
    let container = engine.container(&id)?;
    let record = container.snapshot();
    if matches!(record.state.status, Status::Exited | Status::Dead) && !flag(&query.logs) {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "You cannot attach to a stopped container, start it first",
        ));
    }
    let tty = record.config.tty.unwrap_or(false);
    let want_stdout = flag(&query.stdout);
    let want_stderr = flag(&query.stderr);
    let want_stream = query.stream.is_none() || flag(&query.stream);
    // Subscribe before answering: the CLI attaches, then starts; nothing between may be lost.
    let mut output = container.output.subscribe();
    let history = if flag(&query.logs) {
        let options = LogsOptions { stdout: want_stdout, stderr: want_stderr, ..Default::default() };
        Some(crate::engine::logs::stream_logs(container.clone(), options))
    } else {
        None
    };
    let stdin = (flag(&query.stdin) && record.config.open_stdin.unwrap_or(false)).then(|| container.stdin_tx.clone());
    let stdin_once = record.config.stdin_once.unwrap_or(false);
    let wanted = move |stream: StreamKind| match stream {
        StreamKind::Stdout => want_stdout,
        StreamKind::Stderr => want_stderr,
        StreamKind::Stdin => false,
    };

    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
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
        loop {
            match output.recv().await {
                Ok(Output::Chunk(stream, data)) if wanted(stream) => {
                    if tx.send(frame(tty, stream, &data)).await.is_err() {
                        return;
                    }
                }
                Ok(Output::Chunk(..)) => {}
                Ok(Output::End) | Err(broadcast::error::RecvError::Closed) => return,
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::warn!(skipped, "attach client too slow; output dropped");
                }
            }
        }
    });

    if !wants_upgrade(&request) {
        return Ok(super::streams::streaming(if tty { RAW } else { MULTIPLEXED }, channel_body(rx)));
    }
    Ok(hijack(&mut request, tty, move |io| async move {
        let (reader, mut writer) = tokio::io::split(io);
        let stdin_task = stdin.map(|stdin| tokio::spawn(forward_stdin(reader, stdin, stdin_once)));
        while let Some(chunk) = rx.recv().await {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = writer.flush().await;
        let _ = writer.shutdown().await;
        if let Some(task) = stdin_task {
            task.abort();
        }
    }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ExecStartBody {
    detach: Option<bool>,
    tty: Option<bool>,
}

pub async fn exec_start(
    State(engine): State<Arc<Engine>>,
    Path(id): Path<String>,
    mut request: Request,
) -> ApiResult<Response> {
    let exec = engine.exec(&id)?;
    let body = axum::body::to_bytes(std::mem::take(request.body_mut()), 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let start: ExecStartBody = if body.is_empty() { ExecStartBody::default() } else { parse_json(&body)? };
    let streams = engine.exec_start(&id).await?;
    let tty = streams.tty || start.tty.unwrap_or(false);
    let (want_stdout, want_stderr) =
        (exec.config.attach_stdout.unwrap_or(true), exec.config.attach_stderr.unwrap_or(true));
    if start.detach.unwrap_or(false) {
        // Nobody reads the output; drain it so the process never blocks on a full pipe.
        let mut output = streams.output;
        tokio::spawn(async move { while output.recv().await.is_some() {} });
        return Ok(axum::http::StatusCode::OK.into_response());
    }
    let mut output = streams.output;
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    tokio::spawn(async move {
        while let Some(message) = output.recv().await {
            match message {
                Output::Chunk(stream, data) => {
                    let wanted = match stream {
                        StreamKind::Stdout => want_stdout,
                        StreamKind::Stderr => want_stderr,
                        StreamKind::Stdin => false,
                    };
                    if wanted && tx.send(frame(tty, stream, &data)).await.is_err() {
                        // Keep draining so the process is not blocked by a gone client.
                        continue;
                    }
                }
                Output::End => return,
            }
        }
    });
    if !wants_upgrade(&request) {
        return Ok(super::streams::streaming(if tty { RAW } else { MULTIPLEXED }, channel_body(rx)));
    }
    let stdin = streams.stdin;
    Ok(hijack(&mut request, tty, move |io| async move {
        let (reader, mut writer) = tokio::io::split(io);
        let stdin_task = stdin.map(|stdin| tokio::spawn(forward_stdin(reader, stdin, true)));
        while let Some(chunk) = rx.recv().await {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = writer.flush().await;
        let _ = writer.shutdown().await;
        if let Some(task) = stdin_task {
            task.abort();
        }
    }))
}
