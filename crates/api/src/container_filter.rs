//! `docker ps` filters (`GET /containers/json?filters=...`) as dockerd applies them (moby daemon/list.go): parsed
//! from either wire form, checked with dockerd's words before any container is looked at, then compiled once
//! (regular expressions, port ranges, the containers `before`/`since`/`id` name, the images `ancestor` names) so
//! that each container costs a few comparisons.
//!
//! What each key keeps, as dockerd: `id` a unique id prefix; `name` an exact name or a regular expression (Go's
//! `regexp.MatchString`, unanchored; one that does not compile matches only exactly); `label` key or key=value, all
//! of them; `exited` exit codes of containers that ran and stopped; `status` states (and implies `all`); `health`
//! starting, healthy, unhealthy or none; `ancestor` an image (name, id or id prefix) or any image built on it;
//! `before`/`since` a container (id, unique id prefix or name) in creation order; `volume` a mount's volume name,
//! source or destination; `network` a network name or id prefix; `publish`/`expose` port[-port][/proto];
//! `is-task` (swarm tasks: none here); `isolation` (Windows only: no effect on Linux, as dockerd).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use bollard_stubs::models::ContainerSummary;
use regex::Regex;

use berth_engine::ContainerRecord;

/// Why a filter was refused, in dockerd's words (moby daemon/list.go and daemon/internal/filters).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    /// Not JSON, or neither `{"key":["value"]}` nor `{"key":{"value":true}}`.
    #[error("invalid filter")]
    Malformed,
    #[error("invalid filter '{0}'")]
    UnknownKey(String),
    #[error("invalid filter 'exited={value}': strconv.Atoi: parsing {value:?}: {reason}")]
    Exited { value: String, reason: &'static str },
    #[error("invalid filter 'status={0}': invalid value for state ({0}): must be one of created, running, paused, restarting, removing, exited, dead")]
    Status(String),
    #[error("invalid filter 'health={0}': invalid value for health ({0}): must be one of none, starting, healthy, unhealthy")]
    Health(String),
    /// `is-task` with no value, or with neither (or both) of true/false: Go prints the values as `[a b]`.
    #[error("invalid filter 'is-task{}'", .0.as_ref().map(|v| format!("=[{}]", v.join(" "))).unwrap_or_default())]
    IsTask(Option<Vec<String>>),
    #[error("filter for '{key}' should not contain ':': {value}")]
    PortWithHost { key: &'static str, value: String },
    #[error("error while looking up for {key} {value}: {reason}")]
    Port { key: &'static str, value: String, reason: String },
    /// `before` or `since` names no container (404, as dockerd).
    #[error("No such container: {0}")]
    NoSuchContainer(String),
}

/// Every key dockerd accepts (`acceptedPsFilterTags`).
const KEYS: [&str; 15] = [
    "ancestor",
    "before",
    "exited",
    "id",
    "isolation",
    "label",
    "name",
    "status",
    "health",
    "since",
    "volume",
    "network",
    "is-task",
    "publish",
    "expose",
];
const STATES: [&str; 7] = ["created", "running", "paused", "restarting", "removing", "exited", "dead"];
const HEALTHS: [&str; 4] = ["none", "starting", "healthy", "unhealthy"];

/// The filters as sent: each key with its set of values (a key may be present with none).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, BTreeSet<String>>);

impl Filters {
    /// Either wire form: the current `{"status":{"running":true}}` (every key of the inner object counts, as in
    /// dockerd's `Get`) or the legacy `{"status":["running"]}`. One form for the whole object, as dockerd.
    pub fn parse(raw: Option<&str>) -> Result<Filters, FilterError> {
        let Some(raw) = raw.filter(|raw| !raw.is_empty()) else { return Ok(Filters::default()) };
        type Current = Option<BTreeMap<String, Option<BTreeMap<String, bool>>>>;
        type Legacy = Option<BTreeMap<String, Option<Vec<String>>>>;
        let fields: BTreeMap<String, BTreeSet<String>> = match serde_json::from_str::<Current>(raw) {
            Ok(map) => map
                .unwrap_or_default()
                .into_iter()
                .map(|(key, values)| (key, values.unwrap_or_default().into_keys().collect()))
                .collect(),
            Err(_) => serde_json::from_str::<Legacy>(raw)
                .map_err(|_| FilterError::Malformed)?
                .unwrap_or_default()
                .into_iter()
                .map(|(key, values)| (key, values.unwrap_or_default().into_iter().collect()))
                .collect(),
        };
        Ok(Filters(fields))
    }

    pub(crate) fn values(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0.get(key).into_iter().flatten().map(String::as_str)
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// dockerd's checks of keys and values, which need no container: an empty daemon refuses a bad filter too.
    pub fn validate(&self) -> Result<Checked, FilterError> {
        if let Some(key) = self.0.keys().find(|key| !KEYS.contains(&key.as_str())) {
            return Err(FilterError::UnknownKey(key.clone()));
        }
        let mut exited = Vec::new();
        for value in self.values("exited") {
            exited.push(parse_atoi(value).map_err(|reason| FilterError::Exited { value: value.into(), reason })?);
        }
        if let Some(value) = self.values("status").find(|value| !STATES.contains(value)) {
            return Err(FilterError::Status(value.into()));
        }
        if let Some(value) = self.values("health").find(|value| !HEALTHS.contains(value)) {
            return Err(FilterError::Health(value.into()));
        }
        let is_task = match self.0.get("is-task") {
            None => None,
            Some(values) if values.is_empty() => return Err(FilterError::IsTask(None)),
            Some(values) => {
                let no = values.contains("0") || values.contains("false");
                let yes = values.contains("1") || values.contains("true");
                if no == yes {
                    return Err(FilterError::IsTask(Some(values.iter().cloned().collect())));
                }
                Some(yes)
            }
        };
        Ok(Checked {
            filters: self.clone(),
            exited,
            is_task,
            publish: port_ranges(self, "publish")?,
            expose: port_ranges(self, "expose")?,
        })
    }
}

/// Go's `strconv.Atoi` on a 64-bit machine: an optional sign, then decimal digits.
fn parse_atoi(value: &str) -> Result<i64, &'static str> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    value.parse().map_err(|_| "value out of range")
}

/// A `publish`/`expose` value: ports `start..=end` of `protocol` (lower case; tcp when none is given).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PortRange {
    start: u16,
    end: u16,
    protocol: String,
}

/// moby's `network.ParsePortRange`, with its messages.
fn parse_port_range(value: &str) -> Result<PortRange, String> {
    if value.is_empty() {
        return Err("invalid port range: value is empty".into());
    }
    let (range, protocol) = value.split_once('/').unwrap_or((value, ""));
    let protocol = if protocol.is_empty() { "tcp".to_string() } else { protocol.to_ascii_lowercase() };
    let (start_text, end_text) = match range.split_once('-') {
        Some((start, end)) => (start, Some(end)),
        None => (range, None),
    };
    let start = port_number(start_text).map_err(|reason| format!("invalid start port '{start_text}': {reason}"))?;
    let end = match end_text {
        Some(end_text) if end_text != start_text => {
            port_number(end_text).map_err(|reason| format!("invalid end port '{end_text}': {reason}"))?
        }
        _ => start,
    };
    if end < start {
        return Err(format!("invalid port range: {value}"));
    }
    Ok(PortRange { start, end, protocol })
}

/// Go's `strconv.ParseUint(s, 10, 16)`, its error reduced to the reason as moby does.
fn port_number(text: &str) -> Result<u16, &'static str> {
    if text.is_empty() {
        return Err("value is empty");
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    text.parse().map_err(|_| "value out of range")
}

fn port_ranges(filters: &Filters, key: &'static str) -> Result<Vec<PortRange>, FilterError> {
    let mut ranges = Vec::new();
    for value in filters.values(key) {
        if value.contains(':') {
            return Err(FilterError::PortWithHost { key, value: value.into() });
        }
        let range = parse_port_range(value).map_err(|reason| FilterError::Port { key, value: value.into(), reason })?;
        ranges.push(range);
    }
    Ok(ranges)
}

/// Filters whose keys and values dockerd would accept; what remains needs the containers and images.
#[derive(Debug)]
pub struct Checked {
    filters: Filters,
    exited: Vec<i64>,
    is_task: Option<bool>,
    publish: Vec<PortRange>,
    expose: Vec<PortRange>,
}

/// What compiling needs from the daemon, so this module stays free of the engine's locks and tests need none.
pub trait Lookup {
    /// The container `reference` names (full id, name with or without the slash, or unique id prefix).
    fn container_id(&self, reference: &str) -> Option<String>;
    /// The id of the image `reference` names (name, name:tag, id or id prefix) and of every image built on it.
    fn image_and_descendants(&self, reference: &str) -> Vec<String>;
}

/// An exact value, and the same as a regular expression when it is one.
struct Pattern {
    exact: String,
    regex: Option<Regex>,
}

impl Pattern {
    fn new(value: &str) -> Pattern {
        // dockerd skips values that are no regular expression (`Match` continues past the error).
        Pattern { exact: value.to_string(), regex: Regex::new(value).ok() }
    }

    fn matches(&self, text: &str) -> bool {
        self.exact == text || self.regex.as_ref().is_some_and(|regex| regex.is_match(text))
    }
}

/// The filters ready to apply to one container after another, newest first.
pub struct ContainerFilter {
    /// `status` implies `all`, as in dockerd.
    pub all: bool,
    ids: Option<HashSet<String>>,
    names: Vec<Pattern>,
    labels: Vec<(String, Option<String>)>,
    exited: Vec<i64>,
    statuses: BTreeSet<String>,
    healths: BTreeSet<String>,
    /// Until this container is met, every container is left out (it is too).
    before: Option<String>,
    /// Once this container is met, the listing stops.
    since: Option<String>,
    ancestors: Option<HashSet<String>>,
    volumes: Option<Vec<String>>,
    networks: Option<Vec<String>>,
    publish: Vec<PortRange>,
    expose: Vec<PortRange>,
    is_task: Option<bool>,
}

/// What to do with the next container of the listing.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Include,
    Exclude,
    /// `since` reached: no older container is listed.
    Stop,
}

