//! The model views: a route's model catalog (`GET /v1/models`), its key's credit
//! (`GET /v1/models/status`) and OpenAI's `model` object of the facade
//! (`GET /openai/v1/models[/{model}]`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// One model of a route's catalog: the catalog facts (from OpenRouter's `/models`) and
/// what ferry derives from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelEntry {
    /// Model id, e.g. `openai/gpt-5.4-mini`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Context window in tokens (null when the catalog gives none).
    pub context_length: Option<u64>,
    /// `architecture.input_modalities` (`text`, `image`, `file`, `audio`, `video`).
    pub input_modalities: Vec<String>,
    /// `architecture.output_modalities` (`text`, `image`, `audio`).
    pub output_modalities: Vec<String>,
    /// `supported_parameters`.
    pub supported_parameters: Vec<String>,
    /// `pricing` as OpenRouter sends it (decimal strings, USD per token or unit; null when
    /// the catalog gives none).
    #[schema(value_type = Option<Object>)]
    pub pricing: Value,
    /// `top_provider.max_completion_tokens`: the most a reply can have (null when unknown).
    pub max_completion_tokens: Option<u64>,
    /// Whether images can be attached.
    pub vision: bool,
    /// Whether it outputs images only.
    pub image_only: bool,
    /// Whether it takes the `reasoning` parameter.
    pub reasoning: bool,
}

/// `GET /v1/models?route=R`: the route's catalog after filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelsView {
    /// The route.
    pub route: String,
    /// When the catalog was fetched (Unix seconds).
    pub fetched_at: u64,
    /// True when older than the TTL (a refresh failed; see `refresh_error`).
    pub stale: bool,
    /// Why the refresh failed, when the catalog shown is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_error: Option<String>,
    /// Models in the catalog, after filters.
    pub models: Vec<ModelEntry>,
}

/// `GET /v1/models/status`: the route key's credit, as OpenRouter's `GET /key` tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KeyStatus {
    /// The route whose key was asked about.
    pub route: String,
    /// OpenRouter's `GET /key` `data` object, passed through as received: usually
    /// `label`, `limit` (null: unlimited), `limit_remaining`, `limit_reset`, `usage` and
    /// `is_free_tier`; ferry guarantees none of its fields.
    #[schema(value_type = Object)]
    pub key: Value,
}

/// OpenAI's `model` object for a selector (`GET /openai/v1/models[/{model}]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FacadeModel {
    /// The selector to send as `model`: `ROUTE/MODEL`.
    pub id: String,
    /// Always `"model"`.
    pub object: String,
    /// When the routes were loaded (Unix seconds).
    pub created: u64,
    /// The route serving it.
    pub owned_by: String,
}
