//! `--security-opt`: the seccomp profile a container runs under and no_new_privs.
//!
//! Seccomp as dockerd: Docker's default profile (seccomp/default.json, moby's, Apache-2.0) unless the container is
//! privileged or says `seccomp=unconfined`; `seccomp=<profile JSON>` (the docker CLI sends the file's content) in
//! Docker's format. Either is turned into the OCI spec's `linux.seccomp` for this machine's architecture and the
//! container's bounding capabilities (a rule's `includes`/`excludes`), as moby's `setupSeccomp` does; the runtime
//! compiles that once per distinct result. no_new_privs is on unless `no-new-privileges=false`: Berth's users run
//! strangers' code, and setuid binaries gaining privileges is what it stops.

use std::collections::HashSet;
use std::sync::OnceLock;

use bollard_stubs::models::HostConfig;
use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompBuilder, LinuxSyscallBuilder,
};
use serde::Deserialize;

use super::EngineError;

const DEFAULT_PROFILE: &str = include_str!("../seccomp/default.json");

/// What `--security-opt` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecurityOptions {
    pub seccomp: SeccompChoice,
    pub no_new_privileges: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SeccompChoice {
    Default,
    Unconfined,
    /// A profile's JSON, as the docker CLI inlines the file.
    Profile(String),
}

/// Parses `--security-opt` values (`seccomp=...`, `no-new-privileges[=bool]`; `key:value` is the old spelling).
/// AppArmor and SELinux labels are accepted and ignored, as on a host without them.
pub(crate) fn parse(options: &[String]) -> Result<SecurityOptions, EngineError> {
    let mut parsed = SecurityOptions { seccomp: SeccompChoice::Default, no_new_privileges: true };
    for option in options {
        if option == "no-new-privileges" {
            parsed.no_new_privileges = true;
            continue;
        }
        let Some((key, value)) = option.split_once('=').or_else(|| option.split_once(':')) else {
            return Err(invalid(format!("Invalid --security-opt: {option:?}")));
        };
        match key {
            "seccomp" if value == "unconfined" => parsed.seccomp = SeccompChoice::Unconfined,
            "seccomp" if value == "builtin" => parsed.seccomp = SeccompChoice::Default,
            "seccomp" => parsed.seccomp = SeccompChoice::Profile(value.to_string()),
            "no-new-privileges" => {
                parsed.no_new_privileges = value.parse().map_err(|_| {
                    invalid(format!("invalid --security-opt 2: {option:?}: no-new-privileges takes true or false"))
                })?
            }
            "apparmor" | "label" | "systempaths" | "proc-opts" | "mask" | "unmask" => {}
            _ => return Err(invalid(format!("invalid --security-opt 1: {option:?}"))),
        }
    }
    Ok(parsed)
}

/// The OCI seccomp section for a container with `host` and these bounding capabilities; None: unconfined.
/// Checked through the runtime's compiler, so a bad profile fails at create, naming the problem.
pub(crate) fn seccomp(host: &HostConfig, bounding: &HashSet<Capability>) -> Result<Option<LinuxSeccomp>, EngineError> {
    let options = parse(host.security_opt.as_deref().unwrap_or_default())?;
    if host.privileged.unwrap_or(false) {
        return Ok(None);
    }
    let seccomp = match &options.seccomp {
        SeccompChoice::Unconfined => return Ok(None),
        SeccompChoice::Default => to_oci(default_profile()?, bounding, false)?,
        SeccompChoice::Profile(json) => to_oci(&decode(json)?, bounding, true)?,
    };
    berth_runtime::check_seccomp(&seccomp).map_err(|e| invalid(e.to_string()))?;
    Ok(Some(seccomp))
}

/// Docker's default profile, decoded once: every create, start and exec of a confined container needs it.
fn default_profile() -> Result<&'static Profile, EngineError> {
    static DEFAULT: OnceLock<Result<Profile, String>> = OnceLock::new();
    DEFAULT.get_or_init(|| decode(DEFAULT_PROFILE).map_err(|e| e.to_string())).as_ref().map_err(|e| invalid(e.clone()))
}

fn decode(json: &str) -> Result<Profile, EngineError> {
    serde_json::from_str(json).map_err(|e| invalid(format!("Decoding seccomp profile failed: {e}")))
}

