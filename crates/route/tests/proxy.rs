//! The router against real loopback sockets: small HTTP and echo backends written here, a raw client, and each
//! mode's promise checked by what the backends answered.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_route::{BackendSpec, Route, RouteError, RouteSpec};
use berth_shared::api::routes::{OnFailure, RampGuard, RampPhase, RouteMode, RouteProtocol, Sticky};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An HTTP/1.1 backend answering every request with `body` (or `alternate` for paths starting with /diff) and
/// the status in `status`, keeping connections alive.
async fn http_backend(body: &'static str, alternate: Option<&'static str>, status: Arc<AtomicU16>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let status = status.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let n = match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buffer.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buffer[..end]).to_string();
                        buffer.drain(..end + 4);
                        let path = head.split(' ').nth(1).unwrap_or("/");
                        let text = match alternate {
                            Some(other) if path.starts_with("/diff") => other,
                            _ => body,
                        };
                        let code = status.load(Ordering::Relaxed);
                        let answer = format!("HTTP/1.1 {code} X\r\nContent-Length: {}\r\n\r\n{text}", text.len());
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

fn ok() -> Arc<AtomicU16> {
    Arc::new(AtomicU16::new(200))
}

/// A port nothing listens on.
async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

struct Answer {
    status: u16,
    body: String,
    head: String,
}

async fn get(route: SocketAddr, path: &str, extra_headers: &str) -> Answer {
    let mut stream = TcpStream::connect(route).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra_headers}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Answer { status, body: body.to_string(), head: head.to_string() }
}

fn spec(mode: RouteMode, backends: &[(&str, SocketAddr)]) -> RouteSpec {
    RouteSpec {
        name: "test".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        protocol: RouteProtocol::Http,
        backends: backends.iter().map(|(n, a)| BackendSpec { name: n.to_string(), addr: Some(*a) }).collect(),
        mode,
        previous: None,
        ramp: None,
    }
}

fn weights(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(n, w)| (n.to_string(), *w)).collect()
}

#[tokio::test]
async fn blue_green_switches_without_losing_a_request_and_rolls_back() {
    let blue = http_backend("blue", None, ok()).await;
    let green = http_backend("green", None, ok()).await;
    let route = Route::start(spec(
        RouteMode::BlueGreen { live: "blue".into(), drain_ms: 500 },
        &[("blue", blue), ("green", green)],
    ))
    .await
    .unwrap();
    let addr = route.local_addr();
    let load = tokio::spawn(async move {
        let mut bodies = Vec::new();
        for _ in 0..300 {
            let answer = get(addr, "/", "").await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            bodies.push(answer.body);
        }
        bodies
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    route.switch("green", false).await.unwrap();
    let bodies = load.await.unwrap();
    assert_eq!(bodies.len(), 300);
    let first_green = bodies.iter().position(|b| b == "green").expect("the switch reached the load");
    assert!(bodies[first_green..].iter().all(|b| b == "green"), "after the switch everything goes to green");
    route.rollback().unwrap();
    assert_eq!(get(addr, "/", "").await.body, "blue");
    let snapshot = route.snapshot();
    assert_eq!(snapshot.backends[0].counters.requests + snapshot.backends[1].counters.requests, 301);
    assert_eq!(snapshot.backends[0].counters.errors, 0);
}

#[tokio::test]
async fn a_switch_to_an_unhealthy_green_is_refused_unless_forced() {
    let blue = http_backend("blue", None, ok()).await;
    let green = dead_addr().await;
    let route = Route::start(spec(
        RouteMode::BlueGreen { live: "blue".into(), drain_ms: 0 },
        &[("blue", blue), ("green", green)],
    ))
    .await
    .unwrap();
    let refused = route.switch("green", false).await.unwrap_err();
    assert!(matches!(refused, RouteError::Unhealthy { .. }), "{refused}");
    assert!(route.rollback().is_err(), "nothing to roll back to yet");
    route.switch("green", true).await.unwrap();
    // Green is live but dead: a request without a body goes on to blue rather than failing.
    let answer = get(route.local_addr(), "/", "").await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "blue"));
}

