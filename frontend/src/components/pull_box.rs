//! The images page's pull box: a name field and a Pull button, then the pull as it goes (a row per layer with its
//! status and a bar while bytes move), and how it ended: dockerd's `Status:` line or the error. The run dialog uses
//! it too, given the name it holds (`reference`): then there is no field, only a button to pull that name.

use std::rc::Rc;

use bollard_stubs::models::CreateImageInfo;
use web_sys::HtmlInputElement;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;
use crate::logic::format;
use crate::logic::image_reference::PullReference;
use crate::logic::pull_progress::{LayerProgress, PullProgress, PullState};

#[derive(Properties, PartialEq)]
pub struct PullBoxProps {
    /// Called when a pull ends, however it ended: the daemon finishes a pull whose stream broke off, so even then
    /// the store may have the image.
    pub on_finished: Callback<()>,
    /// The name to pull, fixed by the caller (the run dialog's image field): the box shows a button for it instead
    /// of a name field. A plain `div`, not a form, so that it can sit inside the caller's form.
    #[prop_or_default]
    pub reference: Option<AttrValue>,
    /// Called with the pulled reference (`name:tag`) when a pull succeeded.
    #[prop_or_default]
    pub on_pulled: Callback<String>,
}

/// The last pull, as the box shows it.
#[derive(Debug, Clone, PartialEq, Default)]
struct PullView(Option<PullProgress>);

enum PullAction {
    Start(String),
    Messages(Vec<CreateImageInfo>),
    Fail(String),
    End,
}

impl Reducible for PullView {
    type Action = PullAction;

    fn reduce(self: Rc<Self>, action: PullAction) -> Rc<Self> {
        let mut view = (*self).clone();
        match (action, view.0.as_mut()) {
            (PullAction::Start(reference), _) => view.0 = Some(PullProgress::started(reference)),
            (PullAction::Messages(messages), Some(pull)) => {
                for message in messages {
                    pull.apply(message);
                }
            }
            (PullAction::Fail(error), Some(pull)) => pull.fail(error),
            (PullAction::End, Some(pull)) => pull.end(),
            (_, None) => return self,
        }
        Rc::new(view)
    }
}

fn state_name(state: &PullState) -> &'static str {
    match state {
        PullState::Running => "running",
        PullState::Succeeded => "succeeded",
        PullState::Failed(_) => "failed",
    }
}

