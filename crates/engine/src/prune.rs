//! What the prune endpoints select by, once the API has parsed their filters: dockerd's `until` (created at or
//! before), `label` and `label!` (daemon/prune.go `matchLabels`). One matcher for containers, images, volumes and
//! networks, so `docker system prune --filter` means the same thing for each.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneFilter {
    /// Only what was created at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// `key` or `key=value`: every one must match.
    pub labels: Vec<String>,
    /// `key` or `key=value`: left alone when every one matches (moby's rule, so `label!=a` `label!=b` spares only
    /// what has both).
    pub not_labels: Vec<String>,
}

impl PruneFilter {
    /// Whether an object with these labels, created then (None: unknown), is to be pruned. An object of unknown age
    /// is spared by `until`, as dockerd spares an image without a creation time.
    pub fn matches(&self, labels: &HashMap<String, String>, created: Option<DateTime<Utc>>) -> bool {
        if let Some(until) = self.until {
            if created.is_none_or(|created| created > until) {
                return false;
            }
        }
        if !self.labels.is_empty() && !all_match(&self.labels, labels) {
            return false;
        }
        self.not_labels.is_empty() || !all_match(&self.not_labels, labels)
    }
}

/// moby's `MatchKVList`: every `key` is present and, where one is given, has the `value`.
fn all_match(filters: &[String], labels: &HashMap<String, String>) -> bool {
    !labels.is_empty()
        && filters.iter().all(|filter| match filter.split_once('=') {
            Some((key, value)) => labels.get(key).is_some_and(|v| v == value),
            None => labels.contains_key(filter.as_str()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn labels_all_have_to_match() {
        let filter = PruneFilter { labels: strings(&["a=1", "b"]), ..Default::default() };
        assert!(filter.matches(&labels(&[("a", "1"), ("b", "x")]), None));
        assert!(!filter.matches(&labels(&[("a", "2"), ("b", "x")]), None));
        assert!(!filter.matches(&labels(&[("a", "1")]), None));
        assert!(!filter.matches(&HashMap::new(), None));
        assert!(PruneFilter::default().matches(&HashMap::new(), None));
    }

    #[test]
    fn not_labels_spare_only_what_matches_them_all() {
        let filter = PruneFilter { not_labels: strings(&["keep"]), ..Default::default() };
        assert!(!filter.matches(&labels(&[("keep", "")]), None));
        assert!(filter.matches(&labels(&[("other", "")]), None));
        assert!(filter.matches(&HashMap::new(), None));
        let both = PruneFilter { not_labels: strings(&["a", "b=2"]), ..Default::default() };
        assert!(both.matches(&labels(&[("a", "")]), None));
        assert!(!both.matches(&labels(&[("a", ""), ("b", "2")]), None));
    }

    #[test]
    fn until_keeps_what_is_newer_or_of_unknown_age() {
        let until = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let filter = PruneFilter { until: Some(until), ..Default::default() };
        assert!(filter.matches(&HashMap::new(), Some(until)));
        assert!(filter.matches(&HashMap::new(), DateTime::from_timestamp(1_600_000_000, 0)));
        assert!(!filter.matches(&HashMap::new(), DateTime::from_timestamp(1_700_000_001, 0)));
        assert!(!filter.matches(&HashMap::new(), None));
    }
}
