//! The event history on disk (`<root>/events/`): what `GET /events?since=...` replays, kept across restarts.
//!
//! Two segments of JSON lines, `current.jsonl` and `previous.jsonl`. Each event is appended to the current one as
//! a single write, without fsync: a crash may lose the last lines, and a torn last line is cut off when the log is
//! opened again, so an append never glues a new event onto half an old one. When the current segment holds
//! `segment` events it is renamed over the previous one and a new one starts, so between `segment` and
//! `2 * segment` events are kept. Memory mirrors the two segments exactly, so a replay never needs the disk and
//! replays the same before and after a restart.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};

use bollard_stubs::models::EventMessage;

const CURRENT: &str = "current.jsonl";
const PREVIOUS: &str = "previous.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    #[error("event history {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EventLogError + '_ {
    move |source| EventLogError::Io { path: path.to_path_buf(), source }
}

pub struct EventLog {
    dir: PathBuf,
    segment: usize,
    /// None after a failed rotation: events are then kept in memory only until the next one succeeds.
    current: Option<File>,
    /// Every event of both segments, oldest first.
    events: VecDeque<EventMessage>,
    /// How many of `events` came from the previous segment (the front ones).
    in_previous: usize,
}

impl EventLog {
    /// Opens `dir` (made if missing) keeping segments of `segment` events (at least 1).
    pub fn open(dir: &Path, segment: usize) -> Result<EventLog, EventLogError> {
        let segment = segment.max(1);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let previous_path = dir.join(PREVIOUS);
        let current_path = dir.join(CURRENT);
        let mut previous = read_segment(&previous_path)?;
        cut_torn_tail(&current_path)?;
        let current_events = read_segment(&current_path)?;
        // A smaller bound than the last run's: only the newest fit.
        previous.drain(..previous.len().saturating_sub(segment));
        let in_previous = previous.len();
        let mut events: VecDeque<EventMessage> = previous.into();
        let in_current = current_events.len();
        events.extend(current_events);
        let current = OpenOptions::new().create(true).append(true).open(&current_path).map_err(io(&current_path))?;
        let mut log = EventLog { dir: dir.to_path_buf(), segment, current: Some(current), events, in_previous };
        if in_current >= segment {
            log.rotate();
        }
        Ok(log)
    }

    /// Appends one event; a write that fails is logged and the event kept in memory.
    pub fn append(&mut self, event: &EventMessage) {
        if self.events.len() - self.in_previous >= self.segment {
            self.rotate();
        }
        if let Some(file) = self.current.as_mut() {
            match serde_json::to_vec(event) {
                Ok(mut line) => {
                    line.push(b'\n');
                    // One write: a crash tears at most this line.
                    if let Err(error) = file.write_all(&line) {
                        tracing::warn!(dir = %self.dir.display(), %error, "event history: append failed");
                    }
                }
                Err(error) => tracing::warn!(%error, "event history: event not encodable"),
            }
        }
        self.events.push_back(event.clone());
    }

    /// Every event kept, oldest first.
    pub fn events(&self) -> &VecDeque<EventMessage> {
        &self.events
    }

    fn rotate(&mut self) {
        let current_path = self.dir.join(CURRENT);
        self.current = None;
        let result = std::fs::rename(&current_path, self.dir.join(PREVIOUS))
            .and_then(|()| OpenOptions::new().create(true).append(true).open(&current_path));
        match result {
            Ok(file) => self.current = Some(file),
            Err(error) => tracing::warn!(dir = %self.dir.display(), %error, "event history: rotation failed"),
        }
        self.events.drain(..self.in_previous);
        self.in_previous = self.events.len();
    }
}

/// The events of one segment; a missing file is an empty one, and lines that do not parse (a torn write, a
/// format of another version) are skipped.
fn read_segment(path: &Path) -> Result<Vec<EventMessage>, EventLogError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io(path)(error)),
    };
    let mut events = Vec::new();
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(io(path))?;
        match serde_json::from_slice::<EventMessage>(&line) {
            Ok(event) => events.push(event),
            Err(error) => tracing::warn!(path = %path.display(), %error, "event history: line skipped"),
        }
    }
    Ok(events)
}

/// A crash in the middle of a write leaves a last line without its newline: cut it, or the next append would
/// continue it.
fn cut_torn_tail(path: &Path) -> Result<(), EventLogError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io(path)(error)),
    };
    if bytes.last().is_none_or(|last| *last == b'\n') {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|byte| *byte == b'\n').map_or(0, |newline| newline + 1);
    tracing::warn!(path = %path.display(), "event history: torn last line cut");
    let file = OpenOptions::new().write(true).open(path).map_err(io(path))?;
    file.set_len(keep as u64).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str) -> EventMessage {
        EventMessage { action: Some(action.into()), time_nano: Some(1), ..Default::default() }
    }

    fn actions(log: &EventLog) -> Vec<String> {
        log.events().iter().map(|e| e.action.clone().unwrap_or_default()).collect()
    }

    #[test]
    fn keeps_two_segments_and_reopens_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), 3).unwrap();
        for n in 0..8 {
            log.append(&event(&n.to_string()));
        }
        // Segments: [3 4 5] previous, [6 7] current; 0..2 went with the first rotation's previous.
        assert_eq!(actions(&log), ["3", "4", "5", "6", "7"]);
        drop(log);
        let log = EventLog::open(dir.path(), 3).unwrap();
        assert_eq!(actions(&log), ["3", "4", "5", "6", "7"]);
    }

    #[test]
    fn a_torn_last_line_is_cut_and_appends_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), 10).unwrap();
        log.append(&event("a"));
        log.append(&event("b"));
        drop(log);
        let current = dir.path().join(CURRENT);
        let mut bytes = std::fs::read(&current).unwrap();
        bytes.truncate(bytes.len() - 5);
        std::fs::write(&current, &bytes).unwrap();
        let mut log = EventLog::open(dir.path(), 10).unwrap();
        assert_eq!(actions(&log), ["a"]);
        log.append(&event("c"));
        drop(log);
        assert_eq!(actions(&EventLog::open(dir.path(), 10).unwrap()), ["a", "c"]);
    }

    #[test]
    fn a_smaller_bound_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), 4).unwrap();
        for n in 0..7 {
            log.append(&event(&n.to_string()));
        }
        assert_eq!(actions(&log), ["0", "1", "2", "3", "4", "5", "6"]);
        drop(log);
        // previous [0 1 2 3] cut to its newest 2; current [4 5 6] is full at 2, so it rotates at once.
        let mut log = EventLog::open(dir.path(), 2).unwrap();
        assert_eq!(actions(&log), ["4", "5", "6"]);
        log.append(&event("7"));
        assert_eq!(actions(&log), ["4", "5", "6", "7"]);
        // The previous segment is still the old run's 3; the next rotation brings the bound back to 2.
        log.append(&event("8"));
        log.append(&event("9"));
        assert_eq!(actions(&log), ["7", "8", "9"]);
    }

    #[test]
    fn missing_files_are_an_empty_history() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events"), 5).unwrap();
        assert!(log.events().is_empty());
    }
}
