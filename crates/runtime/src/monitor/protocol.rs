//! The monitor protocol: length-prefixed frames between the daemon and a container's monitor, over the
//! socketpair the daemon starts it with or, after a daemon restart, the unix socket in the container's directory.
//!
//! A frame is a tag byte, a big-endian u32 payload length and the payload. Control frames carry JSON, data frames
//! raw bytes. Pure encoding and decoding: no I/O here, so the daemon reads with tokio and the monitor with poll.

use serde::{Deserialize, Serialize};

/// Bumped whenever a frame changes meaning. A daemon meeting a monitor of another version reports it and leaves
/// the container alone (it is never killed for being older or newer).
pub const PROTOCOL_VERSION: u32 = 1;

/// A payload larger than this is a broken peer, not a frame.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// How the stream of an [`Frame::Output`] is numbered on the wire (Docker's stdcopy numbers).
pub const STDOUT: u8 = 1;
/// See [`STDOUT`].
pub const STDERR: u8 = 2;

const HEADER: usize = 5;

/// One message, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Daemon → monitor, first on a fresh socketpair: what to start.
    Start(Vec<u8>),
    /// Daemon → monitor, first on a reconnection.
    Hello(Hello),
    /// Daemon → monitor: bytes for the container's stdin (or pty).
    Stdin(Vec<u8>),
    /// Daemon → monitor: the container's stdin reaches EOF.
    CloseStdin,
    /// Daemon → monitor: a new terminal size.
    Resize {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Daemon → monitor: send the scrollback (answered by [`Frame::Scrollback`], in order with the output).
    ScrollbackRequest,
    /// Monitor → daemon: the container runs (first answer to Start or Hello; the pidfd rides along).
    Welcome(Welcome),
    /// Monitor → daemon: the start failed.
    Failed(Failure),
    /// Monitor → daemon: output of the container, stream [`STDOUT`] or [`STDERR`].
    Output {
        /// Which stream.
        stream: u8,
        /// The bytes as read.
        data: Vec<u8>,
    },
    /// Monitor → daemon: the newest output kept, oldest first, as `(stream, bytes)` runs.
    Scrollback(Vec<(u8, Vec<u8>)>),
    /// Monitor → daemon: the container's init exited and all its output was sent; the monitor goes next.
    Exited {
        /// Exit code, 128+signal when killed.
        code: i32,
    },
}

/// What a reconnecting daemon says first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The daemon's [`PROTOCOL_VERSION`].
    pub version: u32,
}

/// What the monitor answers first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The monitor's [`PROTOCOL_VERSION`].
    pub version: u32,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Set when the init has exited already (the monitor is finishing).
    pub exit_code: Option<i32>,
}

/// Why a start failed, classified as `berth init` classifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// `not_found`, `permission_denied` or `other`.
    pub kind: String,
    /// The error's text.
    pub message: String,
}

/// A frame that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Unknown tag.
    #[error("unknown monitor frame tag {0}")]
    UnknownTag(u8),
    /// Payload over [`MAX_PAYLOAD`].
    #[error("monitor frame of {0} bytes is over the limit")]
    TooLarge(usize),
    /// The payload does not fit its tag.
    #[error("malformed monitor frame {tag}: {reason}")]
    Malformed {
        /// The frame's tag.
        tag: u8,
        /// What is wrong.
        reason: String,
    },
}

mod tag {
    pub const START: u8 = 1;
    pub const HELLO: u8 = 2;
    pub const STDIN: u8 = 3;
    pub const CLOSE_STDIN: u8 = 4;
    pub const RESIZE: u8 = 5;
    pub const SCROLLBACK_REQUEST: u8 = 6;
    pub const WELCOME: u8 = 10;
    pub const FAILED: u8 = 11;
    pub const OUTPUT: u8 = 12;
    pub const SCROLLBACK: u8 = 13;
    pub const EXITED: u8 = 14;
}

