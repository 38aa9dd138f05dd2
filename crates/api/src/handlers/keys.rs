//! `/v1/keys` (virtual keys: create — the secret is in that answer only —, list, show,
//! update, revoke) and `GET /v1/spend` (the spend ledger, grouped). Admin scope.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use ferry_engine::{
    KeyAnswer, KeyCreated, KeyList, KeyPatch, KeySettings, NewKey, Period, Scope, SpendQuery,
};
use ferry_store::SpendGrouping;
use ferry_types::{ProblemCode, SpendReport};
use serde::{Deserialize, Deserializer};

use crate::extract::ApiJson;
use crate::json_reply::Json;
use crate::problem::{ApiResult, Problem};
use crate::AppState;

/// Body of `POST /v1/keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Who or what the key is for.
    pub name: String,
    /// `facade`, `sessions`, `admin` (default `["facade"]`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Route ids the key may use (default: all).
    #[serde(default)]
    pub routes: Vec<String>,
    /// Model globs, e.g. `anthropic/*` (default: all).
    #[serde(default)]
    pub models: Vec<String>,
    /// Budget in USD per period.
    pub budget_usd: Option<f64>,
    /// `day`, `week`, `month` (default) or `total`.
    pub period: Option<String>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute.
    pub tpm: Option<u32>,
    /// Lifetime: `90m`, `12h`, `30d`, `2w` or seconds.
    pub expires_in: Option<String>,
    /// Also provision an OpenRouter key with this USD limit (route's `management_auth_ref`).
    pub upstream_limit_usd: Option<f64>,
}

fn double<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `PATCH /v1/keys/{id}`: absent fields keep their value; `null` removes a
/// budget, limit or expiry.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub routes: Option<Vec<String>>,
    pub models: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<f64>)]
    pub budget_usd: Option<Option<f64>>,
    pub period: Option<String>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<u32>)]
    pub rpm: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<u32>)]
    pub tpm: Option<Option<u32>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub expires_in: Option<Option<String>>,
}

fn scopes(list: Vec<String>) -> Result<Vec<Scope>, Problem> {
    list.iter()
        .map(|s| Scope::parse(s).map_err(Problem::from))
        .collect()
}

/// `90m`, `12h`, `30d`, `2w`, `45s` or plain seconds.
fn duration_secs(text: &str) -> Result<u64, Problem> {
    let t = text.trim();
    let bad = || {
        Problem::new(
            400,
            ProblemCode::InvalidExpiry,
            format!("expires_in {t:?} is not a duration like 90m, 12h, 30d or 2w"),
        )
    };
    let (num, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    match n.checked_mul(per) {
        Some(0) | None => Err(bad()),
        Some(s) => Ok(s),
    }
}

/// `POST /v1/keys`.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, description = "The key's view and, in `secret`, the key itself: shown this once, never again", body = KeyCreated),
              (status = 400, description = "Invalid settings (problem+json)")))]
pub async fn create(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<KeyCreated>)> {
    let settings = KeySettings {
        scopes: scopes(body.scopes.unwrap_or_else(|| vec!["facade".into()]))?,
        routes: body.routes,
        models: body.models,
        budget_usd: body.budget_usd,
        period: body
            .period
            .as_deref()
            .map(Period::parse)
            .transpose()?
            .unwrap_or_default(),
        rpm: body.rpm,
        tpm: body.tpm,
        expires_at: None,
        upstream: None,
    };
    let new = NewKey {
        name: body.name,
        settings,
        upstream_limit: body.upstream_limit_usd,
        expires_in_secs: body.expires_in.as_deref().map(duration_secs).transpose()?,
    };
    let (view, secret) = s.engine.create_key(new).await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyCreated {
            key: view,
            secret: secret.as_str().to_owned(),
        }),
    ))
}

/// `GET /v1/keys`.
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses((status = 200, description = "Every key (never a secret) with its spend against its budget", body = KeyList)))]
pub async fn list(State(s): State<AppState>) -> ApiResult<Json<KeyList>> {
    Ok(Json(KeyList {
        keys: s.engine.list_keys().await?,
    }))
}

/// `GET /v1/keys/{id}`.
#[utoipa::path(get, path = "/v1/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "Key id (`key_…`)")),
    responses((status = 200, description = "The key", body = KeyAnswer),
              (status = 404, description = "No such key (problem+json)")))]
pub async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<KeyAnswer>> {
    Ok(Json(KeyAnswer {
        key: s.engine.key(&id).await?,
    }))
}

/// `PATCH /v1/keys/{id}`.
#[utoipa::path(patch, path = "/v1/keys/{id}", tag = "keys", request_body = UpdateKey,
    params(("id" = String, Path, description = "Key id (`key_…`)")),
    responses((status = 200, description = "The updated key", body = KeyAnswer),
              (status = 404, description = "No such key, or revoked (problem+json)")))]
