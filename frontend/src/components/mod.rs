//! One component per file. Pages: [`playground`], [`images_page`], [`layers_view`], [`containers_page`],
//! [`container_page`] (tabs: [`terminal`], [`logs`], [`stats`], [`inspect`], [`changes`]), [`networks_page`],
//! [`volumes_page`], [`compose_page`], [`security_page`], [`routes_page`]
//! (one route: [`route_view`]). Parts: [`file_list`], [`code_editor`], [`problems`], [`build_panel`], [`run_dialog`],
//! [`error_note`], [`first_visit_guide`], [`create_by_name`], [`shortcuts_overlay`], [`confirm_button`], [`exited_panel`], [`stats_chart`], [`compose_graph_view`], [`compose_logs`], [`pull_box`].

pub mod build_panel;
pub mod changes;
pub mod code_editor;
pub mod compose_graph_view;
pub mod compose_logs;
pub mod compose_page;
pub mod confirm_button;
pub mod container_page;
pub mod containers_page;
pub mod create_by_name;
pub mod error_note;
pub mod exited_panel;
pub mod file_list;
pub mod first_visit_guide;
pub mod images_page;
pub mod inspect;
pub mod layers_view;
pub mod logs;
pub mod networks_page;
pub mod playground;
pub mod problems;
pub mod pull_box;
pub mod route_view;
pub mod routes_page;
pub mod run_dialog;
pub mod security_page;
pub mod shortcuts_overlay;
pub mod stats;
pub mod stats_chart;
pub mod terminal;
pub mod volumes_page;
