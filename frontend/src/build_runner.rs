//! Starting a build from the project: tar the files, send them, feed every message into the build store.

use yew::platform::spawn_local;

use crate::api;
use crate::logic::tar::{write_archive, TarEntry};
use crate::store::{now_ms, BuildAction, BuildHandle, Project};

/// Whether a build is already running (a second Ctrl+Enter must not start another).
pub fn is_running(build: &BuildHandle) -> bool {
    build.progress.state == crate::logic::build_progress::BuildState::Running
}

pub fn start(project: &Project, build: &BuildHandle) {
    if is_running(build) {
        return;
    }
    let tag = if project.tag.trim().is_empty() { "playground/app".to_string() } else { project.tag.trim().to_string() };
    build.dispatch(BuildAction::Start { tag: tag.clone(), now_ms: now_ms() });
    if project.dockerfile().is_none() {
        build.dispatch(BuildAction::Fail {
            error: "the project has no file named Dockerfile at its root".into(),
            now_ms: now_ms(),
        });
        return;
    }
    let entries: Vec<TarEntry<'_>> = project
        .files
        .iter()
        .map(|file| TarEntry {
            path: &file.name,
            contents: file.text.as_bytes(),
            // Scripts keep working when the Dockerfile runs them without chmod.
            mode: if file.text.starts_with("#!") { 0o755 } else { 0o644 },
        })
        .collect();
    let archive = match write_archive(&entries) {
        Ok(archive) => archive,
        Err(error) => {
            build.dispatch(BuildAction::Fail { error: error.to_string(), now_ms: now_ms() });
            return;
        }
    };
    let build = build.clone();
    spawn_local(async move {
        let sink = build.clone();
        let result = api::build::build_legacy(&archive, &tag, move |message| {
            sink.dispatch(BuildAction::Message { message, now_ms: now_ms() })
        })
        .await;
        match result {
            Ok(()) => build.dispatch(BuildAction::Finish { now_ms: now_ms() }),
            // The daemon's router answers "page not found" for routes it does not have (a daemon without the builder).
            Err(error) if error.is_not_found() && error.to_string().contains("page not found") => {
                build.dispatch(BuildAction::Fail {
                    error: format!("this daemon cannot build images yet (POST /build answered: {error})"),
                    now_ms: now_ms(),
                })
            }
            Err(error) => build.dispatch(BuildAction::Fail { error: error.to_string(), now_ms: now_ms() }),
        }
    });
}
