//! The terminal protocol: a browser terminal (xterm.js) talking to a shell or a container's own tty over a
//! websocket at `GET /berth/terminals/ws`.
//!
//! - Output from the process travels as **binary** frames of raw terminal bytes, in order.
//! - Everything else is a **text** frame holding one JSON object of [`ClientMessage`] or [`ServerMessage`],
//!   tagged by `"type"`.
//! - A session outlives its websocket: reconnecting with `?session=<id>` replays the scrollback (as binary
//!   frames between [`ServerMessage::ReplayStart`] and [`ServerMessage::ReplayEnd`]) and then continues live.
//! - `?readonly=1` joins as a viewer: output only; input and resize from a viewer are ignored.
//! - Flow control: a client that falls behind sends [`ClientMessage::Pause`]; the server holds output (up to a
//!   bound, then drops the oldest and says so in [`ServerMessage::Dropped`]) until [`ClientMessage::Resume`].

use serde::{Deserialize, Serialize};

/// Query parameters of `GET /berth/terminals/ws`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalQuery {
    /// The container to open a terminal in (name or id). Needed to open a new session.
    #[serde(default)]
    pub container: Option<String>,
    /// An existing session to rejoin.
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub mode: TerminalMode,
    /// Watch only.
    #[serde(default)]
    pub readonly: bool,
    /// Initial size.
    #[serde(default)]
    pub rows: Option<u16>,
    #[serde(default)]
    pub cols: Option<u16>,
}

/// What the terminal is connected to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TerminalMode {
    /// A new shell in the container (`docker exec -it <c> sh`).
    #[default]
    Shell,
    /// The container's own terminal (`docker attach`), for containers started with a tty.
    Tty,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Keystrokes or pasted text.
    Input {
        data: String,
    },
    Resize {
        rows: u16,
        cols: u16,
    },
    Pause,
    Resume,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message on every connection.
    Hello {
        session: String,
        container: String,
        mode: TerminalMode,
        readonly: bool,
    },
    ReplayStart,
    ReplayEnd,
    /// Output was discarded while the client was paused for too long.
    Dropped {
        bytes: u64,
    },
    /// The process ended; no more output will come.
    Exit {
        code: i64,
    },
    Error {
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json() {
        let resize = serde_json::to_string(&ClientMessage::Resize { rows: 24, cols: 80 }).unwrap();
        assert_eq!(resize, r#"{"type":"resize","rows":24,"cols":80}"#);
        let input: ClientMessage = serde_json::from_str(r#"{"type":"input","data":"ls\r"}"#).unwrap();
        assert_eq!(input, ClientMessage::Input { data: "ls\r".into() });
        let exit = serde_json::to_string(&ServerMessage::Exit { code: 0 }).unwrap();
        assert_eq!(exit, r#"{"type":"exit","code":0}"#);
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"bogus"}"#).is_err());
    }
}
