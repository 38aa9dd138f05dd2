//! Budget reservations: per key, what was spent in the current period and what is reserved
//! by requests in flight, in integer nano-USD (sums are exact). [`Reservations`] is the seam;
//! [`Book`] is the in-memory one a single daemon uses (open reservations live only in memory,
//! so the reservations of a daemon that died are gone when it restarts — its spend is
//! reloaded from the ledger — and admitting a call writes nothing to disk), and
//! [`crate::access::SharedBook`] the one of replicas sharing a database, where every
//! admission is a transaction on the key's shared account.
//!
//! In the book one mutex is the critical section of admission: a request is admitted only
//! when `spent + reserved + its worst case ≤ budget` (and `spent + reserved < budget`), and
//! its worst case is reserved in the same critical section, so concurrent requests can
//! never together overshoot. The lock is never held across an `.await`.

use parking_lot::Mutex;

use time::OffsetDateTime;

use super::keys::Period;

/// USD to nano-USD, rounded up (worst cases are never under-estimated). Float noise
/// below a thousandth of a nano-USD is ignored, so 1000 × $0.00001 is exactly $0.01.
pub fn usd_to_nanos_ceil(usd: f64) -> i64 {
    (usd * 1e9 - 1e-3).ceil().clamp(0.0, i64::MAX as f64) as i64
}

/// USD to nano-USD, rounded to nearest (upstream's reported costs).
pub fn usd_to_nanos(usd: f64) -> i64 {
    (usd * 1e9).round().clamp(0.0, i64::MAX as f64) as i64
}

#[derive(Debug, Clone, Copy)]
struct Account {
    period_start: OffsetDateTime,
    spent: i64,
    reserved: i64,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    pub budget: i64,
    pub spent: i64,
    pub reserved: i64,
    pub wanted: i64,
}

/// A key's standing, for views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    pub spent: i64,
    pub reserved: i64,
}

/// Why a reservation was not made.
#[derive(Debug)]
pub enum ReserveError {
    /// It does not fit the budget.
    Over(OverBudget),
    /// The shared accounts could not be reached (the call is refused: fail closed).
    Store(ferry_store::StoreError),
}

/// Each key's spend in its current period and its open reservations. Every method is one
/// atomic step: `reserve` admits only what fits, so concurrent callers never overshoot.
#[async_trait::async_trait]
pub trait Reservations: Send + Sync + std::fmt::Debug {
    /// Sets a key's spend in its current period (at start, or when its period changes,
    /// from the ledger); its open reservations stay.
    fn load(&self, key: &str, period: Period, spent: i64, now: OffsetDateTime);

    /// Reserves `wanted` against `budget` when it fits.
    async fn reserve(
        &self,
        key: &str,
        period: Period,
        budget: i64,
        wanted: i64,
        now: OffsetDateTime,
    ) -> Result<(), ReserveError>;

    /// Ends a reservation of `reserved` and charges `charged`.
    fn settle(&self, key: &str, period: Period, reserved: i64, charged: i64, now: OffsetDateTime);

    /// A key's spend and reservations in its current period.
    fn standing(&self, key: &str, period: Period, now: OffsetDateTime) -> Standing;

    /// Finishes what is still being written (at shutdown, before the store closes).
    async fn close(&self) {}
}

/// The in-memory [`Reservations`]: every key's account behind one mutex.
#[derive(Debug, Default)]
pub struct Book {
    accounts: Mutex<foldhash::HashMap<String, Account>>,
}

impl Book {
    /// The key's account, rolled over to the current period; allocates only for a key
    /// seen for the first time.
    fn account<'a>(
        map: &'a mut foldhash::HashMap<String, Account>,
        key: &str,
        period: Period,
        now: OffsetDateTime,
    ) -> &'a mut Account {
        let start = period.start(now);
        if !map.contains_key(key) {
            map.insert(
                key.to_owned(),
                Account {
                    period_start: start,
                    spent: 0,
                    reserved: 0,
                },
            );
        }
        let acc = map.get_mut(key).expect("inserted above");
        if start > acc.period_start {
            // A new period: spend starts again; reservations still in flight stay.
            acc.period_start = start;
            acc.spent = 0;
        }
        acc
    }
}

