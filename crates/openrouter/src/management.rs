//! OpenRouter's key management API (spec §14, "upstream provisioning"): with a management
//! key, `POST /keys` creates an API key with a spending limit and reset period, and
//! `PATCH /keys/{hash}` `{"disabled": true}` disables it. The created key's secret is
//! returned once, zeroizing, and never logged.

use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::client::{endpoint, send_for_json, OpenRouterClient, MAX_BODY};
use crate::error::{ErrorContext, UpstreamError};

/// A key OpenRouter provisioned.
pub struct ProvisionedKey {
    /// OpenRouter's id of the key (`hash`), used to disable it.
    pub hash: String,
    /// The key itself (`sk-or-v1-…`), shown by OpenRouter only in this answer.
    pub key: Zeroizing<String>,
}

impl std::fmt::Debug for ProvisionedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisionedKey")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

/// The body of `POST /keys`: a name, a USD limit and OpenRouter's reset period (`daily`,
/// `weekly`, `monthly`, or none).
pub fn create_key_body(name: &str, limit_usd: f64, reset: Option<&str>) -> Value {
    json!({"name": name, "limit": limit_usd, "limit_reset": reset})
}

impl OpenRouterClient {
    /// `POST /keys` with a management key.
    pub async fn create_key(
        &self,
        management_key: &str,
        body: &Value,
    ) -> Result<ProvisionedKey, UpstreamError> {
        let ctx = ErrorContext {
            model: "",
            api_key: management_key,
        };
        let url = endpoint(&self.inner.base_url, "keys")
            .map_err(|e| UpstreamError::protocol(&format!("bad endpoint URL: {e}"), false, ctx))?;
        let request = self
            .inner
            .http
            .post(url)
            .bearer_auth(management_key)
            .json(body);
        let mut doc = send_for_json(request, MAX_BODY, ctx, "keys").await?;
        let key = match doc.get_mut("key").map(Value::take) {
            Some(Value::String(k)) if !k.is_empty() => Zeroizing::new(k),
            _ => {
                return Err(UpstreamError::protocol(
                    "the POST /keys answer has no \"key\"",
                    false,
                    ctx,
                ))
            }
        };
        let hash = doc
            .pointer("/data/hash")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                UpstreamError::protocol("the POST /keys answer has no data.hash", false, ctx)
            })?
            .to_owned();
        Ok(ProvisionedKey { hash, key })
    }

    /// `PATCH /keys/{hash}` `{"disabled": true}` with a management key.
    pub async fn disable_key(&self, management_key: &str, hash: &str) -> Result<(), UpstreamError> {
        let ctx = ErrorContext {
            model: "",
            api_key: management_key,
        };
        let url = endpoint(&self.inner.base_url, &format!("keys/{hash}"))
            .map_err(|e| UpstreamError::protocol(&format!("bad endpoint URL: {e}"), false, ctx))?;
        let request = self
            .inner
            .http
            .patch(url)
            .bearer_auth(management_key)
            .json(&json!({"disabled": true}));
        send_for_json(request, MAX_BODY, ctx, "keys").await?;
        Ok(())
    }
}