#[function_component(PullBox)]
pub fn pull_box(props: &PullBoxProps) -> Html {
    let name = use_state(String::new);
    // Said under the field when the name cannot be sent at all; the daemon's own refusals show as the pull's error.
    let name_problem = use_state(|| None::<String>);
    let pull = use_reducer(PullView::default);
    let running = matches!(pull.0.as_ref().map(|pull| &pull.state), Some(PullState::Running));

    let on_name = {
        let (name, name_problem) = (name.clone(), name_problem.clone());
        Callback::from(move |event: InputEvent| {
            name.set(event.target_unchecked_into::<HtmlInputElement>().value());
            name_problem.set(None);
        })
    };
    // Pulls `typed`, or says why it cannot be sent.
    let start = {
        let (name_problem, pull, on_finished, on_pulled) =
            (name_problem.clone(), pull.clone(), props.on_finished.clone(), props.on_pulled.clone());
        move |typed: &str| {
            if running {
                return;
            }
            let reference = match PullReference::parse(typed) {
                Ok(reference) => reference,
                Err(problem) => return name_problem.set(Some(problem.to_string())),
            };
            pull.dispatch(PullAction::Start(reference.to_string()));
            let (pull, on_finished, on_pulled) = (pull.clone(), on_finished.clone(), on_pulled.clone());
            spawn_local(async move {
                let sink = pull.clone();
                match api::images::pull(&reference, move |messages| sink.dispatch(PullAction::Messages(messages))).await
                {
                    Ok(()) => {
                        pull.dispatch(PullAction::End);
                        on_pulled.emit(reference.to_string());
                    }
                    Err(error) => pull.dispatch(PullAction::Fail(error.to_string())),
                }
                on_finished.emit(());
            });
        }
    };
    let on_submit = {
        let (name, start) = (name.clone(), start.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            start(name.as_str());
        })
    };

    if let Some(reference) = &props.reference {
        let on_click = {
            let reference = reference.clone();
            Callback::from(move |_: MouseEvent| start(reference.as_str()))
        };
        return html! {
            <section class="pull-box" aria-label="Pull an image">
                <div class="pull-form">
                    <button id="pull-button" type="button" class="primary" disabled={running} onclick={on_click}>
                        { if running { "Pulling…" } else { "Pull" } }
                    </button>
                    <code class="pull-reference">{ reference.clone() }</code>
                </div>
                if let Some(problem) = &*name_problem { <p class="bad pull-name-problem" role="alert">{ problem.clone() }</p> }
                if let Some(progress) = &pull.0 { { pull_view(progress) } }
            </section>
        };
    }

    html! {
        <section class="pull-box" aria-label="Pull an image">
            <form class="pull-form" onsubmit={on_submit}>
                <label for="pull-name">{ "Pull" }</label>
                <input id="pull-name" name="pull-name" value={(*name).clone()} oninput={on_name}
                       placeholder="127.0.0.1:5000/demo:1" aria-label="Image to pull" autocomplete="off"
                       spellcheck="false" aria-invalid={name_problem.is_some().to_string()} />
                <button id="pull-button" type="submit" class="primary" disabled={running}>
                    { if running { "Pulling…" } else { "Pull" } }
                </button>
                <span class="hint">{ "No tag means :latest; name@sha256:… pulls that digest." }</span>
            </form>
            if let Some(problem) = &*name_problem { <p class="bad pull-name-problem" role="alert">{ problem.clone() }</p> }
            if let Some(progress) = &pull.0 { { pull_view(progress) } }
        </section>
    }
}

fn pull_view(progress: &PullProgress) -> Html {
    let heading = progress.heading.clone().unwrap_or_else(|| format!("Pulling {}", progress.reference));
    let outcome = match &progress.state {
        PullState::Running => html! {},
        PullState::Succeeded => html! {
            <p class="ok-note pull-status" role="status">
                { progress.outcome.clone().unwrap_or_default() }
            </p>
        },
        PullState::Failed(error) => {
            html! { <ErrorNote doing={format!("Pulling {}", progress.reference)} error={error.clone()} /> }
        }
    };
    html! {
        <div class="pull-progress" data-reference={progress.reference.clone()} data-state={state_name(&progress.state)}
             aria-live="polite">
            <p class="pull-heading">
                <span>{ heading }</span>
                if let Some(summary) = progress.layers_summary() { <span class="muted">{ summary }</span> }
            </p>
            if !progress.layers.is_empty() {
                <ul class="pull-layers">{ for progress.layers.iter().map(layer_row) }</ul>
            }
            { for progress.notes.iter().map(|note| html! { <p class="pull-note muted">{ note.clone() }</p> }) }
            if let Some(digest) = &progress.digest {
                <p class="pull-digest muted">{ "Digest " }<code>{ digest.clone() }</code></p>
            }
            { outcome }
        </div>
    }
}

fn layer_row(layer: &LayerProgress) -> Html {
    html! {
        <li class={classes!("pull-layer", layer.is_done().then_some("done"))} data-layer={layer.id.clone()}
            data-status={layer.status.clone()}>
            <code class="layer-id">{ layer.id.clone() }</code>
            <span class="layer-status">{ layer.status.clone() }</span>
            if let Some((current, total)) = layer.bytes {
                <progress max={total.to_string()} value={current.to_string()}
                          aria-label={format!("{} of layer {}", layer.status, layer.id)} />
                <span class="layer-bytes">{ format!("{} / {}", format::bytes(current), format::bytes(total)) }</span>
            }
        </li>
    }
}
