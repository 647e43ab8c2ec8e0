//! Plain HTTP/1.0 GETs on an engine's unix socket, for what the docker CLI has no command for (readiness pings,
//! Berth's own endpoints), and on a local TCP port (the bench's registry). HTTP/1.0 so that the answer is neither
//! chunked nor kept alive: read to EOF and done.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON, when it is JSON (the web app's HTML fallback is not).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

pub fn get(socket: &Path, path: &str, timeout: Duration) -> Result<Response> {
    request(socket, "GET", path, timeout)
}

/// A GET and how long it took to answer in full (what a timed figure of one request measures).
pub fn timed_get(socket: &Path, path: &str, timeout: Duration) -> Result<(Response, Duration)> {
    let started = std::time::Instant::now();
    let response = get(socket, path, timeout)?;
    Ok((response, started.elapsed()))
}

/// A request with an empty body: `POST /build` with no context answers 404 where there is no builder, and an
/// error about the missing context where there is one.
pub fn post_empty(socket: &Path, path: &str, timeout: Duration) -> Result<Response> {
    request(socket, "POST", path, timeout)
}

/// `POST path` with a JSON body: what the docker CLI would take a process per request for (the bench's bulk
/// creates).
pub fn post_json(socket: &Path, path: &str, body: &serde_json::Value, timeout: Duration) -> Result<Response> {
    let mut stream = UnixStream::connect(socket).with_context(|| format!("connecting to {}", socket.display()))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).with_context(|| format!("reading the answer to POST {path}"))?;
    parse_response(&response).with_context(|| format!("malformed answer to POST {path}"))
}

/// `GET path` on `address` (`127.0.0.1:PORT`).
pub fn get_tcp(address: &str, path: &str, timeout: Duration) -> Result<Response> {
    let stream = TcpStream::connect(address).with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    exchange(stream, "GET", path)
}

pub fn delete(socket: &Path, path: &str, timeout: Duration) -> Result<Response> {
    request(socket, "DELETE", path, timeout)
}

fn request(socket: &Path, method: &str, path: &str, timeout: Duration) -> Result<Response> {
    let stream = UnixStream::connect(socket).with_context(|| format!("connecting to {}", socket.display()))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    exchange(stream, method, path)
}

fn exchange(mut stream: impl Read + Write, method: &str, path: &str) -> Result<Response> {
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).with_context(|| format!("reading the answer to {method} {path}"))?;
    parse_response(&response).with_context(|| format!("malformed answer to {method} {path}"))
}

fn parse_response(response: &[u8]) -> Option<Response> {
    let head_end = response.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..head_end]).ok()?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(Response { status, body: response[head_end + 4..].to_vec() })
}

/// Whether the engine answers `GET /_ping` with 200.
pub fn ping(socket: &Path) -> bool {
    get(socket, "/_ping", Duration::from_secs(5)).is_ok_and(|response| response.status == 200)
}

#[cfg(test)]
mod tests {
    use super::parse_response;

    #[test]
    fn splits_status_and_body() {
        let response = parse_response(b"HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"a\":1}")
            .expect("a well-formed response");
        assert_eq!(response.status, 404);
        assert_eq!(response.body, b"{\"a\":1}");
        assert!(parse_response(b"HTTP/1.0 200 OK\r\n").is_none());
    }
}
