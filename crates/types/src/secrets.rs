//! The secrets views: what the control API answers about secrets (metadata only, never a
//! value) and what the CLI reads back, online or from the store file offline.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What may be shown about a secret slot: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretMeta {
    /// The slot's name, e.g. `openrouter.primary`.
    #[serde(rename = "ref")]
    pub r#ref: String,
    /// The provider the value belongs to, e.g. `openrouter`.
    pub provider: String,
    /// A short recognisable form of the value, e.g. `sk-or-…a1b2`.
    pub fingerprint: String,
    /// When the value was last set (RFC 3339, UTC).
    pub updated_at: String,
}

/// Every secret's metadata (`GET /v1/secrets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    /// The secrets, by ref.
    pub secrets: Vec<SecretMeta>,
    /// True when the daemon has no master key (nothing can be stored or read).
    pub locked: bool,
}

/// A secret just stored (`POST /v1/secrets`, `ferry secrets set`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretStored {
    /// The slot as stored.
    pub secret: SecretMeta,
    /// True when the ref did not exist before.
    pub created: bool,
    /// Things the user probably wants to know (the value was stored regardless).
    pub warnings: Vec<String>,
}

/// A secret deleted (`DELETE /v1/secrets/{ref}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretDeleted {
    /// The deleted secret's ref.
    pub deleted: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stored_secret_reads_and_writes_todays_wire_json() {
        let wire = json!({
            "secret": {"ref": "openrouter.primary", "provider": "openrouter",
                       "fingerprint": "sk-or-…a1b2", "updated_at": "2026-01-01T00:00:00Z"},
            "created": true,
            "warnings": ["w"]
        });
        let stored: SecretStored = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(stored.secret.r#ref, "openrouter.primary");
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            serde_json::to_string(&wire).unwrap()
        );
    }

    #[test]
    fn a_list_without_locked_is_refused_naming_the_field() {
        let err = serde_json::from_value::<SecretList>(json!({"secrets": []})).unwrap_err();
        assert!(err.to_string().contains("missing field `locked`"), "{err}");
    }
}
