//! The routes' per-backend counters at scrape time: requests, errors, failed connects, what is under way and the
//! latency histogram, labelled by route, backend and (for a session's route) session.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use berth_shared::api::routes::BackendCounters;

use crate::routes::Routes;

pub(super) struct RouteBackends(pub Arc<Routes>);

/// A counter's name, help and how it is read from a backend's counters.
type CounterOf = (&'static str, &'static str, fn(&BackendCounters) -> u64);

impl std::fmt::Debug for RouteBackends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteBackends")
    }
}

impl Collector for RouteBackends {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let views = self.0.views(None);
        let rows: Vec<([(&str, String); 3], &BackendCounters)> = views
            .iter()
            .flat_map(|(owner, view)| {
                view.backends.iter().map(move |backend| {
                    let labels = [
                        ("route", view.name.clone()),
                        ("backend", backend.name.clone()),
                        ("session", owner.clone().unwrap_or_default()),
                    ];
                    (labels, &backend.counters)
                })
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let counters: [CounterOf; 3] = [
            ("berth_route_requests", "Requests (HTTP) or connections (TCP) a route sent to a backend", |c| c.requests),
            ("berth_route_errors", "5xx answers, failed connects and broken-off answers of a route's backend", |c| {
                c.errors
            }),
            ("berth_route_connect_failures", "Connects to a route's backend that failed", |c| c.connect_failures),
        ];
        for (name, help, value) in counters {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (labels, row) in &rows {
                ConstCounter::new(value(row)).encode(metric.encode_family(labels)?)?;
            }
        }
        let mut active = encoder.encode_descriptor(
            "berth_route_active",
            "Requests or connections under way",
            None,
            MetricType::Gauge,
        )?;
        for (labels, row) in &rows {
            ConstGauge::new(row.active as i64).encode(active.encode_family(labels)?)?;
        }
        let mut latency = encoder.encode_descriptor(
            "berth_route_latency",
            "Time to a backend's answer head (HTTP) or connection (TCP)",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (labels, row) in &rows {
            // The encoder sums the buckets itself: each bucket's own count, then what lies past the last bound.
            let mut below = 0;
            let mut buckets: Vec<(f64, u64)> = row
                .latency_buckets
                .iter()
                .map(|b| {
                    let own = b.count.saturating_sub(below);
                    below = b.count;
                    (b.le_ms / 1000.0, own)
                })
                .collect();
            buckets.push((f64::INFINITY, row.latency_count.saturating_sub(below)));
            let count = row.latency_count;
            latency.encode_family(labels)?.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                row.latency_sum_ms / 1000.0,
                count,
                &buckets,
                None,
            )?;
        }
        Ok(())
    }
}
