//! Container logs in Docker's json-file format, read back with tail/since/until/follow. The container's monitor
//! writes them (berth-runtime's `JsonLogWriter`, one JSON object per line, rotated by max-size/max-file); here
//! are the options' checks and the readers.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::container::{Container, StreamKind};
use super::EngineError;
use berth_runtime::rotated;

#[derive(Serialize, Deserialize)]
struct JsonLine {
    log: String,
    stream: String,
    time: String,
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

/// `max-size` and `max-file` as the monitor applies them.
pub fn rotation(options: &HashMap<String, String>) -> Result<berth_runtime::LogRotation, EngineError> {
    Ok(berth_runtime::LogRotation {
        max_size: options.get("max-size").map(|v| parse_size(v)).transpose()?,
        max_files: options.get("max-file").and_then(|v| v.parse().ok()).unwrap_or(1).max(1),
    })
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
    fn what_the_monitor_writes_reads_back_with_streams_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let options = HashMap::from([("max-size".to_string(), "200".to_string()), ("max-file".into(), "2".into())]);
        let mut writer = berth_runtime::JsonLogWriter::open(&path, rotation(&options).unwrap()).unwrap();
        writer.write(berth_runtime::STDERR, b"err\n");
        for i in 0..50 {
            writer.write(berth_runtime::STDOUT, format!("line {i}\n").as_bytes());
        }
        writer.flush();
        assert!(rotated(&path, 1).exists());
        assert!(!rotated(&path, 2).exists());
        let (last, _) = read_from(&path, 0);
        assert_eq!(String::from_utf8_lossy(&last.last().unwrap().line), "line 49\n");
        assert_eq!(last.last().unwrap().stream, StreamKind::Stdout);
        assert_eq!(rotation(&HashMap::new()).unwrap(), berth_runtime::LogRotation { max_size: None, max_files: 1 });
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
