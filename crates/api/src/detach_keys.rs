//! Detach keys of attach and exec (`detachKeys`, `--detach-keys`, config.json's `detachKeys`): the sequence that ends
//! a client's stream on a tty while the process keeps running, ctrl-p,ctrl-q unless the client names another.

/// ctrl-p, ctrl-q: dockerd's default sequence.
const DEFAULT: [u8; 2] = [16, 17];

/// moby/term's names of the control characters, indexed by their code.
const CONTROL_NAMES: [&str; 32] = [
    "ctrl-@", "ctrl-a", "ctrl-b", "ctrl-c", "ctrl-d", "ctrl-e", "ctrl-f", "ctrl-g", "ctrl-h", "ctrl-i", "ctrl-j",
    "ctrl-k", "ctrl-l", "ctrl-m", "ctrl-n", "ctrl-o", "ctrl-p", "ctrl-q", "ctrl-r", "ctrl-s", "ctrl-t", "ctrl-u",
    "ctrl-v", "ctrl-w", "ctrl-x", "ctrl-y", "ctrl-z", "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_",
];

/// Parses a comma-separated sequence as moby/term's ToBytes: one character, or a `ctrl-` name, or `DEL`; empty
/// means the default. The error is the unparsable key.
pub fn parse(keys: &str) -> Result<Vec<u8>, String> {
    if keys.is_empty() {
        return Ok(DEFAULT.to_vec());
    }
    keys.split(',')
        .map(|key| match key.as_bytes() {
            [single] => Ok(*single),
            _ if key == "DEL" => Ok(127),
            _ => CONTROL_NAMES
                .iter()
                .position(|name| *name == key)
                .and_then(|code| u8::try_from(code).ok())
                .ok_or_else(|| key.to_string()),
        })
        .collect()
}

/// Watches a client's input for the sequence: bytes that could start it are held back until they either complete
/// it (then nothing of it is passed on) or turn out to be input (then they go on with what follows).
pub struct Detector {
    keys: Vec<u8>,
    matched: usize,
}

/// What a chunk of input amounts to.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// Bytes to pass to the process (possibly none, while a partial sequence is held).
    Forward(Vec<u8>),
    /// The sequence was typed: pass these bytes on (what came before it), then end the stream.
    Detach(Vec<u8>),
}

impl Detector {
    pub fn new(keys: Vec<u8>) -> Self {
        Detector { keys, matched: 0 }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Input {
        let mut out = Vec::with_capacity(chunk.len());
        for &byte in chunk {
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return Input::Detach(out);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if byte == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return Input::Detach(out);
                }
            } else {
                out.push(byte);
            }
        }
        Input::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_as_moby_term_parses_them() {
        assert_eq!(parse(""), Ok(vec![16, 17]));
        assert_eq!(parse("ctrl-x"), Ok(vec![24]));
        assert_eq!(parse("a,ctrl-@,ctrl-_,DEL"), Ok(vec![b'a', 0, 31, 127]));
        assert_eq!(parse("ctrl-xx"), Err("ctrl-xx".to_string()));
        assert_eq!(parse("CTRL-X"), Err("CTRL-X".to_string()));
    }

    #[test]
    fn the_sequence_detaches_across_chunks_and_partial_matches_are_input() {
        let mut detector = Detector::new(vec![16, 17]);
        assert_eq!(detector.feed(b"ab\x10"), Input::Forward(b"ab".to_vec()));
        assert_eq!(detector.feed(b"c"), Input::Forward(b"\x10c".to_vec()));
        assert_eq!(detector.feed(b"\x10\x10"), Input::Forward(b"\x10".to_vec()));
        assert_eq!(detector.feed(b"\x11rest"), Input::Detach(Vec::new()));
        let mut single = Detector::new(vec![24]);
        assert_eq!(single.feed(b"x\x18y"), Input::Detach(b"x".to_vec()));
    }
}
