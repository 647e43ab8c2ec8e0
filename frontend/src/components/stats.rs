//! Live resource use of a container (`stats?stream=1`): the figures now and, over the last two minutes, charts with
//! axes of CPU %, memory against its limit and the network rate.

use std::collections::VecDeque;

use berth_shared::api::models::ContainerStatsResponse;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::error_note::ErrorNote;
use crate::components::stats_chart::{StatsChart, SPAN_SAMPLES};
use crate::logic::chart_axes::round_top;
use crate::logic::format;
use crate::logic::json_lines::JsonLines;
use crate::logic::stats::{network_rates, sample, StatsSample};

/// Samples kept: one more than the chart spans, so the network rate (a difference) spans it too.
const KEEP: usize = SPAN_SAMPLES + 1;

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
    let history: Vec<StatsSample> = samples.iter().copied().collect();
    let cpu: Vec<f64> = history.iter().map(|point| point.cpu_percent).collect();
    let memory: Vec<f64> = history.iter().map(|point| point.memory_bytes as f64).collect();
    let network = network_rates(&history);
    // An unlimited container reports the host's memory (or u64::MAX): no limit worth drawing.
    let memory_limit = (latest.memory_limit > 0 && latest.memory_limit < u64::MAX / 2).then_some(latest.memory_limit);
    let cpu_top = round_top(cpu.iter().copied().fold(0.0, f64::max), 100.0);
    let memory_top = match memory_limit {
        Some(limit) => limit as f64,
        None => round_top(memory.iter().copied().fold(0.0, f64::max), 1_000_000.0),
    };
    let network_top = round_top(network.iter().copied().fold(0.0, f64::max), 1000.0);
    let network_now = network.last().copied().unwrap_or(0.0);
    html! {
        <div class="stats">
            if let Some(problem) = &*error { <ErrorNote doing="Reading stats" error={problem.clone()} /> }
            <div class="stat-cards">
                <div class="stat-card" data-stat="cpu"><h3>{ "CPU" }</h3>
                    <p class="stat-value">{ format!("{:.1} %", latest.cpu_percent) }</p>
                    <StatsChart kind="cpu" values={cpu} top={cpu_top}
                        label={Callback::from(|value: f64| format!("{value:.0} %"))} /></div>
                <div class="stat-card" data-stat="memory"><h3>{ "Memory" }</h3>
                    <p class="stat-value">{ format::bytes(latest.memory_bytes) }
                        if let Some(limit) = memory_limit { { format!(" of {}", format::bytes(limit)) } }
                    </p>
                    <StatsChart kind="memory" values={memory} top={memory_top}
                        label={Callback::from(|value: f64| format::bytes(value as u64))} /></div>
                <div class="stat-card" data-stat="network"><h3>{ "Network" }</h3>
                    <p class="stat-value">{ format!("{}/s", format::bytes(network_now as u64)) }</p>
                    <StatsChart kind="network" values={network} top={network_top}
                        label={Callback::from(|value: f64| format!("{}/s", format::bytes(value as u64)))} />
                    <p class="muted">{ format!("↓ {} ↑ {} in all", format::bytes(latest.network_rx), format::bytes(latest.network_tx)) }</p></div>
                <div class="stat-card" data-stat="pids"><h3>{ "Processes" }</h3>
                    <p class="stat-value">{ latest.pids }</p></div>
            </div>
            if samples.is_empty() && error.is_none() { <p class="muted">{ "Waiting for the first sample…" }</p> }
        </div>
    }
}
