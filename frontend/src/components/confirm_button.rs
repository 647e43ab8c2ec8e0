//! A button for an action that cannot be undone (every remove): the first press asks in place ("Remove web?"
//! with the action and Cancel), only the second does it, so a stray click loses nothing.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ConfirmButtonProps {
    /// The button's word, "Remove".
    pub label: AttrValue,
    /// What the question names: "Remove the container web?".
    pub question: AttrValue,
    pub on_confirm: Callback<()>,
    #[prop_or_default]
    pub disabled: bool,
    /// A symbol shown on the first button instead of the label (the label stays its accessible name), for tight
    /// rows such as the file list.
    #[prop_or_default]
    pub icon: Option<AttrValue>,
}

#[function_component(ConfirmButton)]
pub fn confirm_button(props: &ConfirmButtonProps) -> Html {
    let asking = use_state(|| false);
    let ask = {
        let asking = asking.clone();
        Callback::from(move |_: MouseEvent| asking.set(true))
    };
    let cancel = {
        let asking = asking.clone();
        Callback::from(move |_: MouseEvent| asking.set(false))
    };
    let confirm = {
        let (asking, on_confirm) = (asking.clone(), props.on_confirm.clone());
        Callback::from(move |_: MouseEvent| {
            asking.set(false);
            on_confirm.emit(());
        })
    };
    if *asking {
        html! {
            <span class="confirm" role="alertdialog" aria-label={props.question.clone()}>
                <span class="confirm-question">{ props.question.clone() }</span>
                <button class="danger confirm-yes" onclick={confirm}>{ props.label.clone() }</button>
                <button class="confirm-no" onclick={cancel}>{ "Cancel" }</button>
            </span>
        }
    } else {
        let shown = props.icon.clone().unwrap_or_else(|| props.label.clone());
        html! {
            <button class={classes!("danger-quiet", props.icon.is_some().then_some("icon-button"))} onclick={ask}
                    disabled={props.disabled} data-action={props.label.to_lowercase()}
                    aria-label={props.question.clone()} title={props.question.clone()}>{ shown }</button>
        }
    }
}
