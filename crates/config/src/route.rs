//! The loaded configuration: [`RoutesFile`], [`Route`] and the per-route sections, with
//! their documented defaults and the questions other crates ask of a route.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use url::Url;

use crate::kinds::{DriverKind, ModelSupport, SpeakReplies, ThinkingLevel, TtsFormat};
use crate::network::NetworkConfig;
use crate::params::ModelParams;
use crate::provider::ProviderRouting;
use crate::urls::{
    normalise_base_url, openrouter_base_url, LEGACY_OPENROUTER_BASE_URL, OPENROUTER_BASE_URL,
};

/// The only `version` this build understands.
pub const ROUTES_FILE_VERSION: u32 = 1;
/// Default `timeout_ms`.
pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;
/// Default `connect_timeout_ms`.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;
/// Default `attribution.title`.
pub const DEFAULT_ATTRIBUTION_TITLE: &str = "ferry";
/// Default `max_tool_steps`: model calls one run may make while it uses tools.
pub const DEFAULT_MAX_TOOL_STEPS: u32 = 8;
/// Largest `max_tool_steps` accepted.
pub const MAX_TOOL_STEPS_LIMIT: u64 = 64;
/// OpenRouter accepts at most this many attribution categories per request.
pub const MAX_ATTRIBUTION_CATEGORIES: usize = 2;

/// A parsed and validated routes.toml.
#[derive(Debug, Clone, Serialize)]
pub struct RoutesFile {
    /// Always [`ROUTES_FILE_VERSION`].
    pub version: u32,
    /// The id of the route used when nothing else picks one; always a key of `routes`.
    pub default_route: String,
    /// Routes by id (at least one).
    pub routes: BTreeMap<String, Route>,
    /// `retention_days`: finished runs older than this are deleted (absent: kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// The file this was loaded from (as given).
    #[serde(skip)]
    pub path: PathBuf,
}

impl RoutesFile {
    /// The route with this id.
    pub fn route(&self, id: &str) -> Option<&Route> {
        self.routes.get(id)
    }

    /// The default route.
    ///
    /// # Panics
    ///
    /// Only if the struct was assembled by hand with a `default_route` that is not in
    /// `routes`; the parser never produces one.
    pub fn default(&self) -> &Route {
        &self.routes[&self.default_route]
    }

    /// The route ids, sorted (for messages).
    pub fn route_ids(&self) -> Vec<&str> {
        self.routes.keys().map(String::as_str).collect()
    }
}

/// One route: a backend, its credentials and its defaults.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// The route id (the key under `[routes]`).
    pub id: String,
    /// The backend.
    pub driver: DriverKind,
    /// The model used when nothing else picks one.
    pub default_model: String,
    /// Which models the route accepts.
    pub model_support: ModelSupport,
    /// Where the API key comes from.
    pub auth: AuthSource,
    /// An environment variable read when `auth` names a secret that is not stored (only
    /// the built-in default route has one: `OPENROUTER_API_KEY`; a routes file never does).
    #[serde(skip)]
    pub auth_env_fallback: Option<String>,
    /// A stored OpenRouter management key: lets `ferry keys create --upstream-limit`
    /// provision an OpenRouter key per virtual key (spec §14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub management_auth_ref: Option<String>,
    /// A custom base URL (trailing slashes trimmed); `None` means OpenRouter's.
    pub base_url: Option<Url>,
    /// Models tried in order after retryable failures of the chosen one.
    pub fallbacks: Vec<String>,
    /// Default reasoning effort.
    pub thinking: Option<ThinkingLevel>,
    /// Whole-request timeout.
    pub timeout_ms: u64,
    /// TCP + TLS connect timeout.
    pub connect_timeout_ms: u64,
    /// Default system prompt (sessions may override it).
    pub system_prompt: Option<String>,
    /// Whether replies are spoken by default.
    pub speak_replies: SpeakReplies,
    /// Model calls one run may make while it uses tools (the tool loop's bound).
    pub max_tool_steps: u32,
    /// What the route may be asked to do.
    pub capabilities: Capabilities,
    /// OpenRouter app attribution headers.
    pub attribution: Attribution,
    /// Route-wide provider routing.
    pub provider: ProviderRouting,
    /// Transport settings.
    pub network: NetworkConfig,
    /// Media tool models and settings.
    pub media: MediaConfig,
    /// Per-model settings by model id.
    pub models: BTreeMap<String, ModelConfig>,
}

/// Where a route's API key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AuthSource {
    /// A ref into the encrypted secret store.
    #[serde(rename = "auth_ref")]
    Ref(String),
    /// The name of an environment variable holding the key.
    #[serde(rename = "api_key_env")]
    Env(String),
}

/// What a route may be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Images (and other media) may be attached to inputs.
    pub multimodal_input: bool,
    /// The backend searches the web natively.
    pub native_web_search: bool,
    /// The `generate_image` tool is offered.
    pub image_generation: bool,
    /// The `edit_image` tool is offered.
    pub image_edit: bool,
    /// The `generate_audio` tool (TTS) is offered.
    pub audio_generation: bool,
    /// Audio can be transcribed (STT).
    pub transcription: bool,
    /// The `generate_video` tool is offered.
    pub video_generation: bool,
}

