//! Images for services with `build:`: the context directory as a tar (minus what `.dockerignore` excludes) sent
//! to the daemon's `POST /build`, tagged with the service's image name.

use std::path::Path;

use anyhow::Context;
use berth_build::IgnoreRules;
use berth_shared::api::compose::ServiceStep;
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
        session.progress.service(service, None, ServiceStep::Building, &format!("Building {service}"));
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

/// The context directory as an uncompressed tar, paths relative to it, symlinks kept as links, without what
/// `.dockerignore` excludes (the daemon's own matcher, moby's semantics). The Dockerfile and `.dockerignore` are
/// always sent, as docker does.
fn context_tar(context: &Path) -> anyhow::Result<Vec<u8>> {
    let rules = std::fs::read_to_string(context.join(".dockerignore"))
        .map(|text| IgnoreRules::parse(&text))
        .unwrap_or_default();
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut pending = vec![context.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let entries = std::fs::read_dir(&directory).with_context(|| format!("read {}", directory.display()))?;
        for entry in entries {
            let path = entry?.path();
            let relative = path.strip_prefix(context)?.to_string_lossy().into_owned();
            let always_sent = relative == "Dockerfile" || relative == ".dockerignore";
            let excluded = !always_sent && rules.is_excluded(&relative);
            let is_directory = path.is_dir() && !path.is_symlink();
            if !excluded {
                builder.append_path_with_name(&path, &relative).with_context(|| format!("add {}", path.display()))?;
            }
            // An exception (`!keep`) may bring back a path inside an excluded folder.
            if is_directory && (!excluded || rules.has_exceptions()) {
                pending.push(path);
            }
        }
    }
    builder.into_inner().context("finish the context tar")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_tar_leaves_out_what_dockerignore_excludes() {
        let context = tempfile::tempdir().expect("a temp dir");
        let write = |relative: &str| {
            let path = context.path().join(relative);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("creating folders");
            std::fs::write(path, relative).expect("writing a file");
        };
        for file in ["Dockerfile", "app/main.sh", "app/debug.log", "node_modules/x/y.js", "logs/keep.log"] {
            write(file);
        }
        std::fs::write(context.path().join(".dockerignore"), "*/*.log\nnode_modules\n!logs/keep.log\n")
            .expect("writing .dockerignore");
        let archive = context_tar(context.path()).expect("packing the context");
        let mut names: Vec<String> = tar::Archive::new(archive.as_slice())
            .entries()
            .expect("reading the tar")
            .map(|entry| entry.expect("an entry").path().expect("a path").display().to_string())
            .filter(|name| !name.ends_with('/') && !["app", "logs"].contains(&name.as_str()))
            .collect();
        names.sort();
        assert_eq!(names, [".dockerignore", "Dockerfile", "app/main.sh", "logs/keep.log"]);
    }
}
