//! OpenRouter's key management API: `POST /keys` creates a key (limit, reset) and answers
//! its `data` and, once, the `key`; `PATCH /keys/{hash}` updates it (`disabled`). Only the
//! management key set with [`crate::FakeOpenRouter::set_management_key`] may call them.
//! Provisioned keys that are not disabled are accepted on every other endpoint.

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::generation::new_generation_id;
use crate::respond::{self, FakeResponse};
use crate::state::Shared;

/// A key this fake provisioned.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionedKey {
    /// `sk-or-v1-…`.
    pub key: String,
    /// Its id (`hash`).
    pub hash: String,
    pub name: String,
    pub limit: Option<f64>,
    pub limit_reset: Option<String>,
    pub disabled: bool,
}

impl ProvisionedKey {
    fn data(&self) -> Value {
        json!({
            "hash": self.hash,
            "name": self.name,
            "label": format!("{}...{}", &self.key[..12], &self.key[self.key.len() - 3..]),
            "disabled": self.disabled,
            "limit": self.limit,
            "limit_remaining": self.limit,
            "limit_reset": self.limit_reset,
            "include_byok_in_limit": false,
            "usage": 0, "usage_daily": 0, "usage_weekly": 0, "usage_monthly": 0,
            "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0, "byok_usage_monthly": 0,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": null,
            "expires_at": null,
            "creator_user_id": null,
            "workspace_id": "0df9e665-d932-5740-b2c7-b52af166bc11",
        })
    }
}

/// Whether `presented` is the management key.
pub(crate) fn is_management(shared: &Shared, presented: Option<&str>) -> bool {
    let state = shared.lock();
    matches!((&state.management_key, presented), (Some(m), Some(p)) if m == p)
}

/// Whether `presented` is a provisioned key that is not disabled.
pub(crate) fn is_provisioned(shared: &Shared, presented: &str) -> bool {
    shared
        .lock()
        .provisioned
        .iter()
        .any(|k| k.key == presented && !k.disabled)
}

/// `POST /keys`.
pub(crate) fn create(shared: &Shared, body: Option<&Value>) -> FakeResponse {
    let Some(name) = body
        .and_then(|b| b.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return respond::openrouter_error(400, "name is required");
    };
    let limit = body.and_then(|b| b.get("limit")).and_then(Value::as_f64);
    let reset = body
        .and_then(|b| b.get("limit_reset"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(r) = &reset {
        if !["daily", "weekly", "monthly"].contains(&r.as_str()) {
            return respond::openrouter_error(400, "limit_reset must be daily, weekly or monthly");
        }
    }
    let id = new_generation_id(0);
    let hash = format!("{:0>64}", id.trim_start_matches("gen-").replace('-', ""));
    let key = ProvisionedKey {
        key: format!("sk-or-v1-{}", &hash[hash.len() - 48..]),
        hash,
        name: name.to_owned(),
        limit,
        limit_reset: reset,
        disabled: false,
    };
    let doc = json!({"data": key.data(), "key": key.key});
    shared.lock().provisioned.push(key);
    respond::json(StatusCode::CREATED, &doc)
}

/// `PATCH /keys/{hash}`.
pub(crate) fn update(shared: &Shared, hash: &str, body: Option<&Value>) -> FakeResponse {
    let mut state = shared.lock();
    let Some(key) = state.provisioned.iter_mut().find(|k| k.hash == hash) else {
        return respond::openrouter_error(404, "Key not found");
    };
    if let Some(d) = body
        .and_then(|b| b.get("disabled"))
        .and_then(Value::as_bool)
    {
        key.disabled = d;
    }
    if let Some(l) = body.and_then(|b| b.get("limit")) {
        key.limit = l.as_f64();
    }
    let doc = json!({"data": key.data()});
    respond::json(StatusCode::OK, &doc)
}
