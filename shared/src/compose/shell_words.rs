//! Splitting a string `command:` or `entrypoint:` into words, as compose does (go-shellwords): whitespace
//! separates words, single quotes are literal, double quotes and backslashes escape.

/// The words of `text`, or `None` when a quote is not closed.
pub(crate) fn split(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        match character {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(core::mem::take(&mut current));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match characters.next()? {
                        '\'' => break,
                        other => current.push(other),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match characters.next()? {
                        '"' => break,
                        '\\' => match characters.next()? {
                            escaped @ ('"' | '\\' | '$' | '`') => current.push(escaped),
                            '\n' => {}
                            other => {
                                current.push('\\');
                                current.push(other);
                            }
                        },
                        other => current.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match characters.next() {
                    Some('\n') | None => {}
                    Some(escaped) => current.push(escaped),
                }
            }
            other => {
                in_word = true;
                current.push(other);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(split("echo 'a b' \"c \\\"d\\\"\" e\\ f").expect("closed"), ["echo", "a b", "c \"d\"", "e f"]);
        assert_eq!(split("  ").expect("closed"), Vec::<String>::new());
        assert_eq!(split("a ''").expect("closed"), ["a", ""]);
        assert_eq!(split("'open"), None);
    }
}
