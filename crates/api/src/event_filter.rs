//! `GET /events?filters=...` as dockerd applies them (moby daemon/events/filter.go): every key given must match.
//!
//! `type`, `scope` and `event` (the action) compare exactly, except that an `event` filter naming
//! `health_status`, `exec_create` or `exec_start` matches by prefix (`exec_create: sh -c ...`, moby #25798);
//! `container`, `network`, `volume`, `daemon` (and swarm's `plugin`, `node`, `service`, `secret`, `config`) match
//! the actor's id or its `name` attribute by prefix, whatever the event's type, as dockerd; `image` matches the
//! actor id (image events) or the `image` attribute (container events), each also without its tag; `label` is
//! `key` or `key=value` over the attributes, all of them. Keys dockerd does not know are accepted and ignored, as
//! dockerd does.

use bollard_stubs::models::{EventMessage, EventMessageTypeEnum};

use crate::container_filter::Filters;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventFilterError {
    /// Neither wire form of filters (`{"key":["value"]}`, `{"key":{"value":true}}`).
    #[error("invalid filter")]
    Malformed,
}

/// Keys that match an actor by id or name prefix.
const NAMED: [&str; 9] = ["container", "daemon", "network", "volume", "plugin", "node", "service", "secret", "config"];
/// Actions an `event` filter may name without what follows their colon.
const PREFIX_ACTIONS: [&str; 3] = ["health_status", "exec_create", "exec_start"];

pub struct EventFilter {
    filters: Filters,
    /// A session's stream: only events about its own containers (named by the engine's tenant attribute).
    tenant: Option<String>,
}

impl EventFilter {
    pub fn parse(raw: Option<&str>) -> Result<EventFilter, EventFilterError> {
        let filters = Filters::parse(raw).map_err(|_| EventFilterError::Malformed)?;
        Ok(EventFilter { filters, tenant: None })
    }

    /// Keeps only the events of `tenant`'s objects, whatever else the filters say.
    pub fn confine_to(&mut self, tenant: &str) {
        self.tenant = Some(tenant.to_string());
    }

    pub fn matches(&self, event: &EventMessage) -> bool {
        let action = event.action.as_deref().unwrap_or_default();
        let typ = event.typ.map(|t| t.to_string()).unwrap_or_default();
        let scope = event.scope.map(|s| s.to_string()).unwrap_or_default();
        let id = event.actor.as_ref().and_then(|a| a.id.as_deref()).unwrap_or_default();
        let attribute = |key: &str| {
            event.actor.as_ref().and_then(|a| a.attributes.as_ref()).and_then(|a| a.get(key)).map(String::as_str)
        };
        let name = attribute("name").unwrap_or_default();
        if self.tenant.as_deref().is_some_and(|tenant| attribute(berth_engine::TENANT_ATTRIBUTE) != Some(tenant)) {
            return false;
        }
        let event_matches = if self.filters.values("event").any(|v| PREFIX_ACTIONS.contains(&v)) {
            self.fuzzy("event", action)
        } else {
            self.exact("event", action)
        };
        event_matches
            && self.exact("type", &typ)
            && (!self.filters.contains("scope") || self.exact("scope", &scope))
            && NAMED.iter().all(|key| self.fuzzy(key, id) || self.fuzzy(key, name))
            && self.image_matches(event, id, &attribute)
            && self.labels_match(event)
    }

    /// dockerd's `ExactMatch`: no values for the key matches everything.
    fn exact(&self, key: &str, source: &str) -> bool {
        let mut values = self.filters.values(key).peekable();
        values.peek().is_none() || values.any(|v| v == source)
    }

    /// dockerd's `FuzzyMatch`: exact, or a value that begins `source`.
    fn fuzzy(&self, key: &str, source: &str) -> bool {
        let mut values = self.filters.values(key).peekable();
        values.peek().is_none() || values.any(|v| source.starts_with(v))
    }

    fn image_matches<'a>(&self, event: &EventMessage, id: &str, attribute: &impl Fn(&str) -> Option<&'a str>) -> bool {
        let name_key = if event.typ == Some(EventMessageTypeEnum::IMAGE) { "name" } else { "image" };
        let name = attribute(name_key).unwrap_or_default();
        [id, name, strip_tag(id), strip_tag(name)].into_iter().any(|source| self.exact("image", source))
    }

    /// dockerd's `MatchKVList`: every `key` or `key=value` given is among the attributes.
    fn labels_match(&self, event: &EventMessage) -> bool {
        let mut wanted = self.filters.values("label").peekable();
        if wanted.peek().is_none() {
            return true;
        }
        let Some(attributes) = event.actor.as_ref().and_then(|a| a.attributes.as_ref()).filter(|a| !a.is_empty())
        else {
            return false;
        };
        wanted.all(|label| match label.split_once('=') {
            Some((key, value)) => attributes.get(key).is_some_and(|v| v == value),
            None => attributes.contains_key(label),
        })
    }
}

