//! The shared secret store on PostgreSQL ([`SecretRepo`]): `secret_store` holds the one
//! header row (the sealed document without its slots, and the generation every write
//! advances), `secret_slots` a row per sealed slot, exactly as `secrets.json` holds them.
//! A write replaces the document in one transaction guarded by the generation it was
//! made from, so a replica that wrote from a stale copy is told to reload, not allowed to
//! drop another replica's change.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use ferry_secrets::{SealedDocument, SealedSlot};
use ferry_store::{SecretRepo, StoreError, SHARED_SECRETS_ORIGIN};
use tokio_postgres::IsolationLevel;

use crate::cached::Cached;
use crate::db_error::{backend, db};
use crate::PgStore;

/// The stored document and its generation, read through `client` (a transaction for one
/// snapshot of header and slots).
pub(crate) async fn read_document(
    client: &(impl Cached + Sync),
) -> Result<Option<(SealedDocument, i64)>, StoreError> {
    let Some(header) = client
        .row_opt(
            "SELECT generation, header FROM secret_store WHERE id = 1",
            &[],
        )
        .await
        .map_err(db)?
    else {
        return Ok(None);
    };
    let rows = client
        .rows(
            "SELECT ref, provider, updated_at, nonce, ciphertext FROM secret_slots
             ORDER BY ref COLLATE \"C\"",
            &[],
        )
        .await
        .map_err(db)?;
    let slots = rows
        .iter()
        .map(|r| SealedSlot {
            r#ref: r.get(0),
            provider: r.get(1),
            updated_at: r.get(2),
            nonce: r.get(3),
            ciphertext: r.get(4),
        })
        .collect();
    let generation: i64 = header.get(0);
    let header: String = header.get(1);
    let doc = SealedDocument::from_parts(SHARED_SECRETS_ORIGIN, &header, slots)
        .map_err(|e| backend(e.to_string()))?;
    Ok(Some((doc, generation)))
}

/// Replaces the document inside `tx` when the stored generation is still `expected` (0:
/// none stored); false (and nothing written) when it moved. The caller commits.
pub(crate) async fn write_document(
    tx: &Transaction<'_>,
    doc: &SealedDocument,
    expected: i64,
) -> Result<bool, StoreError> {
    let header = doc.header_json().map_err(|e| backend(e.to_string()))?;
    // The header row is the store's lock: a concurrent writer waits here, then sees the
    // generation moved and changes nothing.
    let claimed = if expected == 0 {
        tx.exec(
            "INSERT INTO secret_store (id, generation, header) VALUES (1, 1, $1)
             ON CONFLICT (id) DO NOTHING",
            &[&header],
        )
        .await
    } else {
        tx.exec(
            "UPDATE secret_store SET generation = generation + 1, header = $1, updated_at = now()
             WHERE id = 1 AND generation = $2",
            &[&header, &expected],
        )
        .await
    }
    .map_err(db)?;
    if claimed == 0 {
        return Ok(false);
    }
    let refs: Vec<&str> = doc.slots.iter().map(|s| s.r#ref.as_str()).collect();
    tx.exec(
        "DELETE FROM secret_slots WHERE NOT (ref = ANY($1))",
        &[&refs],
    )
    .await
    .map_err(db)?;
    let upsert = tx
        .prepare(
            "INSERT INTO secret_slots (ref, provider, updated_at, nonce, ciphertext)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (ref) DO UPDATE SET provider = excluded.provider,
                 updated_at = excluded.updated_at, nonce = excluded.nonce,
                 ciphertext = excluded.ciphertext
             WHERE (secret_slots.provider, secret_slots.updated_at, secret_slots.nonce,
                    secret_slots.ciphertext)
                   IS DISTINCT FROM (excluded.provider, excluded.updated_at, excluded.nonce,
                    excluded.ciphertext)",
        )
        .await
        .map_err(db)?;
    for s in &doc.slots {
        tx.execute(
            &upsert,
            &[
                &s.r#ref,
                &s.provider,
                &s.updated_at,
                &s.nonce,
                &s.ciphertext,
            ],
        )
        .await
        .map_err(db)?;
    }
    Ok(true)
}

#[async_trait]
impl SecretRepo for PgStore {
    async fn load_secrets(&self) -> Result<Option<(SealedDocument, i64)>, StoreError> {
        let mut conn = self.reader().await?;
        let tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db)?;
        let found = read_document(&tx).await?;
        tx.commit().await.map_err(db)?;
        Ok(found)
    }

    async fn secrets_generation(&self) -> Result<i64, StoreError> {
        let conn = self.reader().await?;
        let row = conn
            .row_opt("SELECT generation FROM secret_store WHERE id = 1", &[])
            .await
            .map_err(db)?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    async fn save_secrets(
        &self,
        doc: &SealedDocument,
        expected: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        if !write_document(&tx, doc, expected).await? {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        }
        tx.commit().await.map_err(db)?;
        Ok(Some(expected + 1))
    }
}

/// The shared secret store at `url`, read without joining the database as a replica and
/// without migrating it (for `ferry doctor`): `Ok(None)` when the database has no secret
/// store (or no ferry tables yet).
pub async fn read_shared_secrets(url: &str) -> Result<Option<SealedDocument>, StoreError> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| backend(format!("invalid database URL ({e})")))?;
    let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(1)
        .build()
        .map_err(|e| backend(e.to_string()))?;
    let conn = pool.get().await.map_err(crate::db_error::pool)?;
    let exists: bool = conn
        .row("SELECT to_regclass('secret_store') IS NOT NULL", &[])
        .await
        .map_err(db)?
        .get(0);
    if !exists {
        return Ok(None);
    }
    Ok(read_document(&conn).await?.map(|(doc, _)| doc))
}
