//! `compose config`: the resolved project as YAML, with a fixed key order (top-level sections in compose's
//! order, every mapping below sorted), so the output is the same on every platform and can be diffed.
//!
//! Strings are written plain only when no YAML reader could take them for anything but a string, and every `$`
//! is doubled: the output goes through interpolation again when it is loaded, and must load back to the same
//! project.

use serde_json::{Map, Value};

use super::model::Project;

const SECTIONS: &[&str] = &["services", "networks", "volumes", "secrets", "configs"];

/// The project as a compose file.
pub fn to_yaml(project: &Project) -> String {
    let mut output = format!("name: {}\n", scalar(&Value::String(project.name.clone())));
    // A plain data model serializes to a Value without error; an empty map stands in if it ever did not.
    let value = serde_json::to_value(project).unwrap_or(Value::Object(Map::new()));
    for section in SECTIONS {
        if let Some(content) = value.get(*section) {
            write_entry(section, content, 0, &mut output);
        }
    }
    output
}

/// YAML readers refuse an implicit key (`key: value`) whose colon is more than 1024 characters after its start
/// (YAML 1.2, 7.4.2), and quoting can make a key several times longer; past this length a key is written as an
/// explicit one, `? key` with `: value` on the next line. Below 1024 to leave room for the colon.
const IMPLICIT_KEY_MAX: usize = 1000;

fn write_entry(key: &str, value: &Value, indent: usize, output: &mut String) {
    let padding = " ".repeat(indent);
    let key = key_text(key);
    if key.chars().count() <= IMPLICIT_KEY_MAX {
        output.push_str(&format!("{padding}{key}:"));
    } else {
        output.push_str(&format!("{padding}? {key}\n{padding}:"));
    }
    if is_inline(value) {
        output.push(' ');
        output.push_str(&scalar(value));
        output.push('\n');
    } else {
        output.push('\n');
        write_block(value, indent + 2, output);
    }
}

/// A non-empty mapping or sequence, one entry per line at `indent`.
fn write_block(value: &Value, indent: usize, output: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                if let Some(entry) = map.get(key) {
                    write_entry(key, entry, indent, output);
                }
            }
        }
        Value::Array(items) => {
            let padding = " ".repeat(indent);
            for item in items {
                if is_inline(item) {
                    output.push_str(&format!("{padding}- {}\n", scalar(item)));
                } else {
                    // Written two columns deeper, then the first line's indentation becomes the dash.
                    let mut nested = String::new();
                    write_block(item, indent + 2, &mut nested);
                    output.push_str(&padding);
                    output.push_str("- ");
                    output.push_str(&nested[indent + 2..]);
                }
            }
        }
        other => {
            output.push_str(&" ".repeat(indent));
            output.push_str(&scalar(other));
            output.push('\n');
        }
    }
}

fn is_inline(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => true,
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => {
            let escaped = text.replace('$', "$$");
            if is_plain_safe(&escaped) {
                escaped
            } else {
                Value::String(escaped).to_string()
            }
        }
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
    }
}

fn key_text(key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|character| character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '-' | '/'))
        && !key.starts_with('-')
        && !is_reserved_word(key);
    if plain {
        key.to_string()
    } else {
        Value::String(key.to_string()).to_string()
    }
}

/// Plain only for text that starts with a letter or `/` and holds no YAML indicator (a colon only inside a
/// word, as in `postgres:16`), and is not a word that some YAML reader takes for a boolean or null.
fn is_plain_safe(text: &str) -> bool {
    text.chars().next().is_some_and(|first| first.is_ascii_alphabetic() || first == '/')
        && text.chars().all(|character| character.is_ascii_alphanumeric() || "_./@+-=:".contains(character))
        // A trailing colon would read as a mapping key.
        && !text.ends_with(':')
        && !is_reserved_word(text)
}

fn is_reserved_word(text: &str) -> bool {
    matches!(
        text.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~" | "nan" | "inf"
    )
}
