//! [`SharedBook`]: the [`Reservations`] of replicas that share a database (spec §15). A
//! reservation is a transaction on the key's shared account ([`BudgetRepo::reserve`]), so
//! a budget holds across every replica; settlements and start-up spend loads are written
//! in order by one task (a settlement only lowers a reservation and raises the spend in
//! one step, so one that is still queued leaves the account conservative, never short).
//! Views read a mirror of the last account state this replica saw.

use std::sync::Arc;

use ferry_store::{BudgetAccount, BudgetRepo};
use parking_lot::Mutex;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::budget::{Book, OverBudget, Reservations, ReserveError, Standing};
use super::keys::Period;

/// A write to the shared accounts that the caller does not wait for.
enum Write {
    Settle {
        key: String,
        period: Period,
        reserved: i64,
        charged: i64,
    },
    Load {
        key: String,
        period: Period,
        spent: i64,
    },
}

/// Reservations held in the shared database.
pub struct SharedBook {
    repo: Arc<dyn BudgetRepo>,
    mirror: Arc<Book>,
    writes: Mutex<Option<mpsc::UnboundedSender<Write>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SharedBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBook").finish_non_exhaustive()
    }
}

fn standing(account: BudgetAccount) -> Standing {
    Standing {
        spent: account.spent,
        reserved: account.reserved,
    }
}

impl SharedBook {
    /// The book over `repo`, with its writer task started.
    pub fn start(repo: Arc<dyn BudgetRepo>) -> SharedBook {
        let mirror = Arc::new(Book::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_in_order(Arc::clone(&repo), Arc::clone(&mirror), rx));
        SharedBook {
            repo,
            mirror,
            writes: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
        }
    }

    fn queue(&self, write: Write) {
        let sent = self
            .writes
            .lock()
            .as_ref()
            .is_some_and(|tx| tx.send(write).is_ok());
        if !sent {
            tracing::warn!("budget accounts are closed; a settlement was not written");
        }
    }
}

/// Applies the queued writes one by one until the book closes.
async fn write_in_order(
    repo: Arc<dyn BudgetRepo>,
    mirror: Arc<Book>,
    mut rx: mpsc::UnboundedReceiver<Write>,
) {
    while let Some(write) = rx.recv().await {
        let now = OffsetDateTime::now_utc();
        let (key, period, result) = match write {
            Write::Settle {
                key,
                period,
                reserved,
                charged,
            } => {
                let r = repo
                    .settle(&key, period.start(now), reserved, charged)
                    .await;
                (key, period, r)
            }
            Write::Load { key, period, spent } => {
                let r = repo.load_spent(&key, period.start(now), spent).await;
                (key, period, r)
            }
        };
        match result {
            Ok(account) => mirror.record(&key, period, standing(account), now),
            // The reservation stays held and the spend stays in the ledger (read again at
            // the next start): the account errs on the side of refusing.
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "could not write to the shared budget account")
            }
        }
    }
}

#[async_trait::async_trait]
impl Reservations for SharedBook {
    fn load(&self, key: &str, period: Period, spent: i64, _now: OffsetDateTime) {
        self.queue(Write::Load {
            key: key.to_owned(),
            period,
            spent,
        });
    }

    async fn reserve(
        &self,
        key: &str,
        period: Period,
        budget: i64,
        wanted: i64,
        now: OffsetDateTime,
    ) -> Result<(), ReserveError> {
        match self
            .repo
            .reserve(key, period.start(now), budget, wanted)
            .await
        {
            Ok(Ok(account)) => {
                self.mirror.record(key, period, standing(account), now);
                Ok(())
            }
            Ok(Err(account)) => {
                self.mirror.record(key, period, standing(account), now);
                Err(ReserveError::Over(OverBudget {
                    budget,
                    spent: account.spent,
                    reserved: account.reserved,
                    wanted,
                }))
            }
            Err(e) => Err(ReserveError::Store(e)),
        }
    }

    fn settle(&self, key: &str, period: Period, reserved: i64, charged: i64, _now: OffsetDateTime) {
        self.queue(Write::Settle {
            key: key.to_owned(),
            period,
            reserved,
            charged,
        });
    }

    fn standing(&self, key: &str, period: Period, now: OffsetDateTime) -> Standing {
        self.mirror.standing(key, period, now)
    }

    async fn close(&self) {
        // Dropping the sender ends the writer once it has written what is queued.
        self.writes.lock().take();
        let writer = self.writer.lock().take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
    }
}
