//! One service definition: every field compose allows, in each of its syntaxes, typed into [`Service`].
//!
//! env_file contents are read (through the caller's [`super::FileSource`]) and merged here, under the file's own
//! `environment`, so a missing env_file is reported at the line that names it.

use indexmap::IndexMap;

use super::decode::{child_path, Decoder, Location};
use super::dotenv::parse_dotenv;
use super::error::{ComposeError, Severity};
use super::model::{
    BerthRoute, Build, Dependency, DependencyCondition, Deploy, FileMount, Healthcheck, Logging, MountType, Port,
    ResourceLimits, Resources, Service, ServiceNetwork, ServiceVolume, TmpfsMountOptions, Ulimit, VolumeMountOptions,
};
use super::yaml::{Node, Value};
use super::{mounts, ports, shell_words};

const SERVICE_KEYS: &[&str] = &[
    "x-berth-route",
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "volumes_from",
    "networks",
    "network_mode",
    "links",
    "depends_on",
    "restart",
    "user",
    "working_dir",
    "hostname",
    "container_name",
    "healthcheck",
    "labels",
    "mem_limit",
    "memswap_limit",
    "cpus",
    "cpu_shares",
    "pids_limit",
    "ulimits",
    "read_only",
    "cap_add",
    "cap_drop",
    "security_opt",
    "tmpfs",
    "init",
    "stop_signal",
    "stop_grace_period",
    "logging",
    "secrets",
    "configs",
    "deploy",
    "profiles",
    "extends",
    "tty",
    "stdin_open",
    "privileged",
    "dns",
    "dns_search",
    "extra_hosts",
    "sysctls",
    "shm_size",
];

/// Compose-spec service attributes that Berth accepts but does not apply yet (a warning, not an error, so a
/// real-world file still loads).
const IGNORED_SERVICE_KEYS: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpuset",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns_opt",
    "domainname",
    "external_links",
    "gpus",
    "group_add",
    "ipc",
    "isolation",
    "label_file",
    "mac_address",
    "mem_reservation",
    "mem_swappiness",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "platform",
    "post_start",
    "pre_stop",
    "pull_policy",
    "runtime",
    "scale",
    "storage_opt",
    "userns_mode",
    "uts",
];

/// `extends:` as written: the service to start from and, when in another file, that file's resolved path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExtendsRef {
    pub(crate) file: Option<String>,
    pub(crate) service: String,
    pub(crate) path: String,
    pub(crate) location: Location,
}

pub(crate) struct DecodedService {
    pub(crate) service: Service,
    pub(crate) extends: Option<ExtendsRef>,
}

