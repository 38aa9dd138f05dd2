//! Upkeep on PostgreSQL: retention pruning in small batches, statistics, and closing.
//! Space is PostgreSQL's own business (autovacuum), so there is nothing to reclaim and no
//! WAL to truncate from here.

use std::collections::BTreeMap;

use async_trait::async_trait;
use ferry_store::{rfc3339, Pruned, RunStatus, StoreError, StoreStats, UpkeepRepo};
use time::OffsetDateTime;

use crate::cached::Cached;
use crate::columns;
use crate::db_error::db;
use crate::PgStore;

#[async_trait]
impl UpkeepRepo for PgStore {
    fn shared_by_replicas(&self) -> bool {
        true
    }

    async fn prune_runs(&self, cutoff: OffsetDateTime, limit: u32) -> Result<Pruned, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // SKIP LOCKED: a replica pruning at the same time takes other rows.
        let ids: Vec<String> = tx
            .rows(
                "SELECT id FROM runs
                 WHERE created_at < $1
                   AND status IN ('completed', 'failed', 'cancelled', 'interrupted')
                 ORDER BY ord LIMIT $2 FOR UPDATE SKIP LOCKED",
                &[&rfc3339(cutoff), &i64::from(limit)],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let events = tx
            .exec("DELETE FROM run_events WHERE run_id = ANY($1)", &[&ids])
            .await
            .map_err(db)?;
        let runs = tx
            .exec("DELETE FROM runs WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Pruned {
            runs: runs as usize,
            events: events as usize,
        })
    }

    async fn reclaim_space(&self, _pages: u32) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn truncate_wal(&self) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let conn = self.reader().await?;
        let mut runs_by_status: BTreeMap<RunStatus, u64> =
            RunStatus::ALL.into_iter().map(|s| (s, 0)).collect();
        for row in conn
            .rows("SELECT status, COUNT(*) FROM runs GROUP BY status", &[])
            .await
            .map_err(db)?
        {
            let status: &str = row.get(0);
            if let Ok(status) = status.parse::<RunStatus>() {
                runs_by_status.insert(status, columns::count(&row, 1));
            }
        }
        let row = conn
            .row(
                "SELECT (SELECT COUNT(*) FROM sessions), (SELECT COUNT(*) FROM messages),
                        (SELECT COUNT(*) FROM run_events), (SELECT COUNT(*) FROM assets),
                        (SELECT COALESCE(SUM(size), 0)::BIGINT FROM assets),
                        pg_database_size(current_database())",
                &[],
            )
            .await
            .map_err(db)?;
        Ok(StoreStats {
            sessions: columns::count(&row, 0),
            runs: runs_by_status.values().sum(),
            messages: columns::count(&row, 1),
            events: columns::count(&row, 2),
            assets: columns::count(&row, 3),
            asset_bytes: columns::count(&row, 4),
            db_bytes: columns::count(&row, 5),
            runs_by_status,
        })
    }

    async fn close(&self) {
        if let Err(e) = self.ledger.settle().await {
            tracing::warn!(error = %e, "the spend ledger could not be settled at close");
        }
        self.mark_closed();
    }
}
