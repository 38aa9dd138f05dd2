//! Managing virtual keys (`/v1/keys`, `ferry keys …`) and reading the spend ledger
//! (`/v1/spend`, `ferry spend`). Creating a key with an upstream limit provisions an
//! OpenRouter key through the route's `management_auth_ref` (sealed in the secret store
//! under `ferry.vk.<id>`); revoking disables it upstream.

use std::sync::Arc;

use ferry_store::{nanos_to_usd, SpendGroup, SpendGrouping};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::keys::{self, KeySettings, Period, Scope, UpstreamKey};
use super::KeyState;
use crate::engine::Engine;
use crate::EngineError;

/// `POST /v1/keys`.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub settings: KeySettings,
    /// Also provision an OpenRouter key with this USD limit (and the budget's period).
    pub upstream_limit: Option<f64>,
    /// Expire this many seconds from now.
    pub expires_in_secs: Option<u64>,
}

/// `PATCH /v1/keys/{id}`: fields left `None` keep their value.
#[derive(Debug, Clone, Default)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub scopes: Option<Vec<Scope>>,
    pub routes: Option<Vec<String>>,
    pub models: Option<Vec<String>>,
    /// `Some(None)` removes the budget.
    pub budget_usd: Option<Option<f64>>,
    pub period: Option<Period>,
    pub rpm: Option<Option<u32>>,
    pub tpm: Option<Option<u32>>,
    pub expires_in_secs: Option<Option<u64>>,
}

/// `GET /v1/spend` filters.
#[derive(Debug, Clone)]
pub struct SpendQuery {
    pub by: SpendGrouping,
    /// A second grouping within each group (e.g. by day, split by model).
    pub split: Option<SpendGrouping>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// A key as shown (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    /// `fk-…abcd`.
    pub hint: String,
    pub scopes: Vec<Scope>,
    pub routes: Vec<String>,
    pub models: Vec<String>,
    pub budget_usd: Option<f64>,
    pub period: Period,
    /// Charged in the current period.
    pub spent_usd: f64,
    /// Reserved by requests in flight.
    pub reserved_usd: f64,
    pub remaining_usd: Option<f64>,
    /// When the current period ends.
    pub resets_at: Option<String>,
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    pub expires_at: Option<String>,
    pub revoked: bool,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamView>,
}

/// The OpenRouter key provisioned for a virtual key.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpstreamView {
    pub route: String,
    /// OpenRouter's key hash.
    pub hash: String,
    pub limit_usd: f64,
}

fn expires_at(secs: u64) -> Result<String, EngineError> {
    // Past the calendar's end (year 9999) is no expiry a key can carry.
    let too_far = || {
        EngineError::bad_input(
            "invalid_expiry",
            "expires_in is too far in the future (at most some thousands of years); give a shorter duration such as 90d, or none for a key that does not expire",
        )
    };
    let secs = i64::try_from(secs).map_err(|_| too_far())?;
    let at = OffsetDateTime::now_utc()
        .checked_add(time::Duration::seconds(secs))
        .filter(|at| at.year() <= 9999)
        .ok_or_else(too_far)?;
    Ok(ferry_store::rfc3339(at))
}

fn not_found(id: &str) -> EngineError {
    EngineError::NotFound {
        what: "key",
        id: format!("{id} (see `ferry keys list`)"),
    }
}

