//! Replicas and their lease (spec §15): several `ferry serve` on one database. Each
//! replica has a row in `replicas`, renews its `heartbeat_at` every
//! [`HEARTBEAT`], and holds a session-level advisory lock on its `lock_key` on a connection
//! of its own for as long as it lives. Runs record their owner. A replica is dead when its
//! lock can be taken (its process ended, so PostgreSQL closed its connection and released
//! the lock — immediate after kill -9) or its heartbeat is older than [`LEASE`] (a host
//! that vanished without closing its connections). Recovery interrupts only the queued
//! and running runs of dead replicas (and runs without an owner, copied from an older
//! install), never a live replica's; it runs at startup and on every heartbeat, so a dead
//! replica's runs are `interrupted` within seconds and at most [`LEASE`] + [`HEARTBEAT`].

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Pool};
use ferry_store::{now_rfc3339, NewEvent, StoreError};
use parking_lot::Mutex;
use serde_json::Value;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::cached::Cached;
use crate::db_error::{self, db};

/// How often a replica renews its heartbeat and looks for dead replicas.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// Run notices a slow listener may fall behind by before it is told it lagged.
const NOTICE_BACKLOG: usize = 4096;
/// How old a heartbeat may get before its replica counts as dead.
pub const LEASE: Duration = Duration::from_secs(15);

/// How recovered runs end: the reason and the `run.failed` payload the engine gave at
/// startup (reused by the recovery on each heartbeat).
#[derive(Default)]
pub(crate) struct Epitaph(Mutex<Option<(String, Value)>>);

impl Epitaph {
    pub(crate) fn set(&self, reason: &str, terminal: &Value) {
        *self.0.lock() = Some((reason.to_owned(), terminal.clone()));
    }

    fn get(&self) -> Option<(String, Value)> {
        self.0.lock().clone()
    }
}

/// This process as a replica: its id and the connection holding its lock.
pub(crate) struct Replica {
    pub(crate) id: String,
    /// Run ids from `NOTIFY ferry_runs` (events committed by any replica), heard on the
    /// lock connection.
    pub(crate) notices: tokio::sync::broadcast::Sender<Arc<str>>,
    /// Dropping it closes the connection and so releases the lock.
    _lock: tokio::task::JoinHandle<()>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.heartbeat.abort();
        self._lock.abort();
    }
}

impl Replica {
    /// Registers this process: takes its lock on a dedicated connection, inserts its row
    /// and starts the heartbeat (which also recovers dead replicas' runs).
    pub(crate) async fn join(
        url: &str,
        pool: Pool,
        epitaph: Arc<Epitaph>,
    ) -> Result<Replica, StoreError> {
        let id = format!("replica_{}", uuid::Uuid::new_v4().simple());
        let lock_key: i64 = rand::random();
        let (client, mut conn) = tokio_postgres::connect(url, NoTls).await.map_err(db)?;
        let (notices, _) = tokio::sync::broadcast::channel(NOTICE_BACKLOG);
        let heard = notices.clone();
        // Polling the connection's messages also drives it (the lock's queries included).
        let lock_task = tokio::spawn(async move {
            loop {
                match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        let _ = heard.send(Arc::from(n.payload()));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "the replica's lock connection to PostgreSQL ended");
                        return;
                    }
                    None => return,
                }
            }
        });
        client
            .execute("SELECT pg_advisory_lock($1)", &[&lock_key])
            .await
            .map_err(db)?;
        client
            .batch_execute("LISTEN ferry_runs")
            .await
            .map_err(db)?;
        let pooled = pool.get().await.map_err(db_error::pool)?;
        pooled
            .exec(
                "INSERT INTO replicas (id, lock_key) VALUES ($1, $2)",
                &[&id, &lock_key],
            )
            .await
            .map_err(db)?;
        drop(pooled);
        let heartbeat = tokio::spawn(beat(pool, id.clone(), lock_key, client, epitaph));
        Ok(Replica {
            id,
            notices,
            _lock: lock_task,
            heartbeat,
        })
    }
}

