//! Asset rows and their derivations. The blob files are the asset store's business: a
//! backend only keeps the rows.

use async_trait::async_trait;
use serde_json::Value;

use crate::{Asset, AssetFilter, AssetInsert, Derivation, NewAsset, StoreError};

/// Asset metadata and derivations (transcripts).
#[async_trait]
pub trait AssetRepo: Send + Sync {
    /// On a database shared by replicas: waits for the lock of the blob `sha256` that
    /// every replica holds around placing or deleting those bytes (until the lease
    /// drops), so an upload on one replica cannot race the deletion of the last asset
    /// holding the same bytes on another. `None` when only one process uses the database
    /// (the asset store's in-process lock is then the whole truth).
    async fn lock_blob(&self, _sha256: &str) -> Result<Option<BlobLease>, StoreError> {
        Ok(None)
    }

    /// Records an asset. Same bytes and type as an existing asset →
    /// [`AssetInsert::Existing`] and no new row.
    async fn insert_asset(&self, new: NewAsset) -> Result<AssetInsert, StoreError>;

    /// The asset with this id, if any.
    async fn get_asset(&self, id: &str) -> Result<Option<Asset>, StoreError>;

    /// Assets newest first, filtered, at most `filter.limit`.
    async fn list_assets(&self, filter: AssetFilter) -> Result<Vec<Asset>, StoreError>;

    /// Deletes the asset and its derivations; returns it, and whether another asset
    /// still shares its bytes (when not, the caller may remove the blob).
    /// [`StoreError::AssetNotFound`] if it does not exist.
    async fn delete_asset(&self, id: &str) -> Result<(Asset, bool), StoreError>;

    /// Whether any asset uses these bytes.
    async fn blob_in_use(&self, sha256: &str) -> Result<bool, StoreError>;

    /// The derivation for exactly (asset, kind, model), if stored.
    async fn get_derivation(
        &self,
        asset_id: &str,
        kind: &str,
        model: &str,
    ) -> Result<Option<Derivation>, StoreError>;

    /// Every derivation of an asset, oldest first.
    async fn derivations(&self, asset_id: &str) -> Result<Vec<Derivation>, StoreError>;

    /// Stores a derivation unless one exists for (asset, kind, model); returns the stored
    /// one (the first writer wins, so the text stays canonical).
    /// [`StoreError::AssetNotFound`] if the asset was deleted meanwhile.
    async fn put_derivation(
        &self,
        asset_id: &str,
        kind: &str,
        model: &str,
        content: &str,
        meta: Option<Value>,
    ) -> Result<Derivation, StoreError>;
}

/// A blob lock held across processes until dropped ([`AssetRepo::lock_blob`]).
pub struct BlobLease {
    _held: Box<dyn Send + Sync>,
}

impl BlobLease {
    /// A lease released when `held` drops.
    pub fn new(held: impl Send + Sync + 'static) -> BlobLease {
        BlobLease {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for BlobLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobLease").finish_non_exhaustive()
    }
}
