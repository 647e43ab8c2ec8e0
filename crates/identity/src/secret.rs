//! Tokens handed to people (API tokens, join links) and the ids of what the store keeps. A token is 32 random
//! bytes; only its SHA-256 is stored, so a copy of the database lets nobody in.

use base64::Engine as _;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

/// A token as given out: a prefix saying what it is, then 43 URL-safe characters.
pub(crate) fn new_token(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("{prefix}_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What the store keeps of a token.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A short random id (lower-case hex): sessions appear in URLs and container labels, so they stay short.
pub(crate) fn new_id(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill(buffer.as_mut_slice());
    hex::encode(buffer)
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_only_their_hash_is_kept() {
        let first = new_token("bt");
        let second = new_token("bt");
        assert_ne!(first, second);
        assert!(first.starts_with("bt_") && first.len() == 3 + 43, "{first}");
        assert_eq!(token_hash(&first), token_hash(&first));
        assert_ne!(token_hash(&first), token_hash(&second));
        assert!(!token_hash(&first).contains(&first[3..]));
    }
}
