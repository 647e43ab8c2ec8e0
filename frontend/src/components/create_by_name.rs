//! The create form of the networks and volumes pages: a name box and a button, the daemon's error shown beside
//! them; cleared when the daemon made it.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::DaemonError;
use crate::components::error_note::ErrorNote;

/// Makes the thing named by its argument.
pub type Create = Rc<dyn Fn(String) -> Pin<Box<dyn Future<Output = Result<(), DaemonError>>>>>;

#[derive(Properties)]
pub struct CreateByNameProps {
    /// "network" or "volume".
    pub what: AttrValue,
    pub create: Create,
    /// Called after a create succeeded (the page lists again).
    pub on_created: Callback<()>,
}

impl PartialEq for CreateByNameProps {
    fn eq(&self, other: &Self) -> bool {
        self.what == other.what && Rc::ptr_eq(&self.create, &other.create) && self.on_created == other.on_created
    }
}

#[function_component(CreateByName)]
pub fn create_by_name(props: &CreateByNameProps) -> Html {
    let name = use_state(String::new);
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let on_input = {
        let name = name.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event.target_dyn_into::<web_sys::HtmlInputElement>() {
                name.set(input.value());
            }
        })
    };
    let on_submit = {
        let (name, error, busy, create, on_created) =
            (name.clone(), error.clone(), busy.clone(), props.create.clone(), props.on_created.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let wanted = name.trim().to_string();
            if wanted.is_empty() {
                return;
            }
            let (name, error, busy, on_created) = (name.clone(), error.clone(), busy.clone(), on_created.clone());
            let made = create(wanted);
            busy.set(true);
            spawn_local(async move {
                match made.await {
                    Ok(()) => {
                        error.set(None);
                        name.set(String::new());
                        on_created.emit(());
                    }
                    Err(problem) => error.set(Some(problem.to_string())),
                }
                busy.set(false);
            });
        })
    };
    html! {
        <form class="create-by-name" onsubmit={on_submit}>
            <input name="name" placeholder={format!("new {} name", props.what)} aria-label={format!("New {} name", props.what)}
                   value={(*name).clone()} oninput={on_input} />
            <button class="primary" type="submit" disabled={*busy || name.trim().is_empty()}>
                { format!("Create {}", props.what) }
            </button>
            if let Some(problem) = &*error {
                <ErrorNote doing={format!("Creating the {}", props.what)} error={problem.clone()} />
            }
        </form>
    }
}
