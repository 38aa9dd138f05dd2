//! The ferry session engine: sessions, runs, per-session queueing, retries and fallbacks
//! over the driver, live events with replay, crash recovery and graceful shutdown.
//! It is the only crate that combines config, secrets, store, assets and driver: it also
//! owns attachments (workspace paths, vision checks against the model catalog), the
//! daemon-owned speech-to-text with its transcript cache, observations, the per-route
//! model catalogs with their background refresh, team access ([`Caller`]: virtual keys,
//! budgets with reservations, rate limits, the spend ledger), the tool loop of a run ([`tools`]:
//! media tools and `emit_output`), direct media tools and persisted video jobs.

mod access;
mod attachments;
mod billing;
mod call_trace;
mod capabilities;
mod catalogs;
mod creation_line;
mod cut_call;
mod engine;
mod error;
mod facade;
mod generated;
mod input;
mod live;
mod media_tools;
mod model_check;
mod observe;
mod probe;
mod retention;
mod routes;
mod run;
mod secrets;
mod shutdown;
mod tool_loop;
pub mod tools;
mod totals;
mod transcribe;
mod unstored;
mod upstream_log;
mod upstreams;
mod video_jobs;
mod views;
mod workspace;

pub use access::{
    current_caller, retry_after_secs, secret_hash, with_caller, with_rate_report, AccessError,
    Admission, CallSpec, Caller, KeyAnswer, KeyCreated, KeyList, KeyPatch, KeySettings, KeyView,
    LimitKind, Limited, NewKey, Period, RateState, Remaining, Scope, SpendQuery, Spent,
};
pub use call_trace::FacadeCallTrace;
pub use catalogs::{ModelsQuery, DEFAULT_CATALOG_TTL};
pub use media_tools::DirectResult;
pub use observe::MICROPHONE_SEGMENT;
pub use transcribe::TranscribeOptions;

pub use engine::{Engine, EngineConfig, SubmitOptions, Submitted, SESSION_ID_RULE};
pub use error::EngineError;
pub use facade::{
    estimate_input_tokens, FacadeChain, FacadeRequest, FacadeRunEnd, FacadeTrace, PassCall,
    ReasoningChoice,
};
pub use input::{plan_chain, InputRequest, PlannedModel, RunPlan};
pub use live::{Event, LiveRun, Subscription, LIVE_BUFFER};
pub use probe::{Unreachable, DEFAULT_PROBE_INTERVAL};
pub use routes::{RouteStatus, RouteTable};
pub use secrets::{SecretsHandle, SecretsWriteError, SECRETS_REFRESH};
pub use shutdown::CallGuard;
pub use views::{
    asset_info, history_message, run_view, session_info, ActiveTarget, RuntimeView, SessionView,
    StatusView,
};
