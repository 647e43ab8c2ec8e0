//! Engine API models, generated from Docker's OpenAPI spec by bollard-stubs (never hand-written here).

pub use bollard_stubs::models;
