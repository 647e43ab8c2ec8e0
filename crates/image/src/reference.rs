//! Image references: parse and normalize `name[:tag][@digest]` the way Docker does.
//!
//! `busybox` is `docker.io/library/busybox:latest`; its familiar form is `busybox:latest`.

use super::error::ImageError;

/// The registry assumed for names without one.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The tag assumed for names without one.
pub const DEFAULT_TAG: &str = "latest";
const OFFICIAL_PREFIX: &str = "library/";
const NAME_MAX: usize = 255;

/// A parsed reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host, e.g. `docker.io` or `localhost:5000`.
    pub domain: String,
    /// Repository path inside the registry, e.g. `library/busybox`.
    pub path: String,
    /// The tag, if one was given.
    pub tag: Option<String>,
    /// The digest (`sha256:<hex>`), if one was given.
    pub digest: Option<String>,
}

impl Reference {
    /// Parse a reference, rejecting what Docker rejects (uppercase repositories, bad tags, 64-hex names).
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let err = |reason: &str| ImageError::InvalidReference { reference: s.to_string(), reason: reason.to_string() };
        if s.is_empty() {
            return Err(err("empty reference"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                validate_digest(d).map_err(|r| err(&r))?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag follows the last ':' only if no '/' comes after it (else the ':' is a registry port).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if let Some(t) = &tag {
            if !valid_tag(t) {
                return Err(err("invalid tag"));
            }
        }
        if name.is_empty() {
            return Err(err("empty repository name"));
        }
        if name.len() > NAME_MAX {
            return Err(err("repository name must not be more than 255 characters"));
        }
        let (domain, path) = split_domain(name);
        if let Some(d) = &domain {
            if !valid_domain(d) {
                return Err(err("invalid registry host"));
            }
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ImageError::InvalidReference {
                reference: s.to_string(),
                reason: format!("repository name ({path}) must be lowercase"),
            });
        }
        if !path.split('/').all(valid_path_component) {
            return Err(err("invalid repository name"));
        }
        let domain = domain.unwrap_or_else(|| DEFAULT_DOMAIN.to_string());
        let mut path = path.to_string();
        if domain == DEFAULT_DOMAIN && !path.contains('/') {
            if path.len() == 64 && path.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err("cannot specify 64-byte hexadecimal strings"));
            }
            path = format!("{OFFICIAL_PREFIX}{path}");
        }
        Ok(Reference { domain, path, tag, digest })
    }

    /// The repository in familiar form: `busybox`, `me/app`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_PREFIX) {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.path.clone(),
            }
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The fully qualified repository: `docker.io/library/busybox`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, or `latest`.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// `busybox:latest` (tag defaulted).
    pub fn familiar_tagged(&self) -> String {
        format!("{}:{}", self.familiar_name(), self.tag_or_latest())
    }

    /// `docker.io/library/busybox:latest` (tag defaulted).
    pub fn full_tagged(&self) -> String {
        format!("{}:{}", self.full_name(), self.tag_or_latest())
    }

    /// The OCI `org.opencontainers.image.ref.name` we store: the familiar name, without `:latest`.
    pub fn oci_ref_name(&self) -> String {
        match self.tag_or_latest() {
            DEFAULT_TAG => self.familiar_name(),
            t => format!("{}:{t}", self.familiar_name()),
        }
    }
}

/// Normalize a user-supplied name to Docker's familiar tagged form: `busybox` → `busybox:latest`,
/// `docker.io/library/busybox` → `busybox:latest`; a digest reference keeps its digest (`name@sha256:..`).
pub fn normalize(name: &str) -> Result<String, ImageError> {
    let r = Reference::parse(name)?;
    Ok(match (&r.tag, &r.digest) {
        (None, Some(d)) => format!("{}@{d}", r.familiar_name()),
        (Some(t), Some(d)) => format!("{}:{t}@{d}", r.familiar_name()),
        _ => r.familiar_tagged(),
    })
}

/// Parse a `repo[:tag]` for tagging: no digest allowed, tag defaults to `latest`.
pub(crate) fn parse_tag_target(repo_tag: &str) -> Result<Reference, ImageError> {
    let r = Reference::parse(repo_tag)?;
    if r.digest.is_some() {
        return Err(ImageError::InvalidReference {
            reference: repo_tag.to_string(),
            reason: "refusing to create a tag with a digest reference".to_string(),
        });
    }
    Ok(r)
}

/// Docker's split: the first component is a registry if it has a '.' or ':' or is `localhost`, or has uppercase.
fn split_domain(name: &str) -> (Option<String>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first.to_string()), rest)
        }
        _ => (None, name),
    }
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        })
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[\w][\w.-]{0,127}`
pub(crate) fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || x == b'-')
}

fn validate_digest(d: &str) -> Result<(), String> {
    match d.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && is_lower_hex(hex) => Ok(()),
        Some(("sha256", _)) => Err("invalid checksum digest length or format".to_string()),
        Some((alg, _)) => Err(format!("unsupported digest algorithm {alg}")),
        None => Err("invalid digest".to_string()),
    }
}

pub(crate) fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_familiar_names() {
        assert_eq!(normalize("busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize("busybox:1.36").unwrap(), "busybox:1.36");
        assert_eq!(normalize("library/busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize("docker.io/library/busybox:latest").unwrap(), "busybox:latest");
        assert_eq!(normalize("docker.io/me/app").unwrap(), "me/app:latest");
        assert_eq!(normalize("localhost:5000/app").unwrap(), "localhost:5000/app:latest");
        assert_eq!(normalize("localhost/app:v1").unwrap(), "localhost/app:v1");
        assert_eq!(normalize("quay.io/a/b/c:x_y.z-1").unwrap(), "quay.io/a/b/c:x_y.z-1");
        assert_eq!(normalize("my-app__x.y").unwrap(), "my-app__x.y:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(normalize(&format!("busybox@{d}")).unwrap(), format!("busybox@{d}"));
    }

    #[test]
    fn full_and_oci_names() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.full_tagged(), "docker.io/library/busybox:latest");
        assert_eq!(r.oci_ref_name(), "busybox");
        let r = Reference::parse("myapp:v1").unwrap();
        assert_eq!(r.oci_ref_name(), "myapp:v1");
        assert_eq!(r.full_tagged(), "docker.io/library/myapp:v1");
        let r = Reference::parse("localhost:5000/x").unwrap();
        assert_eq!(r.domain, "localhost:5000");
        assert_eq!(r.tag, None);
        assert_eq!(r.full_tagged(), "localhost:5000/x:latest");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            ":tag",
            "a//b",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "a:b:c",
            "busybox:-x",
            "busybox@sha256:abc",
            "busybox@md5:aaaa",
            &"a".repeat(64),
            &format!("x:{}", "t".repeat(129)),
            "white space",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let e = Reference::parse("Busybox").unwrap_err().to_string();
        assert!(e.contains("must be lowercase"), "{e}");
    }
}
