//! [`copy_blobs`]: copies every blob of one [`BlobStore`] that another lacks (moving a
//! state root's assets into S3, `ferry db copy`). Each blob streams from one store into the
//! other, verified twice: the source's read ends in an error when its bytes do not hash to
//! the key, and the target's put refuses bytes that do not, so a corrupted blob is never
//! copied as good bytes.

use crate::blob_store::BlobStore;
use crate::error::BlobError;

/// What [`copy_blobs`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Blobs copied.
    pub copied: u64,
    /// Blobs the target already had (left as they are).
    pub skipped: u64,
    /// Bytes copied.
    pub bytes: u64,
}

/// A blob that could not be copied; blobs copied before it stay copied, so running the
/// copy again resumes after them.
#[derive(Debug, thiserror::Error)]
#[error("cannot copy blob {sha256} from {from} to {to} ({done} copied before it; running the copy again skips those): {source}")]
pub struct CopyError {
    /// The blob.
    pub sha256: String,
    /// Where it was read.
    pub from: String,
    /// Where it was to go.
    pub to: String,
    /// Blobs copied before it.
    pub done: u64,
    /// What failed.
    #[source]
    pub source: BlobError,
}

/// Copies every blob of `from` that `to` does not have, one at a time, each verified by its
/// hash on the way (see the module doc). Stops at the first blob that fails.
pub async fn copy_blobs(from: &dyn BlobStore, to: &dyn BlobStore) -> Result<CopyReport, CopyError> {
    let mut report = CopyReport::default();
    let all = from.list().await.map_err(|source| CopyError {
        sha256: "(listing)".into(),
        from: from.describe(),
        to: to.describe(),
        done: 0,
        source,
    })?;
    for sha256 in all {
        let copied = async {
            if to.exists(&sha256).await? {
                return Ok(None);
            }
            let body = from.get(&sha256).await?;
            to.put(&sha256, body).await.map(Some)
        }
        .await;
        match copied {
            Ok(None) => report.skipped += 1,
            Ok(Some(bytes)) => {
                report.copied += 1;
                report.bytes += bytes;
            }
            Err(source) => {
                return Err(CopyError {
                    from: from.location(&sha256),
                    to: to.location(&sha256),
                    sha256,
                    done: report.copied,
                    source,
                })
            }
        }
    }
    Ok(report)
}