/// Renews the heartbeat and recovers dead replicas' runs, every [`HEARTBEAT`]. Holds the
/// lock connection's client so the lock lives as long as the task.
async fn beat(
    pool: Pool,
    id: String,
    lock_key: i64,
    _lock_client: tokio_postgres::Client,
    epitaph: Arc<Epitaph>,
) {
    let mut ticks = tokio::time::interval(HEARTBEAT);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Ok(conn) = pool.get().await else {
            tracing::warn!("no database connection for the replica heartbeat");
            continue;
        };
        // A row another replica removed (it thought this one dead after a long pause) is
        // written back: this replica is alive and still holds its lock.
        if let Err(e) = conn
            .exec(
                "INSERT INTO replicas (id, lock_key) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
                &[&id, &lock_key],
            )
            .await
        {
            tracing::warn!(error = %e, "could not renew the replica heartbeat");
        }
        drop(conn);
        if let Some((reason, terminal)) = epitaph.get() {
            match recover_dead(&pool, &id, &reason, &terminal).await {
                Ok(ids) if !ids.is_empty() => {
                    tracing::warn!(runs = ?ids, "runs of a replica that died were marked interrupted")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not recover dead replicas' runs"),
            }
        }
    }
}

/// In one transaction: finds the replicas other than `me` that are dead, interrupts their
/// queued and running runs (and runs without an owner) with a last `run.failed` event,
/// and removes the dead replicas' rows. Returns the interrupted runs' ids, oldest first.
pub(crate) async fn recover_dead(
    pool: &Pool,
    me: &str,
    reason: &str,
    terminal: &Value,
) -> Result<Vec<String>, StoreError> {
    let mut conn = pool.get().await.map_err(db_error::pool)?;
    let tx = conn.transaction().await.map_err(db)?;
    let lease = LEASE.as_secs_f64();
    // A replica's lock is free only when its process (and so its connection) is gone; the
    // transaction-scoped probe is released at commit.
    let dead: Vec<String> = tx
        .rows(
            "SELECT id FROM replicas
             WHERE id <> $1
               AND (heartbeat_at < now() - make_interval(secs => $2)
                    OR pg_try_advisory_xact_lock(lock_key))
             FOR UPDATE SKIP LOCKED",
            &[&me, &lease],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let runs: Vec<String> = tx
        .rows(
            "SELECT id FROM runs
             WHERE status IN ('queued', 'running') AND (owner IS NULL OR owner = ANY($1))
             ORDER BY ord FOR UPDATE SKIP LOCKED",
            &[&dead],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let now = now_rfc3339();
    for run in &runs {
        interrupt(&tx, run, reason, terminal, &now).await?;
    }
    // Their reservations end with them (the calls they stood for died too).
    tx.exec("DELETE FROM budget_holds WHERE owner = ANY($1)", &[&dead])
        .await
        .map_err(db)?;
    tx.exec("DELETE FROM replicas WHERE id = ANY($1)", &[&dead])
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(runs)
}

/// Marks one run interrupted and appends its `run.failed` after its last event.
pub(crate) async fn interrupt(
    c: &(impl Cached + Sync),
    run_id: &str,
    reason: &str,
    terminal: &Value,
    now: &str,
) -> Result<(), StoreError> {
    c.exec(
        "UPDATE runs SET status = 'interrupted', error_code = 'interrupted',
                         error_message = $2, finished_at = $3
         WHERE id = $1",
        &[&run_id, &reason, &now],
    )
    .await
    .map_err(db)?;
    let last: i64 = c
        .row(
            "SELECT COALESCE(MAX(seq), 0) FROM run_events WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .map_err(db)?
        .get(0);
    let event = NewEvent::new(last as u64 + 1, "run.failed", terminal)?;
    crate::runs::insert_events(c, run_id, &[event], now).await?;
    Ok(())
}
