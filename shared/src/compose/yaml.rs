//! A YAML document as a tree whose every node knows where it came from.
//!
//! Compose files are read in three steps (parse, interpolate, decode) and every step must be able to point at the
//! line:column of the value it dislikes, including checks made long after parsing (a `depends_on` naming a missing
//! service). serde-based YAML crates drop positions once a value is typed, so this module builds its own tree from
//! saphyr-parser's events, which carry markers. Scalars keep their text and whether they were plain: compose
//! interpolates values first and types them afterwards by field (`cpus: ${CPUS}` is a number once expanded), so
//! typing belongs to the decoder, not to the parser.
//!
//! Aliases are expanded by copying the anchored node, under a node budget (a "billion laughs" document must not
//! exhaust memory), and `<<` merge keys are applied, as compose files use both for shared service fragments.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};

use super::error::ComposeError;
use crate::dockerfile::span::{Position, Span};

/// More nodes than any real compose file has; an alias bomb stops here.
const NODE_BUDGET: usize = 200_000;
/// Deeper nesting than any real compose file has; the recursive passes over the tree stay within the stack.
const MAX_DEPTH: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// An empty value, `~` or `null` written plain.
    Null,
    Scalar(Scalar),
    Sequence(Vec<Node>),
    /// Entries in document order; keys are unique (duplicates are a parse error).
    Mapping(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    /// Written without quotes or block indicators: only plain scalars can be numbers or booleans.
    pub(crate) plain: bool,
}

impl Node {
    pub(crate) fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar(_) => "scalar",
            Value::Sequence(_) => "sequence",
            Value::Mapping(_) => "mapping",
        }
    }

    pub(crate) fn as_scalar_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(scalar) => Some(&scalar.text),
            _ => None,
        }
    }

    /// The value of `key` in a mapping node.
    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Mapping(entries) => {
                entries.iter().find(|(entry_key, _)| entry_key.as_scalar_text() == Some(key)).map(|(_, value)| value)
            }
            _ => None,
        }
    }

    fn count_nodes(&self) -> usize {
        1 + match &self.value {
            Value::Null | Value::Scalar(_) => 0,
            Value::Sequence(items) => items.iter().map(Node::count_nodes).sum(),
            Value::Mapping(entries) => entries.iter().map(|(key, value)| key.count_nodes() + value.count_nodes()).sum(),
        }
    }
}

/// A parse failure, positioned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YamlError {
    pub(crate) span: Span,
    pub(crate) error: ComposeError,
}

/// Parses the first document of `source`. An empty document is `Null`.
pub(crate) fn parse(source: &str) -> Result<Node, YamlError> {
    TreeBuilder::new(source).build()
}

/// Turns saphyr's character indexes into byte offsets for [`Position`].
struct Offsets {
    /// Byte offset of each character, plus the source length; empty when the source is ASCII (index == offset).
    char_starts: Vec<usize>,
    len: usize,
}

impl Offsets {
    fn new(source: &str) -> Self {
        let char_starts = if source.is_ascii() {
            Vec::new()
        } else {
            source.char_indices().map(|(offset, _)| offset).chain(core::iter::once(source.len())).collect()
        };
        Offsets { char_starts, len: source.len() }
    }

    fn position(&self, marker: &Marker) -> Position {
        let offset = if self.char_starts.is_empty() {
            marker.index().min(self.len)
        } else {
            self.char_starts.get(marker.index()).copied().unwrap_or(self.len)
        };
        Position { line: marker.line().max(1), column: marker.col() + 1, offset }
    }

    fn span(&self, span: &saphyr_parser::Span) -> Span {
        Span::new(self.position(&span.start), self.position(&span.end))
    }
}

/// A collection being built while its events arrive.
enum Open {
    Sequence { items: Vec<Node>, span: Span, anchor: usize },
    Mapping { entries: Vec<(Node, Node)>, pending_key: Option<Node>, span: Span, anchor: usize },
}

