//! Variable substitution in Dockerfile words, as buildkit's shell lexer (`shell/lex.go`) does it:
//! `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`, `${NAME:?message}`,
//! `${NAME?message}`, single quotes (literal), double quotes (variables expanded), and the escape character.
//!
//! Quotes and escapes are removed in the result, exactly as for a word Docker hands to ENV, COPY or WORKDIR.

use super::error::SubstitutionError;

/// Expands `word` with backslash as the escape character. `lookup` returns `None` for an unset variable,
/// which expands to the empty string.
pub fn substitute<F>(word: &str, lookup: F) -> Result<String, SubstitutionError>
where
    F: Fn(&str) -> Option<String>,
{
    substitute_with_escape(word, '\\', lookup)
}

/// [`substitute`] for a Dockerfile whose `# escape=` directive chose another escape character.
pub fn substitute_with_escape<F>(
    word: &str,
    escape: char,
    lookup: F,
) -> Result<String, SubstitutionError>
where
    F: Fn(&str) -> Option<String>,
{
    let mut lexer = WordLexer::new(word, escape, Mode::Lookup(&lookup));
    lexer.process(None)
}

/// Names of the variables `word` refers to, in order of first use, defaults and alternatives included.
/// Malformed words give the names found before the error.
pub fn variables_used(word: &str, escape: char) -> Vec<String> {
    let mut names = Vec::new();
    let mut lexer = WordLexer::new(word, escape, Mode::Collect(&mut names));
    // The names seen before a syntax error are still the ones a reader would see as used.
    let _ = lexer.process(None);
    names
}

/// The word with quotes and escapes removed but variable references left as written (`$HOME`, `${A:-b}`).
/// For reading literal parts, like the image name of a FROM or a path, without knowing any values.
pub fn unquote(word: &str, escape: char) -> String {
    let mut lexer = WordLexer::new(word, escape, Mode::KeepReferences);
    match lexer.process(None) {
        Ok(text) => text,
        Err(_) => word.to_string(),
    }
}

/// Writes `value` as a word that [`substitute`] turns back into exactly `value`, with any escape character:
/// plain when it is safe, otherwise in single quotes (which nothing inside can escape).
pub fn quote_literal(value: &str) -> String {
    let is_plain = |character: char| {
        character.is_alphanumeric()
            || matches!(
                character,
                '/' | '.' | '_' | '-' | ':' | '=' | '+' | '@' | ',' | '%'
            )
    };
    if !value.is_empty() && value.chars().all(is_plain) {
        return value.to_string();
    }
    // A single quote cannot appear inside single quotes: close, emit it double-quoted, reopen.
    format!("'{}'", value.replace('\'', "'\"'\"'"))
}

enum Mode<'a> {
    Lookup(&'a dyn Fn(&str) -> Option<String>),
    Collect(&'a mut Vec<String>),
    KeepReferences,
}

struct WordLexer<'a> {
    characters: Vec<char>,
    position: usize,
    escape: char,
    mode: Mode<'a>,
}

impl<'a> WordLexer<'a> {
    fn new(word: &str, escape: char, mode: Mode<'a>) -> Self {
        WordLexer {
            characters: word.chars().collect(),
            position: 0,
            escape,
            mode,
        }
    }

    fn peek(&self) -> Option<char> {
        self.characters.get(self.position).copied()
    }

    fn next(&mut self) -> Option<char> {
        let character = self.peek()?;
        self.position += 1;
        Some(character)
    }

    /// Processes up to `stop` (consumed) or the end of the word.
    fn process(&mut self, stop: Option<char>) -> Result<String, SubstitutionError> {
        let mut result = String::new();
        while let Some(character) = self.peek() {
            if Some(character) == stop {
                self.position += 1;
                return Ok(result);
            }
            match character {
                '\'' => result.push_str(&self.single_quoted()?),
                '"' => result.push_str(&self.double_quoted()?),
                '$' => result.push_str(&self.dollar()?),
                _ if character == self.escape => {
                    self.position += 1;
                    // An escape character at the very end is dropped.
                    if let Some(escaped) = self.next() {
                        result.push(escaped);
                    }
                }
                _ => {
                    self.position += 1;
                    result.push(character);
                }
            }
        }
        match stop {
            Some(_) => Err(SubstitutionError::MissingClosingBrace),
            None => Ok(result),
        }
    }

