//! One module per command group; each renders human output or `--json`.

pub mod assets;
pub mod audio;
pub mod completions;
pub mod config;
pub mod db;
pub mod doctor;
pub mod image;
pub mod keys;
pub mod media;
pub mod models;
pub mod onboard;
pub mod runs;
pub mod runtime;
pub mod secrets;
pub mod sessions;
pub mod status;
pub mod video;