impl Capabilities {
    /// The capability keys, as written at route top level.
    pub const KEYS: &'static [&'static str] = &[
        "multimodal_input",
        "native_web_search",
        "image_generation",
        "image_edit",
        "audio_generation",
        "transcription",
        "video_generation",
    ];

    /// The defaults of a driver: for OpenRouter everything except native web search.
    pub fn defaults_for(driver: DriverKind) -> Capabilities {
        match driver {
            DriverKind::OpenRouter => Capabilities {
                multimodal_input: true,
                native_web_search: false,
                image_generation: true,
                image_edit: true,
                audio_generation: true,
                transcription: true,
                video_generation: true,
            },
        }
    }

    /// The flag named `key` (one of [`Capabilities::KEYS`]).
    pub fn flag_mut(&mut self, key: &str) -> Option<&mut bool> {
        Some(match key {
            "multimodal_input" => &mut self.multimodal_input,
            "native_web_search" => &mut self.native_web_search,
            "image_generation" => &mut self.image_generation,
            "image_edit" => &mut self.image_edit,
            "audio_generation" => &mut self.audio_generation,
            "transcription" => &mut self.transcription,
            "video_generation" => &mut self.video_generation,
            _ => return None,
        })
    }
}

/// OpenRouter app attribution (sent only on verified OpenRouter routes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// Whether any attribution header is sent.
    pub enabled: bool,
    /// `HTTP-Referer`; omitted unless set.
    pub referer: Option<Url>,
    /// `X-OpenRouter-Title`.
    pub title: String,
    /// `X-OpenRouter-Categories` (at most [`MAX_ATTRIBUTION_CATEGORIES`]).
    pub categories: Vec<String>,
}

impl Default for Attribution {
    fn default() -> Self {
        Attribution {
            enabled: true,
            referer: None,
            title: DEFAULT_ATTRIBUTION_TITLE.to_string(),
            categories: Vec::new(),
        }
    }
}

/// Models and settings of the media tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaConfig {
    /// Image generation/editing model.
    pub image_model: String,
    /// Text-to-speech model.
    pub tts_model: String,
    /// Text-to-speech voice.
    pub tts_voice: String,
    /// Text-to-speech output format.
    pub tts_format: TtsFormat,
    /// Speech-to-text model.
    pub stt_model: String,
    /// Video generation model.
    pub video_model: String,
    /// Timeout of one image request.
    pub image_timeout_ms: u64,
    /// First wait between polls of a video job (grows by half each poll, up to 15 s or
    /// this value if larger).
    pub video_poll_ms: u64,
    /// How long a video job may take before ferry stops waiting for it.
    pub video_timeout_ms: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            image_model: "google/gemini-3.1-flash-image-preview".to_string(),
            tts_model: "hexgrad/kokoro-82m".to_string(),
            tts_voice: "af_alloy".to_string(),
            tts_format: TtsFormat::Mp3,
            stt_model: "openai/gpt-4o-mini-transcribe".to_string(),
            video_model: "google/veo-3.1-fast".to_string(),
            image_timeout_ms: 180_000,
            video_poll_ms: 2_000,
            video_timeout_ms: 1_200_000,
        }
    }
}

/// Settings of one model on a route (`[routes.X.models."M"]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelConfig {
    /// Provider routing for this model (merged over the route's).
    pub provider: ProviderRouting,
    /// Request parameters for this model.
    pub params: ModelParams,
}

impl Route {
    /// Whether this route talks to OpenRouter itself: no `base_url`, or one equal to
    /// `https://openrouter.ai/api/v1` after trimming trailing `/` (the legacy
    /// `https://openrouter.ai/v1` counts too). OpenRouter-only request shaping happens only
    /// on verified routes.
    pub fn is_verified_openrouter(&self) -> bool {
        match (&self.driver, &self.base_url) {
            (DriverKind::OpenRouter, None) => true,
            // A parsed base URL has no query or fragment (routes.toml refuses them), so
            // its text without trailing slashes is its normalised form: compared as text,
            // with no parse on this per-request path.
            (DriverKind::OpenRouter, Some(url)) => matches!(
                url.as_str().trim_end_matches('/'),
                OPENROUTER_BASE_URL | LEGACY_OPENROUTER_BASE_URL
            ),
        }
    }

    /// The base URL requests go to, normalised, without a trailing slash.
    pub fn effective_base_url(&self) -> Url {
        match &self.base_url {
            None => openrouter_base_url(),
            Some(url) => normalise_base_url(url),
        }
    }

    /// Whether `model` is named by this route: its `default_model`, a fallback or a key
    /// of `[models]`.
    pub fn is_model_listed(&self, model: &str) -> bool {
        self.default_model == model
            || self.fallbacks.iter().any(|m| m == model)
            || self.models.contains_key(model)
    }

    /// The models this route names, without duplicates: default, fallbacks, `[models]`.
    pub fn listed_models(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let all = std::iter::once(self.default_model.as_str())
            .chain(self.fallbacks.iter().map(String::as_str))
            .chain(self.models.keys().map(String::as_str));
        for m in all {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }

    /// Whether this route accepts `model` (always, unless `model_support = "listed"`).
    pub fn accepts_model(&self, model: &str) -> bool {
        match self.model_support {
            ModelSupport::Any => true,
            ModelSupport::Listed => self.is_model_listed(model),
        }
    }

    /// The `[models."M"]` settings of `model`, if any.
    pub fn model_config(&self, model: &str) -> Option<&ModelConfig> {
        self.models.get(model)
    }
}
