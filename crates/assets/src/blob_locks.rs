//! Striped locks over blob hashes: an upload (place the blob, then record its row) and a
//! delete (remove the row, then the blob when no row uses it) of the same bytes never
//! interleave, so a delete can never remove a blob an upload has just recorded. The
//! storage backend knows nothing of the files; this ordering is the asset store's own.
//! These locks order one process; on a database shared by replicas the asset store also
//! takes the backend's lock of the blob (`AssetRepo::lock_blob`, a PostgreSQL advisory
//! lock), which orders every replica.

use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

/// Stripes: enough that unrelated uploads rarely wait for each other.
const STRIPES: usize = 64;

/// The locks (cheap to clone).
#[derive(Clone)]
pub(crate) struct BlobLocks {
    stripes: Arc<[Arc<Mutex<()>>]>,
}

impl BlobLocks {
    pub(crate) fn new() -> BlobLocks {
        BlobLocks {
            stripes: (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect(),
        }
    }

    /// Waits for the lock of the blob `sha256` (hex). An async lock, held across the
    /// file and row steps it orders.
    pub(crate) async fn lock(&self, sha256: &str) -> OwnedMutexGuard<()> {
        let stripe = sha256
            .get(..4)
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .unwrap_or(0)
            % STRIPES;
        Arc::clone(&self.stripes[stripe]).lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_blob_is_locked_once_and_others_stay_free() {
        let locks = BlobLocks::new();
        let held = locks.lock("00ff").await;
        // Another blob on another stripe is not held up.
        let other =
            tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock("0101")).await;
        assert!(other.is_ok());
        // The same blob waits until the first guard is dropped.
        let again =
            tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock("00ff")).await;
        assert!(again.is_err());
        drop(held);
        let after =
            tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock("00ff")).await;
        assert!(after.is_ok());
    }
}
