//! Splitting one logical line the ways buildkit splits it: keyword and rest, leading `--flags`, quote-aware
//! words (ENV, LABEL, ARG), whitespace-separated words (FROM, EXPOSE, COPY), JSON arrays, heredoc markers.
//!
//! Everything works on byte ranges of the logical line, so the parser can give each piece a span.

use core::ops::Range;

/// buildkit's `[\t\v\f\r ]+` separator.
pub(crate) fn is_separator(character: char) -> bool {
    matches!(character, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Go's `unicode.IsSpace`, used by `strings.TrimSpace` and the word splitters.
pub(crate) fn is_space(character: char) -> bool {
    character.is_whitespace() || character == '\u{85}'
}

/// `range` without leading and trailing whitespace.
pub(crate) fn trim(text: &str, range: Range<usize>) -> Range<usize> {
    let slice = &text[range.clone()];
    let start = range.start + (slice.len() - slice.trim_start_matches(is_space).len());
    let end = range.start + slice.trim_end_matches(is_space).len();
    start..end.max(start)
}

/// Drops a lone escape character ending the arguments.
///
/// Only `\ ` (an escaped space) before a trailing continuation can leave one there, and Docker's word
/// splitters and shell lexer skip it anyway. Keeping it would make the instruction impossible to print:
/// on a line's end it reads as a continuation.
pub(crate) fn drop_trailing_escape(text: &str, range: Range<usize>, escape: char) -> Range<usize> {
    let slice = &text[range.clone()];
    match slice.strip_suffix(escape) {
        Some(before) if !before.ends_with(escape) => {
            trim(text, range.start..range.start + before.len())
        }
        _ => range,
    }
}

/// Keyword and the start of the rest of the line.
pub(crate) fn split_command(text: &str, range: Range<usize>) -> (Range<usize>, usize) {
    let range = trim(text, range);
    let slice = &text[range.clone()];
    let keyword_end = slice
        .find(is_separator)
        .map_or(range.end, |index| range.start + index);
    let rest = &text[keyword_end..range.end];
    let rest_start = keyword_end + (rest.len() - rest.trim_start_matches(is_separator).len());
    (range.start..keyword_end, rest_start)
}

/// A `--name[=value]` word before the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawFlag {
    pub(crate) range: Range<usize>,
    pub(crate) name: String,
    pub(crate) value: Option<String>,
}

/// Leading flags (buildkit's `extractBuilderFlags`) and the trimmed range of the arguments after them.
///
/// Flag words may contain quotes and backslash escapes, which are removed. A lone `--` ends the flags.
pub(crate) fn extract_flags(text: &str, range: Range<usize>) -> (Vec<RawFlag>, Range<usize>) {
    let mut flags = Vec::new();
    let mut position = range.start;
    loop {
        let rest = &text[position..range.end];
        let word_start = position + (rest.len() - rest.trim_start_matches(is_space).len());
        if !text[word_start..range.end].starts_with("--") {
            return (flags, trim(text, word_start..range.end));
        }
        let (word, word_end) = read_flag_word(text, word_start..range.end);
        position = word_end;
        if word == "--" {
            return (flags, trim(text, word_end..range.end));
        }
        let body = &word[2..];
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (body.to_string(), None),
        };
        flags.push(RawFlag {
            range: word_start..word_end,
            name,
            value,
        });
    }
}

/// One flag word with quotes and escapes processed; returns it and the byte offset where it ends.
fn read_flag_word(text: &str, range: Range<usize>) -> (String, usize) {
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut characters = text[range.clone()].char_indices().peekable();
    while let Some((index, character)) = characters.next() {
        match quote {
            None if is_space(character) => return (word, range.start + index),
            None if character == '\'' || character == '"' => quote = Some(character),
            Some(open) if character == open => quote = None,
            // buildkit hard-codes backslash here, whatever the escape directive says.
            _ if character == '\\' => {
                if let Some((_, escaped)) = characters.next() {
                    word.push(escaped);
                }
            }
            _ => word.push(character),
        }
    }
    (word, range.end)
}

