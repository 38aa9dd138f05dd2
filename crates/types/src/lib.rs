//! ferry's typed contract: run events, run and session views, problem codes, tool results
//! and the problem document — the shapes the engine emits, the API answers (and documents in its
//! OpenAPI schemas) and the CLI reads. Depends on no other ferry crate.

mod assets;
mod event;
mod health;
mod media;
mod models;
mod openai;
mod openapi;
mod problem;
mod problem_code;
mod secrets;
mod spend;
mod status;
mod tool;
mod usage;
mod views;

pub use assets::{AssetDeleted, AssetDetail, AssetInfo, AssetPage, AssetUpload, Derivation};
pub use event::{
    AssetCreated, EventError, Payload, RunCompleted, RunEnded, RunEvent, RunStarted, TextDelta,
    ToolCompleted, ToolError, ToolProgress, ToolStarted,
};
pub use health::{Health, HealthStatus};
pub use media::{ObservationView, ToolOutput, TranscriptView, VideoJobList, VideoJobView};
pub use models::{FacadeModel, KeyStatus, ModelEntry, ModelsView};
pub use openai::{
    ImageDatum, ImagesAnswer, ImagesUsage, TranscriptText, TranscriptionAnswer, VerboseTranscript,
};
pub use openapi::ApiDocument;
pub use problem::ProblemDocument;
pub use problem_code::{ProblemCode, UnknownProblemCode};
pub use secrets::{SecretDeleted, SecretList, SecretMeta, SecretStored};
pub use spend::{SpendGroup, SpendReport};
pub use status::{
    ActiveTarget, ConfigView, RouteCapabilities, RouteStatus, RuntimeView, ServiceState,
    StatusView, StorageStats, TargetSource, Unreachable,
};
pub use tool::{AssetRef, MediaToolResult, OutputEmitted, ToolFailure};
pub use usage::{UsageError, UsageObject};
pub use views::{
    HistoryMessage, RunErrorView, RunPage, RunStatus, RunView, SessionHistory, SessionInfo,
    SessionPage, SessionRuns, SessionTotals, SessionView,
};
