//! The asset store's error type, with the stable problem code and HTTP status of each
//! failure. Messages say what was wrong and how to fix it.

use std::path::PathBuf;

use crate::sniff::SniffError;

/// Any failure of storing, reading or deleting an asset.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// The bytes were refused by the type rules (empty, not accepted, contradicting).
    #[error("{0}")]
    Type(#[from] SniffError),
    /// The upload is larger than the configured limit.
    #[error(
        "the upload is larger than the asset size limit of {limit} bytes; send a smaller file, or raise the limit with `ferry serve --max-asset-bytes N` (env FERRY_MAX_ASSET_BYTES)"
    )]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// No asset with this id.
    #[error("asset {id} not found; list assets with `ferry assets list`")]
    NotFound {
        /// The asset id.
        id: String,
    },
    /// The blob on disk no longer hashes to the asset's SHA-256.
    #[error(
        "asset {id} is corrupted in the asset store: its bytes hash to {actual} instead of {expected}; ferry refuses to serve them — delete the asset (`ferry assets delete` / DELETE /v1/assets/{id}) and upload the original again"
    )]
    Corrupted {
        /// The asset id.
        id: String,
        /// The SHA-256 recorded at upload.
        expected: String,
        /// The SHA-256 of the bytes found now.
        actual: String,
    },
    /// The blob is gone.
    #[error("asset {id}'s bytes are missing from {location}: {fix}")]
    BlobMissing {
        /// The asset id.
        id: String,
        /// Where the blob should be (a path or an `s3://` URL).
        location: String,
        /// Why that may be, and what to do.
        fix: &'static str,
    },
    /// A filesystem operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The object store (`serve --asset-store s3://…`) failed.
    #[error("cannot {action} {location}: {source}")]
    ObjectStore {
        /// What was being done.
        action: &'static str,
        /// The object's `s3://` URL.
        location: String,
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },
    /// The metadata database failed.
    #[error("storage error: {0}")]
    Store(ferry_store::StoreError),
}

/// A failure of a [`crate::BlobStore`]: blobs know their hash, not the assets using them.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No blob under this hash.
    #[error("blob {sha256} is missing from {location}")]
    Missing {
        /// The blob's SHA-256.
        sha256: String,
        /// Where it should be.
        location: String,
    },
    /// The bytes do not hash to the key (read back, or sent to a put).
    #[error("blob {sha256} is corrupted: its bytes hash to {actual}")]
    Corrupted {
        /// The SHA-256 the blob is stored under.
        sha256: String,
        /// The SHA-256 of the bytes found.
        actual: String,
    },
    /// A filesystem operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The object store failed.
    #[error("cannot {action} {location}: {source}")]
    ObjectStore {
        /// What was being done.
        action: &'static str,
        /// The object's `s3://` URL.
        location: String,
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },
}

impl BlobError {
    /// The asset error for this blob failure of asset `id`.
    pub(crate) fn for_asset(self, id: &str) -> AssetError {
        match self {
            BlobError::Missing { location, .. } => AssetError::BlobMissing {
                id: id.to_owned(),
                location,
                fix: "were they removed outside ferry? Upload the original again to restore them",
            },
            BlobError::Corrupted { sha256, actual } => AssetError::Corrupted {
                id: id.to_owned(),
                expected: sha256,
                actual,
            },
            BlobError::Io {
                action,
                path,
                source,
            } => AssetError::Io {
                action,
                path,
                source,
            },
            BlobError::ObjectStore {
                action,
                location,
                source,
            } => AssetError::ObjectStore {
                action,
                location,
                source,
            },
        }
    }
}

impl From<ferry_store::StoreError> for AssetError {
    fn from(e: ferry_store::StoreError) -> Self {
        match e {
            ferry_store::StoreError::AssetNotFound { id } => AssetError::NotFound { id },
            ferry_store::StoreError::Io {
                action,
                path,
                source,
            } => AssetError::Io {
                action,
                path,
                source,
            },
            other => AssetError::Store(other),
        }
    }
}

impl AssetError {
    /// The stable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            AssetError::Type(SniffError::Empty) => "empty_asset",
            AssetError::Type(SniffError::Mismatch { .. }) => "media_type_mismatch",
            AssetError::Type(_) => "unsupported_media_type",
            AssetError::TooLarge { .. } => "asset_too_large",
            AssetError::NotFound { .. } => "asset_not_found",
            AssetError::Corrupted { .. } => "asset_corrupted",
            AssetError::BlobMissing { .. } => "asset_blob_missing",
            AssetError::Io { .. } | AssetError::ObjectStore { .. } => "asset_io_error",
            AssetError::Store(_) => "storage_error",
        }
    }

    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        match self {
            AssetError::Type(SniffError::Empty) => 400,
            AssetError::Type(_) => 415,
            AssetError::TooLarge { .. } => 413,
            AssetError::NotFound { .. } => 404,
            AssetError::Corrupted { .. }
            | AssetError::BlobMissing { .. }
            | AssetError::Io { .. }
            | AssetError::ObjectStore { .. }
            | AssetError::Store(_) => 500,
        }
    }
}
