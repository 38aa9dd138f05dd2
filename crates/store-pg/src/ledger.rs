//! The spend-ledger writer: `charge_nowait` and `set_ledger_billed_nowait` hand their rows
//! to one task that commits whatever has queued in one transaction (a busy facade writes
//! tens of rows per commit); [`LedgerWriter::settle`] waits until everything queued
//! before it is committed, and every ledger read calls it first. Failures are logged.

use deadpool_postgres::Pool;
use ferry_store::{now_rfc3339, LedgerEntry, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::cached::Cached;
use crate::db_error::{self, db};

/// Rows committed per transaction at most.
const BATCH: usize = 256;

enum Job {
    Charge(LedgerEntry, String),
    Billed(String, f64),
    Settle(oneshot::Sender<()>),
}

/// The handle of the ledger task (cheap to clone).
#[derive(Clone)]
pub(crate) struct LedgerWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl LedgerWriter {
    /// Starts the task on the current runtime; it ends when every handle is dropped.
    pub(crate) fn start(pool: Pool) -> LedgerWriter {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, rx));
        LedgerWriter { jobs }
    }

    pub(crate) fn charge(&self, entry: LedgerEntry) {
        // The time of the call, not of the commit.
        if self.jobs.send(Job::Charge(entry, now_rfc3339())).is_err() {
            tracing::error!("the spend ledger writer has stopped; a ledger row was not written");
        }
    }

    pub(crate) fn billed(&self, generation_id: String, billed: f64) {
        if self.jobs.send(Job::Billed(generation_id, billed)).is_err() {
            tracing::error!("the spend ledger writer has stopped; a billed cost was not written");
        }
    }

    /// Waits until every row queued before this call is committed (or failed and logged).
    pub(crate) async fn settle(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Settle(tx))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)
    }
}

async fn run(pool: Pool, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut settled = Vec::new();
        let mut writes = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            match job {
                Job::Settle(done) => settled.push(done),
                write => writes.push(write),
            }
        }
        if !writes.is_empty() {
            if let Err(e) = commit(&pool, &writes).await {
                tracing::error!(error = %e, rows = writes.len(), "could not write spend ledger rows");
            }
        }
        for done in settled {
            let _ = done.send(());
        }
    }
}

async fn commit(pool: &Pool, writes: &[Job]) -> Result<(), StoreError> {
    let mut conn = pool.get().await.map_err(db_error::pool)?;
    let tx = conn.transaction().await.map_err(db)?;
    // Ledger rows are promised to no one (a kill -9 may lose the last batch anyway).
    crate::pool::light(&tx).await?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO spend_ledger (at, key_id, route, model, kind, prompt_tokens,
                 completion_tokens, cost, cost_nanos, estimated, generation_id, run_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .await
        .map_err(db)?;
    for job in writes {
        match job {
            Job::Charge(e, at) => {
                let tokens = |n: Option<u64>| n.and_then(|n| i64::try_from(n).ok());
                tx.execute(
                    &insert,
                    &[
                        at,
                        &e.key_id,
                        &e.route,
                        &e.model,
                        &e.kind,
                        &tokens(e.prompt_tokens),
                        &tokens(e.completion_tokens),
                        &e.cost,
                        &e.cost_nanos,
                        &i32::from(e.estimated),
                        &e.generation_id,
                        &e.run_id,
                    ],
                )
                .await
                .map_err(db)?;
            }
            Job::Billed(generation_id, billed) => {
                tx.exec(
                    "UPDATE spend_ledger SET billed_cost = $2 WHERE generation_id = $1",
                    &[generation_id, billed],
                )
                .await
                .map_err(db)?;
            }
            Job::Settle(_) => {}
        }
    }
    tx.commit().await.map_err(db)
}
