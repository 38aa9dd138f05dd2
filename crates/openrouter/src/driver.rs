//! The narrow, object-safe driver trait the engine depends on, so it can run against the
//! real [`crate::OpenRouterClient`] or a test double.

use futures::future::BoxFuture;

use crate::error::UpstreamError;
use crate::types::{ChatOutcome, ChatRequest, StreamEvent};

/// One chat completion attempt (no retries). Streaming replies call `on_event` per delta.
/// Dropping the future aborts the upstream request.
pub trait ChatDriver: Send + Sync {
    fn chat<'a>(
        &'a self,
        api_key: &'a str,
        req: &'a ChatRequest,
        on_event: &'a mut (dyn FnMut(StreamEvent) + Send),
    ) -> BoxFuture<'a, Result<ChatOutcome, UpstreamError>>;
}
