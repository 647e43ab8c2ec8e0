//! Log drivers as dockerd chooses and checks them (moby daemon/logger: factory.go's ValidateLogOpts, each driver's
//! ValidateLogOpt, loggerutils/log_tag.go, the local cache of loggerutils/cache): `--log-driver` and `--log-opt`
//! of a container, the daemon's default (`berth serve --log-driver --log-opt`), the tag templates, and what the
//! container's monitor is told ([`berth_runtime::LogDriver`]). The monitor does the sending.
//!
//! `json-file` and `none` as dockerd's, `local` as json-file with local's options and defaults (20m, 5 files); `syslog`, `gelf`, `fluentd` and `journald` send from the monitor and, unless `cache-disabled=true`,
//! also write the json-file log as dockerd's "dual logging" cache does (dockerd's is in the `local` format; this
//! one is json-file, rotated by `cache-max-size` (20m) and `cache-max-file` (5)), so `docker logs` reads them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use berth_runtime::{
    FluentdConfig, GelfCompression, GelfConfig, JournaldConfig, LogAddress, LogDriver, LogRotation, SyslogConfig,
    SyslogFormat,
};
use bollard_stubs::models::HostConfigLogConfig;

use super::container::ContainerRecord;
use super::EngineError;

/// The drivers this daemon has (dockerd's names).
pub const DRIVERS: &[&str] = &["json-file", "local", "none", "syslog", "gelf", "fluentd", "journald"];

/// What `docker logs` answers for a driver it cannot read (dockerd's ErrReadLogsNotSupported, a 501).
pub const NOT_READABLE: &str = "configured logging driver does not support reading";

/// The daemon's `--log-driver` and `--log-opt`, checked as a container's would be; the engine holds one (not the
/// process: two engines in one process each have their own).
#[derive(Debug, Clone, Default)]
pub struct DaemonDefault {
    /// None: json-file, with no options.
    chosen: Option<(String, HashMap<String, String>)>,
}

impl DaemonDefault {
    pub fn new(driver: &str, options: HashMap<String, String>) -> Result<DaemonDefault, EngineError> {
        validate(driver, &options)?;
        Ok(DaemonDefault { chosen: Some((driver.to_string(), options)) })
    }
}

/// Options every driver takes (factory.go's builtInLogOpts and the cache's).
const CACHE_OPTIONS: &[&str] = &["cache-disabled", "cache-max-size", "cache-max-file", "cache-compress"];

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(message.into())
}

