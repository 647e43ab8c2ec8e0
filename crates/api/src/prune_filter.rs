//! The `filters` of the prune endpoints (`POST /containers/prune`, `/images/prune`, `/volumes/prune`,
//! `/networks/prune`, `/build/prune`), checked as dockerd checks them: keys each endpoint does not accept are
//! refused (`invalid filter 'foo'`), `until` is one value (a Go duration back from now, an RFC3339 time or Unix
//! seconds, read by the events API's parser), booleans are `1`/`true` or `0`/`false` (`invalid filter
//! 'dangling=[maybe]'`). What passes becomes the engine's [`PruneFilter`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::container_views::parse_filters;
use super::event_time;
use berth_engine::PruneFilter;

/// The keys `docker container prune` and `docker network prune` take (moby's daemon/prune.go, network/filter.go).
pub const CONTAINERS: &[&str] = &["label", "label!", "until"];
pub const NETWORKS: &[&str] = &["label", "label!", "until"];
/// daemon/images/image_prune.go.
pub const IMAGES: &[&str] = &["dangling", "label", "label!", "until"];
/// volume/service: no `until` for volumes.
pub const VOLUMES: &[&str] = &["label", "label!", "all"];
/// builder-next: BuildKit's record fields, `until` and its older name; `label` is taken and, as in dockerd, ignored.
pub const BUILD_CACHE: &[&str] =
    &["until", "unused-for", "label", "label!", "id", "parent", "type", "description", "inuse", "shared", "private"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PruneFilterError {
    /// Not JSON of either wire form.
    #[error("{0}")]
    Malformed(String),
    #[error("invalid filter '{0}'")]
    Unknown(String),
    /// Go prints the values as `[a b]`.
    #[error("invalid filter '{key}=[{}]'", values.join(" "))]
    NotABool { key: String, values: Vec<String> },
    #[error("more than one until filter specified")]
    MoreThanOneUntil,
    /// The build cache's filters each take one value.
    #[error("filters expect only one value")]
    MoreThanOneValue,
    #[error("conflicting filters: \"until\" and \"unused-for\"")]
    UntilAndUnusedFor,
    /// `until` that is no time: the words differ by endpoint, as in dockerd.
    #[error("{prefix}{source}")]
    Until {
        prefix: &'static str,
        #[source]
        source: event_time::EventTimeError,
    },
}

/// A prune request's filters, checked against what its endpoint accepts.
#[derive(Debug)]
pub struct PruneFilters {
    map: HashMap<String, Vec<String>>,
}

impl PruneFilters {
    pub fn parse(raw: Option<&str>, accepted: &[&str]) -> Result<Self, PruneFilterError> {
        let map = parse_filters(raw).map_err(PruneFilterError::Malformed)?;
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        if let Some(unknown) = keys.into_iter().find(|key| !accepted.contains(&key.as_str())) {
            return Err(PruneFilterError::Unknown(unknown.clone()));
        }
        Ok(PruneFilters { map })
    }

    /// moby's `GetBoolOrDefault`.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, PruneFilterError> {
        let Some(values) = self.map.get(key) else { return Ok(default) };
        let has = |wanted: &[&str]| values.iter().any(|v| wanted.contains(&v.as_str()));
        let (yes, no) = (has(&["1", "true"]), has(&["0", "false"]));
        if yes == no {
            return Err(PruneFilterError::NotABool { key: key.to_string(), values: values.clone() });
        }
        Ok(yes)
    }

    /// `until`, when given; `prefix` is what dockerd puts before a parse error on this endpoint.
    pub fn until(&self, prefix: &'static str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, PruneFilterError> {
        let values = self.map.get("until").map(Vec::as_slice).unwrap_or_default();
        if values.len() > 1 {
            return Err(PruneFilterError::MoreThanOneUntil);
        }
        let Some(value) = values.first() else { return Ok(None) };
        until_time(value, prefix, now).map(Some)
    }

    /// The engine's matcher: `until`, `label`, `label!`.
    pub fn engine_filter(&self, until_prefix: &'static str) -> Result<PruneFilter, PruneFilterError> {
        Ok(PruneFilter {
            until: self.until(until_prefix, Utc::now())?,
            labels: self.map.get("label").cloned().unwrap_or_default(),
            not_labels: self.map.get("label!").cloned().unwrap_or_default(),
        })
    }

    /// `POST /build/prune`'s filters as builder-next reads them.
    pub fn build_cache(
        &self,
        all: bool,
        now: DateTime<Utc>,
    ) -> Result<berth_build::CachePruneOptions, PruneFilterError> {
        let one = |key: &str| -> Result<Option<String>, PruneFilterError> {
            match self.map.get(key).map(Vec::as_slice) {
                None | Some([]) => Ok(None),
                Some([value]) => Ok(Some(value.clone())),
                Some(_) => Err(PruneFilterError::MoreThanOneValue),
            }
        };
        let flag = |key: &str| -> Result<Option<bool>, PruneFilterError> {
            Ok(match self.map.get(key).map(Vec::as_slice) {
                None => None,
                // BuildKit's bare `shared` means shared.
                Some([]) => Some(true),
                Some(_) => Some(one(key)?.is_some_and(|v| v != "false" && v != "0")),
            })
        };
        let (until, unused_for) = (one("until")?, one("unused-for")?);
        let (key, value) = match (until, unused_for) {
            (Some(_), Some(_)) => return Err(PruneFilterError::UntilAndUnusedFor),
            (Some(value), None) => ("until", Some(value)),
            (None, unused_for) => ("unused-for", unused_for),
        };
        let prefix = if key == "until" {
            "\"until\" filter expects a duration (e.g., '24h') or a timestamp: "
        } else {
            "\"unused-for\" filter expects a duration (e.g., '24h') or a timestamp: "
        };
        let until = value.map(|value| until_time(&value, prefix, now)).transpose()?;
        Ok(berth_build::CachePruneOptions {
            all,
            until,
            id: one("id")?,
            description: one("description")?,
            typ: one("type")?,
            shared: flag("shared")?,
            in_use: flag("inuse")?,
        })
    }
}

