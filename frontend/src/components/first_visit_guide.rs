//! The guide a first visit sees above the playground: three steps (write a Dockerfile, build it, run it), the
//! step reached marked from the build's state, until it is dismissed (remembered in localStorage).

use yew::prelude::*;

use crate::logic::build_progress::BuildState;
use crate::store::{local_storage, BuildHandle};

const DISMISSED_KEY: &str = "berth.guide-dismissed";

#[function_component(FirstVisitGuide)]
pub fn first_visit_guide() -> Html {
    let dismissed =
        use_state(|| local_storage().and_then(|storage| storage.get_item(DISMISSED_KEY).ok().flatten()).is_some());
    let build = use_context::<BuildHandle>();
    if *dismissed {
        return html! {};
    }
    let dismiss = {
        let dismissed = dismissed.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(storage) = local_storage() {
                // Full storage only means the guide comes back on the next visit.
                let _ = storage.set_item(DISMISSED_KEY, "1");
            }
            dismissed.set(true);
        })
    };
    // The step to do next: build until a build succeeded, then run.
    let built = build.is_some_and(|build| build.progress.state == BuildState::Succeeded);
    let steps = [
        ("Write", "a Dockerfile in the editor (or start from an example above); problems show as you type.", false),
        ("Build", "it with the Build button or Ctrl+Enter; each step shows as it runs.", !built),
        ("Run", "the image with Run under the build: you get a terminal in the container.", built),
    ];
    html! {
        <aside class="first-visit-guide" aria-label="Getting started">
            <ol>
                { for steps.iter().enumerate().map(|(index, (step, what, next))| html! {
                    <li class={classes!(next.then_some("next"))} data-step={step.to_lowercase()}>
                        <span class="step-number">{ index + 1 }</span>
                        <strong>{ *step }</strong><span class="step-what">{ " " }{ *what }</span>
                    </li>
                }) }
            </ol>
            <button class="dismiss-guide" onclick={dismiss} aria-label="Dismiss the guide">{ "Got it" }</button>
        </aside>
    }
}
