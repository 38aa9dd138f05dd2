//! Team access (spec §14): virtual keys and the spend ledger.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::{KeyRow, LedgerEntry, ReservationRow, SpendGroup, SpendGrouping, StoreError};

/// Virtual keys, old reservation rows and the spend ledger.
#[async_trait]
pub trait AccessRepo: Send + Sync {
    /// Inserts a new key (`created_at`/`updated_at` now); returns it as stored.
    async fn insert_key(
        &self,
        id: String,
        name: String,
        secret_hash: String,
        hint: String,
        settings: Value,
    ) -> Result<KeyRow, StoreError>;

    /// Every key, revoked ones included, oldest first.
    async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError>;

    /// Replaces a key's name and settings; false when no such key.
    async fn update_key(
        &self,
        id: String,
        name: String,
        settings: Value,
    ) -> Result<bool, StoreError>;

    /// Revokes a key; false when no such key or already revoked.
    async fn revoke_key(&self, id: String) -> Result<bool, StoreError>;

    /// The budget accounts this backend shares between processes, or `None` when only one
    /// process uses it (its in-memory book is then the whole truth).
    fn shared_budgets(&self) -> Option<std::sync::Arc<dyn crate::BudgetRepo>> {
        None
    }

    /// The rate-limit cells this backend shares between processes, or `None` when only
    /// one process uses it (its in-memory limiters are then the whole truth).
    fn shared_rates(&self) -> Option<std::sync::Arc<dyn crate::RateRepo>> {
        None
    }

    /// The secret store this backend shares between processes, or `None` when only one
    /// process uses it (the store is then `STATE_ROOT/secrets.json`).
    fn shared_secrets(&self) -> Option<std::sync::Arc<dyn crate::SecretRepo>> {
        None
    }

    /// Deletes every reservation row and returns them: rows an older ferry (which kept
    /// reservations on disk) left behind when it died with requests in flight.
    async fn release_all_reservations(&self) -> Result<Vec<ReservationRow>, StoreError>;

    /// Appends a ledger row without waiting (the in-memory budget book is already
    /// settled); the ledger reads below see it. Failures are logged.
    fn charge_nowait(&self, entry: LedgerEntry);

    /// Records, without waiting, what OpenRouter billed for a generation on its ledger
    /// row; the ledger reads below see it. Failures are logged.
    fn set_ledger_billed_nowait(&self, generation_id: String, billed: f64);

    /// Nano-USD charged to each key since each given instant, for the budget book.
    async fn key_spend_since(
        &self,
        keys: Vec<(String, OffsetDateTime)>,
    ) -> Result<Vec<(String, i64)>, StoreError>;

    /// The ledger grouped, between `since` (inclusive) and `until` (exclusive), RFC 3339
    /// or date prefixes; biggest spend first (by day: oldest first). With `split`, each
    /// group is divided by that second grouping (rows ordered by group, then spend).
    async fn spend_report(
        &self,
        by: SpendGrouping,
        split: Option<SpendGrouping>,
        since: Option<String>,
        until: Option<String>,
        key_id: Option<String>,
    ) -> Result<Vec<SpendGroup>, StoreError>;
}
