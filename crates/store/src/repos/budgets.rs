//! Budget accounts shared by every process on one database (spec §15): per key, the spend
//! of its current period and the reservations of requests in flight, kept where all
//! replicas see them, so a key's budget holds cluster-wide. A backend that only one process
//! uses (SQLite) has none: that process's in-memory book is the whole truth.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;

/// The admission rule of every budget book (in memory or shared): with `committed`
/// (spend + reservations) already held against `budget`, a request that may cost `wanted`
/// fits only when something is left and all of it fits — so once spend equals the budget
/// even a free call is refused.
pub fn budget_fits(committed: i64, wanted: i64, budget: i64) -> bool {
    committed < budget && committed.saturating_add(wanted) <= budget
}

/// A key's account in its current period, in nano-USD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetAccount {
    /// Charged in the period.
    pub spent: i64,
    /// Reserved by requests in flight, on every replica.
    pub reserved: i64,
}

/// Shared budget accounts. Every method is one transaction under the account's row lock,
/// so concurrent callers on any replica never together overshoot. `period_start` is the
/// start of the key's current period: an account still in an older period starts again
/// from zero spend (reservations in flight stay).
#[async_trait]
pub trait BudgetRepo: Send + Sync {
    /// Reserves `wanted` for `key` when `spent + reserved < budget` and
    /// `spent + reserved + wanted ≤ budget`; otherwise reserves nothing and answers the
    /// account as it stands (`Ok(Err(account))`).
    async fn reserve(
        &self,
        key: &str,
        period_start: OffsetDateTime,
        budget: i64,
        wanted: i64,
    ) -> Result<Result<BudgetAccount, BudgetAccount>, StoreError>;

    /// Ends a reservation of `reserved` made by this process and charges `charged`.
    async fn settle(
        &self,
        key: &str,
        period_start: OffsetDateTime,
        reserved: i64,
        charged: i64,
    ) -> Result<BudgetAccount, StoreError>;

    /// Raises the period's spend to at least `spent` (read from the ledger at start-up;
    /// never lowers what other replicas charged meanwhile).
    async fn load_spent(
        &self,
        key: &str,
        period_start: OffsetDateTime,
        spent: i64,
    ) -> Result<BudgetAccount, StoreError>;
}
