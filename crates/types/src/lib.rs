//! ferry's typed contract: run events, run and session views, problem codes, tool results
//! and the problem document — the shapes the engine emits, the API answers (and documents in its
//! OpenAPI schemas) and the CLI reads. Depends on no other ferry crate.

mod event;
mod health;
mod problem;
mod problem_code;
mod secrets;
mod status;
mod tool;
mod views;

pub use event::{
    AssetCreated, EventError, Payload, RunCompleted, RunEnded, RunEvent, RunStarted, TextDelta,
    ToolCompleted, ToolError, ToolProgress, ToolStarted,
};
pub use health::{Health, HealthStatus};
pub use problem::ProblemDocument;
pub use problem_code::{ProblemCode, UnknownProblemCode};
pub use secrets::{SecretDeleted, SecretList, SecretMeta, SecretStored};
pub use status::{
    ActiveTarget, RouteCapabilities, RouteStatus, RuntimeView, ServiceState, StatusView,
    StorageStats, TargetSource, Unreachable,
};
pub use tool::{AssetRef, MediaToolResult, OutputEmitted, ToolFailure};
pub use views::{
    RunErrorView, RunPage, RunStatus, RunView, SessionInfo, SessionPage, SessionTotals, SessionView,
};
