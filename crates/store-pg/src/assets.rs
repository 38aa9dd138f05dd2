//! Asset rows and their derivations on PostgreSQL (the blobs are the asset store's).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use ferry_store::{
    now_rfc3339, Asset, AssetFilter, AssetInsert, AssetRepo, Derivation, NewAsset, StoreError,
};
use serde_json::Value;
use tokio_postgres::Row;

use crate::cached::Cached;
use crate::columns::{self, json_text_opt};
use crate::db_error::db;
use crate::PgStore;

const SELECT_ASSET: &str =
    "SELECT id, sha256, media_type, size, file_name, source, created_at, seq FROM assets";
const SELECT_DERIVATION: &str =
    "SELECT asset_id, kind, model, content, meta, created_at FROM asset_derivations";

fn asset_from_row(row: &Row) -> Asset {
    Asset {
        id: row.get("id"),
        sha256: row.get("sha256"),
        media_type: row.get("media_type"),
        size: columns::count(row, 3),
        file_name: row.get("file_name"),
        source: row.get("source"),
        created_at: row.get("created_at"),
        seq: row.get("seq"),
    }
}

fn derivation_from_row(row: &Row) -> Result<Derivation, StoreError> {
    Ok(Derivation {
        asset_id: row.get("asset_id"),
        kind: row.get("kind"),
        model: row.get("model"),
        content: row.get("content"),
        meta: columns::json_opt(row, "meta")?,
        created_at: row.get("created_at"),
    })
}

async fn load_asset(c: &(impl Cached + Sync), id: &str) -> Result<Option<Asset>, StoreError> {
    let row = c
        .row_opt(&format!("{SELECT_ASSET} WHERE id = $1"), &[&id])
        .await
        .map_err(db)?;
    Ok(row.as_ref().map(asset_from_row))
}

async fn blob_in_use(c: &(impl Cached + Sync), sha256: &str) -> Result<bool, StoreError> {
    Ok(
        c.row_opt("SELECT 1 FROM assets WHERE sha256 = $1 LIMIT 1", &[&sha256])
            .await
            .map_err(db)?
            .is_some(),
    )
}

/// The advisory lock key of a blob: the first 64 bits of its SHA-256, in a namespace of
/// their own (the top bit set; replica lock keys are random, a clash is 1 in 2^63).
fn blob_lock_key(sha256: &str) -> i64 {
    let bits = sha256
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    (bits | (1 << 63)) as i64
}

/// The connection holding a blob's advisory lock. Dropping it closes the connection
/// (taken out of the pool), and the server releases the lock with it: nothing has to run
/// an unlock, so no pooled connection can keep a lock by mistake.
struct HeldBlob(Option<deadpool_postgres::Object>);

impl Drop for HeldBlob {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(deadpool_postgres::Object::take(conn));
        }
    }
}

#[async_trait]
impl AssetRepo for PgStore {
    async fn lock_blob(&self, sha256: &str) -> Result<Option<ferry_store::BlobLease>, StoreError> {
        let conn = self.pool.get().await.map_err(crate::db_error::pool)?;
        conn.exec("SELECT pg_advisory_lock($1)", &[&blob_lock_key(sha256)])
            .await
            .map_err(db)?;
        Ok(Some(ferry_store::BlobLease::new(HeldBlob(Some(conn)))))
    }

