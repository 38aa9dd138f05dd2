//! Budget accounts on PostgreSQL ([`BudgetRepo`]): `budget_accounts` holds each key's
//! current period and its spend in it; `budget_holds` holds, per key and replica, what
//! that replica has reserved for requests in flight (so a dead replica's reservations are
//! dropped with it by the lease recovery). Every call is one transaction that first locks
//! the key's account row, so admissions on all replicas are serialised per key.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use ferry_store::{BudgetAccount, BudgetRepo, StoreError};
use time::OffsetDateTime;

use crate::cached::Cached;
use crate::db_error::db;
use crate::PgStore;

/// Locks `key`'s account (creating it), moves it to the period starting `period_start`
/// when it is in an older one (spend starts again), and returns its spend.
async fn lock_account(
    tx: &Transaction<'_>,
    key: &str,
    period_start: i64,
) -> Result<i64, StoreError> {
    tx.exec(
        "INSERT INTO budget_accounts (key_id, period_start, spent_nanos) VALUES ($1, $2, 0)
         ON CONFLICT (key_id) DO NOTHING",
        &[&key, &period_start],
    )
    .await
    .map_err(db)?;
    let row = tx
        .row(
            "SELECT period_start, spent_nanos FROM budget_accounts WHERE key_id = $1 FOR UPDATE",
            &[&key],
        )
        .await
        .map_err(db)?;
    let (start, spent): (i64, i64) = (row.get(0), row.get(1));
    if start < period_start {
        tx.exec(
            "UPDATE budget_accounts SET period_start = $2, spent_nanos = 0 WHERE key_id = $1",
            &[&key, &period_start],
        )
        .await
        .map_err(db)?;
        return Ok(0);
    }
    Ok(spent)
}

/// Everything reserved for `key` on every replica.
async fn reserved(tx: &Transaction<'_>, key: &str) -> Result<i64, StoreError> {
    let row = tx
        .row(
            "SELECT COALESCE(SUM(reserved_nanos), 0)::BIGINT FROM budget_holds WHERE key_id = $1",
            &[&key],
        )
        .await
        .map_err(db)?;
    Ok(row.get(0))
}

/// Sets the locked account's spend, commits, and answers the account.
async fn write_spent(
    tx: Transaction<'_>,
    key: &str,
    spent: i64,
) -> Result<BudgetAccount, StoreError> {
    tx.exec(
        "UPDATE budget_accounts SET spent_nanos = $2 WHERE key_id = $1",
        &[&key, &spent],
    )
    .await
    .map_err(db)?;
    let held = reserved(&tx, key).await?;
    tx.commit().await.map_err(db)?;
    Ok(BudgetAccount {
        spent,
        reserved: held,
    })
}

#[async_trait]
impl BudgetRepo for PgStore {
    async fn reserve(
        &self,
        key: &str,
        period_start: OffsetDateTime,
        budget: i64,
        wanted: i64,
    ) -> Result<Result<BudgetAccount, BudgetAccount>, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let spent = lock_account(&tx, key, period_start.unix_timestamp()).await?;
        let held = reserved(&tx, key).await?;
        let committed = spent.saturating_add(held);
        if !ferry_store::budget_fits(committed, wanted, budget) {
            tx.commit().await.map_err(db)?;
            return Ok(Err(BudgetAccount {
                spent,
                reserved: held,
            }));
        }
        tx.exec(
            "INSERT INTO budget_holds (key_id, owner, reserved_nanos) VALUES ($1, $2, $3)
             ON CONFLICT (key_id, owner)
             DO UPDATE SET reserved_nanos = budget_holds.reserved_nanos + EXCLUDED.reserved_nanos",
            &[&key, &self.replica.id, &wanted],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Ok(BudgetAccount {
            spent,
            reserved: held + wanted,
        }))
    }

    async fn settle(
        &self,
        key: &str,
        period_start: OffsetDateTime,
        reserved_here: i64,
        charged: i64,
    ) -> Result<BudgetAccount, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let spent = lock_account(&tx, key, period_start.unix_timestamp()).await?;
        tx.exec(
            "UPDATE budget_holds SET reserved_nanos = GREATEST(reserved_nanos - $3, 0)
             WHERE key_id = $1 AND owner = $2",
            &[&key, &self.replica.id, &reserved_here],
        )
        .await
        .map_err(db)?;
        write_spent(tx, key, spent.saturating_add(charged)).await
    }

    async fn load_spent(
        &self,
        key: &str,
        period_start: OffsetDateTime,
        spent: i64,
    ) -> Result<BudgetAccount, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let current = lock_account(&tx, key, period_start.unix_timestamp()).await?;
        write_spent(tx, key, current.max(spent)).await
    }
}
