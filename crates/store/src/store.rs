//! The [`Store`] handle: opens `STATE_ROOT/ferry.db` (migrating it), owns the writer
//! thread and the read pool, and offers the generic `write` / `write_nowait` / `read`
//! entry points that the typed operations in the sibling modules are built on.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;

use crate::connection::open_writer;
use crate::error::StoreError;
use crate::pool::ReadPool;
use crate::schema::{ensure_incremental_vacuum, migrate};
use crate::writer::Writer;

/// File name of the database inside the state root.
pub const DB_FILE_NAME: &str = "ferry.db";
/// Read-only connections kept for reads.
const READERS: usize = 4;

/// The state database. Cheap to clone; all clones share one writer thread and one read
/// pool. The writer stops after [`Store::close`] or when the last clone is dropped
/// (dropping waits for queued writes to commit).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Writer,
    readers: Arc<ReadPool>,
    db_path: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("db_path", &self.inner.db_path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) `state_root/ferry.db`, applies pending migrations and
    /// starts the writer thread. Does not take the state-root lock: callers hold a
    /// [`crate::StateLock`] first.
    pub fn open(state_root: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(state_root).map_err(|source| StoreError::Io {
            action: "create state directory",
            path: state_root.to_path_buf(),
            source,
        })?;
        let db_path = state_root.join(DB_FILE_NAME);
        let mut conn = open_writer(&db_path)?;
        ensure_incremental_vacuum(&conn)?;
        migrate(&mut conn, &db_path)?;
        // Readers open after the writer so the WAL files exist for read-only access.
        let readers = Arc::new(ReadPool::open(&db_path, READERS)?);
        let writer = Writer::spawn(conn, &db_path)?;
        Ok(Store {
            inner: Arc::new(Inner {
                writer,
                readers,
                db_path,
            }),
        })
    }

    /// Commits every write queued so far and stops the writer thread. Later writes fail
    /// with [`StoreError::Closed`]; reads keep working.
    pub async fn close(&self) {
        self.inner.writer.close().await;
    }

    /// Runs `f` on the write connection as part of the next group transaction (inside
    /// its own savepoint: an error rolls back only `f`'s changes) and returns its value
    /// once the group has committed.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.write_with(move |conn| f(conn).map_err(StoreError::from))
            .await
    }

    /// Queues `f` like [`Store::write`] without waiting for it; it is ordered before
    /// every later write. Failures are logged.
    pub fn write_nowait(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) {
        self.inner
            .writer
            .submit_nowait(move |conn| f(conn).map_err(StoreError::from));
    }

    /// Queues `f` like [`Store::write_nowait`], letting its commit wait up to
    /// `writer::DEFER_WINDOW` (10 ms) to share a group with later writes — for rows written
    /// after the fact at a high rate (the spend ledger). A crash loses at most the rows of
    /// that window; readers that must see them call [`Store::settle_deferred`] first.
    /// `f` must be ONE statement: it runs without a savepoint of its own (SQLite undoes
    /// a failed statement by itself), which makes a ledger row about a quarter cheaper.
    /// It must touch the ledger only: a [`Store::write_ahead_of_ledger`] queued after it
    /// may commit before it.
    pub fn write_deferred(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) {
        self.inner
            .writer
            .submit_deferred(move |conn| f(conn).map_err(StoreError::from));
    }

    /// Waits until every write queued so far (deferred ones included) has committed.
    pub async fn settle_deferred(&self) -> Result<(), StoreError> {
        self.inner.writer.barrier().await
    }

    /// Runs `f` on a read-only connection from the pool, on a blocking thread. It sees
    /// every write whose `write` call has returned.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.read_with(move |conn| f(conn).map_err(StoreError::from))
            .await
    }

    /// Number of group commits the writer has made since this store was opened.
    pub fn commit_count(&self) -> u64 {
        self.inner.writer.commit_count()
    }

    /// Number of those commits that were fsynced (`synchronous=FULL`).
    pub fn synced_commit_count(&self) -> u64 {
        self.inner.writer.synced_count()
    }

    /// Messages the writer thread has taken from its channel (each may have woken it): a
    /// deferred write adds one only when no other deferred write is waiting.
    pub fn writer_message_count(&self) -> u64 {
        self.inner.writer.message_count()
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.inner.db_path
    }

    /// [`Store::write`] for work that fails with store errors.
    pub(crate) async fn write_with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.submit(f).await
    }

    /// [`Store::write_with`] for a write that neither reads nor writes the spend ledger: it
    /// may commit ahead of deferred ledger rows queued before it (a run's end, queued
    /// just after its model call's ledger row, then runs first in its group, without a
    /// savepoint).
    pub async fn write_ahead_of_ledger<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.submit_ahead_of_deferred(f).await
    }

    /// [`Store::write_with`] for a light write: committed and visible when it returns,
    /// surviving a killed process, but fsynced only with the next synced commit.
    pub(crate) async fn write_light<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.submit_light(f).await
    }

    /// [`Store::read`] for work that fails with store errors.
    pub(crate) async fn read_with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(&self.inner.readers);
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|e| StoreError::ReadTaskFailed(e.to_string()))?
    }
}
