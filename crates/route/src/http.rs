//! HTTP/1.1 proxying with hyper: each request of a client's keep-alive connection chosen on its own, sent over a
//! pool of kept-alive connections to the backends, bodies streamed both ways. A backend that cannot be reached
//! is taken out of the choice and a request without a body tries the next one; one that dies mid-answer gives
//! the client a 502 (before the head) or a broken-off body, never a wait without end. In shadow mode the request
//! (up to [`SHADOW_BODY_LIMIT`]) goes to both backends and the two answers are hashed and compared.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use berth_shared::api::routes::Sticky;

use super::backend::Backend;
use super::route::Shared;
use super::rule::RequestFacts;
use super::shadow::Answer;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;
pub(crate) type Client = hyper_util::client::legacy::Client<HttpConnector, ProxyBody>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A backend that accepted the request but sends no answer's head in this time gets the client a 504.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// Request bodies up to this size are copied to the shadow; larger ones go to the primary alone.
pub(crate) const SHADOW_BODY_LIMIT: u64 = 1 << 20;

/// Hop-by-hop headers (RFC 9110 7.6.1): for one connection, never passed on.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub(crate) fn client() -> Client {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build(connector)
}

pub(crate) async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let stop = shared.stop.clone();
    let service = hyper::service::service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(shared, request, peer).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        outcome = connection.as_mut() => {
            if let Err(error) = outcome {
                tracing::debug!(%peer, %error, "client connection");
            }
        }
        _ = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), connection).await;
        }
    }
}

/// What is sent on to a backend of a request: the same for each try and for the shadow.
#[derive(Clone)]
struct Head {
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>, peer: SocketAddr) -> Response<ProxyBody> {
    let (parts, body) = request.into_parts();
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    if let Ok(value) = HeaderValue::from_str(&peer.ip().to_string()) {
        headers.append(HeaderName::from_static("x-forwarded-for"), value);
    }
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let head = Head { method: parts.method, path_and_query, headers };
    if let Some((primary, shadow)) = shared.shadow_pair() {
        return shadowed(&shared, head, body, primary, shadow).await;
    }
    let replayable = body.is_end_stream();
    let mut body = Some(body);
    let mut excluded = Vec::new();
    loop {
        let choice = {
            let path = head.path_and_query.split('?').next().unwrap_or("/");
            let facts = RequestFacts { path, headers: &head.headers };
            shared.choose(Some(&facts), &excluded)
        };
        let Some(choice) = choice else {
            return match excluded.is_empty() {
                true => error_response(&shared, StatusCode::SERVICE_UNAVAILABLE, "no healthy backend"),
                false => error_response(&shared, StatusCode::BAD_GATEWAY, "no backend could be reached"),
            };
        };
        let backend = shared.backends[choice.backend].clone();
        let outgoing = match (replayable, body.take()) {
            (false, Some(body)) => body.map_err(BoxError::from).boxed_unsync(),
            _ => Empty::new().map_err(|never| match never {}).boxed_unsync(),
        };
        match send(&shared, &backend, &head, outgoing).await {
            Sent::Answer(response) => {
                let cookie = match (&choice.set_cookie, shared.state.read().map(|s| s.table.sticky.clone())) {
                    (Some(value), Ok(Some(Sticky::Cookie(name)))) => {
                        HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax")).ok()
                    }
                    _ => None,
                };
                return relay(response, backend, cookie);
            }
            Sent::ConnectFailed(why) if replayable => {
                tracing::debug!(route = %shared.name, backend = %backend.name, why, "trying another backend");
                excluded.push(choice.backend);
            }
            Sent::ConnectFailed(why) => return error_response(&shared, StatusCode::BAD_GATEWAY, &why),
            Sent::Failed(status, why) => return error_response(&shared, status, &why),
        }
    }
}

enum Sent {
    Answer(Response<Incoming>),
    /// Nothing reached the backend: another one may take the request.
    ConnectFailed(String),
    Failed(StatusCode, String),
}