    fn single_quoted(&mut self) -> Result<String, SubstitutionError> {
        self.position += 1;
        let mut result = String::new();
        loop {
            match self.next() {
                None => return Err(SubstitutionError::UnterminatedSingleQuote),
                Some('\'') => return Ok(result),
                Some(character) => result.push(character),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, SubstitutionError> {
        self.position += 1;
        let mut result = String::new();
        loop {
            match self.peek() {
                None => return Err(SubstitutionError::UnterminatedDoubleQuote),
                Some('"') => {
                    self.position += 1;
                    return Ok(result);
                }
                Some('$') => result.push_str(&self.dollar()?),
                Some(character) if character == self.escape => {
                    self.position += 1;
                    match self.peek() {
                        // Only these can be escaped inside double quotes; other escapes stay as written.
                        Some(next) if next == '"' || next == '$' || next == self.escape => {
                            self.position += 1;
                            result.push(next);
                        }
                        Some(_) => result.push(character),
                        None => {}
                    }
                }
                Some(character) => {
                    self.position += 1;
                    result.push(character);
                }
            }
        }
    }

    /// buildkit's `processName`: digits, or one special parameter, or letters, digits and `_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(first) if first.is_ascii_digit() => {
                while let Some(digit) = self.peek().filter(char::is_ascii_digit) {
                    self.position += 1;
                    name.push(digit);
                }
            }
            Some(special @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                self.position += 1;
                name.push(special);
            }
            _ => {
                while let Some(character) = self
                    .peek()
                    .filter(|character| character.is_alphanumeric() || *character == '_')
                {
                    self.position += 1;
                    name.push(character);
                }
            }
        }
        name
    }

    fn get(&mut self, name: &str) -> Option<String> {
        match &mut self.mode {
            Mode::Lookup(lookup) => lookup(name),
            Mode::Collect(names) => {
                if !names.iter().any(|known| known == name) {
                    names.push(name.to_string());
                }
                None
            }
            Mode::KeepReferences => None,
        }
    }

    fn raw_since(&self, start: usize) -> String {
        self.characters[start..self.position].iter().collect()
    }

