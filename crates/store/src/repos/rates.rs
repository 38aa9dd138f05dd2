//! Rate limits shared by every process on one database (spec §15): per key and limit
//! (`requests`, `tokens`), one GCRA cell — the theoretical arrival time of the next unit
//! — kept where all replicas see it, so a key's `rpm`/`tpm` hold cluster-wide. The
//! arithmetic ([`gcra`]) is the one `governor` does in memory for a lone daemon: a whole
//! minute's worth at once, then capacity back evenly.

use std::time::Duration;

use async_trait::async_trait;

use crate::StoreError;

/// A minute, in nanoseconds.
const MINUTE_NS: i64 = 60_000_000_000;

/// Units to take from one of a key's per-minute limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateTake {
    /// `requests` or `tokens`.
    pub kind: &'static str,
    /// The limit per minute (≥ 1).
    pub per_minute: u32,
    /// Units this call takes (≥ 1).
    pub units: u32,
}

/// What is left of a limit after a take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLeft {
    /// What may still be taken at once.
    pub remaining: u32,
    /// Until the limit is whole again.
    pub reset: Duration,
}

/// Why a take was refused (nothing of any limit was taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRefused {
    /// Which take (index into the takes) refused.
    pub index: usize,
    /// When it could be admitted.
    pub retry_after: Duration,
    /// The take alone is larger than its per-minute limit.
    pub too_large: bool,
}

/// One GCRA step: from the cell's theoretical arrival time `tat` (ns) at `now` (ns),
/// takes `take.units`; the new `tat` and what is left, or why not (with `index` 0).
pub fn gcra(tat: i64, now: i64, take: RateTake) -> Result<(i64, RateLeft), RateRefused> {
    let per_minute = i64::from(take.per_minute.max(1));
    let units = i64::from(take.units.max(1));
    let interval = MINUTE_NS / per_minute;
    if units > per_minute {
        return Err(RateRefused {
            index: 0,
            retry_after: Duration::ZERO,
            too_large: true,
        });
    }
    let next = tat.max(now).saturating_add(interval.saturating_mul(units));
    let ahead = next - now;
    if ahead > MINUTE_NS {
        return Err(RateRefused {
            index: 0,
            retry_after: Duration::from_nanos((ahead - MINUTE_NS) as u64),
            too_large: false,
        });
    }
    Ok((
        next,
        RateLeft {
            remaining: u32::try_from((MINUTE_NS - ahead) / interval).unwrap_or(u32::MAX),
            reset: Duration::from_nanos(ahead as u64),
        },
    ))
}

/// Shared rate-limit cells.
#[async_trait]
pub trait RateRepo: Send + Sync {
    /// In one transaction under the key's cells' row locks: takes every one of `takes`
    /// from `key`'s limits, or none of them (`Ok(Err(…))` names the first that refused).
    /// The clock is the database's, the same for every replica.
    async fn take_rates(
        &self,
        key: &str,
        takes: &[RateTake],
    ) -> Result<Result<Vec<RateLeft>, RateRefused>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_at_once_then_one_per_interval() {
        let take = RateTake {
            kind: "requests",
            per_minute: 60,
            units: 1,
        };
        let mut tat = 0;
        let now = 1_000 * MINUTE_NS;
        for i in 0..60 {
            let (next, left) = gcra(tat, now, take).unwrap();
            assert_eq!(left.remaining, 59 - i, "request {i}");
            assert_eq!(left.reset, Duration::from_secs(u64::from(i) + 1));
            tat = next;
        }
        let refused = gcra(tat, now, take).unwrap_err();
        assert!(!refused.too_large);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // A second later one more fits.
        assert!(gcra(tat, now + 1_000_000_000, take).is_ok());
        let big = RateTake { units: 61, ..take };
        assert!(gcra(0, now, big).unwrap_err().too_large);
    }
}
