//! Image references as FROM and `COPY --from` write them: `[registry[:port]/]path[:tag][@digest]`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    /// Everything before the tag and digest, registry included.
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Splits a reference; `None` when it cannot be one (empty, upper-case path, spaces, empty tag...).
    pub fn parse(reference: &str) -> Option<ImageRef> {
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => {
                let (algorithm, hex) = digest.split_once(':')?;
                if algorithm.is_empty() || hex.is_empty() {
                    return None;
                }
                (rest, Some(digest.to_string()))
            }
            None => (reference, None),
        };
        // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
        let last_slash = rest.rfind('/').map_or(0, |index| index + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(index) => (
                &rest[..last_slash + index],
                Some(&rest[last_slash + index + 1..]),
            ),
            None => (rest, None),
        };
        if name.is_empty() || tag.is_some_and(|tag| !is_valid_tag(tag)) {
            return None;
        }
        let (domain, path) = split_domain(name);
        let path_is_valid = !path.is_empty()
            && path.split('/').all(|component| {
                !component.is_empty()
                    && component.chars().all(|character| {
                        character.is_ascii_lowercase()
                            || character.is_ascii_digit()
                            || matches!(character, '.' | '_' | '-')
                    })
            });
        let domain_is_valid = domain.is_none_or(|domain| {
            domain.chars().all(|character| {
                character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | ':')
            })
        });
        if !path_is_valid || !domain_is_valid {
            return None;
        }
        Some(ImageRef {
            name: name.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// `scratch` is the empty image, not something to pull.
    pub fn is_scratch(&self) -> bool {
        self.name == "scratch"
    }
}

fn is_valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '-')
        })
}

/// Docker's rule: the first component is a registry if it has a '.' or ':' or is "localhost".
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_references() {
        let reference = ImageRef::parse("localhost:5000/team/app:1.2@sha256:abc").expect("valid");
        assert_eq!(reference.name, "localhost:5000/team/app");
        assert_eq!(reference.tag.as_deref(), Some("1.2"));
        assert_eq!(reference.digest.as_deref(), Some("sha256:abc"));
        let bare = ImageRef::parse("ubuntu").expect("valid");
        assert_eq!((bare.tag, bare.digest), (None, None));
        assert_eq!(
            ImageRef::parse("registry:5000/app").and_then(|reference| reference.tag),
            None
        );
        assert!(ImageRef::parse("Ubuntu").is_none());
        assert!(ImageRef::parse("ubuntu:").is_none());
        assert!(ImageRef::parse("").is_none());
    }
}
