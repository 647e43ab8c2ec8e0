//! Host paths in a compose file are relative to the file's folder; this joins them lexically (no I/O: the
//! folder may not even exist where this runs, e.g. in the browser).

/// `path` joined to `base_dir` unless it is absolute; `~` or `~/...` becomes `$HOME` when `lookup` knows HOME.
pub(crate) fn resolve(base_dir: &str, path: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    if path == "~" || path.starts_with("~/") {
        return match lookup("HOME") {
            Some(home) => normalize(&format!("{home}{}", &path[1..])),
            None => path.to_string(),
        };
    }
    if path.starts_with('/') || base_dir.is_empty() {
        return path.to_string();
    }
    normalize(&format!("{base_dir}/{path}"))
}

/// The folder part of a file path: `a/b/compose.yaml` -> `a/b`, `compose.yaml` -> ``.
pub(crate) fn parent(file: &str) -> &str {
    match file.rfind('/') {
        Some(0) => "/",
        Some(index) => &file[..index],
        None => "",
    }
}

/// Removes `.` segments, applies `..` and collapses repeated slashes, lexically.
pub(crate) fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.last().is_some_and(|last| *last != "..") {
                    segments.pop();
                } else if !absolute {
                    segments.push("..");
                }
            }
            other => segments.push(other),
        }
    }
    let joined = segments.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_relative_paths_to_the_compose_folder() {
        let no_env = |_: &str| None;
        assert_eq!(resolve("/srv/app", "./data", &no_env), "/srv/app/data");
        assert_eq!(resolve("/srv/app", "../shared/x", &no_env), "/srv/shared/x");
        assert_eq!(resolve("/srv/app", "/abs", &no_env), "/abs");
        assert_eq!(resolve("", "./data", &no_env), "./data");
        assert_eq!(resolve("/srv", "~/x", &|_| Some("/home/me".into())), "/home/me/x");
        assert_eq!(parent("/srv/app/compose.yaml"), "/srv/app");
        assert_eq!(parent("compose.yaml"), "");
    }
}
