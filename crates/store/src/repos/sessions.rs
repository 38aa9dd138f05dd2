//! Sessions with their history, and the runtime configuration (key/value settings).

use async_trait::async_trait;
use serde_json::Value;

use crate::{NewSession, Session, SessionPatch, SessionTotals, StoreError, StoredMessage};

/// Sessions and their history.
#[async_trait]
pub trait SessionRepo: Send + Sync {
    /// Creates a session; [`StoreError::SessionExists`] if the id is taken.
    async fn create_session(&self, new: NewSession) -> Result<Session, StoreError>;

    /// Returns the session, creating it with no settings if missing; the flag says
    /// whether it was created.
    async fn ensure_session(&self, id: &str) -> Result<(Session, bool), StoreError>;

    /// The session with this id, if any.
    async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError>;

    /// Up to `limit` sessions ordered by id, starting after the id `after` (the last id
    /// of the previous page).
    async fn list_sessions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError>;

    /// Applies `patch` to the session and bumps its `updated_at`;
    /// [`StoreError::SessionNotFound`] if it does not exist.
    async fn update_session(&self, id: &str, patch: SessionPatch) -> Result<Session, StoreError>;

    /// Appends `messages` (each with a string `"role"`) to the session's history outside
    /// any run (e.g. an observation's transcript), with the next history seqs, and bumps
    /// `updated_at`; returns them as stored. [`StoreError::SessionNotFound`] if the
    /// session does not exist.
    async fn append_messages(
        &self,
        session_id: &str,
        messages: Vec<Value>,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// The session's history, ordered by `seq` (empty for an unknown session).
    async fn history(&self, session_id: &str) -> Result<Vec<StoredMessage>, StoreError>;

    /// Totals over the session's runs (zeros for an unknown session).
    async fn session_totals(&self, session_id: &str) -> Result<SessionTotals, StoreError>;
}

/// Small settings changed while the daemon runs (such as the active model selector).
#[async_trait]
pub trait RuntimeConfigRepo: Send + Sync {
    /// The value stored under `key`, if any.
    async fn runtime_get(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Stores `value` under `key`; `None` deletes the key.
    async fn runtime_set(&self, key: &str, value: Option<&str>) -> Result<(), StoreError>;
}
