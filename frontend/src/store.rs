//! The playground's state that outlives a page: the project being edited (kept in localStorage so a reload keeps
//! the files) and the last build (its daemon job id kept there too, so a reload follows the same build). Components get it through Yew context as reducer handles.

use std::rc::Rc;

use berth_shared::api::build_jobs::BuildJobEvent;
use serde::{Deserialize, Serialize};
use yew::prelude::*;

use crate::examples::{Example, EXAMPLES};
use crate::logic::build_progress::BuildProgress;

const PROJECT_KEY: &str = "berth.project";
const BUILD_JOB_KEY: &str = "berth.build-job";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectFile {
    /// Path in the build context, `/`-separated.
    pub name: String,
    pub text: String,
}

impl ProjectFile {
    /// What the editor highlights it as.
    pub fn language(&self) -> &'static str {
        let base = self.name.rsplit('/').next().unwrap_or(&self.name);
        if base == "Dockerfile" || base.ends_with(".Dockerfile") || base.starts_with("Dockerfile.") {
            "dockerfile"
        } else if base.ends_with(".sh") {
            "shell"
        } else {
            "plain"
        }
    }

    pub fn is_dockerfile(&self) -> bool {
        self.language() == "dockerfile"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub files: Vec<ProjectFile>,
    pub selected: String,
    /// The tag the next build gets.
    pub tag: String,
    /// Bumped whenever a file's text changes from outside the editor (example loaded, fix applied from the
    /// problem list), so the editor knows to replace its document.
    #[serde(skip)]
    pub revision: u32,
    /// The user's own files, kept when an example replaced them, until they go back to them or drop them.
    #[serde(default)]
    pub draft: Option<Draft>,
    /// Where the editor's cursor should go (a problem row or a layer's line followed): the place in the
    /// Dockerfile and a count that changes with each request, so following the same place twice moves it twice.
    #[serde(skip)]
    pub go_to: Option<CursorRequest>,
}

/// The project as it was before an example replaced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub files: Vec<ProjectFile>,
    pub selected: String,
    pub tag: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorRequest {
    /// 1-based line and column (in characters) of the selected file.
    pub line: usize,
    pub column: usize,
    pub count: u32,
}

impl Default for Project {
    fn default() -> Self {
        Project::from_example(&EXAMPLES[0])
    }
}

impl Project {
    pub fn from_example(example: &Example) -> Self {
        Project {
            files: example
                .files
                .iter()
                .map(|(name, text)| ProjectFile { name: name.to_string(), text: text.to_string() })
                .collect(),
            selected: "Dockerfile".to_string(),
            tag: example.tag.to_string(),
            revision: 0,
            draft: None,
            go_to: None,
        }
    }

    pub fn load() -> Self {
        local_storage()
            .and_then(|storage| storage.get_item(PROJECT_KEY).ok().flatten())
            .and_then(|json| serde_json::from_str::<Project>(&json).ok())
            .filter(|project| !project.files.is_empty())
            .unwrap_or_default()
    }

    pub fn save(&self) {
        if let (Some(storage), Ok(json)) = (local_storage(), serde_json::to_string(self)) {
            // A full storage only costs persistence across reloads; the page works on.
            let _ = storage.set_item(PROJECT_KEY, &json);
        }
    }

    pub fn selected_file(&self) -> Option<&ProjectFile> {
        self.files.iter().find(|file| file.name == self.selected)
    }

    /// Whether the files are exactly one example's, unedited (then loading another loses nothing).
    fn is_an_unedited_example(&self) -> bool {
        EXAMPLES.iter().any(|example| {
            example.files.len() == self.files.len()
                && example
                    .files
                    .iter()
                    .zip(&self.files)
                    .all(|((name, text), file)| file.name == *name && file.text == *text)
        })
    }

    /// The Dockerfile the build uses: `Dockerfile` at the root.
    pub fn dockerfile(&self) -> Option<&ProjectFile> {
        self.files.iter().find(|file| file.name == "Dockerfile")
    }

    fn unique_name(&self, wanted: &str) -> String {
        if !self.files.iter().any(|file| file.name == wanted) {
            return wanted.to_string();
        }
        (2..)
            .map(|n| format!("{wanted}.{n}"))
            .find(|name| !self.files.iter().any(|file| &file.name == name))
            .unwrap_or_default()
    }
}

pub enum ProjectAction {
    /// The editor changed the selected file.
    Edit(String),
    Select(String),
    Add(String),
    Rename {
        from: String,
        to: String,
    },
    Delete(String),
    /// Dropped files: added, or replacing files of the same name.
    Upload(Vec<ProjectFile>),
    /// Replaces the selected file's text from outside the editor.
    Replace(String),
    /// Replaces the files with an example's; the user's own files (not an unedited example) become the draft.
    LoadExample(usize),
    /// Back to the draft (the example's files are dropped: they can be chosen again).
    RestoreDraft,
    DiscardDraft,
    SetTag(String),
    /// Selects the Dockerfile and puts the cursor at a 1-based line and column.
    GoTo {
        line: usize,
        column: usize,
    },
}

impl Reducible for Project {
    type Action = ProjectAction;

