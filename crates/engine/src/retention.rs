//! Retention (`serve --retention-days N`, routes.toml `retention_days`): a background task
//! that deletes finished runs older than N days with their events — recorded facade calls
//! included — and shrinks the database file. It works in small batches, each its own
//! writer job with a pause after it, so request traffic interleaves; it runs shortly after
//! start and then every [`PRUNE_EVERY`], and stops on drain. Sessions and their history
//! are kept.

use std::sync::Arc;
use std::time::Duration;

use ferry_store::{Pruned, Storage};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the database is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);
/// How long after start the first pruning begins.
const FIRST_PRUNE_AFTER: Duration = Duration::from_millis(500);
/// Runs deleted per writer job.
const BATCH_RUNS: u32 = 200;
/// Free pages returned to the file system per writer job.
const BATCH_PAGES: u32 = 2048;
/// Pause between batches.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

/// Starts the retention task on `tasks` when `days` is set and non-zero; it ends when
/// `stop` is cancelled (the engine's drain).
pub(crate) fn spawn(
    store: Arc<dyn Storage>,
    days: Option<u32>,
    tasks: &TaskTracker,
    stop: CancellationToken,
) {
    let Some(days) = days.filter(|d| *d > 0) else {
        return;
    };
    tasks.spawn(async move {
        let mut wait = FIRST_PRUNE_AFTER;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = PRUNE_EVERY;
            tokio::select! {
                _ = stop.cancelled() => return,
                r = prune(store.as_ref(), days) => match r {
                    Ok(p) if p.runs > 0 => tracing::info!(
                        runs = p.runs,
                        events = p.events,
                        days,
                        "retention: deleted runs older than the retention period and reclaimed their space"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "retention pruning failed; trying again later"),
                },
            }
        }
    });
}

/// Deletes every finished run older than `days` in batches, then reclaims the free pages.
async fn prune(store: &dyn Storage, days: u32) -> Result<Pruned, ferry_store::StoreError> {
    let cutoff = time::OffsetDateTime::now_utc() - time::Duration::days(i64::from(days));
    let mut total = Pruned::default();
    loop {
        let batch = store.prune_runs(cutoff, BATCH_RUNS).await?;
        total.runs += batch.runs;
        total.events += batch.events;
        if batch.runs < BATCH_RUNS as usize {
            break;
        }
        tokio::time::sleep(BATCH_PAUSE).await;
    }
    if total.runs > 0 {
        let mut left = store.reclaim_space(BATCH_PAGES).await?;
        while left > 0 {
            tokio::time::sleep(BATCH_PAUSE).await;
            let now = store.reclaim_space(BATCH_PAGES).await?;
            if now >= left {
                break; // no progress: leave the rest to the next round
            }
            left = now;
        }
        // The freed pages leave the file at the next checkpoint; do it now, and empty the WAL.
        if !store.truncate_wal().await? {
            tracing::debug!(
                "retention: readers kept the WAL busy; it shrinks at a later checkpoint"
            );
        }
    }
    Ok(total)
}
