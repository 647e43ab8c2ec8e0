//! Images for services with `build:`: the context directory as a tar (minus what `.dockerignore` excludes) sent
//! to the daemon's `POST /build`, tagged with the service's image name.

use std::path::Path;

use anyhow::Context;
use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;

use super::client::Session;

/// Builds the images of `services` (all when empty) that have `build:`; unless `always`, only those whose image
/// the daemon does not have yet.
pub async fn build_services(session: &Session, services: &[String], always: bool) -> anyhow::Result<()> {
    session.check_services(services)?;
    for (service, definition) in &session.project.services {
        if !services.is_empty() && !services.contains(service) {
            continue;
        }
        let Some(build) = &definition.build else { continue };
        let image = session.image_name(service);
        if !always && session.docker.inspect_image(&image).await.is_ok() {
            continue;
        }
        eprintln!("Building {service}");
        let context = Path::new(&build.context);
        let dockerfile = build.dockerfile.clone().unwrap_or_else(|| "Dockerfile".to_string());
        let archive = context_tar(context).with_context(|| format!("pack the build context {}", context.display()))?;
        let options = BuildImageOptions {
            dockerfile,
            t: Some(image.clone()),
            rm: true,
            buildargs: Some(
                build.args.iter().filter_map(|(name, value)| Some((name.clone(), value.clone()?))).collect(),
            ),
            labels: Some(build.labels.iter().map(|(name, value)| (name.clone(), value.clone())).collect()),
            target: build.target.clone().unwrap_or_default(),
            ..Default::default()
        };
        let mut progress = session.docker.build_image(options, None, Some(bollard::body_full(archive.into())));
        while let Some(message) = progress.next().await {
            let info = message.with_context(|| format!("build {image}"))?;
            if let Some(detail) = info.error_detail {
                anyhow::bail!("build {image}: {}", detail.message.unwrap_or_default());
            }
            if let Some(text) = info.stream {
                eprint!("{text}");
            }
        }
    }
    Ok(())
}

/// The context directory as an uncompressed tar, paths relative to it, symlinks kept as links.
fn context_tar(context: &Path) -> anyhow::Result<Vec<u8>> {
    let ignore_patterns: Vec<String> = std::fs::read_to_string(context.join(".dockerignore"))
        .map(|text| parse_dockerignore(&text))
        .unwrap_or_default();
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut pending = vec![context.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let entries = std::fs::read_dir(&directory).with_context(|| format!("read {}", directory.display()))?;
        for entry in entries {
            let path = entry?.path();
            let relative = path.strip_prefix(context)?.to_string_lossy().into_owned();
            if is_ignored(&relative, &ignore_patterns) {
                continue;
            }
            builder.append_path_with_name(&path, &relative).with_context(|| format!("add {}", path.display()))?;
            if path.is_dir() && !path.is_symlink() {
                pending.push(path);
            }
        }
    }
    builder.into_inner().context("finish the context tar")
}

/// `.dockerignore` lines, simply: comments and `!` exceptions dropped, leading and trailing slashes trimmed.
fn parse_dockerignore(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('!'))
        .map(|line| line.trim_start_matches("./").trim_matches('/').to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

/// Whether `path` (relative to the context) or a folder above it matches a pattern; `*` and `?` match within one
/// path segment. The Dockerfile and `.dockerignore` are always sent, as docker does.
fn is_ignored(path: &str, patterns: &[String]) -> bool {
    if path == "Dockerfile" || path == ".dockerignore" {
        return false;
    }
    let segments: Vec<&str> = path.split('/').collect();
    patterns.iter().any(|pattern| {
        let pattern_segments: Vec<&str> = pattern.split('/').collect();
        pattern_segments.len() <= segments.len()
            && pattern_segments.iter().zip(&segments).all(|(pattern, segment)| glob_matches(pattern, segment))
    })
}

fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut pattern_index, mut text_index) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while text_index < text.len() {
        match pattern.get(pattern_index) {
            Some('*') => {
                backtrack = Some((pattern_index, text_index));
                pattern_index += 1;
            }
            Some(character) if *character == '?' || *character == text[text_index] => {
                pattern_index += 1;
                text_index += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    pattern_index = star + 1;
                    text_index = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[pattern_index..].iter().all(|character| *character == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_matches_names_globs_and_folders() {
        let patterns = parse_dockerignore("# comment\nnode_modules\n*.log\n/build/\n!keep.log\ndocs/*.md\n");
        assert!(is_ignored("node_modules", &patterns));
        assert!(is_ignored("node_modules/a/b.js", &patterns));
        assert!(is_ignored("debug.log", &patterns));
        assert!(is_ignored("build/out", &patterns));
        assert!(is_ignored("docs/readme.md", &patterns));
        assert!(!is_ignored("src/debug.log.txt", &patterns));
        assert!(!is_ignored("docs/img/a.png", &patterns));
        assert!(!is_ignored("Dockerfile", &patterns));
    }

    #[test]
    fn glob_stars_and_question_marks() {
        assert!(glob_matches("*.rs", "main.rs"));
        assert!(glob_matches("a?c", "abc"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("*.rs", "main.rc"));
        assert!(glob_matches("a*b*c", "axxbyyc"));
    }
}
