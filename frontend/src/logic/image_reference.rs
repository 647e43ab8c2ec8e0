//! Image references as people type them and as the daemon records them: the name and tag (or digest) a pull sends,
//! the repository and tag a new tag gets, and where a listed image came from (its `RepoDigests`).

use super::format;

/// What `POST /images/create` is asked for: `fromImage` and `tag`, split as the docker CLI splits them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReference {
    /// The repository, registry host and port included (`127.0.0.1:5000/demo`).
    pub from_image: String,
    /// A tag (`1`, `latest`), or a digest (`sha256:...`): the CLI sends a digest pull's digest as `tag` too.
    pub tag: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("type the name of an image, such as 127.0.0.1:5000/demo:1")]
    Empty,
    #[error("an image name has no spaces: {0:?}")]
    Whitespace(String),
    #[error("{0:?} has nothing after its ':' (the tag)")]
    EmptyTag(String),
    #[error("{0:?} has nothing after its '@' (a digest such as sha256:...)")]
    EmptyDigest(String),
    #[error("{0:?} has no repository name before its tag or digest")]
    EmptyName(String),
}

impl PullReference {
    /// `127.0.0.1:5000/demo:1` → (`127.0.0.1:5000/demo`, `1`); a bare name means `:latest`; `name@sha256:...` is a
    /// digest pull, whose tag, if it also has one, is dropped as the CLI drops it (the digest names the image).
    /// Everything else (lowercase, allowed characters) is the daemon's to judge: it answers a bad name with an
    /// error the page shows.
    pub fn parse(input: &str) -> Result<PullReference, ReferenceError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if input.chars().any(char::is_whitespace) {
            return Err(ReferenceError::Whitespace(input.to_string()));
        }
        if let Some((name, digest)) = input.rsplit_once('@') {
            if digest.is_empty() {
                return Err(ReferenceError::EmptyDigest(input.to_string()));
            }
            let (repository, _tag) = split_tag(name);
            if repository.is_empty() {
                return Err(ReferenceError::EmptyName(input.to_string()));
            }
            return Ok(PullReference { from_image: repository.to_string(), tag: digest.to_string() });
        }
        match split_tag(input) {
            ("", _) => Err(ReferenceError::EmptyName(input.to_string())),
            (_, Some("")) => Err(ReferenceError::EmptyTag(input.to_string())),
            (repository, tag) => {
                Ok(PullReference { from_image: repository.to_string(), tag: tag.unwrap_or("latest").to_string() })
            }
        }
    }

    /// Whether `tag` is a digest (`algorithm:hex`): a tag cannot hold a `:`.
    pub fn is_digest(&self) -> bool {
        self.tag.contains(':')
    }
}

impl std::fmt::Display for PullReference {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let separator = if self.is_digest() { '@' } else { ':' };
        write!(formatter, "{}{separator}{}", self.from_image, self.tag)
    }
}

/// `name[:tag]` → (name, tag). Only a `:` after the last `/` starts a tag: one before it is a registry's port.
fn split_tag(reference: &str) -> (&str, Option<&str>) {
    let last_slash = reference.rfind('/').map_or(0, |slash| slash + 1);
    match reference[last_slash..].rfind(':') {
        Some(colon) => (&reference[..last_slash + colon], Some(&reference[last_slash + colon + 1..])),
        None => (reference, None),
    }
}

/// What the run dialog offers to pull for the image typed: None when a local tag is that image (`busybox` is
/// `busybox:latest`), when it is an image ID (`sha256:...`, or 12 or more hex digits, as the images page passes an
/// untagged image), or when it is no name at all (the run's own check says so).
pub fn to_pull(typed: &str, local_tags: &[String]) -> Option<PullReference> {
    let typed = typed.trim();
    let hex = typed.strip_prefix("sha256:").unwrap_or(typed);
    if hex.len() >= 12 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let reference = PullReference::parse(typed).ok()?;
    let full = reference.to_string();
    (!local_tags.iter().any(|tag| *tag == typed || *tag == full)).then_some(reference)
}

/// `repo[:tag]` → (repo, tag) for `POST /images/{name}/tag`, `latest` when no tag is given.
pub fn repository_and_tag(reference: &str) -> (String, String) {
    match split_tag(reference) {
        (repository, Some(tag)) if !tag.is_empty() => (repository.to_string(), tag.to_string()),
        (repository, _) => (repository.to_string(), "latest".to_string()),
    }
}

/// One repository an image was pulled from (or pushed to), from a `RepoDigests` entry `name@sha256:...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOrigin {
    pub repository: String,
    /// The manifest digest's first 12 hex digits, as `docker images --digests` lets people compare them.
    pub short_digest: String,
}

/// Where an image in the list came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// It has repository digests: a registry holds it under these names.
    Registry(Vec<RegistryOrigin>),
    /// One of the daemon's recent build jobs made it.
    BuiltHere,
    /// Neither: imported, loaded, committed, the daemon's default image, or built before the daemon's job list
    /// begins (it keeps the last few jobs and forgets them on restart).
    Local,
}

