//! Typing the spanned tree: the helpers every decoder uses to read a field in one of the shapes compose allows
//! (string or list, map or `KEY=VALUE` list, number or string, ...), reporting wrong shapes and unknown keys at
//! the node's line:column with its path, and remembering where each path was written for later checks.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::error::{ComposeError, Diagnostic, Severity};
use super::suggest::closest;
use super::yaml::{Node, Value};
use super::FileSource;
use crate::dockerfile::span::Span;

/// Where a value was written: its file and span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Location {
    pub(crate) file: String,
    pub(crate) span: Span,
}

/// Every decoded path's location, so checks made after merging (a `depends_on` naming a missing service) can
/// still point at the line that wrote it. A later file's location replaces an earlier one for the same path.
#[derive(Debug, Clone, Default)]
pub(crate) struct Positions {
    by_path: HashMap<String, Location>,
}

impl Positions {
    pub(crate) fn record(&mut self, path: &str, location: Location) {
        self.by_path.insert(path.to_string(), location);
    }

    pub(crate) fn get(&self, path: &str) -> Option<&Location> {
        self.by_path.get(path)
    }

    /// The location of `path`, or of its nearest recorded parent.
    pub(crate) fn nearest(&self, path: &str) -> Option<&Location> {
        let mut candidate = path;
        loop {
            if let Some(location) = self.by_path.get(candidate) {
                return Some(location);
            }
            let cut = candidate.rfind(['.', '['])?;
            candidate = &candidate[..cut];
        }
    }
}

/// The state of decoding one compose file.
pub(crate) struct Decoder<'load> {
    pub(crate) file: String,
    /// The compose file's folder, for relative paths ("" when the file was named without one).
    pub(crate) base_dir: String,
    pub(crate) diagnostics: &'load mut Vec<Diagnostic>,
    pub(crate) positions: &'load mut Positions,
    pub(crate) files: &'load dyn FileSource,
    pub(crate) lookup: &'load dyn Fn(&str) -> Option<String>,
}

/// A mapping entry: its key, value and path.
pub(crate) struct Entry<'tree> {
    pub(crate) key: String,
    pub(crate) value: &'tree Node,
    pub(crate) path: String,
}

