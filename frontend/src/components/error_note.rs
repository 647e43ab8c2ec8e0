//! A daemon error shown where it happened, in plain words, with an optional retry.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ErrorNoteProps {
    /// What was being done ("Loading containers").
    pub doing: AttrValue,
    pub error: AttrValue,
    #[prop_or_default]
    pub retry: Option<Callback<MouseEvent>>,
}

#[function_component(ErrorNote)]
pub fn error_note(props: &ErrorNoteProps) -> Html {
    html! {
        <div class="error-note" role="alert">
            <strong>{ format!("{} failed: ", props.doing) }</strong>
            <span>{ props.error.clone() }</span>
            if let Some(retry) = &props.retry {
                <button onclick={retry.clone()}>{ "Try again" }</button>
            }
        </div>
    }
}