/// buildkit's `parseWords`: whitespace-separated words where quotes group and the escape character protects
/// the next character. Quotes and escapes stay in the words; they are processed at expansion time.
pub(crate) fn quoted_words(text: &str, range: Range<usize>, escape: char) -> Vec<Range<usize>> {
    let mut words = Vec::new();
    let mut word_start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut characters = text[range.clone()]
        .char_indices()
        .map(|(index, character)| (range.start + index, character));
    while let Some((index, character)) = characters.next() {
        let Some(start) = word_start else {
            if is_space(character) {
                continue;
            }
            word_start = Some(index);
            if character == '\'' || character == '"' {
                quote = Some(character);
            } else if character == escape {
                characters.next();
            }
            continue;
        };
        match quote {
            None => {
                if is_space(character) {
                    words.push(start..index);
                    word_start = None;
                } else if character == '\'' || character == '"' {
                    quote = Some(character);
                } else if character == escape {
                    characters.next();
                }
            }
            Some(open) => {
                if character == open {
                    quote = None;
                } else if character == escape && open != '\'' {
                    characters.next();
                }
            }
        }
    }
    if let Some(start) = word_start {
        words.push(start..range.end);
    }
    words
}

/// buildkit's `parseStringsWhitespaceDelimited`: split on `[\t\v\f\r ]+`, quotes not considered.
pub(crate) fn whitespace_words(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut words = Vec::new();
    let mut word_start: Option<usize> = None;
    for (index, character) in text[range.clone()].char_indices() {
        let index = range.start + index;
        match (word_start, is_separator(character)) {
            (None, false) => word_start = Some(index),
            (Some(start), true) => {
                words.push(start..index);
                word_start = None;
            }
            _ => {}
        }
    }
    if let Some(start) = word_start {
        words.push(start..range.end);
    }
    words
}

/// How the arguments of RUN, CMD, COPY... read as a JSON array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonArray {
    /// Not JSON (or not an array): the shell / whitespace form applies.
    NotJson,
    /// A JSON array with something other than strings: Docker rejects the instruction.
    NotStrings,
    /// Each decoded string with the range of its literal in the line.
    Strings(Vec<(String, Range<usize>)>),
}

/// buildkit's `parseJSON`: the arguments start with `[` and the first JSON value is an array of strings.
/// Like Go's `json.Decoder`, text after the first value is ignored.
pub(crate) fn json_array(text: &str, range: Range<usize>) -> JsonArray {
    let range = trim(text, range);
    let slice = &text[range.clone()];
    if !slice.starts_with('[') {
        return JsonArray::NotJson;
    }
    let mut stream = serde_json::Deserializer::from_str(slice).into_iter::<serde_json::Value>();
    let Some(Ok(serde_json::Value::Array(values))) = stream.next() else {
        return JsonArray::NotJson;
    };
    if !values.iter().all(serde_json::Value::is_string) {
        return JsonArray::NotStrings;
    }
    let literals = string_literal_ranges(slice);
    if literals.len() != values.len() {
        return JsonArray::NotJson;
    }
    let strings = values
        .into_iter()
        .zip(literals)
        .map(|(value, literal)| {
            let decoded = match value {
                serde_json::Value::String(decoded) => decoded,
                _ => String::new(),
            };
            (
                decoded,
                range.start + literal.start..range.start + literal.end,
            )
        })
        .collect();
    JsonArray::Strings(strings)
}

/// Ranges of the top-level string literals of a JSON array of strings known to be valid.
fn string_literal_ranges(json: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut literal_start: Option<usize> = None;
    let mut escaped = false;
    for (index, character) in json.char_indices() {
        match literal_start {
            Some(start) => {
                if escaped {
                    escaped = false;
                } else if character == '\\' {
                    escaped = true;
                } else if character == '"' {
                    ranges.push(start..index + 1);
                    literal_start = None;
                }
            }
            None => match character {
                '"' => literal_start = Some(index),
                ']' => break,
                _ => {}
            },
        }
    }
    ranges
}

