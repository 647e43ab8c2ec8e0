//! Compose's variable interpolation: `$V`, `${V}`, `${V:-default}`, `${V-default}`, `${V:?error}`,
//! `${V?error}`, `${V:+alternative}`, `${V+alternative}` and `$$` for a literal `$`, with defaults that may
//! themselves hold references (`${A:-${B:-x}}`).
//!
//! The colon forms treat an empty variable like an unset one, as POSIX shells and compose do. An unset variable
//! without a default expands to "" and is reported so the loader can warn, as compose does.

use super::error::ComposeError;
use super::yaml::{Node, Value};

/// The expanded text and the variables that were used but not set (each reported once by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interpolated {
    pub text: String,
    pub unset: Vec<String>,
}

/// Expands every reference in `text`, looking variables up with `lookup`.
pub fn interpolate(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Interpolated, ComposeError> {
    let mut unset = Vec::new();
    let text = expand(text, text, lookup, &mut unset)?;
    Ok(Interpolated { text, unset })
}

fn is_name_start(character: char) -> bool {
    character == '_' || character.is_ascii_alphabetic()
}

fn is_name_char(character: char) -> bool {
    character == '_' || character.is_ascii_alphanumeric()
}

/// `whole` is the scalar being expanded, for the error message; `text` is the part at hand.
fn expand(
    text: &str,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, ComposeError> {
    let invalid = || ComposeError::InvalidInterpolation { text: whole.to_string() };
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        output.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let mut characters = after.chars();
        match characters.next() {
            Some('$') => {
                output.push('$');
                rest = &after[1..];
            }
            Some('{') => {
                let body_and_rest = &after[1..];
                let close = matching_brace(body_and_rest).ok_or_else(invalid)?;
                output.push_str(&expand_braced(&body_and_rest[..close], whole, lookup, unset)?);
                rest = &body_and_rest[close + 1..];
            }
            Some(first) if is_name_start(first) => {
                let name_len = after.find(|character: char| !is_name_char(character)).unwrap_or(after.len());
                let name = &after[..name_len];
                match lookup(name) {
                    Some(value) => output.push_str(&value),
                    None => unset.push(name.to_string()),
                }
                rest = &after[name_len..];
            }
            _ => return Err(invalid()),
        }
    }
    output.push_str(rest);
    Ok(output)
}

/// The byte index of the `}` closing a `${`, skipping nested `${...}` and `$$`.
fn matching_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 1usize;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'$' if bytes.get(index + 1) == Some(&b'$') => index += 1,
            b'$' if bytes.get(index + 1) == Some(&b'{') => {
                depth += 1;
                index += 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => {}
        }
        index += 1;
    }
    None
}

fn expand_braced(
    body: &str,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, ComposeError> {
    let invalid = || ComposeError::InvalidInterpolation { text: whole.to_string() };
    let name_len = body.find(|character: char| !is_name_char(character)).unwrap_or(body.len());
    let name = &body[..name_len];
    if !name.chars().next().is_some_and(is_name_start) {
        return Err(invalid());
    }
    let value = lookup(name);
    let operation = &body[name_len..];
    if operation.is_empty() {
        return Ok(match value {
            Some(value) => value,
            None => {
                unset.push(name.to_string());
                String::new()
            }
        });
    }
    let (operator, argument) = ["-", ":-", "?", ":?", "+", ":+"]
        .iter()
        .rev()
        .find_map(|operator| operation.strip_prefix(operator).map(|argument| (*operator, argument)))
        .ok_or_else(invalid)?;
    // The colon forms count an empty value as missing.
    let present = match (&value, operator.starts_with(':')) {
        (Some(value), true) => !value.is_empty(),
        (Some(_), false) => true,
        (None, _) => false,
    };
    match operator.trim_start_matches(':') {
        "-" if present => Ok(value.unwrap_or_default()),
        "-" => expand(argument, whole, lookup, unset),
        "?" if present => Ok(value.unwrap_or_default()),
        "?" => Err(ComposeError::RequiredVariable {
            name: name.to_string(),
            message: expand(argument, whole, lookup, unset)?,
        }),
        _ if present => expand(argument, whole, lookup, unset),
        _ => Ok(String::new()),
    }
}

/// A scalar that could not be interpolated, or a variable that was not set, at `path`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TreeFinding {
    pub(crate) path: String,
    pub(crate) span: crate::dockerfile::span::Span,
    pub(crate) error: ComposeError,
}

