//! Console sign-in sessions (docs/console.md): signing in with the operator token or an
//! `fk-…` key creates an opaque random cookie value that maps, in this daemon's memory, to
//! the principal, a per-session CSRF token and an expiry. The credential itself is never
//! stored or put in the cookie: a key's session keeps only the key's SHA-256, so revoking
//! or expiring the key ends its console sessions at once. Sessions do not survive a
//! restart and are not shared between replicas (sign in again).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The cookie that carries the console session.
pub const COOKIE: &str = "ferry_console";

/// The header the console's scripts send the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-ferry-csrf";

/// How long a sign-in lasts by default (`serve --console-session-ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(12 * 3600);

/// At most this many live sessions; signing in beyond it drops the oldest.
const MAX_SESSIONS: usize = 10_000;

/// Who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The operator token (or an open loopback daemon).
    Operator,
    /// A virtual key, by the SHA-256 of its secret.
    Key([u8; 32]),
}

/// A live session as looked up from its cookie.
#[derive(Debug, Clone)]
pub struct Live {
    pub principal: Principal,
    /// The token the console's scripts must echo in [`CSRF_HEADER`] on every write.
    pub csrf: String,
}

/// A session just created: the cookie value (a secret: only ever sent in `Set-Cookie`).
pub struct Created {
    pub cookie: Zeroizing<String>,
    pub csrf: String,
    pub ttl: Duration,
}

/// Why a cookie does not authenticate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the console session expired; sign in again at /ui/sign-in")]
    Expired,
    #[error("the console session is not known to this ferry (it was signed out, or the daemon restarted); sign in again at /ui/sign-in")]
    Unknown,
}

struct Entry {
    principal: Principal,
    csrf: String,
    expires: Instant,
}

/// The daemon's console sessions, keyed by the SHA-256 of the cookie value.
#[derive(Clone)]
pub struct ConsoleSessions {
    map: Arc<Mutex<HashMap<[u8; 32], Entry>>>,
    ttl: Duration,
}

impl Default for ConsoleSessions {
    fn default() -> Self {
        ConsoleSessions::new(DEFAULT_TTL)
    }
}

fn random_token() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

fn digest(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

impl ConsoleSessions {
    /// Sessions that last `ttl` after sign-in.
    pub fn new(ttl: Duration) -> Self {
        ConsoleSessions {
            map: Arc::default(),
            ttl,
        }
    }

    /// Signs `principal` in: a new cookie value and CSRF token.
    pub fn create(&self, principal: Principal) -> Created {
        let cookie = random_token();
        let csrf = random_token().to_string();
        let now = Instant::now();
        let mut map = self.map.lock();
        map.retain(|_, e| e.expires > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, e)| e.expires).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        map.insert(
            digest(&cookie),
            Entry {
                principal,
                csrf: csrf.clone(),
                expires: now + self.ttl,
            },
        );
        Created {
            cookie,
            csrf,
            ttl: self.ttl,
        }
    }

    /// The live session of a cookie value.
    pub fn lookup(&self, cookie: &str) -> Result<Live, SessionError> {
        let key = digest(cookie);
        let mut map = self.map.lock();
        let entry = map.get(&key).ok_or(SessionError::Unknown)?;
        if entry.expires <= Instant::now() {
            map.remove(&key);
            return Err(SessionError::Expired);
        }
        Ok(Live {
            principal: entry.principal.clone(),
            csrf: entry.csrf.clone(),
        })
    }

    /// Signs out (nothing if the cookie is unknown).
    pub fn remove(&self, cookie: &str) {
        self.map.lock().remove(&digest(cookie));
    }
}

impl Live {
    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(self.csrf.as_bytes())))
    }
}

/// The console cookie's value in a `Cookie` header, if any.
pub fn cookie_value(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value for a new session (`Secure` when the console is served over
/// HTTPS, e.g. behind a TLS proxy).
pub fn set_cookie(created: &Created, secure: bool) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        created.cookie.as_str(),
        created.ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    ))
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_sign_out() {
        let s = ConsoleSessions::new(Duration::from_secs(60));
        let c = s.create(Principal::Operator);
        let live = s.lookup(&c.cookie).unwrap();
        assert_eq!(live.principal, Principal::Operator);
        assert!(live.csrf_matches(Some(&c.csrf)));
        assert!(!live.csrf_matches(Some("nope")));
        assert!(!live.csrf_matches(None));
        assert_ne!(c.cookie.as_str(), c.csrf);
        s.remove(&c.cookie);
        assert_eq!(s.lookup(&c.cookie).unwrap_err(), SessionError::Unknown);

        let expired = ConsoleSessions::new(Duration::ZERO);
        let c = expired.create(Principal::Key([7; 32]));
        assert_eq!(
            expired.lookup(&c.cookie).unwrap_err(),
            SessionError::Expired
        );
    }

    #[test]
    fn cookie_header_parsing() {
        let mut h = axum::http::HeaderMap::new();
        assert_eq!(cookie_value(&h), None);
        h.insert(
            axum::http::header::COOKIE,
            "a=1; ferry_console=abc ; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h), Some("abc"));
        let created = Created {
            cookie: Zeroizing::new("v".into()),
            csrf: "t".into(),
            ttl: Duration::from_secs(5),
        };
        let set = set_cookie(&created, true);
        assert!(set.contains("HttpOnly; SameSite=Strict; Path=/; Max-Age=5; Secure"));
        assert!(!set_cookie(&created, false).contains("Secure"));
    }
}
