//! Text with commands and flags between backticks (a security finding's why and fix) split into plain and code
//! pieces, so the page shows `--user 1000:1000` as code without parsing any other markup.

/// One piece of the text, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub code: bool,
}

/// Splits at every backtick; an unpaired last backtick is kept as text, so nothing the daemon sent is lost.
pub fn split(text: &str) -> Vec<Span> {
    let pieces: Vec<&str> = text.split('`').collect();
    let paired = pieces.len() % 2 == 1;
    let mut spans = Vec::new();
    for (index, piece) in pieces.iter().enumerate() {
        let code = index % 2 == 1;
        let last = index == pieces.len() - 1;
        if code && last && !paired {
            spans.push(Span { text: format!("`{piece}"), code: false });
        } else if !piece.is_empty() {
            spans.push(Span { text: piece.to_string(), code });
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn shown(text: &str) -> Vec<(String, bool)> {
        split(text).into_iter().map(|span| (span.text, span.code)).collect()
    }

    #[wasm_bindgen_test]
    fn backticks_mark_code() {
        assert_eq!(
            shown("Run as an ordinary user: `--user 1000:1000`, or `USER`."),
            [
                ("Run as an ordinary user: ".to_string(), false),
                ("--user 1000:1000".to_string(), true),
                (", or ".to_string(), false),
                ("USER".to_string(), true),
                (".".to_string(), false),
            ]
        );
        assert_eq!(shown("`--pids-limit 100`"), [("--pids-limit 100".to_string(), true)]);
        assert_eq!(shown("plain"), [("plain".to_string(), false)]);
        assert_eq!(shown("a `b"), [("a ".to_string(), false), ("`b".to_string(), false)]);
        assert_eq!(shown(""), Vec::<(String, bool)>::new());
    }
}
