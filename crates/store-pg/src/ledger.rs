//! The spend-ledger writer: `charge_nowait` and `set_ledger_billed_nowait` hand their rows
//! to one task that writes whatever has queued as one statement (a busy facade writes tens
//! of rows per commit), then the billed costs, each a light commit (ledger rows are
//! promised to no one: a kill -9 may lose the last batch anyway);
//! [`LedgerWriter::settle`] waits until everything queued before it is committed, and
//! every ledger read calls it first. Failures are logged.

use deadpool_postgres::Pool;
use ferry_store::{now_rfc3339, LedgerEntry, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::cached::Cached;
use crate::db_error::{self, db};
use crate::pool::light_cte;

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
    let conn = pool.get().await.map_err(db_error::pool)?;
    let mut rows = Charges::default();
    for job in writes {
        if let Job::Charge(e, at) = job {
            rows.push(e, at);
        }
    }
    if !rows.at.is_empty() {
        // One statement, one round trip, whatever the batch's size.
        conn.exec(
            concat!(
                "WITH ",
                light_cte!(),
                "
             INSERT INTO spend_ledger (at, key_id, route, model, kind, prompt_tokens,
                 completion_tokens, cost, cost_nanos, estimated, generation_id, run_id)
             SELECT r.at, r.key_id, r.route, r.model, r.kind, r.prompt_tokens,
                    r.completion_tokens, r.cost, r.cost_nanos, r.estimated, r.generation_id,
                    r.run_id
             FROM light, UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                                $6::BIGINT[], $7::BIGINT[], $8::FLOAT8[], $9::BIGINT[],
                                $10::INTEGER[], $11::TEXT[], $12::TEXT[])
                  AS r(at, key_id, route, model, kind, prompt_tokens, completion_tokens, cost,
                       cost_nanos, estimated, generation_id, run_id)"
            ),
            &[
                &rows.at,
                &rows.key_id,
                &rows.route,
                &rows.model,
                &rows.kind,
                &rows.prompt_tokens,
                &rows.completion_tokens,
                &rows.cost,
                &rows.cost_nanos,
                &rows.estimated,
                &rows.generation_id,
                &rows.run_id,
            ],
        )
        .await
        .map_err(db)?;
    }
    // After the charges: a billed cost may be for a row of this very batch.
    for job in writes {
        if let Job::Billed(generation_id, billed) = job {
            conn.exec(
                concat!(
                    "WITH ",
                    light_cte!(),
                    " UPDATE spend_ledger SET billed_cost = $2 FROM light WHERE generation_id = $1"
                ),
                &[generation_id, billed],
            )
            .await
            .map_err(db)?;
        }
    }
    Ok(())
}

/// A batch of ledger rows as the column arrays `UNNEST` takes.
#[derive(Default)]
struct Charges<'a> {
    at: Vec<&'a str>,
    key_id: Vec<Option<&'a str>>,
    route: Vec<&'a str>,
    model: Vec<&'a str>,
    kind: Vec<&'a str>,
    prompt_tokens: Vec<Option<i64>>,
    completion_tokens: Vec<Option<i64>>,
    cost: Vec<Option<f64>>,
    cost_nanos: Vec<i64>,
    estimated: Vec<i32>,
    generation_id: Vec<Option<&'a str>>,
    run_id: Vec<Option<&'a str>>,
}

impl<'a> Charges<'a> {
    fn push(&mut self, e: &'a LedgerEntry, at: &'a str) {
        let tokens = |n: Option<u64>| n.and_then(|n| i64::try_from(n).ok());
        self.at.push(at);
        self.key_id.push(e.key_id.as_deref());
        self.route.push(&e.route);
        self.model.push(&e.model);
        self.kind.push(&e.kind);
        self.prompt_tokens.push(tokens(e.prompt_tokens));
        self.completion_tokens.push(tokens(e.completion_tokens));
        self.cost.push(e.cost);
        self.cost_nanos.push(e.cost_nanos);
        self.estimated.push(i32::from(e.estimated));
        self.generation_id.push(e.generation_id.as_deref());
        self.run_id.push(e.run_id.as_deref());
    }
}
