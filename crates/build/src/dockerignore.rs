//! `.dockerignore`: which paths of a build context are left out, with the semantics of moby's patternmatcher.
//!
//! Each line is a pattern (`#` starts a comment line); `!` makes it an exception; patterns are cleaned like Go's
//! `filepath.Clean` and a leading `/` is dropped. A pattern matches a path or any of its parent directories. `*`,
//! `?` and `[...]` work within one path component, `**` matches any number of components. The last pattern that
//! matches decides.

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    components: Vec<String>,
    exception: bool,
}

impl IgnoreRules {
    pub fn parse(text: &str) -> IgnoreRules {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, raw) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(raw);
            if cleaned.is_empty() {
                continue;
            }
            patterns.push(Pattern { components: cleaned.split('/').map(str::to_string).collect(), exception });
        }
        IgnoreRules { patterns }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Are there exceptions, so that an excluded directory may still hold included paths?
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// Is `path` (relative to the context root, `/`-separated) left out of the context?
    pub fn is_excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let mut excluded = false;
        for pattern in &self.patterns {
            let matched = (1..=parts.len()).any(|n| match_components(&pattern.components, &parts[..n]));
            if matched {
                excluded = !pattern.exception;
            }
        }
        excluded
    }
}

/// Go's `filepath.Clean` for a relative slash path, with leading `/` and `./` dropped; "" for the root.
fn clean(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.join("/")
}

fn match_components(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => (0..=path.len()).any(|skip| match_components(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((name, path_rest)) => {
                glob(&first.chars().collect::<Vec<_>>(), &name.chars().collect::<Vec<_>>())
                    && match_components(rest, path_rest)
            }
            None => false,
        },
    }
}

/// Go's `filepath.Match` for one component: `*`, `?`, `[class]` (with `^` negation and ranges), `\` escapes.
fn glob(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|skip| glob(rest, &name[skip..])),
        Some(('?', rest)) => !name.is_empty() && glob(rest, &name[1..]),
        Some(('[', rest)) => {
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            match class(rest, c) {
                Some((matched, after)) => matched && glob(after, name_rest),
                None => false,
            }
        }
        Some(('\\', rest)) if !rest.is_empty() => {
            !name.is_empty() && name[0] == rest[0] && glob(&rest[1..], &name[1..])
        }
        Some((&p, rest)) => !name.is_empty() && name[0] == p && glob(rest, &name[1..]),
    }
}

/// Matches `c` against the class after `[`; returns whether it matched and the pattern after `]`.
fn class(pattern: &[char], c: char) -> Option<(bool, &[char])> {
    let (negate, mut i) = match pattern.first() {
        Some('^') | Some('!') => (true, 1),
        _ => (false, 0),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let &lo = pattern.get(i)?;
        if lo == ']' && !first {
            return Some((matched != negate, &pattern[i + 1..]));
        }
        first = false;
        let lo = if lo == '\\' {
            i += 1;
            *pattern.get(i)?
        } else {
            lo
        };
        i += 1;
        let mut hi = lo;
        if pattern.get(i) == Some(&'-') && pattern.get(i + 1).is_some_and(|&n| n != ']') {
            hi = *pattern.get(i + 1)?;
            if hi == '\\' {
                hi = *pattern.get(i + 2)?;
                i += 1;
            }
            i += 2;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
}

/// Go's `filepath.Match` for one path component (no `/` in either), as COPY wildcards use it.
pub fn glob_component(pattern: &str, name: &str) -> bool {
    glob(&pattern.chars().collect::<Vec<_>>(), &name.chars().collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_semantics() {
        let rules = IgnoreRules::parse("# comment\n*.log\n!keep.log\nsecret/\n**/tmp\n/build\ndocs/*.md\n");
        assert!(rules.is_excluded("a.log"));
        assert!(!rules.is_excluded("keep.log"));
        assert!(!rules.is_excluded("dir/a.log"), "*.log only matches at the root");
        assert!(rules.is_excluded("secret"));
        assert!(rules.is_excluded("secret/key"), "a matched directory excludes its contents");
        assert!(rules.is_excluded("tmp"));
        assert!(rules.is_excluded("a/b/tmp/x"));
        assert!(rules.is_excluded("build/out"));
        assert!(rules.is_excluded("docs/a.md"));
        assert!(!rules.is_excluded("docs/a.txt"));
        assert!(!rules.is_excluded("src/main.rs"));
    }

    #[test]
    fn exceptions_inside_excluded_directories() {
        let rules = IgnoreRules::parse("vendor\n!vendor/keep\n");
        assert!(rules.is_excluded("vendor/x"));
        assert!(!rules.is_excluded("vendor/keep"));
        assert!(!rules.is_excluded("vendor/keep/file"));
        assert!(rules.has_exceptions());
    }

    #[test]
    fn globs() {
        let m = |p: &str, n: &str| glob(&p.chars().collect::<Vec<_>>(), &n.chars().collect::<Vec<_>>());
        assert!(m("a?c", "abc"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[^a-c]x", "bx"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("*.go", "x.go"));
    }
}
