//! Property tests: printing is faithful, and no input makes the parser, printer or linter panic.

use berth_shared::dockerfile::{
    lint, parse, parse_recovering, print, substitute, variables_used, Dockerfile,
};
use proptest::prelude::*;

/// The tree as JSON without spans and warnings: what printing must preserve.
fn shape(dockerfile: &Dockerfile) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|key, _| !key.ends_with("span") && key != "warnings");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(dockerfile).expect("the tree serializes");
    strip(&mut value);
    value
}

/// Words mixing plain text, quotes, escapes and variables.
fn word() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-z0-9_./:-]{1,8}",
            Just("$HOME".to_string()),
            Just("${A:-x y}".to_string()),
            Just("\"q w\"".to_string()),
            Just("'s q'".to_string()),
            Just("\\ ".to_string()),
            Just("é".to_string()),
        ],
        1..4,
    )
    .prop_map(|parts| parts.concat())
}

fn words(count: core::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(word(), count).prop_map(|words| words.join(" "))
}

fn json_words() -> impl Strategy<Value = String> {
    prop::collection::vec("[ -~]{0,6}", 1..4).prop_map(|items| {
        let quoted: Vec<String> = items
            .iter()
            .map(|item| serde_json::to_string(item).expect("string"))
            .collect();
        format!("[{}]", quoted.join(", "))
    })
}

fn instruction() -> impl Strategy<Value = String> {
    prop_oneof![
        words(1..2).prop_map(|image| format!("FROM {image}")),
        "[a-z][a-z0-9]{0,5}".prop_map(|name| format!("FROM alpine AS {name}")),
        words(1..5).prop_map(|text| format!("RUN {text}")),
        words(1..3)
            .prop_map(|text| format!("RUN --mount=type=cache,target=/c --network=none {text}")),
        json_words().prop_map(|json| format!("CMD {json}")),
        words(0..3).prop_map(|text| format!("ENTRYPOINT {text}")),
        (word(), word()).prop_map(|(key, value)| format!("ENV K{}={value}", key.len())),
        words(1..3).prop_map(|value| format!("ENV LEGACY {value}")),
        (word(), word())
            .prop_map(|(key, value)| format!("LABEL \"{}\"={value}", key.replace('"', ""))),
        words(2..4).prop_map(|paths| format!("COPY --from=build --chown=1:1 {paths}")),
        json_words().prop_map(|json| format!("ADD {}", json.replacen(']', ", \"/dst\"]", 1))),
        words(1..3).prop_map(|ports| format!("EXPOSE {ports}")),
        words(1..2).prop_map(|user| format!("USER {user}")),
        words(1..2).prop_map(|dir| format!("WORKDIR {dir}")),
        words(1..3).prop_map(|args| format!("ARG X={}", args.replace(' ', "_"))),
        words(1..3).prop_map(|paths| format!("VOLUME {paths}")),
        words(1..3).prop_map(|text| format!("ONBUILD RUN {text}")),
        Just("STOPSIGNAL SIGKILL".to_string()),
        Just("HEALTHCHECK NONE".to_string()),
        words(1..3).prop_map(|text| format!("HEALTHCHECK --interval=5s CMD {text}")),
        Just("SHELL [\"/bin/sh\", \"-c\"]".to_string()),
        "[ -~]{0,10}".prop_map(|body| format!("RUN <<EOF\n{body}\nEOF")),
        "[ -~]{0,10}".prop_map(|body| format!("RUN <<-'END'\n\t{body}\n\tEND")),
        words(1..3).prop_map(|text| format!("RUN a \\\n  {text} \\\n# comment\n  b")),
    ]
}

fn dockerfile_text() -> impl Strategy<Value = String> {
    (
        prop::option::of(Just("# escape=`\n".to_string())),
        prop::collection::vec(prop::option::of("[a-z ]{0,8}"), 0..1),
        prop::collection::vec(instruction(), 0..8),
        prop::bool::ANY,
    )
        .prop_map(|(directive, comments, instructions, crlf)| {
            let mut text = directive.unwrap_or_default();
            for comment in comments.into_iter().flatten() {
                text.push_str(&format!("# {comment}\n"));
            }
            text.push_str("FROM base\n");
            for instruction in instructions {
                text.push_str(&instruction);
                text.push('\n');
            }
            if crlf {
                text = text.replace('\n', "\r\n");
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_gives_the_same_tree(text in dockerfile_text()) {
        if let Ok(first) = parse(&text) {
            let printed = print(&first);
            let second = parse(&printed);
            prop_assert!(second.is_ok(), "printed text fails: {:?}\n{}", second.err(), printed);
            if let Ok(second) = second {
                prop_assert_eq!(shape(&first), shape(&second), "printed:\n{}", printed);
                prop_assert_eq!(print(&second), printed);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let (dockerfile, _errors) = parse_recovering(&text);
        let _ = lint::lint(&dockerfile, &lint::LintConfig::default());
        if let Ok(dockerfile) = parse(&text) {
            let printed = print(&dockerfile);
            let reparsed = parse(&printed);
            prop_assert!(reparsed.is_ok(), "printed text fails: {:?}\n{}", reparsed.err(), printed);
            if let Ok(reparsed) = reparsed {
                prop_assert_eq!(shape(&dockerfile), shape(&reparsed));
            }
        }
    }

    #[test]
    fn dockerfile_shaped_noise_never_panics(
        lines in prop::collection::vec(
            prop_oneof![
                "(FROM|RUN|COPY|ENV|ARG|LABEL|ONBUILD|HEALTHCHECK|EXPOSE|SHELL|CMD) [ -~]{0,30}",
                "[ -~]{0,20}\\\\",
                "# ?(escape|syntax)=[ -~]{0,3}",
                "[ \t]*",
                "(RUN|COPY) <<-?[A-Z\"']{1,4}",
                "[A-Z]{1,4}",
            ],
            0..20,
        )
    ) {
        let text = lines.join("\n");
        let (dockerfile, _errors) = parse_recovering(&text);
        let _ = lint::lint(&dockerfile, &lint::LintConfig::default());
        let _ = print(&dockerfile);
        for instruction in &dockerfile.instructions {
            let _ = instruction.expand(|_| Some("v".to_string()), dockerfile.escape);
        }
    }

    #[test]
    fn substitution_never_panics(word in "[ -~é]{0,40}") {
        let _ = substitute(&word, |name| (name.len() % 2 == 0).then(|| name.to_string()));
        let _ = variables_used(&word, '\\');
        let _ = variables_used(&word, '`');
    }
}
