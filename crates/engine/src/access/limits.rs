//! Per-key rate limits with `governor` (GCRA): `rpm` requests and `tpm` tokens per minute.
//! A full minute's worth may be used at once, then capacity comes back evenly (one request
//! every 60/rpm seconds). An admitted request learns what is left ([`RateState`]) and a
//! refusal when to retry, for OpenAI's `x-ratelimit-*` headers (on every response of a key
//! with limits) and `Retry-After`.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// Which limit refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Requests,
    Tokens,
}

impl LimitKind {
    /// `requests` or `tokens` (the `x-ratelimit-*-{kind}` suffix).
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Requests => "requests",
            LimitKind::Tokens => "tokens",
        }
    }
}

/// A refusal by a rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub kind: LimitKind,
    /// The per-minute limit.
    pub limit: u32,
    /// What is left now.
    pub remaining: u32,
    /// When the request could be admitted.
    pub retry_after: Duration,
    /// True when the request alone is larger than the per-minute limit.
    pub too_large: bool,
}

/// One limit after an admitted request: OpenAI's `x-ratelimit-{limit,remaining,reset}-{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    pub kind: LimitKind,
    /// The per-minute limit.
    pub limit: u32,
    /// What may still be used at once.
    pub remaining: u32,
    /// Until the limit is whole again.
    pub reset: Duration,
}

/// What is left of a key's limits after an admitted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateState {
    pub requests: Option<Remaining>,
    pub tokens: Option<Remaining>,
}

impl RateState {
    /// The limits there are, requests first.
    pub fn each(&self) -> impl Iterator<Item = &Remaining> {
        self.requests.iter().chain(self.tokens.iter())
    }
}

fn remaining(kind: LimitKind, limit: u32, snapshot: &StateSnapshot) -> Remaining {
    let left = snapshot.remaining_burst_capacity().min(limit);
    Remaining {
        kind,
        limit,
        remaining: left,
        reset: snapshot.quota().replenish_interval() * (limit - left),
    }
}

/// One key's limiters.
pub struct Limits {
    rpm: Option<(u32, Limiter)>,
    tpm: Option<(u32, Limiter)>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("rpm", &self.rpm.as_ref().map(|l| l.0))
            .field("tpm", &self.tpm.as_ref().map(|l| l.0))
            .finish()
    }
}

fn limiter(per_minute: u32) -> Option<(u32, Limiter)> {
    let n = NonZeroU32::new(per_minute)?;
    Some((
        per_minute,
        RateLimiter::direct(Quota::per_minute(n)).with_middleware::<StateInformationMiddleware>(),
    ))
}

impl Limits {
    /// Limiters for the given per-minute limits (`None`: unlimited).
    pub fn new(rpm: Option<u32>, tpm: Option<u32>) -> Limits {
        Limits {
            rpm: rpm.and_then(limiter),
            tpm: tpm.and_then(limiter),
        }
    }

    /// Whether the key has any limit.
    pub fn any(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some()
    }

    /// Takes one request and `tokens` tokens and says what is left, or says why not.
    pub fn check(&self, tokens: u64) -> Result<RateState, Limited> {
        let clock = DefaultClock::default();
        let mut state = RateState::default();
        if let Some((limit, l)) = &self.rpm {
            match l.check() {
                Ok(snapshot) => {
                    state.requests = Some(remaining(LimitKind::Requests, *limit, &snapshot))
                }
                Err(not_until) => {
                    return Err(Limited {
                        kind: LimitKind::Requests,
                        limit: *limit,
                        remaining: 0,
                        retry_after: not_until.wait_time_from(clock.now()),
                        too_large: false,
                    })
                }
            }
        }
        if let Some((limit, l)) = &self.tpm {
            let n = u32::try_from(tokens.max(1)).unwrap_or(u32::MAX);
            let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
            match l.check_n(n) {
                Ok(Ok(snapshot)) => {
                    state.tokens = Some(remaining(LimitKind::Tokens, *limit, &snapshot))
                }
                Ok(Err(not_until)) => {
                    return Err(Limited {
                        kind: LimitKind::Tokens,
                        limit: *limit,
                        remaining: 0,
                        retry_after: not_until.wait_time_from(clock.now()),
                        too_large: false,
                    })
                }
                Err(_) => {
                    return Err(Limited {
                        kind: LimitKind::Tokens,
                        limit: *limit,
                        remaining: *limit,
                        retry_after: Duration::ZERO,
                        too_large: true,
                    })
                }
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_after_a_full_minute_is_refused() {
        let l = Limits::new(Some(60), None);
        let first = l.check(0).unwrap().requests.unwrap();
        assert_eq!((first.limit, first.remaining), (60, 59));
        assert_eq!(first.reset, Duration::from_secs(1));
        for i in 1..60 {
            let left = l.check(0).unwrap().requests.unwrap();
            assert_eq!(left.remaining, 59 - i, "request {i}");
        }
        let refused = l.check(0).unwrap_err();
        assert_eq!(refused.kind, LimitKind::Requests);
        assert_eq!(refused.limit, 60);
        assert!(refused.retry_after > Duration::ZERO);
        assert!(refused.retry_after <= Duration::from_secs(1));
    }

    #[test]
    fn tokens_are_counted_and_oversize_requests_say_so() {
        let l = Limits::new(None, Some(1000));
        let state = l.check(600).unwrap();
        assert_eq!(state.requests, None);
        assert_eq!(state.tokens.unwrap().remaining, 400);
        let r = l.check(600).unwrap_err();
        assert_eq!(r.kind, LimitKind::Tokens);
        assert!(!r.too_large);
        assert!(l.check(5000).unwrap_err().too_large);
        assert!(Limits::new(None, None).check(u64::MAX).is_ok());
    }
}
