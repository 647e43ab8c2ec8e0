//! Container logs in Docker's json-file format: one JSON object per line
//! (`{"log":"hi\n","stream":"stdout","time":"2026-01-01T00:00:00.000000001Z"}`), rotated by max-size/max-file,
//! and read back with tail/since/until/follow.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::container::{Container, StreamKind};
use super::EngineError;

#[derive(Serialize, Deserialize)]
struct JsonLine {
    log: String,
    stream: String,
    time: String,
}

pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_files: u32,
    partial_stdout: Vec<u8>,
    partial_stderr: Vec<u8>,
}

/// Parses Docker's `max-size` values (`10m`, `512k`, `1g`, `2048`), binary units as json-file does.
pub fn parse_size(text: &str) -> Result<u64, EngineError> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let digits_end = lower.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number: f64 = number.parse().map_err(|_| EngineError::InvalidArgument(format!("invalid size: '{text}'")))?;
    let multiplier: u64 = match unit.trim_end_matches(['b', 'i']) {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(EngineError::InvalidArgument(format!("invalid size: '{text}'"))),
    };
    Ok((number * multiplier as f64) as u64)
}

/// Validates `--log-opt` values for the json-file driver before the container is created.
pub fn validate_options(options: &HashMap<String, String>) -> Result<(), EngineError> {
    for (key, value) in options {
        match key.as_str() {
            "max-size" => {
                parse_size(value)?;
            }
            "max-file" => {
                let files: u32 = value
                    .parse()
                    .map_err(|_| EngineError::InvalidArgument(format!("invalid value for max-file: {value}")))?;
                if files < 1 {
                    return Err(EngineError::InvalidArgument("max-file cannot be less than 1".into()));
                }
            }
            "compress" | "labels" | "env" | "tag" | "mode" | "max-buffer-size" | "labels-regex" | "env-regex" => {}
            other => {
                return Err(EngineError::InvalidArgument(format!("unknown log opt '{other}' for json-file log driver")))
            }
        }
    }
    Ok(())
}

impl LogWriter {
    pub fn open(path: &Path, options: &HashMap<String, String>) -> Result<Self, EngineError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| EngineError::io(format!("open log {}", path.display()), e))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let max_size = options.get("max-size").map(|v| parse_size(v)).transpose()?;
        let max_files = options.get("max-file").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_files,
            partial_stdout: Vec::new(),
            partial_stderr: Vec::new(),
        })
    }

    /// Appends output; complete lines become entries, a trailing partial line waits for its newline.
    pub fn write(&mut self, stream: StreamKind, data: &[u8]) {
        let mut pending = std::mem::take(self.partial(stream));
        pending.extend_from_slice(data);
        let mut start = 0;
        while let Some(offset) = pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset + 1;
            self.write_entry(stream, &pending[start..end]);
            start = end;
        }
        // Docker splits lines longer than 16 KiB into several entries.
        let rest = pending.split_off(start);
        if rest.len() > 16 * 1024 {
            self.write_entry(stream, &rest);
        } else {
            *self.partial(stream) = rest;
        }
    }

    /// Writes what is left of unterminated lines (at process exit).
    pub fn flush(&mut self) {
        for stream in [StreamKind::Stdout, StreamKind::Stderr] {
            let rest = std::mem::take(self.partial(stream));
            if !rest.is_empty() {
                self.write_entry(stream, &rest);
            }
        }
    }

    fn partial(&mut self, stream: StreamKind) -> &mut Vec<u8> {
        match stream {
            StreamKind::Stderr => &mut self.partial_stderr,
            _ => &mut self.partial_stdout,
        }
    }

    fn write_entry(&mut self, stream: StreamKind, line: &[u8]) {
        let entry = JsonLine {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: stream.name().to_string(),
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true),
        };
        let Ok(mut bytes) = serde_json::to_vec(&entry) else { return };
        bytes.push(b'\n');
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + bytes.len() as u64 > max {
                self.rotate();
            }
        }
        match self.file.write_all(&bytes) {
            Ok(()) => self.size += bytes.len() as u64,
            Err(err) => tracing::warn!(path = %self.path.display(), %err, "log write failed"),
        }
    }

    fn rotate(&mut self) {
        if self.max_files > 1 {
            for n in (1..self.max_files).rev() {
                let from = if n == 1 { self.path.clone() } else { rotated(&self.path, n - 1) };
                let _ = fs::rename(&from, rotated(&self.path, n));
            }
        }
        match OpenOptions::new().create(true).write(true).truncate(true).open(&self.path) {
            Ok(file) => {
                self.file = file;
                self.size = 0;
            }
            Err(err) => tracing::warn!(path = %self.path.display(), %err, "log rotation failed"),
        }
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

#[derive(Debug, Clone)]
pub struct LogEntry {
    pub stream: StreamKind,
    pub time: DateTime<Utc>,
    pub line: Bytes,
}

#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub tail: Option<usize>,
}

