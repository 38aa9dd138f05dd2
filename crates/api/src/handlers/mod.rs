//! Request handlers, one module per resource.

pub mod config;
pub mod openai;
pub mod runs;
pub mod runtime;
pub mod secrets;
pub mod sessions;
pub mod system;
