//! What crosses the wire between the daemon and its clients: the Engine API models, generated from Docker's
//! OpenAPI spec by bollard-stubs (never hand-written here), and Berth's own types for the playground.

pub use bollard_stubs::models;

pub mod terminal;
