//! Request handlers, one module per resource.

pub mod models;
pub mod runs;
pub mod runtime;
pub mod secrets;
pub mod sessions;
pub mod system;