fn until_time(value: &str, prefix: &'static str, now: DateTime<Utc>) -> Result<DateTime<Utc>, PruneFilterError> {
    let until = |source| PruneFilterError::Until { prefix, source };
    match event_time::parse(value, now).map_err(until)? {
        Some(nanos) => Ok(DateTime::from_timestamp_nanos(nanos)),
        // Blank: dockerd's parser refuses it too.
        None => Err(until(event_time::EventTimeError::Invalid(value.to_string()))),
    }
}

/// A filter error as the API answers it: 400 with dockerd's words.
impl From<PruneFilterError> for super::error::ApiError {
    fn from(error: PruneFilterError) -> Self {
        super::error::ApiError::bad_request(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn keys_an_endpoint_does_not_take_are_refused_in_dockerds_words() {
        let error = PruneFilters::parse(Some(r#"{"foo":["1"]}"#), CONTAINERS).unwrap_err();
        assert_eq!(error.to_string(), "invalid filter 'foo'");
        let error = PruneFilters::parse(Some(r#"{"until":["1h"]}"#), VOLUMES).unwrap_err();
        assert_eq!(error.to_string(), "invalid filter 'until'");
        assert!(PruneFilters::parse(Some("{"), IMAGES).is_err());
        assert!(PruneFilters::parse(None, IMAGES).is_ok());
    }

    #[test]
    fn until_is_a_duration_a_time_or_seconds() {
        let parse = |raw: &str| PruneFilters::parse(Some(raw), CONTAINERS).unwrap().until("", now());
        let ten_minutes_ago = DateTime::from_timestamp(1_700_000_000 - 600, 0);
        assert_eq!(parse(r#"{"until":["10m"]}"#).unwrap(), ten_minutes_ago);
        assert_eq!(parse(r#"{"until":{"10m":true}}"#).unwrap(), ten_minutes_ago);
        assert_eq!(parse(r#"{"until":["2023-11-14T22:13:20Z"]}"#).unwrap(), Some(now()));
        assert_eq!(parse(r#"{"until":["1700000000"]}"#).unwrap(), Some(now()));
        assert_eq!(parse("{}").unwrap(), None);
        assert_eq!(parse(r#"{"until":["1h","2h"]}"#).unwrap_err().to_string(), "more than one until filter specified");
        let images = PruneFilters::parse(Some(r#"{"until":["soon"]}"#), IMAGES).unwrap();
        assert_eq!(
            images.until("invalid value for 'until' filter: ", now()).unwrap_err().to_string(),
            r#"invalid value for 'until' filter: failed to parse value as time or duration: "soon""#
        );
    }

    #[test]
    fn booleans_read_as_gos() {
        let filters = |raw: &str| PruneFilters::parse(Some(raw), IMAGES).unwrap();
        assert!(filters("{}").bool_or("dangling", true).unwrap());
        assert!(!filters(r#"{"dangling":["false"]}"#).bool_or("dangling", true).unwrap());
        assert!(filters(r#"{"dangling":["1"]}"#).bool_or("dangling", false).unwrap());
        let error = filters(r#"{"dangling":["maybe"]}"#).bool_or("dangling", true).unwrap_err();
        assert_eq!(error.to_string(), "invalid filter 'dangling=[maybe]'");
        assert!(filters(r#"{"dangling":["true","false"]}"#).bool_or("dangling", true).is_err());
    }

    #[test]
    fn labels_go_to_the_engine() {
        let raw = r#"{"label":["a=b","c"],"label!":["keep"]}"#;
        let filter = PruneFilters::parse(Some(raw), CONTAINERS).unwrap().engine_filter("").unwrap();
        assert_eq!(filter.labels, vec!["a=b", "c"]);
        assert_eq!(filter.not_labels, vec!["keep"]);
        assert_eq!(filter.until, None);
    }

    #[test]
    fn build_cache_filters_read_as_builder_next() {
        let parse = |raw: &str| PruneFilters::parse(Some(raw), BUILD_CACHE).unwrap().build_cache(true, now());
        let options = parse(r#"{"until":["1h"],"id":["abc"],"label":["x"]}"#).unwrap();
        assert!(options.all);
        assert_eq!(options.until, DateTime::from_timestamp(1_700_000_000 - 3600, 0));
        assert_eq!(options.id.as_deref(), Some("abc"));
        assert_eq!(parse(r#"{"unused-for":["1h"]}"#).unwrap().until, options.until);
        assert_eq!(parse(r#"{"until":["1h"],"unused-for":["2h"]}"#), Err(PruneFilterError::UntilAndUnusedFor));
        assert_eq!(parse(r#"{"id":["a","b"]}"#), Err(PruneFilterError::MoreThanOneValue));
        assert_eq!(parse(r#"{"shared":["false"]}"#).unwrap().shared, Some(false));
        let error = parse(r#"{"until":["x"]}"#).unwrap_err().to_string();
        assert!(error.starts_with("\"until\" filter expects a duration (e.g., '24h') or a timestamp: "), "{error}");
        assert!(PruneFilters::parse(Some(r#"{"dangling":["1"]}"#), BUILD_CACHE).is_err());
    }
}
