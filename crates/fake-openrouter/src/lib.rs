//! A fake OpenRouter for tests and benchmarks: a real HTTP(S) server on loopback that
//! answers like `https://openrouter.ai/api/v1` — including its awkward cases — and
//! records every request so tests can assert on the headers and bodies actually sent.
//!
//! # Quick start
//!
//! ```no_run
//! use std::time::Duration;
//! use ferry_fake_openrouter::{FakeOpenRouter, FakeToolCall, Gate, Reply};
//!
//! let fake = FakeOpenRouter::start();              // own thread + runtime; Drop stops it
//! fake.set_api_key("sk-or-v1-test");               // optional: else any request is accepted
//! fake.push(Reply::text("Hello world").with_usage(12, 2, 0.00042));
//! fake.push_for_model("anthropic/claude-sonnet-4-5", Reply::error(429, "Rate limited").retry_after(2));
//! fake.push(Reply::gated(Gate::new(), Reply::text("slow")).chunk_delay(Duration::from_millis(5)));
//! // ... point the code under test at fake.base_url() ...
//! let sent = fake.chat_requests();
//! assert_eq!(sent[0].header("authorization"), Some("Bearer sk-or-v1-test"));
//! assert_eq!(sent[0].body.as_ref().unwrap()["model"], "openai/gpt-5.4-mini");
//! ```
//!
//! # Scripting chat completions
//!
//! `POST /api/v1/chat/completions` takes the next [`Reply`] from the per-model queue of the
//! requested `model` ([`FakeOpenRouter::push_for_model`]), else from the shared queue
//! ([`FakeOpenRouter::push`]), else answers `Reply::text("echo: <last user message>")`.
//! A reply streams (SSE) when the request has `"stream": true`, else it is one JSON body.
//! Bodies look like OpenRouter's: ids `gen-…`, `object` `chat.completion(.chunk)`,
//! `created`, `model` (the requested one unless [`Reply::with_model_served`]), `provider`,
//! `choices[]` with `index`, `finish_reason`, `native_finish_reason` and `message`/`delta`,
//! and `usage` with `cost` and the token details. Every response has `X-Generation-Id`,
//! and every answer that produced a completion can be looked up with
//! `GET /api/v1/generation?id=`.
//!
//! | constructor | what the client sees |
//! |---|---|
//! | [`Reply::text`] | comment, role chunk, content in several chunks, finish, usage chunk, `[DONE]` |
//! | [`Reply::reasoning_only`] | reasoning deltas and no content at all |
//! | [`Reply::tool_calls`] | tool-call deltas (arguments split across chunks), `finish_reason: "tool_calls"` |
//! | [`Reply::error`] | HTTP error with `{"error":{"code","message"}}` (`.retry_after`, `.with_metadata`) |
//! | [`Reply::mid_stream_error`] | 200 SSE, n chunks, then a chunk with top-level `error`, then the end |
//! | [`Reply::choices_error`] | 200 with `choices[0].error` and `finish_reason: "error"` |
//! | [`Reply::stall_after`] | n chunks, then silence on an open connection, then the normal end |
//! | [`Reply::reset`] | the request is read, then the TCP connection is reset (RST) |
//! | [`Reply::truncated`] | n chunks, then the connection closes mid-body |
//! | [`Reply::malformed`] | invalid JSON body / a `data: {not json` frame |
//! | [`Reply::malformed_after`] | n chunks, then an event whose JSON breaks off, then `[DONE]` |
//! | [`Reply::gated`] | the first chunk goes out, the rest waits for [`Gate::open`] |
//! | [`Reply::images`] | `message.images[]` (`delta.images` when streamed), as image models answer |
//!
//! # Other endpoints
//!
//! `POST /api/v1/responses` and `POST /api/v1/messages` answer the same [`Reply`] scripts
//! (same queues) in OpenRouter's Responses and Anthropic Messages shapes, streaming when
//! asked, mid-stream errors as `response.failed` / `event: error`, `/messages` errors in
//! Anthropic's shape. `POST /api/v1/embeddings` answers deterministic unit vectors with
//! usage and cost (an error reply queued for the request's model answers instead), and
//! `POST /api/v1/images` the dedicated image API's `{data: [{b64_json, media_type}]}`.
//!
//! `GET /api/v1/models` (text-output models unless `?output_modalities=all` or a list such
//! as `image`; replace the catalog with [`FakeOpenRouter::set_models`]), `GET /api/v1/key`
//! ([`FakeOpenRouter::set_key_info`]), `GET /api/v1/generation?id=` (404 for ids this fake
//! did not produce), `POST /api/v1/audio/transcriptions` (speech-to-text: validates
//! `model`, base64 `input_audio.data` and `input_audio.format`, then answers the next
//! [`TranscriptionReply`] queued with [`FakeOpenRouter::push_transcription`], else
//! `{"text": "transcript of N bytes of FORMAT audio"}`), the key management API
//! `POST /keys` and `PATCH /keys/{hash}` (only with the key of
//! [`FakeOpenRouter::set_management_key`]; provisioned keys are then accepted everywhere
//! until disabled). Anything else is a 404 with OpenRouter's error body. With an API key
//! set, every endpoint but the public `/models` answers 401 without `Authorization: Bearer
//! <key>`.
//!
//! # Media
//!
//! `POST /api/v1/audio/speech` answers MP3 (`audio/mpeg`, an ID3 tag and MPEG frames) or
//! 16-bit PCM (`audio/pcm`) derived from the input text. `POST /api/v1/videos` validates
//! the body (durations against `GET /videos/models`, resolution, aspect ratio, frame and
//! reference images) and answers `202 {id, polling_url, status: "pending"}`; each
//! `GET /api/v1/videos/{id}` advances the job along its [`VideoScript`] (pending →
//! in_progress → completed by default, or failed/cancelled/expired), and a completed job's
//! MP4 is at `unsigned_urls[0]` and `GET /api/v1/videos/{id}/content?index=0`.
//! [`FakeOpenRouter::fail_next`] scripts an HTTP error for any of these, and
//! [`FakeOpenRouter::serve_file`] / [`FakeOpenRouter::serve_redirect`] serve download URLs
//! outside `/api/v1` without authentication.
//!
//! # TLS
//!
//! [`FakeOpenRouter::start_tls`]`("openrouter.ai")` serves HTTPS with a fresh CA (PEM at
//! [`FakeOpenRouter::ca_pem_path`]); clients resolve the host to [`FakeOpenRouter::addr`]
//! themselves (reqwest: `.resolve("openrouter.ai", fake.addr())`).
//!
//! Only HTTP/1.1 is served (also over TLS, where ALPN offers `http/1.1` only), so resets
//! and truncations act on exactly one exchange.

