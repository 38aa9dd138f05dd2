//! Retention pruning (`serve --retention-days`): deletes finished runs older than a cutoff
//! together with their events, a small batch per writer job so other writes interleave,
//! and hands the freed pages back to the file system with `PRAGMA incremental_vacuum`
//! (the database uses `auto_vacuum = INCREMENTAL`, see [`crate::schema`]). Sessions and
//! their history messages are never deleted here.

use async_trait::async_trait;
use rusqlite::Connection;
use time::OffsetDateTime;

use crate::clock::format_rfc3339;
use crate::error::StoreError;
use crate::store::Store;
use crate::{StoreStats, UpkeepRepo};

/// What one pruning batch deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Runs deleted.
    pub runs: usize,
    /// Run events deleted.
    pub events: usize,
}

#[async_trait]
impl UpkeepRepo for Store {
    /// Finished runs are completed, failed, cancelled or interrupted.
    async fn prune_runs(&self, cutoff: OffsetDateTime, limit: u32) -> Result<Pruned, StoreError> {
        let cutoff = format_rfc3339(cutoff);
        self.write_with(move |conn| prune_runs(conn, &cutoff, limit).map_err(StoreError::from))
            .await
    }

    /// Returns up to `pages` free pages to the file system; returns how many free pages
    /// are left. Runs on a connection of its own in autocommit mode (the pragma is not
    /// reliable inside the writer's group transaction), taking the write lock briefly.
    async fn reclaim_space(&self, pages: u32) -> Result<u64, StoreError> {
        self.maintenance(move |conn| {
            // The pragma frees one page per result row: step through all of them.
            let mut stmt = conn.prepare(&format!("PRAGMA incremental_vacuum({pages})"))?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            drop(rows);
            drop(stmt);
            let left: u64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
            Ok(left)
        })
        .await
    }

    /// Copies the WAL into the database file and truncates the WAL to zero bytes
    /// (`PRAGMA wal_checkpoint(TRUNCATE)`), on a connection of its own since a checkpoint
    /// cannot run inside the writer's transactions; waits up to the busy timeout for
    /// readers. Returns whether the checkpoint completed.
    async fn truncate_wal(&self) -> Result<bool, StoreError> {
        self.maintenance(|conn| {
            let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            Ok(busy == 0)
        })
        .await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let db_path = self.db_path().to_path_buf();
        self.read_with(move |conn| crate::stats::stats(conn, &db_path))
            .await
    }

    async fn close(&self) {
        Store::close(self).await;
    }
}

impl Store {
    /// Runs `f` on a fresh read-write connection outside the writer's transactions.
    async fn maintenance<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let path = self.db_path().to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<T, StoreError> {
            let conn = crate::connection::open_writer(&path)?;
            Ok(f(&conn)?)
        })
        .await
        .map_err(|e| StoreError::MaintenanceFailed(e.to_string()))?
    }
}

fn prune_runs(conn: &Connection, cutoff: &str, limit: u32) -> rusqlite::Result<Pruned> {
    // Oldest first along `runs_ord`, up to the first run created inside the window: a pass
    // reads the runs it may prune (and the few unfinished ones among them), never the
    // whole table. Creation order and creation time agree unless the clock went back;
    // then runs stamped older than a younger one wait until that one leaves the window.
    // Rows without an order (written by hand: ferry always gives one) sort first and are
    // each looked at, never a reason to stop.
    let ids: Vec<String> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id, created_at < ?1,
                    status IN ('completed', 'failed', 'cancelled', 'interrupted'),
                    ord IS NOT NULL
             FROM runs ORDER BY ord",
        )?;
        let mut rows = stmt.query([cutoff])?;
        let mut ids = Vec::new();
        while ids.len() < limit as usize {
            let Some(row) = rows.next()? else { break };
            let (old, finished, ordered): (bool, bool, bool) =
                (row.get(1)?, row.get(2)?, row.get(3)?);
            if !old && ordered {
                break;
            }
            if old && finished {
                ids.push(row.get(0)?);
            }
        }
        ids
    };
    let mut pruned = Pruned::default();
    let mut events = conn.prepare_cached(
        "DELETE FROM run_event_batches WHERE run_id = ?1 RETURNING last_seq - first_seq + 1",
    )?;
    let mut runs = conn.prepare_cached("DELETE FROM runs WHERE id = ?1")?;
    for id in &ids {
        let counts = events.query_map([id], |row| row.get::<_, usize>(0))?;
        for count in counts {
            pruned.events += count?;
        }
        pruned.runs += runs.execute([id])?;
    }
    Ok(pruned)
}