/// Docker's profile format (moby/profiles/seccomp).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: LinuxSeccompAction,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_as_empty")]
    architectures: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    arch_map: Vec<ArchMap>,
    #[serde(default, deserialize_with = "null_as_empty")]
    syscalls: Vec<Syscall>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    /// Seccomp's token (`SCMP_ARCH_X86_64`); kept as text, as the profile may name architectures newer than the
    /// OCI types know (loongarch64), which matter only on those machines.
    architecture: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    sub_architectures: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Syscall {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    names: Vec<String>,
    action: LinuxSeccompAction,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<LinuxSeccompArg>>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default, deserialize_with = "null_as_empty")]
    caps: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// A list that may be written as `null` (moby's own default profile does).
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// This machine's architecture in the profile's names (`amd64`, `arm64`) and as a seccomp token.
fn native_arch() -> (&'static str, Arch) {
    match std::env::consts::ARCH {
        "aarch64" => ("arm64", Arch::ScmpArchAarch64),
        "arm" => ("arm", Arch::ScmpArchArm),
        "x86" => ("x86", Arch::ScmpArchX86),
        "riscv64" => ("riscv64", Arch::ScmpArchRiscv64),
        _ => ("amd64", Arch::ScmpArchX86_64),
    }
}

fn to_oci(profile: &Profile, bounding: &HashSet<Capability>, strict: bool) -> Result<LinuxSeccomp, EngineError> {
    if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
        return Err(invalid(
            "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'",
        ));
    }
    let (arch_name, arch) = native_arch();
    let mut architectures: Vec<Arch> = profile.architectures.iter().filter_map(|a| arch_token(a)).collect();
    if let Some(entry) = profile.arch_map.iter().find(|m| arch_token(&m.architecture) == Some(arch)) {
        architectures.push(arch);
        architectures.extend(entry.sub_architectures.iter().filter_map(|a| arch_token(a)));
    }
    let caps: HashSet<String> = bounding.iter().filter_map(capability_name).collect();
    let kernel = kernel_version();
    let mut syscalls = Vec::new();
    for call in &profile.syscalls {
        if call.name.is_some() && !call.names.is_empty() {
            return Err(invalid(
                "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'",
            ));
        }
        let names: Vec<String> = call.name.iter().cloned().chain(call.names.iter().cloned()).collect();
        if !applies(call, arch_name, &caps, kernel) {
            continue;
        }
        if strict {
            if let Some(unknown) = names.iter().find(|n| !berth_runtime::is_known_syscall(n)) {
                return Err(invalid(format!("seccomp profile: unknown system call {unknown:?}")));
            }
        }
        let mut rule = LinuxSyscallBuilder::default().names(names).action(call.action);
        if let Some(errno) = call.errno_ret {
            rule = rule.errno_ret(errno);
        }
        if let Some(args) = &call.args {
            rule = rule.args(args.clone());
        }
        syscalls.push(rule.build().map_err(|e| invalid(e.to_string()))?);
    }
    let mut seccomp = LinuxSeccompBuilder::default().default_action(profile.default_action).syscalls(syscalls);
    if let Some(errno) = profile.default_errno_ret {
        seccomp = seccomp.default_errno_ret(errno);
    }
    if !architectures.is_empty() {
        seccomp = seccomp.architectures(architectures);
    }
    seccomp.build().map_err(|e| invalid(e.to_string()))
}

/// A rule's `excludes` and `includes` against this machine and the container's capabilities (moby's rules: any
/// excluded capability held, or any included one missing, drops the rule).
fn applies(call: &Syscall, arch: &str, caps: &HashSet<String>, kernel: (u32, u32)) -> bool {
    if let Some(ex) = &call.excludes {
        if ex.arches.iter().any(|a| a == arch) || ex.caps.iter().any(|c| caps.contains(c)) {
            return false;
        }
        if ex.min_kernel.as_deref().and_then(parse_kernel).is_some_and(|min| kernel >= min) {
            return false;
        }
    }
    if let Some(inc) = &call.includes {
        if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == arch) {
            return false;
        }
        if !inc.caps.iter().all(|c| caps.contains(c)) {
            return false;
        }
        if inc.min_kernel.as_deref().and_then(parse_kernel).is_some_and(|min| kernel < min) {
            return false;
        }
    }
    true
}

