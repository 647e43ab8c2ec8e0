//! The services of a compose project as an SVG graph: a box per service (coloured by its container's state when
//! it has one), solid arrows for `depends_on`, dashed ones for `links`.

use std::collections::BTreeMap;
use std::rc::Rc;

use yew::prelude::*;

use crate::logic::compose_graph::{EdgeKind, Graph, NODE_HEIGHT, NODE_WIDTH};

#[derive(Properties, PartialEq)]
pub struct ComposeGraphProps {
    pub graph: Rc<Graph>,
    /// Service -> state of its container ("running", "exited", ...), for the colour.
    pub states: Rc<BTreeMap<String, String>>,
}

#[function_component(ComposeGraphView)]
pub fn compose_graph_view(props: &ComposeGraphProps) -> Html {
    let graph = &props.graph;
    if graph.nodes.is_empty() {
        return html! { <p class="muted">{ "No services yet." }</p> };
    }
    let view_box = format!("0 0 {} {}", graph.width, graph.height);
    html! {
        <svg class="compose-graph" viewBox={view_box} width={graph.width.to_string()} height={graph.height.to_string()}
             role="img" aria-label="Services and their dependencies">
            <defs>
                <marker id="compose-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7"
                        orient="auto-start-reverse">
                    <path d="M 0 0 L 10 5 L 0 10 z" class="compose-arrow-head" />
                </marker>
            </defs>
            { for graph.edges.iter().map(|edge| {
                let kind = match edge.kind { EdgeKind::DependsOn => "depends-on", EdgeKind::Link => "link" };
                // A gentle curve, so that edges between boxes of the same column stay visible.
                let middle = (edge.x1 + edge.x2) / 2.0;
                let path = format!(
                    "M {} {} C {middle} {}, {middle} {}, {} {}",
                    edge.x1, edge.y1, edge.y1, edge.y2, edge.x2, edge.y2
                );
                html! {
                    <path d={path} class={classes!("compose-edge", kind)} data-from={edge.from.clone()}
                          data-to={edge.to.clone()} marker-end="url(#compose-arrow)">
                        <title>{ format!("{} {} {}", edge.from,
                            if edge.kind == EdgeKind::Link { "links to" } else { "depends on" }, edge.to) }</title>
                    </path>
                }
            }) }
            { for graph.nodes.iter().map(|node| {
                let state = props.states.get(&node.name).cloned().unwrap_or_else(|| "absent".to_string());
                html! {
                    <g class={classes!("compose-node", format!("state-{state}"))} data-service={node.name.clone()}
                       data-state={state.clone()}>
                        <rect x={node.x.to_string()} y={node.y.to_string()} width={NODE_WIDTH.to_string()}
                              height={NODE_HEIGHT.to_string()} rx="6" />
                        <text x={(node.x + 10.0).to_string()} y={(node.y + 18.0).to_string()} class="name">
                            { node.name.clone() }
                        </text>
                        <text x={(node.x + 10.0).to_string()} y={(node.y + 35.0).to_string()} class="state">
                            { state }
                        </text>
                    </g>
                }
            }) }
        </svg>
    }
}
