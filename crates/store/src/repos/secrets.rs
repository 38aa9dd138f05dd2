//! The secret store kept in a database shared by replicas (spec §15): the same sealed
//! document as `STATE_ROOT/secrets.json` — a header (KDF parameters, key check value, store
//! authenticator) and one row per sealed slot — so every replica opens it with the one
//! master key and a file store moves in verbatim. Writes are compare-and-set on a
//! generation number, so two replicas changing secrets at once never lose either change.
//! A backend that only one process uses (SQLite) has none: the store stays a file.

use async_trait::async_trait;
use ferry_secrets::SealedDocument;

use crate::StoreError;

/// Where a shared secret store is kept, for messages.
pub const SHARED_SECRETS_ORIGIN: &str = "in the database (tables secret_store, secret_slots)";

/// The sealed secret store of a shared database.
#[async_trait]
pub trait SecretRepo: Send + Sync {
    /// The stored document and its generation (≥ 1); `None` before the first write. Only
    /// its structure is checked here; its cryptography is checked by whoever opens it.
    async fn load_secrets(&self) -> Result<Option<(SealedDocument, i64)>, StoreError>;

    /// The generation alone (0 before the first write): cheap, for noticing changes.
    async fn secrets_generation(&self) -> Result<i64, StoreError>;

    /// Replaces the whole document in one transaction when the stored generation is still
    /// `expected` (0: nothing stored yet) and answers the new generation; `Ok(None)` when
    /// another process wrote first (reload, re-apply the change, try again).
    async fn save_secrets(
        &self,
        doc: &SealedDocument,
        expected: i64,
    ) -> Result<Option<i64>, StoreError>;
}
