//! `cargo xtask arch`: ARCHITECTURE.md's rules, checked against the workspace. The map's crate table says which
//! Berth crates each crate may depend on and which crates it may not use at all; `cargo metadata` says what each
//! manifest declares. Every workspace member must have a line, every line must name a member, every declared
//! dependency must be allowed, and every folder the repository tracks must be named somewhere in the map. Inside
//! the crates of [`ONE_WAY_CRATES`], the files' modules must depend one way: no `super::` circle.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::command;
use crate::workspace::Workspace;

/// Crates whose top-level modules may not import each other in a circle (the engine: `live` and `streams` below
/// `container`, everything else above it).
const ONE_WAY_CRATES: &[&str] = &["crates/engine/src"];

/// The fenced block after this line is the crate table.
const TABLE_MARKER: &str = "<!-- xtask arch: crate table -->";

/// One line of the table: `berth-engine -> berth-fs, berth-image ; not: axum, hyper`.
#[derive(Debug, PartialEq, Eq)]
struct Rule {
    may_depend_on: BTreeSet<String>,
    may_not_use: BTreeSet<String>,
}

pub fn arch(workspace: &Workspace) -> Result<()> {
    let map_path = workspace.root.join("ARCHITECTURE.md");
    let map = std::fs::read_to_string(&map_path).with_context(|| format!("reading {}", map_path.display()))?;
    let rules = parse_table(&map).context("ARCHITECTURE.md")?;
    let members = workspace_dependencies(workspace)?;
    let tracked = tracked_folders(workspace)?;
    let mut problems = [check_dependencies(&rules, &members), check_folders(&map, &tracked)].concat();
    for dir in ONE_WAY_CRATES {
        problems.extend(check_module_cycles(&workspace.root.join(dir))?);
    }
    if problems.is_empty() {
        println!("xtask arch: {} crates and {} folders agree with ARCHITECTURE.md", members.len(), tracked.len());
        return Ok(());
    }
    for problem in &problems {
        println!("xtask arch: {problem}");
    }
    bail!("{} disagreement(s) between the code and ARCHITECTURE.md", problems.len())
}

fn parse_table(map: &str) -> Result<BTreeMap<String, Rule>> {
    let after_marker = map.split_once(TABLE_MARKER).map(|(_, rest)| rest).context("no crate table marker")?;
    let mut lines = after_marker.lines().skip_while(|line| !line.starts_with("```"));
    lines.next().context("no fenced block after the crate table marker")?;
    let mut rules = BTreeMap::new();
    for (index, line) in lines.take_while(|line| !line.starts_with("```")).enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (name, rest) =
            line.split_once("->").with_context(|| format!("crate table line {}: no `->` in {line:?}", index + 1))?;
        let (allowed, forbidden) = rest.split_once("; not:").unwrap_or((rest, ""));
        let list = |text: &str| -> BTreeSet<String> {
            text.split(',').map(str::trim).filter(|item| !item.is_empty() && *item != "-").map(String::from).collect()
        };
        let rule = Rule { may_depend_on: list(allowed), may_not_use: list(forbidden) };
        if rules.insert(name.trim().to_string(), rule).is_some() {
            bail!("crate table line {}: {} has two lines", index + 1, name.trim());
        }
    }
    if rules.is_empty() {
        bail!("the crate table is empty");
    }
    Ok(rules)
}

/// Each workspace member and the packages its manifest declares as normal or build dependencies (dev-dependencies
/// are for tests, which may reach across layers).
fn workspace_dependencies(workspace: &Workspace) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let output = command::cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(&workspace.root)
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed:\n{}", String::from_utf8_lossy(&output.stderr));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).context("decoding cargo metadata")?;
    let packages = metadata["packages"].as_array().context("cargo metadata has no packages")?;
    let mut members = BTreeMap::new();
    for package in packages {
        let name = package["name"].as_str().context("a package without a name")?;
        let dependencies = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dependency| dependency["kind"].as_str() != Some("dev"))
            .filter_map(|dependency| dependency["name"].as_str().map(String::from))
            .collect();
        members.insert(name.to_string(), dependencies);
    }
    Ok(members)
}

fn check_dependencies(rules: &BTreeMap<String, Rule>, members: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (member, dependencies) in members {
        let Some(rule) = rules.get(member) else {
            problems.push(format!("crate {member} has no line in the crate table"));
            continue;
        };
        for dependency in dependencies {
            let internal = members.contains_key(dependency);
            if internal && !rule.may_depend_on.contains(dependency) {
                problems.push(format!("{member} depends on {dependency}, which its line does not allow"));
            }
            if rule.may_not_use.contains(dependency) {
                problems.push(format!("{member} uses {dependency}, which its line forbids"));
            }
        }
    }
    for (name, rule) in rules {
        if !members.contains_key(name) {
            problems.push(format!("the crate table names {name}, which is not a workspace member"));
        }
        for allowed in &rule.may_depend_on {
            if !members.contains_key(allowed) {
                problems.push(format!("{name}'s line allows {allowed}, which is not a workspace member"));
            }
        }
    }
    problems
}

