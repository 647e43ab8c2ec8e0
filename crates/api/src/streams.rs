//! Docker's stream plumbing: the HTTP/1.1 hijack (101 UPGRADED) for attach and exec, the 8-byte multiplexing
//! header for non-tty streams, and chunked streaming bodies.

use std::future::Future;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use berth_engine::StreamKind;

pub const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";
pub const RAW: &str = "application/vnd.docker.raw-stream";

/// Frames `payload` for a non-tty stream: `[stream, 0, 0, 0, len(u32 BE)] + payload`; raw with a tty.
pub fn frame(tty: bool, stream: StreamKind, payload: &[u8]) -> Bytes {
    if tty {
        return Bytes::copy_from_slice(payload);
    }
    let mut framed = BytesMut::with_capacity(8 + payload.len());
    framed.put_u8(stream as u8);
    framed.put_bytes(0, 3);
    framed.put_u32(payload.len() as u32);
    framed.put_slice(payload);
    framed.freeze()
}

pub fn wants_upgrade(request: &Request) -> bool {
    request.headers().get(header::UPGRADE).is_some()
}

/// Answers with `101 UPGRADED` and runs `session` on the raw connection once hyper hands it over.
pub fn hijack<F, Fut>(request: &mut Request, tty: bool, session: F) -> Response
where
    F: FnOnce(Box<dyn AsyncReadWrite>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let on_upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => session(Box::new(TokioIo::new(upgraded))).await,
            Err(err) => tracing::debug!(%err, "hijack failed"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(if tty { RAW } else { MULTIPLEXED }));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    response
}

/// A 200 response with a streaming body of the given content type.
pub fn streaming(content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub trait AsyncReadWrite: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> AsyncReadWrite for T {}

/// A chunked body fed from a channel of byte chunks.
pub fn channel_body(receiver: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    Body::from_stream(stream)
}

/// A `std::io::Write` that forwards into a channel, for blocking producers (tar writers) feeding a response body.
pub struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<Bytes>,
}

impl ChannelWriter {
    pub fn new(sender: tokio::sync::mpsc::Sender<Bytes>) -> Self {
        ChannelWriter { sender }
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sender
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_stream_and_big_endian_length() {
        let framed = frame(false, StreamKind::Stderr, b"hi");
        assert_eq!(&framed[..], &[2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
        assert_eq!(&frame(true, StreamKind::Stderr, b"hi")[..], b"hi");
    }
}
