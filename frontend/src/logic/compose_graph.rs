//! The graph of a compose project's services for the page: `depends_on` edges (solid) and `links` (dashed), laid
//! out in columns by dependency depth, so that what starts first is on the left and an arrow always points from a
//! service to one it needs.

use std::collections::BTreeMap;

use berth_shared::compose::Project;

pub const NODE_WIDTH: f64 = 150.0;
pub const NODE_HEIGHT: f64 = 44.0;
const COLUMN_GAP: f64 = 70.0;
const ROW_GAP: f64 = 22.0;
const MARGIN: f64 = 12.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    DependsOn,
    /// A `links:` entry (it implies the dependency too).
    Link,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    /// Top-left corner.
    pub x: f64,
    pub y: f64,
    /// 0 for services that need nothing.
    pub depth: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// The service that needs `to`.
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// From the left side of the dependent's box to the right side of the dependency's box.
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub width: f64,
    pub height: f64,
}

/// The edges of `project`: one per (service, dependency) pair, a link winning over a plain `depends_on`.
pub fn edges_of(project: &Project) -> Vec<(String, String, EdgeKind)> {
    let mut edges: BTreeMap<(String, String), EdgeKind> = BTreeMap::new();
    for (name, service) in &project.services {
        for dependency in service.depends_on.keys() {
            edges.entry((name.clone(), dependency.clone())).or_insert(EdgeKind::DependsOn);
        }
        for link in &service.links {
            let target = link.split_once(':').map_or(link.as_str(), |(service, _)| service);
            edges.insert((name.clone(), target.to_string()), EdgeKind::Link);
        }
    }
    edges
        .into_iter()
        .filter(|((from, to), _)| from != to && project.services.contains_key(to))
        .map(|((from, to), kind)| (from, to, kind))
        .collect()
}

/// Lays out `services` (in file order) with `edges`; tolerates cycles (a cycle's depths stop growing at the
/// number of services) although a loaded project has none.
pub fn layout(services: &[String], edges: &[(String, String, EdgeKind)]) -> Graph {
    let index = |name: &str| services.iter().position(|service| service == name);
    // Longest path to a service with no dependency, by relaxation: at most n rounds.
    let mut depth = vec![0_usize; services.len()];
    for _ in 0..services.len() {
        let mut changed = false;
        for (from, to, _) in edges {
            if let (Some(from), Some(to)) = (index(from), index(to)) {
                let wanted = (depth[to] + 1).min(services.len());
                if depth[from] < wanted {
                    depth[from] = wanted;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows_in_column: BTreeMap<usize, usize> = BTreeMap::new();
    let nodes: Vec<Node> = services
        .iter()
        .zip(&depth)
        .map(|(name, &depth)| {
            let row = rows_in_column.entry(depth).or_insert(0);
            let node = Node {
                name: name.clone(),
                x: MARGIN + depth as f64 * (NODE_WIDTH + COLUMN_GAP),
                y: MARGIN + *row as f64 * (NODE_HEIGHT + ROW_GAP),
                depth,
            };
            *row += 1;
            node
        })
        .collect();
    let node = |name: &str| nodes.iter().find(|node| node.name == name);
    let edges = edges
        .iter()
        .filter_map(|(from, to, kind)| {
            let (start, end) = (node(from)?, node(to)?);
            Some(Edge {
                from: from.clone(),
                to: to.clone(),
                kind: *kind,
                x1: start.x,
                y1: start.y + NODE_HEIGHT / 2.0,
                x2: end.x + NODE_WIDTH,
                y2: end.y + NODE_HEIGHT / 2.0,
            })
        })
        .collect();
    let columns = depth.iter().max().map_or(0, |deepest| deepest + 1);
    let rows = rows_in_column.values().max().copied().unwrap_or(0);
    Graph {
        nodes,
        edges,
        width: 2.0 * MARGIN + columns as f64 * NODE_WIDTH + columns.saturating_sub(1) as f64 * COLUMN_GAP,
        height: 2.0 * MARGIN + rows as f64 * NODE_HEIGHT + rows.saturating_sub(1) as f64 * ROW_GAP,
    }
}

/// The graph of a loaded project.
pub fn graph_of(project: &Project) -> Graph {
    let services: Vec<String> = project.services.keys().cloned().collect();
    layout(&services, &edges_of(project))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_shared::compose::{load, LoadOptions};
    use wasm_bindgen_test::wasm_bindgen_test;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[wasm_bindgen_test]
    fn dependencies_go_left_and_arrows_point_at_them() {
        let edges = vec![
            ("web".to_string(), "db".to_string(), EdgeKind::DependsOn),
            ("worker".to_string(), "web".to_string(), EdgeKind::Link),
            ("worker".to_string(), "db".to_string(), EdgeKind::DependsOn),
        ];
        let graph = layout(&names(&["worker", "web", "db", "cache"]), &edges);
        let depth = |name: &str| graph.nodes.iter().find(|node| node.name == name).unwrap().depth;
        assert_eq!((depth("db"), depth("cache"), depth("web"), depth("worker")), (0, 0, 1, 2));
        // db and cache share column 0, one above the other.
        let db = graph.nodes.iter().find(|node| node.name == "db").unwrap();
        let cache = graph.nodes.iter().find(|node| node.name == "cache").unwrap();
        assert_eq!(db.x, cache.x);
        assert!(cache.y > db.y);
        for edge in &graph.edges {
            assert!(edge.x1 > edge.x2, "{edge:?} should point left, to the dependency");
        }
        assert!(graph
            .nodes
            .iter()
            .all(|node| node.x + NODE_WIDTH <= graph.width && node.y + NODE_HEIGHT <= graph.height));
    }

    #[wasm_bindgen_test]
    fn cycles_do_not_hang() {
        let edges = vec![
            ("a".to_string(), "b".to_string(), EdgeKind::DependsOn),
            ("b".to_string(), "a".to_string(), EdgeKind::DependsOn),
        ];
        let graph = layout(&names(&["a", "b"]), &edges);
        assert_eq!(graph.nodes.len(), 2);
        assert!(graph.nodes.iter().all(|node| node.depth <= 2));
    }

    #[wasm_bindgen_test]
    fn links_and_depends_on_from_a_compose_file() {
        let text = "services:\n  web:\n    image: busybox\n  worker:\n    image: busybox\n    depends_on: [web]\n    links: [\"web:site\"]\n  db:\n    image: busybox\n  api:\n    image: busybox\n    depends_on: [db]\n";
        let loaded = load(&[("compose.yaml", text)], &LoadOptions::default()).expect("a valid project");
        let edges = edges_of(&loaded.project);
        assert_eq!(
            edges,
            vec![
                ("api".to_string(), "db".to_string(), EdgeKind::DependsOn),
                ("worker".to_string(), "web".to_string(), EdgeKind::Link),
            ]
        );
        let graph = graph_of(&loaded.project);
        assert_eq!(graph.nodes.len(), 4);
        assert_eq!(graph.edges.len(), 2);
    }
}
