//! The syslog driver's messages, byte for byte as dockerd's (moby daemon/logger/syslog, through RackSec/srslog):
//! PRI is the facility with severity info (6) for stdout and err (3) for stderr; every message ends with a
//! newline, which is also the framing on a stream (srslog's DefaultFramer: no octet counting, which dockerd uses
//! only for RFC 5424 over TLS).

use std::io::Write;

use chrono::{DateTime, Local, SecondsFormat};
use serde::{Deserialize, Serialize};

use super::log_driver::LogAddress;
use super::protocol::STDERR;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyslogFormat {
    /// No `syslog-format`: srslog's UnixFormatter, `<PRI>Mmm dd hh:mm:ss tag[pid]: msg`.
    Unix,
    /// `<PRI>Mmm dd hh:mm:ss host tag[pid]: msg`.
    Rfc3164,
    /// `<PRI>1 2006-01-02T15:04:05Z07:00 host tag pid tag - msg`.
    Rfc5424,
    /// RFC 5424 with microseconds in the timestamp.
    Rfc5424Micro,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyslogConfig {
    pub address: LogAddress,
    pub format: SyslogFormat,
    /// The facility's code (0..=23; `daemon`, 3, when not given).
    pub facility: u8,
    /// The tag, its template already applied.
    pub tag: String,
}

pub(crate) struct Syslog {
    config: SyslogConfig,
    hostname: String,
    pid: u32,
}

impl Syslog {
    pub(crate) fn new(config: SyslogConfig, hostname: String) -> Self {
        Syslog { config, hostname, pid: std::process::id() }
    }

    /// Appends one message for `line` (without its newline) to `out`.
    pub(crate) fn format(&self, out: &mut Vec<u8>, stream: u8, line: &[u8], now: DateTime<Local>) {
        let severity = if stream == STDERR { 3 } else { 6 };
        let pri = (u32::from(self.config.facility) << 3) | severity;
        let (tag, pid, host) = (&self.config.tag, self.pid, &self.hostname);
        // Go's time.Stamp, "Jan _2 15:04:05": the day padded with a space.
        let stamp = now.format("%b %e %H:%M:%S");
        // Writes into a Vec cannot fail.
        let _ = match self.config.format {
            SyslogFormat::Unix => write!(out, "<{pri}>{stamp} {tag}[{pid}]: "),
            SyslogFormat::Rfc3164 => write!(out, "<{pri}>{stamp} {host} {tag}[{pid}]: "),
            SyslogFormat::Rfc5424 => {
                let time = now.to_rfc3339_opts(SecondsFormat::Secs, true);
                write!(out, "<{pri}>1 {time} {host} {tag} {pid} {tag} - ")
            }
            SyslogFormat::Rfc5424Micro => {
                let time = now.to_rfc3339_opts(SecondsFormat::Micros, true);
                write!(out, "<{pri}>1 {time} {host} {tag} {pid} {tag} - ")
            }
        };
        out.extend_from_slice(line);
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::super::protocol::STDOUT;
    use super::*;
    use chrono::TimeZone;

    fn formatted(format: SyslogFormat, facility: u8, stream: u8) -> String {
        let config = SyslogConfig { address: LogAddress::LocalSyslog, format, facility, tag: "web/abc".into() };
        let mut syslog = Syslog::new(config, "box".into());
        syslog.pid = 42;
        let now = Local.with_ymd_and_hms(2026, 3, 7, 9, 5, 1).unwrap();
        let mut out = Vec::new();
        syslog.format(&mut out, stream, b"hello world", now);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn messages_are_srslogs() {
        assert_eq!(formatted(SyslogFormat::Unix, 3, STDOUT), "<30>Mar  7 09:05:01 web/abc[42]: hello world\n");
        assert_eq!(formatted(SyslogFormat::Rfc3164, 16, STDERR), "<131>Mar  7 09:05:01 box web/abc[42]: hello world\n");
        let rfc5424 = formatted(SyslogFormat::Rfc5424, 1, STDOUT);
        assert!(rfc5424.starts_with("<14>1 2026-03-07T09:05:01"), "{rfc5424}");
        assert!(rfc5424.ends_with(" box web/abc 42 web/abc - hello world\n"), "{rfc5424}");
        let micro = formatted(SyslogFormat::Rfc5424Micro, 1, STDOUT);
        assert!(micro.starts_with("<14>1 2026-03-07T09:05:01.000000"), "{micro}");
    }
}
