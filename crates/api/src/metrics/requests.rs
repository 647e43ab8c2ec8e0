//! Each API request's latency, by the route that served it: a middleware inside the router (Router::layer), where
//! axum has put the matched path template, so `/containers/{id}/json` is one series however many containers
//! there are. The time is until the response's head: a stream (logs, events, attach) counts until it starts.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::Metrics;

/// From half a millisecond (a ping) to half a minute (a big pull's first answer).
const BUCKETS: [f64; 15] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: &'static str,
}

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

pub(super) struct Requests(Family<RequestLabels, Histogram, fn() -> Histogram>);

impl Default for Requests {
    fn default() -> Self {
        Requests(Family::new_with_constructor(histogram))
    }
}

impl Requests {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "berth_http_request_duration",
            "API request latency until the response head, by matched route, method and status class",
            Unit::Seconds,
            self.0.clone(),
        );
    }
}

/// Label values from a fixed set, so that no client can grow the number of series: unknown methods are `OTHER`,
/// paths no route matched are one `unmatched` route.
fn method(method: &Method) -> &'static str {
    const KNOWN: [Method; 7] =
        [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE, Method::PATCH, Method::OPTIONS];
    KNOWN.iter().find(|known| *known == method).map_or("OTHER", |known| known.as_str())
}

fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

pub(crate) async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_string();
    let method = method(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = RequestLabels { route, method, status: status_class(response.status().as_u16()) };
    metrics.requests.0.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_a_fixed_set() {
        assert_eq!(method(&Method::GET), "GET");
        assert_eq!(method(&Method::from_bytes(b"BREW").expect("a method")), "OTHER");
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(999), "5xx");
    }
}