    async fn insert_asset(&self, new: NewAsset) -> Result<AssetInsert, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let size = columns::bigint(new.size, "the asset size")?;
        // One statement: of two concurrent inserts of the same bytes and type, one inserts
        // and the other finds its row.
        let inserted = tx
            .row_opt(
                "INSERT INTO assets (id, sha256, media_type, size, file_name, source, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (sha256, media_type) DO NOTHING
                 RETURNING id, sha256, media_type, size, file_name, source, created_at, seq",
                &[
                    &new.id,
                    &new.sha256,
                    &new.media_type,
                    &size,
                    &new.file_name,
                    &new.source,
                    &now_rfc3339(),
                ],
            )
            .await
            .map_err(db)?;
        let outcome = match inserted {
            Some(row) => AssetInsert::Inserted(asset_from_row(&row)),
            None => {
                let row = tx
                    .row(
                        &format!("{SELECT_ASSET} WHERE sha256 = $1 AND media_type = $2"),
                        &[&new.sha256, &new.media_type],
                    )
                    .await
                    .map_err(db)?;
                AssetInsert::Existing(asset_from_row(&row))
            }
        };
        tx.commit().await.map_err(db)?;
        Ok(outcome)
    }

    async fn get_asset(&self, id: &str) -> Result<Option<Asset>, StoreError> {
        load_asset(&self.reader().await?, id).await
    }

    async fn list_assets(&self, filter: AssetFilter) -> Result<Vec<Asset>, StoreError> {
        let conn = self.reader().await?;
        let types: Option<&Vec<String>> =
            (!filter.media_types.is_empty()).then_some(&filter.media_types);
        let rows = conn
            .rows(
                &format!(
                    "{SELECT_ASSET}
                     WHERE ($1::TEXT IS NULL OR source = $1)
                       AND ($2::BIGINT IS NULL OR seq < $2)
                       AND ($3::TEXT[] IS NULL OR media_type = ANY($3))
                     ORDER BY seq DESC LIMIT $4"
                ),
                &[
                    &filter.source,
                    &filter.before,
                    &types,
                    &i64::from(filter.limit),
                ],
            )
            .await
            .map_err(db)?;
        Ok(rows.iter().map(asset_from_row).collect())
    }

    async fn delete_asset(&self, id: &str) -> Result<(Asset, bool), StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let row = tx
            .row_opt(
                "DELETE FROM assets WHERE id = $1
                 RETURNING id, sha256, media_type, size, file_name, source, created_at, seq",
                &[&id],
            )
            .await
            .map_err(db)?
            .ok_or_else(|| StoreError::AssetNotFound { id: id.to_owned() })?;
        let asset = asset_from_row(&row);
        let shared = blob_in_use(&tx, &asset.sha256).await?;
        tx.commit().await.map_err(db)?;
        Ok((asset, shared))
    }

    async fn blob_in_use(&self, sha256: &str) -> Result<bool, StoreError> {
        blob_in_use(&self.reader().await?, sha256).await
    }

    async fn get_derivation(
        &self,
        asset_id: &str,
        kind: &str,
        model: &str,
    ) -> Result<Option<Derivation>, StoreError> {
        let conn = self.reader().await?;
        let row = conn
            .row_opt(
                &format!("{SELECT_DERIVATION} WHERE asset_id = $1 AND kind = $2 AND model = $3"),
                &[&asset_id, &kind, &model],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(derivation_from_row).transpose()
    }

    async fn derivations(&self, asset_id: &str) -> Result<Vec<Derivation>, StoreError> {
        let conn = self.reader().await?;
        let rows = conn
            .rows(
                &format!(
                    "{SELECT_DERIVATION} WHERE asset_id = $1 ORDER BY created_at, kind, model"
                ),
                &[&asset_id],
            )
            .await
            .map_err(db)?;
        rows.iter().map(derivation_from_row).collect()
    }

    async fn put_derivation(
        &self,
        asset_id: &str,
        kind: &str,
        model: &str,
        content: &str,
        meta: Option<Value>,
    ) -> Result<Derivation, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // Locks the asset row, so a concurrent delete waits for (or precedes) this insert.
        let exists = tx
            .row_opt("SELECT 1 FROM assets WHERE id = $1 FOR SHARE", &[&asset_id])
            .await
            .map_err(db)?
            .is_some();
        if !exists {
            return Err(StoreError::AssetNotFound {
                id: asset_id.to_owned(),
            });
        }
        tx.exec(
            "INSERT INTO asset_derivations (asset_id, kind, model, content, meta, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (asset_id, kind, model) DO NOTHING",
            &[
                &asset_id,
                &kind,
                &model,
                &content,
                &json_text_opt(meta.as_ref()),
                &now_rfc3339(),
            ],
        )
        .await
        .map_err(db)?;
        let row = tx
            .row(
                &format!("{SELECT_DERIVATION} WHERE asset_id = $1 AND kind = $2 AND model = $3"),
                &[&asset_id, &kind, &model],
            )
            .await
            .map_err(db)?;
        let derivation = derivation_from_row(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(derivation)
    }
}
