//! The driver's request and result types: what the engine hands to a [`crate::Provider`]
//! and what comes back (stream events while a reply arrives, the outcome at the end).

use std::sync::Arc;

use bytes::Bytes;

use ferry_config::{ModelParams, ProviderRouting, ThinkingLevel};
use ferry_types::UsageObject;
use serde::Serialize;
use serde_json::{Map, Value};

/// One chat completion request, already resolved by the engine (route prefix removed,
/// `auto` mapped, params and provider routing merged).
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    /// Wire model id, e.g. `openai/gpt-5.4-mini`.
    pub model: String,
    /// OpenAI-format messages (system/developer/user/assistant/tool).
    pub messages: Messages,
    /// Ask for an SSE stream.
    pub stream: bool,
    /// Tool definitions, shared: the same set is offered on every request of a route.
    pub tools: Option<std::sync::Arc<ToolDefs>>,
    /// `none|auto|required|{type:"function",function:{name}}`.
    pub tool_choice: Option<Value>,
    /// Effective model params.
    pub params: ModelParams,
    /// Effective thinking level (`None` = not configured).
    pub thinking: Option<ThinkingLevel>,
    /// Effective provider routing (route < model < input).
    pub provider: ProviderRouting,
    /// Extra body fields (e.g. `modalities`, `image_config`); OpenAI-only keys are stripped.
    pub extra: Map<String, Value>,
}

/// A request's conversation: a list ferry built (a session's history), or the JSON array a
/// facade client sent, kept as its text (its roles checked) so that it is forwarded without
/// being parsed into a tree and encoded again.
#[derive(Debug, Clone)]
pub enum Messages {
    /// Messages as values.
    List(Vec<Value>),
    /// A JSON array of messages as the client wrote it.
    Text(Bytes),
}

impl Default for Messages {
    fn default() -> Messages {
        Messages::List(Vec::new())
    }
}

impl From<Vec<Value>> for Messages {
    fn from(list: Vec<Value>) -> Messages {
        Messages::List(list)
    }
}

impl Messages {
    /// The messages as values (the text parsed: for the shaping that edits them). Fails
    /// only on text a tree cannot hold (a lone surrogate escape).
    pub fn to_vec(&self) -> serde_json::Result<Vec<Value>> {
        match self {
            Messages::List(list) => Ok(list.clone()),
            Messages::Text(text) => serde_json::from_slice(text),
        }
    }
}

/// A list of tool definitions that keeps its JSON encoding once made: a route's set
/// (~5 KB of JSON) is offered on every model call of its sessions, and is encoded once
/// instead of on every call. A facade client's list is kept as the text it sent, and
/// parsed only if something asks for the values.
#[derive(Debug)]
pub struct ToolDefs {
    list: std::sync::OnceLock<Vec<Value>>,
    encoded: std::sync::OnceLock<Bytes>,
}

impl ToolDefs {
    /// The definitions, not yet encoded.
    pub fn new(list: Vec<Value>) -> ToolDefs {
        ToolDefs {
            list: std::sync::OnceLock::from(list),
            encoded: std::sync::OnceLock::new(),
        }
    }

    /// Definitions given as a JSON array's text (checked by the caller).
    pub fn from_text(text: Bytes) -> ToolDefs {
        ToolDefs {
            list: std::sync::OnceLock::new(),
            encoded: std::sync::OnceLock::from(text),
        }
    }

    /// The list as JSON, encoded on first use.
    pub fn encoded(&self) -> serde_json::Result<&[u8]> {
        if let Some(encoded) = self.encoded.get() {
            return Ok(encoded);
        }
        let encoded = Bytes::from(serde_json::to_vec(&**self)?);
        Ok(self.encoded.get_or_init(|| encoded))
    }
}

impl std::ops::Deref for ToolDefs {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        self.list.get_or_init(|| {
            let text = self.encoded.get().map_or(&b"[]"[..], |t| &t[..]);
            serde_json::from_slice(text).unwrap_or_default()
        })
    }
}

/// One incremental piece of a streamed reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// Visible answer text.
    Text(String),
    /// Reasoning ("thinking") text.
    Reasoning(String),
    /// A fragment of a tool call; `id`/`name` arrive first, `arguments` is concatenated.
    ToolCallDelta {
        index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    /// Not output: the call's generation id, as soon as the first chunk names it. A call
    /// cut short (the run was cancelled) can still be looked up with it.
    Generation(String),
    /// Not output: the usage object (tokens, `cost`) when a chunk carries it.
    Usage(Arc<UsageObject>),
}

impl StreamEvent {
    /// Whether this is output the caller sees (text, reasoning, a tool call), as opposed
    /// to billing facts about the call.
    pub fn is_output(&self) -> bool {
        !matches!(self, StreamEvent::Generation(_) | StreamEvent::Usage(_))
    }
}

/// A complete tool call requested by the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the JSON text the model produced.
    pub arguments: String,
}

/// The result of one successful chat completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatOutcome {
    /// Assistant message ready to append to history:
    /// `{"role":"assistant","content":…, "reasoning"?, "reasoning_details"?, "tool_calls"?, "images"?}`.
    pub message: Value,
    /// Visible answer text (may be empty, e.g. for reasoning-only or tool-call replies).
    pub content: String,
    pub reasoning: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<String>,
    /// OpenRouter's usage object as received (shared by the run's events, row and view).
    pub usage: Option<Arc<UsageObject>>,
    /// `usage.cost` (USD credits).
    pub cost: Option<f64>,
    /// The model that served (response `model`).
    pub model: Option<String>,
    /// The provider that served (response `provider`).
    pub provider: Option<String>,
    /// Response id / `X-Generation-Id`.
    pub generation_id: Option<String>,
    /// `X-OpenRouter-Cache-Status` (`HIT`/`MISS`) when present.
    pub cache_status: Option<String>,
}

/// The client protocols the facade forwards, each to OpenRouter's endpoint of the same
/// protocol (spec §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OpenAI chat completions (`/chat/completions`).
    Chat,
    /// OpenAI Responses (`/responses`).
    Responses,
    /// Anthropic Messages (`/messages`).
    Messages,
    /// OpenAI embeddings (`/embeddings`).
    Embeddings,
}

impl Protocol {
    /// The upstream endpoint, relative to the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Protocol::Chat => "chat/completions",
            Protocol::Responses => "responses",
            Protocol::Messages => "messages",
            Protocol::Embeddings => "embeddings",
        }
    }

    /// A short name for logs, metrics and recorded runs.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Chat => "chat",
            Protocol::Responses => "responses",
            Protocol::Messages => "messages",
            Protocol::Embeddings => "embeddings",
        }
    }
}

/// One request of a non-chat protocol, resolved by the engine: the client's body (its
/// `model` is replaced by [`PassRequest::model`] when shaped), the client headers that
/// travel with it, and the route's params and provider routing.
#[derive(Debug, Clone)]
pub struct PassRequest {
    /// Which endpoint.
    pub protocol: Protocol,
    /// Wire model id.
    pub model: String,
    /// Ask for an SSE stream.
    pub stream: bool,
    /// The client's body, as its text.
    pub body: crate::RawObject,
    /// Client headers forwarded as given (`anthropic-version`, `anthropic-beta`).
    pub headers: Vec<(String, String)>,
    /// The route's and model's params (fill gaps; response-cache headers).
    pub params: ModelParams,
    /// Provider routing: route < model < the client's `provider`.
    pub provider: ProviderRouting,
}
