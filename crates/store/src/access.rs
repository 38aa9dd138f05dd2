//! Team access rows (spec §14): virtual keys (a SHA-256 of the secret, never the secret;
//! their settings as one JSON document the engine owns). Open budget reservations are kept
//! in memory by the engine; the `spend_reservations` table only holds rows an older ferry
//! wrote, released at start.

use async_trait::async_trait;
use rusqlite::{params, Row};
use serde::Serialize;
use serde_json::Value;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::json_column::{self, to_text};
use crate::store::Store;
use crate::{AccessRepo, LedgerEntry, SpendGroup, SpendGrouping};
use time::OffsetDateTime;

/// A stored virtual key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyRow {
    /// `key_…` id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Hex SHA-256 of the secret.
    #[serde(skip)]
    pub secret_hash: String,
    /// `fk-…abcd`: enough to recognise the key, useless to use it.
    pub hint: String,
    /// Scopes, limits, budget, expiry… (the engine's `KeySettings`).
    pub settings: Value,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_at: Option<String>,
}

/// A budget reservation of a request in flight.
#[derive(Debug, Clone, PartialEq)]
pub struct ReservationRow {
    pub id: String,
    pub key_id: String,
    /// Reserved amount in nano-USD.
    pub amount_nanos: i64,
    pub route: String,
    pub model: String,
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        id: row.get(0)?,
        name: row.get(1)?,
        secret_hash: row.get(2)?,
        hint: row.get(3)?,
        settings: json_column::column(row, 4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        revoked_at: row.get(7)?,
    })
}

#[async_trait]
impl AccessRepo for Store {
    /// Inserts a new key (`created_at`/`updated_at` now); returns it as stored.
    async fn insert_key(
        &self,
        id: String,
        name: String,
        secret_hash: String,
        hint: String,
        settings: Value,
    ) -> Result<KeyRow, StoreError> {
        self.write(move |conn| {
            let now = now_rfc3339();
            conn.prepare_cached(
                "INSERT INTO access_keys (id, name, secret_hash, hint, settings, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?
            .execute(params![id, name, secret_hash, hint, to_text(&settings)?, now])?;
            Ok(KeyRow {
                id,
                name,
                secret_hash,
                hint,
                settings,
                created_at: now.clone(),
                updated_at: now,
                revoked_at: None,
            })
        })
        .await
    }

    /// Every key, revoked ones included, oldest first.
    async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT id, name, secret_hash, hint, settings, created_at, updated_at, revoked_at
                 FROM access_keys ORDER BY created_at, id",
            )?
            .query_map([], key_from_row)?
            .collect()
        })
        .await
    }

    /// Replaces a key's name and settings; false when there is no such key.
    async fn update_key(
        &self,
        id: String,
        name: String,
        settings: Value,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE access_keys SET name = ?2, settings = ?3, updated_at = ?4 WHERE id = ?1",
                )?
                .execute(params![id, name, to_text(&settings)?, now_rfc3339()])?;
            Ok(n > 0)
        })
        .await
    }

    /// Marks a key revoked (now); false when there is no such key or it was revoked.
    async fn revoke_key(&self, id: String) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let now = now_rfc3339();
            let n = conn
                .prepare_cached(
                    "UPDATE access_keys SET revoked_at = ?2, updated_at = ?2
                     WHERE id = ?1 AND revoked_at IS NULL",
                )?
                .execute(params![id, now])?;
            Ok(n > 0)
        })
        .await
    }

    /// Deletes every reservation row and returns them: rows an older ferry (which kept
    /// reservations on disk) left behind when it died with requests in flight.
    async fn release_all_reservations(&self) -> Result<Vec<ReservationRow>, StoreError> {
        self.write(|conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT id, key_id, amount_nanos, route, model FROM spend_reservations",
                )?
                .query_map([], |row| {
                    Ok(ReservationRow {
                        id: row.get(0)?,
                        key_id: row.get(1)?,
                        amount_nanos: row.get(2)?,
                        route: row.get(3)?,
                        model: row.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            conn.execute("DELETE FROM spend_reservations", [])?;
            Ok(rows)
        })
        .await
    }

    fn charge_nowait(&self, entry: LedgerEntry) {
        Store::charge_nowait(self, entry);
    }

    fn set_ledger_billed_nowait(&self, generation_id: String, billed: f64) {
        Store::set_ledger_billed_nowait(self, generation_id, billed);
    }

    async fn key_spend_since(
        &self,
        keys: Vec<(String, OffsetDateTime)>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        Store::key_spend_since(self, keys).await
    }

    async fn spend_report(
        &self,
        by: SpendGrouping,
        split: Option<SpendGrouping>,
        since: Option<String>,
        until: Option<String>,
        key_id: Option<String>,
    ) -> Result<Vec<SpendGroup>, StoreError> {
        Store::spend_report(self, by, split, since, until, key_id).await
    }
}
