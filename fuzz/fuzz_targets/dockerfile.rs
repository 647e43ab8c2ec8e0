//! The Dockerfile parser (shared/src/dockerfile/): any text must parse, lint, expand and have its lint fixes applied
//! without a panic, errors coming back as values; a file that parses must print to text that parses back to the
//! same tree. Seeds: fuzz/seeds/dockerfile/. Run by `cargo xtask fuzz --target dockerfile`.
#![no_main]

use berth_shared::dockerfile::{lint, parse, parse_recovering, print, Dockerfile};
use libfuzzer_sys::fuzz_target;

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

fuzz_target!(|data: &[u8]| {
    // The daemon and the playground only ever hold a Dockerfile as a str.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (recovered, _errors) = parse_recovering(text);
    // Every rule, the ones off by default too; each fix is applied to the text it was computed from, as the
    // editor does, and what comes out must still go through the parser.
    for diagnostic in lint::lint(&recovered, &lint::LintConfig::all()) {
        if let Some(fix) = &diagnostic.fix {
            let _ = parse_recovering(&lint::apply_fix(text, fix));
        }
    }
    for instruction in &recovered.instructions {
        let _ = instruction.expand(|name| Some(name.to_lowercase()), recovered.escape);
    }
    if let Ok(dockerfile) = parse(text) {
        let printed = print(&dockerfile);
        let reparsed = match parse(&printed) {
            Ok(reparsed) => reparsed,
            Err(error) => panic!("the printed Dockerfile does not parse: {error}\n{printed}"),
        };
        assert_eq!(shape(&dockerfile), shape(&reparsed), "printing changed the tree:\n{printed}");
    }
});