impl Engine {
    fn key_view(&self, k: &KeyState, revoked: bool) -> KeyView {
        let s = &k.settings;
        let st = self.standing(k);
        let now = OffsetDateTime::now_utc();
        let spent = nanos_to_usd(st.spent);
        let reserved = nanos_to_usd(st.reserved);
        KeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            hint: k.hint.clone(),
            scopes: s.scopes.clone(),
            routes: s.routes.clone(),
            models: s.models.clone(),
            budget_usd: s.budget_usd,
            period: s.period,
            spent_usd: spent,
            reserved_usd: reserved,
            remaining_usd: s.budget_usd.map(|b| (b - spent - reserved).max(0.0)),
            resets_at: s
                .budget_usd
                .and_then(|_| s.period.next(s.period.start(now)))
                .map(ferry_store::rfc3339),
            rpm: s.rpm,
            tpm: s.tpm,
            expires_at: s.expires_at.clone(),
            revoked,
            created_at: k.created_at.clone(),
            updated_at: k.updated_at.clone(),
            upstream: s.upstream.as_ref().map(|u| UpstreamView {
                route: u.route.clone(),
                hash: u.hash.clone(),
                limit_usd: u.limit_usd,
            }),
        }
    }

    fn check_routes(&self, routes: &[String]) -> Result<(), EngineError> {
        for r in routes {
            self.inner.routes.route(r)?;
        }
        Ok(())
    }

    /// Issues a key; returns it and its secret (shown once, never stored).
    pub async fn create_key(
        &self,
        new: NewKey,
    ) -> Result<(KeyView, Zeroizing<String>), EngineError> {
        let NewKey {
            name,
            mut settings,
            upstream_limit,
            expires_in_secs,
        } = new;
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(EngineError::bad_input(
                "invalid_key_name",
                "a key needs a name, e.g. `ferry keys create alice`",
            ));
        }
        if let Some(secs) = expires_in_secs {
            settings.expires_at = Some(expires_at(secs)?);
        }
        settings.validate()?;
        self.check_routes(&settings.routes)?;
        let id = format!("key_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        if let Some(limit) = upstream_limit {
            settings.upstream = Some(
                self.provision_upstream(&id, &name, &settings, limit)
                    .await?,
            );
        }
        let secret = keys::new_secret();
        let hash = keys::secret_hash(&secret);
        let settings_json = serde_json::to_value(&settings)
            .map_err(|e| EngineError::Internal(format!("key settings: {e}")))?;
        let row = self
            .inner
            .store
            .insert_key(
                id,
                name,
                keys::hex(&hash),
                keys::hint(&secret),
                settings_json,
            )
            .await?;
        let state = Arc::new(KeyState::from_row(row, settings));
        self.access()
            .by_hash
            .write()
            .insert(hash, Arc::clone(&state));
        tracing::info!(key = %state.id, name = %state.name, "virtual key created");
        Ok((self.key_view(&state, false), secret))
    }

    async fn provision_upstream(
        &self,
        id: &str,
        name: &str,
        settings: &KeySettings,
        limit: f64,
    ) -> Result<UpstreamKey, EngineError> {
        if !(limit.is_finite() && limit > 0.0) {
            return Err(EngineError::bad_input(
                "invalid_upstream_limit",
                "--upstream-limit must be a positive amount in USD",
            ));
        }
        let route_id = match settings.routes.as_slice() {
            [] => self.inner.routes.file().default_route.clone(),
            [one] => one.clone(),
            _ => {
                return Err(EngineError::bad_input(
                    "invalid_upstream_limit",
                    "an upstream key is provisioned on one route: give exactly one --route with --upstream-limit",
                ))
            }
        };
        let route = self.inner.routes.route(&route_id)?;
        let Some(mref) = route.management_auth_ref.as_deref() else {
            return Err(EngineError::bad_input(
                "no_management_key",
                format!("route {route_id} has no management_auth_ref; store an OpenRouter management key (`ferry secrets set openrouter.management --provider openrouter --stdin`) and set management_auth_ref = \"openrouter.management\" in [routes.{route_id}]"),
            ));
        };
        let mkey = self.inner.secrets.get(mref).ok_or_else(|| {
            EngineError::bad_input(
                "no_management_key",
                format!("the secret {mref} (management_auth_ref of route {route_id}) is not stored; `ferry secrets set {mref} --provider openrouter --stdin`"),
            )
        })?;
        let provider = self.inner.upstreams.provider(&route_id)?;
        let body = ferry_openrouter::create_key_body(
            &format!("ferry {id} ({name})"),
            limit,
            settings.period.openrouter_reset(),
        );
        let provisioned = provider.create_key(&mkey, &body).await?;
        let secret_ref = format!("ferry.vk.{}", id.trim_start_matches("key_"));
        self.inner
            .secrets
            .set(&secret_ref, "openrouter", provisioned.key)
            .await?;
        tracing::info!(key = %id, route = %route_id, hash = %provisioned.hash, "provisioned an OpenRouter key");
        Ok(UpstreamKey {
            route: route_id,
            hash: provisioned.hash,
            limit_usd: limit,
            secret_ref,
        })
    }

    /// Every key, revoked ones included.
    pub async fn list_keys(&self) -> Result<Vec<KeyView>, EngineError> {
        let rows = self.inner.store.list_keys().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            match self.access().find(&row.id) {
                Some((_, k)) => out.push(self.key_view(&k, false)),
                None => {
                    let settings: KeySettings = serde_json::from_value(row.settings.clone())
                        .map_err(|e| EngineError::Internal(format!("key settings: {e}")))?;
                    let revoked = row.revoked_at.is_some();
                    let k = KeyState::from_row(row, settings);
                    out.push(self.key_view(&k, revoked));
                }
            }
        }
        Ok(out)
    }

    /// One key.
    pub async fn key(&self, id: &str) -> Result<KeyView, EngineError> {
        self.list_keys()
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| not_found(id))
    }

    /// Changes a key's settings (its rate-limit windows start again).
    pub async fn update_key(&self, id: &str, patch: KeyPatch) -> Result<KeyView, EngineError> {
        let (hash, old) = self.access().find(id).ok_or_else(|| not_found(id))?;
        let mut s = old.settings.clone();
        let name = patch
            .name
            .map(|n| n.trim().to_owned())
            .unwrap_or_else(|| old.name.clone());
        if let Some(v) = patch.scopes {
            s.scopes = v;
        }
        if let Some(v) = patch.routes {
            self.check_routes(&v)?;
            s.routes = v;
        }
        if let Some(v) = patch.models {
            s.models = v;
        }
        if let Some(v) = patch.budget_usd {
            s.budget_usd = v;
        }
        if let Some(v) = patch.period {
            s.period = v;
        }
        if let Some(v) = patch.rpm {
            s.rpm = v;
        }
        if let Some(v) = patch.tpm {
            s.tpm = v;
        }
        if let Some(v) = patch.expires_in_secs {
            s.expires_at = v.map(expires_at).transpose()?;
        }
        s.validate()?;
        let json = serde_json::to_value(&s)
            .map_err(|e| EngineError::Internal(format!("key settings: {e}")))?;
        if !self
            .inner
            .store
            .update_key(id.to_owned(), name.clone(), json)
            .await?
        {
            return Err(not_found(id));
        }
        let period_changed = s.period != old.settings.period;
        let state = Arc::new(KeyState::new(
            old.id.clone(),
            name,
            old.hint.clone(),
            s,
            old.created_at.clone(),
            ferry_store::now_rfc3339(),
        ));
        if period_changed && state.settings.budget_usd.is_some() {
            let now = OffsetDateTime::now_utc();
            let since = state.settings.period.start(now);
            let spent = self
                .inner
                .store
                .key_spend_since(vec![(state.id.clone(), since)])
                .await?;
            let spent = spent.first().map_or(0, |s| s.1);
            self.access()
                .book
                .load(&state.id, state.settings.period, spent, now);
        }
        self.access()
            .by_hash
            .write()
            .insert(hash, Arc::clone(&state));
        Ok(self.key_view(&state, false))
    }

    /// Revokes a key at once (requests in flight finish); disables its OpenRouter key.
    pub async fn revoke_key(&self, id: &str) -> Result<KeyView, EngineError> {
        let (hash, k) = self.access().find(id).ok_or_else(|| not_found(id))?;
        self.inner.store.revoke_key(id.to_owned()).await?;
        self.access().by_hash.write().remove(&hash);
        self.access().revoked.write().insert(hash, k.id.clone());
        if let Some(up) = &k.settings.upstream {
            if let Err(e) = self.disable_upstream(up).await {
                tracing::warn!(key = %k.id, error = %e, "cannot disable the provisioned OpenRouter key; disable it on openrouter.ai");
                return Err(e);
            }
        }
        tracing::info!(key = %k.id, "virtual key revoked");
        Ok(self.key_view(&k, true))
    }

    async fn disable_upstream(&self, up: &UpstreamKey) -> Result<(), EngineError> {
        let route = self.inner.routes.route(&up.route)?;
        let mref = route.management_auth_ref.as_deref().ok_or_else(|| {
            EngineError::bad_input(
                "no_management_key",
                format!("route {} no longer has a management_auth_ref; the OpenRouter key {} stays enabled until you disable it on openrouter.ai", up.route, up.hash),
            )
        })?;
        let mkey = self.inner.secrets.get(mref).ok_or_else(|| {
            EngineError::bad_input(
                "no_management_key",
                format!("the management key {mref} is not stored; the OpenRouter key {} stays enabled until you disable it", up.hash),
            )
        })?;
        let provider = self.inner.upstreams.provider(&up.route)?;
        provider.disable_key(&mkey, &up.hash).await?;
        self.inner.secrets.delete(&up.secret_ref).await?;
        Ok(())
    }

    /// The spend ledger, grouped (the report sees every call that ended before it).
    pub async fn spend(&self, q: SpendQuery) -> Result<Vec<SpendGroup>, EngineError> {
        Ok(self
            .inner
            .store
            .spend_report(q.by, q.split, q.since, q.until, None)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::expires_at;

    /// An expiry past the calendar's end is a 400 `invalid_expiry`, not a panic of the
    /// handler (seen with `expires_in: "99999999999d"`).
    #[test]
    fn an_expiry_past_the_calendar_is_refused() {
        for secs in [99_999_999_999 * 86_400, u64::MAX, 400_000 * 365 * 86_400] {
            let e = expires_at(secs).expect_err("too far");
            assert_eq!(e.code(), "invalid_expiry", "{secs}");
        }
        let at = expires_at(90 * 86_400).expect("90 days");
        assert!(at.ends_with('Z') || at.contains('+'), "{at}");
    }
}
