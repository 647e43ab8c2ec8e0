//! What the router costs: requests per second and latency percentiles of keep-alive clients against two
//! loopback HTTP backends, directly and through a weighted 80/20 route in front of them. Run it in release:
//! `cargo run --release -p berth-route --example overhead [-- SECONDS CLIENTS]`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_route::{BackendSpec, Route, RouteSpec};
use berth_shared::api::routes::{RouteMode, RouteProtocol};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

async fn backend(body: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a backend");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| async move {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes()))))
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    addr
}

struct Result {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `clients` tasks, each sending requests one after another over its kept-alive connection, for `seconds`;
/// `targets` are taken in turn by 80/20 when there are two (the direct run's "same split").
async fn load(targets: Vec<SocketAddr>, seconds: u64, clients: usize) -> Result {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let client = Arc::new(client);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for task in 0..clients {
        let client = client.clone();
        let targets = targets.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = task;
            while Instant::now() < deadline {
                let target = if targets.len() == 1 || n % 5 != 0 { targets[0] } else { targets[1] };
                n += 1;
                let uri: hyper::Uri = format!("http://{target}/").parse().expect("a URI");
                let started = Instant::now();
                let response = client.get(uri).await.expect("an answer");
                let _ = response.into_body().collect().await.expect("a body");
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("a client task"));
    }
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    Result { rps: all.len() as f64 / seconds as f64, p50_ms: at(0.5), p99_ms: at(0.99) }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);
    let (a, b) = (backend("a").await, backend("b").await);
    let weights = BTreeMap::from([("a".to_string(), 80), ("b".to_string(), 20)]);
    let route = Route::start(RouteSpec {
        name: "bench".into(),
        listen: "127.0.0.1:0".parse().expect("an address"),
        protocol: RouteProtocol::Http,
        backends: vec![
            BackendSpec { name: "a".into(), addr: Some(a) },
            BackendSpec { name: "b".into(), addr: Some(b) },
        ],
        mode: RouteMode::Weighted { weights, sticky: None, rules: vec![] },
        previous: None,
        ramp: None,
    })
    .await
    .expect("the route starts");
    let direct = load(vec![a, b], seconds, clients).await;
    let routed = load(vec![route.local_addr()], seconds, clients).await;
    println!("{clients} keep-alive clients, {seconds} s each:");
    println!("direct: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms", direct.rps, direct.p50_ms, direct.p99_ms);
    println!("routed: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms", routed.rps, routed.p50_ms, routed.p99_ms);
    println!(
        "route_rps ratio {:.2}, route_p99 overhead {:.3} ms",
        routed.rps / direct.rps,
        routed.p99_ms - direct.p99_ms
    );
}