impl Decoder<'_> {
    pub(crate) fn service(&mut self, node: &Node, path: &str) -> DecodedService {
        let mut service = Service::default();
        let mut extends = None;
        let mut explicit_environment = IndexMap::new();
        let mut environment_from_files: IndexMap<String, Option<String>> = IndexMap::new();
        for entry in self.mapping(node, path, SERVICE_KEYS, IGNORED_SERVICE_KEYS) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "image" => service.image = self.string(value, path),
                "build" => service.build = self.build(value, path),
                "command" => service.command = self.command(value, path),
                "entrypoint" => service.entrypoint = self.command(value, path),
                "environment" => explicit_environment = self.key_values(value, path),
                "env_file" => environment_from_files = self.env_files(value, path),
                "ports" => service.ports = self.ports(value, path),
                "expose" => service.expose = self.string_list(value, path),
                "volumes" => service.volumes = self.service_volumes(value, path),
                "volumes_from" => service.volumes_from = self.string_list(value, path),
                "networks" => service.networks = self.service_networks(value, path),
                "network_mode" => service.network_mode = self.string(value, path),
                "links" => service.links = self.string_list(value, path),
                "depends_on" => service.depends_on = self.depends_on(value, path),
                "restart" => service.restart = self.restart(value, path),
                "user" => service.user = self.string(value, path),
                "working_dir" => service.working_dir = self.string(value, path),
                "hostname" => service.hostname = self.string(value, path),
                "container_name" => service.container_name = self.string(value, path),
                "healthcheck" => service.healthcheck = self.healthcheck(value, path),
                "x-berth-route" => service.berth_route = self.berth_route(value, path),
                "labels" => service.labels = self.string_map(value, path),
                "mem_limit" => service.mem_limit = self.byte_size(value, path),
                "memswap_limit" => service.memswap_limit = self.swap_limit(value, path),
                "cpus" => service.cpus = self.float(value, path),
                "cpu_shares" => service.cpu_shares = self.integer(value, path),
                "pids_limit" => service.pids_limit = self.integer(value, path),
                "ulimits" => service.ulimits = self.ulimits(value, path),
                "read_only" => service.read_only = self.boolean(value, path),
                "cap_add" => service.cap_add = self.string_list(value, path),
                "cap_drop" => service.cap_drop = self.string_list(value, path),
                "security_opt" => service.security_opt = self.string_list(value, path),
                "tmpfs" => service.tmpfs = self.string_or_list(value, path),
                "init" => service.init = self.boolean(value, path),
                "stop_signal" => service.stop_signal = self.string(value, path),
                "stop_grace_period" => service.stop_grace_period = self.duration(value, path),
                "logging" => service.logging = self.logging(value, path),
                "secrets" => service.secrets = self.file_mounts(value, path, "/run/secrets/"),
                "configs" => service.configs = self.file_mounts(value, path, "/"),
                "deploy" => service.deploy = self.deploy(value, path),
                "profiles" => service.profiles = self.string_list(value, path),
                "extends" => extends = self.extends(value, path),
                "tty" => service.tty = self.boolean(value, path),
                "stdin_open" => service.stdin_open = self.boolean(value, path),
                "privileged" => service.privileged = self.boolean(value, path),
                "dns" => service.dns = self.string_or_list(value, path),
                "dns_search" => service.dns_search = self.string_or_list(value, path),
                "extra_hosts" => service.extra_hosts = self.extra_hosts(value, path),
                "sysctls" => service.sysctls = self.string_map(value, path),
                "shm_size" => service.shm_size = self.byte_size(value, path),
                _ => {}
            }
        }
        // A name listed without a value takes the value from the environment, as compose does.
        for (name, value) in &mut explicit_environment {
            if value.is_none() {
                *value = (self.lookup)(name);
            }
        }
        environment_from_files.extend(explicit_environment);
        service.environment = environment_from_files;
        DecodedService { service, extends }
    }

    fn command(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Scalar(scalar) => match shell_words::split(&scalar.text) {
                Some(words) => Some(words),
                None => {
                    self.invalid(node, path, &scalar.text, "unclosed quote");
                    None
                }
            },
            Value::Null => None,
            _ => Some(self.string_list(node, path)),
        }
    }

    fn build(&mut self, node: &Node, path: &str) -> Option<Build> {
        if let Value::Scalar(scalar) = &node.value {
            return Some(Build { context: self.build_context(&scalar.text), ..Build::default() });
        }
        let mut build = Build { context: self.build_context("."), ..Build::default() };
        let known = ["context", "dockerfile", "args", "target", "labels"];
        let ignored = [
            "additional_contexts",
            "cache_from",
            "cache_to",
            "dockerfile_inline",
            "entitlements",
            "extra_hosts",
            "isolation",
            "network",
            "no_cache",
            "platforms",
            "privileged",
            "pull",
            "secrets",
            "shm_size",
            "ssh",
            "tags",
            "ulimits",
        ];
        for entry in self.mapping(node, path, &known, &ignored) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "context" => {
                    if let Some(context) = self.string(value, path) {
                        build.context = self.build_context(&context);
                    }
                }
                "dockerfile" => build.dockerfile = self.string(value, path),
                "args" => build.args = self.key_values(value, path),
                "target" => build.target = self.string(value, path),
                "labels" => build.labels = self.string_map(value, path),
                _ => {}
            }
        }
        Some(build)
    }

    fn build_context(&self, context: &str) -> String {
        // Remote contexts (git URLs, tarball URLs) are not paths.
        if context.contains("://") || context.starts_with("git@") {
            context.to_string()
        } else {
            self.host_path(context)
        }
    }

    fn env_files(&mut self, node: &Node, path: &str) -> IndexMap<String, Option<String>> {
        let mut variables = IndexMap::new();
        let entries: Vec<(usize, &Node)> = match &node.value {
            Value::Sequence(items) => items.iter().enumerate().collect(),
            Value::Null => Vec::new(),
            _ => vec![(0, node)],
        };
        let single = !matches!(node.value, Value::Sequence(_));
        for (index, item) in entries {
            let item_path = if single { path.to_string() } else { format!("{path}[{index}]") };
            let (file, required) = match &item.value {
                Value::Mapping(_) => {
                    let mut file = None;
                    let mut required = true;
                    for entry in self.mapping(item, &item_path, &["path", "required", "format"], &[]) {
                        match entry.key.as_str() {
                            "path" => file = self.string(entry.value, &entry.path),
                            "required" => required = self.boolean(entry.value, &entry.path).unwrap_or(true),
                            _ => {}
                        }
                    }
                    (file, required)
                }
                _ => (self.string(item, &item_path), true),
            };
            let Some(file) = file else { continue };
            let resolved = self.host_path(&file);
            let Some(contents) = self.files.read(&resolved) else {
                if required {
                    self.error(item, &item_path, ComposeError::MissingEnvFile(resolved));
                }
                continue;
            };
            match parse_dotenv(&contents, self.lookup) {
                Ok(parsed) => variables.extend(parsed),
                Err(error) => {
                    let span = crate::dockerfile::span::Span::new(error.position, error.position);
                    self.diagnostics.push(super::error::Diagnostic {
                        severity: Severity::Error,
                        file: resolved,
                        span,
                        path: item_path,
                        kind: error.error,
                    });
                }
            }
        }
        variables
    }

    fn ports(&mut self, node: &Node, path: &str) -> Vec<Port> {
        let Value::Sequence(items) = &node.value else {
            if !matches!(node.value, Value::Null) {
                self.wrong_type(node, path, "sequence");
            }
            return Vec::new();
        };
        let mut result = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            self.record(&item_path, item);
            match &item.value {
                Value::Scalar(scalar) => match ports::parse_short(&scalar.text) {
                    Ok(parsed) => result.extend(parsed),
                    Err(reason) => {
                        self.error(item, &item_path, ComposeError::InvalidPort { spec: scalar.text.clone(), reason })
                    }
                },
                Value::Mapping(_) => {
                    if let Some(port) = self.long_port(item, &item_path) {
                        result.push(port);
                    }
                }
                _ => self.wrong_type(item, &item_path, "string or mapping"),
            }
        }
        result
    }

    fn long_port(&mut self, node: &Node, path: &str) -> Option<Port> {
        let mut port = Port::default();
        let mut has_target = false;
        let known = ["target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"];
        for entry in self.mapping(node, path, &known, &[]) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "target" => {
                    if let Some(target) = self.integer::<u16>(value, path) {
                        port.target = target;
                        has_target = target != 0;
                    }
                }
                "published" => port.published = self.string(value, path),
                "host_ip" => port.host_ip = self.string(value, path),
                "protocol" => {
                    if let Some(protocol) = self.string(value, path) {
                        if matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
                            port.protocol = protocol;
                        } else {
                            self.invalid(value, path, &protocol, "must be tcp, udp or sctp");
                        }
                    }
                }
                "mode" => port.mode = self.string(value, path),
                _ => {}
            }
        }
        if !has_target {
            self.error(node, path, ComposeError::InvalidPort { spec: String::new(), reason: "missing target".into() });
            return None;
        }
        Some(port)
    }

    fn service_volumes(&mut self, node: &Node, path: &str) -> Vec<ServiceVolume> {
        let Value::Sequence(items) = &node.value else {
            if !matches!(node.value, Value::Null) {
                self.wrong_type(node, path, "sequence");
            }
            return Vec::new();
        };
        let mut result = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            self.record(&item_path, item);
            match &item.value {
                Value::Scalar(scalar) => {
                    let base_dir = self.base_dir.clone();
                    let lookup = self.lookup;
                    let host_path = |source: &str| super::paths::resolve(&base_dir, source, lookup);
                    match mounts::parse_short(&scalar.text, &host_path) {
                        Ok(volume) => result.push(volume),
                        Err(reason) => self.error(
                            item,
                            &item_path,
                            ComposeError::InvalidVolume { spec: scalar.text.clone(), reason },
                        ),
                    }
                }
                Value::Mapping(_) => {
                    if let Some(volume) = self.long_volume(item, &item_path) {
                        result.push(volume);
                    }
                }
                _ => self.wrong_type(item, &item_path, "string or mapping"),
            }
        }
        result
    }

    fn long_volume(&mut self, node: &Node, path: &str) -> Option<ServiceVolume> {
        let mut volume = ServiceVolume::default();
        let known = ["type", "source", "target", "read_only", "volume", "tmpfs", "bind", "consistency"];
        let mut valid = true;
        for entry in self.mapping(node, path, &known, &[]) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "type" => match self.string(value, path).as_deref() {
                    Some("volume") => volume.mount_type = MountType::Volume,
                    Some("bind") => volume.mount_type = MountType::Bind,
                    Some("tmpfs") => volume.mount_type = MountType::Tmpfs,
                    Some(other) => {
                        self.invalid(value, path, other, "must be volume, bind or tmpfs");
                        valid = false;
                    }
                    None => {}
                },
                "source" => volume.source = self.string(value, path),
                "target" => volume.target = self.string(value, path).unwrap_or_default(),
                "read_only" => volume.read_only = self.boolean(value, path).unwrap_or(false),
                "volume" => {
                    let mut options = VolumeMountOptions::default();
                    for option in self.mapping(value, path, &["nocopy", "subpath"], &[]) {
                        if option.key == "nocopy" {
                            options.nocopy = self.boolean(option.value, &option.path).unwrap_or(false);
                        }
                    }
                    volume.volume = Some(options);
                }
                "tmpfs" => {
                    let mut options = TmpfsMountOptions::default();
                    for option in self.mapping(value, path, &["size", "mode"], &[]) {
                        if option.key == "size" {
                            options.size = self.byte_size(option.value, &option.path);
                        }
                    }
                    volume.tmpfs = Some(options);
                }
                // Propagation, SELinux relabelling and consistency are accepted and not applied (yet).
                _ => {}
            }
        }
        if volume.target.is_empty() || !volume.target.starts_with('/') {
            let reason = format!("the target {:?} is not an absolute path", volume.target);
            self.error(node, path, ComposeError::InvalidVolume { spec: String::new(), reason });
            return None;
        }
        if volume.mount_type == MountType::Bind {
            match &volume.source {
                Some(source) => volume.source = Some(self.host_path(source)),
                None => {
                    let reason = "a bind mount needs a source".to_string();
                    self.error(node, path, ComposeError::InvalidVolume { spec: String::new(), reason });
                    return None;
                }
            }
        }
        valid.then_some(volume)
    }

    fn service_networks(&mut self, node: &Node, path: &str) -> IndexMap<String, ServiceNetwork> {
        let mut result = IndexMap::new();
        match &node.value {
            Value::Sequence(_) => {
                for name in self.names_list(node, path) {
                    result.insert(name, ServiceNetwork::default());
                }
            }
            Value::Mapping(_) => {
                for (entry, _) in self.named_entries(node, path) {
                    let mut network = ServiceNetwork::default();
                    let known = [
                        "aliases",
                        "ipv4_address",
                        "ipv6_address",
                        "priority",
                        "link_local_ips",
                        "mac_address",
                        "driver_opts",
                        "gw_priority",
                        "interface_name",
                    ];
                    for option in self.mapping(entry.value, &entry.path, &known, &[]) {
                        match option.key.as_str() {
                            "aliases" => network.aliases = self.string_list(option.value, &option.path),
                            "ipv4_address" => network.ipv4_address = self.string(option.value, &option.path),
                            "ipv6_address" => network.ipv6_address = self.string(option.value, &option.path),
                            _ => {}
                        }
                    }
                    result.insert(entry.key, network);
                }
            }
            Value::Null => {}
            Value::Scalar(_) => self.wrong_type(node, path, "sequence or mapping"),
        }
        result
    }

    fn depends_on(&mut self, node: &Node, path: &str) -> IndexMap<String, Dependency> {
        let mut result = IndexMap::new();
        match &node.value {
            Value::Sequence(_) => {
                for name in self.names_list(node, path) {
                    result.insert(name, Dependency::default());
                }
            }
            Value::Mapping(_) => {
                for (entry, _) in self.named_entries(node, path) {
                    let mut dependency = Dependency::default();
                    for option in self.mapping(entry.value, &entry.path, &["condition", "restart", "required"], &[]) {
                        let (value, path) = (option.value, option.path.as_str());
                        match option.key.as_str() {
                            "condition" => match self.string(value, path).as_deref() {
                                Some("service_started") => dependency.condition = DependencyCondition::ServiceStarted,
                                Some("service_healthy") => dependency.condition = DependencyCondition::ServiceHealthy,
                                Some("service_completed_successfully") => {
                                    dependency.condition = DependencyCondition::ServiceCompletedSuccessfully
                                }
                                Some(other) => self.invalid(
                                    value,
                                    path,
                                    other,
                                    "must be service_started, service_healthy or service_completed_successfully",
                                ),
                                None => {}
                            },
                            "restart" => dependency.restart = self.boolean(value, path).unwrap_or(false),
                            "required" => dependency.required = self.boolean(value, path).unwrap_or(true),
                            _ => {}
                        }
                    }
                    result.insert(entry.key, dependency);
                }
            }
            Value::Null => {}
            Value::Scalar(_) => self.wrong_type(node, path, "sequence or mapping"),
        }
        result
    }

    fn restart(&mut self, node: &Node, path: &str) -> Option<String> {
        let policy = self.string(node, path)?;
        let valid = match policy.split_once(':') {
            Some(("on-failure", retries)) => retries.parse::<u32>().is_ok(),
            Some(_) => false,
            None => matches!(policy.as_str(), "no" | "always" | "on-failure" | "unless-stopped"),
        };
        if !valid {
            self.invalid(node, path, &policy, "must be no, always, on-failure[:max-retries] or unless-stopped");
            return None;
        }
        Some(policy)
    }

    /// `x-berth-route`: this service as a backend of a routed port `berth compose up` makes.
    fn berth_route(&mut self, node: &Node, path: &str) -> Option<BerthRoute> {
        let mut route = BerthRoute::default();
        let known = ["route", "host_port", "port", "mode", "live", "weight", "shadow"];
        for entry in self.mapping(node, path, &known, &[]) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "route" => route.route = self.string(value, path).unwrap_or_default(),
                "host_port" => route.host_port = self.integer(value, path).unwrap_or(0),
                "port" => route.port = self.integer(value, path).unwrap_or(0),
                "mode" => route.mode = self.string(value, path).unwrap_or_default(),
                "live" => route.live = self.boolean(value, path).unwrap_or(false),
                "weight" => route.weight = self.integer(value, path),
                "shadow" => route.shadow = self.boolean(value, path).unwrap_or(false),
                _ => {}
            }
        }
        if route.route.is_empty() || route.port == 0 {
            self.invalid(node, path, "x-berth-route", "needs route (its name) and port (the service's)");
            return None;
        }
        Some(route)
    }

    fn healthcheck(&mut self, node: &Node, path: &str) -> Option<Healthcheck> {
        let mut healthcheck = Healthcheck::default();
        let known = ["test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"];
        for entry in self.mapping(node, path, &known, &[]) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "test" => {
                    healthcheck.test = match &value.value {
                        Value::Scalar(scalar) => vec!["CMD-SHELL".to_string(), scalar.text.clone()],
                        _ => self.string_list(value, path),
                    }
                }
                "interval" => healthcheck.interval = self.duration(value, path),
                "timeout" => healthcheck.timeout = self.duration(value, path),
                "retries" => healthcheck.retries = self.integer(value, path),
                "start_period" => healthcheck.start_period = self.duration(value, path),
                "start_interval" => healthcheck.start_interval = self.duration(value, path),
                "disable" => healthcheck.disable = self.boolean(value, path).unwrap_or(false),
                _ => {}
            }
        }
        Some(healthcheck)
    }

    fn swap_limit(&mut self, node: &Node, path: &str) -> Option<i64> {
        if node.as_scalar_text().map(str::trim) == Some("-1") {
            return Some(-1);
        }
        let bytes = self.byte_size(node, path)?;
        i64::try_from(bytes).ok()
    }

    fn ulimits(&mut self, node: &Node, path: &str) -> IndexMap<String, Ulimit> {
        let mut result = IndexMap::new();
        for (entry, _) in self.named_entries(node, path) {
            let limit = match &entry.value.value {
                Value::Mapping(_) => {
                    let mut limit = Ulimit::default();
                    for option in self.mapping(entry.value, &entry.path, &["soft", "hard"], &[]) {
                        let value = self.integer(option.value, &option.path).unwrap_or(0);
                        if option.key == "soft" {
                            limit.soft = value;
                        } else {
                            limit.hard = value;
                        }
                    }
                    limit
                }
                _ => match self.integer::<i64>(entry.value, &entry.path) {
                    Some(value) => Ulimit { soft: value, hard: value },
                    None => continue,
                },
            };
            result.insert(entry.key, limit);
        }
        result
    }

    fn logging(&mut self, node: &Node, path: &str) -> Option<Logging> {
        let mut logging = Logging::default();
        for entry in self.mapping(node, path, &["driver", "options"], &[]) {
            match entry.key.as_str() {
                "driver" => logging.driver = self.string(entry.value, &entry.path),
                _ => logging.options = self.string_map(entry.value, &entry.path),
            }
        }
        Some(logging)
    }

    /// Secrets (`default_dir` `/run/secrets/`) or configs (`/`): a name, or `{source, target, uid, gid, mode}`.
    fn file_mounts(&mut self, node: &Node, path: &str, default_dir: &str) -> Vec<FileMount> {
        let Value::Sequence(items) = &node.value else {
            if !matches!(node.value, Value::Null) {
                self.wrong_type(node, path, "sequence");
            }
            return Vec::new();
        };
        let mut result = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            self.record(&item_path, item);
            let mut mount = FileMount::default();
            match &item.value {
                Value::Scalar(scalar) => mount.source = scalar.text.clone(),
                Value::Mapping(_) => {
                    for entry in self.mapping(item, &item_path, &["source", "target", "uid", "gid", "mode"], &[]) {
                        let (value, path) = (entry.value, entry.path.as_str());
                        match entry.key.as_str() {
                            "source" => mount.source = self.string(value, path).unwrap_or_default(),
                            "target" => mount.target = self.string(value, path).unwrap_or_default(),
                            "uid" => mount.uid = self.string(value, path),
                            "gid" => mount.gid = self.string(value, path),
                            _ => mount.mode = self.integer(value, path),
                        }
                    }
                }
                _ => {
                    self.wrong_type(item, &item_path, "string or mapping");
                    continue;
                }
            }
            if mount.source.is_empty() {
                self.invalid(item, &item_path, "", "a source is required");
                continue;
            }
            if mount.target.is_empty() {
                mount.target = format!("{default_dir}{}", mount.source);
            } else if !mount.target.starts_with('/') {
                mount.target = format!("{default_dir}{}", mount.target);
            }
            result.push(mount);
        }
        result
    }

    fn deploy(&mut self, node: &Node, path: &str) -> Option<Deploy> {
        let ignored = [
            "endpoint_mode",
            "labels",
            "mode",
            "placement",
            "replicas",
            "restart_policy",
            "rollback_config",
            "update_config",
        ];
        let mut deploy = Deploy::default();
        for entry in self.mapping(node, path, &["resources"], &ignored) {
            let mut resources = Resources::default();
            for resource in self.mapping(entry.value, &entry.path, &["limits", "reservations"], &[]) {
                let limits = self.resource_limits(resource.value, &resource.path);
                if resource.key == "limits" {
                    resources.limits = Some(limits);
                } else {
                    resources.reservations = Some(limits);
                }
            }
            deploy.resources = resources;
        }
        Some(deploy)
    }

    fn resource_limits(&mut self, node: &Node, path: &str) -> ResourceLimits {
        let mut limits = ResourceLimits::default();
        for entry in self.mapping(node, path, &["cpus", "memory", "pids"], &["devices", "generic_resources"]) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "cpus" => limits.cpus = self.float(value, path),
                "memory" => limits.memory = self.byte_size(value, path),
                _ => limits.pids = self.integer(value, path),
            }
        }
        limits
    }

    fn extends(&mut self, node: &Node, path: &str) -> Option<ExtendsRef> {
        let location = Location { file: self.file.clone(), span: node.span };
        if let Value::Scalar(scalar) = &node.value {
            return Some(ExtendsRef { file: None, service: scalar.text.clone(), path: path.to_string(), location });
        }
        let mut file = None;
        let mut service = None;
        for entry in self.mapping(node, path, &["service", "file"], &[]) {
            match entry.key.as_str() {
                "service" => service = self.string(entry.value, &entry.path),
                _ => file = self.string(entry.value, &entry.path).map(|file| self.host_path(&file)),
            }
        }
        let Some(service) = service else {
            self.invalid(node, &child_path(path, "service"), "", "extends needs a service");
            return None;
        };
        Some(ExtendsRef { file, service, path: path.to_string(), location })
    }

    fn extra_hosts(&mut self, node: &Node, path: &str) -> Vec<String> {
        match &node.value {
            Value::Mapping(_) => self
                .key_values(node, path)
                .into_iter()
                .map(|(host, address)| format!("{host}:{}", address.unwrap_or_default()))
                .collect(),
            _ => self.string_list(node, path),
        }
    }
}
