//! The fake's mutable state, shared by the test thread and the server thread.
//!
//! One `parking_lot::Mutex`; it is only ever held for short, non-async sections (never
//! across an `.await`).

use parking_lot::{Mutex, MutexGuard};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use crate::audio::TranscriptionReply;
use crate::catalog;
use crate::generation::GenerationRecord;
use crate::media::MediaState;
use crate::record::RecordedRequest;
use crate::reply::Reply;

/// Everything the server consults or updates while answering.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// TCP connections accepted so far (to see whether a client reuses them).
    connections: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct State {
    /// When set, requests need `Authorization: Bearer <api_key>`.
    pub(crate) api_key: Option<String>,
    /// Replies for any model, FIFO.
    pub(crate) queue: VecDeque<Reply>,
    /// Replies per requested model, FIFO; consulted before `queue`.
    pub(crate) per_model: HashMap<String, VecDeque<Reply>>,
    /// Every recorded request, in arrival order.
    pub(crate) requests: Vec<RecordedRequest>,
    /// Whether requests and generations are remembered.
    pub(crate) recording: bool,
    /// The `data` array of `GET /models`.
    pub(crate) models: Value,
    /// The `data` object of `GET /key`.
    pub(crate) key_info: Value,
    /// Generations this fake produced, by id.
    pub(crate) generations: HashMap<String, GenerationRecord>,
    /// `scheme://host:port` of this fake (for absolute URLs it hands out).
    pub(crate) origin: String,
    /// Speech, video jobs and served files.
    pub(crate) media: MediaState,
    /// Scripted answers of `POST /audio/transcriptions`, FIFO.
    pub(crate) transcriptions: VecDeque<TranscriptionReply>,
    /// The key allowed on the management API (`/keys`).
    pub(crate) management_key: Option<String>,
    /// Keys provisioned with `POST /keys`.
    pub(crate) provisioned: Vec<crate::keys::ProvisionedKey>,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            state: Mutex::new(State {
                api_key: None,
                queue: VecDeque::new(),
                per_model: HashMap::new(),
                requests: Vec::new(),
                recording: true,
                models: catalog::default_models(),
                key_info: catalog::default_key_info(),
                generations: HashMap::new(),
                origin: String::new(),
                media: MediaState::new(),
                transcriptions: VecDeque::new(),
                management_key: None,
                provisioned: Vec::new(),
            }),
            connections: AtomicU64::new(0),
        }
    }

    /// Counts an accepted connection.
    pub(crate) fn accepted(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// TCP connections accepted so far.
    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Locks the state (held for short, non-async sections only).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The next scripted reply for a request naming `model`, if any.
    pub(crate) fn next_reply(&self, model: Option<&str>) -> Option<Reply> {
        let mut state = self.lock();
        if let Some(model) = model {
            if let Some(reply) = state.per_model.get_mut(model).and_then(VecDeque::pop_front) {
                return Some(reply);
            }
        }
        state.queue.pop_front()
    }

    /// The next reply queued for exactly `model` (not the shared queue).
    pub(crate) fn next_model_reply(&self, model: &str) -> Option<Reply> {
        self.lock()
            .per_model
            .get_mut(model)
            .and_then(VecDeque::pop_front)
    }

    /// Records `request` if recording is on.
    pub(crate) fn record(&self, request: RecordedRequest) {
        let mut state = self.lock();
        if state.recording {
            state.requests.push(request);
        }
    }

    /// Remembers a generation for `GET /generation` if recording is on.
    pub(crate) fn remember_generation(&self, record: GenerationRecord) {
        let mut state = self.lock();
        if state.recording {
            state.generations.insert(record.id.clone(), record);
        }
    }

    /// Whether recording is on (lets the server skip building records it would drop).
    pub(crate) fn recording(&self) -> bool {
        self.lock().recording
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_model_queue_wins_over_the_shared_queue() {
        let shared = Shared::new();
        {
            let mut s = shared.lock();
            s.queue.push_back(Reply::text("any"));
            s.per_model
                .entry("a/b".into())
                .or_default()
                .push_back(Reply::text("mine"));
        }
        let first = shared.next_reply(Some("a/b")).expect("a reply");
        assert!(
            matches!(first.kind, crate::reply::ReplyKind::Message { content: Some(ref c), .. } if c == "mine")
        );
        let second = shared.next_reply(Some("a/b")).expect("a reply");
        assert!(
            matches!(second.kind, crate::reply::ReplyKind::Message { content: Some(ref c), .. } if c == "any")
        );
        assert!(shared.next_reply(Some("a/b")).is_none());
    }
}
