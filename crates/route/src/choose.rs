//! Which backend gets a request: a matching rule first, then the client's sticky cookie, then the weights (a
//! point on them from the sticky header's hash, or a random one), among the healthy backends only. When no
//! backend with a weight is healthy, any healthy one serves (the shadow never does): a dead green sends the
//! traffic back to blue rather than to nobody.

use berth_shared::api::routes::Sticky;

use super::rule::RequestFacts;
use super::table::Table;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Choice {
    pub backend: usize,
    /// Set the sticky cookie to the backend's name in the answer (the client had none, or one of another).
    pub set_cookie: Option<String>,
}

/// `roll` is a random number (any u64); `healthy[i]` whether backend i may get traffic now.
pub(crate) fn choose(
    table: &Table,
    facts: Option<&RequestFacts<'_>>,
    healthy: &[bool],
    names: &[String],
    roll: u64,
) -> Option<Choice> {
    let usable = |i: usize| healthy.get(i).copied().unwrap_or(false);
    if let Some(facts) = facts {
        if let Some((_, backend)) = table.rules.iter().find(|(m, b)| usable(*b) && m.matches(facts)) {
            return Some(Choice { backend: *backend, set_cookie: None });
        }
    }
    let cookie_name = match &table.sticky {
        Some(Sticky::Cookie(name)) => Some(name.as_str()),
        _ => None,
    };
    let held = cookie_name.and_then(|name| facts.and_then(|f| f.cookie(name)));
    if let Some(held) = held {
        if let Some(i) = names.iter().position(|n| n == held).filter(|i| usable(*i) && table.weights[*i] > 0) {
            return Some(Choice { backend: i, set_cookie: None });
        }
    }
    let point = match (&table.sticky, facts) {
        (Some(Sticky::Header(header)), Some(facts)) => match facts.headers.get(header.as_str()) {
            Some(value) => fnv1a(value.as_bytes()),
            None => roll,
        },
        _ => roll,
    };
    let backend = weighted(table, &usable, point).or_else(|| {
        let shadow = table.shadow.map(|(_, s)| s);
        (0..names.len()).find(|i| usable(*i) && Some(*i) != shadow)
    })?;
    let set_cookie = cookie_name.filter(|_| held != Some(names[backend].as_str())).map(|_| names[backend].clone());
    Some(Choice { backend, set_cookie })
}

/// The backend at `point` (modulo the healthy backends' total weight) on the cumulative weights.
fn weighted(table: &Table, usable: &dyn Fn(usize) -> bool, point: u64) -> Option<usize> {
    let live: Vec<(usize, u64)> = table
        .weights
        .iter()
        .enumerate()
        .filter(|(i, w)| **w > 0 && usable(*i))
        .map(|(i, w)| (i, u64::from(*w)))
        .collect();
    let total: u64 = live.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return None;
    }
    let mut at = point % total;
    for (i, weight) in live {
        if at < weight {
            return Some(i);
        }
        at -= weight;
    }
    None
}

/// A hash that stays the same across runs and builds, so a header value keeps its backend over a restart.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Matcher;
    use hyper::header::HeaderMap;

    fn names() -> Vec<String> {
        vec!["blue".into(), "green".into()]
    }

    fn table(weights: Vec<u32>) -> Table {
        Table { weights, rules: vec![], sticky: None, shadow: None }
    }

    #[test]
    fn weights_split_the_rolls_in_proportion() {
        let table = table(vec![80, 20]);
        let mut green = 0;
        for roll in 0..1000u64 {
            if choose(&table, None, &[true, true], &names(), roll).unwrap().backend == 1 {
                green += 1;
            }
        }
        assert_eq!(green, 200);
    }

    #[test]
    fn an_unhealthy_backend_gets_nothing_and_a_dead_live_one_falls_back() {
        let table = table(vec![80, 20]);
        for roll in 0..100u64 {
            assert_eq!(choose(&table, None, &[true, false], &names(), roll).unwrap().backend, 0);
        }
        let blue_green = self::table(vec![0, 100]);
        assert_eq!(choose(&blue_green, None, &[true, false], &names(), 7).unwrap().backend, 0);
        assert_eq!(choose(&blue_green, None, &[false, false], &names(), 7), None);
    }

    #[test]
    fn the_shadow_never_serves_as_a_fallback() {
        let shadow = Table { weights: vec![100, 0], rules: vec![], sticky: None, shadow: Some((0, 1)) };
        assert_eq!(choose(&shadow, None, &[false, true], &names(), 1), None);
    }

    #[test]
    fn a_sticky_cookie_keeps_its_backend_and_is_set_when_missing() {
        let mut table = table(vec![50, 50]);
        table.sticky = Some(Sticky::Cookie("lane".into()));
        let none = HeaderMap::new();
        let facts = RequestFacts { path: "/", headers: &none };
        let first = choose(&table, Some(&facts), &[true, true], &names(), 60).unwrap();
        assert_eq!(first, Choice { backend: 1, set_cookie: Some("green".into()) });
        let mut jar = HeaderMap::new();
        jar.insert("cookie", "lane=green".parse().unwrap());
        let facts = RequestFacts { path: "/", headers: &jar };
        for roll in 0..100u64 {
            assert_eq!(
                choose(&table, Some(&facts), &[true, true], &names(), roll).unwrap(),
                Choice { backend: 1, set_cookie: None }
            );
        }
        // Once green is down the cookie gives way, and is rewritten to where the client now goes.
        let moved = choose(&table, Some(&facts), &[true, false], &names(), 1).unwrap();
        assert_eq!(moved, Choice { backend: 0, set_cookie: Some("blue".into()) });
    }

    #[test]
    fn a_sticky_header_value_always_lands_on_one_backend() {
        let mut table = table(vec![50, 50]);
        table.sticky = Some(Sticky::Header("x-user".into()));
        for user in ["ann", "bob", "cyd", "dee"] {
            let mut headers = HeaderMap::new();
            headers.insert("x-user", user.parse().unwrap());
            let facts = RequestFacts { path: "/", headers: &headers };
            let first = choose(&table, Some(&facts), &[true, true], &names(), 0).unwrap().backend;
            for roll in 1..50u64 {
                assert_eq!(choose(&table, Some(&facts), &[true, true], &names(), roll).unwrap().backend, first);
            }
        }
    }

    #[test]
    fn a_rule_wins_over_weights_while_its_backend_is_healthy() {
        let mut table = table(vec![100, 0]);
        table.rules = vec![(Matcher::PathPrefix("/beta".into()), 1)];
        let none = HeaderMap::new();
        let beta = RequestFacts { path: "/beta/x", headers: &none };
        assert_eq!(choose(&table, Some(&beta), &[true, true], &names(), 0).unwrap().backend, 1);
        assert_eq!(choose(&table, Some(&beta), &[true, false], &names(), 0).unwrap().backend, 0);
        let other = RequestFacts { path: "/", headers: &none };
        assert_eq!(choose(&table, Some(&other), &[true, true], &names(), 0).unwrap().backend, 0);
    }
}