async fn send(shared: &Shared, backend: &Backend, head: &Head, body: ProxyBody) -> Sent {
    let Some(addr) = backend.addr() else {
        return Sent::ConnectFailed(format!("backend {} has no address", backend.name));
    };
    let request = Request::builder().method(head.method.clone()).uri(format!("http://{addr}{}", head.path_and_query));
    let mut request = match request.body(body) {
        Ok(request) => request,
        Err(error) => return Sent::Failed(StatusCode::BAD_REQUEST, format!("the request cannot be sent on: {error}")),
    };
    *request.headers_mut() = head.headers.clone();
    let started = Instant::now();
    let _active = backend.stats.begin();
    let drain = backend.drain_token();
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(ANSWER_TIMEOUT, shared.client.request(request)) => Some(outcome),
        _ = drain.cancelled() => None,
    };
    match outcome {
        None => {
            backend.stats.record(started.elapsed(), true);
            Sent::Failed(StatusCode::BAD_GATEWAY, format!("backend {} was drained before it answered", backend.name))
        }
        Some(Err(_)) => {
            backend.stats.record(started.elapsed(), true);
            Sent::Failed(
                StatusCode::GATEWAY_TIMEOUT,
                format!("backend {} sent no answer within {}s", backend.name, ANSWER_TIMEOUT.as_secs()),
            )
        }
        Some(Ok(Err(error))) if error.is_connect() => {
            let why = format!("connect to backend {} at {addr}: {}", backend.name, causes(&error));
            backend.stats.record_connect_failure();
            backend.connect_failed(Some(why.clone()));
            Sent::ConnectFailed(why)
        }
        Some(Ok(Err(error))) => {
            backend.stats.record(started.elapsed(), true);
            Sent::Failed(StatusCode::BAD_GATEWAY, format!("backend {} at {addr}: {}", backend.name, causes(&error)))
        }
        Some(Ok(Ok(response))) => {
            backend.stats.record(started.elapsed(), response.status().is_server_error());
            Sent::Answer(response)
        }
    }
}

/// An error with its sources, as hyper's own words are only the outermost ("client error (Connect)").
fn causes(error: &dyn std::error::Error) -> String {
    let mut words = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        words.push_str(": ");
        words.push_str(&cause.to_string());
        source = cause.source();
    }
    words
}

fn relay<B>(response: Response<B>, backend: Arc<Backend>, cookie: Option<HeaderValue>) -> Response<ProxyBody>
where
    B: Body<Data = Bytes, Error = hyper::Error> + Send + 'static,
{
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if let Some(cookie) = cookie {
        parts.headers.append(SET_COOKIE, cookie);
    }
    let body = body
        .map_err(move |error| {
            backend.stats.record_broken_body();
            BoxError::from(error)
        })
        .boxed_unsync();
    Response::from_parts(parts, body)
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn error_response(shared: &Shared, status: StatusCode, why: &str) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(format!("berth route {}: {why}\n", shared.name)));
    let mut response = Response::new(body.map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

async fn shadowed(
    shared: &Arc<Shared>,
    head: Head,
    body: Incoming,
    primary: usize,
    shadow: usize,
) -> Response<ProxyBody> {
    let primary_backend = shared.backends[primary].clone();
    let shadow_backend = shared.backends[shadow].clone();
    let fits = body.size_hint().upper().is_some_and(|n| n <= SHADOW_BODY_LIMIT);
    if !primary_backend.healthy() {
        shared.shadow.skipped();
        return error_response(shared, StatusCode::SERVICE_UNAVAILABLE, "the primary backend is not healthy");
    }
    if !fits || !shadow_backend.healthy() {
        shared.shadow.skipped();
        return match send(shared, &primary_backend, &head, body.map_err(BoxError::from).boxed_unsync()).await {
            Sent::Answer(response) => relay(response, primary_backend, None),
            Sent::ConnectFailed(why) => error_response(shared, StatusCode::BAD_GATEWAY, &why),
            Sent::Failed(status, why) => error_response(shared, status, &why),
        };
    }
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return error_response(shared, StatusCode::BAD_REQUEST, &format!("reading the request body: {error}"))
        }
    };
    let started = Instant::now();
    let (shadow_tx, shadow_rx) = oneshot::channel();
    {
        let shared = shared.clone();
        let head = head.clone();
        let bytes = bytes.clone();
        tokio::spawn(async move {
            let body = Full::new(bytes).map_err(|never| match never {}).boxed_unsync();
            let answer = match send(&shared, &shadow_backend, &head, body).await {
                Sent::Answer(response) => read_hashed(response, started).await,
                _ => Answer::none(elapsed_ms(started)),
            };
            let _ = shadow_tx.send(answer);
        });
    }
    let (primary_tx, primary_rx) = oneshot::channel();
    let body = Full::new(bytes).map_err(|never| match never {}).boxed_unsync();
    let response = match send(shared, &primary_backend, &head, body).await {
        Sent::Answer(response) => response,
        Sent::ConnectFailed(why) => {
            let _ = primary_tx.send(Answer::none(elapsed_ms(started)));
            compare_later(shared, &head, primary_rx, shadow_rx);
            return error_response(shared, StatusCode::BAD_GATEWAY, &why);
        }
        Sent::Failed(status, why) => {
            let _ = primary_tx.send(Answer::none(elapsed_ms(started)));
            compare_later(shared, &head, primary_rx, shadow_rx);
            return error_response(shared, status, &why);
        }
    };
    compare_later(shared, &head, primary_rx, shadow_rx);
    let (parts, body) = response.into_parts();
    let hashed = Hashed::new(body, parts.status.as_u16(), started, primary_tx);
    relay(Response::from_parts(parts, hashed), primary_backend, None)
}

