//! What flows out of and into a container's process: output chunks by stream, and stdin messages. Below every
//! other module of the engine (it imports none of them).

use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
}

impl StreamKind {
    pub fn name(self) -> &'static str {
        match self {
            StreamKind::Stdin => "stdin",
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        }
    }
}

/// What attach subscribers receive.
#[derive(Debug, Clone)]
pub enum Output {
    Chunk(StreamKind, Bytes),
    /// The process ended and all its output has been delivered.
    End,
}

#[derive(Debug)]
pub enum StdinMessage {
    Data(Bytes),
    Close,
}