/// An architecture token the OCI types know, or None (one this build never runs on).
fn arch_token(token: &str) -> Option<Arch> {
    serde_json::from_value(serde_json::Value::String(token.to_string())).ok()
}

fn capability_name(cap: &Capability) -> Option<String> {
    serde_json::to_value(cap).ok().and_then(|v| v.as_str().map(str::to_string))
}

/// `major.minor` of a kernel release (`6.1.0-18-amd64` is (6, 1)).
fn parse_kernel(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn kernel_version() -> (u32, u32) {
    nix::sys::utsname::uname().ok().and_then(|u| parse_kernel(&u.release().to_string_lossy())).unwrap_or((0, 0))
}

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArgument(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(options: &[&str]) -> HostConfig {
        HostConfig { security_opt: Some(options.iter().map(|o| o.to_string()).collect()), ..HostConfig::default() }
    }

    fn rules_for<'a>(seccomp: &'a LinuxSeccomp, name: &str) -> Vec<&'a oci_spec::runtime::LinuxSyscall> {
        seccomp.syscalls().iter().flatten().filter(|r| r.names().iter().any(|n| n == name)).collect()
    }

    #[test]
    fn the_default_profile_follows_the_capabilities() {
        let default_caps: HashSet<Capability> = [Capability::Chown, Capability::NetRaw].into();
        let seccomp = seccomp(&host(&[]), &default_caps).expect("compiles").expect("confined");
        assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(seccomp.default_errno_ret(), Some(1), "blocked calls fail with EPERM");
        assert!(rules_for(&seccomp, "unshare").is_empty(), "unshare only with CAP_SYS_ADMIN");
        let clone = rules_for(&seccomp, "clone");
        assert_eq!(clone.len(), 1, "clone without namespace flags: {clone:?}");
        assert!(clone[0].args().is_some());
        let admin: HashSet<Capability> = [Capability::SysAdmin].into();
        let with_admin = super::seccomp(&host(&[]), &admin).expect("compiles").expect("confined");
        assert!(!rules_for(&with_admin, "unshare").is_empty() && !rules_for(&with_admin, "mount").is_empty());
    }

    #[test]
    fn unconfined_privileged_and_bad_profiles() {
        let caps = HashSet::new();
        assert_eq!(seccomp(&host(&["seccomp=unconfined"]), &caps).expect("ok"), None);
        let privileged = HostConfig { privileged: Some(true), ..HostConfig::default() };
        assert_eq!(seccomp(&privileged, &caps).expect("ok"), None);
        let not_json = seccomp(&host(&["seccomp={nope"]), &caps).expect_err("not JSON").to_string();
        assert!(not_json.starts_with("Decoding seccomp profile failed: "), "{not_json}");
        let unknown_call =
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdirr"],"action":"SCMP_ACT_ERRNO"}]}"#;
        let error = seccomp(&host(&[&format!("seccomp={unknown_call}")]), &caps).expect_err("unknown").to_string();
        assert!(error.contains("unknown system call \"mkdirr\""), "{error}");
        let unknown_action = r#"{"defaultAction":"SCMP_ACT_MAYBE","syscalls":[]}"#;
        let error = seccomp(&host(&[&format!("seccomp={unknown_action}")]), &caps).expect_err("action").to_string();
        assert!(error.contains("SCMP_ACT_MAYBE"), "{error}");
    }

    #[test]
    fn options_parse_like_dockerd() {
        assert!(parse(&[]).expect("none").no_new_privileges, "on by default here");
        let off = parse(&["no-new-privileges=false".into()]).expect("off");
        assert!(!off.no_new_privileges);
        assert!(parse(&["no-new-privileges:true".into()]).expect("old spelling").no_new_privileges);
        assert_eq!(parse(&["seccomp:unconfined".into()]).expect("old").seccomp, SeccompChoice::Unconfined);
        assert!(parse(&["bogus".into()]).is_err() && parse(&["no-new-privileges=maybe".into()]).is_err());
        assert_eq!(parse_kernel("6.1.0-18-amd64"), Some((6, 1)));
    }
}
