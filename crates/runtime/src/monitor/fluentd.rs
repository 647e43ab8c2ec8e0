//! The fluentd driver's messages as dockerd sends them (moby daemon/logger/fluentd over fluent-logger-golang): the
//! forward protocol's message mode, one MessagePack array `[tag, time, record, nil]` per line on a TCP or unix
//! stream (no other framing), the record `{container_id, container_name, source, log}` and the `labels`/`env`
//! fields; time in whole seconds, or an EventTime (ext type 0: seconds and nanoseconds, big-endian u32s) with
//! `fluentd-sub-second-precision=true`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::log_driver::LogAddress;
use super::protocol::STDERR;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FluentdConfig {
    /// TCP or a unix stream.
    pub address: LogAddress,
    /// The tag, its template already applied.
    pub tag: String,
    pub container_id: String,
    /// With its leading slash, as dockerd's `info.ContainerName`.
    pub container_name: String,
    /// Extra record fields (`labels`, `env`).
    pub extra: Vec<(String, String)>,
    pub sub_second_precision: bool,
}

pub(crate) struct Fluentd {
    config: FluentdConfig,
}

impl Fluentd {
    pub(crate) fn new(config: FluentdConfig) -> Self {
        Fluentd { config }
    }

    /// Appends one forward-protocol message for `line` to `out`.
    pub(crate) fn format(&self, out: &mut Vec<u8>, stream: u8, line: &[u8], time: DateTime<Utc>) {
        use rmp::encode::{write_array_len, write_ext_meta, write_map_len, write_nil, write_sint, write_str};
        // Writes into a Vec cannot fail.
        let _ = write_array_len(out, 4);
        let _ = write_str(out, &self.config.tag);
        if self.config.sub_second_precision {
            let _ = write_ext_meta(out, 8, 0);
            out.extend_from_slice(&(time.timestamp() as u32).to_be_bytes());
            out.extend_from_slice(&time.timestamp_subsec_nanos().to_be_bytes());
        } else {
            let _ = write_sint(out, time.timestamp());
        }
        let _ = write_map_len(out, 4 + self.config.extra.len() as u32);
        let text = String::from_utf8_lossy(line);
        let source = if stream == STDERR { "stderr" } else { "stdout" };
        let fields = [
            ("container_id", self.config.container_id.as_str()),
            ("container_name", self.config.container_name.as_str()),
            ("source", source),
            ("log", &text),
        ];
        for (key, value) in fields.into_iter().chain(self.config.extra.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            let _ = write_str(out, key);
            let _ = write_str(out, value);
        }
        let _ = write_nil(out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::protocol::STDOUT;
    use super::*;

    #[test]
    fn a_message_is_a_forward_mode_array() {
        let config = FluentdConfig {
            address: LogAddress::Tcp("127.0.0.1:24224".into()),
            tag: "docker.abc".into(),
            container_id: "abc".into(),
            container_name: "/web".into(),
            extra: vec![("team".into(), "blue".into())],
            sub_second_precision: false,
        };
        let time = DateTime::from_timestamp(1_700_000_000, 5).unwrap();
        let mut out = Vec::new();
        Fluentd::new(config.clone()).format(&mut out, STDOUT, b"hi", time);
        let mut expected = vec![0x94, 0xaa];
        expected.extend_from_slice(b"docker.abc");
        expected.extend_from_slice(&[0xce, 0x65, 0x53, 0xf1, 0x00, 0x85]);
        for (k, v) in
            [("container_id", "abc"), ("container_name", "/web"), ("source", "stdout"), ("log", "hi"), ("team", "blue")]
        {
            expected.push(0xa0 | k.len() as u8);
            expected.extend_from_slice(k.as_bytes());
            expected.push(0xa0 | v.len() as u8);
            expected.extend_from_slice(v.as_bytes());
        }
        expected.push(0xc0);
        assert_eq!(out, expected);

        let mut out = Vec::new();
        Fluentd::new(FluentdConfig { sub_second_precision: true, ..config }).format(&mut out, STDOUT, b"hi", time);
        assert_eq!(&out[12..22], &[0xd7, 0x00, 0x65, 0x53, 0xf1, 0x00, 0, 0, 0, 5], "EventTime: fixext 8, type 0");
    }
}
