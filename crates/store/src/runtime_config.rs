//! Runtime configuration: small key/value settings changed while the daemon runs (such as
//! the active model selector), kept across restarts.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::store::Store;
use crate::RuntimeConfigRepo;

#[async_trait]
impl RuntimeConfigRepo for Store {
    /// The value stored under `key`, if any.
    async fn runtime_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.read_with(move |conn| {
            Ok(conn
                .prepare_cached("SELECT value FROM runtime_config WHERE key = ?1")?
                .query_row([key], |row| row.get(0))
                .optional()?)
        })
        .await
    }

    /// Stores `value` under `key`; `None` deletes the key.
    async fn runtime_set(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let key = key.to_owned();
        let value = value.map(str::to_owned);
        self.write_with(move |conn| {
            match value {
                Some(value) => conn
                    .prepare_cached(
                        "INSERT INTO runtime_config (key, value, updated_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                                                         updated_at = excluded.updated_at",
                    )?
                    .execute(params![key, value, now_rfc3339()])?,
                None => conn
                    .prepare_cached("DELETE FROM runtime_config WHERE key = ?1")?
                    .execute([key])?,
            };
            Ok(())
        })
        .await
    }
}
