//! [`PgStore`]: the connection pool, opening (parse the URL, connect, migrate) and the
//! transaction helper every repository method runs in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use ferry_store::StoreError;
use tokio_postgres::NoTls;

use crate::db_error;
use crate::ledger::LedgerWriter;
use crate::replica::{Epitaph, Replica};

/// Connections kept open per replica.
const POOL_SIZE: usize = 16;

/// ferry's storage on PostgreSQL. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: Pool,
    pub(crate) ledger: LedgerWriter,
    pub(crate) replica: Arc<Replica>,
    pub(crate) epitaph: Arc<Epitaph>,
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn open_error(url: &str, what: String) -> StoreError {
    db_error::backend(format!(
            "cannot open the database {}: {what} — check --database-url (or FERRY_DATABASE_URL): host, port, user, password and database name, and that the server is running",
            redact_url(url)
    ))
}

impl PgStore {
    /// This process's replica id (the owner recorded on the runs it creates).
    pub fn replica_id(&self) -> &str {
        &self.replica.id
    }

    /// Connects to the database at `url` (`postgres://user:pass@host:port/db`, or with
    /// `?host=/socket/dir`), checks the server version (≥ 14) and applies missing
    /// migrations. Must run inside a Tokio runtime (it starts the ledger writer task).
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| open_error(url, format!("invalid URL ({e})")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| open_error(url, e.to_string()))?;
        let mut client = pool.get().await.map_err(|e| {
            let reason = match e {
                deadpool_postgres::PoolError::Backend(e) => match e.as_db_error() {
                    Some(db) => db.message().to_owned(),
                    None => e.to_string(),
                },
                other => other.to_string(),
            };
            open_error(url, reason)
        })?;
        let version: String = client
            .query_one("SHOW server_version_num", &[])
            .await
            .map_err(db_error::db)?
            .get(0);
        if version.parse::<u32>().unwrap_or(0) < 140000 {
            return Err(open_error(
                url,
                format!("PostgreSQL {version} is too old; ferry needs PostgreSQL 14 or newer"),
            ));
        }
        crate::schema::migrate(&mut client).await?;
        drop(client);
        let ledger = LedgerWriter::start(pool.clone());
        let epitaph = Arc::new(Epitaph::default());
        let replica = Replica::join(url, pool.clone(), epitaph.clone()).await?;
        tracing::info!(replica = %replica.id, "joined the database as a replica");
        Ok(PgStore {
            pool,
            ledger,
            replica: Arc::new(replica),
            epitaph,
            closed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A pooled connection for one write transaction; [`StoreError::Closed`] once the
    /// store was closed. The caller opens the transaction and commits it (any error
    /// drops it uncommitted, which rolls it back).
    pub(crate) async fn writer(&self) -> Result<deadpool_postgres::Object, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        self.pool.get().await.map_err(db_error::pool)
    }

    /// A pooled connection for reads (each statement sees committed data).
    pub(crate) async fn reader(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(db_error::pool)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// The CTE `light` that makes a single statement's own transaction a light write (see
/// [`light`]): `set_config(…, true)` lasts until the end of that transaction, its commit
/// included. The statement must read `light` (e.g. `FROM light`) for it to run.
macro_rules! light_cte {
    () => {
        "light AS (SELECT set_config('synchronous_commit', 'off', true))"
    };
}
pub(crate) use light_cte;

/// Makes the transaction a *light* write (a run's mid-way events, a run's creation no
/// client was promised, ledger rows): its commit does not wait for the WAL flush. It
/// survives ferry's death (the server has it); a server crash in the next fraction of a
/// second can lose it, and the next synchronous commit — a run's end flushes the WAL up
/// to it — makes it durable. So a run waits for one flush, like on SQLite.
pub(crate) async fn light(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .await
        .map_err(db_error::db)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://ferry:s3cret@db:5432/ferry"),
            "postgres://ferry:***@db:5432/ferry"
        );
        assert_eq!(
            redact_url("postgresql://ferry@db/ferry?sslmode=disable"),
            "postgresql://ferry@db/ferry?sslmode=disable"
        );
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
    }
}