    fn dollar(&mut self) -> Result<String, SubstitutionError> {
        let start = self.position;
        self.position += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            let value = self.get(&name);
            return Ok(self.resolved(value, start));
        }
        self.position += 1;
        let name = self.name();
        match self.next() {
            None => Err(SubstitutionError::MissingClosingBrace),
            Some('}') => {
                let value = self.get(&name);
                Ok(self.resolved(value, start))
            }
            Some(':') => match self.next() {
                None => Err(SubstitutionError::MissingClosingBrace),
                Some(modifier @ ('-' | '+' | '?')) => self.modified(&name, modifier, true, start),
                Some(other) => Err(SubstitutionError::UnsupportedModifier(other.to_string())),
            },
            Some(modifier @ ('-' | '+' | '?')) => self.modified(&name, modifier, false, start),
            Some(_) if name.is_empty() => Err(SubstitutionError::BadSubstitution),
            Some(_) => Err(SubstitutionError::MissingColon),
        }
    }

    fn resolved(&self, value: Option<String>, start: usize) -> String {
        match (&self.mode, value) {
            (Mode::KeepReferences, _) => self.raw_since(start),
            (_, value) => value.unwrap_or_default(),
        }
    }

    /// `${name<modifier>word}` after the modifier: the word is processed first (nested variables count as used).
    fn modified(
        &mut self,
        name: &str,
        modifier: char,
        colon: bool,
        start: usize,
    ) -> Result<String, SubstitutionError> {
        let value = self.get(name);
        let word = self.process(Some('}'))?;
        if matches!(self.mode, Mode::KeepReferences) {
            return Ok(self.raw_since(start));
        }
        let is_set = value.is_some();
        // With a colon, an empty value counts as unset.
        let counts_as_set = if colon {
            value.as_deref().is_some_and(|value| !value.is_empty())
        } else {
            is_set
        };
        match modifier {
            '-' => Ok(if counts_as_set {
                value.unwrap_or_default()
            } else {
                word
            }),
            '+' => Ok(if counts_as_set { word } else { String::new() }),
            _ => {
                if counts_as_set || matches!(self.mode, Mode::Collect(_)) {
                    return Ok(value.unwrap_or_default());
                }
                let message = if word.is_empty() {
                    "is not allowed to be unset".to_string()
                } else {
                    word
                };
                Err(SubstitutionError::Required {
                    name: name.to_string(),
                    message,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/root".to_string()),
            "EMPTY" => Some(String::new()),
            "SPACED" => Some("a b".to_string()),
            _ => None,
        }
    }

    fn expand(word: &str) -> Result<String, SubstitutionError> {
        substitute(word, environment)
    }

    #[test]
    fn plain_and_braced_references() {
        assert_eq!(expand("$HOME/bin").as_deref(), Ok("/root/bin"));
        assert_eq!(expand("${HOME}x").as_deref(), Ok("/rootx"));
        assert_eq!(expand("$UNSET-x").as_deref(), Ok("-x"));
        assert_eq!(expand("a$").as_deref(), Ok("a$"));
        assert_eq!(expand("$1x").as_deref(), Ok("x"));
    }

    #[test]
    fn modifiers() {
        assert_eq!(expand("${UNSET:-d}").as_deref(), Ok("d"));
        assert_eq!(expand("${EMPTY:-d}").as_deref(), Ok("d"));
        assert_eq!(expand("${EMPTY-d}").as_deref(), Ok(""));
        assert_eq!(expand("${UNSET-d}").as_deref(), Ok("d"));
        assert_eq!(expand("${HOME:+set}").as_deref(), Ok("set"));
        assert_eq!(expand("${EMPTY:+set}").as_deref(), Ok(""));
        assert_eq!(expand("${EMPTY+set}").as_deref(), Ok("set"));
        assert_eq!(expand("${UNSET+set}").as_deref(), Ok(""));
        assert_eq!(expand("${UNSET:-$HOME/x}").as_deref(), Ok("/root/x"));
        assert_eq!(expand("${UNSET:-\"a b\"}").as_deref(), Ok("a b"));
    }

    #[test]
    fn required_variables() {
        assert_eq!(
            expand("${UNSET:?must be set}"),
            Err(SubstitutionError::Required {
                name: "UNSET".into(),
                message: "must be set".into()
            })
        );
        assert!(expand("${EMPTY:?}").is_err());
        assert_eq!(expand("${EMPTY?}").as_deref(), Ok(""));
        assert_eq!(expand("${HOME:?}").as_deref(), Ok("/root"));
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(expand("'$HOME'").as_deref(), Ok("$HOME"));
        assert_eq!(expand("\"$HOME\"").as_deref(), Ok("/root"));
        assert_eq!(expand("\\$HOME").as_deref(), Ok("$HOME"));
        assert_eq!(expand("\"a\\\"b\\n\"").as_deref(), Ok("a\"b\\n"));
        assert_eq!(expand("a\\ b").as_deref(), Ok("a b"));
        assert_eq!(
            substitute_with_escape("`$HOME", '`', environment).as_deref(),
            Ok("$HOME")
        );
        assert_eq!(
            substitute_with_escape("C:\\dir", '`', environment).as_deref(),
            Ok("C:\\dir")
        );
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            expand("${HOME"),
            Err(SubstitutionError::MissingClosingBrace)
        );
        assert_eq!(
            expand("${HOME:=x}"),
            Err(SubstitutionError::UnsupportedModifier("=".into()))
        );
        assert_eq!(
            expand("'open"),
            Err(SubstitutionError::UnterminatedSingleQuote)
        );
        assert_eq!(
            expand("\"open"),
            Err(SubstitutionError::UnterminatedDoubleQuote)
        );
    }

    #[test]
    fn names_used() {
        assert_eq!(
            variables_used("$A ${B:-$C} '$D' \\$E \"$F\" $A", '\\'),
            vec!["A", "B", "C", "F"]
        );
        assert_eq!(variables_used("${A:?}", '\\'), vec!["A"]);
    }

    #[test]
    fn unquote_keeps_references() {
        assert_eq!(unquote("\"$HOME\"/'x y'", '\\'), "$HOME/x y");
        assert_eq!(unquote("${A:-b}c", '\\'), "${A:-b}c");
    }

    #[test]
    fn quoted_literals_round_trip() {
        for value in [
            "plain/path",
            "",
            "a b",
            "it's",
            "$HOME",
            "back\\slash",
            "`tick",
        ] {
            let quoted = quote_literal(value);
            assert_eq!(
                substitute(&quoted, environment).as_deref(),
                Ok(value),
                "{quoted}"
            );
            assert_eq!(
                substitute_with_escape(&quoted, '`', environment).as_deref(),
                Ok(value),
                "{quoted}"
            );
        }
    }
}
