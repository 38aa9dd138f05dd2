//! Rate-limit cells on PostgreSQL ([`RateRepo`]): `rate_cells` holds, per key and limit,
//! the GCRA theoretical arrival time in nanoseconds of the database's clock. A take locks
//! the key's cells in one transaction, so replicas admit against one shared rate.

use async_trait::async_trait;
use ferry_store::{gcra, RateLeft, RateRefused, RateRepo, RateTake, StoreError};

use crate::cached::Cached;
use crate::db_error::db;
use crate::PgStore;

#[async_trait]
impl RateRepo for PgStore {
    async fn take_rates(
        &self,
        key: &str,
        takes: &[RateTake],
    ) -> Result<Result<Vec<RateLeft>, RateRefused>, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let mut updates = Vec::with_capacity(takes.len());
        let mut left = Vec::with_capacity(takes.len());
        for (index, take) in takes.iter().enumerate() {
            tx.exec(
                "INSERT INTO rate_cells (key_id, kind, tat_ns) VALUES ($1, $2, 0)
                 ON CONFLICT (key_id, kind) DO NOTHING",
                &[&key, &take.kind],
            )
            .await
            .map_err(db)?;
            let row = tx
                .row(
                    "SELECT tat_ns, (extract(epoch FROM clock_timestamp()) * 1e9)::BIGINT
                     FROM rate_cells WHERE key_id = $1 AND kind = $2 FOR UPDATE",
                    &[&key, &take.kind],
                )
                .await
                .map_err(db)?;
            let (tat, now): (i64, i64) = (row.get(0), row.get(1));
            match gcra(tat, now, *take) {
                Ok((next, l)) => {
                    updates.push((take.kind, next));
                    left.push(l);
                }
                Err(refused) => {
                    // Nothing is taken: the transaction ends without an update.
                    tx.commit().await.map_err(db)?;
                    return Ok(Err(RateRefused { index, ..refused }));
                }
            }
        }
        for (kind, next) in updates {
            tx.exec(
                "UPDATE rate_cells SET tat_ns = $3 WHERE key_id = $1 AND kind = $2",
                &[&key, &kind, &next],
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(Ok(left))
    }
}
