//! ferry-openrouter: the OpenRouter driver. Request shaping in pure functions
//! ([`shape`]), transport over reqwest ([`OpenRouterClient`]; the facade's pass-through
//! calls over a plain hyper client, `direct`), SSE parsing (own framing, `sse_frames`),
//! error mapping to stable problem codes ([`UpstreamError`]) and a
//! bounded retry policy ([`chat_with_retries`]); speech-to-text ([`OpenRouterClient::transcribe`]),
//! the model catalog ([`Catalog`], [`OpenRouterClient::fetch_catalog`]) and media
//! generation ([`media`]: images, speech, video jobs, guarded downloads). The engine calls
//! all of it through the object-safe [`Provider`] trait, which the client implements.

// `UpstreamError` carries the upstream metadata JSON by value (its shape is part of the
// public API the engine uses); it only travels on the failure path, so its size is fine.
#![allow(clippy::result_large_err)]

mod audio;
mod body;
mod borrowed_text;
mod catalog;
mod chunk;
mod client;
mod deadline;
mod direct;
mod error;
mod h1_pool;
mod idle_limit;
mod json_scan;
mod management;
pub mod media;
mod outcome;
mod passthrough;
mod provider;
mod provider_client;
mod raw_object;
mod redact;
mod response;
mod retry;
mod scrub;
pub mod shape;
mod sse;
mod sse_frames;
mod stream;
mod types;

pub use audio::{transcription_body, Transcription, TranscriptionRequest};
pub use catalog::{Catalog, CatalogModel};
pub use client::OpenRouterClient;
pub use deadline::Deadline;
pub use error::{DriverError, UpstreamError, UpstreamErrorKind};
pub use idle_limit::{BodyFailure, IdleLimit};
pub use management::{create_key_body, ProvisionedKey};
pub use passthrough::{
    open_pass_with_retries, open_raw_with_retries, RawCompletion, RawReply, RawStream,
    StreamSummary, Usage,
};
pub use provider::Provider;
pub use raw_object::{
    checked_array_elements, checked_object_members, member_error, ObjectWriter, RawObject,
};
pub use redact::{redact_text, REDACTED};
pub use retry::{call_with_retries, chat_with_retries, parse_retry_after, Attempt, RetryPolicy};
pub use types::{
    ChatOutcome, ChatRequest, Messages, PassRequest, Protocol, StreamEvent, ToolCall, ToolDefs,
};