/// Interpolates every scalar value (keys stay as written, like compose) of the tree in place.
pub(crate) fn interpolate_tree(
    node: &mut Node,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    findings: &mut Vec<TreeFinding>,
) {
    match &mut node.value {
        Value::Null => {}
        Value::Scalar(scalar) => {
            if !scalar.text.contains('$') {
                return;
            }
            match interpolate(&scalar.text, lookup) {
                Ok(interpolated) => {
                    scalar.text = interpolated.text;
                    for name in interpolated.unset {
                        findings.push(TreeFinding {
                            path: path.to_string(),
                            span: node.span,
                            error: ComposeError::VariableNotSet(name),
                        });
                    }
                }
                Err(error) => findings.push(TreeFinding { path: path.to_string(), span: node.span, error }),
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &format!("{path}[{index}]"), lookup, findings);
            }
        }
        Value::Mapping(entries) => {
            for (key, value) in entries.iter_mut() {
                let key_text = key.as_scalar_text().unwrap_or_default().to_string();
                let child = if path.is_empty() { key_text } else { format!("{path}.{key_text}") };
                interpolate_tree(value, &child, lookup, findings);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_env(text: &str) -> Result<Interpolated, ComposeError> {
        let lookup = |name: &str| match name {
            "SET" => Some("value".to_string()),
            "EMPTY" => Some(String::new()),
            "OTHER" => Some("other".to_string()),
            _ => None,
        };
        interpolate(text, &lookup)
    }

    fn expanded(text: &str) -> String {
        with_env(text).expect("interpolates").text
    }

    #[test]
    fn bare_name() {
        assert_eq!(expanded("a $SET b"), "a value b");
        assert_eq!(expanded("$SET.txt"), "value.txt");
    }

    #[test]
    fn braced_name() {
        assert_eq!(expanded("${SET}x"), "valuex");
    }

    #[test]
    fn unset_without_default_is_empty_and_reported() {
        let result = with_env("a${MISSING}b$MISSING2").expect("interpolates");
        assert_eq!(result.text, "ab");
        assert_eq!(result.unset, vec!["MISSING".to_string(), "MISSING2".to_string()]);
    }

    #[test]
    fn colon_dash_default_covers_unset_and_empty() {
        assert_eq!(expanded("${MISSING:-d}"), "d");
        assert_eq!(expanded("${EMPTY:-d}"), "d");
        assert_eq!(expanded("${SET:-d}"), "value");
        assert!(with_env("${MISSING:-d}").expect("ok").unset.is_empty());
    }

    #[test]
    fn dash_default_covers_only_unset() {
        assert_eq!(expanded("${MISSING-d}"), "d");
        assert_eq!(expanded("${EMPTY-d}"), "");
        assert_eq!(expanded("${SET-d}"), "value");
    }

    #[test]
    fn colon_question_mark_requires_non_empty() {
        let error = with_env("${EMPTY:?must be set}").expect_err("required");
        assert_eq!(error, ComposeError::RequiredVariable { name: "EMPTY".into(), message: "must be set".into() });
        assert_eq!(expanded("${SET:?must be set}"), "value");
    }

    #[test]
    fn question_mark_requires_set() {
        assert!(with_env("${MISSING?gone}").is_err());
        assert_eq!(expanded("${EMPTY?gone}"), "");
    }

    #[test]
    fn colon_plus_alternative_when_non_empty() {
        assert_eq!(expanded("${SET:+alt}"), "alt");
        assert_eq!(expanded("${EMPTY:+alt}"), "");
        assert_eq!(expanded("${MISSING:+alt}"), "");
    }

    #[test]
    fn plus_alternative_when_set() {
        assert_eq!(expanded("${EMPTY+alt}"), "alt");
        assert_eq!(expanded("${MISSING+alt}"), "");
    }

    #[test]
    fn double_dollar_is_a_literal_dollar() {
        assert_eq!(expanded("cost: $$5 $${SET}"), "cost: $5 ${SET}");
    }

    #[test]
    fn nested_defaults_expand() {
        assert_eq!(expanded("${MISSING:-${OTHER}}"), "other");
        assert_eq!(expanded("${MISSING:-${ALSO_MISSING:-deep}}"), "deep");
        assert_eq!(expanded("${MISSING:-a${SET}b}"), "avalueb");
    }

    #[test]
    fn malformed_references_are_errors() {
        for text in ["${", "${SET", "$1", "${1X}", "${SET:x}", "trailing $", "${}"] {
            assert!(
                matches!(with_env(text), Err(ComposeError::InvalidInterpolation { .. })),
                "{text:?} should be invalid"
            );
        }
    }
}
