//! The journald driver's entries as dockerd sends them (moby daemon/logger/journald over go-systemd's journal.Send):
//! one datagram per line to journald's native socket, `KEY=value` lines, or `KEY`, a little-endian u64 length,
//! the value and a newline for a value that holds a newline. MESSAGE and PRIORITY (6 stdout, 3 stderr) first, then
//! the container's fields, SYSLOG_TIMESTAMP (RFC 3339 with nanoseconds) and CONTAINER_LOG_ORDINAL (1, 2, ...
//! within CONTAINER_LOG_EPOCH, a random id per start).

use std::io::Read;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::protocol::STDERR;

/// journald's socket for native entries (sd_journal_send's).
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournaldConfig {
    /// The fields every entry carries (CONTAINER_ID, CONTAINER_NAME, CONTAINER_TAG, ..., `labels`/`env`).
    pub fields: Vec<(String, String)>,
}

pub(crate) struct Journald {
    config: JournaldConfig,
    epoch: String,
    ordinal: u64,
}

impl Journald {
    pub(crate) fn new(config: JournaldConfig) -> Self {
        let mut random = [0u8; 32];
        // Without /dev/urandom the epoch is still unique enough for one container's starts: the time.
        if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut random)).is_err() {
            random[..16].copy_from_slice(&Utc::now().timestamp_nanos_opt().unwrap_or(0).to_le_bytes().repeat(2));
        }
        let epoch = random.iter().map(|b| format!("{b:02x}")).collect();
        Journald { config, epoch, ordinal: 0 }
    }

    /// Appends one entry for `line` to `out`.
    pub(crate) fn format(&mut self, out: &mut Vec<u8>, stream: u8, line: &[u8], time: DateTime<Utc>) {
        self.ordinal += 1;
        put(out, "MESSAGE", line);
        put(out, "PRIORITY", if stream == STDERR { b"3" } else { b"6" });
        for (key, value) in &self.config.fields {
            put(out, key, value.as_bytes());
        }
        put(out, "CONTAINER_LOG_EPOCH", self.epoch.as_bytes());
        put(out, "SYSLOG_TIMESTAMP", time.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
        put(out, "CONTAINER_LOG_ORDINAL", self.ordinal.to_string().as_bytes());
    }
}

fn put(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.extend_from_slice(key.as_bytes());
    if value.contains(&b'\n') {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::super::protocol::STDOUT;
    use super::*;

    #[test]
    fn entries_are_native_protocol_fields() {
        let config = JournaldConfig { fields: vec![("CONTAINER_TAG".into(), "web".into())] };
        let mut journald = Journald::new(config);
        let time = DateTime::from_timestamp(1_700_000_000, 5).unwrap();
        let mut out = Vec::new();
        journald.format(&mut out, STDOUT, b"hi", time);
        let text = String::from_utf8(out).unwrap();
        let expected = format!(
            "MESSAGE=hi\nPRIORITY=6\nCONTAINER_TAG=web\nCONTAINER_LOG_EPOCH={}\nSYSLOG_TIMESTAMP=2023-11-14T22:13:20.000000005Z\nCONTAINER_LOG_ORDINAL=1\n",
            journald.epoch
        );
        assert_eq!(text, expected);
        assert_eq!(journald.epoch.len(), 64);
        let mut binary = Vec::new();
        put(&mut binary, "MESSAGE", b"a\nb");
        assert_eq!(binary, b"MESSAGE\n\x03\0\0\0\0\0\0\0a\nb\n");
    }
}
