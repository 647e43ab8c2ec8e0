//! Docker's multiplexed stream format (logs and attach of a container without a tty): frames of an 8-byte header
//! `[stream, 0, 0, 0, len as big-endian u32]` followed by `len` bytes. A container with a tty sends raw bytes
//! instead. Chunks from the network cut frames anywhere, so the parser keeps what it has not used yet.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdin,
    Stdout,
    Stderr,
    /// A tty merges both streams.
    Tty,
}

/// One complete line of output and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: LogStream,
    pub text: String,
}

#[derive(Debug)]
pub struct LogParser {
    multiplexed: bool,
    pending: Vec<u8>,
    /// Partial lines per stream (stdout and stderr interleave by frame, not by line).
    partial_stdout: Vec<u8>,
    partial_stderr: Vec<u8>,
}

impl LogParser {
    /// `tty`: whether the container has a tty (Config.Tty), i.e. the stream is raw.
    pub fn new(tty: bool) -> Self {
        LogParser { multiplexed: !tty, pending: Vec::new(), partial_stdout: Vec::new(), partial_stderr: Vec::new() }
    }

    /// Feeds a chunk of the body; returns the lines it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<LogLine> {
        let mut lines = Vec::new();
        if !self.multiplexed {
            self.partial_stdout.extend_from_slice(chunk);
            take_lines(&mut self.partial_stdout, LogStream::Tty, &mut lines);
            return lines;
        }
        self.pending.extend_from_slice(chunk);
        loop {
            if self.pending.len() < 8 {
                break;
            }
            let length = u32::from_be_bytes([self.pending[4], self.pending[5], self.pending[6], self.pending[7]]);
            let frame_end = 8 + length as usize;
            if self.pending.len() < frame_end {
                break;
            }
            let stream = match self.pending[0] {
                0 => LogStream::Stdin,
                2 => LogStream::Stderr,
                _ => LogStream::Stdout,
            };
            let payload: Vec<u8> = self.pending.drain(..frame_end).skip(8).collect();
            let buffer = if stream == LogStream::Stderr { &mut self.partial_stderr } else { &mut self.partial_stdout };
            buffer.extend_from_slice(&payload);
            take_lines(buffer, stream, &mut lines);
        }
        lines
    }

    /// Lines left without a final newline when the stream ends.
    pub fn finish(&mut self) -> Vec<LogLine> {
        let mut lines = Vec::new();
        let stdout_stream = if self.multiplexed { LogStream::Stdout } else { LogStream::Tty };
        for (buffer, stream) in
            [(&mut self.partial_stdout, stdout_stream), (&mut self.partial_stderr, LogStream::Stderr)]
        {
            if !buffer.is_empty() {
                let text = String::from_utf8_lossy(buffer).trim_end_matches('\r').to_string();
                lines.push(LogLine { stream, text });
                buffer.clear();
            }
        }
        lines
    }
}

fn take_lines(buffer: &mut Vec<u8>, stream: LogStream, lines: &mut Vec<LogLine>) {
    while let Some(newline) = buffer.iter().position(|&byte| byte == b'\n') {
        let line: Vec<u8> = buffer.drain(..=newline).collect();
        let text = String::from_utf8_lossy(&line[..line.len() - 1]).trim_end_matches('\r').to_string();
        lines.push(LogLine { stream, text });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![stream, 0, 0, 0];
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    #[wasm_bindgen_test]
    fn frames_cut_anywhere() {
        let mut body = frame(1, b"hello\nwor");
        body.extend(frame(2, b"oops\n"));
        body.extend(frame(1, b"ld\n"));
        let mut parser = LogParser::new(false);
        let mut lines = Vec::new();
        for byte in &body {
            lines.extend(parser.push(std::slice::from_ref(byte)));
        }
        let texts: Vec<(LogStream, &str)> = lines.iter().map(|line| (line.stream, line.text.as_str())).collect();
        assert_eq!(
            texts,
            vec![(LogStream::Stdout, "hello"), (LogStream::Stderr, "oops"), (LogStream::Stdout, "world")]
        );
    }

    #[wasm_bindgen_test]
    fn tty_streams_are_raw() {
        let mut parser = LogParser::new(true);
        assert_eq!(parser.push(b"a\r\nb"), vec![LogLine { stream: LogStream::Tty, text: "a".into() }]);
        assert_eq!(parser.finish(), vec![LogLine { stream: LogStream::Tty, text: "b".into() }]);
    }
}
