//! The build: the tag, the Build button (Ctrl+Enter), and the progress as steps: n of m, cached / running / done /
//! failed, each step's output and duration. Reads the build store, whatever feeds it. Before a build, and as the
//! person edits (debounced), the daemon's cache prediction marks each step: from the cache, or will run.

use std::cell::Cell;
use std::rc::Rc;

use berth_shared::api::build_jobs::BuildPrediction;
use gloo_timers::callback::{Interval, Timeout};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::run_dialog::RunDialog;
use crate::logic::build_progress::{BuildState, StepState};
use crate::logic::cache_prediction::{summary, Mark};
use crate::logic::format;
use crate::route::Route;
use crate::store::{now_ms, BuildHandle, ProjectAction, ProjectHandle};

#[function_component(BuildPanel)]
pub fn build_panel() -> Html {
    let Some(project) = use_context::<ProjectHandle>() else { return html! {} };
    let Some(build) = use_context::<BuildHandle>() else { return html! {} };
    let running = build.progress.state == BuildState::Running;
    let show_run = use_state(|| false);

    // Running steps show a live duration: re-render every 200 ms while the build runs.
    let tick = use_state(|| 0_u32);
    {
        let tick = tick.clone();
        use_effect_with(running, move |running| {
            let interval = running.then(|| Interval::new(200, move || tick.set(tick.wrapping_add(1))));
            move || drop(interval)
        });
    }

    // The prediction follows the files and each finished build, half a second after the last change; an answer
    // to an older request never replaces a newer one.
    let prediction = use_state(|| None::<Result<BuildPrediction, String>>);
    let generation = use_memo((), |_| Rc::new(Cell::new(0_u32)));
    {
        let prediction = prediction.clone();
        let generation = (*generation).clone();
        let files = project.files.clone();
        use_effect_with((files, build.progress.state), move |(files, state)| {
            let pending = (*state != BuildState::Running).then(|| {
                let files = files.clone();
                Timeout::new(PREDICTION_DEBOUNCE_MS, move || {
                    let project = crate::store::Project { files, ..crate::store::Project::default() };
                    if project.dockerfile().is_none() {
                        return;
                    }
                    let Ok(archive) = crate::build_runner::context_tar(&project) else { return };
                    let mine = generation.get().wrapping_add(1);
                    generation.set(mine);
                    spawn_local(async move {
                        let answer = api::build::predict(&archive).await.map_err(|error| error.to_string());
                        if generation.get() == mine {
                            prediction.set(Some(answer));
                        }
                    });
                })
            });
            move || drop(pending)
        });
    }

    let on_build = {
        let (project, build) = (project.clone(), build.clone());
        Callback::from(move |_: MouseEvent| crate::build_runner::start(&project, &build))
    };
    let on_tag = {
        let project = project.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event.target_dyn_into::<web_sys::HtmlInputElement>() {
                project.dispatch(ProjectAction::SetTag(input.value()));
            }
        })
    };
    let progress = &build.progress;
    let now = now_ms();
    let built_tag = build.tag.clone();
    let summary = match progress.state {
        BuildState::Idle => "Not built yet. Ctrl+Enter builds.".to_string(),
        BuildState::Running => match (progress.current_step(), progress.total_steps()) {
            (Some(step), Some(total)) => format!("Building: step {} of {total}", step.number),
            _ => "Sending the build context…".to_string(),
        },
        BuildState::Succeeded => format!(
            "Built {} in {}",
            built_tag,
            format::duration_ms(progress.finished_ms.unwrap_or(now) - progress.started_ms)
        ),
        BuildState::Failed => "Build failed".to_string(),
    };
    // The status is of the files as they were built: once they change, it says so.
    let out_of_date =
        progress.state != BuildState::Running && build.files.as_ref().is_some_and(|built| *built != project.files);
    let open_run = {
        let show_run = show_run.clone();
        Callback::from(move |_: MouseEvent| show_run.set(true))
    };
    let close_run = {
        let show_run = show_run.clone();
        Callback::from(move |()| show_run.set(false))
    };

    html! {
        <section class="build-panel" aria-label="Build">
            <h2>{ "Build" }</h2>
            <div class="build-controls">
                <label>{ "Tag " }
                    <input value={project.tag.clone()} oninput={on_tag} aria-label="Image tag" />
                </label>
                <button id="build-button" class="primary" onclick={on_build} disabled={running}>
                    { if running { "Building…" } else { "Build" } }
                </button>
            </div>
            <p class={classes!("build-summary", state_class(progress.state), out_of_date.then_some("out-of-date"))}
               aria-live="polite" data-state={state_class(progress.state)} data-out-of-date={out_of_date.to_string()}>
                { summary }
                if out_of_date {
                    <span class="stale-note">{ " · out of date: the files changed since this build" }</span>
                }
            </p>
            if let Some(error) = &progress.error {
                <div class="error-note" role="alert">{ error.clone() }</div>
            }
            if progress.state == BuildState::Succeeded {
                <div class="build-actions">
                    <a class="button" href={Route::Layers { image: built_tag.clone() }.href()}>{ "Layers" }</a>
                    <button class="primary" onclick={open_run}>{ "Run" }</button>
                </div>
            }
            if !progress.notes.is_empty() {
                <pre class="build-notes">{ progress.notes.join("\n") }</pre>
            }
            if !running {
                { prediction_view(prediction.as_ref()) }
            }
            <ol class="build-steps">
                { for progress.steps.iter().map(|step| {
                    let state = match step.state {
                        StepState::Running => "running",
                        StepState::Cached => "cached",
                        StepState::Done if step.cached => "cached",
                        StepState::Done => "done",
                        StepState::Failed => "failed",
                    };
                    html! {
                        <li class={classes!("build-step", state)} data-state={state}>
                            <div class="step-head">
                                <span class="step-number">{ format!("{}/{}", step.number, step.total) }</span>
                                <code class="step-instruction">{ step.instruction.clone() }</code>
                                <span class="step-state">{ state }</span>
                                <span class="step-duration">{ format::duration_ms(step.duration_ms(now)) }</span>
                            </div>
                            if !step.output.is_empty() {
                                <pre class="step-output">{ step.output.join("\n") }</pre>
                            }
                        </li>
                    }
                }) }
            </ol>
            if *show_run {
                <RunDialog image={built_tag} on_close={close_run} />
            }
        </section>
    }
}

