//! Starting a build from the project, and following it: tar the files, start a daemon build job, remember its id
//! (localStorage) and feed every event into the build store. A reloaded page calls [`reattach`] and follows the
//! same job from its first event.

use yew::platform::spawn_local;

use crate::api;
use crate::logic::tar::{write_archive, TarEntry, TarError};
use crate::store::{now_ms, BuildAction, BuildHandle, Project, StoredJob};

/// Whether a build is already running (a second Ctrl+Enter must not start another).
pub fn is_running(build: &BuildHandle) -> bool {
    build.progress.state == crate::logic::build_progress::BuildState::Running
}

/// The project's files as the build context tar.
pub fn context_tar(project: &Project) -> Result<Vec<u8>, TarError> {
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
    write_archive(&entries)
}

pub fn start(project: &Project, build: &BuildHandle) {
    if is_running(build) {
        return;
    }
    let tag = if project.tag.trim().is_empty() { "playground/app".to_string() } else { project.tag.trim().to_string() };
    build.dispatch(BuildAction::Start { tag: tag.clone(), now_ms: now_ms(), files: Some(project.files.clone()) });
    if project.dockerfile().is_none() {
        build.dispatch(BuildAction::Fail {
            error: "the project has no file named Dockerfile at its root".into(),
            now_ms: now_ms(),
        });
        return;
    }
    let archive = match context_tar(project) {
        Ok(archive) => archive,
        Err(error) => {
            build.dispatch(BuildAction::Fail { error: error.to_string(), now_ms: now_ms() });
            return;
        }
    };
    let build = build.clone();
    spawn_local(async move {
        match api::build::start(&archive, &tag).await {
            Ok(id) => {
                StoredJob { id: id.clone(), tag }.save();
                follow(build, id).await;
            }
            Err(error) => build.dispatch(BuildAction::Fail { error: error.to_string(), now_ms: now_ms() }),
        }
    });
}

/// Follows the job the page remembers, if any: after a reload the build view shows it again, from its first step,
/// and goes on live while it runs.
pub fn reattach(build: &BuildHandle) {
    let Some(job) = StoredJob::load() else { return };
    build.dispatch(BuildAction::Start { tag: job.tag, now_ms: now_ms(), files: None });
    let build = build.clone();
    spawn_local(follow(build, job.id));
}

async fn follow(build: BuildHandle, id: String) {
    build.dispatch(BuildAction::Attached { id: id.clone() });
    let sink = build.clone();
    match api::build::follow(&id, move |event| sink.dispatch(BuildAction::Event(event))).await {
        Ok(()) => build.dispatch(BuildAction::Finish { now_ms: now_ms() }),
        // The daemon restarted since: its jobs are gone, and so is the page's claim to one.
        Err(error) if error.is_not_found() => {
            StoredJob::clear();
            build.dispatch(BuildAction::Reset);
        }
        Err(error) => build.dispatch(BuildAction::Fail { error: error.to_string(), now_ms: now_ms() }),
    }
}
