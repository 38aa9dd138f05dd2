//! Virtual keys: the secret (`fk-` + 256 random bits, base64url), its SHA-256 (the only
//! form stored), the settings a key carries (scopes, routes, model globs, budget and
//! period, rate limits, expiry, upstream key) and their validation.

use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::EngineError;

/// Every virtual key starts with this.
pub const KEY_PREFIX: &str = "fk-";

/// What a credential may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The client protocols (`/openai/…`, `/anthropic/…`).
    Facade,
    /// Sessions, runs, assets, observations, media tools, models.
    Sessions,
    /// Everything: keys, spend, secrets, config, runtime, metrics (and the scopes above).
    Admin,
}

impl Scope {
    /// Parses `facade`, `sessions` or `admin`.
    pub fn parse(s: &str) -> Result<Scope, EngineError> {
        match s.trim() {
            "facade" => Ok(Scope::Facade),
            "sessions" => Ok(Scope::Sessions),
            "admin" => Ok(Scope::Admin),
            other => Err(EngineError::bad_input(
                "invalid_scope",
                format!("scope {other:?} is not one of facade, sessions, admin"),
            )),
        }
    }

    /// The scope's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Facade => "facade",
            Scope::Sessions => "sessions",
            Scope::Admin => "admin",
        }
    }
}

/// A budget's period; resets fall on UTC calendar boundaries (weeks start on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Week,
    #[default]
    Month,
    Total,
}

impl Period {
    /// Parses `day`, `week`, `month` or `total`.
    pub fn parse(s: &str) -> Result<Period, EngineError> {
        match s.trim() {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            "total" => Ok(Period::Total),
            other => Err(EngineError::bad_input(
                "invalid_period",
                format!("period {other:?} is not one of day, week, month, total"),
            )),
        }
    }

    /// The period's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Total => "total",
        }
    }

    /// The start of the period containing `now`.
    pub fn start(self, now: OffsetDateTime) -> OffsetDateTime {
        let midnight = now.replace_time(time::Time::MIDNIGHT);
        match self {
            Period::Day => midnight,
            Period::Week => {
                midnight - time::Duration::days(i64::from(now.weekday().number_days_from_monday()))
            }
            Period::Month => midnight.replace_day(1).unwrap_or(midnight),
            Period::Total => OffsetDateTime::UNIX_EPOCH,
        }
    }

    /// The start of the next period after the one starting at `start`; `None` for `total`.
    pub fn next(self, start: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Period::Day => Some(start + time::Duration::days(1)),
            Period::Week => Some(start + time::Duration::weeks(1)),
            Period::Month => {
                let (y, m) = match start.month() {
                    time::Month::December => (start.year() + 1, time::Month::January),
                    m => (start.year(), m.next()),
                };
                start.replace_year(y).ok()?.replace_month(m).ok()
            }
            Period::Total => None,
        }
    }

    /// OpenRouter's `limit_reset` for the same period.
    pub fn openrouter_reset(self) -> Option<&'static str> {
        match self {
            Period::Day => Some("daily"),
            Period::Week => Some("weekly"),
            Period::Month => Some("monthly"),
            Period::Total => None,
        }
    }
}

/// The OpenRouter key provisioned for a virtual key (its secret is in the secret store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamKey {
    /// The route whose management key created it; its traffic on that route uses it.
    pub route: String,
    /// OpenRouter's key hash (to disable it).
    pub hash: String,
    /// The limit it was created with, USD.
    pub limit_usd: f64,
    /// The secret-store ref holding the key.
    pub secret_ref: String,
}

/// What a key may do (stored as JSON in `access_keys.settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeySettings {
    pub scopes: Vec<Scope>,
    /// Route ids it may use (empty: every route).
    #[serde(default)]
    pub routes: Vec<String>,
    /// Model globs (`anthropic/*`) it may use (empty: every model).
    #[serde(default)]
    pub models: Vec<String>,
    /// Budget in USD per period.
    #[serde(default)]
    pub budget_usd: Option<f64>,
    #[serde(default)]
    pub period: Period,
    /// Requests per minute.
    #[serde(default)]
    pub rpm: Option<u32>,
    /// Tokens per minute (input estimate + `max_tokens`).
    #[serde(default)]
    pub tpm: Option<u32>,
    /// RFC 3339 expiry.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub upstream: Option<UpstreamKey>,
}

