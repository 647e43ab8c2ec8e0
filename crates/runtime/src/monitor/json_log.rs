//! Docker's json-file log, written by the monitor: one JSON object per line
//! (`{"log":"hi\n","stream":"stdout","time":"2026-01-01T00:00:00.000000001Z"}`), rotated by size into
//! `<log>.1` ... `<log>.<max_files - 1>`. The daemon reads these files back (`docker logs`); it never writes them.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::protocol::STDERR;

/// `max-size` and `max-file` of `--log-opt`, already parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRotation {
    /// Rotate before a line would take the file past this many bytes; None: never.
    pub max_size: Option<u64>,
    /// Files kept, the live one included (at least 1).
    pub max_files: u32,
}

#[derive(Serialize)]
struct JsonLine<'a> {
    log: &'a str,
    stream: &'a str,
    time: String,
}

/// Appends a container's output to its json-file log.
pub struct JsonLogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: LogRotation,
    partial_stdout: Vec<u8>,
    partial_stderr: Vec<u8>,
}

/// Docker splits lines longer than this into several entries.
const LONGEST_ENTRY: usize = 16 * 1024;

impl JsonLogWriter {
    /// Opens (appending to) the log at `path`.
    pub fn open(path: &Path, rotation: LogRotation) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let rotation = LogRotation { max_files: rotation.max_files.max(1), ..rotation };
        Ok(JsonLogWriter {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
            partial_stdout: Vec::new(),
            partial_stderr: Vec::new(),
        })
    }

    /// Appends output of `stream` ([`STDOUT`](super::protocol::STDOUT) or [`STDERR`]); complete lines become
    /// entries, a trailing partial line waits for its newline.
    pub fn write(&mut self, stream: u8, data: &[u8]) {
        let mut pending = std::mem::take(self.partial(stream));
        pending.extend_from_slice(data);
        let mut start = 0;
        while let Some(offset) = pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset + 1;
            self.write_entry(stream, &pending[start..end]);
            start = end;
        }
        let rest = pending.split_off(start);
        if rest.len() > LONGEST_ENTRY {
            self.write_entry(stream, &rest);
        } else {
            *self.partial(stream) = rest;
        }
    }

    /// Writes what is left of unterminated lines (at process exit).
    pub fn flush(&mut self) {
        for stream in [super::protocol::STDOUT, STDERR] {
            let rest = std::mem::take(self.partial(stream));
            if !rest.is_empty() {
                self.write_entry(stream, &rest);
            }
        }
    }

    fn partial(&mut self, stream: u8) -> &mut Vec<u8> {
        if stream == STDERR {
            &mut self.partial_stderr
        } else {
            &mut self.partial_stdout
        }
    }

    fn write_entry(&mut self, stream: u8, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let entry = JsonLine {
            log: &text,
            stream: if stream == STDERR { "stderr" } else { "stdout" },
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true),
        };
        let Ok(mut bytes) = serde_json::to_vec(&entry) else { return };
        bytes.push(b'\n');
        if let Some(max) = self.rotation.max_size {
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
        for n in (1..self.rotation.max_files).rev() {
            let from = if n == 1 { self.path.clone() } else { rotated(&self.path, n - 1) };
            let _ = fs::rename(&from, rotated(&self.path, n));
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

/// The `n`th rotated file of the log at `path`.
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::super::protocol::STDOUT;
    use super::*;

    #[derive(Deserialize)]
    struct Entry {
        log: String,
        stream: String,
    }

    fn entries(path: &Path) -> Vec<(String, String)> {
        let text = fs::read_to_string(path).unwrap();
        text.lines().map(|l| serde_json::from_str::<Entry>(l).unwrap()).map(|e| (e.stream, e.log)).collect()
    }

    #[test]
    fn lines_are_split_and_partial_lines_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut writer = JsonLogWriter::open(&path, LogRotation::default()).unwrap();
        writer.write(STDOUT, b"one\ntw");
        writer.write(STDERR, b"err\n");
        writer.write(STDOUT, b"o\nthree");
        writer.flush();
        let pair = |s: &str, l: &str| (s.to_string(), l.to_string());
        assert_eq!(
            entries(&path),
            vec![pair("stdout", "one\n"), pair("stderr", "err\n"), pair("stdout", "two\n"), pair("stdout", "three")]
        );
    }

    #[test]
    fn rotation_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut writer = JsonLogWriter::open(&path, LogRotation { max_size: Some(200), max_files: 2 }).unwrap();
        for i in 0..50 {
            writer.write(STDOUT, format!("line {i}\n").as_bytes());
        }
        assert!(fs::metadata(&path).unwrap().len() <= 200);
        assert!(rotated(&path, 1).exists());
        assert!(!rotated(&path, 2).exists());
        assert_eq!(entries(&path).last().map(|e| e.1.clone()), Some("line 49\n".to_string()));
    }
}
