//! The shape of `GET /v1/openapi.json`: an OpenAPI 3.1 document, of which ferry guarantees
//! the top-level members (the rest is OpenAPI's own format, passed on as generated).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// This API's OpenAPI 3.1 document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiDocument {
    /// The OpenAPI version (`3.1.0`).
    pub openapi: String,
    /// Title, version and description of the API.
    #[schema(value_type = Object)]
    pub info: Value,
    /// Every route with its operations.
    #[schema(value_type = Object)]
    pub paths: Value,
    /// Schemas (every body and error shape) and security schemes.
    #[schema(value_type = Object)]
    pub components: Value,
    /// The document's other members (`tags`, `security`, …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub rest: Map<String, Value>,
}