mod audio;
mod body;
mod catalog;
mod chat;
mod embeddings;
mod error;
mod gate;
mod generation;
mod images;
mod keys;
mod media;
mod protocols;
mod record;
mod reply;
mod respond;
mod server;
mod service;
mod state;
mod tls;
mod video;
mod wire;

use std::fmt;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::Value;
use tokio::sync::oneshot;

pub use audio::{TranscriptionReply, STT_FORMATS};
pub use error::FakeError;
pub use gate::Gate;
pub use keys::ProvisionedKey;
pub use media::MediaEndpoint;
pub use record::RecordedRequest;
pub use reply::{FakeToolCall, Reply};
pub use video::VideoScript;

use state::Shared;

/// A running fake OpenRouter. Dropping it shuts the server down.
pub struct FakeOpenRouter {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    ca_pem: Option<tempfile::NamedTempFile>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeOpenRouter {
    /// Starts plain HTTP on `127.0.0.1:0` on its own thread and tokio runtime (usable from
    /// sync tests and from inside `#[tokio::test]`).
    ///
    /// # Panics
    /// If the server cannot start (see [`FakeOpenRouter::try_start`]).
    pub fn start() -> FakeOpenRouter {
        FakeOpenRouter::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts HTTPS for `host` (e.g. `"openrouter.ai"`) with a fresh self-signed CA.
    ///
    /// # Panics
    /// If the server cannot start (see [`FakeOpenRouter::try_start_tls`]).
    pub fn start_tls(host: &str) -> FakeOpenRouter {
        FakeOpenRouter::try_start_tls(host).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`FakeOpenRouter::start`], reporting failure instead of panicking.
    pub fn try_start() -> Result<FakeOpenRouter, FakeError> {
        FakeOpenRouter::try_start_on(0)
    }

    /// Plain HTTP on `127.0.0.1:port` (`0` picks a free port).
    pub fn try_start_on(port: u16) -> Result<FakeOpenRouter, FakeError> {
        let listener = bind(port)?;
        let addr = listener.local_addr().map_err(FakeError::Bind)?;
        let base_url = format!("http://{addr}/api/v1");
        FakeOpenRouter::launch(listener, None, base_url, None)
    }

    /// [`FakeOpenRouter::start_tls`], reporting failure instead of panicking.
    pub fn try_start_tls(host: &str) -> Result<FakeOpenRouter, FakeError> {
        let material = tls::generate(host)?;
        let mut ca_file = tempfile::Builder::new()
            .prefix("fake-openrouter-ca-")
            .suffix(".pem")
            .tempfile()
            .map_err(FakeError::CaFile)?;
        ca_file
            .write_all(material.ca_pem.as_bytes())
            .and_then(|()| ca_file.flush())
            .map_err(FakeError::CaFile)?;
        let listener = bind(0)?;
        let addr = listener.local_addr().map_err(FakeError::Bind)?;
        let base_url = format!("https://{host}:{}/api/v1", addr.port());
        FakeOpenRouter::launch(listener, Some(material.acceptor), base_url, Some(ca_file))
    }

    fn launch(
        listener: std::net::TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        base_url: String,
        ca_pem: Option<tempfile::NamedTempFile>,
    ) -> Result<FakeOpenRouter, FakeError> {
        let addr = listener.local_addr().map_err(FakeError::Bind)?;
        let shared = Arc::new(Shared::new());
        shared.lock().origin = base_url
            .strip_suffix("/api/v1")
            .unwrap_or(&base_url)
            .to_owned();
        let (shutdown, shutdown_rx) = oneshot::channel();
        let (ready, ready_rx) = std::sync::mpsc::channel();
        let server_shared = shared.clone();
        // The runtime is built, used and dropped on the server thread only, so starting and
        // dropping the fake is fine from inside another runtime.
        let thread = std::thread::Builder::new()
            .name(format!("fake-openrouter-{}", addr.port()))
            .spawn(move || serve(listener, tls, server_shared, shutdown_rx, ready))
            .map_err(FakeError::Runtime)?;
        let started = ready_rx.recv().unwrap_or_else(|_| {
            Err(FakeError::Runtime(std::io::Error::other(
                "the fake OpenRouter thread exited during start-up",
            )))
        });
        let fake = FakeOpenRouter {
            shared,
            addr,
            base_url,
            ca_pem,
            shutdown: Some(shutdown),
            thread: Some(thread),
        };
        started.map(|()| fake)
    }

    /// The CA certificate PEM file clients must trust (TLS mode only).
    pub fn ca_pem_path(&self) -> Option<&Path> {
        self.ca_pem.as_ref().map(|f| f.path())
    }

    /// The loopback address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/api/v1`, or `https://HOST:PORT/api/v1` in TLS mode.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Requires `Authorization: Bearer <key>` from now on (401 with OpenRouter's body
    /// otherwise; `GET /models` stays public).
    pub fn set_api_key(&self, key: &str) {
        self.shared.lock().api_key = Some(key.to_owned());
    }

    /// Queues a reply for the next chat completion of any model (FIFO).
    pub fn push(&self, reply: Reply) {
        self.shared.lock().queue.push_back(reply);
    }

    /// Queues a reply for the next chat completion requesting `model` (FIFO per model;
    /// takes precedence over [`FakeOpenRouter::push`]).
    pub fn push_for_model(&self, model: &str, reply: Reply) {
        self.shared
            .lock()
            .per_model
            .entry(model.to_owned())
            .or_default()
            .push_back(reply);
    }

    /// TCP connections accepted so far: a client that keeps its connections alive opens
    /// one and sends every request over it.
    pub fn connections(&self) -> u64 {
        self.shared.connections()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Only the `POST …/chat/completions` requests, in arrival order.
    pub fn chat_requests(&self) -> Vec<RecordedRequest> {
        let state = self.shared.lock();
        state
            .requests
            .iter()
            .filter(|r| r.is_chat())
            .cloned()
            .collect()
    }

    /// The recorded requests to `path` under `/api/v1` (e.g. `"/responses"`).
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        let full = format!("/api/v1{path}");
        let state = self.shared.lock();
        state
            .requests
            .iter()
            .filter(|r| r.path == full)
            .cloned()
            .collect()
    }

    /// Queues the answer of the next `POST /audio/transcriptions` (FIFO).
    pub fn push_transcription(&self, reply: TranscriptionReply) {
        self.shared.lock().transcriptions.push_back(reply);
    }

    /// Only the `POST …/audio/transcriptions` requests, in arrival order.
    pub fn transcription_requests(&self) -> Vec<RecordedRequest> {
        let state = self.shared.lock();
        state
            .requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/audio/transcriptions"))
            .cloned()
            .collect()
    }

    /// Only the `GET …/models` requests, in arrival order.
    pub fn models_requests(&self) -> Vec<RecordedRequest> {
        let state = self.shared.lock();
        state
            .requests
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/models"))
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Turns recording of requests and generations on or off (on by default). Benchmarks
    /// turn it off so memory stays flat; `GET /generation` then knows no new ids.
    pub fn set_recording(&self, on: bool) {
        self.shared.lock().recording = on;
    }

    /// Replaces the `data` array of `GET /models`.
    pub fn set_models(&self, data: Value) {
        self.shared.lock().models = data;
    }

    /// Adds text models (taking `reasoning` and `tools`) to the `GET /models` catalog, for
    /// tests that use models the default catalog does not list.
    pub fn add_models(&self, ids: &[&str]) {
        let mut shared = self.shared.lock();
        if let Value::Array(models) = &mut shared.models {
            models.extend(ids.iter().map(|id| catalog::text_model(id)));
        }
    }

    /// Scripts the next video job created with `POST /videos` (FIFO; unscripted jobs
    /// follow [`VideoScript::default`]).
    pub fn push_video(&self, script: VideoScript) {
        self.shared.lock().media.video_scripts.push_back(script);
    }

    /// Replaces the `data` array of `GET /videos/models` (which also decides the durations
    /// `POST /videos` accepts per model).
    pub fn set_video_models(&self, data: Value) {
        self.shared.lock().media.video_models = data;
    }

    /// Makes the next request to `endpoint` fail with OpenRouter's error body (FIFO per
    /// endpoint).
    pub fn fail_next(&self, endpoint: MediaEndpoint, status: u16, message: &str) {
        self.shared
            .lock()
            .media
            .failures
            .entry(endpoint)
            .or_default()
            .push_back((status, message.to_owned()));
    }

    /// Serves `bytes` at `GET {origin}{path}` (a path outside `/api/v1`, e.g.
    /// `/files/fox.png`), without authentication, like a CDN.
    pub fn serve_file(&self, path: &str, content_type: &str, bytes: Vec<u8>) {
        self.shared.lock().media.files.insert(
            path.to_owned(),
            media::StaticFile::Bytes {
                content_type: content_type.to_owned(),
                bytes,
            },
        );
    }

    /// Answers `GET {origin}{path}` with `302 Location: location`.
    pub fn serve_redirect(&self, path: &str, location: &str) {
        self.shared.lock().media.files.insert(
            path.to_owned(),
            media::StaticFile::Redirect(location.to_owned()),
        );
    }

    /// `http://127.0.0.1:PORT` (or `https://HOST:PORT`): where [`FakeOpenRouter::serve_file`]
    /// paths live.
    pub fn origin(&self) -> String {
        self.shared.lock().origin.clone()
    }

    /// Replaces the `data` object of `GET /key`.
    pub fn set_key_info(&self, data: Value) {
        self.shared.lock().key_info = data;
    }

    /// Allows `key` on the management API (`POST /keys`, `PATCH /keys/{hash}`).
    pub fn set_management_key(&self, key: &str) {
        self.shared.lock().management_key = Some(key.to_owned());
    }

    /// The keys provisioned with `POST /keys`, in order.
    pub fn provisioned_keys(&self) -> Vec<ProvisionedKey> {
        self.shared.lock().provisioned.clone()
    }

    /// `(model, total_cost)` of every chat generation this fake answered (its billing
    /// record), in no particular order.
    pub fn generation_costs(&self) -> Vec<(String, f64)> {
        self.shared
            .lock()
            .generations
            .values()
            .map(|g| (g.model.clone(), g.total_cost))
            .collect()
    }
}

/// The server thread: builds the runtime, reports readiness, accepts until shut down.
fn serve(
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    shutdown: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<(), FakeError>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(FakeError::Runtime(e)));
            return;
        }
    };
    runtime.block_on(async move {
        match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => {
                let _ = ready.send(Ok(()));
                server::accept_loop(listener, tls, shared, shutdown).await;
            }
            Err(e) => {
                let _ = ready.send(Err(FakeError::Bind(e)));
            }
        }
    });
}

fn bind(port: u16) -> Result<std::net::TcpListener, FakeError> {
    let listener = std::net::TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
        .map_err(FakeError::Bind)?;
    listener.set_nonblocking(true).map_err(FakeError::Bind)?;
    Ok(listener)
}

impl fmt::Debug for FakeOpenRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeOpenRouter")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeOpenRouter {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