impl Book {
    /// Admits `wanted` when it fits (the synchronous step of [`Reservations::reserve`]).
    pub fn try_reserve(
        &self,
        key: &str,
        period: Period,
        budget: i64,
        wanted: i64,
        now: OffsetDateTime,
    ) -> Result<(), OverBudget> {
        let mut map = self.accounts.lock();
        let acc = Self::account(&mut map, key, period, now);
        let committed = acc.spent.saturating_add(acc.reserved);
        if !ferry_store::budget_fits(committed, wanted, budget) {
            return Err(OverBudget {
                budget,
                spent: acc.spent,
                reserved: acc.reserved,
                wanted,
            });
        }
        acc.reserved += wanted;
        Ok(())
    }

    /// Sets a key's account as another party (the shared accounts) reported it.
    pub fn record(&self, key: &str, period: Period, standing: Standing, now: OffsetDateTime) {
        let mut map = self.accounts.lock();
        let acc = Self::account(&mut map, key, period, now);
        acc.spent = standing.spent;
        acc.reserved = standing.reserved;
    }
}

#[async_trait::async_trait]
impl Reservations for Book {
    fn load(&self, key: &str, period: Period, spent: i64, now: OffsetDateTime) {
        let mut map = self.accounts.lock();
        let acc = Self::account(&mut map, key, period, now);
        // Requests in flight keep their reservations (a key whose period changed).
        acc.period_start = period.start(now);
        acc.spent = spent;
    }

    async fn reserve(
        &self,
        key: &str,
        period: Period,
        budget: i64,
        wanted: i64,
        now: OffsetDateTime,
    ) -> Result<(), ReserveError> {
        self.try_reserve(key, period, budget, wanted, now)
            .map_err(ReserveError::Over)
    }

    fn settle(&self, key: &str, period: Period, reserved: i64, charged: i64, now: OffsetDateTime) {
        let mut map = self.accounts.lock();
        let acc = Self::account(&mut map, key, period, now);
        acc.reserved = (acc.reserved - reserved).max(0);
        acc.spent = acc.spent.saturating_add(charged);
    }

    fn standing(&self, key: &str, period: Period, now: OffsetDateTime) -> Standing {
        let mut map = self.accounts.lock();
        let acc = Self::account(&mut map, key, period, now);
        Standing {
            spent: acc.spent,
            reserved: acc.reserved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn admits_up_to_the_budget_and_never_past_it() {
        let book = Book::default();
        let now = datetime!(2026-12-02 10:00 UTC);
        let budget = usd_to_nanos(1.0);
        let each = usd_to_nanos(0.3);
        for _ in 0..3 {
            book.try_reserve("k", Period::Month, budget, each, now)
                .unwrap();
        }
        assert!(book
            .try_reserve("k", Period::Month, budget, each, now)
            .is_err());
        // Settling cheaper than reserved frees room.
        book.settle("k", Period::Month, each, usd_to_nanos(0.1), now);
        book.try_reserve("k", Period::Month, budget, each, now)
            .unwrap();
        // Exactly at the budget: spent + reserved == budget is admitted…
        let b = Book::default();
        b.try_reserve("k", Period::Day, 10, 10, now).unwrap();
        b.settle("k", Period::Day, 10, 10, now);
        // …and once spend equals the budget, nothing more is, not even a free call.
        assert!(b.try_reserve("k", Period::Day, 10, 0, now).is_err());
        // The next day starts again.
        b.try_reserve("k", Period::Day, 10, 10, datetime!(2026-12-03 00:00 UTC))
            .unwrap();
    }

    #[test]
    fn reloading_a_keys_spend_keeps_its_reservations_in_flight() {
        let book = Book::default();
        let now = datetime!(2026-12-02 10:00 UTC);
        book.try_reserve("k", Period::Month, 100, 40, now).unwrap();
        book.load("k", Period::Day, 30, now);
        assert_eq!(
            book.standing("k", Period::Day, now),
            Standing {
                spent: 30,
                reserved: 40
            }
        );
        assert!(book.try_reserve("k", Period::Day, 100, 31, now).is_err());
    }

    #[test]
    fn nanos_round_worst_cases_up() {
        assert_eq!(usd_to_nanos_ceil(0.000_000_000_1), 1);
        assert_eq!(usd_to_nanos_ceil(0.000_01 * 1000.0), 10_000_000);
        assert_eq!(usd_to_nanos(0.01), 10_000_000);
        assert_eq!(usd_to_nanos(-1.0), 0);
    }
}
