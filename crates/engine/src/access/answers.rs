//! The key endpoints' answers as the API sends them and the CLI reads them: a key view
//! wrapped in `key` (or a list in `keys`), and a new key with its secret shown once.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::manage::KeyView;

/// One key (`GET`, `PATCH`, `DELETE /v1/keys/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyAnswer {
    /// The key (never its secret).
    pub key: KeyView,
}

/// Every key (`GET /v1/keys`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyList {
    /// The keys (never a secret).
    pub keys: Vec<KeyView>,
}

/// A key just issued (`POST /v1/keys`). No `Debug`: it carries the secret.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct KeyCreated {
    /// The key's view.
    pub key: KeyView,
    /// The key itself (`fk-…`): shown this once, never again.
    pub secret: String,
}
