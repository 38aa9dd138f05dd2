//! Upkeep of a backend: retention pruning, space reclaiming, statistics, and closing.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Pruned, StoreError, StoreStats};

/// Retention, statistics and shutdown.
#[async_trait]
pub trait UpkeepRepo: Send + Sync {
    /// Deletes up to `limit` finished runs created before `cutoff`, oldest first, with
    /// their events.
    async fn prune_runs(&self, cutoff: OffsetDateTime, limit: u32) -> Result<Pruned, StoreError>;

    /// Returns up to `pages` free pages to the file system; returns how many free pages
    /// are left (0 for a backend with nothing to reclaim).
    async fn reclaim_space(&self, pages: u32) -> Result<u64, StoreError>;

    /// Shrinks the write-ahead log when nothing is reading it; false when it could not
    /// (true for a backend without one).
    async fn truncate_wal(&self) -> Result<bool, StoreError>;

    /// Row counts, size and runs per status.
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    /// Commits every write still queued and stops writing: later writes fail with
    /// [`StoreError::Closed`]; reads keep working.
    async fn close(&self);

    /// Whether other processes (replicas) use this database at the same time: the
    /// engine then coordinates through it what one process keeps in memory (the order of
    /// a session's runs, budgets, keys, video jobs).
    fn shared_by_replicas(&self) -> bool {
        false
    }
}
