//! The GELF driver's messages as dockerd sends them (moby daemon/logger/gelf over Graylog's go-gelf): a JSON
//! object with version 1.1, host, short_message, timestamp (seconds, millisecond precision), level (6 stdout, 3
//! stderr) and the `_`-fields naming the container. Over UDP it is compressed (gzip at flate's best speed unless
//! told otherwise) and, when the result is over 1,420 bytes, cut into chunks of 1,408 bytes behind a 12-byte
//! header (magic 0x1e 0x0f, an 8-byte message id, sequence number, count; at most 128 chunks, else the message
//! is dropped). Over TCP it is plain JSON ended by a NUL byte (the framing is the transport's).

use std::io::Write;

use chrono::{DateTime, Utc};
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use serde::{Deserialize, Serialize};

use super::log_driver::LogAddress;
use super::protocol::STDERR;

/// go-gelf's ChunkSize: a datagram that fits a 1,500-byte MTU.
const CHUNK_SIZE: usize = 1420;
const CHUNK_HEADER: usize = 12;
const MAX_CHUNKS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GelfCompression {
    Gzip,
    Zlib,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GelfConfig {
    /// UDP or TCP.
    pub address: LogAddress,
    /// UDP only (TCP is never compressed).
    pub compression: GelfCompression,
    /// flate's level, -1 (default) to 9; go-gelf's default is 1 (best speed).
    pub compression_level: i32,
    /// The fields after the standard ones (`_container_id`, `_tag`, ...), as the engine made them.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct Message<'a> {
    version: &'static str,
    host: &'a str,
    short_message: &'a str,
    timestamp: f64,
    level: u8,
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, serde_json::Value>,
}

pub(crate) struct Gelf {
    config: GelfConfig,
    hostname: String,
    json: Vec<u8>,
    compressed: Vec<u8>,
    chunk: Vec<u8>,
    /// Makes message ids unique within this monitor; the pid and the start time make them unique across.
    counter: u64,
    id_base: u64,
}

impl Gelf {
    pub(crate) fn new(config: GelfConfig, hostname: String) -> Self {
        let started = Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64;
        let id_base = started ^ (u64::from(std::process::id()) << 40);
        Gelf { config, hostname, json: Vec::new(), compressed: Vec::new(), chunk: Vec::new(), counter: 0, id_base }
    }

    /// Hands `send` the datagrams (or the one stream message) for `line`.
    pub(crate) fn send(
        &mut self,
        stream: u8,
        line: &[u8],
        time: DateTime<Utc>,
        datagram: bool,
        mut send: impl FnMut(&[u8]),
    ) {
        self.json.clear();
        let text = String::from_utf8_lossy(line);
        let millis = time.timestamp_millis();
        let message = Message {
            version: "1.1",
            host: &self.hostname,
            short_message: &text,
            timestamp: millis as f64 / 1000.0,
            level: if stream == STDERR { 3 } else { 6 },
            extra: &self.config.extra,
        };
        if serde_json::to_writer(&mut self.json, &message).is_err() {
            return;
        }
        if !datagram {
            return send(&self.json);
        }
        let level = if self.config.compression_level < 0 {
            Compression::default()
        } else {
            Compression::new(self.config.compression_level.min(9) as u32)
        };
        let payload: &[u8] = match self.config.compression {
            GelfCompression::None => &self.json,
            GelfCompression::Gzip => {
                self.compressed.clear();
                let mut encoder = GzEncoder::new(&mut self.compressed, level);
                if encoder.write_all(&self.json).and_then(|()| encoder.finish().map(drop)).is_err() {
                    return;
                }
                &self.compressed
            }
            GelfCompression::Zlib => {
                self.compressed.clear();
                let mut encoder = ZlibEncoder::new(&mut self.compressed, level);
                if encoder.write_all(&self.json).and_then(|()| encoder.finish().map(drop)).is_err() {
                    return;
                }
                &self.compressed
            }
        };
        if payload.len() <= CHUNK_SIZE {
            return send(payload);
        }
        let data_per_chunk = CHUNK_SIZE - CHUNK_HEADER;
        let count = payload.len().div_ceil(data_per_chunk);
        if count > MAX_CHUNKS {
            return;
        }
        self.counter += 1;
        let id = (self.id_base ^ self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_be_bytes();
        for (sequence, data) in payload.chunks(data_per_chunk).enumerate() {
            self.chunk.clear();
            self.chunk.extend_from_slice(&[0x1e, 0x0f]);
            self.chunk.extend_from_slice(&id);
            self.chunk.extend_from_slice(&[sequence as u8, count as u8]);
            self.chunk.extend_from_slice(data);
            send(&self.chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::protocol::STDOUT;
    use super::*;
    use std::io::Read;

    fn gelf(compression: GelfCompression) -> Gelf {
        let mut extra = serde_json::Map::new();
        extra.insert("_tag".into(), "abc".into());
        let config =
            GelfConfig { address: LogAddress::Udp("127.0.0.1:1".into()), compression, compression_level: 1, extra };
        Gelf::new(config, "box".into())
    }

    #[test]
    fn a_short_message_is_one_gzipped_datagram() {
        let mut gelf = gelf(GelfCompression::Gzip);
        let time = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let mut datagrams = Vec::new();
        gelf.send(STDERR, b"oops", time, true, |d| datagrams.push(d.to_vec()));
        assert_eq!(datagrams.len(), 1);
        let mut json = String::new();
        flate2::read::GzDecoder::new(&datagrams[0][..]).read_to_string(&mut json).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["version"], "1.1");
        assert_eq!(value["host"], "box");
        assert_eq!(value["short_message"], "oops");
        assert_eq!(value["level"], 3);
        assert_eq!(value["_tag"], "abc");
        assert_eq!(value["timestamp"].as_f64(), Some(1_700_000_000.123));
    }

    #[test]
    fn a_long_message_is_chunked_and_reassembles() {
        let mut gelf = gelf(GelfCompression::None);
        let line = vec![b'y'; 5000];
        let mut datagrams = Vec::new();
        gelf.send(STDOUT, &line, Utc::now(), true, |d| datagrams.push(d.to_vec()));
        assert!(datagrams.len() >= 4, "{}", datagrams.len());
        let mut whole = Vec::new();
        for (n, datagram) in datagrams.iter().enumerate() {
            assert!(datagram.len() <= CHUNK_SIZE);
            assert_eq!(&datagram[..2], &[0x1e, 0x0f]);
            assert_eq!(&datagram[2..10], &datagrams[0][2..10], "one message id");
            assert_eq!((datagram[10] as usize, datagram[11] as usize), (n, datagrams.len()));
            whole.extend_from_slice(&datagram[12..]);
        }
        let value: serde_json::Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(value["short_message"].as_str().map(str::len), Some(5000));
        let mut over_tcp = Vec::new();
        gelf.send(STDOUT, b"x", Utc::now(), false, |d| over_tcp = d.to_vec());
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&over_tcp).unwrap()["short_message"], "x");
    }
}
