//! Any bytes: parsing, linting and expanding must not panic, and a parsed Dockerfile must print to text that
//! parses back to the same tree. Run with `cargo +nightly fuzz run parse` from shared/.
#![no_main]

use berth_shared::dockerfile::{lint, parse, parse_recovering, print, Dockerfile};
use libfuzzer_sys::fuzz_target;

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
    let mut value = serde_json::to_value(dockerfile).unwrap_or_default();
    strip(&mut value);
    value
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (recovered, _errors) = parse_recovering(text);
    let _ = lint::lint(&recovered, &lint::LintConfig::default());
    for instruction in &recovered.instructions {
        let _ = instruction.expand(|name| Some(name.to_lowercase()), recovered.escape);
    }
    if let Ok(dockerfile) = parse(text) {
        let printed = print(&dockerfile);
        let reparsed = parse(&printed).expect("printed Dockerfile parses");
        assert_eq!(shape(&dockerfile), shape(&reparsed), "printing changed the tree:\n{printed}");
    }
});