impl Checked {
    /// Resolves `before`, `since`, `id` and `ancestor`; `ids` are all the containers' full ids.
    pub fn compile<'a>(
        self,
        ids: impl Iterator<Item = &'a str>,
        lookup: &dyn Lookup,
    ) -> Result<ContainerFilter, FilterError> {
        let filters = &self.filters;
        let resolve = |key: &str| -> Result<Option<String>, FilterError> {
            let mut found = None;
            for value in filters.values(key) {
                found = Some(lookup.container_id(value).ok_or_else(|| FilterError::NoSuchContainer(value.into()))?);
            }
            Ok(found)
        };
        let (before, since) = (resolve("before")?, resolve("since")?);
        // dockerd keeps only the prefixes that name one container (an ambiguous one names none).
        let id_values: Vec<&str> = filters.values("id").collect();
        let ids = (!id_values.is_empty()).then(|| {
            let mut matches: Vec<Vec<&str>> = vec![Vec::new(); id_values.len()];
            for id in ids {
                for (at, prefix) in id_values.iter().enumerate() {
                    if !prefix.is_empty() && id.starts_with(prefix) {
                        matches[at].push(id);
                    }
                }
            }
            matches.into_iter().filter(|found| found.len() == 1).map(|found| found[0].to_string()).collect()
        });
        let ancestors = filters
            .contains("ancestor")
            .then(|| filters.values("ancestor").flat_map(|image| lookup.image_and_descendants(image)).collect());
        let list = |key: &str| filters.contains(key).then(|| filters.values(key).map(String::from).collect());
        Ok(ContainerFilter {
            all: filters.values("status").next().is_some(),
            ids,
            names: filters.values("name").map(Pattern::new).collect(),
            labels: filters
                .values("label")
                .map(|label| match label.split_once('=') {
                    Some((key, value)) => (key.to_string(), Some(value.to_string())),
                    None => (label.to_string(), None),
                })
                .collect(),
            exited: self.exited,
            statuses: filters.values("status").map(String::from).collect(),
            healths: filters.values("health").map(String::from).collect(),
            before,
            since,
            ancestors,
            volumes: list("volume"),
            networks: list("network"),
            publish: self.publish,
            expose: self.expose,
            is_task: self.is_task,
        })
    }
}