impl ImageSource {
    /// `repo_digests` as the daemon lists them; `built_here`: a build job of this daemon produced the image. The
    /// daemon records no parent image (`ParentId` is empty), so its build jobs are the only trace of a build.
    pub fn of(repo_digests: &[String], built_here: bool) -> ImageSource {
        let origins: Vec<RegistryOrigin> = repo_digests
            .iter()
            .filter_map(|entry| entry.rsplit_once('@'))
            .map(|(repository, digest)| RegistryOrigin {
                repository: repository.to_string(),
                short_digest: format::short_id(digest).to_string(),
            })
            .collect();
        if !origins.is_empty() {
            ImageSource::Registry(origins)
        } else if built_here {
            ImageSource::BuiltHere
        } else {
            ImageSource::Local
        }
    }

    /// A word for CSS classes and tests: `registry`, `built`, `local`.
    pub fn kind(&self) -> &'static str {
        match self {
            ImageSource::Registry(_) => "registry",
            ImageSource::BuiltHere => "built",
            ImageSource::Local => "local",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn pull(input: &str) -> (String, String) {
        let reference = PullReference::parse(input).unwrap_or_else(|error| panic!("{input}: {error}"));
        (reference.from_image, reference.tag)
    }

    fn pair(name: &str, tag: &str) -> (String, String) {
        (name.to_string(), tag.to_string())
    }

    #[wasm_bindgen_test]
    fn tags_are_told_from_registry_ports() {
        assert_eq!(pull("127.0.0.1:5000/demo:1"), pair("127.0.0.1:5000/demo", "1"));
        assert_eq!(pull("127.0.0.1:5000/demo"), pair("127.0.0.1:5000/demo", "latest"));
        assert_eq!(pull("  busybox  "), pair("busybox", "latest"));
        assert_eq!(pull("alpine:3.19"), pair("alpine", "3.19"));
        assert_eq!(pull("localhost:5000/team/app:v2"), pair("localhost:5000/team/app", "v2"));
        assert_eq!(PullReference::parse("127.0.0.1:5000/demo").unwrap().to_string(), "127.0.0.1:5000/demo:latest");
    }

    #[wasm_bindgen_test]
    fn only_an_image_not_here_is_offered_for_a_pull() {
        let local = vec!["busybox:latest".to_string(), "127.0.0.1:5000/demo:1".to_string()];
        let offered = |typed: &str| to_pull(typed, &local).map(|reference| reference.to_string());
        assert_eq!(offered("busybox"), None);
        assert_eq!(offered(" 127.0.0.1:5000/demo:1 "), None);
        assert_eq!(offered("127.0.0.1:5000/demo:2").as_deref(), Some("127.0.0.1:5000/demo:2"));
        assert_eq!(offered("alpine").as_deref(), Some("alpine:latest"));
        assert_eq!(offered("0123456789ab"), None);
        assert_eq!(offered("sha256:0123456789abcdef"), None);
        assert_eq!(offered(""), None);
        assert_eq!(offered("two words"), None);
    }

    #[wasm_bindgen_test]
    fn a_digest_goes_as_the_tag() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(pull(&format!("127.0.0.1:5000/demo@{digest}")), pair("127.0.0.1:5000/demo", digest));
        // The CLI drops a tag written beside the digest: the digest alone says which image.
        assert_eq!(pull(&format!("127.0.0.1:5000/demo:1@{digest}")), pair("127.0.0.1:5000/demo", digest));
        let reference = PullReference::parse(&format!("demo@{digest}")).unwrap();
        assert!(reference.is_digest());
        assert_eq!(reference.to_string(), format!("demo@{digest}"));
    }

    #[wasm_bindgen_test]
    fn what_cannot_be_sent_is_said_before_sending() {
        assert_eq!(PullReference::parse("   "), Err(ReferenceError::Empty));
        assert!(matches!(PullReference::parse("demo :1"), Err(ReferenceError::Whitespace(_))));
        assert!(matches!(PullReference::parse("demo:"), Err(ReferenceError::EmptyTag(_))));
        assert!(matches!(PullReference::parse("demo@"), Err(ReferenceError::EmptyDigest(_))));
        assert!(matches!(PullReference::parse(":1"), Err(ReferenceError::EmptyName(_))));
        assert!(matches!(PullReference::parse("@sha256:ab"), Err(ReferenceError::EmptyName(_))));
    }

    #[wasm_bindgen_test]
    fn new_tags_split_the_same_way() {
        assert_eq!(repository_and_tag("127.0.0.1:5000/demo"), pair("127.0.0.1:5000/demo", "latest"));
        assert_eq!(repository_and_tag("mine:v1"), pair("mine", "v1"));
        assert_eq!(repository_and_tag("mine:"), pair("mine", "latest"));
    }

    #[wasm_bindgen_test]
    fn sources_from_repo_digests() {
        let digests = vec![
            "127.0.0.1:5000/demo@sha256:0123456789abcdef0123".to_string(),
            "mirror.local/demo@sha256:fedcba9876543210fedc".to_string(),
        ];
        assert_eq!(
            ImageSource::of(&digests, true),
            ImageSource::Registry(vec![
                RegistryOrigin { repository: "127.0.0.1:5000/demo".into(), short_digest: "0123456789ab".into() },
                RegistryOrigin { repository: "mirror.local/demo".into(), short_digest: "fedcba987654".into() },
            ]),
            "a registry's digest says more than a build: a FROM-only build's image is the pulled one"
        );
        assert_eq!(ImageSource::of(&[], true), ImageSource::BuiltHere);
        assert_eq!(ImageSource::of(&[], false).kind(), "local");
        assert_eq!(ImageSource::of(&["<none>".to_string()], false), ImageSource::Local);
    }
}
