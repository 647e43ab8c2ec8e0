//! The security review of containers (`GET /berth/audit`): what a reviewer would flag in how each container was
//! created, with why it matters and the docker flag that fixes it.
//!
//! The rules read the container's record only (its Config, merged with the image's at create, and its
//! HostConfig) and the image's history (build arguments); they never look at the running process, so a stopped
//! container is judged by what it will be when started. Secrets are found by the NAME of a variable, label or
//! build argument, and only names are reported: a finding never carries a value.

use std::collections::HashMap;

use bollard_stubs::models::{HostConfig, MountType};
use oci_spec::image::ImageConfiguration;

use berth_shared::api::audit::{ContainerAudit, Finding, Severity};

use super::container::ContainerRecord;
use super::security::{self, SeccompChoice};
use super::spec::DEFAULT_CAPABILITIES;
use super::{Engine, EngineError};

impl Engine {
    /// Every container's review, newest first (the order of `docker ps`).
    pub fn audit(&self) -> Vec<ContainerAudit> {
        // Containers of one image share its config: looked up once.
        let mut images: HashMap<String, Option<ImageConfiguration>> = HashMap::new();
        self.containers()
            .iter()
            .map(|container| {
                let record = container.snapshot();
                let image = images
                    .entry(record.image_id.clone())
                    .or_insert_with(|| self.images.get(&record.image_id).ok().map(|image| image.config));
                audit_record(&record, image.as_ref())
            })
            .collect()
    }

    /// One container's review, by id, name or unique id prefix.
    pub fn audit_container(&self, reference: &str) -> Result<ContainerAudit, EngineError> {
        let record = self.container(reference)?.snapshot();
        // An image removed under its container (`rmi -f`) leaves nothing to read build arguments from.
        let image = self.images.get(&record.image_id).ok().map(|image| image.config);
        Ok(audit_record(&record, image.as_ref()))
    }
}

