//! One compose file's top level: `version`, `name`, `services`, `networks`, `volumes`, `secrets`, `configs`.

use indexmap::IndexMap;

use super::decode::Decoder;
use super::decode_service::DecodedService;
use super::error::ComposeError;
use super::model::{FileObject, Ipam, IpamPool, Network, Volume};
use super::yaml::{Node, Value};

/// One file, typed, before extends, merging and cross-reference checks.
#[derive(Default)]
pub(crate) struct ProjectFile {
    pub(crate) name: Option<String>,
    pub(crate) services: IndexMap<String, DecodedService>,
    pub(crate) networks: IndexMap<String, Network>,
    pub(crate) volumes: IndexMap<String, Volume>,
    pub(crate) secrets: IndexMap<String, FileObject>,
    pub(crate) configs: IndexMap<String, FileObject>,
}

const TOP_LEVEL_KEYS: &[&str] = &["version", "name", "services", "networks", "volumes", "secrets", "configs"];

/// A service name compose accepts: letters, digits, `_`, `.`, `-`, starting with a letter or digit.
pub(crate) fn is_valid_service_name(name: &str) -> bool {
    name.chars().next().is_some_and(|first| first.is_ascii_alphanumeric())
        && name.chars().all(|character| character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '-'))
}

impl Decoder<'_> {
    pub(crate) fn project_file(&mut self, root: &Node) -> ProjectFile {
        let mut file = ProjectFile::default();
        if matches!(root.value, Value::Null) {
            return file;
        }
        for entry in self.mapping(root, "", TOP_LEVEL_KEYS, &["include", "models"]) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "version" => self.warn(value, path, ComposeError::ObsoleteVersion),
                "name" => file.name = self.string(value, path),
                "services" => {
                    for (service, key_node) in self.named_entries(value, path) {
                        if !is_valid_service_name(&service.key) {
                            self.error(key_node, &service.path, ComposeError::InvalidServiceName(service.key.clone()));
                            continue;
                        }
                        let decoded = self.service(service.value, &service.path);
                        file.services.insert(service.key, decoded);
                    }
                }
                "networks" => {
                    for (network, _) in self.named_entries(value, path) {
                        let decoded = self.network(network.value, &network.path);
                        file.networks.insert(network.key, decoded);
                    }
                }
                "volumes" => {
                    for (volume, _) in self.named_entries(value, path) {
                        let decoded = self.volume(volume.value, &volume.path);
                        file.volumes.insert(volume.key, decoded);
                    }
                }
                "secrets" | "configs" => {
                    let configs = entry.key == "configs";
                    for (object, _) in self.named_entries(value, path) {
                        let decoded = self.file_object(object.value, &object.path);
                        if configs {
                            file.configs.insert(object.key, decoded);
                        } else {
                            file.secrets.insert(object.key, decoded);
                        }
                    }
                }
                _ => {}
            }
        }
        file
    }

    /// `external: true`, or the legacy `external: {name: x}`.
    fn external(&mut self, node: &Node, path: &str, name: &mut Option<String>) -> bool {
        if let Value::Mapping(_) = node.value {
            for entry in self.mapping(node, path, &["name"], &[]) {
                *name = self.string(entry.value, &entry.path);
            }
            return true;
        }
        self.boolean(node, path).unwrap_or(false)
    }

    fn network(&mut self, node: &Node, path: &str) -> Network {
        let mut network = Network::default();
        let known =
            ["name", "driver", "driver_opts", "external", "internal", "attachable", "enable_ipv6", "ipam", "labels"];
        for entry in self.mapping(node, path, &known, &["enable_ipv4"]) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "name" => network.name = self.string(value, path),
                "driver" => network.driver = self.string(value, path),
                "driver_opts" => network.driver_opts = self.string_map(value, path),
                "external" => network.external = self.external(value, path, &mut network.name),
                "internal" => network.internal = self.boolean(value, path).unwrap_or(false),
                "attachable" => network.attachable = self.boolean(value, path).unwrap_or(false),
                "enable_ipv6" => network.enable_ipv6 = self.boolean(value, path),
                "ipam" => network.ipam = Some(self.ipam(value, path)),
                "labels" => network.labels = self.string_map(value, path),
                _ => {}
            }
        }
        network
    }

    fn ipam(&mut self, node: &Node, path: &str) -> Ipam {
        let mut ipam = Ipam::default();
        for entry in self.mapping(node, path, &["driver", "config", "options"], &[]) {
            match entry.key.as_str() {
                "driver" => ipam.driver = self.string(entry.value, &entry.path),
                "config" => {
                    let Value::Sequence(items) = &entry.value.value else {
                        self.wrong_type(entry.value, &entry.path, "sequence");
                        continue;
                    };
                    for (index, item) in items.iter().enumerate() {
                        let item_path = format!("{}[{index}]", entry.path);
                        let mut pool = IpamPool::default();
                        let known = ["subnet", "gateway", "ip_range", "aux_addresses"];
                        for option in self.mapping(item, &item_path, &known, &[]) {
                            match option.key.as_str() {
                                "subnet" => pool.subnet = self.string(option.value, &option.path),
                                "gateway" => pool.gateway = self.string(option.value, &option.path),
                                "ip_range" => pool.ip_range = self.string(option.value, &option.path),
                                _ => {}
                            }
                        }
                        ipam.config.push(pool);
                    }
                }
                _ => {}
            }
        }
        ipam
    }

    fn volume(&mut self, node: &Node, path: &str) -> Volume {
        let mut volume = Volume::default();
        for entry in self.mapping(node, path, &["name", "driver", "driver_opts", "external", "labels"], &[]) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "name" => volume.name = self.string(value, path),
                "driver" => volume.driver = self.string(value, path),
                "driver_opts" => volume.driver_opts = self.string_map(value, path),
                "external" => volume.external = self.external(value, path, &mut volume.name),
                "labels" => volume.labels = self.string_map(value, path),
                _ => {}
            }
        }
        volume
    }

    fn file_object(&mut self, node: &Node, path: &str) -> FileObject {
        let mut object = FileObject::default();
        let known = ["name", "file", "environment", "content", "external"];
        for entry in self.mapping(node, path, &known, &["labels", "driver", "driver_opts", "template_driver"]) {
            let (value, path) = (entry.value, entry.path.as_str());
            match entry.key.as_str() {
                "name" => object.name = self.string(value, path),
                "file" => object.file = self.string(value, path).map(|file| self.host_path(&file)),
                "environment" => object.environment = self.string(value, path),
                "content" => object.content = self.string(value, path),
                "external" => object.external = self.external(value, path, &mut object.name),
                _ => {}
            }
        }
        object
    }
}
