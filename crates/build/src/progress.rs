//! Where a build's [`BuildEvent`]s go: an unbounded channel the API turns into Docker's legacy JSON stream (or
//! the web app's websocket). A client that went away never stops the build; its events are dropped.

use berth_shared::api::build::BuildEvent;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct Progress {
    sender: mpsc::UnboundedSender<BuildEvent>,
}

impl Progress {
    pub fn new() -> (Progress, mpsc::UnboundedReceiver<BuildEvent>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Progress { sender }, receiver)
    }

    pub fn emit(&self, event: BuildEvent) {
        let _ = self.sender.send(event);
    }
}

/// Splits container output into text without cutting a UTF-8 character in two across chunks.
#[derive(Debug, Default)]
pub struct Utf8Chunker {
    pending: Vec<u8>,
}

impl Utf8Chunker {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(error) if error.error_len().is_none() => error.valid_up_to(),
            // Invalid bytes (not merely incomplete): let lossy decoding replace them.
            Err(_) => self.pending.len(),
        };
        let rest = self.pending.split_off(valid);
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending = rest;
        text
    }

    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_characters_are_joined() {
        let mut chunker = Utf8Chunker::default();
        let bytes = "é".as_bytes();
        assert_eq!(chunker.push(&bytes[..1]), "");
        assert_eq!(chunker.push(&bytes[1..]), "é");
        assert_eq!(chunker.finish(), "");
    }
}
