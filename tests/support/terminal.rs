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
