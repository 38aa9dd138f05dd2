//! Statements through each connection's statement cache. A plain `execute(sql, …)`
//! prepares the statement on the server, runs it and closes it: two round trips per
//! statement. [`Cached`] prepares each distinct SQL text once per pooled connection and
//! then only binds and runs it — one round trip — which roughly halves what a run's
//! writes wait for on the network.

use async_trait::async_trait;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

/// `execute`/`query`/`query_one`/`query_opt` through the connection's statement cache.
#[async_trait]
pub(crate) trait Cached {
    /// Runs a statement; the number of rows it changed.
    async fn exec(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error>;
    /// Every row of a query.
    async fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error>;
    /// Exactly one row.
    async fn row(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error>;
    /// At most one row.
    async fn row_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error>;
}

macro_rules! cached_for {
    ($($lt:lifetime)?, $ty:ty) => {
        #[async_trait]
        impl<$($lt)?> Cached for $ty {
            async fn exec(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
                let statement = self.prepare_cached(sql).await?;
                self.execute(&statement, params).await
            }
            async fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
                let statement = self.prepare_cached(sql).await?;
                self.query(&statement, params).await
            }
            async fn row(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
                let statement = self.prepare_cached(sql).await?;
                self.query_one(&statement, params).await
            }
            async fn row_opt(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Option<Row>, Error> {
                let statement = self.prepare_cached(sql).await?;
                self.query_opt(&statement, params).await
            }
        }
    };
}

cached_for!(, deadpool_postgres::Object);
cached_for!('a, deadpool_postgres::Transaction<'a>);
