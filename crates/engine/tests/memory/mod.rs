//! An in-memory [`Provider`]: answers chat calls from a script, records what it was
//! asked, and can hold a stream open mid-way (no HTTP, no server). Every other call
//! (speech, video, catalog…) keeps the trait's default answer, an `unsupported` upstream
//! error, as an upstream without those endpoints would give.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_openrouter::{ChatOutcome, ChatRequest, Provider, StreamEvent, UpstreamError};
use futures::future::BoxFuture;
use tokio::sync::Notify;

/// One scripted answer to a chat call.
pub enum Step {
    /// Emits the events, then ends with the result.
    Reply(Vec<StreamEvent>, Box<Result<ChatOutcome, UpstreamError>>),
    /// Emits the events, then never ends (until the call is dropped).
    Hang(Vec<StreamEvent>),
}

/// The scripted provider. Cheap to share (`Arc`).
#[derive(Default)]
pub struct Memory {
    script: Mutex<VecDeque<Step>>,
    seen: Mutex<Vec<ChatRequest>>,
    /// Signalled when a [`Step::Hang`] has emitted its events.
    pub hanging: Notify,
    /// Set when a hanging call was dropped (the engine aborted it).
    pub aborted: Arc<AtomicBool>,
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Memory {
    /// A provider answering `steps` in order.
    pub fn new(steps: Vec<Step>) -> Arc<Memory> {
        Arc::new(Memory {
            script: Mutex::new(steps.into()),
            ..Memory::default()
        })
    }

    /// Every chat request received, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.seen.lock().unwrap().clone()
    }
}

/// A reply: `events`, then `result`.
pub fn reply(events: Vec<StreamEvent>, result: Result<ChatOutcome, UpstreamError>) -> Step {
    Step::Reply(events, Box::new(result))
}

/// A text answer, streamed as one delta.
pub fn text(t: &str) -> Step {
    reply(
        vec![StreamEvent::Text(t.to_owned())],
        Ok(ChatOutcome {
            message: serde_json::json!({"role": "assistant", "content": t}),
            content: t.to_owned(),
            finish_reason: Some("stop".into()),
            ..ChatOutcome::default()
        }),
    )
}

/// An upstream failure with `status`, before any output.
pub fn failure(status: u16, model: &str) -> Step {
    let body = serde_json::json!({"error": {"code": status, "message": "scripted failure"}});
    reply(
        Vec::new(),
        Err(UpstreamError::from_reply(
            status,
            body.to_string().as_bytes(),
            model,
        )),
    )
}

impl Provider for Memory {
    fn is_verified(&self) -> bool {
        false
    }

    fn chat<'a>(
        &'a self,
        _api_key: &'a str,
        req: &'a ChatRequest,
        _deadline: Option<Duration>,
        on_event: &'a mut (dyn FnMut(StreamEvent) + Send),
    ) -> BoxFuture<'a, Result<ChatOutcome, UpstreamError>> {
        self.seen.lock().unwrap().push(req.clone());
        let step = self.script.lock().unwrap().pop_front();
        Box::pin(async move {
            match step {
                Some(Step::Reply(events, result)) => {
                    events.into_iter().for_each(&mut *on_event);
                    *result
                }
                Some(Step::Hang(events)) => {
                    let _flag = DropFlag(self.aborted.clone());
                    events.into_iter().for_each(&mut *on_event);
                    self.hanging.notify_one();
                    std::future::pending().await
                }
                None => panic!("the script has no answer for call to {}", req.model),
            }
        })
    }
}
