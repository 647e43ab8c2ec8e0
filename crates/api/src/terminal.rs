//! `GET /berth/terminals/ws`: the playground's terminal, speaking the protocol in
//! `berth_shared::api::terminal` (binary frames for output, tagged JSON text frames for control).

use std::collections::VecDeque;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use berth_shared::api::terminal::{ClientMessage, ServerMessage, TerminalQuery};
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast;

use super::activity::Activity;
use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use berth_engine::{Engine, TerminalSession};

/// Output held for a paused client before the oldest is dropped.
const HELD_BYTES: usize = 1024 * 1024;

pub async fn terminal_ws(
    State(engine): State<Arc<Engine>>,
    caller: Caller,
    activity: Activity,
    Query(query): Query<TerminalQuery>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    // An instructor's sign-in only watches: confinement let it through for a terminal of its own class's session.
    let watcher = matches!(caller, Caller::Account(_));
    let session = match (&query.session, &query.container) {
        (Some(id), _) => {
            let session = engine.terminal(id)?;
            // Another tenant's terminal is as unknown as one that never was.
            if !watcher && !caller.scope().sees(session.container.owner.as_deref()) {
                return Err(berth_engine::EngineError::NotFound(format!("No such terminal session: {id}")).into());
            }
            session
        }
        (None, Some(_)) if watcher => {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "the class view watches terminals; it opens none",
            ))
        }
        (None, Some(container)) => {
            let container = engine.container_in(caller.scope(), container)?;
            let size = (query.rows.unwrap_or(24), query.cols.unwrap_or(80));
            engine.terminal_open(&container.id, query.mode, size).await?
        }
        (None, None) => {
            return Err(ApiError::bad_request("give a container to open a terminal, or a session to rejoin"))
        }
    };
    let readonly = query.readonly || watcher;
    Ok(upgrade.on_upgrade(move |socket| serve(engine, session, readonly, activity, socket)))
}

async fn send_json(sink: &mut SplitSink<WebSocket, Message>, message: &ServerMessage) -> bool {
    match serde_json::to_string(message) {
        Ok(text) => sink.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

async fn serve(
    engine: Arc<Engine>,
    session: Arc<TerminalSession>,
    readonly: bool,
    activity: Activity,
    socket: WebSocket,
) {
    let (mut sink, mut incoming) = socket.split();
    let hello = ServerMessage::Hello {
        session: session.id.clone(),
        container: session.container.id.clone(),
        mode: session.mode,
        readonly,
    };
    if !send_json(&mut sink, &hello).await {
        return;
    }
    let (scrollback, mut live) = session.join();
    if !send_json(&mut sink, &ServerMessage::ReplayStart).await {
        return;
    }
    for chunk in scrollback {
        if sink.send(Message::Binary(chunk)).await.is_err() {
            return;
        }
    }
    if !send_json(&mut sink, &ServerMessage::ReplayEnd).await {
        return;
    }

    let mut exit = session.exit();
    let mut paused = false;
    let mut held: VecDeque<Bytes> = VecDeque::new();
    let mut held_bytes = 0usize;
    let mut dropped = 0u64;
    loop {
        let ended = *exit.borrow_and_update();
        if let Some(code) = ended {
            // Deliver what the process wrote before it ended, then say so.
            while let Ok(chunk) = live.try_recv() {
                held.push_back(chunk);
            }
            for chunk in held.drain(..) {
                if sink.send(Message::Binary(chunk)).await.is_err() {
                    return;
                }
            }
            let _ = send_json(&mut sink, &ServerMessage::Exit { code }).await;
            let _ = sink.send(Message::Close(None)).await;
            return;
        }
        tokio::select! {
            message = incoming.next() => {
                let Some(Ok(message)) = message else { return };
                let parsed = match message {
                    Message::Text(text) => serde_json::from_str::<ClientMessage>(&text).map_err(|e| e.to_string()),
                    Message::Binary(data) => Ok(ClientMessage::Input { data: String::from_utf8_lossy(&data).into_owned() }),
                    Message::Close(_) => return,
                    _ => continue,
                };
                match parsed {
                    Ok(ClientMessage::Input { data }) if !readonly => {
                        activity.note();
                        session.input(Bytes::from(data)).await
                    }
                    Ok(ClientMessage::Resize { rows, cols }) if !readonly => {
                        if let Err(err) = session.resize(&engine, rows, cols) {
                            let _ = send_json(&mut sink, &ServerMessage::Error { message: err.to_string() }).await;
                        }
                    }
                    Ok(ClientMessage::Pause) => paused = true,
                    Ok(ClientMessage::Resume) => {
                        paused = false;
                        if dropped > 0 {
                            let _ = send_json(&mut sink, &ServerMessage::Dropped { bytes: dropped }).await;
                            dropped = 0;
                        }
                        for chunk in held.drain(..) {
                            if sink.send(Message::Binary(chunk)).await.is_err() {
                                return;
                            }
                        }
                        held_bytes = 0;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        let message = format!("not a terminal message: {error}");
                        let _ = send_json(&mut sink, &ServerMessage::Error { message }).await;
                    }
                }
            }
            chunk = live.recv() => match chunk {
                Ok(chunk) if paused => {
                    held_bytes += chunk.len();
                    held.push_back(chunk);
                    while held_bytes > HELD_BYTES {
                        let Some(old) = held.pop_front() else { break };
                        held_bytes -= old.len();
                        dropped += old.len() as u64;
                    }
                }
                Ok(chunk) => {
                    if sink.send(Message::Binary(chunk)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let _ = send_json(&mut sink, &ServerMessage::Dropped { bytes: missed }).await;
                }
                Err(broadcast::error::RecvError::Closed) => {}
            },
            _ = exit.changed() => {}
        }
    }
}