impl ContainerFilter {
    /// The checks that need only the record, in dockerd's order (`includeContainerInList`); `all` is the
    /// request's (or implied by `status` or a limit).
    pub fn step(&mut self, record: &ContainerRecord, all: bool) -> Step {
        if let Some(before) = &self.before {
            if *before == record.id {
                self.before = None;
            }
            return Step::Exclude;
        }
        if self.since.as_deref() == Some(record.id.as_str()) {
            return Step::Stop;
        }
        let state = &record.state;
        let running = state.status.is_running();
        let keep = (all || self.all || running)
            && (self.names.is_empty()
                || self.names.iter().any(|name| name.matches(&format!("/{}", record.name)) || name.matches(&record.name)))
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&record.id))
            // Swarm tasks are the only ones; Berth runs none.
            && self.is_task != Some(true)
            && self.labels_match(record)
            && (self.exited.is_empty()
                || (!running
                    && state.started_at.is_some()
                    && self.exited.iter().any(|code| *code == i64::from(state.exit_code))))
            && (self.statuses.is_empty() || self.statuses.contains(state.status.as_str()))
            && (self.healths.is_empty() || self.healths.contains(health_of(record)))
            && self.ancestors.as_ref().is_none_or(|images| images.contains(&record.image_id));
        if keep {
            Step::Include
        } else {
            Step::Exclude
        }
    }

    fn labels_match(&self, record: &ContainerRecord) -> bool {
        if self.labels.is_empty() {
            return true;
        }
        let Some(labels) = record.config.labels.as_ref().filter(|labels| !labels.is_empty()) else { return false };
        self.labels
            .iter()
            .all(|(key, value)| labels.get(key).is_some_and(|have| value.as_ref().is_none_or(|want| want == have)))
    }

    /// The checks on what the listing shows (mounts, networks, ports), after [`step`](Self::step) included it.
    pub fn shown(&self, summary: &ContainerSummary) -> bool {
        let volumes_match = self.volumes.as_ref().is_none_or(|volumes| {
            let mounts = summary.mounts.iter().flatten();
            mounts.into_iter().any(|mount| {
                let by_name = mount.name.as_deref().filter(|name| !name.is_empty()).or(mount.source.as_deref());
                let destination = mount.destination.as_deref().filter(|d| !d.is_empty());
                volumes.iter().any(|v| Some(v.as_str()) == destination || Some(v.as_str()) == by_name)
            })
        });
        let networks_match = self.networks.as_ref().is_none_or(|wanted| {
            let networks = summary.network_settings.as_ref().and_then(|n| n.networks.as_ref());
            networks.is_some_and(|networks| {
                wanted.iter().any(|value| {
                    networks.contains_key(value)
                        || networks.values().any(|n| n.network_id.as_deref().is_some_and(|id| id.starts_with(value)))
                })
            })
        });
        let ports_match = (self.publish.is_empty() && self.expose.is_empty())
            || summary.ports.iter().flatten().any(|port| {
                let protocol = port.typ.map(|t| t.to_string()).unwrap_or_default();
                let within = |ranges: &[PortRange], number: u16| {
                    ranges.iter().any(|r| r.protocol == protocol && (r.start..=r.end).contains(&number))
                };
                within(&self.publish, port.public_port.unwrap_or(0)) || within(&self.expose, port.private_port)
            });
        volumes_match && networks_match && ports_match
    }
}

