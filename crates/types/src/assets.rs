//! The asset views: what `POST /v1/assets`, `GET /v1/assets[/{id}]` and
//! `DELETE /v1/assets/{id}` answer and `ferry assets` reads.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A stored asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AssetInfo {
    /// Asset id (`ast_…`).
    pub id: String,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// The canonical media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// The file name it was first uploaded with (null when none).
    pub file_name: Option<String>,
    /// How it first arrived: `upload`, `workspace`, `inline`, `observation` or `generated`.
    pub source: String,
    /// When it was first stored (RFC 3339).
    pub created_at: String,
    /// The broad kind: `image`, `audio`, `video`, `document` or `text`.
    pub kind: String,
}

/// `POST /v1/assets`: the asset, and whether this upload stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AssetUpload {
    /// The asset.
    #[serde(flatten)]
    pub asset: AssetInfo,
    /// False when the same bytes and type were already stored (same id).
    pub created: bool,
}

/// A page of assets (`GET /v1/assets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AssetPage {
    /// Assets, newest first.
    pub assets: Vec<AssetInfo>,
    /// The cursor of the next page (null on the last page).
    pub next_cursor: Option<String>,
}

/// A text derived from an asset (a transcript), keyed by (asset, kind, model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Derivation {
    /// The asset.
    pub asset_id: String,
    /// What it is, e.g. `transcript` or `transcript:de`.
    pub kind: String,
    /// The model that produced it.
    pub model: String,
    /// The derived text.
    pub content: String,
    /// Extra data (usage, cost…), null when none.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
    /// When it was stored (RFC 3339).
    pub created_at: String,
}

/// `GET /v1/assets/{id}`: the asset with its derivations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssetDetail {
    /// The asset.
    #[serde(flatten)]
    pub asset: AssetInfo,
    /// Texts derived from it, e.g. transcripts.
    pub derivations: Vec<Derivation>,
}

/// `DELETE /v1/assets/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AssetDeleted {
    /// Always true.
    pub deleted: bool,
    /// The asset as it was.
    pub asset: AssetInfo,
}
