//! Mapping PostgreSQL and pool failures onto [`StoreError`]: the server's message and
//! SQLSTATE, never the connection string (which may carry a password).

use ferry_store::StoreError;

/// SQLSTATE class 53: insufficient resources (`53100` disk full, `53200` out of memory).
const DISK_FULL: &str = "53100";

/// A failure of the PostgreSQL backend with `message` (never a connection string).
pub(crate) fn backend(message: String) -> StoreError {
    StoreError::Backend {
        backend: "postgresql",
        message,
        disk_full: false,
    }
}

/// A database call failed.
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    let disk_full = e.code().is_some_and(|c| c.code() == DISK_FULL);
    let message = match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    StoreError::Backend {
        backend: "postgresql",
        message,
        disk_full,
    }
}

/// Taking a connection from the pool failed.
pub(crate) fn pool(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db(e),
        other => backend(format!("no database connection: {other}")),
    }
}

/// A JSON column that does not parse (written by something other than ferry).
pub(crate) fn bad_json(column: &str, e: serde_json::Error) -> StoreError {
    backend(format!("column {column} holds invalid JSON: {e}"))
}

/// A column that holds something other than a usage object.
pub(crate) fn bad_usage(column: &str, e: ferry_store::UsageError) -> StoreError {
    backend(format!("column {column} holds no usage object: {e}"))
}

/// A value that does not fit the column's range.
pub(crate) fn out_of_range(what: &str) -> StoreError {
    backend(format!("{what} is out of range"))
}
