//! Run an image: name, command, environment, ports, volumes, limits and restart policy; creates and starts the
//! container, then opens its terminal. An image that is not local gets a pull box (the images page's): pulled, it
//! is picked.

use std::collections::HashMap;

use bollard_stubs::models::{ContainerCreateBody, HostConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;
use crate::components::pull_box::PullBox;
use crate::logic::image_reference;
use crate::logic::run_defaults;
use crate::route::{self, ContainerTab, Route};

#[derive(Properties, PartialEq)]
pub struct RunDialogProps {
    /// The image the dialog starts with, selected so that typing replaces it.
    pub image: AttrValue,
    pub on_close: Callback<()>,
}

/// The form's fields as typed.
#[derive(Debug, Clone, PartialEq, Default)]
struct RunForm {
    image: String,
    name: String,
    command: String,
    env: String,
    ports: String,
    volumes: String,
    memory_mb: String,
    cpus: String,
    pids: String,
    /// Docker's policy name, `no` unless chosen: what the dropdown shows is what is sent.
    restart: String,
}

impl RunForm {
    fn for_image(image: &str) -> RunForm {
        RunForm { image: image.to_string(), restart: "no".into(), ..RunForm::default() }
    }
}

/// Reads the form into a create body, or says which field is wrong. `interactive`: `docker run -it`, a tty and
/// open stdin, so an image whose command is a shell keeps running.
fn create_body(form: &RunForm, interactive: bool) -> Result<ContainerCreateBody, String> {
    if form.image.trim().is_empty() {
        return Err("the image is empty".into());
    }
    let list = |text: &str| -> Vec<String> {
        text.split(['\n', ',']).map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect()
    };
    let mut port_bindings = HashMap::new();
    let mut exposed_ports = Vec::new();
    for mapping in list(&form.ports) {
        // HOST:CONTAINER[/proto] or CONTAINER[/proto] (a random host port).
        let (host, container) = match mapping.rsplit_once(':') {
            Some((host, container)) => (Some(host.to_string()), container.to_string()),
            None => (None, mapping.clone()),
        };
        let (port, protocol) = container.split_once('/').unwrap_or((&container, "tcp"));
        if port.parse::<u16>().is_err() {
            return Err(format!("port mapping {mapping:?}: expected HOST:CONTAINER like 8080:80"));
        }
        let key = format!("{port}/{protocol}");
        exposed_ports.push(key.clone());
        port_bindings.insert(key, Some(vec![PortBinding { host_ip: None, host_port: host }]));
    }
    let number = |text: &str, what: &str| -> Result<Option<f64>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<f64>()
            .map(Some)
            .ok()
            .filter(|value| value.is_some_and(|v| v > 0.0))
            .ok_or_else(|| format!("{what}: {text:?} is not a positive number"))
    };
    let memory = number(&form.memory_mb, "memory")?.map(|mb| (mb * 1024.0 * 1024.0) as i64);
    let nano_cpus = number(&form.cpus, "CPUs")?.map(|cpus| (cpus * 1e9) as i64);
    let pids_limit = number(&form.pids, "process limit")?.map(|pids| pids as i64);
    let restart = match form.restart.as_str() {
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => RestartPolicyNameEnum::NO,
    };
    let command: Vec<String> = form.command.split_whitespace().map(str::to_string).collect();
    Ok(ContainerCreateBody {
        image: Some(form.image.trim().to_string()),
        cmd: (!command.is_empty()).then_some(command),
        tty: Some(interactive),
        open_stdin: Some(interactive),
        env: Some(list(&form.env)).filter(|env| !env.is_empty()),
        exposed_ports: Some(exposed_ports).filter(|ports| !ports.is_empty()),
        host_config: Some(HostConfig {
            port_bindings: Some(port_bindings).filter(|bindings| !bindings.is_empty()),
            binds: Some(list(&form.volumes)).filter(|binds| !binds.is_empty()),
            memory,
            nano_cpus,
            pids_limit,
            restart_policy: Some(RestartPolicy { name: Some(restart), maximum_retry_count: None }),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    })
}

#[function_component(RunDialog)]
pub fn run_dialog(props: &RunDialogProps) -> Html {
    let form = use_state(|| RunForm::for_image(&props.image));
    // `-it` follows the image's command (on for a shell) until the user ticks or unticks it.
    let interactive_chosen = use_state(|| None::<bool>);
    let shell_image = use_state(|| false);
    let image_input = use_node_ref();
    // The local images to pick from (None until listed, so that nothing is offered for a pull before), and the
    // image whose command decides `-it` (the one opened with, then each one picked or pulled).
    let local_images = use_state(|| None::<Vec<String>>);
    let inspected = use_state(|| props.image.to_string());
    // Bumped to list the local images again, after a pull.
    let listing = use_state(|| 0_u32);
    // The last image pulled from this dialog: its pull box stays to show how the pull ended.
    let pulled = use_state(|| None::<String>);
    {
        let local_images = local_images.clone();
        use_effect_with(*listing, move |_| {
            spawn_local(async move {
                if let Ok(images) = api::images::list().await {
                    let mut tags: Vec<String> = images
                        .into_iter()
                        .flat_map(|image| image.repo_tags)
                        .filter(|tag| tag != "<none>:<none>")
                        .collect();
                    tags.sort();
                    tags.dedup();
                    local_images.set(Some(tags));
                }
            });
        });
    }
    {
        let image_input = image_input.clone();
        use_effect_with(props.image.clone(), move |_| {
            if let Some(input) = image_input.cast::<web_sys::HtmlInputElement>() {
                let _ = input.focus();
                input.select();
            }
        });
    }
    {
        let shell_image = shell_image.clone();
        use_effect_with((*inspected).clone(), move |image| {
            let image = image.clone();
            spawn_local(async move {
                if let Ok(inspect) = api::images::inspect(&image).await {
                    let config = inspect.config.unwrap_or_default();
                    let entrypoint = config.entrypoint.unwrap_or_default();
                    shell_image.set(run_defaults::runs_a_shell(&entrypoint, &config.cmd.unwrap_or_default()));
                }
            });
        });
    }
    {
        // A pulled image is picked: the field holds its full name and its command decides -it. An effect, not the
        // pull's callback, so that fields typed while the pull ran are kept.
        let (form, inspected, interactive_chosen) = (form.clone(), inspected.clone(), interactive_chosen.clone());
        use_effect_with((*pulled).clone(), move |pulled| {
            if let Some(tag) = pulled {
                let mut next = (*form).clone();
                next.image = tag.clone();
                form.set(next);
                interactive_chosen.set(None);
                inspected.set(tag.clone());
            }
        });
    }
    let on_pulled = {
        let (pulled, listing) = (pulled.clone(), listing.clone());
        Callback::from(move |tag: String| {
            pulled.set(Some(tag));
            listing.set(*listing + 1);
        })
    };
    let pull_reference = local_images
        .as_ref()
        .and_then(|tags| image_reference::to_pull(&form.image, tags))
        .map(|reference| reference.to_string())
        .or_else(|| pulled.as_ref().filter(|tag| tag.as_str() == form.image.trim()).cloned());
    let interactive = interactive_chosen.unwrap_or(*shell_image);
    let error = use_state(|| None::<String>);
    let starting = use_state(|| false);

    let field = |label: &str,
                 value: &str,
                 placeholder: &str,
                 set: fn(&mut RunForm, String),
                 multiline: bool,
                 node: Option<NodeRef>| {
        let form = form.clone();
        let oninput = Callback::from(move |event: InputEvent| {
            let value = event
                .target_dyn_into::<web_sys::HtmlInputElement>()
                .map(|input| input.value())
                .or_else(|| event.target_dyn_into::<web_sys::HtmlTextAreaElement>().map(|area| area.value()));
            if let Some(value) = value {
                let mut next = (*form).clone();
                set(&mut next, value);
                form.set(next);
            }
        });
        let name = label.to_lowercase().replace(' ', "-");
        html! {
            <label class="field">
                <span>{ label.to_string() }</span>
                if multiline {
                    <textarea name={name} value={value.to_string()} placeholder={placeholder.to_string()} {oninput} rows="2" />
                } else {
                    <input name={name} ref={node.unwrap_or_default()} value={value.to_string()} placeholder={placeholder.to_string()} {oninput} />
                }
            </label>
        }
    };

    let on_restart = {
        let form = form.clone();
        Callback::from(move |event: Event| {
            if let Some(select) = event.target_dyn_into::<web_sys::HtmlSelectElement>() {
                let mut next = (*form).clone();
                next.restart = select.value();
                form.set(next);
            }
        })
    };
    let on_interactive = {
        let interactive_chosen = interactive_chosen.clone();
        Callback::from(move |_: Event| interactive_chosen.set(Some(!interactive)))
    };
    let submit = {
        let (form, error, starting) = (form.clone(), error.clone(), starting.clone());
        let on_close = props.on_close.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let body = match create_body(&form, interactive) {
                Ok(body) => body,
                Err(problem) => return error.set(Some(problem)),
            };
            let (name, error, starting, on_close) =
                (form.name.trim().to_string(), error.clone(), starting.clone(), on_close.clone());
            starting.set(true);
            spawn_local(async move {
                match api::containers::run(Some(&name), &body).await {
                    Ok(id) => {
                        on_close.emit(());
                        route::go(&Route::Container { id, tab: ContainerTab::Terminal });
                    }
                    Err(problem) => {
                        starting.set(false);
                        error.set(Some(problem.to_string()));
                    }
                }
            });
        })
    };
    let pick = |tag: String| {
        let (form, inspected, interactive_chosen) = (form.clone(), inspected.clone(), interactive_chosen.clone());
        Callback::from(move |_: MouseEvent| {
            let mut next = (*form).clone();
            next.image = tag.clone();
            form.set(next);
            // The picked image's own command decides -it again.
            interactive_chosen.set(None);
            inspected.set(tag.clone());
        })
    };
    let cancel = {
        let on_close = props.on_close.clone();
        Callback::from(move |_: MouseEvent| on_close.emit(()))
    };

    html! {
        <div class="dialog-backdrop">
            <form class="dialog run-dialog" role="dialog" aria-label="Run a container" onsubmit={submit}>
                <h2>{ "Run a container" }</h2>
                <div class="field-grid">
                    { field("Image", &form.image, "busybox", |form, value| form.image = value, false, Some(image_input.clone())) }
                    if let Some(reference) = pull_reference {
                        <div class="run-pull">
                            if pulled.as_deref() != Some(reference.as_str()) {
                                <p class="muted">{ "Not a local image: pull it first." }</p>
                            }
                            <PullBox reference={AttrValue::from(reference)} on_pulled={on_pulled}
                                     on_finished={Callback::noop()} />
                        </div>
                    }
                    if let Some(tags) = local_images.as_ref().filter(|tags| !tags.is_empty()) {
                        <div class="image-choices" role="group" aria-label="Local images">
                            <span class="muted">{ "Local images:" }</span>
                            { for tags.iter().map(|tag| html! {
                                <button type="button" data-image={tag.clone()}
                                        class={classes!("image-choice", (form.image.trim() == tag).then_some("chosen"))}
                                        onclick={pick(tag.clone())}>{ tag.clone() }</button>
                            }) }
                        </div>
                    }
                    { field("Name", &form.name, "optional", |form, value| form.name = value, false, None) }
                    { field("Command", &form.command, "the image's CMD", |form, value| form.command = value, false, None) }
                    { field("Environment", &form.env, "KEY=value, one per line", |form, value| form.env = value, true, None) }
                    { field("Ports", &form.ports, "8080:8080", |form, value| form.ports = value, true, None) }
                    { field("Volumes", &form.volumes, "data:/data", |form, value| form.volumes = value, true, None) }
                    { field("Memory MB", &form.memory_mb, "no limit", |form, value| form.memory_mb = value, false, None) }
                    { field("CPUs", &form.cpus, "no limit", |form, value| form.cpus = value, false, None) }
                    { field("Max processes", &form.pids, "no limit", |form, value| form.pids = value, false, None) }
                    <label class="field">
                        <span>{ "Restart" }</span>
                        <select onchange={on_restart} aria-label="Restart policy">
                            { for ["no", "always", "unless-stopped", "on-failure"].iter().map(|policy| html! {
                                <option value={*policy} selected={form.restart == *policy}>{ *policy }</option>
                            }) }
                        </select>
                    </label>
                    <label class="field checkbox">
                        <span>
                            <input type="checkbox" checked={interactive} onchange={on_interactive} />
                            { " Interactive (-it): keep a shell command running" }
                        </span>
                    </label>
                </div>
                if let Some(problem) = &*error {
                    <ErrorNote doing="Starting the container" error={problem.clone()} />
                }
                <div class="dialog-buttons">
                    <button type="button" onclick={cancel}>{ "Cancel" }</button>
                    <button type="submit" class="primary" id="run-submit" disabled={*starting}>
                        { if *starting { "Starting…" } else { "Run" } }
                    </button>
                </div>
            </form>
        </div>
    }
}