#[tokio::test]
async fn weights_of_80_20_land_within_5_points_and_a_dead_backend_gets_none() {
    let a = http_backend("a", None, ok()).await;
    let b = http_backend("b", None, ok()).await;
    let mode = RouteMode::Weighted { weights: weights(&[("a", 80), ("b", 20)]), sticky: None, rules: vec![] };
    let route = Route::start(spec(mode, &[("a", a), ("b", b)])).await.unwrap();
    let mut to_b = 0;
    for _ in 0..1000 {
        if get(route.local_addr(), "/", "").await.body == "b" {
            to_b += 1;
        }
    }
    assert!((150..=250).contains(&to_b), "b got {to_b} of 1000");
    assert!(route.set_weights(weights(&[("a", 50), ("b", 40)])).is_err());

    let dead = dead_addr().await;
    let mode = RouteMode::Weighted { weights: weights(&[("a", 50), ("dead", 50)]), sticky: None, rules: vec![] };
    let route = Route::start(spec(mode, &[("a", a), ("dead", dead)])).await.unwrap();
    for _ in 0..50 {
        let answer = get(route.local_addr(), "/", "").await;
        assert_eq!((answer.status, answer.body.as_str()), (200, "a"));
    }
    let snapshot = route.snapshot();
    assert!(!snapshot.backends[1].healthy);
    assert_eq!(snapshot.backends[1].counters.connect_failures, 1, "one failed connect takes it out");
}

#[tokio::test]
async fn a_sticky_cookie_holds_and_rules_pick_their_backend() {
    let a = http_backend("a", None, ok()).await;
    let b = http_backend("b", None, ok()).await;
    let mode = RouteMode::Weighted {
        weights: weights(&[("a", 50), ("b", 50)]),
        sticky: Some(Sticky::Cookie("lane".into())),
        rules: vec![berth_shared::api::routes::RouteRule { when: "header:X-Beta=1".into(), backend: "b".into() }],
    };
    let route = Route::start(spec(mode, &[("a", a), ("b", b)])).await.unwrap();
    let first = get(route.local_addr(), "/", "").await;
    let cookie = first.head.lines().find_map(|l| l.strip_prefix("set-cookie: ")).expect("a sticky cookie").to_string();
    assert!(cookie.starts_with(&format!("lane={}", first.body)), "{cookie}");
    let pair = cookie.split(';').next().unwrap();
    for _ in 0..50 {
        let answer = get(route.local_addr(), "/", &format!("Cookie: {pair}\r\n")).await;
        assert_eq!(answer.body, first.body);
        assert!(!answer.head.contains("set-cookie"), "a held cookie is not set again");
    }
    for _ in 0..20 {
        assert_eq!(get(route.local_addr(), "/", "X-Beta: 1\r\n").await.body, "b");
    }
}

#[tokio::test]
async fn a_ramp_rolls_back_by_itself_when_the_new_backend_fails() {
    let old = http_backend("old", None, ok()).await;
    let new_status = ok();
    let new = http_backend("new", None, new_status.clone()).await;
    let mode = RouteMode::Ramped {
        from: "old".into(),
        to: "new".into(),
        steps: 4,
        interval_ms: 300,
        guard: RampGuard { error_rate: 0.2, window_ms: 2000, min_requests: 3, on_failure: OnFailure::Rollback },
    };
    let route = Route::start(spec(mode, &[("old", old), ("new", new)])).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while route.snapshot().ramp.unwrap().step < 2 {
        assert!(Instant::now() < deadline, "the ramp did not step");
        get(route.local_addr(), "/", "").await;
    }
    assert_eq!(route.snapshot().backends[1].weight, 50);
    new_status.store(500, Ordering::Relaxed);
    while route.snapshot().ramp.unwrap().phase != RampPhase::RolledBack {
        assert!(Instant::now() < deadline, "the ramp did not roll back: {:?}", route.snapshot().ramp);
        get(route.local_addr(), "/", "").await;
    }
    let snapshot = route.snapshot();
    assert_eq!((snapshot.backends[0].weight, snapshot.backends[1].weight), (100, 0));
    assert!(snapshot.ramp.unwrap().reason.unwrap().contains("error rate"));
    for _ in 0..30 {
        assert_eq!(get(route.local_addr(), "/", "").await.body, "old");
    }
}

#[tokio::test]
async fn shadow_answers_from_the_primary_and_counts_differences() {
    let primary = http_backend("same", None, ok()).await;
    let shadow = http_backend("same", Some("other"), ok()).await;
    let mode = RouteMode::Shadow { primary: "primary".into(), shadow: "shadow".into() };
    let route = Route::start(spec(mode, &[("primary", primary), ("shadow", shadow)])).await.unwrap();
    for path in ["/", "/a", "/diff", "/b", "/diff/2"] {
        let answer = get(route.local_addr(), path, "").await;
        assert_eq!((answer.status, answer.body.as_str()), (200, "same"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while route.snapshot().shadow.unwrap().compared < 5 {
        assert!(Instant::now() < deadline, "comparisons did not finish: {:?}", route.snapshot().shadow);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let view = route.snapshot().shadow.unwrap();
    assert_eq!((view.compared, view.differences, view.body_differences, view.status_differences), (5, 2, 2, 0));
    let paths: Vec<&str> = view.samples.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, vec!["/diff", "/diff/2"]);
    assert_ne!(view.samples[0].primary_body_sha256, view.samples[0].shadow_body_sha256);
}

#[tokio::test]
async fn a_backend_dying_mid_request_is_a_502_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dying = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer).await;
            drop(stream);
        }
    });
    let route = Route::start(spec(RouteMode::BlueGreen { live: "dying".into(), drain_ms: 0 }, &[("dying", dying)]))
        .await
        .unwrap();
    let answer = get(route.local_addr(), "/", "").await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert!(answer.body.contains("berth route test"), "{}", answer.body);
}

