//! Live resource use of a container (`stats?stream=1`), plotted over the last minutes as SVG lines.

use std::collections::VecDeque;

use berth_shared::api::models::ContainerStatsResponse;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;
use crate::logic::format;
use crate::logic::json_lines::JsonLines;
use crate::logic::stats::{sample, StatsSample};

/// Samples kept: Docker sends one a second.
const KEEP: usize = 120;

#[derive(Properties, PartialEq)]
pub struct StatsProps {
    pub id: AttrValue,
}

#[function_component(Stats)]
pub fn stats(props: &StatsProps) -> Html {
    let samples = use_state(VecDeque::<StatsSample>::new);
    let error = use_state(|| None::<String>);
    let generation = use_mut_ref(|| 0_u32);
    {
        let (samples, error, generation) = (samples.clone(), error.clone(), generation.clone());
        use_effect_with(props.id.clone(), move |id| {
            let mine = {
                let mut current = generation.borrow_mut();
                *current = current.wrapping_add(1);
                *current
            };
            let (id, task_generation) = (id.to_string(), generation.clone());
            spawn_local(async move {
                let mut body = match api::containers::stats(&id).await {
                    Ok(body) => body,
                    Err(problem) => return error.set(Some(problem.to_string())),
                };
                let mut lines = JsonLines::default();
                // The state handle's value is the one from when the task started; keep the series here.
                let mut series = VecDeque::new();
                while *task_generation.borrow() == mine {
                    match body.next().await {
                        Ok(Some(chunk)) => {
                            for value in lines.push::<ContainerStatsResponse>(&chunk).into_iter().flatten() {
                                series.push_back(sample(&value));
                                if series.len() > KEEP {
                                    series.pop_front();
                                }
                            }
                            if *task_generation.borrow() == mine {
                                samples.set(series.clone());
                            }
                        }
                        Ok(None) => break,
                        Err(problem) => return error.set(Some(problem.to_string())),
                    }
                }
            });
            move || {
                let mut current = generation.borrow_mut();
                *current = current.wrapping_add(1);
            }
        });
    }

    let latest = samples.back().copied().unwrap_or_default();
    let cpu: Vec<f64> = samples.iter().map(|point| point.cpu_percent).collect();
    let memory: Vec<f64> = samples.iter().map(|point| point.memory_bytes as f64).collect();
    let cpu_ceiling = cpu.iter().copied().fold(100.0, f64::max);
    let memory_ceiling = if latest.memory_limit > 0 && latest.memory_limit < u64::MAX / 2 {
        latest.memory_limit as f64
    } else {
        memory.iter().copied().fold(1.0, f64::max) * 1.25
    };
    html! {
        <div class="stats">
            if let Some(problem) = &*error { <ErrorNote doing="Reading stats" error={problem.clone()} /> }
            <div class="stat-cards">
                <div class="stat-card"><h3>{ "CPU" }</h3><p>{ format!("{:.1} %", latest.cpu_percent) }</p>
                    { chart(&cpu, cpu_ceiling, "cpu") }</div>
                <div class="stat-card"><h3>{ "Memory" }</h3>
                    <p>{ format::bytes(latest.memory_bytes) }
                        if latest.memory_limit > 0 && latest.memory_limit < u64::MAX / 2 {
                            { format!(" of {}", format::bytes(latest.memory_limit)) }
                        }
                    </p>
                    { chart(&memory, memory_ceiling, "memory") }</div>
                <div class="stat-card"><h3>{ "Processes" }</h3><p>{ latest.pids }</p></div>
                <div class="stat-card"><h3>{ "Network" }</h3>
                    <p>{ format!("↓ {} ↑ {}", format::bytes(latest.network_rx), format::bytes(latest.network_tx)) }</p></div>
            </div>
            if samples.is_empty() && error.is_none() { <p class="muted">{ "Waiting for the first sample…" }</p> }
        </div>
    }
}

/// A polyline of `values` scaled to `ceiling`, newest on the right.
fn chart(values: &[f64], ceiling: f64, class: &'static str) -> Html {
    let (width, height) = (240.0, 60.0);
    let step = width / (KEEP as f64 - 1.0);
    let offset = width - step * (values.len().saturating_sub(1)) as f64;
    let points: String = values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let y = height - (value / ceiling.max(f64::EPSILON)).clamp(0.0, 1.0) * height;
            format!("{:.1},{:.1} ", offset + index as f64 * step, y)
        })
        .collect();
    html! {
        <svg class={classes!("chart", class)} viewBox="0 0 240 60" preserveAspectRatio="none" role="img"
             aria-label={format!("{class} over time")}>
            <polyline points={points} fill="none" />
        </svg>
    }
}