impl Frame {
    /// Appends the frame's bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER]);
        let tag = match self {
            Frame::Start(config) => {
                out.extend_from_slice(config);
                tag::START
            }
            Frame::Hello(hello) => {
                json_into(out, hello);
                tag::HELLO
            }
            Frame::Stdin(data) => {
                out.extend_from_slice(data);
                tag::STDIN
            }
            Frame::CloseStdin => tag::CLOSE_STDIN,
            Frame::Resize { rows, cols } => {
                out.extend_from_slice(&rows.to_be_bytes());
                out.extend_from_slice(&cols.to_be_bytes());
                tag::RESIZE
            }
            Frame::ScrollbackRequest => tag::SCROLLBACK_REQUEST,
            Frame::Welcome(welcome) => {
                json_into(out, welcome);
                tag::WELCOME
            }
            Frame::Failed(failure) => {
                json_into(out, failure);
                tag::FAILED
            }
            Frame::Output { stream, data } => {
                out.push(*stream);
                out.extend_from_slice(data);
                tag::OUTPUT
            }
            Frame::Scrollback(runs) => {
                for (stream, data) in runs {
                    out.push(*stream);
                    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
                    out.extend_from_slice(data);
                }
                tag::SCROLLBACK
            }
            Frame::Exited { code } => {
                out.extend_from_slice(&code.to_be_bytes());
                tag::EXITED
            }
        };
        let length = (out.len() - start - HEADER) as u32;
        out[start] = tag;
        out[start + 1..start + HEADER].copy_from_slice(&length.to_be_bytes());
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Takes one whole frame off the front of `buffer`; `None` until one has fully arrived.
    pub fn decode(buffer: &mut Vec<u8>) -> Result<Option<Frame>, ProtocolError> {
        if buffer.len() < HEADER {
            return Ok(None);
        }
        let tag = buffer[0];
        let length = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]) as usize;
        if length > MAX_PAYLOAD {
            return Err(ProtocolError::TooLarge(length));
        }
        if buffer.len() < HEADER + length {
            return Ok(None);
        }
        let payload: Vec<u8> = buffer[HEADER..HEADER + length].to_vec();
        buffer.drain(..HEADER + length);
        Self::from_payload(tag, payload).map(Some)
    }

    fn from_payload(tag: u8, payload: Vec<u8>) -> Result<Frame, ProtocolError> {
        let malformed = |reason: &str| ProtocolError::Malformed { tag, reason: reason.to_string() };
        Ok(match tag {
            tag::START => Frame::Start(payload),
            tag::HELLO => Frame::Hello(json_from(tag, &payload)?),
            tag::STDIN => Frame::Stdin(payload),
            tag::CLOSE_STDIN => Frame::CloseStdin,
            tag::RESIZE => match payload.as_slice() {
                [r0, r1, c0, c1] => {
                    Frame::Resize { rows: u16::from_be_bytes([*r0, *r1]), cols: u16::from_be_bytes([*c0, *c1]) }
                }
                _ => return Err(malformed("a resize is two u16")),
            },
            tag::SCROLLBACK_REQUEST => Frame::ScrollbackRequest,
            tag::WELCOME => Frame::Welcome(json_from(tag, &payload)?),
            tag::FAILED => Frame::Failed(json_from(tag, &payload)?),
            tag::OUTPUT => match payload.split_first() {
                Some((stream, data)) => Frame::Output { stream: *stream, data: data.to_vec() },
                None => return Err(malformed("output without a stream")),
            },
            tag::SCROLLBACK => {
                let mut runs = Vec::new();
                let mut rest = payload.as_slice();
                while !rest.is_empty() {
                    if rest.len() < 5 {
                        return Err(malformed("a run's header is cut off"));
                    }
                    let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
                    let data = rest.get(5..5 + length).ok_or_else(|| malformed("a run is cut off"))?;
                    runs.push((rest[0], data.to_vec()));
                    rest = &rest[5 + length..];
                }
                Frame::Scrollback(runs)
            }
            tag::EXITED => match payload.as_slice() {
                [a, b, c, d] => Frame::Exited { code: i32::from_be_bytes([*a, *b, *c, *d]) },
                _ => return Err(malformed("an exit code is one i32")),
            },
            other => return Err(ProtocolError::UnknownTag(other)),
        })
    }
}

fn json_into(out: &mut Vec<u8>, value: &impl Serialize) {
    // Serializing these plain structs cannot fail; an empty payload would be refused by the peer anyway.
    let _ = serde_json::to_writer(out, value);
}

fn json_from<T: for<'de> Deserialize<'de>>(tag: u8, payload: &[u8]) -> Result<T, ProtocolError> {
    serde_json::from_slice(payload).map_err(|e| ProtocolError::Malformed { tag, reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_frame() -> Vec<Frame> {
        vec![
            Frame::Start(b"{\"x\":1}".to_vec()),
            Frame::Hello(Hello { version: PROTOCOL_VERSION }),
            Frame::Stdin(b"ls\n".to_vec()),
            Frame::CloseStdin,
            Frame::Resize { rows: 50, cols: 132 },
            Frame::ScrollbackRequest,
            Frame::Welcome(Welcome { version: 1, pid: 4242, exit_code: None }),
            Frame::Failed(Failure { kind: "not_found".into(), message: "exec: \"x\"".into() }),
            Frame::Output { stream: STDERR, data: vec![0, 255, 10] },
            Frame::Scrollback(vec![(STDOUT, b"a".to_vec()), (STDERR, Vec::new()), (STDOUT, b"bc".to_vec())]),
            Frame::Exited { code: -1 },
        ]
    }

    #[test]
    fn every_frame_round_trips_even_when_it_arrives_byte_by_byte() {
        let mut wire = Vec::new();
        for frame in every_frame() {
            frame.encode_into(&mut wire);
        }
        let mut buffer = Vec::new();
        let mut decoded = Vec::new();
        for byte in wire {
            buffer.push(byte);
            while let Some(frame) = Frame::decode(&mut buffer).unwrap() {
                decoded.push(frame);
            }
        }
        assert_eq!(decoded, every_frame());
        assert!(buffer.is_empty());
    }

    #[test]
    fn hostile_frames_are_errors_not_allocations() {
        let mut huge = vec![tag::STDIN, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(Frame::decode(&mut huge), Err(ProtocolError::TooLarge(u32::MAX as usize)));
        let mut unknown = vec![99, 0, 0, 0, 0];
        assert_eq!(Frame::decode(&mut unknown), Err(ProtocolError::UnknownTag(99)));
        let mut short_resize = vec![tag::RESIZE, 0, 0, 0, 1, 7];
        assert!(matches!(Frame::decode(&mut short_resize), Err(ProtocolError::Malformed { .. })));
        let mut bad_run = vec![tag::SCROLLBACK, 0, 0, 0, 6, STDOUT, 0, 0, 0, 9, b'x'];
        assert!(matches!(Frame::decode(&mut bad_run), Err(ProtocolError::Malformed { .. })));
    }
}