/// moby's mergeAndVerifyLogConfig: no type takes the daemon's; the daemon's options fill the ones a container of
/// the same driver leaves out, and its cache options fill those of any driver.
pub(crate) fn apply_default(log: &mut HostConfigLogConfig, default: &DaemonDefault) {
    let (default_type, default_options) = match default.chosen.as_ref() {
        Some((typ, options)) => (typ.as_str(), Some(options)),
        None => ("json-file", None),
    };
    if log.typ.as_deref().is_none_or(str::is_empty) {
        log.typ = Some(default_type.to_string());
    }
    let same = log.typ.as_deref() == Some(default_type);
    let options = log.config.get_or_insert_with(Default::default);
    for (key, value) in default_options.into_iter().flatten() {
        if same || CACHE_OPTIONS.contains(&key.as_str()) {
            options.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
}

/// factory.go's ValidateLogOpts, then the driver's own checks, with dockerd's messages.
pub fn validate(driver: &str, options: &HashMap<String, String>) -> Result<(), EngineError> {
    if driver == "none" {
        return Ok(());
    }
    let mode = options.get("mode").map(String::as_str).unwrap_or("");
    if !matches!(mode, "" | "blocking" | "non-blocking") {
        return Err(invalid(format!("logger: logging mode not supported: {mode}")));
    }
    if let Some(size) = options.get("max-buffer-size") {
        if mode != "non-blocking" {
            return Err(invalid("logger: max-buffer-size option is only supported with 'mode=non-blocking'"));
        }
        super::logs::parse_size(size)?;
    }
    if let Some(value) = options.get("cache-disabled").filter(|v| !v.is_empty()) {
        parse_bool(value).ok_or_else(|| invalid(format!("invalid value for option cache-disabled: {value}")))?;
    }
    if !DRIVERS.contains(&driver) {
        return Err(invalid(format!("logger: no log driver named '{driver}' is registered")));
    }
    let own: HashMap<String, String> = options
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "mode" | "max-buffer-size") && !CACHE_OPTIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match driver {
        "json-file" => super::logs::validate_options(&own),
        "syslog" => validate_syslog(&own),
        "gelf" => validate_gelf(&own),
        "fluentd" => validate_fluentd(&own),
        "local" => validate_local(&own),
        "journald" => match own.keys().find(|k| !is_attribute_option(k)) {
            Some(key) => Err(invalid(format!("unknown log opt '{key}' for journald log driver"))),
            None => Ok(()),
        },
        _ => Ok(()),
    }?;
    // What the cache rotation takes is json-file's (dockerd checks it with the `local` driver's rules).
    if let Some(size) = options.get("cache-max-size") {
        super::logs::parse_size(size)?;
    }
    if let Some(files) = options.get("cache-max-file") {
        if files.parse::<u32>().map_or(true, |n| n < 1) {
            return Err(invalid(format!("invalid value for max-file: {files}")));
        }
    }
    if matches!(driver, "syslog" | "gelf" | "fluentd" | "journald") {
        render_tag(options.get("tag").map(String::as_str), &TagInfo::example())?;
    }
    Ok(())
}

/// Go's strconv.ParseBool.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Keys every driver that names its messages takes (logger.AttrEnv and friends).
fn is_attribute_option(key: &str) -> bool {
    matches!(key, "env" | "env-regex" | "labels" | "labels-regex" | "tag")
}

fn validate_syslog(options: &HashMap<String, String>) -> Result<(), EngineError> {
    for key in options.keys() {
        match key.as_str() {
            k if is_attribute_option(k) => {}
            "syslog-address"
            | "syslog-facility"
            | "syslog-tls-ca-cert"
            | "syslog-tls-cert"
            | "syslog-tls-key"
            | "syslog-tls-skip-verify"
            | "syslog-format" => {}
            other => return Err(invalid(format!("unknown log opt '{other}' for syslog log driver"))),
        }
    }
    syslog_address(options.get("syslog-address").map(String::as_str).unwrap_or(""))?;
    syslog_facility(options.get("syslog-facility").map(String::as_str).unwrap_or(""))?;
    syslog_format(options.get("syslog-format").map(String::as_str).unwrap_or(""))?;
    Ok(())
}

/// syslog.go's parseAddress: unix and unixgram paths must exist; udp and tcp get port 514 when they name none.
fn syslog_address(address: &str) -> Result<LogAddress, EngineError> {
    if address.is_empty() {
        return Ok(LogAddress::LocalSyslog);
    }
    let (scheme, rest) = address.split_once("://").unwrap_or(("", address));
    match scheme {
        "unix" | "unixgram" => {
            let path = PathBuf::from(rest);
            std::fs::metadata(&path).map_err(|e| invalid(format!("stat {rest}: {}", go_io_error(&e))))?;
            Ok(if scheme == "unix" { LogAddress::Unix(path) } else { LogAddress::Unixgram(path) })
        }
        "udp" | "tcp" => {
            let host = rest.split('/').next().unwrap_or("");
            let host = if has_port(host) { host.to_string() } else { format!("{host}:514") };
            Ok(if scheme == "udp" { LogAddress::Udp(host) } else { LogAddress::Tcp(host) })
        }
        "tcp+tls" => Err(invalid("syslog over tcp+tls is not supported by Berth")),
        other => Err(invalid(format!("unsupported scheme: '{other}'"))),
    }
}

/// Go's wording of the common errors (`no such file or directory`), not Rust's (`No such file or directory (os
/// error 2)`).
fn go_io_error(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}

/// Whether `host` ends with a port (`h:514`, `[::1]:514`), as net.SplitHostPort would accept.
fn has_port(host: &str) -> bool {
    let after_bracket = host.rfind(']').map_or(host, |i| &host[i + 1..]);
    match after_bracket.rsplit_once(':') {
        Some((_, port)) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

fn syslog_facility(facility: &str) -> Result<u8, EngineError> {
    const NAMES: [&str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "", "",
        "", "", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ];
    if facility.is_empty() {
        return Ok(3);
    }
    if let Some(code) = NAMES.iter().position(|n| !n.is_empty() && *n == facility) {
        return Ok(code as u8);
    }
    match facility.parse::<u8>() {
        Ok(code) if code <= 23 => Ok(code),
        _ => Err(invalid("invalid syslog facility")),
    }
}

fn syslog_format(format: &str) -> Result<SyslogFormat, EngineError> {
    match format {
        "" => Ok(SyslogFormat::Unix),
        "rfc3164" => Ok(SyslogFormat::Rfc3164),
        "rfc5424" => Ok(SyslogFormat::Rfc5424),
        "rfc5424micro" => Ok(SyslogFormat::Rfc5424Micro),
        _ => Err(invalid("Invalid syslog format")),
    }
}

fn validate_gelf(options: &HashMap<String, String>) -> Result<(), EngineError> {
    let address = gelf_address(options.get("gelf-address").map(String::as_str).unwrap_or(""))?;
    let udp = matches!(address, LogAddress::Udp(_));
    for (key, value) in options {
        match key.as_str() {
            k if is_attribute_option(k) => {}
            "gelf-address" => {}
            "gelf-compression-level" => {
                if !udp {
                    return Err(invalid("compression is only supported on UDP"));
                }
                if value.parse::<i32>().map_or(true, |n| !(-1..=9).contains(&n)) {
                    return Err(invalid(format!(
                        "unknown value \"{value}\" for log opt \"{key}\" for gelf log driver"
                    )));
                }
            }
            "gelf-compression-type" => {
                if !udp {
                    return Err(invalid("compression is only supported on UDP"));
                }
                if !matches!(value.as_str(), "gzip" | "zlib" | "none") {
                    return Err(invalid(format!(
                        "unknown value \"{value}\" for log opt \"{key}\" for gelf log driver"
                    )));
                }
            }
            "gelf-tcp-max-reconnect" | "gelf-tcp-reconnect-delay" => {
                if udp {
                    return Err(invalid(format!("\"{key}\" is only valid for TCP")));
                }
                if value.parse::<u32>().is_err() {
                    return Err(invalid(format!("\"{key}\" must be a positive integer")));
                }
            }
            other => return Err(invalid(format!("unknown log opt \"{other}\" for gelf log driver"))),
        }
    }
    Ok(())
}

fn gelf_address(address: &str) -> Result<LogAddress, EngineError> {
    if address.is_empty() {
        return Err(invalid("gelf-address is a required parameter"));
    }
    let (scheme, rest) = address.split_once("://").unwrap_or(("", address));
    if !matches!(scheme, "udp" | "tcp") {
        return Err(invalid("gelf: endpoint needs to be TCP or UDP"));
    }
    let host = rest.split('/').next().unwrap_or("");
    if !has_port(host) {
        return Err(invalid("gelf: please provide gelf-address as proto://host:port"));
    }
    Ok(if scheme == "udp" { LogAddress::Udp(host.into()) } else { LogAddress::Tcp(host.into()) })
}

/// local/config.go's checks. The file is json-file's (dockerd's `local` is protobuf, read by dockerd alone).
fn validate_local(options: &HashMap<String, String>) -> Result<(), EngineError> {
    if let Some(key) = options.keys().find(|k| !matches!(k.as_str(), "max-size" | "max-file" | "compress")) {
        return Err(invalid(format!("unknown log opt '{key}' for log driver local")));
    }
    if let Some(size) = options.get("max-size") {
        super::logs::parse_size(size)?;
    }
    let files = match options.get("max-file") {
        Some(value) => value.parse::<i64>().map_err(|_| invalid(format!("invalid value for max-file: {value}")))?,
        None => 5,
    };
    if files < 0 {
        return Err(invalid("max-file must not be negative"));
    }
    let compress = match options.get("compress") {
        Some(value) => parse_bool(value).ok_or_else(|| invalid("invalid boolean value for compress"))?,
        None => true,
    };
    if compress && files <= 1 {
        return Err(invalid("compression cannot be enabled when max file count is 1"));
    }
    Ok(())
}

fn validate_fluentd(options: &HashMap<String, String>) -> Result<(), EngineError> {
    for key in options.keys() {
        match key.as_str() {
            k if is_attribute_option(k) => {}
            "fluentd-address"
            | "fluentd-async"
            | "fluentd-async-reconnect-interval"
            | "fluentd-buffer-limit"
            | "fluentd-max-retries"
            | "fluentd-request-ack"
            | "fluentd-retry-wait"
            | "fluentd-sub-second-precision"
            | "fluentd-write-timeout"
            | "fluentd-read-timeout" => {}
            other => return Err(invalid(format!("unknown log opt '{other}' for fluentd log driver"))),
        }
    }
    fluentd_address(options.get("fluentd-address").map(String::as_str).unwrap_or(""))?;
    for key in ["fluentd-async", "fluentd-request-ack", "fluentd-sub-second-precision"] {
        if let Some(value) = options.get(key).filter(|v| !v.is_empty()) {
            parse_bool(value)
                .ok_or_else(|| invalid(format!("strconv.ParseBool: parsing {value:?}: invalid syntax")))?;
        }
    }
    Ok(())
}

/// fluentd.go's parseAddress: tcp://127.0.0.1:24224 when none is given, tcp when no scheme is.
fn fluentd_address(address: &str) -> Result<LogAddress, EngineError> {
    let wrap = |message: &str| invalid(format!("invalid fluentd-address ({address}): {message}"));
    if address.is_empty() {
        return Ok(LogAddress::Tcp("127.0.0.1:24224".into()));
    }
    let (scheme, rest) = address.split_once("://").unwrap_or(("tcp", address));
    match scheme {
        "unix" => {
            if rest.trim_start_matches('/').is_empty() {
                return Err(wrap("path is empty"));
            }
            Ok(LogAddress::Unix(PathBuf::from(rest)))
        }
        "tcp" => {
            if rest.contains('/') {
                return Err(wrap("should not contain a path element"));
            }
            let (host, port) =
                if has_port(rest) { rest.rsplit_once(':').unwrap_or((rest, "24224")) } else { (rest, "24224") };
            port.parse::<u16>().map_err(|_| wrap("invalid port"))?;
            let host = if host.is_empty() { "127.0.0.1" } else { host };
            Ok(LogAddress::Tcp(format!("{host}:{port}")))
        }
        "tls" => Err(wrap("tls is not supported by Berth")),
        other => Err(wrap(&format!("unsupported scheme: '{other}'"))),
    }
}

/// What a tag template may name (moby's logger.Info and its methods).
struct TagInfo {
    id: String,
    name: String,
    command: String,
    image_id: String,
    image_name: String,
    hostname: String,
}

impl TagInfo {
    fn of(record: &ContainerRecord) -> Self {
        let mut command = vec![record.path.clone()];
        command.extend(record.args.iter().cloned());
        TagInfo {
            id: record.id.clone(),
            name: record.name.trim_start_matches('/').to_string(),
            command: command.join(" "),
            image_id: record.image_id.clone(),
            image_name: record.image_ref.clone(),
            hostname: nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default(),
        }
    }

    fn example() -> Self {
        TagInfo {
            id: "0".repeat(64),
            name: "name".into(),
            command: "sh".into(),
            image_id: format!("sha256:{}", "0".repeat(64)),
            image_name: "image".into(),
            hostname: "host".into(),
        }
    }

    fn field(&self, name: &str) -> Option<String> {
        Some(match name {
            "ID" => truncate_id(&self.id),
            "FullID" | "ContainerID" => self.id.clone(),
            "Name" => self.name.clone(),
            "ContainerName" => format!("/{}", self.name),
            "Command" => self.command.clone(),
            "ImageID" => truncate_id(&self.image_id),
            "ImageFullID" | "ContainerImageID" => self.image_id.clone(),
            "ImageName" | "ContainerImageName" => self.image_name.clone(),
            "Hostname" => self.hostname.clone(),
            "DaemonName" => "docker".into(),
            _ => return None,
        })
    }
}

/// stringid.TruncateID: the algorithm goes, 12 characters stay.
fn truncate_id(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, hex)| hex);
    id.chars().take(12).collect()
}

/// log_tag.go's ParseLogTag: `{{.ID}}` when no tag is given. Only field actions (`{{.Name}}`), which is what tags
/// use; anything else is refused with Go's template wording.
fn render_tag(template: Option<&str>, info: &TagInfo) -> Result<String, EngineError> {
    let template = template.filter(|t| !t.is_empty()).unwrap_or("{{.ID}}");
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| invalid("template: log-tag:1: unclosed action"))?;
        let action = after[..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        let value = action
            .strip_prefix('.')
            .and_then(|field| info.field(field))
            .ok_or_else(|| invalid(format!("template: log-tag:1: can't evaluate {action:?} in type *logger.Info")))?;
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The `labels`/`env` fields a driver adds (logger.Info.ExtraAttributes; the regex forms are not supported).
fn extra_attributes(record: &ContainerRecord, options: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut extra = Vec::new();
    let labels = record.config.labels.clone().unwrap_or_default();
    for key in options.get("labels").map(|l| l.split(',')).into_iter().flatten() {
        if let Some(value) = labels.get(key) {
            extra.push((key.to_string(), value.clone()));
        }
    }
    let env: HashMap<&str, &str> = record.config.env.iter().flatten().filter_map(|e| e.split_once('=')).collect();
    for key in options.get("env").map(|l| l.split(',')).into_iter().flatten() {
        if let Some(value) = env.get(key) {
            extra.push((key.to_string(), value.to_string()));
        }
    }
    extra
}

/// What the monitor writes (the json-file log or the cache) and sends.
pub(crate) struct MonitorLog {
    pub file: Option<(PathBuf, LogRotation)>,
    pub driver: Option<LogDriver>,
}

pub(crate) fn monitor_log(record: &ContainerRecord, path: &Path) -> Result<MonitorLog, EngineError> {
    let config = record.host_config.log_config.as_ref();
    let driver = config.and_then(|l| l.typ.as_deref()).filter(|t| !t.is_empty()).unwrap_or("json-file");
    let options = config.and_then(|l| l.config.clone()).unwrap_or_default();
    let file = |size: Option<&String>, files: Option<&String>| -> Result<_, EngineError> {
        let rotation = LogRotation {
            max_size: size.map(|v| super::logs::parse_size(v)).transpose()?,
            max_files: files.and_then(|v| v.parse().ok()).unwrap_or(1).max(1),
        };
        Ok(Some((path.to_path_buf(), rotation)))
    };
    let cache = || -> Result<_, EngineError> {
        if !has_cache(&options) {
            return Ok(None);
        }
        let twenty_megabytes = "20m".to_string();
        let five = "5".to_string();
        file(
            Some(options.get("cache-max-size").unwrap_or(&twenty_megabytes)),
            Some(options.get("cache-max-file").unwrap_or(&five)),
        )
    };
    let tag = || render_tag(options.get("tag").map(String::as_str), &TagInfo::of(record));
    Ok(match driver {
        "none" => MonitorLog { file: None, driver: None },
        // dockerd's defaults for `local`: 20 MiB files, 5 of them.
        "local" => MonitorLog {
            file: file(
                Some(options.get("max-size").unwrap_or(&"20m".to_string())),
                Some(options.get("max-file").unwrap_or(&"5".to_string())),
            )?,
            driver: None,
        },
        "syslog" => {
            let get = |key: &str| options.get(key).map(String::as_str).unwrap_or("");
            let syslog = SyslogConfig {
                address: syslog_address(get("syslog-address"))?,
                format: syslog_format(get("syslog-format"))?,
                facility: syslog_facility(get("syslog-facility"))?,
                tag: tag()?,
            };
            MonitorLog { file: cache()?, driver: Some(LogDriver::Syslog(syslog)) }
        }
        "gelf" => {
            let address = gelf_address(options.get("gelf-address").map(String::as_str).unwrap_or(""))?;
            let compression = match options.get("gelf-compression-type").map(String::as_str) {
                Some("zlib") => GelfCompression::Zlib,
                Some("none") => GelfCompression::None,
                _ => GelfCompression::Gzip,
            };
            let compression_level = options.get("gelf-compression-level").and_then(|v| v.parse().ok()).unwrap_or(1);
            let info = TagInfo::of(record);
            let mut extra = serde_json::Map::new();
            let mut put = |key: &str, value: String| {
                extra.insert(key.to_string(), serde_json::Value::String(value));
            };
            put("_container_id", record.id.clone());
            put("_container_name", info.name.clone());
            put("_image_id", record.image_id.clone());
            put("_image_name", record.image_ref.clone());
            put("_command", info.command.clone());
            put("_tag", tag()?);
            put("_created", record.created.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
            for (key, value) in extra_attributes(record, &options) {
                let key = if key.starts_with('_') { key } else { format!("_{key}") };
                put(&key, value);
            }
            let gelf = GelfConfig { address, compression, compression_level, extra };
            MonitorLog { file: cache()?, driver: Some(LogDriver::Gelf(gelf)) }
        }
        "fluentd" => {
            let fluentd = FluentdConfig {
                address: fluentd_address(options.get("fluentd-address").map(String::as_str).unwrap_or(""))?,
                tag: tag()?,
                container_id: record.id.clone(),
                container_name: format!("/{}", record.name.trim_start_matches('/')),
                extra: extra_attributes(record, &options),
                sub_second_precision: options
                    .get("fluentd-sub-second-precision")
                    .and_then(|v| parse_bool(v))
                    .unwrap_or(false),
            };
            MonitorLog { file: cache()?, driver: Some(LogDriver::Fluentd(fluentd)) }
        }
        "journald" => {
            if !Path::new(berth_runtime::JOURNAL_SOCKET).exists() {
                return Err(invalid("failed to initialize logging driver: journald is not enabled on this host"));
            }
            let tag = tag()?;
            let info = TagInfo::of(record);
            let mut fields = vec![
                ("CONTAINER_ID".to_string(), truncate_id(&record.id)),
                ("CONTAINER_ID_FULL".to_string(), record.id.clone()),
                ("CONTAINER_NAME".to_string(), info.name.clone()),
                ("CONTAINER_TAG".to_string(), tag.clone()),
                ("IMAGE_NAME".to_string(), record.image_ref.clone()),
                ("SYSLOG_IDENTIFIER".to_string(), tag),
            ];
            for (key, value) in extra_attributes(record, &options) {
                let key = journald_key(&key);
                if !key.is_empty() {
                    fields.push((key, value));
                }
            }
            MonitorLog { file: cache()?, driver: Some(LogDriver::Journald(JournaldConfig { fields })) }
        }
        _ => MonitorLog { file: file(options.get("max-size"), options.get("max-file"))?, driver: None },
    })
}

/// journald.go's sanitizeKeyMod: upper case letters and digits, `_` for the rest, none leading.
fn journald_key(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        let c = if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' };
        if !(out.is_empty() && c == '_') {
            out.push(c);
        }
    }
    out
}

fn has_cache(options: &HashMap<String, String>) -> bool {
    !options.get("cache-disabled").and_then(|v| parse_bool(v)).unwrap_or(false)
}

/// dockerd's answer to `docker logs` of a container whose driver keeps nothing to read (`none`, or a sending
/// driver with `cache-disabled=true`): 501 with ErrReadLogsNotSupported's words.
pub fn check_readable(container: &super::container::Container) -> Result<(), EngineError> {
    if readable(&container.snapshot()) {
        Ok(())
    } else {
        Err(EngineError::NotImplemented(NOT_READABLE.into()))
    }
}

/// Whether `docker logs` can read this container's output: json-file, or a sending driver with its cache.
pub fn readable(record: &ContainerRecord) -> bool {
    let config = record.host_config.log_config.as_ref();
    let options = config.and_then(|l| l.config.clone()).unwrap_or_default();
    match config.and_then(|l| l.typ.as_deref()).unwrap_or("json-file") {
        "" | "json-file" | "local" => true,
        "none" => false,
        _ => has_cache(&options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn message(driver: &str, pairs: &[(&str, &str)]) -> String {
        validate(driver, &options(pairs)).unwrap_err().to_string()
    }

    #[test]
    fn options_are_refused_with_dockerds_words() {
        assert_eq!(message("nosuch", &[]), "logger: no log driver named 'nosuch' is registered");
        assert_eq!(message("syslog", &[("foo", "1")]), "unknown log opt 'foo' for syslog log driver");
        assert_eq!(
            message("gelf", &[("gelf-address", "udp://h:1"), ("foo", "1")]),
            "unknown log opt \"foo\" for gelf log driver"
        );
        assert_eq!(message("gelf", &[]), "gelf-address is a required parameter");
        assert_eq!(
            message("gelf", &[("gelf-address", "udp://h")]),
            "gelf: please provide gelf-address as proto://host:port"
        );
        assert_eq!(
            message("gelf", &[("gelf-address", "tcp://h:1"), ("gelf-compression-type", "gzip")]),
            "compression is only supported on UDP"
        );
        assert_eq!(message("syslog", &[("syslog-facility", "nope")]), "invalid syslog facility");
        assert_eq!(message("journald", &[("x", "a")]), "unknown log opt 'x' for journald log driver");
        assert_eq!(journald_key("com.example-team"), "COM_EXAMPLE_TEAM");
        assert_eq!(journald_key("_a.b"), "A_B");
        assert_eq!(message("local", &[("labels", "a")]), "unknown log opt 'labels' for log driver local");
        assert_eq!(message("local", &[("max-file", "1")]), "compression cannot be enabled when max file count is 1");
        assert!(validate("local", &options(&[("max-file", "1"), ("compress", "false")])).is_ok());
        assert_eq!(message("fluentd", &[("fluentd-foo", "1")]), "unknown log opt 'fluentd-foo' for fluentd log driver");
        assert_eq!(
            message("fluentd", &[("fluentd-address", "udp://h:1")]),
            "invalid fluentd-address (udp://h:1): unsupported scheme: 'udp'"
        );
        assert_eq!(fluentd_address("").unwrap(), LogAddress::Tcp("127.0.0.1:24224".into()));
        assert_eq!(fluentd_address("fluent:24225").unwrap(), LogAddress::Tcp("fluent:24225".into()));
        assert_eq!(fluentd_address("tcp://fluent").unwrap(), LogAddress::Tcp("fluent:24224".into()));
        assert_eq!(message("syslog", &[("syslog-format", "x")]), "Invalid syslog format");
        assert_eq!(message("syslog", &[("syslog-address", "http://h")]), "unsupported scheme: 'http'");
        assert_eq!(
            message("syslog", &[("syslog-address", "unix:///nonexistent/log")]),
            "stat /nonexistent/log: no such file or directory"
        );
        assert_eq!(message("json-file", &[("mode", "fast")]), "logger: logging mode not supported: fast");
        assert_eq!(message("syslog", &[("cache-disabled", "maybe")]), "invalid value for option cache-disabled: maybe");
        assert!(validate("none", &options(&[("anything", "goes")])).is_ok());
        assert!(validate("syslog", &options(&[("syslog-address", "udp://10.0.0.1"), ("tag", "{{.Name}}")])).is_ok());
        assert!(validate("syslog", &options(&[("tag", "{{.Nope}}")])).is_err());
    }

    #[test]
    fn addresses_and_facilities_parse_as_dockerds() {
        assert_eq!(syslog_address("udp://10.0.0.1").unwrap(), LogAddress::Udp("10.0.0.1:514".into()));
        assert_eq!(syslog_address("tcp://[::1]:601").unwrap(), LogAddress::Tcp("[::1]:601".into()));
        assert_eq!(syslog_address("").unwrap(), LogAddress::LocalSyslog);
        assert_eq!(syslog_facility("local7").unwrap(), 23);
        assert_eq!(syslog_facility("").unwrap(), 3);
        assert_eq!(syslog_facility("17").unwrap(), 17);
        assert!(syslog_facility("24").is_err());
    }

    #[test]
    fn tags_render_loggerutils_fields() {
        let info = TagInfo {
            id: "0123456789abcdef".repeat(4),
            name: "web".into(),
            command: "sh -c true".into(),
            image_id: format!("sha256:{}", "fedcba9876543210".repeat(4)),
            image_name: "busybox".into(),
            hostname: "box".into(),
        };
        assert_eq!(render_tag(None, &info).unwrap(), "0123456789ab");
        let all = "{{.Name}}/{{ .ID }}/{{.ImageName}}/{{.ImageID}}/{{.DaemonName}}";
        assert_eq!(render_tag(Some(all), &info).unwrap(), "web/0123456789ab/busybox/fedcba987654/docker");
        assert_eq!(render_tag(Some("{{.FullID}}"), &info).unwrap(), info.id);
        assert_eq!(render_tag(Some("plain"), &info).unwrap(), "plain");
    }
}
