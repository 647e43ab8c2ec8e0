//! The `.env` / `env_file` format as compose reads it: `KEY=VALUE` lines, an optional `export ` prefix, `#`
//! comments, single quotes (literal), double quotes (escapes, may span lines) and unquoted values (an inline
//! comment starts at ` #`). Double-quoted and unquoted values are interpolated with the variables defined above
//! them and then the caller's lookup; a bare `KEY` line names a variable to take from the caller's lookup.

use indexmap::IndexMap;

use super::error::ComposeError;
use super::interpolate::interpolate;
use crate::dockerfile::span::{Position, SourceMap};

/// A line that is not in the format, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct DotEnvError {
    pub position: Position,
    pub error: ComposeError,
}

/// Parses `.env` text into variables in file order. A bare `KEY` is `None` unless `lookup` knows it.
pub fn parse_dotenv(
    source: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<IndexMap<String, Option<String>>, DotEnvError> {
    let map = SourceMap::new(source);
    let mut variables: IndexMap<String, Option<String>> = IndexMap::new();
    let mut offset = 0;
    while offset < source.len() {
        let line_end = source[offset..].find('\n').map_or(source.len(), |index| offset + index);
        let line = &source[offset..line_end];
        let trimmed = line.trim_start();
        let line_start = offset;
        offset = line_end + 1;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let error_at = |position: usize, message: String| DotEnvError {
            position: map.position(position),
            error: ComposeError::DotEnv(message),
        };
        let statement_start = line_start + (line.len() - trimmed.len());
        let statement = trimmed.strip_prefix("export ").map(str::trim_start).unwrap_or(trimmed);
        let key_start = statement_start + (trimmed.len() - statement.len());
        let (key, value_text) = match statement.find('=') {
            Some(equals) => (statement[..equals].trim_end(), Some(&source[key_start + equals + 1..])),
            None => (statement.trim_end(), None),
        };
        let valid_key = key.chars().next().is_some_and(|first| first == '_' || first.is_ascii_alphabetic())
            && key.chars().all(|character| character == '_' || character == '.' || character.is_ascii_alphanumeric());
        if !valid_key {
            return Err(error_at(key_start, format!("unexpected character in variable name {key:?}")));
        }
        let Some(value_text) = value_text else {
            variables.insert(key.to_string(), lookup(key));
            continue;
        };
        let value_offset = source.len() - value_text.len();
        let leading = value_text.len() - value_text.trim_start_matches([' ', '\t']).len();
        let value_text = &value_text[leading..];
        let value_offset = value_offset + leading;
        let defined = |name: &str| match variables.get(name) {
            Some(value) => value.clone(),
            None => lookup(name),
        };
        let (value, consumed) = match value_text.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let Some((raw, consumed)) = quoted(&value_text[1..], quote) else {
                    return Err(error_at(value_offset, format!("unterminated quoted value for {key}")));
                };
                let value = if quote == '"' {
                    interpolate(&unescape_double_quoted(&raw), &defined)
                        .map_err(|error| DotEnvError { position: map.position(value_offset), error })?
                        .text
                } else {
                    raw
                };
                let after_quote = &value_text[1 + consumed..];
                let rest_of_line = after_quote.split('\n').next().unwrap_or_default().trim();
                if !rest_of_line.is_empty() && !rest_of_line.starts_with('#') {
                    return Err(error_at(value_offset, format!("unexpected text after the quoted value of {key}")));
                }
                (value, 1 + consumed + after_quote.find('\n').unwrap_or(after_quote.len()))
            }
            _ => {
                let line_value = value_text.split('\n').next().unwrap_or_default();
                let without_comment = match line_value.find(" #").or_else(|| line_value.find("\t#")) {
                    Some(comment) => &line_value[..comment],
                    None => line_value,
                };
                let value = interpolate(without_comment.trim_end().trim_end_matches('\r'), &defined)
                    .map_err(|error| DotEnvError { position: map.position(value_offset), error })?
                    .text;
                (value, line_value.len())
            }
        };
        variables.insert(key.to_string(), Some(value));
        offset = value_offset + consumed + 1;
    }
    Ok(variables)
}

/// The text up to the closing `quote` and how many bytes (including the quote) it took.
fn quoted(text: &str, quote: char) -> Option<(String, usize)> {
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if character == '\\' && quote == '"' {
            escaped = true;
        } else if character == quote {
            return Some((text[..index].to_string(), index + 1));
        }
    }
    None
}

fn unescape_double_quoted(raw: &str) -> String {
    let mut output = String::with_capacity(raw.len());
    let mut characters = raw.chars();
    while let Some(character) = characters.next() {
        if character != '\\' {
            output.push(character);
            continue;
        }
        match characters.next() {
            Some('n') => output.push('\n'),
            Some('r') => output.push('\r'),
            Some('t') => output.push('\t'),
            // `\$` keeps a literal dollar through the interpolation that follows.
            Some('$') => output.push_str("$$"),
            Some(other) => output.push(other),
            None => output.push('\\'),
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(source: &str) -> IndexMap<String, Option<String>> {
        let lookup = |name: &str| (name == "FROM_ENV").then(|| "env".to_string());
        parse_dotenv(source, &lookup).expect("valid .env")
    }

    fn value(map: &IndexMap<String, Option<String>>, key: &str) -> Option<String> {
        map.get(key).cloned().flatten()
    }

    #[test]
    fn plain_lines_comments_and_export() {
        let map = parse("# comment\nA=1\n\nexport B = two words  # trailing\nC=\n");
        assert_eq!(value(&map, "A").as_deref(), Some("1"));
        assert_eq!(value(&map, "B").as_deref(), Some("two words"));
        assert_eq!(value(&map, "C").as_deref(), Some(""));
    }

    #[test]
    fn quotes() {
        let map = parse("S='a $B # not a comment'\nD=\"line\\nnext \\\"q\\\"\"\nM=\"multi\nline\"\nAFTER=x\n");
        assert_eq!(value(&map, "S").as_deref(), Some("a $B # not a comment"));
        assert_eq!(value(&map, "D").as_deref(), Some("line\nnext \"q\""));
        assert_eq!(value(&map, "M").as_deref(), Some("multi\nline"));
        assert_eq!(value(&map, "AFTER").as_deref(), Some("x"));
    }

    #[test]
    fn values_interpolate_earlier_variables_and_the_environment() {
        let map = parse("A=1\nB=${A}-$FROM_ENV\nC=\"${MISSING:-d}\"\n");
        assert_eq!(value(&map, "B").as_deref(), Some("1-env"));
        assert_eq!(value(&map, "C").as_deref(), Some("d"));
    }

    #[test]
    fn bare_key_comes_from_the_environment() {
        let map = parse("FROM_ENV\nNOPE\n");
        assert_eq!(value(&map, "FROM_ENV").as_deref(), Some("env"));
        assert_eq!(map.get("NOPE"), Some(&None));
    }

    #[test]
    fn bad_key_is_positioned() {
        let error = parse_dotenv("A=1\n  1BAD=2\n", &|_| None).expect_err("bad key");
        assert_eq!((error.position.line, error.position.column), (2, 3));
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert!(parse_dotenv("A=\"open\n", &|_| None).is_err());
    }
}
