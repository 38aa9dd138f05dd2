//! One module per command group; each renders human output or `--json`.

pub mod models;
pub mod runs;
pub mod runtime;
pub mod secrets;
pub mod sessions;
pub mod status;
