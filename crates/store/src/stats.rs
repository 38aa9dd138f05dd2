//! Store statistics for status and metrics: row counts, database size on disk, runs by
//! status, and per-session usage totals.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::Serialize;

use crate::error::StoreError;
use crate::status::RunStatus;

/// Whole-database counts and size.
#[derive(Debug, Clone, Serialize)]
pub struct StoreStats {
    /// Sessions stored.
    pub sessions: u64,
    /// Runs stored.
    pub runs: u64,
    /// History messages stored.
    pub messages: u64,
    /// Run events stored.
    pub events: u64,
    /// Assets stored.
    pub assets: u64,
    /// Sum of the stored assets' sizes, in bytes (shared blobs counted once per asset).
    pub asset_bytes: u64,
    /// Size of the database file plus its write-ahead log, in bytes.
    pub db_bytes: u64,
    /// Runs per status (every status present, zero when none).
    pub runs_by_status: BTreeMap<RunStatus, u64>,
}

/// Usage totals of one session's runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionTotals {
    /// Runs in the session.
    pub runs: u64,
    /// Sum of `usage.prompt_tokens`.
    pub prompt_tokens: u64,
    /// Sum of `usage.completion_tokens`.
    pub completion_tokens: u64,
    /// Sum of run costs (`usage.cost` as streamed).
    pub cost: f64,
    /// Sum of billed costs of the runs that were reconciled with `GET /generation`.
    pub billed_cost: Option<f64>,
}

fn count(conn: &Connection, sql: &str) -> rusqlite::Result<u64> {
    conn.prepare_cached(sql)?.query_row([], |row| row.get(0))
}

/// Bytes of the database file and its WAL (a missing WAL counts as empty).
fn db_bytes(db_path: &Path) -> Result<u64, StoreError> {
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    let mut total = 0;
    for path in [db_path.to_path_buf(), PathBuf::from(wal)] {
        match fs::metadata(&path) {
            Ok(meta) => total += meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read the size of",
                    path,
                    source,
                })
            }
        }
    }
    Ok(total)
}

/// Row counts, on-disk size and runs per status of the database at `db_path`.
pub(crate) fn stats(conn: &Connection, db_path: &Path) -> Result<StoreStats, StoreError> {
    let mut runs_by_status: BTreeMap<RunStatus, u64> =
        RunStatus::ALL.into_iter().map(|s| (s, 0)).collect();
    let mut stmt = conn.prepare_cached("SELECT status, COUNT(*) FROM runs GROUP BY status")?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, RunStatus>(0)?, row.get(1)?)))?;
    for row in rows {
        let (status, n) = row?;
        runs_by_status.insert(status, n);
    }
    Ok(StoreStats {
        sessions: count(conn, "SELECT COUNT(*) FROM sessions")?,
        runs: runs_by_status.values().sum(),
        messages: count(conn, "SELECT COUNT(*) FROM messages")?,
        events: count(
            conn,
            "SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM run_event_batches",
        )?,
        assets: count(conn, "SELECT COUNT(*) FROM assets")?,
        asset_bytes: count(conn, "SELECT CAST(TOTAL(size) AS INTEGER) FROM assets")?,
        db_bytes: db_bytes(db_path)?,
        runs_by_status,
    })
}

/// Totals over the session's runs (zeros for an unknown session). Token counts come
/// from each run's `usage` object, read here rather than with SQL JSON functions.
pub(crate) fn session_totals(
    conn: &Connection,
    session_id: &str,
) -> Result<SessionTotals, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT usage, cost, billed_cost FROM runs WHERE session_id = ?1")?;
    let mut rows = stmt.query([session_id])?;
    let mut totals = SessionTotals::default();
    while let Some(row) = rows.next()? {
        totals.runs += 1;
        if let Some(usage) = crate::json_column::column_opt(row, 0)? {
            let tokens = |k: &str| {
                usage
                    .get(k)
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0)
            };
            totals.prompt_tokens += tokens("prompt_tokens");
            totals.completion_tokens += tokens("completion_tokens");
        }
        totals.cost += row.get::<_, Option<f64>>(1)?.unwrap_or(0.0);
        if let Some(billed) = row.get::<_, Option<f64>>(2)? {
            *totals.billed_cost.get_or_insert(0.0) += billed;
        }
    }
    Ok(totals)
}
