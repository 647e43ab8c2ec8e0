//! A route page's figures: requests and errors per second per backend from the difference of two polls of the
//! counters, the weights a slider move makes (two backends stay complementary), and whether weights may be sent
//! (they must add up to 100, as the daemon insists).

use std::collections::BTreeMap;

use berth_shared::api::routes::RouteView;

/// One backend's rates between two polls.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rates {
    pub requests_per_second: f64,
    pub errors_per_second: f64,
}

/// Each backend of `now` by name: its counters' growth since `before`, over `seconds`. A backend new since
/// `before` (or counters that went down: a route made again under the same name) has no rate yet.
pub fn rates(before: &RouteView, now: &RouteView, seconds: f64) -> BTreeMap<String, Rates> {
    if seconds <= 0.0 {
        return BTreeMap::new();
    }
    now.backends
        .iter()
        .filter_map(|backend| {
            let old = before.backends.iter().find(|old| old.name == backend.name)?;
            let requests = backend.counters.requests.checked_sub(old.counters.requests)?;
            let errors = backend.counters.errors.checked_sub(old.counters.errors)?;
            let rates =
                Rates { requests_per_second: requests as f64 / seconds, errors_per_second: errors as f64 / seconds };
            Some((backend.name.clone(), rates))
        })
        .collect()
}

/// The weights after `moved` is set to `value`: with two backends the other takes the rest, so a drag keeps the
/// sum at 100; with more the others stay and the sum is the person's to fix.
pub fn moved_weights(weights: &BTreeMap<String, u32>, moved: &str, value: u32) -> BTreeMap<String, u32> {
    let value = value.min(100);
    let mut next = weights.clone();
    next.insert(moved.to_string(), value);
    if next.len() == 2 {
        for (name, weight) in next.iter_mut() {
            if name != moved {
                *weight = 100 - value;
            }
        }
    }
    next
}

/// Why `weights` cannot be sent, if they cannot.
pub fn weights_problem(weights: &BTreeMap<String, u32>) -> Option<String> {
    let sum: u32 = weights.values().sum();
    (sum != 100).then(|| format!("The weights add up to {sum} %, not 100 %: nothing was sent."))
}

/// "12.0/s", one decimal.
pub fn per_second(rate: f64) -> String {
    format!("{rate:.1}/s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn view(counters: &[(&str, u64, u64)]) -> RouteView {
        let backends: Vec<serde_json::Value> = counters
            .iter()
            .map(|(name, requests, errors)| {
                serde_json::json!({"name": name, "target": "web:80", "healthy": true, "weight": 50,
                    "counters": {"requests": requests, "errors": errors, "connect_failures": 0, "active": 0,
                        "latency_buckets": [], "latency_count": 0, "latency_sum_ms": 0.0}})
            })
            .collect();
        serde_json::from_value(serde_json::json!({"name": "web", "host_port": 8080, "protocol": "http",
            "mode": {"kind": "blue_green", "live": "blue"}, "can_roll_back": false, "backends": backends}))
        .unwrap()
    }

    #[wasm_bindgen_test]
    fn rates_are_counter_growth_per_second() {
        let before = view(&[("blue", 10, 1), ("green", 4, 0)]);
        let now = view(&[("blue", 30, 5), ("green", 4, 0), ("new", 3, 0)]);
        let rates = rates(&before, &now, 2.0);
        assert_eq!(rates["blue"], Rates { requests_per_second: 10.0, errors_per_second: 2.0 });
        assert_eq!(rates["green"], Rates::default());
        assert!(!rates.contains_key("new"));
        let reset = view(&[("blue", 2, 0)]);
        assert!(super::rates(&now, &reset, 1.0).is_empty());
    }

    #[wasm_bindgen_test]
    fn two_weights_stay_complementary_more_are_checked() {
        let two = BTreeMap::from([("a".to_string(), 50), ("b".to_string(), 50)]);
        let moved = moved_weights(&two, "a", 70);
        assert_eq!(moved, BTreeMap::from([("a".to_string(), 70), ("b".to_string(), 30)]));
        assert_eq!(weights_problem(&moved), None);
        let three = BTreeMap::from([("a".to_string(), 50), ("b".to_string(), 30), ("c".to_string(), 20)]);
        let moved = moved_weights(&three, "c", 40);
        assert_eq!(moved["a"], 50);
        assert_eq!(
            weights_problem(&moved).as_deref(),
            Some("The weights add up to 120 %, not 100 %: nothing was sent.")
        );
    }
}