#[tokio::test]
async fn tcp_mode_relays_bytes_by_weight_and_closes_when_the_backend_dies() {
    async fn echo(tag: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                tokio::spawn(async move {
                    let mut buffer = [0u8; 64];
                    let n = stream.read(&mut buffer).await.unwrap_or(0);
                    let _ = stream.write_all(tag.as_bytes()).await;
                    let _ = stream.write_all(&buffer[..n]).await;
                    // Then the backend dies: the client's connection must close too.
                });
            }
        });
        addr
    }
    let a = echo("a:").await;
    let b = echo("b:").await;
    let mut spec = spec(
        RouteMode::Weighted { weights: weights(&[("a", 100), ("b", 0)]), sticky: None, rules: vec![] },
        &[("a", a), ("b", b)],
    );
    spec.protocol = RouteProtocol::Tcp;
    let route = Route::start(spec).await.unwrap();
    let mut stream = TcpStream::connect(route.local_addr()).await.unwrap();
    stream.write_all(b"ping").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await.unwrap().unwrap();
    assert_eq!(out, b"a:ping");
    route.set_weights(weights(&[("a", 0), ("b", 100)])).unwrap();
    let mut stream = TcpStream::connect(route.local_addr()).await.unwrap();
    stream.write_all(b"pong").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await.unwrap().unwrap();
    assert_eq!(out, b"b:pong");
}

#[tokio::test]
async fn a_port_in_use_and_bad_specs_are_refused() {
    let a = http_backend("a", None, ok()).await;
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut busy = spec(RouteMode::BlueGreen { live: "a".into(), drain_ms: 0 }, &[("a", a)]);
    busy.listen = taken.local_addr().unwrap();
    assert!(matches!(Route::start(busy).await, Err(RouteError::PortInUse { .. })));
    let uneven = RouteMode::Weighted { weights: weights(&[("a", 90)]), sticky: None, rules: vec![] };
    let error = Route::start(spec(uneven, &[("a", a)])).await.err().unwrap();
    assert_eq!(error.to_string(), "weights must add up to 100; a=90 add up to 90");
    let bad_rule = RouteMode::Weighted {
        weights: weights(&[("a", 100)]),
        sticky: None,
        rules: vec![berth_shared::api::routes::RouteRule { when: "query:x".into(), backend: "a".into() }],
    };
    assert!(Route::start(spec(bad_rule, &[("a", a)])).await.err().unwrap().to_string().contains("cannot parse"));
}

#[tokio::test]
async fn a_tcp_connection_on_the_old_backend_lives_for_the_drain_time_then_ends() {
    // A backend that holds every connection open and answers each byte with its tag.
    async fn holding(tag: u8) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                tokio::spawn(async move {
                    let mut byte = [0u8; 1];
                    while stream.read_exact(&mut byte).await.is_ok() {
                        if stream.write_all(&[tag]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }
    let (blue, green) = (holding(b'b').await, holding(b'g').await);
    let mut spec =
        spec(RouteMode::BlueGreen { live: "blue".into(), drain_ms: 600 }, &[("blue", blue), ("green", green)]);
    spec.protocol = RouteProtocol::Tcp;
    let route = Route::start(spec).await.unwrap();
    let mut old = TcpStream::connect(route.local_addr()).await.unwrap();
    let mut answer = [0u8; 1];
    old.write_all(b"x").await.unwrap();
    old.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"b");
    let switched = Instant::now();
    route.switch("green", false).await.unwrap();
    let mut new = TcpStream::connect(route.local_addr()).await.unwrap();
    new.write_all(b"x").await.unwrap();
    new.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"g", "new connections go to green at once");
    old.write_all(b"x").await.unwrap();
    old.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"b", "the old connection still runs on blue while it drains");
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), old.read_to_end(&mut rest)).await.unwrap().unwrap();
    let lived = switched.elapsed();
    assert!(lived >= Duration::from_millis(550), "cut after {lived:?}, before the drain time");
    new.write_all(b"x").await.unwrap();
    new.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"g", "green's connection is not drained");
}
