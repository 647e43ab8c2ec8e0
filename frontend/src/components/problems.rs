//! The lint problems of the Dockerfile as a list under the editor, errors first: rule id, line and column, message,
//! and a one-click fix where the rule has one. Each row's place and message are a link that puts the editor's
//! cursor there. The same problems show inline in the editor.

use std::rc::Rc;

use berth_shared::dockerfile::lint::apply_fix;
use yew::prelude::*;

use crate::logic::lint::EditorDiagnostic;
use crate::store::{ProjectAction, ProjectHandle};

#[derive(Properties, PartialEq)]
pub struct ProblemsProps {
    pub diagnostics: Rc<Vec<EditorDiagnostic>>,
}

#[function_component(Problems)]
pub fn problems(props: &ProblemsProps) -> Html {
    let Some(project) = use_context::<ProjectHandle>() else { return html! {} };
    if props.diagnostics.is_empty() {
        return html! { <div class="problems clean" aria-live="polite">{ "✓ No problems found" }</div> };
    }
    html! {
        <ul class="problems" aria-label="Problems" aria-live="polite">
            { for props.diagnostics.iter().map(|diagnostic| {
                let fix = diagnostic.shared_fix.clone().map(|fix| {
                    let project = project.clone();
                    let title = fix.title.clone();
                    let onclick = Callback::from(move |_: MouseEvent| {
                        if let Some(file) = project.selected_file() {
                            project.dispatch(ProjectAction::Replace(apply_fix(&file.text, &fix)));
                        }
                    });
                    html! { <button class="fix-button" {onclick}>{ format!("Fix: {title}") }</button> }
                });
                let jump = {
                    let (project, line, column) = (project.clone(), diagnostic.line, diagnostic.column);
                    Callback::from(move |event: MouseEvent| {
                        event.prevent_default();
                        project.dispatch(ProjectAction::GoTo { line, column });
                    })
                };
                html! {
                    <li class={classes!("problem", diagnostic.severity)} data-rule={diagnostic.source.clone()}
                        data-line={diagnostic.line.to_string()} data-column={diagnostic.column.to_string()}>
                        <span class="rule">{ diagnostic.source.clone() }</span>
                        <a class="problem-link" href="#" onclick={jump}
                           title={format!("Go to line {}, column {}", diagnostic.line, diagnostic.column)}>
                            <span class="line">{ format!("line {}:{}", diagnostic.line, diagnostic.column) }</span>
                            <span class="message">{ diagnostic.message.clone() }</span>
                        </a>
                        { fix.unwrap_or_default() }
                    </li>
                }
            }) }
        </ul>
    }
}