/// State.Health's status, `none` without a healthcheck (or before its first start), as dockerd's snapshot.
fn health_of(record: &ContainerRecord) -> &'static str {
    use bollard_stubs::models::HealthStatusEnum;
    match record.state.health.as_ref().and_then(|health| health.status) {
        Some(HealthStatusEnum::STARTING) => "starting",
        Some(HealthStatusEnum::HEALTHY) => "healthy",
        Some(HealthStatusEnum::UNHEALTHY) => "unhealthy",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(raw: &str) -> Result<Checked, FilterError> {
        Filters::parse(Some(raw))?.validate()
    }

    fn message(raw: &str) -> String {
        checked(raw).map(|_| String::new()).unwrap_or_else(|error| error.to_string())
    }

    #[test]
    fn both_wire_forms_parse_to_the_same_filters() {
        let current = Filters::parse(Some(r#"{"status":{"running":true,"exited":true},"name":{"web":true}}"#));
        let legacy = Filters::parse(Some(r#"{"status":["exited","running"],"name":["web"]}"#));
        assert_eq!(current.unwrap(), legacy.unwrap());
        assert_eq!(Filters::parse(Some("")).unwrap(), Filters::default());
        for bad in ["[1]", "not json", r#"{"a":["x"],"b":{"y":true}}"#, r#"{"a":[1]}"#, r#"{"a":"x"}"#] {
            assert_eq!(Filters::parse(Some(bad)).unwrap_err(), FilterError::Malformed, "{bad}");
        }
    }

    #[test]
    fn bad_filters_are_refused_in_dockerd_words() {
        assert_eq!(message(r#"{"colour":["red"]}"#), "invalid filter 'colour'");
        assert_eq!(
            message(r#"{"exited":["abc"]}"#),
            r#"invalid filter 'exited=abc': strconv.Atoi: parsing "abc": invalid syntax"#
        );
        assert_eq!(
            message(r#"{"exited":["99999999999999999999"]}"#),
            r#"invalid filter 'exited=99999999999999999999': strconv.Atoi: parsing "99999999999999999999": value out of range"#
        );
        assert_eq!(
            message(r#"{"status":["up"]}"#),
            "invalid filter 'status=up': invalid value for state (up): must be one of created, running, paused, \
             restarting, removing, exited, dead"
        );
        assert_eq!(
            message(r#"{"health":["sick"]}"#),
            "invalid filter 'health=sick': invalid value for health (sick): must be one of none, starting, healthy, \
             unhealthy"
        );
        assert_eq!(message(r#"{"is-task":["maybe"]}"#), "invalid filter 'is-task=[maybe]'");
        assert_eq!(message(r#"{"is-task":["true","0"]}"#), "invalid filter 'is-task=[0 true]'");
        assert_eq!(message(r#"{"is-task":[]}"#), "invalid filter 'is-task'");
        assert_eq!(message(r#"{"publish":["80:80"]}"#), "filter for 'publish' should not contain ':': 80:80");
        assert_eq!(
            message(r#"{"publish":["abc"]}"#),
            "error while looking up for publish abc: invalid start port 'abc': invalid syntax"
        );
        assert_eq!(
            message(r#"{"expose":["90-80"]}"#),
            "error while looking up for expose 90-80: invalid port range: 90-80"
        );
        assert_eq!(
            message(r#"{"expose":["80-x/udp"]}"#),
            "error while looking up for expose 80-x/udp: invalid end port 'x': invalid syntax"
        );
        assert_eq!(
            message(r#"{"expose":["70000"]}"#),
            "error while looking up for expose 70000: invalid start port '70000': value out of range"
        );
        assert_eq!(
            message(r#"{"expose":["+80"]}"#),
            "error while looking up for expose +80: invalid start port '+80': invalid syntax"
        );
        assert_eq!(message(r#"{"status":["running"],"health":["none"],"is-task":["false"],"isolation":["x"]}"#), "");
    }

    #[test]
    fn port_ranges_read_like_moby() {
        let range = |value: &str| parse_port_range(value).unwrap();
        assert_eq!(range("80"), PortRange { start: 80, end: 80, protocol: "tcp".into() });
        assert_eq!(range("8000-8080/UDP"), PortRange { start: 8000, end: 8080, protocol: "udp".into() });
        assert_eq!(range("80-80/tcp"), PortRange { start: 80, end: 80, protocol: "tcp".into() });
        assert_eq!(parse_port_range("").unwrap_err(), "invalid port range: value is empty");
        assert_eq!(parse_port_range("80-").unwrap_err(), "invalid end port '': value is empty");
    }

    #[test]
    fn names_match_exactly_or_as_regular_expressions() {
        assert!(Pattern::new("web").matches("/my-web-1"));
        assert!(Pattern::new("^web-[0-9]+$").matches("web-12"));
        assert!(!Pattern::new("^web-[0-9]+$").matches("/web-12"));
        // Not a regular expression: only the exact text matches, as dockerd.
        assert!(Pattern::new("a(b").matches("a(b"));
        assert!(!Pattern::new("a(b").matches("xa(b"));
    }
}