/// Every folder holding a tracked file (the repository root excluded).
fn tracked_folders(workspace: &Workspace) -> Result<BTreeSet<String>> {
    let output = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&workspace.root)
        .output()
        .context("running git ls-files")?;
    if !output.status.success() {
        bail!("git ls-files failed:\n{}", String::from_utf8_lossy(&output.stderr));
    }
    let mut folders = BTreeSet::new();
    for file in output.stdout.split(|byte| *byte == 0).filter(|file| !file.is_empty()) {
        let file = String::from_utf8_lossy(file);
        let mut path = std::path::Path::new(file.as_ref());
        while let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            folders.insert(parent.to_string_lossy().into_owned());
            path = parent;
        }
    }
    Ok(folders)
}

/// A folder is named when the map writes its path, or its last component as `name/` (the house tree indents
/// children under their parent).
fn check_folders(map: &str, folders: &BTreeSet<String>) -> Vec<String> {
    folders
        .iter()
        .filter(|folder| {
            let last = folder.rsplit('/').next().unwrap_or(folder);
            !map.contains(&format!("{folder}/")) && !map.contains(&format!("{last}/"))
        })
        .map(|folder| format!("folder {folder}/ is not named in ARCHITECTURE.md"))
        .collect()
}

/// Each top-level module file of `src` and the sibling modules it names as `super::<name>`.
fn module_graph(src: &std::path::Path) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let path = entry?.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
        if path.extension().is_some_and(|e| e == "rs") && stem != "lib" {
            files.insert(stem, std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?);
        }
    }
    let names: BTreeSet<String> = files.keys().cloned().collect();
    Ok(files.into_iter().map(|(name, text)| (name, sibling_uses(&text, &names))).collect())
}

fn sibling_uses(text: &str, names: &BTreeSet<String>) -> BTreeSet<String> {
    let first_word = |rest: &str| {
        let rest = rest.trim_start();
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        rest[..end].to_string()
    };
    let mut uses = BTreeSet::new();
    for (at, _) in text.match_indices("super::") {
        let rest = &text[at + "super::".len()..];
        match rest.strip_prefix('{') {
            // `use super::{restart, Engine};`: the first word of each item.
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                uses.extend(group.split(',').map(first_word));
            }
            None => {
                uses.insert(first_word(rest));
            }
        }
    }
    uses.retain(|name| names.contains(name));
    uses
}

/// One circle per module found on one, as `a -> b -> a`.
fn module_cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        found: &mut Vec<String>,
    ) {
        if let Some(start) = path.iter().position(|n| *n == node) {
            let mut circle: Vec<&str> = path[start..].to_vec();
            circle.push(node);
            found.push(circle.join(" -> "));
            return;
        }
        if done.contains(node) {
            return;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done, found);
        }
        path.pop();
        done.insert(node);
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

fn check_module_cycles(src: &std::path::Path) -> Result<Vec<String>> {
    let graph = module_graph(src)?;
    Ok(module_cycles(&graph)
        .into_iter()
        .map(|circle| format!("{}: modules import each other in a circle: {circle}", src.display()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_circles_are_found_and_one_way_imports_pass() {
        let names: BTreeSet<String> = ["a", "b", "c"].map(String::from).into();
        let uses = sibling_uses("use super::b::X;\nuse super::{Engine, c::Y};\nsuper::bee;", &names);
        assert_eq!(uses, ["b", "c"].map(String::from).into(), "`super::name` paths and groups, not `super::bee`");
        let graph = |edges: &[(&str, &str)]| {
            let mut graph: BTreeMap<String, BTreeSet<String>> =
                names.iter().map(|n| (n.clone(), BTreeSet::new())).collect();
            for (from, to) in edges {
                graph.get_mut(*from).unwrap().insert(to.to_string());
            }
            graph
        };
        assert!(module_cycles(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
        assert_eq!(module_cycles(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])), ["a -> b -> c -> a"]);
    }

    const MAP: &str = "intro\n<!-- xtask arch: crate table -->\n```text\n\
                       a -> -\n\
                       b -> a ; not: axum\n\
                       c -> a, b\n```\nafter\n";

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    #[test]
    fn the_table_is_read_line_by_line() {
        let rules = parse_table(MAP).expect("a table");
        assert_eq!(rules["a"], Rule { may_depend_on: set(&[]), may_not_use: set(&[]) });
        assert_eq!(rules["b"], Rule { may_depend_on: set(&["a"]), may_not_use: set(&["axum"]) });
        assert_eq!(rules["c"].may_depend_on, set(&["a", "b"]));
    }

    #[test]
    fn a_forbidden_arrow_is_reported() {
        let rules = parse_table(MAP).expect("a table");
        let members = BTreeMap::from([
            ("a".to_string(), set(&["serde"])),
            ("b".to_string(), set(&["a", "c", "axum"])),
            ("c".to_string(), set(&["a"])),
            ("d".to_string(), set(&[])),
        ]);
        assert_eq!(
            check_dependencies(&rules, &members),
            vec![
                "b uses axum, which its line forbids".to_string(),
                "b depends on c, which its line does not allow".to_string(),
                "crate d has no line in the crate table".to_string(),
            ]
        );
    }

    #[test]
    fn an_unnamed_folder_is_reported() {
        let folders = set(&["crates/fs", "crates/fs/src", "docs"]);
        let map = "crates/fs/ the files\n  src/ its code\n";
        assert_eq!(check_folders(map, &folders), vec!["folder docs/ is not named in ARCHITECTURE.md".to_string()]);
    }
}
