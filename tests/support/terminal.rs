//! The playground's terminal websocket (`/berth/terminals/ws`) as a test drives it.

use std::time::Duration;

use berth_shared::api::terminal::{ClientMessage, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::Daemon;

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(daemon: &Daemon, query: &str) -> Socket {
    let url = format!("ws://{}/berth/terminals/ws?{query}", daemon.http_addr());
    let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
    socket
}

pub async fn next_control(socket: &mut Socket) -> ServerMessage {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .expect("valid frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("a ServerMessage");
        }
    }
}

/// Reads binary output until `needle` appears; returns everything read. A terminal that says its process exited
/// before it fails at once, not at the timeout.
pub async fn read_until(socket: &mut Socket, needle: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap_or_else(|_| panic!("{needle:?} within 10 s; saw {seen:?}"))
            .expect("socket open")
            .expect("valid frame");
        match message {
            Message::Binary(data) => seen.push_str(&String::from_utf8_lossy(&data)),
            Message::Text(text) => {
                if let Ok(ServerMessage::Exit { .. }) = serde_json::from_str::<ServerMessage>(&text) {
                    panic!("the terminal ended before {needle:?}; saw {seen:?}")
                }
            }
            _ => {}
        }
    }
    seen
}

pub async fn send(socket: &mut Socket, message: &ClientMessage) {
    socket.send(Message::Text(serde_json::to_string(message).unwrap().into())).await.expect("send");
}

/// The lines a terminal would show for `raw` output: a carriage return goes back to the line's start and what
/// follows overwrites it, `ESC [ J` and `ESC [ K` clear to the end, other escape sequences show nothing. A shell's
/// line editor redraws its line when the window size changes under it, so what was typed is only whole on screen.
#[allow(dead_code)]
pub fn rendered_lines(raw: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let (mut line, mut column): (Vec<char>, usize) = (Vec::new(), 0);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => column = 0,
            '\n' => {
                lines.push(line.drain(..).collect());
                column = 0;
            }
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                for p in chars.by_ref() {
                    if p.is_ascii_alphabetic() || p == '~' {
                        if p == 'J' || p == 'K' {
                            line.truncate(column);
                        }
                        break;
                    }
                }
            }
            c if c.is_control() => {}
            c => {
                if column < line.len() {
                    line[column] = c;
                } else {
                    line.push(c);
                }
                column += 1;
            }
        }
    }
    lines.push(line.into_iter().collect());
    lines
}