/// Capabilities that are root in all but name (`SYS_ADMIN` mounts, `SYS_MODULE` loads kernel code, `SYS_PTRACE`
/// reads other processes, `DAC_READ_SEARCH` opened files by handle in the shocker escape): adding one is high.
const DANGEROUS_CAPABILITIES: &[&str] =
    &["ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "DAC_READ_SEARCH", "BPF", "SYS_BOOT", "NET_ADMIN"];

/// The review of one container, from its record and its image's config (None when the image is gone).
pub(crate) fn audit_record(record: &ContainerRecord, image: Option<&ImageConfiguration>) -> ContainerAudit {
    let host = &record.host_config;
    let mut findings = Vec::new();

    if host.privileged.unwrap_or(false) {
        findings.push(finding(
            "privileged",
            Severity::High,
            "Runs privileged (--privileged)",
            "A privileged container gets every capability, every device of the host and no seccomp filter: root \
             in it can mount the host's disks or load a kernel module, and then it is the host.",
            "Drop `--privileged`; add only the one capability the program needs, e.g. `--cap-add NET_ADMIN`.",
        ));
    }

    // The merge at create already put the image's USER in the record; the image is asked again only for a
    // record that has none.
    let user = record
        .config
        .user
        .clone()
        .filter(|user| !user.is_empty())
        .or_else(|| image.and_then(|image| image.config().as_ref()).and_then(|config| config.user().clone()))
        .unwrap_or_default();
    if is_root(&user) {
        let title = if user.is_empty() {
            "Runs as root (no --user, and the image has no USER)".to_string()
        } else {
            format!("Runs as root (user {user:?})")
        };
        findings.push(finding(
            "root-user",
            Severity::Medium,
            title,
            "Whatever gets into the process (a bug in the app, a malicious package) is root inside the container: \
             it can change every file there, and a file written into a mounted host directory belongs to root.",
            "Run as an ordinary user: `--user 1000:1000`, or a `USER 1000:1000` line in the Dockerfile.",
        ));
        // Its own finding: it is what makes a breakout as bad as it is. A remapped root is an unprivileged host
        // uid, so only a container outside a user namespace (no --userns-remap, or --userns host) gets it.
        if record.id_shift.is_none() {
            findings.push(finding(
                "no-userns",
                Severity::Medium,
                "No user namespace (root in the container is root on the host)",
                "Without a user namespace, uid 0 inside the container is uid 0 on the host: a process that escapes \
                 through a kernel bug or a careless mount is the host's root, not a harmless user.",
                "Run as a non-root `--user`, or start the daemon with `--userns-remap default` (and no `--userns host`).",
            ));
        }
    }

    let added = added_capabilities(host);
    if !added.is_empty() {
        let dangerous = added.iter().any(|cap| DANGEROUS_CAPABILITIES.contains(&cap.as_str()));
        findings.push(finding(
            "cap-add",
            if dangerous { Severity::High } else { Severity::Medium },
            format!("Adds capabilities beyond Docker's defaults: {}", added.join(", ")),
            "Each capability is a piece of root's power that Docker leaves out on purpose; SYS_ADMIN alone allows \
             mount and most escapes, and SYS_PTRACE lets a process read and change other processes.",
            format!(
                "Remove {}; if the program really needs one, keep that one alone and add `--cap-drop ALL`.",
                added.iter().map(|cap| format!("`--cap-add {cap}`")).collect::<Vec<_>>().join(" ")
            ),
        ));
    }

    if host.memory.unwrap_or(0) <= 0 {
        findings.push(finding(
            "no-memory-limit",
            Severity::Medium,
            "No memory limit",
            "A container that leaks memory, or is made to, can take all of the host's: the kernel's OOM killer \
             then picks processes anywhere on the machine, other containers' and the daemon's included.",
            "`--memory 256m` (whatever the program needs, with some room).",
        ));
    }
    if host.pids_limit.unwrap_or(0) <= 0 {
        findings.push(finding(
            "no-pids-limit",
            Severity::Medium,
            "No limit on the number of processes",
            "A fork bomb (a process that copies itself forever) fills the host's process table, and then nothing \
             on the machine can start a process, not even a shell to stop it.",
            "`--pids-limit 100` (a few times what the program runs); a daemon started with `--default-pids-limit` \
             gives one to every container that names none.",
        ));
    }

    if host.network_mode.as_deref() == Some("host") {
        findings.push(finding(
            "host-network",
            Severity::High,
            "Shares the host's network (--network host)",
            "The container sees every interface of the host, can listen on any of its ports, and reaches services \
             that listen on 127.0.0.1 only because they trust the machine, such as this daemon's HTTP port.",
            "Drop `--network host`; use a bridge network and publish only what is needed: `-p 127.0.0.1:8080:80`.",
        ));
    }
    // Berth gives every container its own PID and IPC namespaces whatever these say (spec.rs); they are
    // flagged because dockerd honours them, and the same command or compose file will run there.
    if host.pid_mode.as_deref() == Some("host") {
        findings.push(finding(
            "host-pid",
            Severity::High,
            "Asks for the host's process namespace (--pid host)",
            "With the host's PIDs a container sees every process on the machine, can signal them, and with ptrace \
             read their memory and secrets. (Berth runs it in its own PID namespace anyway; dockerd would not).",
            "Drop `--pid host`; to debug another container, use `--pid container:<name>`.",
        ));
    }
    if host.ipc_mode.as_deref() == Some("host") {
        findings.push(finding(
            "host-ipc",
            Severity::Medium,
            "Asks for the host's IPC namespace (--ipc host)",
            "The container shares the host's shared memory and semaphores: it can read or corrupt what other \
             programs keep there. (Berth gives it its own IPC namespace anyway; dockerd would not).",
            "Drop `--ipc host`; containers that share memory can use `--ipc shareable` and `--ipc container:<name>`.",
        ));
    }

    if !host.readonly_rootfs.unwrap_or(false) {
        findings.push(finding(
            "writable-rootfs",
            Severity::Low,
            "The root filesystem is writable",
            "Someone who gets in can replace the container's programs and leave tools behind; a read-only root \
             also shows exactly where the program writes.",
            "`--read-only`, with `--tmpfs /tmp` (or a volume) for the places it must write.",
        ));
    }

    let sockets = daemon_socket_mounts(record);
    if !sockets.is_empty() {
        findings.push(finding(
            "daemon-socket",
            Severity::High,
            format!("Mounts the container daemon's socket: {}", sockets.join(", ")),
            "Whoever can talk to the daemon's socket can start a `--privileged` container with the host's / mounted \
             in it: a container holding the socket is root on the host.",
            format!(
                "Remove the mount ({}); a tool that must manage containers needs its own narrow API, not the daemon's.",
                sockets.iter().map(|source| format!("`-v {source}:...`")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }

    let env_names: Vec<String> = record
        .config
        .env
        .iter()
        .flatten()
        .filter_map(|entry| entry.split_once('='))
        .filter(|(name, value)| !value.is_empty() && looks_secret(name))
        .map(|(name, _)| name.to_string())
        .collect();
    if !env_names.is_empty() {
        let first = &env_names[0];
        let file = first.to_ascii_lowercase();
        findings.push(finding(
            "secret-env",
            Severity::Medium,
            format!("Secret in the environment: {}", env_names.join(", ")),
            "Environment variables are shown to anyone who may run `docker inspect`, are inherited by every child \
             process and often end up in logs and crash reports.",
            format!(
                "Pass it as a file instead: `-v ./{file}:/run/secrets/{file}:ro`, and have the program read it \
                 (many images take `-e {first}_FILE=/run/secrets/{file}`)."
            ),
        ));
    }

    let mut label_names: Vec<String> = record
        .config
        .labels
        .iter()
        .flatten()
        .filter(|(name, value)| !value.is_empty() && looks_secret(name))
        .map(|(name, _)| name.clone())
        .collect();
    // A HashMap's order changes from run to run; the page and the tests want one.
    label_names.sort();
    if !label_names.is_empty() {
        findings.push(finding(
            "secret-label",
            Severity::Medium,
            format!("Secret in a label: {}", label_names.join(", ")),
            "Labels are public metadata: `docker inspect`, `docker ps --format` and every registry the image is pushed \
             to show them to anyone.",
            "Remove the `--label` (or the image's `LABEL` line); labels describe, they never carry credentials.",
        ));
    }

    let arg_names = secret_build_args(image);
    if !arg_names.is_empty() {
        findings.push(finding(
            "secret-build-arg",
            Severity::Medium,
            format!("Secret build argument in the image's history: {}", arg_names.join(", ")),
            "A build argument that a RUN step sees is written into the image's history with its value: anyone who \
             pulls the image reads it with `docker history`.",
            "Do not pass secrets with `--build-arg`; give them to the container when it runs, as a mounted file.",
        ));
    }

    let open_ports = ports_on_every_interface(host);
    if !open_ports.is_empty() {
        findings.push(finding(
            "port-all-interfaces",
            Severity::Low,
            format!("Publishes on every interface of the host: {}", open_ports.join(", ")),
            "A port published without an address listens on all of the host's addresses, so anyone on the \
             network (or the internet) reaches it, not only this machine.",
            "Name the address: `-p 127.0.0.1:8080:80` keeps it on this machine.",
        ));
    }

    let options = security::parse(host.security_opt.as_deref().unwrap_or_default());
    // create refused options that do not parse, so a failure here is a record from elsewhere: judged as defaults.
    if let Ok(options) = options {
        if options.seccomp == SeccompChoice::Unconfined && !host.privileged.unwrap_or(false) {
            findings.push(finding(
                "seccomp-unconfined",
                Severity::Medium,
                "No seccomp filter (--security-opt seccomp=unconfined)",
                "Docker's seccomp profile blocks the system calls containers have escaped through (new user \
                 namespaces, keyctl, kernel module calls); unconfined lets the container make every one of them.",
                "Drop `--security-opt seccomp=unconfined`; to allow one more call, give a profile that adds it: \
                 `--security-opt seccomp=profile.json`.",
            ));
        }
        if !options.no_new_privileges {
            findings.push(finding(
                "new-privileges",
                Severity::Medium,
                "Processes may gain privileges (--security-opt no-new-privileges=false)",
                "A setuid program in the image (su, sudo, mount) can then raise a process to root inside the \
                 container; Berth turns this off by default so a user who is not root stays so.",
                "Drop `--security-opt no-new-privileges=false`.",
            ));
        }
    }

    // Stable: rules keep their order above within one severity.
    findings.sort_by_key(|finding| finding.severity);
    ContainerAudit { id: record.id.clone(), name: record.name.clone(), image: record.image_ref.clone(), findings }
}

fn finding(
    id: &str,
    severity: Severity,
    title: impl Into<String>,
    why: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding { id: id.to_string(), severity, title: title.into(), why: why.into(), fix: fix.into() }
}

/// `User` as Docker takes it: `name|uid[:group|gid]`; empty is the image's default, root.
fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or("");
    name.is_empty() || name == "root" || name.parse::<u32>() == Ok(0)
}

/// `--cap-add` values that Docker's default set lacks, as the CLI takes them (`SYS_ADMIN`, not `CAP_SYS_ADMIN`),
/// each once.
fn added_capabilities(host: &HostConfig) -> Vec<String> {
    let mut added: Vec<String> = Vec::new();
    for cap in host.cap_add.iter().flatten() {
        let upper = cap.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper).to_string();
        if !DEFAULT_CAPABILITIES.contains(&bare.as_str()) && !added.contains(&bare) {
            added.push(bare);
        }
    }
    added
}

/// Host paths bind-mounted in that are a container daemon's socket, or the run directory holding it.
fn daemon_socket_mounts(record: &ContainerRecord) -> Vec<String> {
    let binds = record.host_config.binds.iter().flatten().filter_map(|bind| bind.split(':').next());
    let mounts = record
        .host_config
        .mounts
        .iter()
        .flatten()
        .filter(|mount| mount.typ == Some(MountType::BIND))
        .filter_map(|mount| mount.source.as_deref());
    // `--volumes-from` copies binds here with their absolute source; volumes have a bare name.
    let extra = record.extra_mounts.iter().map(|mount| mount.source.as_str());
    let mut found: Vec<String> = Vec::new();
    for source in binds.chain(mounts).chain(extra) {
        if is_daemon_socket(source) && !found.iter().any(|seen| seen == source) {
            found.push(source.to_string());
        }
    }
    found
}

fn is_daemon_socket(source: &str) -> bool {
    if !source.starts_with('/') {
        return false;
    }
    let path = match source.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    // /var/run is a link to /run on every current distribution: either holds docker.sock and berth.sock.
    if path == "/run" || path == "/var/run" {
        return true;
    }
    let file = path.rsplit('/').next().unwrap_or("");
    let under_run = path.starts_with("/run/") || path.starts_with("/var/run/");
    matches!(file, "docker.sock" | "berth.sock" | "containerd.sock" | "podman.sock" | "crio.sock")
        || (under_run && file.ends_with(".sock"))
}

/// Whether a variable, label or argument NAME looks like it holds a credential (`DB_PASSWORD`, `apiKey`,
/// `com.example.token`). Names that point at a secret (`*_FILE`, `*_PATH`) and public keys are not.
fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let Some(last) = words.last() else { return false };
    if matches!(*last, "FILE" | "PATH" | "DIR") || words.iter().any(|w| matches!(*w, "PUBLIC" | "GPG" | "PUB")) {
        return false;
    }
    // `PWD` alone is the shell's working directory; `DB_PWD` is a password.
    let password_word = words.len() > 1 && words.iter().any(|w| *w == "PWD" || *w == "PASS");
    password_word
        || words.iter().any(|word| {
            // TOKENIZERS_PARALLELISM and friends configure a text tokenizer.
            if word.starts_with("TOKENIZ") {
                return false;
            }
            matches!(*word, "KEY" | "KEYS")
                || ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "APIKEY", "PRIVATEKEY", "ACCESSKEY"]
                    .iter()
                    .any(|part| word.contains(part))
        })
}

/// Build arguments with secret-looking names whose value the image's history recorded: a RUN step's
/// `|N NAME=value ... cmd` prefix, or an `ARG NAME=default` entry (this builder's `#(nop)  ARG`, BuildKit's bare
/// `ARG`).
fn secret_build_args(image: Option<&ImageConfiguration>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let history = image.and_then(|image| image.history().as_ref());
    for entry in history.into_iter().flatten() {
        let Some(created_by) = entry.created_by().as_deref() else { continue };
        let text = match created_by.split_once("#(nop)") {
            Some((_, after)) => after.trim(),
            None => created_by.trim(),
        };
        let text = text.strip_prefix("RUN ").unwrap_or(text);
        let pairs: Vec<&str> = if let Some(rest) = text.strip_prefix('|') {
            let mut words = rest.split_whitespace();
            let count = words.next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
            words.take(count).collect()
        } else if let Some(rest) = text.strip_prefix("ARG ") {
            rest.split_whitespace().collect()
        } else {
            continue;
        };
        for pair in pairs {
            let Some((name, value)) = pair.split_once('=') else { continue };
            if !value.is_empty() && looks_secret(name) && !names.iter().any(|seen| seen == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Published ports that listen on every address: no HostIp (the CLI's `-p 8080:80`), `0.0.0.0` or `::`, and
/// with `-P` every exposed port. As `8080->80/tcp`, the way `docker ps` shows them.
fn ports_on_every_interface(host: &HostConfig) -> Vec<String> {
    let mut open = Vec::new();
    let mut keys: Vec<&String> = host.port_bindings.iter().flat_map(|bindings| bindings.keys()).collect();
    keys.sort();
    for key in keys {
        let bindings = host.port_bindings.as_ref().and_then(|all| all.get(key)).cloned().flatten();
        for binding in bindings.unwrap_or_default() {
            let address = binding.host_ip.as_deref().unwrap_or("").trim_matches(['[', ']']);
            if matches!(address, "" | "0.0.0.0" | "::") {
                let host_port = binding.host_port.as_deref().filter(|port| !port.is_empty()).unwrap_or("(random)");
                open.push(format!("{host_port}->{key}"));
            }
        }
    }
    if host.publish_all_ports.unwrap_or(false) {
        open.push("every exposed port (-P)".to_string());
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    use bollard_stubs::models::{ContainerConfig, Mount, PortBinding};
    use oci_spec::image::{ConfigBuilder, HistoryBuilder, ImageConfigurationBuilder};

    use crate::container::{MountRecord, StateRecord};

    fn record(config: ContainerConfig, host: HostConfig) -> ContainerRecord {
        ContainerRecord {
            id: "c0ffee".into(),
            name: "web".into(),
            created: chrono::Utc::now(),
            image_ref: "busybox".into(),
            image_id: "sha256:busybox".into(),
            path: "sh".into(),
            args: Vec::new(),
            config,
            host_config: host,
            state: StateRecord::default(),
            exec_ids: Vec::new(),
            extra_mounts: Vec::new(),
            anonymous_volumes: Vec::new(),
            id_shift: None,
            owner: None,
        }
    }

    /// What the docker CLI sends for `-p <host_ip>:<host_port>:<container>`.
    fn published(container: &str, host_ip: &str, host_port: &str) -> Option<HashMap<String, Option<Vec<PortBinding>>>> {
        Some(HashMap::from([(
            container.to_string(),
            Some(vec![PortBinding { host_ip: Some(host_ip.into()), host_port: Some(host_port.into()) }]),
        )]))
    }

    /// A container created with none of the flags the rules look at, as the create merge leaves it.
    fn plain() -> (ContainerConfig, HostConfig) {
        let config = ContainerConfig {
            env: Some(vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()]),
            labels: Some(HashMap::new()),
            ..Default::default()
        };
        let host = HostConfig { network_mode: Some("bridge".into()), ..Default::default() };
        (config, host)
    }

    /// `--user 1000 --read-only --memory 64m --pids-limit 100`: what every other test starts from, so each
    /// sees only its own rule.
    fn hardened() -> (ContainerConfig, HostConfig) {
        let (mut config, mut host) = plain();
        config.user = Some("1000".into());
        host.readonly_rootfs = Some(true);
        host.memory = Some(64 << 20);
        host.pids_limit = Some(100);
        (config, host)
    }

    fn ids(config: ContainerConfig, host: HostConfig) -> Vec<String> {
        ids_with_image(config, host, None)
    }

    fn ids_with_image(config: ContainerConfig, host: HostConfig, image: Option<&ImageConfiguration>) -> Vec<String> {
        audit_record(&record(config, host), image).findings.into_iter().map(|finding| finding.id).collect()
    }

    fn only(config: ContainerConfig, host: HostConfig) -> Finding {
        let findings = audit_record(&record(config, host), None).findings;
        assert_eq!(findings.len(), 1, "{findings:#?}");
        findings.into_iter().next().unwrap()
    }

    #[test]
    fn a_risky_run_gets_exactly_its_findings() {
        // docker run --privileged -e DB_PASSWORD=x -p 8080:80 busybox
        let (mut config, mut host) = plain();
        config.env.get_or_insert_with(Vec::new).insert(0, "DB_PASSWORD=x".into());
        host.privileged = Some(true);
        host.port_bindings = published("80/tcp", "", "8080");
        let audit = audit_record(&record(config, host), None);
        let found: Vec<(&str, Severity)> = audit.findings.iter().map(|f| (f.id.as_str(), f.severity)).collect();
        assert_eq!(
            found,
            [
                ("privileged", Severity::High),
                ("root-user", Severity::Medium),
                ("no-userns", Severity::Medium),
                ("no-memory-limit", Severity::Medium),
                ("no-pids-limit", Severity::Medium),
                ("secret-env", Severity::Medium),
                ("writable-rootfs", Severity::Low),
                ("port-all-interfaces", Severity::Low),
            ]
        );
        let secret = audit.findings.iter().find(|f| f.id == "secret-env").unwrap();
        assert_eq!(secret.title, "Secret in the environment: DB_PASSWORD");
        assert!(!format!("{:?}", audit.findings).contains("=x"), "a value never shows: {:#?}", audit.findings);
        let ports = audit.findings.iter().find(|f| f.id == "port-all-interfaces").unwrap();
        assert_eq!(ports.title, "Publishes on every interface of the host: 8080->80/tcp");
        assert_eq!((audit.id.as_str(), audit.name.as_str(), audit.image.as_str()), ("c0ffee", "web", "busybox"));
    }

    #[test]
    fn a_hardened_run_gets_none() {
        // docker run --user 1000 --read-only --memory 64m --pids-limit 100 -p 127.0.0.1:8080:80 busybox: Docker's
        // default capabilities, seccomp profile and (Berth's default) no_new_privs are not findings, and without
        // root the missing user namespace is not one either.
        let (config, mut host) = hardened();
        host.port_bindings = published("80/tcp", "127.0.0.1", "8080");
        assert_eq!(ids(config, host), Vec::<String>::new());
    }

    #[test]
    fn root_is_an_empty_user_uid_zero_or_the_name_root() {
        for user in [None, Some(""), Some("0"), Some("root"), Some("0:0"), Some("root:1000"), Some("00")] {
            let (mut config, host) = hardened();
            config.user = user.map(str::to_string);
            assert_eq!(ids(config, host), ["root-user", "no-userns"], "user {user:?}");
        }
        for user in ["1000", "1000:0", "nobody", "app:app", "10"] {
            let (mut config, host) = hardened();
            config.user = Some(user.into());
            assert_eq!(ids(config, host), Vec::<String>::new(), "user {user:?}");
        }
        let (mut config, host) = hardened();
        config.user = Some("root".into());
        let finding = &audit_record(&record(config, host), None).findings[1];
        assert_eq!(finding.title, "No user namespace (root in the container is root on the host)");
        assert_eq!(
            finding.fix,
            "Run as a non-root `--user`, or start the daemon with `--userns-remap default` (and no `--userns host`)."
        );
        let (mut config, host) = hardened();
        config.user = Some("root".into());
        let mut remapped = record(config, host);
        remapped.id_shift = Some(berth_fs::id_shift::IdShift { uid: 100_000, gid: 100_000, size: 65_536 });
        let found: Vec<String> = audit_record(&remapped, None).findings.into_iter().map(|f| f.id).collect();
        assert_eq!(found, ["root-user"], "a remapped root is no host root");
    }

    #[test]
    fn the_images_user_counts_when_the_record_has_none() {
        let image = |user: &str| {
            ImageConfigurationBuilder::default()
                .config(ConfigBuilder::default().user(user.to_string()).build().unwrap())
                .build()
                .unwrap()
        };
        let (mut config, host) = hardened();
        config.user = None;
        assert_eq!(ids_with_image(config.clone(), host.clone(), Some(&image("app"))), Vec::<String>::new());
        assert_eq!(ids_with_image(config, host, Some(&image("0"))), ["root-user", "no-userns"]);
    }

    #[test]
    fn capabilities_beyond_the_defaults_are_named() {
        let (config, mut host) = hardened();
        host.cap_add =
            Some(vec!["CHOWN".into(), "cap_sys_admin".into(), "NET_BIND_SERVICE".into(), "SYS_ADMIN".into()]);
        let finding = only(config, host);
        assert_eq!((finding.id.as_str(), finding.severity), ("cap-add", Severity::High));
        assert_eq!(finding.title, "Adds capabilities beyond Docker's defaults: SYS_ADMIN");
        assert!(finding.fix.starts_with("Remove `--cap-add SYS_ADMIN`;"), "{}", finding.fix);

        let (config, mut host) = hardened();
        host.cap_add = Some(vec!["SYS_TIME".into(), "IPC_LOCK".into()]);
        let finding = only(config, host);
        assert_eq!(finding.severity, Severity::Medium);
        assert_eq!(finding.title, "Adds capabilities beyond Docker's defaults: SYS_TIME, IPC_LOCK");

        let (config, mut host) = hardened();
        host.cap_add = Some(vec!["ALL".into()]);
        assert_eq!(only(config, host).severity, Severity::High);

        // Adding back a default one (after --cap-drop ALL) is no finding.
        let (config, mut host) = hardened();
        host.cap_drop = Some(vec!["ALL".into()]);
        host.cap_add = Some(vec!["NET_BIND_SERVICE".into()]);
        assert_eq!(ids(config, host), Vec::<String>::new());
    }

    #[test]
    fn limits_count_only_when_positive() {
        let (config, mut host) = hardened();
        host.memory = Some(0);
        host.pids_limit = Some(-1);
        assert_eq!(ids(config, host), ["no-memory-limit", "no-pids-limit"]);
    }

    #[test]
    fn host_namespaces_are_flagged_one_by_one() {
        let (config, mut host) = hardened();
        host.network_mode = Some("host".into());
        assert_eq!(ids(config, host), ["host-network"]);
        let (config, mut host) = hardened();
        host.pid_mode = Some("host".into());
        assert_eq!(ids(config, host), ["host-pid"]);
        let (config, mut host) = hardened();
        host.ipc_mode = Some("host".into());
        let finding = only(config, host);
        assert_eq!((finding.id.as_str(), finding.severity), ("host-ipc", Severity::Medium));
        // Other modes share with a container, not the host.
        let (config, mut host) = hardened();
        host.network_mode = Some("container:db".into());
        host.pid_mode = Some("container:db".into());
        host.ipc_mode = Some("private".into());
        assert_eq!(ids(config, host), Vec::<String>::new());
    }

    #[test]
    fn a_writable_root_is_low() {
        let (config, mut host) = hardened();
        host.readonly_rootfs = Some(false);
        let finding = only(config, host);
        assert_eq!((finding.id.as_str(), finding.severity), ("writable-rootfs", Severity::Low));
    }

    #[test]
    fn daemon_sockets_are_found_in_binds_mounts_and_volumes_from() {
        let (config, mut host) = hardened();
        host.binds = Some(vec![
            "/var/run/docker.sock:/var/run/docker.sock".into(),
            "/srv/data:/data:ro".into(),
            "cache:/cache".into(),
        ]);
        host.mounts = Some(vec![Mount {
            typ: Some(MountType::BIND),
            source: Some("/run/berth.sock".into()),
            target: Some("/berth.sock".into()),
            ..Default::default()
        }]);
        let mut record = record(config, host);
        record.extra_mounts.push(MountRecord {
            source: "/run/containerd/containerd.sock".into(),
            destination: "/c.sock".into(),
            read_only: true,
            anonymous: false,
        });
        let findings = audit_record(&record, None).findings;
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(
            findings[0].title,
            "Mounts the container daemon's socket: /var/run/docker.sock, /run/berth.sock, /run/containerd/containerd.sock"
        );
        assert_eq!(findings[0].severity, Severity::High);

        for source in ["/run", "/var/run/", "/run/user/1000/podman/podman.sock", "/home/me/e2e/berth.sock"] {
            assert!(is_daemon_socket(source), "{source}");
        }
        for source in ["/", "/srv/app.sock", "/run/lock", "docker.sock", "/var/lib/docker"] {
            assert!(!is_daemon_socket(source), "{source}");
        }
    }

    #[test]
    fn secret_names_and_not_their_neighbours() {
        for name in [
            "DB_PASSWORD",
            "MYSQL_ROOT_PASSWORD",
            "dbPassword",
            "API_KEY",
            "apiKey",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "SECRET",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "DB_PWD",
            "SMTP_PASS",
            "com.example.auth-token",
            "SSH_PRIVATEKEY",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in [
            "PATH",
            "PWD",
            "HOME",
            "DB_PASSWORD_FILE",
            "KEY_PATH",
            "GPG_KEY",
            "PUBLIC_KEY",
            "MONKEY_COUNT",
            "KEYBOARD",
            "PASSENGER_PORT",
            "TOKENIZERS_PARALLELISM",
            "org.opencontainers.image.source",
            "com.docker.compose.config-hash",
            "",
        ] {
            assert!(!looks_secret(name), "{name}");
        }
    }

    #[test]
    fn secret_env_names_the_variables_never_the_values() {
        let (mut config, host) = hardened();
        config.env.get_or_insert_with(Vec::new).extend([
            "API_KEY=abc123".to_string(),
            "GITHUB_TOKEN=ghp_sekrit".to_string(),
            "EMPTY_PASSWORD=".to_string(),
            "DB_PASSWORD_FILE=/run/secrets/db".to_string(),
            "UNSET_TOKEN".to_string(),
        ]);
        let finding = only(config, host);
        assert_eq!((finding.id.as_str(), finding.severity), ("secret-env", Severity::Medium));
        assert_eq!(finding.title, "Secret in the environment: API_KEY, GITHUB_TOKEN");
        assert!(finding.fix.contains("API_KEY_FILE=/run/secrets/api_key"), "{}", finding.fix);
        let text = format!("{finding:?}");
        assert!(!text.contains("abc123") && !text.contains("ghp_sekrit"), "{text}");
    }

    #[test]
    fn secret_labels_are_sorted_names() {
        let (mut config, host) = hardened();
        config.labels = Some(HashMap::from([
            ("com.example.token".to_string(), "t0k3n".to_string()),
            ("app.password".to_string(), "hunter2".to_string()),
            ("maintainer".to_string(), "me".to_string()),
        ]));
        let finding = only(config, host);
        assert_eq!(finding.id, "secret-label");
        assert_eq!(finding.title, "Secret in a label: app.password, com.example.token");
        assert!(!format!("{finding:?}").contains("hunter2"));
    }

    #[test]
    fn secret_build_args_come_from_the_history() {
        let history = |lines: &[&str]| {
            ImageConfigurationBuilder::default()
                .history(
                    lines
                        .iter()
                        .map(|line| HistoryBuilder::default().created_by(line.to_string()).build().unwrap())
                        .collect::<Vec<_>>(),
                )
                .build()
                .unwrap()
        };
        let image = history(&[
            "/bin/sh -c #(nop)  ARG NPM_TOKEN=default-token VERSION=1",
            "|2 NPM_TOKEN=abc VERSION=1 /bin/sh -c npm install",
            "RUN |1 DEPLOY_KEY=xyz /bin/sh -c ./deploy",
            "/bin/sh -c #(nop)  ARG UNSET_SECRET",
            "|1 API_TOKEN= /bin/sh -c true",
            "/bin/sh -c echo PASSWORD=x",
        ]);
        let (config, host) = hardened();
        let findings = audit_record(&record(config, host), Some(&image)).findings;
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].id, "secret-build-arg");
        assert_eq!(findings[0].title, "Secret build argument in the image's history: NPM_TOKEN, DEPLOY_KEY");
        assert!(!format!("{findings:?}").contains("abc"));
    }

    #[test]
    fn ports_on_every_interface() {
        let (config, mut host) = hardened();
        host.port_bindings = Some(HashMap::from([
            (
                "80/tcp".to_string(),
                Some(vec![
                    PortBinding { host_ip: Some("0.0.0.0".into()), host_port: Some("8080".into()) },
                    PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some("8081".into()) },
                ]),
            ),
            ("53/udp".to_string(), Some(vec![PortBinding { host_ip: Some("::".into()), host_port: None }])),
            ("443/tcp".to_string(), Some(vec![PortBinding { host_ip: Some("[::1]".into()), host_port: None }])),
        ]));
        host.publish_all_ports = Some(true);
        let finding = only(config, host);
        assert_eq!(finding.severity, Severity::Low);
        assert_eq!(
            finding.title,
            "Publishes on every interface of the host: (random)->53/udp, 8080->80/tcp, every exposed port (-P)"
        );
    }

    #[test]
    fn security_options_that_turn_protections_off() {
        let (config, mut host) = hardened();
        host.security_opt = Some(vec!["seccomp=unconfined".into(), "no-new-privileges=false".into()]);
        assert_eq!(ids(config, host), ["seccomp-unconfined", "new-privileges"]);
        // A profile of one's own and the explicit default are not findings.
        let (config, mut host) = hardened();
        host.security_opt =
            Some(vec![r#"seccomp={"defaultAction":"SCMP_ACT_ERRNO"}"#.into(), "no-new-privileges".into()]);
        assert_eq!(ids(config, host), Vec::<String>::new());
        // Privileged already says the filter is off; the same fact is not told twice.
        let (config, mut host) = hardened();
        host.privileged = Some(true);
        host.security_opt = Some(vec!["seccomp=unconfined".into()]);
        assert_eq!(ids(config, host), ["privileged"]);
    }

    #[test]
    fn every_finding_explains_itself() {
        // Everything on at once: each rule's text is there and each id is unique.
        let (mut config, mut host) = plain();
        config.env = Some(vec!["TOKEN=1".into()]);
        config.labels = Some(HashMap::from([("secret".to_string(), "1".to_string())]));
        host.privileged = Some(true);
        host.cap_add = Some(vec!["SYS_PTRACE".into()]);
        host.network_mode = Some("host".into());
        host.pid_mode = Some("host".into());
        host.ipc_mode = Some("host".into());
        host.binds = Some(vec!["/var/run/docker.sock:/s".into()]);
        host.port_bindings = published("80/tcp", "", "80");
        host.security_opt = Some(vec!["no-new-privileges=false".into()]);
        let findings = audit_record(&record(config, host), None).findings;
        let mut seen: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
        // All but seccomp-unconfined (privileged says it) and secret-build-arg (no image here).
        assert_eq!(seen.len(), 15, "{seen:?}");
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 15);
        for finding in &findings {
            assert!(finding.why.ends_with('.') && finding.why.len() > 60, "{finding:#?}");
            assert!(!finding.title.is_empty(), "{finding:#?}");
            // The page shows what is between backticks as code: every fix names its flag that way, in pairs.
            assert!(finding.fix.contains('`') && finding.fix.matches('`').count() % 2 == 0, "{finding:#?}");
            assert_eq!(finding.why.matches('`').count() % 2, 0, "{finding:#?}");
        }
        let severities: Vec<Severity> = findings.iter().map(|f| f.severity).collect();
        assert!(severities.windows(2).all(|pair| pair[0] <= pair[1]), "highest first: {severities:?}");
    }
}