impl LogsOptions {
    fn wants(&self, entry: &LogEntry) -> bool {
        let stream_ok = match entry.stream {
            StreamKind::Stdout => self.stdout,
            StreamKind::Stderr => self.stderr,
            StreamKind::Stdin => false,
        };
        stream_ok
            && self.since.is_none_or(|since| entry.time > since)
            && self.until.is_none_or(|until| entry.time <= until)
    }
}

fn parse_line(line: &str) -> Option<LogEntry> {
    let parsed: JsonLine = serde_json::from_str(line).ok()?;
    let stream = if parsed.stream == "stderr" { StreamKind::Stderr } else { StreamKind::Stdout };
    let time = DateTime::parse_from_rfc3339(&parsed.time).ok()?.with_timezone(&Utc);
    Some(LogEntry { stream, time, line: Bytes::from(parsed.log) })
}

/// Reads every complete entry of `path` starting at `offset`; returns them and the offset after the last one.
fn read_from(path: &Path, offset: u64) -> (Vec<LogEntry>, u64) {
    let Ok(mut file) = File::open(path) else { return (Vec::new(), offset) };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return (Vec::new(), offset);
    }
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut position = offset;
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !line.ends_with('\n') {
                    break; // a line still being written: read it next time
                }
                position += n as u64;
                if let Some(entry) = parse_line(line.trim_end()) {
                    entries.push(entry);
                }
            }
        }
    }
    (entries, position)
}

/// Streams a container's log entries into a channel; ends when the log is exhausted (or, with follow, when the
/// container stops and its last lines are read, or the receiver goes away).
pub fn stream_logs(container: Arc<Container>, options: LogsOptions) -> mpsc::Receiver<LogEntry> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let path = container.log_path();
        let mut history = Vec::new();
        for n in (1..10).rev() {
            history.extend(read_from(&rotated(&path, n), 0).0);
        }
        let (current, mut offset) = read_from(&path, 0);
        history.extend(current);
        let mut wanted: Vec<LogEntry> = history.into_iter().filter(|e| options.wants(e)).collect();
        if let Some(tail) = options.tail {
            let skip = wanted.len().saturating_sub(tail);
            wanted.drain(..skip);
        }
        for entry in wanted {
            if tx.send(entry).await.is_err() {
                return;
            }
        }
        if !options.follow {
            return;
        }
        loop {
            let notified = container.log_written.notified();
            let (entries, next) = read_from(&path, offset);
            if next < offset || fs::metadata(&path).map(|m| m.len() < offset).unwrap_or(false) {
                offset = 0; // rotated underneath us
                continue;
            }
            offset = next;
            let had_new = !entries.is_empty();
            for entry in entries.into_iter().filter(|e| options.wants(e)) {
                if tx.send(entry).await.is_err() {
                    return;
                }
            }
            if options.until.is_some_and(|until| Utc::now() > until) {
                return;
            }
            if !had_new && !container.status().is_running() {
                return;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = tx.closed() => return,
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_partial_lines_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut writer = LogWriter::open(&path, &HashMap::new()).unwrap();
        writer.write(StreamKind::Stdout, b"one\ntw");
        writer.write(StreamKind::Stderr, b"err\n");
        writer.write(StreamKind::Stdout, b"o\nthree");
        writer.flush();
        let (entries, _) = read_from(&path, 0);
        let lines: Vec<_> = entries.iter().map(|e| (e.stream, String::from_utf8_lossy(&e.line).into_owned())).collect();
        assert_eq!(
            lines,
            vec![
                (StreamKind::Stdout, "one\n".to_string()),
                (StreamKind::Stderr, "err\n".to_string()),
                (StreamKind::Stdout, "two\n".to_string()),
                (StreamKind::Stdout, "three".to_string()),
            ]
        );
    }

    #[test]
    fn rotation_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let options = HashMap::from([("max-size".to_string(), "200".to_string()), ("max-file".into(), "2".into())]);
        let mut writer = LogWriter::open(&path, &options).unwrap();
        for i in 0..50 {
            writer.write(StreamKind::Stdout, format!("line {i}\n").as_bytes());
        }
        assert!(fs::metadata(&path).unwrap().len() <= 200);
        assert!(rotated(&path, 1).exists());
        assert!(!rotated(&path, 2).exists());
        let (last, _) = read_from(&path, 0);
        assert_eq!(String::from_utf8_lossy(&last.last().unwrap().line), "line 49\n");
    }

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("10m").unwrap(), 10 << 20);
        assert_eq!(parse_size("1k").unwrap(), 1024);
        assert_eq!(parse_size("300").unwrap(), 300);
        assert!(parse_size("ten").is_err());
        assert!(validate_options(&HashMap::from([("max-file".into(), "0".into())])).is_err());
    }
}