    fn reduce(self: Rc<Self>, action: ProjectAction) -> Rc<Self> {
        let mut project = (*self).clone();
        match action {
            ProjectAction::Edit(text) => {
                if let Some(file) = project.files.iter_mut().find(|file| file.name == project.selected) {
                    file.text = text;
                }
            }
            ProjectAction::Select(name) => project.selected = name,
            ProjectAction::Add(name) => {
                let name = project.unique_name(name.trim());
                if name.is_empty() {
                    return self;
                }
                project.files.push(ProjectFile { name: name.clone(), text: String::new() });
                project.selected = name;
            }
            ProjectAction::Rename { from, to } => {
                let to = to.trim().to_string();
                if to.is_empty() || project.files.iter().any(|file| file.name == to) {
                    return self;
                }
                if let Some(file) = project.files.iter_mut().find(|file| file.name == from) {
                    file.name = to.clone();
                }
                if project.selected == from {
                    project.selected = to;
                }
                project.revision += 1;
            }
            ProjectAction::Delete(name) => {
                project.files.retain(|file| file.name != name);
                if project.selected == name {
                    project.selected = project.files.first().map(|file| file.name.clone()).unwrap_or_default();
                }
            }
            ProjectAction::Upload(files) => {
                for upload in files {
                    match project.files.iter_mut().find(|file| file.name == upload.name) {
                        Some(file) => file.text = upload.text,
                        None => project.files.push(upload),
                    }
                }
                project.revision += 1;
            }
            ProjectAction::Replace(text) => {
                if let Some(file) = project.files.iter_mut().find(|file| file.name == project.selected) {
                    file.text = text;
                }
                project.revision += 1;
            }
            ProjectAction::LoadExample(index) => {
                let Some(example) = EXAMPLES.get(index) else { return self };
                let revision = project.revision + 1;
                let draft = if project.is_an_unedited_example() {
                    project.draft.clone()
                } else {
                    Some(Draft {
                        files: project.files.clone(),
                        selected: project.selected.clone(),
                        tag: project.tag.clone(),
                    })
                };
                project = Project::from_example(example);
                project.revision = revision;
                project.draft = draft;
            }
            ProjectAction::RestoreDraft => {
                let Some(draft) = project.draft.take() else { return self };
                project.files = draft.files;
                project.selected = draft.selected;
                project.tag = draft.tag;
                project.revision += 1;
            }
            ProjectAction::DiscardDraft => project.draft = None,
            ProjectAction::SetTag(tag) => project.tag = tag,
            ProjectAction::GoTo { line, column } => {
                if let Some(dockerfile) = project.dockerfile() {
                    project.selected = dockerfile.name.clone();
                }
                let count = project.go_to.map_or(0, |request| request.count.wrapping_add(1));
                project.go_to = Some(CursorRequest { line, column, count });
            }
        }
        Rc::new(project)
    }
}

pub type ProjectHandle = UseReducerHandle<Project>;

/// The current build: a daemon build job, followed from its first event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Build {
    pub progress: BuildProgress,
    /// The tag it was started with.
    pub tag: String,
    /// The daemon's job id, once it answered.
    pub job: Option<String>,
    /// The files it was started from (None for a job a reloaded page reattached to), so the page can say when
    /// the files on screen are no longer what was built.
    pub files: Option<Vec<ProjectFile>>,
}

/// The job the page follows, kept in localStorage so that a reload reattaches to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredJob {
    pub id: String,
    pub tag: String,
}

impl StoredJob {
    pub fn load() -> Option<StoredJob> {
        let json = local_storage()?.get_item(BUILD_JOB_KEY).ok().flatten()?;
        serde_json::from_str(&json).ok()
    }

    pub fn save(&self) {
        if let (Some(storage), Ok(json)) = (local_storage(), serde_json::to_string(self)) {
            let _ = storage.set_item(BUILD_JOB_KEY, &json);
        }
    }

    pub fn clear() {
        if let Some(storage) = local_storage() {
            let _ = storage.remove_item(BUILD_JOB_KEY);
        }
    }
}

pub enum BuildAction {
    Start {
        tag: String,
        now_ms: f64,
        files: Option<Vec<ProjectFile>>,
    },
    /// The daemon accepted the build as this job.
    Attached {
        id: String,
    },
    Event(BuildJobEvent),
    Finish {
        now_ms: f64,
    },
    Fail {
        error: String,
        now_ms: f64,
    },
    /// Back to "not built" (the job the page remembered is gone: the daemon restarted).
    Reset,
}

impl Reducible for Build {
    type Action = BuildAction;

    fn reduce(self: Rc<Self>, action: BuildAction) -> Rc<Self> {
        let mut build = (*self).clone();
        match action {
            BuildAction::Start { tag, now_ms, files } => {
                build = Build { progress: BuildProgress::started(now_ms), tag, job: None, files }
            }
            BuildAction::Attached { id } => build.job = Some(id),
            BuildAction::Event(event) => build.progress.apply(&event),
            BuildAction::Finish { now_ms } => build.progress.finish(now_ms),
            BuildAction::Fail { error, now_ms } => build.progress.fail(error, now_ms),
            BuildAction::Reset => build = Build::default(),
        }
        Rc::new(build)
    }
}

pub type BuildHandle = UseReducerHandle<Build>;

pub fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