const PREDICTION_DEBOUNCE_MS: u32 = 500;

fn prediction_view(prediction: Option<&Result<BuildPrediction, String>>) -> Html {
    match prediction {
        None => html! {},
        Some(Err(error)) => html! { <p class="prediction-error muted">{ format!("No cache prediction: {error}") }</p> },
        Some(Ok(prediction)) => html! {
            <div class="cache-prediction" aria-label="Cache prediction">
                <p class="prediction-summary">{ summary(prediction) }</p>
                if let Some(error) = &prediction.error {
                    <p class="prediction-error">{ format!("The build would stop here: {error}") }</p>
                }
                <ol class="predicted-steps">
                    { for prediction.steps.iter().map(|step| {
                        let mark = Mark::of(&step.prediction);
                        html! {
                            <li class={classes!("predicted-step", mark.name())} data-prediction={mark.name()}
                                data-line={step.line.map(|line| line.to_string())}>
                                <span class="step-line">{ step.line.map(|line| format!("{line}")).unwrap_or_default() }</span>
                                <code class="step-instruction">{ step.instruction.clone() }</code>
                                <span class="step-state">{ mark.label() }</span>
                            </li>
                        }
                    }) }
                </ol>
            </div>
        },
    }
}

fn state_class(state: BuildState) -> &'static str {
    match state {
        BuildState::Idle => "idle",
        BuildState::Running => "running",
        BuildState::Succeeded => "succeeded",
        BuildState::Failed => "failed",
    }
}
