//! One small chart of the stats panel: a line over the last samples with a value axis (round ticks, labelled in
//! the figure's unit) and a time axis (minutes ago to now), drawn as SVG in the page's colours.

use yew::prelude::*;

use crate::logic::chart_axes::ticks;

/// Samples across the time axis: Docker sends one a second.
pub const SPAN_SAMPLES: usize = 120;

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 120.0;
/// Room for the value labels on the left and the time labels below.
const LEFT: f64 = 58.0;
const BOTTOM: f64 = 18.0;
const TOP: f64 = 8.0;
const RIGHT: f64 = 6.0;

#[derive(Properties, PartialEq)]
pub struct StatsChartProps {
    /// `cpu`, `memory` or `network`: the chart's class and `data-chart`.
    pub kind: &'static str,
    /// Oldest first; the newest sits at the right edge.
    pub values: Vec<f64>,
    /// The value at the top of the axis.
    pub top: f64,
    /// How a tick value is written (`50 %`, `33.5 MB`, `1.2 KB/s`).
    pub label: Callback<f64, String>,
}

#[function_component(StatsChart)]
pub fn stats_chart(props: &StatsChartProps) -> Html {
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let top = if props.top > 0.0 { props.top } else { 1.0 };
    let y_of = |value: f64| TOP + plot_height - (value / top).clamp(0.0, 1.0) * plot_height;
    let step = plot_width / (SPAN_SAMPLES as f64 - 1.0);
    let first_x = LEFT + plot_width - step * props.values.len().saturating_sub(1) as f64;
    let points: String = props
        .values
        .iter()
        .enumerate()
        .map(|(index, value)| format!("{:.1},{:.1} ", first_x + index as f64 * step, y_of(*value)))
        .collect();
    let span_minutes = SPAN_SAMPLES / 60;
    let time_ticks = [(LEFT, format!("−{span_minutes} min"), "start"), (LEFT + plot_width, "now".to_string(), "end")];
    html! {
        <svg class={classes!("chart", props.kind)} data-chart={props.kind} viewBox={format!("0 0 {WIDTH} {HEIGHT}")}
             role="img" aria-label={format!("{} over the last {span_minutes} minutes", props.kind)}>
            <g class="axis y-axis">
                <line x1={LEFT.to_string()} y1={TOP.to_string()} x2={LEFT.to_string()}
                      y2={(TOP + plot_height).to_string()} />
                { for ticks(top, 2).into_iter().map(|value| {
                    let y = y_of(value);
                    html! {
                        <>
                            <line class="grid" x1={LEFT.to_string()} x2={(LEFT + plot_width).to_string()}
                                  y1={format!("{y:.1}")} y2={format!("{y:.1}")} />
                            <text class="tick-label" x={(LEFT - 4.0).to_string()} y={format!("{:.1}", y + 3.5)}
                                  text-anchor="end">{ props.label.emit(value) }</text>
                        </>
                    }
                }) }
            </g>
            <g class="axis x-axis">
                <line x1={LEFT.to_string()} y1={(TOP + plot_height).to_string()} x2={(LEFT + plot_width).to_string()}
                      y2={(TOP + plot_height).to_string()} />
                { for time_ticks.into_iter().map(|(x, text, anchor)| html! {
                    <text class="tick-label" x={x.to_string()} y={(HEIGHT - 4.0).to_string()}
                          text-anchor={anchor}>{ text }</text>
                }) }
            </g>
            <polyline class="series" points={points} fill="none" />
        </svg>
    }
}