fn compare_later(
    shared: &Arc<Shared>,
    head: &Head,
    primary: oneshot::Receiver<Answer>,
    shadow: oneshot::Receiver<Answer>,
) {
    let shared = shared.clone();
    let method = head.method.to_string();
    let path = head.path_and_query.clone();
    tokio::spawn(async move {
        let wait = ANSWER_TIMEOUT * 2;
        let (primary, shadow) = tokio::join!(tokio::time::timeout(wait, primary), tokio::time::timeout(wait, shadow));
        match (primary, shadow) {
            (Ok(Ok(primary)), Ok(Ok(shadow))) => shared.shadow.compare(&method, &path, &primary, &shadow),
            _ => shared.shadow.skipped(),
        }
    });
}

async fn read_hashed(response: Response<Incoming>, started: Instant) -> Answer {
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut hasher = Sha256::new();
    let read = tokio::time::timeout(ANSWER_TIMEOUT, async {
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Some(data) = frame.data_ref() {
                        hasher.update(data);
                    }
                }
                Err(_) => return false,
            }
        }
        true
    })
    .await;
    match read {
        Ok(true) => Answer { status, body_sha256: hex::encode(hasher.finalize()), ms: elapsed_ms(started) },
        _ => Answer::none(elapsed_ms(started)),
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The primary's body on its way to the client, hashed as it goes; at its end the answer goes to the comparison.
/// Dropped before its end (the client went away), it sends nothing and the comparison counts it skipped.
struct Hashed {
    inner: Incoming,
    hasher: Sha256,
    status: u16,
    started: Instant,
    done: Option<oneshot::Sender<Answer>>,
}

impl Hashed {
    fn new(inner: Incoming, status: u16, started: Instant, done: oneshot::Sender<Answer>) -> Self {
        let mut hashed = Hashed { inner, hasher: Sha256::new(), status, started, done: Some(done) };
        if hashed.inner.is_end_stream() {
            hashed.finish();
        }
        hashed
    }

    fn finish(&mut self) {
        if let Some(done) = self.done.take() {
            let digest = hex::encode(std::mem::take(&mut self.hasher).finalize());
            let _ = done.send(Answer { status: self.status, body_sha256: digest, ms: elapsed_ms(self.started) });
        }
    }
}

impl Body for Hashed {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.hasher.update(data);
                }
                // hyper stops polling a body that says it ended, so the end is seen here as well as at None.
                if this.inner.is_end_stream() {
                    this.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => {
                this.done = None;
                Poll::Ready(Some(Err(error)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
