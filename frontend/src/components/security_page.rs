//! The security review: for each container what a reviewer would flag in how it was created (root, privileged,
//! capabilities, limits, host namespaces, the daemon's socket, secrets, open ports, seccomp), each with its
//! severity, why it matters and the docker flag that fixes it. The daemon's rules decide (`GET /berth/audit`);
//! the page only shows them.

use berth_shared::api::audit::{ContainerAudit, Finding, Severity};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;
use crate::logic::{code_spans, format};
use crate::route::{ContainerTab, Route};

const SEVERITIES: [Severity; 3] = [Severity::High, Severity::Medium, Severity::Low];

#[function_component(SecurityPage)]
pub fn security_page() -> Html {
    let answer = use_state(|| None::<Result<Vec<ContainerAudit>, api::DaemonError>>);
    let reload = use_state(|| 0_u32);
    {
        let answer = answer.clone();
        use_effect_with(*reload, move |_| spawn_local(async move { answer.set(Some(api::audit::all().await)) }));
    }
    let refresh = {
        let reload = reload.clone();
        Callback::from(move |_: MouseEvent| reload.set(reload.wrapping_add(1)))
    };

    let body = match &*answer {
        None => html! { <p class="loading">{ "Reviewing containers…" }</p> },
        Some(Err(error)) if error.is_not_found() => {
            html! { <p class="empty">{ "This daemon has no security review yet." }</p> }
        }
        Some(Err(error)) => {
            html! { <ErrorNote doing="Reviewing containers" error={error.to_string()} retry={refresh.clone()} /> }
        }
        Some(Ok(audits)) if audits.is_empty() => html! {
            <p class="empty audit-empty">{ "No containers to review yet. Run one and what a reviewer would flag shows here." }</p>
        },
        Some(Ok(audits)) => {
            let count = |severity: Severity| {
                audits.iter().flat_map(|audit| &audit.findings).filter(|f| f.severity == severity).count()
            };
            let summary = if audits.iter().all(|audit| audit.findings.is_empty()) {
                html! {
                    <p class="empty audit-empty">
                        { format!("Nothing flagged: {} checked, none with a finding.", containers_word(audits.len())) }
                    </p>
                }
            } else {
                html! {
                    <p class="audit-summary">
                        { format!("{} checked: ", containers_word(audits.len())) }
                        { for SEVERITIES.iter().map(|severity| html! {
                            <span class={classes!("severity", severity.label())}>
                                { format!("{} {}", count(*severity), severity.label()) }
                            </span>
                        }) }
                    </p>
                }
            };
            html! {
                <>
                    { summary }
                    <div class="audit-list">{ for worst_first(audits).into_iter().map(container_card) }</div>
                </>
            }
        }
    };

    html! {
        <section class="page security-page">
            <div class="page-head">
                <h1>{ "Security" }</h1>
                <button onclick={refresh}>{ "Refresh" }</button>
            </div>
            <p class="muted">
                { "What a reviewer would flag in how each container was created, with why it matters and the flag that fixes it. Change a flag, run the container again, and the finding goes." }
            </p>
            { body }
        </section>
    }
}

/// Containers with a high finding first, then medium, low, and the clean ones last; within each, the daemon's
/// order (newest first).
fn worst_first(audits: &[ContainerAudit]) -> Vec<&ContainerAudit> {
    let mut sorted: Vec<&ContainerAudit> = audits.iter().collect();
    sorted.sort_by_key(|audit| {
        let worst = audit.findings.iter().map(|finding| finding.severity).min();
        (worst.is_none(), worst)
    });
    sorted
}

/// The daemon's backticked commands and flags as code.
fn with_code(text: &str) -> Html {
    html! {
        { for code_spans::split(text).into_iter().map(|span| if span.code {
            html! { <code>{ span.text }</code> }
        } else {
            html! { { span.text } }
        }) }
    }
}

fn containers_word(count: usize) -> String {
    format!("{count} container{}", if count == 1 { "" } else { "s" })
}

fn container_card(audit: &ContainerAudit) -> Html {
    let name = if audit.name.is_empty() { format::short_id(&audit.id).to_string() } else { audit.name.clone() };
    let link = Route::Container { id: audit.id.clone(), tab: ContainerTab::Inspect }.href();
    let worst = audit.findings.iter().map(|finding| finding.severity).min();
    html! {
        <article class={classes!("audit-container", worst.map(|s| s.label()))} data-container={audit.id.clone()}
                 data-name={audit.name.clone()}>
            <header class="audit-head">
                <h2><a href={link}>{ name }</a></h2>
                <span class="muted">{ audit.image.clone() }</span>
                <span class="audit-count">
                    { match audit.findings.len() {
                        0 => "nothing flagged".to_string(),
                        1 => "1 finding".to_string(),
                        n => format!("{n} findings"),
                    } }
                </span>
            </header>
            if audit.findings.is_empty() {
                <p class="ok-note">{ "Passes every check." }</p>
            } else {
                <ul class="findings">{ for audit.findings.iter().map(finding_row) }</ul>
            }
        </article>
    }
}

fn finding_row(finding: &Finding) -> Html {
    let severity = finding.severity.label();
    html! {
        <li class="finding" data-finding={finding.id.clone()} data-severity={severity}>
            <div class="finding-head">
                <span class={classes!("severity", severity)}>{ severity }</span>
                <strong class="finding-title">{ finding.title.clone() }</strong>
                <code class="finding-id muted">{ finding.id.clone() }</code>
            </div>
            <p class="finding-why">{ with_code(&finding.why) }</p>
            <p class="finding-fix"><span class="fix-label">{ "Fix: " }</span>{ with_code(&finding.fix) }</p>
        </li>
    }
}