impl KeySettings {
    /// Checks the values a client chose.
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.scopes.is_empty() {
            return Err(EngineError::bad_input(
                "invalid_scope",
                "a key needs at least one scope: facade, sessions or admin",
            ));
        }
        if let Some(b) = self.budget_usd {
            if !(b.is_finite() && b >= 0.0) {
                return Err(EngineError::bad_input(
                    "invalid_budget",
                    "budget must be a non-negative amount in USD, e.g. 25 or 0.5",
                ));
            }
        }
        for (name, v) in [("rpm", self.rpm), ("tpm", self.tpm)] {
            if v == Some(0) {
                return Err(EngineError::bad_input(
                    "invalid_rate_limit",
                    format!("{name} must be at least 1 (leave it out for no limit)"),
                ));
            }
        }
        for g in &self.models {
            if g.trim().is_empty() {
                return Err(EngineError::bad_input(
                    "invalid_model_glob",
                    "a model glob must not be empty; use e.g. anthropic/* or openai/gpt-5.4-mini",
                ));
            }
        }
        Ok(())
    }

    /// Whether the key may use `scope` (`admin` covers every scope).
    pub fn allows_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    /// Whether the key may use `route`.
    pub fn allows_route(&self, route: &str) -> bool {
        self.routes.is_empty() || self.routes.iter().any(|r| r == route)
    }

    /// Whether the key may use `model` (a wire model id).
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|g| glob_match(g, model))
    }

    /// The parsed expiry.
    pub fn expiry(&self) -> Option<OffsetDateTime> {
        self.expires_at.as_deref().and_then(|s| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
    }
}

/// `*` matches any run of characters (slashes included), `?` one character; the rest
/// matches itself. Works on the bytes (no allocation: it runs on every request of a key
/// with model globs); `?` and a backtracking `*` step over whole UTF-8 characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let char_at = |i: usize| {
        text.get(i..)
            .and_then(|s| s.chars().next())
            .map_or(1, char::len_utf8)
    };
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            ti += if p[pi] == b'?' { char_at(ti) } else { 1 };
            pi += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += char_at(mark);
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

/// A new key secret: `fk-` + 32 random bytes (OS RNG), base64url without padding.
pub fn new_secret() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    Zeroizing::new(format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
    ))
}

/// The SHA-256 of a secret: the only form that is stored or kept in memory.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Lower-case hex of a hash.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `fk-…abcd`: recognisable, useless as a credential.
pub fn hint(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{KEY_PREFIX}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn globs() {
        assert!(glob_match("anthropic/*", "anthropic/claude-sonnet-4-5"));
        assert!(!glob_match("anthropic/*", "openai/gpt-5.4-mini"));
        assert!(glob_match("*", "a/b"));
        assert!(glob_match("openai/gpt-5.?-mini", "openai/gpt-5.4-mini"));
        assert!(glob_match("*mini", "openai/gpt-5.4-mini"));
        assert!(!glob_match("openai/gpt-5", "openai/gpt-5.4"));
        assert!(glob_match("x/caf?-*", "x/café-1"));
        assert!(glob_match("*é", "x/café"));
        assert!(!glob_match("x/caf?", "x/café-1"));
    }

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = new_secret();
        let b = new_secret();
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), 3 + 43, "32 bytes base64url");
        assert_ne!(*a, *b);
        assert_eq!(hex(&secret_hash("x")).len(), 64);
        assert!(!hint(&a).contains(&a[3..20]));
    }

    #[test]
    fn periods_start_on_utc_calendar_boundaries() {
        let now = datetime!(2026-12-02 07:50:12 UTC); // a Wednesday
        assert_eq!(Period::Day.start(now), datetime!(2026-12-02 0:00 UTC));
        assert_eq!(Period::Week.start(now), datetime!(2026-11-30 0:00 UTC));
        assert_eq!(Period::Month.start(now), datetime!(2026-12-01 0:00 UTC));
        assert_eq!(
            Period::Month.next(Period::Month.start(now)),
            Some(datetime!(2027-01-01 0:00 UTC))
        );
        assert_eq!(Period::Total.next(Period::Total.start(now)), None);
    }
}