/// The familiar name without tag or digest (`docker.io/library/busybox:1.36` -> `busybox`), as moby's
/// `reference.FamiliarName`; an id or anything that is not a reference comes back as it is.
fn strip_tag(image: &str) -> &str {
    if image.starts_with("sha256:") || (image.len() == 64 && image.bytes().all(|b| b.is_ascii_hexdigit())) {
        return image;
    }
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let last_slash = without_digest.rfind('/').map_or(0, |slash| slash + 1);
    let name = match without_digest[last_slash..].find(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    };
    name.strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .or_else(|| name.strip_prefix("index.docker.io/library/"))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard_stubs::models::{EventActor, EventMessageScopeEnum};

    use super::*;

    fn event(typ: EventMessageTypeEnum, action: &str, id: &str, attributes: &[(&str, &str)]) -> EventMessage {
        let attributes: HashMap<String, String> =
            attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        EventMessage {
            typ: Some(typ),
            action: Some(action.into()),
            actor: Some(EventActor { id: Some(id.into()), attributes: Some(attributes) }),
            scope: Some(EventMessageScopeEnum::LOCAL),
            time: Some(1),
            time_nano: Some(1),
        }
    }

    fn web(action: &str) -> EventMessage {
        event(
            EventMessageTypeEnum::CONTAINER,
            action,
            "0123abcd",
            &[("name", "web"), ("image", "nginx:1.25"), ("tier", "front")],
        )
    }

    fn matches(filters: &str, event: &EventMessage) -> bool {
        EventFilter::parse(Some(filters)).unwrap().matches(event)
    }

    #[test]
    fn container_by_name_or_id_prefix() {
        assert!(matches(r#"{"container":["web"]}"#, &web("start")));
        assert!(matches(r#"{"container":{"0123":true}}"#, &web("start")));
        assert!(!matches(r#"{"container":["db"]}"#, &web("start")));
        // Any actor, as dockerd: an image event named differently is out.
        let pull = event(EventMessageTypeEnum::IMAGE, "pull", "busybox:latest", &[("name", "busybox:latest")]);
        assert!(!matches(r#"{"container":["web"]}"#, &pull));
    }

    #[test]
    fn event_exact_or_by_prefix_for_exec_and_health() {
        assert!(matches(r#"{"event":["start"]}"#, &web("start")));
        assert!(!matches(r#"{"event":["star"]}"#, &web("start")));
        assert!(matches(r#"{"event":["exec_create"]}"#, &web("exec_create: sh -c true")));
        assert!(matches(r#"{"event":["health_status"]}"#, &web("health_status: healthy")));
        assert!(!matches(r#"{"event":["exec_create"]}"#, &web("exec_die")));
        assert!(matches(r#"{"event":["die","start"]}"#, &web("die")));
    }

    #[test]
    fn image_by_attribute_actor_and_without_tag() {
        assert!(matches(r#"{"image":["nginx:1.25"]}"#, &web("create")));
        assert!(matches(r#"{"image":["nginx"]}"#, &web("create")));
        assert!(!matches(r#"{"image":["redis"]}"#, &web("create")));
        let tag = event(EventMessageTypeEnum::IMAGE, "tag", "sha256:aa", &[("name", "docker.io/library/nginx:1.25")]);
        assert!(matches(r#"{"image":["nginx"]}"#, &tag));
        assert!(matches(r#"{"image":["sha256:aa"]}"#, &tag));
    }

    #[test]
    fn labels_type_scope_and_unknown_keys() {
        assert!(matches(r#"{"label":["tier"]}"#, &web("start")));
        assert!(matches(r#"{"label":["tier=front","name=web"]}"#, &web("start")));
        assert!(!matches(r#"{"label":["tier=back"]}"#, &web("start")));
        assert!(matches(r#"{"type":["container"]}"#, &web("start")));
        assert!(!matches(r#"{"type":["image","network"]}"#, &web("start")));
        assert!(matches(r#"{"scope":["local"]}"#, &web("start")));
        assert!(!matches(r#"{"scope":["swarm"]}"#, &web("start")));
        assert!(matches(r#"{"whatever":["x"]}"#, &web("start")));
    }

    #[test]
    fn network_and_volume_by_name() {
        let connect = event(
            EventMessageTypeEnum::NETWORK,
            "connect",
            "9f9f",
            &[("name", "backend"), ("container", "0123abcd"), ("type", "bridge")],
        );
        assert!(matches(r#"{"network":["backend"]}"#, &connect));
        assert!(matches(r#"{"network":["9f"],"type":["network"]}"#, &connect));
        assert!(!matches(r#"{"network":["frontend"]}"#, &connect));
        let mount = event(EventMessageTypeEnum::VOLUME, "mount", "data", &[("container", "0123abcd")]);
        assert!(matches(r#"{"volume":["data"]}"#, &mount));
        assert!(!matches(r#"{"volume":["logs"]}"#, &mount));
    }

    #[test]
    fn malformed_filters_are_refused() {
        assert!(matches!(EventFilter::parse(Some("notjson")), Err(EventFilterError::Malformed)));
        assert!(matches!(EventFilter::parse(Some("[1]")), Err(EventFilterError::Malformed)));
        assert!(EventFilter::parse(None).unwrap().matches(&web("start")));
    }

    #[test]
    fn tags_and_digests_come_off() {
        assert_eq!(strip_tag("busybox:latest"), "busybox");
        assert_eq!(strip_tag("localhost:5000/app:v1"), "localhost:5000/app");
        assert_eq!(strip_tag("docker.io/library/alpine@sha256:00"), "alpine");
        assert_eq!(strip_tag("sha256:abc"), "sha256:abc");
    }
}
