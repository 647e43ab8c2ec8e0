//! The compose loader (shared/src/compose/): any set of files must load, or fail with diagnostics, without a
//! panic; a project that loads must answer its startup order and config hashes, survive JSON, and print as
//! `compose config` YAML that loads back to the same project and prints the same again. Seeds:
//! fuzz/seeds/compose/. Run by `cargo xtask fuzz --target compose`.
//!
//! One input is several files separated by NUL bytes, which no YAML or .env text holds: the compose file, an
//! override file, the project's `.env`, then the files env_file and extends name, each path the loader asks for
//! mapped to one of them by its hash (so a fuzzer-invented path finds a file as often as a real one).
#![no_main]

use std::collections::BTreeMap;

use berth_shared::compose::{load, to_yaml, LoadOptions, Project};
use libfuzzer_sys::fuzz_target;

const FILE: &str = "/project/compose.yaml";
const OVERRIDE: &str = "/project/compose.override.yaml";

/// FNV-1a: stable across runs, so a crash replays with the same files.
fn hash(text: &str) -> usize {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3))
        as usize
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.split('\0');
    let compose = parts.next().unwrap_or_default();
    let overrides = parts.next();
    let dotenv = parts.next().map(str::to_string);
    let others: Vec<&str> = parts.collect();
    let read = |path: &str| (!others.is_empty()).then(|| others[hash(path) % others.len()].to_string());

    let mut files = vec![(FILE, compose)];
    files.extend(overrides.map(|text| (OVERRIDE, text)));
    let env = BTreeMap::from([("HOME".to_string(), "/root".to_string()), ("USER".to_string(), "fuzz".to_string())]);
    let options = LoadOptions { env, dotenv, files: &read, ..LoadOptions::default() };
    let Ok(loaded) = load(&files, &options) else { return };
    let project = loaded.project;

    let _ = project.startup_order();
    for name in project.services.keys() {
        let _ = project.dependencies(name);
        assert!(project.config_hash(name).is_some(), "service {name} has no config hash");
    }

    let json = serde_json::to_string(&project).expect("a project serializes");
    let back: Project = serde_json::from_str(&json).expect("a project's JSON deserializes");
    assert_eq!(back, project, "JSON changed the project:\n{json}");

    // What `compose config` prints is a compose file of its own: every value resolved, every path absolute, every
    // `$` doubled. It loads without the environment, the .env or the other files, and with every profile on (the
    // inactive services are gone already).
    let yaml = to_yaml(&project);
    let reload_options = LoadOptions { profiles: vec!["*".to_string()], ..LoadOptions::default() };
    let reloaded = match load(&[("/elsewhere/config.yaml", &yaml)], &reload_options) {
        Ok(reloaded) => reloaded.project,
        Err(diagnostics) => {
            let rendered: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            panic!("compose config output does not load:\n{}\n---\n{yaml}", rendered.join("\n"));
        }
    };
    assert_eq!(reloaded, project, "compose config output loads as another project:\n{yaml}");
    assert_eq!(to_yaml(&reloaded), yaml, "compose config output prints differently once loaded");
});