struct TreeBuilder<'source> {
    parser: Parser<'source, saphyr_parser::StrInput<'source>>,
    offsets: Offsets,
    anchors: Vec<(usize, Node)>,
    nodes: usize,
}

impl<'source> TreeBuilder<'source> {
    fn new(source: &'source str) -> Self {
        TreeBuilder {
            parser: Parser::new_from_str(source),
            offsets: Offsets::new(source),
            anchors: Vec::new(),
            nodes: 0,
        }
    }

    fn build(mut self) -> Result<Node, YamlError> {
        let mut stack: Vec<Open> = Vec::new();
        let mut document_span = Span::default();
        loop {
            let (event, raw_span) = match self.parser.next_event() {
                Some(Ok(next)) => next,
                Some(Err(error)) => {
                    let position = self.offsets.position(error.marker());
                    return Err(YamlError {
                        span: Span::new(position, position),
                        error: ComposeError::Yaml(error.info().to_string()),
                    });
                }
                None => return Ok(Node { value: Value::Null, span: document_span }),
            };
            let span = self.offsets.span(&raw_span);
            let finished = match event {
                Event::StreamEnd | Event::DocumentEnd => {
                    return Ok(Node { value: Value::Null, span: document_span });
                }
                Event::Nothing | Event::StreamStart => continue,
                Event::DocumentStart(_) => {
                    document_span = span;
                    continue;
                }
                Event::Alias(anchor) => {
                    let target = self.anchors.iter().rev().find(|(id, _)| *id == anchor).map(|(_, node)| node.clone());
                    match target {
                        Some(mut node) => {
                            self.charge(node.count_nodes(), span)?;
                            node.span = span;
                            node
                        }
                        None => return Err(yaml_error(span, "unknown anchor")),
                    }
                }
                Event::Scalar(text, style, anchor, _tag) => {
                    self.charge(1, span)?;
                    let plain = style == ScalarStyle::Plain;
                    let value = if plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                        Value::Null
                    } else {
                        Value::Scalar(Scalar { text: text.into_owned(), plain })
                    };
                    let node = Node { value, span };
                    self.remember(anchor, &node);
                    node
                }
                Event::SequenceStart(anchor, _tag) => {
                    self.open(&mut stack, Open::Sequence { items: Vec::new(), span, anchor })?;
                    continue;
                }
                Event::MappingStart(anchor, _tag) => {
                    self.open(&mut stack, Open::Mapping { entries: Vec::new(), pending_key: None, span, anchor })?;
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(open) = stack.pop() else {
                        return Err(yaml_error(span, "unbalanced collection end"));
                    };
                    let (node, anchor) = match open {
                        Open::Sequence { items, span: start, anchor } => {
                            (Node { value: Value::Sequence(items), span: start.cover(span) }, anchor)
                        }
                        Open::Mapping { entries, span: start, anchor, .. } => {
                            let entries = apply_merge_keys(entries)?;
                            (Node { value: Value::Mapping(entries), span: start.cover(span) }, anchor)
                        }
                    };
                    self.remember(anchor, &node);
                    node
                }
            };
            match stack.last_mut() {
                None => return Ok(finished),
                Some(Open::Sequence { items, .. }) => items.push(finished),
                Some(Open::Mapping { entries, pending_key, .. }) => match pending_key.take() {
                    None => {
                        if !matches!(finished.value, Value::Scalar(_) | Value::Null) {
                            return Err(yaml_error(finished.span, "mapping keys must be scalars"));
                        }
                        let key_text = scalar_key_text(&finished);
                        if let Some((previous, _)) =
                            entries.iter().find(|(existing, _)| scalar_key_text(existing) == key_text)
                        {
                            return Err(yaml_error(
                                finished.span,
                                &format!(
                                    "mapping key {key_text:?} already defined at line {}",
                                    previous.span.start.line
                                ),
                            ));
                        }
                        *pending_key = Some(finished);
                    }
                    Some(key) => entries.push((key, finished)),
                },
            }
        }
    }

    fn open(&mut self, stack: &mut Vec<Open>, open: Open) -> Result<(), YamlError> {
        let span = match &open {
            Open::Sequence { span, .. } | Open::Mapping { span, .. } => *span,
        };
        if stack.len() >= MAX_DEPTH {
            return Err(yaml_error(span, &format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.charge(1, span)?;
        stack.push(open);
        Ok(())
    }

    fn charge(&mut self, nodes: usize, span: Span) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > NODE_BUDGET {
            return Err(YamlError { span, error: ComposeError::TooLarge(NODE_BUDGET) });
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        // saphyr numbers anchors from 1; 0 means "no anchor".
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
    }
}

fn yaml_error(span: Span, message: &str) -> YamlError {
    YamlError { span, error: ComposeError::Yaml(message.to_string()) }
}

fn scalar_key_text(node: &Node) -> String {
    match &node.value {
        Value::Scalar(scalar) => scalar.text.clone(),
        _ => String::new(),
    }
}

/// YAML 1.1 merge keys (`<<: *defaults`): the merged mappings' entries are added unless the mapping already has
/// the key; with a list of mappings, earlier ones win.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, YamlError> {
    let is_merge_key = |key: &Node| matches!(&key.value, Value::Scalar(Scalar { text, plain: true }) if text == "<<");
    if !entries.iter().any(|(key, _)| is_merge_key(key)) {
        return Ok(entries);
    }
    let mut explicit = Vec::with_capacity(entries.len());
    let mut merged_sources = Vec::new();
    for (key, value) in entries {
        if is_merge_key(&key) {
            match value.value {
                Value::Mapping(source) => merged_sources.push(source),
                Value::Sequence(items) => {
                    for item in items {
                        match item.value {
                            Value::Mapping(source) => merged_sources.push(source),
                            _ => return Err(yaml_error(item.span, "merge key values must be mappings")),
                        }
                    }
                }
                _ => return Err(yaml_error(value.span, "merge key values must be mappings")),
            }
        } else {
            explicit.push((key, value));
        }
    }
    for source in merged_sources {
        for (key, value) in source {
            let text = scalar_key_text(&key);
            if !explicit.iter().any(|(existing, _)| scalar_key_text(existing) == text) {
                explicit.push((key, value));
            }
        }
    }
    Ok(explicit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_their_line_and_column() {
        let tree = parse("services:\n  web:\n    image: nginx\n").expect("valid yaml");
        let image = tree.get("services").and_then(|s| s.get("web")).and_then(|w| w.get("image")).expect("image");
        assert_eq!(image.as_scalar_text(), Some("nginx"));
        assert_eq!((image.span.start.line, image.span.start.column), (3, 12));
        assert_eq!(image.span.start.offset, 28);
    }

    #[test]
    fn offsets_are_bytes_after_multibyte_characters() {
        let tree = parse("é: 1\nb: x\n").expect("valid yaml");
        let value = tree.get("b").expect("b");
        assert_eq!((value.span.start.line, value.span.start.column, value.span.start.offset), (2, 4, 9));
    }

    #[test]
    fn aliases_and_merge_keys_expand() {
        let tree = parse("base: &b {a: 1, b: 2}\nuse:\n  <<: *b\n  b: 3\n").expect("valid yaml");
        let used = tree.get("use").expect("use");
        assert_eq!(used.get("a").and_then(Node::as_scalar_text), Some("1"));
        assert_eq!(used.get("b").and_then(Node::as_scalar_text), Some("3"));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let error = parse("a: 1\na: 2\n").expect_err("duplicate");
        assert_eq!(error.span.start.line, 2);
    }

    #[test]
    fn alias_bombs_stop_at_the_budget() {
        let mut source = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..8 {
            let previous = level - 1;
            source.push_str(&format!(
                "a{level}: &a{level} [*a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}]\n"
            ));
        }
        let error = parse(&source).expect_err("too large");
        assert_eq!(error.error, ComposeError::TooLarge(NODE_BUDGET));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let source = "[".repeat(10_000);
        assert!(parse(&source).is_err());
    }
}
