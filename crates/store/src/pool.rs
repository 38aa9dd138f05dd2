//! The read pool: a few read-only connections behind a mutex, so reads never wait on the
//! writer (WAL lets them see the last commit while a group is being written).

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;

use parking_lot::{Condvar, Mutex};
use rusqlite::Connection;

use crate::connection::open_reader;
use crate::error::StoreError;

/// Read-only connections shared by all reads.
pub(crate) struct ReadPool {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
}

impl ReadPool {
    /// Opens `size` read-only connections to the database at `path`.
    pub(crate) fn open(path: &Path, size: usize) -> Result<ReadPool, StoreError> {
        let idle = (0..size.max(1))
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReadPool {
            idle: Mutex::new(idle),
            returned: Condvar::new(),
        })
    }

    /// Runs `f` on an idle connection, blocking until one is free. Call from a blocking
    /// context (`spawn_blocking`).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let conn = self.take();
        // The connection goes back to the pool even when the read panics.
        let result = catch_unwind(AssertUnwindSafe(|| f(&conn)));
        self.give_back(conn);
        result.unwrap_or_else(|panic| resume_unwind(panic))
    }

    fn take(&self) -> Connection {
        let mut idle = self.idle.lock();
        loop {
            if let Some(conn) = idle.pop() {
                return conn;
            }
            self.returned.wait(&mut idle);
        }
    }

    fn give_back(&self, conn: Connection) {
        // A read that left a transaction open would pin an old snapshot forever.
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        self.idle.lock().push(conn);
        self.returned.notify_one();
    }
}
