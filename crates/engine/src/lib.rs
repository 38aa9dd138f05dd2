//! The ferry session engine: sessions, runs, per-session queueing, retries and fallbacks
//! over the driver, live events with replay, crash recovery and graceful shutdown.
//! It is the only crate that combines config, secrets, store and driver.

mod engine;
mod error;
mod input;
mod live;
mod routes;
mod secrets;
pub mod tools;

pub use engine::{
    ActiveTarget, Engine, RuntimeView, SessionView, StatusView, SubmitOptions, Submitted,
};
pub use error::EngineError;
pub use input::{InputRequest, PlannedModel, RunPlan};
pub use live::{Event, LiveRun, Subscription};
pub use routes::{RouteStatus, RouteTable};
pub use secrets::SecretsHandle;