pub async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateKey>,
) -> ApiResult<Json<KeyAnswer>> {
    let patch = KeyPatch {
        name: body.name,
        scopes: body.scopes.map(scopes).transpose()?,
        routes: body.routes,
        models: body.models,
        budget_usd: body.budget_usd,
        period: body.period.as_deref().map(Period::parse).transpose()?,
        rpm: body.rpm,
        tpm: body.tpm,
        expires_in_secs: body
            .expires_in
            .map(|e| e.as_deref().map(duration_secs).transpose())
            .transpose()?,
    };
    Ok(Json(KeyAnswer {
        key: s.engine.update_key(&id, patch).await?,
    }))
}

/// `DELETE /v1/keys/{id}`: revokes the key at once.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "Key id (`key_…`)")),
    responses((status = 200, description = "Revoked (its provisioned OpenRouter key is disabled)", body = KeyAnswer),
              (status = 404, description = "No such key, or already revoked (problem+json)")))]
pub async fn revoke(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyAnswer>> {
    Ok(Json(KeyAnswer {
        key: s.engine.revoke_key(&id).await?,
    }))
}

/// Query of `GET /v1/spend`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SpendParams {
    /// `key` (default), `model`, `route`, `kind` or `day`.
    #[param(pattern = "^(key|model|route|kind|day)$")]
    pub by: Option<String>,
    /// A second grouping within each group (`key`, `model`, `route`, `kind` or `day`):
    /// each row is then one (group, split) pair with a `split` field, e.g. `by=day&split=model`
    /// for a chart over days by model. Empty = none.
    #[param(pattern = "^$|^(key|model|route|kind|day)$")]
    pub split: Option<String>,
    /// From this date or RFC 3339 time (UTC, inclusive); empty = no bound.
    #[param(
        pattern = "^$|^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
    )]
    pub since: Option<String>,
    /// Until this date or RFC 3339 time (UTC, exclusive); empty = no bound.
    #[param(
        pattern = "^$|^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
    )]
    pub until: Option<String>,
}

fn bound(name: &str, v: Option<String>) -> Result<Option<String>, Problem> {
    let Some(v) = v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let date_like = v.len() >= 10
        && v.as_bytes()[4] == b'-'
        && v.as_bytes()[7] == b'-'
        && v[..4].chars().all(|c| c.is_ascii_digit());
    if !date_like {
        return Err(Problem::new(
            400,
            ProblemCode::InvalidDate,
            format!("{name}={v} is not a date like 2026-12-01 or a time like 2026-12-01T08:00:00Z (UTC)"),
        ));
    }
    Ok(Some(v))
}

/// The grouping named by the `name` parameter's value `v`.
fn grouping(name: &str, v: &str) -> Result<SpendGrouping, Problem> {
    Ok(match v {
        "key" => SpendGrouping::Key,
        "model" => SpendGrouping::Model,
        "route" => SpendGrouping::Route,
        "kind" => SpendGrouping::Kind,
        "day" => SpendGrouping::Day,
        other => {
            return Err(Problem::new(
                400,
                ProblemCode::InvalidGrouping,
                format!("{name}={other} is not one of key, model, route, kind, day"),
            ))
        }
    })
}

/// `GET /v1/spend`.
#[utoipa::path(get, path = "/v1/spend", tag = "keys", params(SpendParams),
    responses((status = 200, description = "The ledger grouped by key, model, route, kind or day, biggest first", body = SpendReport),
              (status = 400, description = "Bad grouping or date (problem+json)")))]
pub async fn spend(
    State(s): State<AppState>,
    Query(q): Query<SpendParams>,
) -> ApiResult<Json<SpendReport>> {
    let by = grouping("by", q.by.as_deref().unwrap_or("key"))?;
    let split = match q.split.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => Some(grouping("split", v)?),
        None => None,
    };
    if split.is_some() && split == Some(by) {
        return Err(Problem::new(
            400,
            ProblemCode::InvalidGrouping,
            "split must differ from by (a day split by day is the day itself): pick another grouping for split, or leave it out",
        ));
    }
    let since = bound("since", q.since)?;
    let until = bound("until", q.until)?;
    let groups = s
        .engine
        .spend(SpendQuery {
            by,
            split,
            since: since.clone(),
            until: until.clone(),
        })
        .await?;
    // `+ 0.0`: an empty sum is -0.0, which would print as "$-0.0000".
    let total: f64 = groups.iter().map(|g| g.cost_usd).sum::<f64>() + 0.0;
    Ok(Json(SpendReport {
        by: q.by.unwrap_or_else(|| "key".into()),
        split: split.and(q.split),
        since,
        until,
        groups,
        total_usd: total,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_secs("90m").unwrap(), 5400);
        assert_eq!(duration_secs("30d").unwrap(), 2_592_000);
        assert_eq!(duration_secs("10").unwrap(), 10);
        assert!(duration_secs("0s").is_err());
        assert!(duration_secs("3 days").is_err());
    }
}
