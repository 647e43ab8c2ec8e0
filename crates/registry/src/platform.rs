//! Platforms (`linux/arm64/v8`): the host's, `--platform`'s, and choosing one from a multi-platform index.

use std::fmt;

use super::RegistryError;

/// The systems and architectures containerd's `platforms.Parse` knows (Go's GOOS and GOARCH lists).
const OPERATING_SYSTEMS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "windows",
    "zos",
];
const ARCHITECTURES: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// containerd's normalizeArch: the names other tools use for Go's.
fn normalize_architecture(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" => "386",
        "armhf" | "armel" => "arm",
        other => other,
    }
}

/// An OS, architecture and optional variant, in the OCI's names (and its JSON: an index entry's `platform`, the
/// fields of an image config).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this daemon runs containers for.
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            other => (other, None),
        };
        Platform { os: "linux".into(), architecture: architecture.into(), variant: variant.map(str::to_string) }
    }

    /// `os[/arch[/variant]]` (or an architecture alone), as `docker pull --platform` takes it and containerd's
    /// `platforms.Parse` reads it: a missing architecture is the host's, a lone architecture is for linux, and a
    /// system or architecture Go does not know is refused with containerd's words.
    pub fn parse(text: &str) -> Result<Platform, RegistryError> {
        let invalid = |reason: &str| RegistryError::InvalidPlatform { platform: text.into(), reason: reason.into() };
        let lower = text.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(invalid("expected os[/arch[/variant]]"));
        }
        let unknown = || invalid("unknown operating system or architecture");
        let host = Platform::host();
        if let [alone] = parts.as_slice() {
            if !OPERATING_SYSTEMS.contains(alone) {
                let architecture = normalize_architecture(alone);
                if !ARCHITECTURES.contains(&architecture) {
                    return Err(unknown());
                }
                return Ok(Platform { os: "linux".into(), architecture: architecture.into(), variant: None });
            }
        }
        if !OPERATING_SYSTEMS.contains(&parts[0]) {
            return Err(unknown());
        }
        let architecture = match parts.get(1) {
            Some(arch) => normalize_architecture(arch).to_string(),
            None => host.architecture.clone(),
        };
        if !ARCHITECTURES.contains(&architecture.as_str()) {
            return Err(unknown());
        }
        let variant = match parts.get(2) {
            Some(v) => Some(v.to_string()),
            None if parts.len() == 1 => host.variant,
            None => None,
        };
        Ok(Platform { os: parts[0].to_string(), architecture, variant })
    }

    /// Whether this daemon runs containers of this platform.
    pub fn is_host(&self) -> bool {
        let host = Platform::host();
        host.matches(&self.os, &self.architecture, self.variant.as_deref())
    }

    /// Whether an index entry or image config for `os`/`architecture`/`variant` runs here. arm64's only variant
    /// is v8, so it matches an entry that names none.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        if self.os != os || self.architecture != architecture {
            return false;
        }
        match (self.variant.as_deref(), variant) {
            (None, _) => true,
            (Some(wanted), Some(actual)) => wanted == actual,
            (Some(wanted), None) => architecture == "arm64" && wanted == "v8",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_like_docker() {
        assert_eq!(
            Platform::parse("linux/arm64/v8").expect("valid"),
            Platform { os: "linux".into(), architecture: "arm64".into(), variant: Some("v8".into()) }
        );
        assert_eq!(Platform::parse("Linux/x86_64").expect("valid").to_string(), "linux/amd64");
        assert_eq!(Platform::parse("linux").expect("valid").architecture, Platform::host().architecture);
        assert!(Platform::parse("linux//v7").is_err() && Platform::parse("a/b/c/d").is_err());
        for unknown in ["foobar", "linux/nosucharch", "plan10/amd64"] {
            let error = Platform::parse(unknown).expect_err(unknown).to_string();
            assert!(error.contains("unknown operating system or architecture"), "{error}");
        }
        assert_eq!(Platform::parse("arm64").expect("an architecture alone").to_string(), "linux/arm64");
        assert!(Platform::parse("linux").expect("valid").is_host());
        assert!(!Platform::parse("windows/amd64").expect("valid").is_host());
    }

    #[test]
    fn matching_takes_variants_into_account() {
        let arm64 = Platform::parse("linux/arm64/v8").expect("valid");
        assert!(arm64.matches("linux", "arm64", None) && arm64.matches("linux", "arm64", Some("v8")));
        let armv6 = Platform::parse("linux/arm/v6").expect("valid");
        assert!(!armv6.matches("linux", "arm", Some("v7")) && armv6.matches("linux", "arm", Some("v6")));
        let amd64 = Platform::parse("linux/amd64").expect("valid");
        assert!(amd64.matches("linux", "amd64", None) && !amd64.matches("windows", "amd64", None));
    }
}
