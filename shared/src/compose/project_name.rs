//! Project names as compose normalizes them: lowercase, only `a-z`, `0-9`, `_` and `-`, starting with a letter
//! or digit. The name prefixes every container, network and volume the project creates.

use super::error::ComposeError;

/// Lowercases `name`, drops characters compose does not allow and leading `_`/`-`.
pub fn normalize_project_name(name: &str) -> Result<String, ComposeError> {
    let normalized: String = name
        .to_lowercase()
        .chars()
        .filter(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || matches!(character, '_' | '-')
        })
        .collect();
    let normalized = normalized.trim_start_matches(['_', '-']).to_string();
    if normalized.is_empty() {
        return Err(ComposeError::InvalidProjectName(name.to_string()));
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercased_and_filtered() {
        assert_eq!(normalize_project_name("My App.v2").expect("valid"), "myappv2");
        assert_eq!(normalize_project_name("_-web_1").expect("valid"), "web_1");
        assert!(normalize_project_name("..").is_err());
    }
}
