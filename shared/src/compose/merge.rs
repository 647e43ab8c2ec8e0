//! Compose's override rules, used for `-f a.yaml -f b.yaml` and for `extends` (the extending service overrides
//! its base): scalars are replaced, mappings merge per key, sequences of values (ports, expose, dns, caps, ...)
//! are appended without duplicates, volumes and secret/config mounts merge by target, and command/entrypoint
//! are replaced whole.

use indexmap::IndexMap;

use super::model::{Build, Deploy, FileMount, Healthcheck, Logging, ResourceLimits, Service, ServiceVolume};

/// Applies `over` on top of `base`.
pub(crate) fn merge_service(base: &mut Service, over: Service) {
    replace(&mut base.image, over.image);
    merge_option(&mut base.build, over.build, merge_build);
    replace(&mut base.command, over.command);
    replace(&mut base.entrypoint, over.entrypoint);
    base.environment.extend(over.environment);
    append_unique(&mut base.ports, over.ports);
    append_unique(&mut base.expose, over.expose);
    merge_by_target(&mut base.volumes, over.volumes, |volume: &ServiceVolume| volume.target.clone());
    append_unique(&mut base.volumes_from, over.volumes_from);
    base.networks.extend(over.networks);
    replace(&mut base.network_mode, over.network_mode);
    append_unique(&mut base.links, over.links);
    base.depends_on.extend(over.depends_on);
    replace(&mut base.restart, over.restart);
    replace(&mut base.user, over.user);
    replace(&mut base.working_dir, over.working_dir);
    replace(&mut base.hostname, over.hostname);
    replace(&mut base.container_name, over.container_name);
    merge_option(&mut base.healthcheck, over.healthcheck, merge_healthcheck);
    replace(&mut base.berth_route, over.berth_route);
    base.labels.extend(over.labels);
    replace(&mut base.mem_limit, over.mem_limit);
    replace(&mut base.memswap_limit, over.memswap_limit);
    replace(&mut base.cpus, over.cpus);
    replace(&mut base.cpu_shares, over.cpu_shares);
    replace(&mut base.pids_limit, over.pids_limit);
    base.ulimits.extend(over.ulimits);
    replace(&mut base.read_only, over.read_only);
    append_unique(&mut base.cap_add, over.cap_add);
    append_unique(&mut base.cap_drop, over.cap_drop);
    append_unique(&mut base.security_opt, over.security_opt);
    append_unique(&mut base.tmpfs, over.tmpfs);
    replace(&mut base.init, over.init);
    replace(&mut base.stop_signal, over.stop_signal);
    replace(&mut base.stop_grace_period, over.stop_grace_period);
    merge_option(&mut base.logging, over.logging, merge_logging);
    merge_by_target(&mut base.secrets, over.secrets, |mount: &FileMount| mount.target.clone());
    merge_by_target(&mut base.configs, over.configs, |mount: &FileMount| mount.target.clone());
    merge_option(&mut base.deploy, over.deploy, merge_deploy);
    append_unique(&mut base.profiles, over.profiles);
    replace(&mut base.tty, over.tty);
    replace(&mut base.stdin_open, over.stdin_open);
    replace(&mut base.privileged, over.privileged);
    append_unique(&mut base.dns, over.dns);
    append_unique(&mut base.dns_search, over.dns_search);
    append_unique(&mut base.extra_hosts, over.extra_hosts);
    base.sysctls.extend(over.sysctls);
    replace(&mut base.shm_size, over.shm_size);
}

/// Later entries with the same key replace earlier ones in place; new keys are added at the end.
pub(crate) fn merge_maps<V>(base: &mut IndexMap<String, V>, over: IndexMap<String, V>) {
    base.extend(over);
}

fn replace<T>(base: &mut Option<T>, over: Option<T>) {
    if over.is_some() {
        *base = over;
    }
}

fn merge_option<T>(base: &mut Option<T>, over: Option<T>, merge: fn(&mut T, T)) {
    match (base.as_mut(), over) {
        (Some(existing), Some(over)) => merge(existing, over),
        (None, Some(over)) => *base = Some(over),
        (_, None) => {}
    }
}

fn append_unique<T: PartialEq>(base: &mut Vec<T>, over: Vec<T>) {
    for item in over {
        if !base.contains(&item) {
            base.push(item);
        }
    }
}

fn merge_by_target<T>(base: &mut Vec<T>, over: Vec<T>, target: fn(&T) -> String) {
    for item in over {
        let key = target(&item);
        match base.iter_mut().find(|existing| target(existing) == key) {
            Some(existing) => *existing = item,
            None => base.push(item),
        }
    }
}

fn merge_build(base: &mut Build, over: Build) {
    base.context = over.context;
    replace(&mut base.dockerfile, over.dockerfile);
    base.args.extend(over.args);
    replace(&mut base.target, over.target);
    base.labels.extend(over.labels);
}

fn merge_healthcheck(base: &mut Healthcheck, over: Healthcheck) {
    if !over.test.is_empty() {
        base.test = over.test;
    }
    replace(&mut base.interval, over.interval);
    replace(&mut base.timeout, over.timeout);
    replace(&mut base.retries, over.retries);
    replace(&mut base.start_period, over.start_period);
    replace(&mut base.start_interval, over.start_interval);
    base.disable |= over.disable;
}

fn merge_logging(base: &mut Logging, over: Logging) {
    // Options belong to a driver: a different driver starts from its own options only.
    if over.driver.is_some() && over.driver != base.driver {
        *base = over;
        return;
    }
    base.options.extend(over.options);
}

fn merge_deploy(base: &mut Deploy, over: Deploy) {
    merge_option(&mut base.resources.limits, over.resources.limits, merge_limits);
    merge_option(&mut base.resources.reservations, over.resources.reservations, merge_limits);
}

fn merge_limits(base: &mut ResourceLimits, over: ResourceLimits) {
    replace(&mut base.cpus, over.cpus);
    replace(&mut base.memory, over.memory);
    replace(&mut base.pids, over.pids);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::Port;

    #[test]
    fn scalars_replace_maps_merge_sequences_append() {
        let mut base = Service {
            image: Some("a".into()),
            command: Some(vec!["x".into(), "y".into()]),
            environment: [("A".to_string(), Some("1".to_string())), ("B".into(), Some("2".into()))]
                .into_iter()
                .collect(),
            ports: vec![Port { target: 80, ..Port::default() }],
            dns: vec!["1.1.1.1".into()],
            ..Service::default()
        };
        let over = Service {
            image: Some("b".into()),
            command: Some(vec!["z".into()]),
            environment: [("B".to_string(), Some("3".to_string()))].into_iter().collect(),
            ports: vec![Port { target: 80, ..Port::default() }, Port { target: 443, ..Port::default() }],
            dns: vec!["1.1.1.1".into(), "8.8.8.8".into()],
            ..Service::default()
        };
        merge_service(&mut base, over);
        assert_eq!(base.image.as_deref(), Some("b"));
        assert_eq!(base.command, Some(vec!["z".to_string()]));
        assert_eq!(base.environment.get("A"), Some(&Some("1".to_string())));
        assert_eq!(base.environment.get("B"), Some(&Some("3".to_string())));
        assert_eq!(base.ports.iter().map(|port| port.target).collect::<Vec<_>>(), [80, 443]);
        assert_eq!(base.dns, ["1.1.1.1", "8.8.8.8"]);
    }
}
