//! Opening SQLite connections with ferry's settings: the single read-write connection
//! (WAL, `synchronous=FULL`, foreign keys, through [`crate::wal_vfs`]) and the read-only
//! connections of the pool.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::StoreError;

/// How long a connection waits for a lock held by another connection.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes the WAL file is truncated to after a checkpoint resets it.
const JOURNAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// Turns off SQLite's memory statistics for the process: with them on (its default),
/// every allocation and free inside SQLite takes a global mutex to count bytes nobody
/// reads here (~90 of each per durable session input; SQLite recommends turning them
/// off). Call it first thing in `main`, before any thread or connection exists: SQLite
/// accepts the setting only before it initialises, and refuses it harmlessly after.
pub fn skip_memory_statistics() {
    // SAFETY: `sqlite3_config` must not run while another thread uses SQLite; the caller
    // runs it before starting any thread. SQLITE_CONFIG_MEMSTATUS takes one int.
    let code = unsafe {
        rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int)
    };
    if code != rusqlite::ffi::SQLITE_OK {
        tracing::debug!(
            code,
            "SQLite was already initialised; its memory statistics stay on"
        );
    }
}

/// Opens (creating if needed) the database for writing and applies the pragmas.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        crate::wal_vfs::name()?,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::WalUnavailable {
            path: path.to_path_buf(),
            mode,
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    // After a checkpoint resets the WAL it is cut back to this size, so a burst of writes
    // (or the one-time VACUUM) does not leave a large WAL file behind.
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Opens a read-only connection to an existing database.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}
