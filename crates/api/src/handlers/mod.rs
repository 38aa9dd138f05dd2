//! Request handlers, one module per resource.

pub mod anthropic;
pub mod assets;
pub mod config;
pub mod keys;
pub mod models;
pub mod observations;
pub mod openai;
pub mod runs;
pub mod runtime;
pub mod secrets;
pub mod sessions;
pub mod system;
pub mod tools;