pub(crate) fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Decoder<'_> {
    pub(crate) fn report(&mut self, severity: Severity, span: Span, path: &str, kind: ComposeError) {
        self.diagnostics.push(Diagnostic { severity, file: self.file.clone(), span, path: path.to_string(), kind });
    }

    pub(crate) fn error(&mut self, node: &Node, path: &str, kind: ComposeError) {
        self.report(Severity::Error, node.span, path, kind);
    }

    pub(crate) fn warn(&mut self, node: &Node, path: &str, kind: ComposeError) {
        self.report(Severity::Warning, node.span, path, kind);
    }

    pub(crate) fn record(&mut self, path: &str, node: &Node) {
        self.positions.record(path, Location { file: self.file.clone(), span: node.span });
    }

    pub(crate) fn wrong_type(&mut self, node: &Node, path: &str, expected: &'static str) {
        let found = node.kind_name();
        self.error(node, path, ComposeError::WrongType { expected, found });
    }

    pub(crate) fn invalid(&mut self, node: &Node, path: &str, value: &str, reason: impl Into<String>) {
        self.error(node, path, ComposeError::InvalidValue { value: value.to_string(), reason: reason.into() });
    }

    /// The entries of a mapping node, with `x-` extensions skipped, unknown keys reported (with the closest known
    /// key as a suggestion) and keys that compose knows but Berth ignores reported as warnings.
    pub(crate) fn mapping<'tree>(
        &mut self,
        node: &'tree Node,
        path: &str,
        known: &[&str],
        ignored: &[&str],
    ) -> Vec<Entry<'tree>> {
        let entries = match &node.value {
            Value::Mapping(entries) => entries,
            Value::Null => return Vec::new(),
            _ => {
                self.wrong_type(node, path, "mapping");
                return Vec::new();
            }
        };
        let mut result = Vec::with_capacity(entries.len());
        for (key_node, value) in entries {
            let key = key_node.as_scalar_text().unwrap_or_default().to_string();
            let entry_path = child_path(path, &key);
            // Extensions are skipped, but for those a caller decodes (a service's `x-berth-route`).
            if key.starts_with("x-") && !known.contains(&key.as_str()) {
                continue;
            }
            if ignored.contains(&key.as_str()) {
                self.warn(key_node, &entry_path, ComposeError::UnsupportedKey(key));
                continue;
            }
            if !known.contains(&key.as_str()) {
                let suggestion = closest(&key, known.iter().copied());
                self.error(key_node, &entry_path, ComposeError::UnknownKey { key, suggestion });
                continue;
            }
            self.record(&entry_path, value);
            result.push(Entry { key, value, path: entry_path });
        }
        result
    }

    /// The entries of a mapping whose keys are names chosen by the user (services, networks, ...).
    pub(crate) fn named_entries<'tree>(&mut self, node: &'tree Node, path: &str) -> Vec<(Entry<'tree>, &'tree Node)> {
        self.record(path, node);
        match &node.value {
            Value::Mapping(entries) => entries
                .iter()
                .filter_map(|(key_node, value)| {
                    let key = key_node.as_scalar_text()?.to_string();
                    let entry_path = child_path(path, &key);
                    self.record(&entry_path, key_node);
                    Some((Entry { key, value, path: entry_path }, key_node))
                })
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.wrong_type(node, path, "mapping");
                Vec::new()
            }
        }
    }

    /// A scalar as text; null is `None` without complaint.
    pub(crate) fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar(scalar) => Some(scalar.text.clone()),
            Value::Null => None,
            _ => {
                self.wrong_type(node, path, "string");
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        let text = self.string(node, path)?;
        match text.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.wrong_type(node, path, "boolean");
                None
            }
        }
    }

    pub(crate) fn integer<T: TryFrom<i64>>(&mut self, node: &Node, path: &str) -> Option<T> {
        let text = self.string(node, path)?;
        let parsed = parse_integer(&text).and_then(|value| T::try_from(value).ok());
        if parsed.is_none() {
            self.invalid(node, path, &text, "must be an integer in range");
        }
        parsed
    }

    pub(crate) fn float(&mut self, node: &Node, path: &str) -> Option<f64> {
        let text = self.string(node, path)?;
        match text.trim().parse::<f64>() {
            Ok(value) if value.is_finite() && value >= 0.0 => Some(value),
            _ => {
                self.invalid(node, path, &text, "must be a non-negative number");
                None
            }
        }
    }

    pub(crate) fn duration(&mut self, node: &Node, path: &str) -> Option<super::units::Duration> {
        let text = self.string(node, path)?;
        match super::units::Duration::parse(&text) {
            Ok(duration) => Some(duration),
            Err(error) => {
                self.error(node, path, error);
                None
            }
        }
    }

    pub(crate) fn byte_size(&mut self, node: &Node, path: &str) -> Option<u64> {
        let text = self.string(node, path)?;
        match super::units::parse_byte_size(&text) {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                self.error(node, path, error);
                None
            }
        }
    }

    /// A sequence of scalars.
    pub(crate) fn string_list(&mut self, node: &Node, path: &str) -> Vec<String> {
        match &node.value {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| {
                    let item_path = format!("{path}[{index}]");
                    self.record(&item_path, item);
                    self.string(item, &item_path)
                })
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.wrong_type(node, path, "sequence");
                Vec::new()
            }
        }
    }

    /// A sequence of names that the model keeps as map keys (`depends_on: [db]`): each item's position is also
    /// recorded under `path.name`, the path the map form would have.
    pub(crate) fn names_list(&mut self, node: &Node, path: &str) -> Vec<String> {
        let names = self.string_list(node, path);
        if let Value::Sequence(items) = &node.value {
            for (item, name) in items.iter().zip(&names) {
                self.record(&child_path(path, name), item);
            }
        }
        names
    }

    /// A single scalar or a sequence of scalars.
    pub(crate) fn string_or_list(&mut self, node: &Node, path: &str) -> Vec<String> {
        match &node.value {
            Value::Scalar(scalar) => vec![scalar.text.clone()],
            _ => self.string_list(node, path),
        }
    }

    /// A `{KEY: value}` mapping or a `["KEY=value", "KEY"]` list. A key without a value is `None`.
    pub(crate) fn key_values(&mut self, node: &Node, path: &str) -> IndexMap<String, Option<String>> {
        let mut result = IndexMap::new();
        match &node.value {
            Value::Mapping(entries) => {
                for (key_node, value) in entries {
                    let key = key_node.as_scalar_text().unwrap_or_default().to_string();
                    let entry_path = child_path(path, &key);
                    self.record(&entry_path, value);
                    let value = match &value.value {
                        Value::Scalar(scalar) => Some(scalar.text.clone()),
                        Value::Null => None,
                        _ => {
                            self.wrong_type(value, &entry_path, "string, number, boolean or null");
                            continue;
                        }
                    };
                    result.insert(key, value);
                }
            }
            Value::Sequence(items) => {
                for (index, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{index}]");
                    self.record(&item_path, item);
                    let Some(text) = self.string(item, &item_path) else { continue };
                    match text.split_once('=') {
                        Some((key, value)) => result.insert(key.to_string(), Some(value.to_string())),
                        None => result.insert(text, None),
                    };
                }
            }
            Value::Null => {}
            Value::Scalar(_) => self.wrong_type(node, path, "mapping or sequence"),
        }
        result
    }

    /// [`Decoder::key_values`] where a missing value means the empty string (labels, sysctls, options).
    pub(crate) fn string_map(&mut self, node: &Node, path: &str) -> IndexMap<String, String> {
        self.key_values(node, path).into_iter().map(|(key, value)| (key, value.unwrap_or_default())).collect()
    }

    /// Joins a relative host path to the compose file's folder.
    pub(crate) fn host_path(&self, path: &str) -> String {
        super::paths::resolve(&self.base_dir, path, self.lookup)
    }
}

/// Integers as YAML writes them: decimal, `0x` hex, `0o` or leading-zero octal (YAML 1.1, as compose reads
/// `mode: 0440`).
pub(crate) fn parse_integer(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(octal) = digits.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if negative { -magnitude } else { magnitude })
}
