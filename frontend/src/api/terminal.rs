//! The terminal websocket (`/berth/terminals/ws`, protocol in berth_shared::api::terminal) on this page's origin.

use super::encode;

/// Where to connect: a new shell in `container`, or rejoining `session` (optionally read-only).
pub enum TerminalTarget<'a> {
    NewShell { container: &'a str },
    Session { session: &'a str, readonly: bool },
}

pub fn websocket_url(target: &TerminalTarget<'_>, rows: u16, cols: u16) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    let host = location.host().ok()?;
    let query = match target {
        TerminalTarget::NewShell { container } => format!("container={}&mode=shell", encode(container)),
        TerminalTarget::Session { session, readonly } => {
            format!("session={}{}", encode(session), if *readonly { "&readonly=true" } else { "" })
        }
    };
    Some(format!("{scheme}://{host}/berth/terminals/ws?{query}&rows={rows}&cols={cols}"))
}