/// A `<<EOF`-style word found in a RUN/COPY/ADD line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeredocMarker {
    pub(crate) name: String,
    pub(crate) file_descriptor: Option<u32>,
    pub(crate) chomp: bool,
    pub(crate) expand: bool,
}

/// buildkit's `ParseHeredoc` on one word: `^(\d*)<<(-?)([^<]*)$` where the rest is a single (maybe quoted) word.
pub(crate) fn heredoc_marker(word: &str) -> Option<HeredocMarker> {
    let digits_end = word
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(word.len());
    let rest = word[digits_end..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let file_descriptor = if digits_end == 0 {
        None
    } else {
        word[..digits_end].parse().ok()
    };
    let name = unquote_single_word(rest)?;
    if name.is_empty() {
        return None;
    }
    let expand = !rest.contains(['\'', '"']);
    Some(HeredocMarker {
        name,
        file_descriptor,
        chomp,
        expand,
    })
}

/// Removes quotes and backslash escapes; `None` if the text is more than one shell word.
fn unquote_single_word(text: &str) -> Option<String> {
    let mut word = String::new();
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        match character {
            '\'' => loop {
                match characters.next()? {
                    '\'' => break,
                    inner => word.push(inner),
                }
            },
            '"' => loop {
                match characters.next()? {
                    '"' => break,
                    '\\' => word.push(characters.next()?),
                    inner => word.push(inner),
                }
            },
            '\\' => word.push(characters.next()?),
            other if is_space(other) => return None,
            other => word.push(other),
        }
    }
    Some(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices<'t>(text: &'t str, ranges: &[Range<usize>]) -> Vec<&'t str> {
        ranges.iter().map(|range| &text[range.clone()]).collect()
    }

    #[test]
    fn flags_with_quotes_and_terminator() {
        let text = r#"--from=build --chown="a b" -- --weird /dst"#;
        let (flags, args) = extract_flags(text, 0..text.len());
        assert_eq!(flags.len(), 2);
        assert_eq!(flags[1].value.as_deref(), Some("a b"));
        assert_eq!(&text[args], "--weird /dst");
    }

    #[test]
    fn quoted_words_keep_quotes() {
        let text = r#"a="x y" b=c\ d  'e f'"#;
        assert_eq!(
            slices(text, &quoted_words(text, 0..text.len(), '\\')),
            vec![r#"a="x y""#, r"b=c\ d", "'e f'"]
        );
    }

    #[test]
    fn json_arrays() {
        let text = r#"["a", "b\"c"] trailing"#;
        match json_array(text, 0..text.len()) {
            JsonArray::Strings(strings) => {
                assert_eq!(strings[1].0, "b\"c");
                assert_eq!(&text[strings[1].1.clone()], r#""b\"c""#);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(json_array("[1]", 0..3), JsonArray::NotStrings);
        assert_eq!(json_array("[\"a\",]", 0..6), JsonArray::NotJson);
        assert_eq!(json_array("echo", 0..4), JsonArray::NotJson);
    }

    #[test]
    fn heredoc_markers() {
        let marker = heredoc_marker("<<-\"EOF\"").expect("marker");
        assert_eq!(
            (marker.name.as_str(), marker.chomp, marker.expand),
            ("EOF", true, false)
        );
        assert_eq!(
            heredoc_marker("3<<END").and_then(|marker| marker.file_descriptor),
            Some(3)
        );
        assert_eq!(heredoc_marker("<<"), None);
        assert_eq!(heredoc_marker("a<<EOF"), None);
        assert_eq!(heredoc_marker("<<<EOF"), None);
    }
}
