//! Run events: the ordered log of a run's events (deltas, tool progress, completion), each
//! with the seq its run gave it, written in batches by [`crate::RunRepo::append_events`]
//! and [`crate::RunRepo::finish_run`] and replayed from a sequence number.

use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::Value;

use crate::error::StoreError;
use crate::json_column::{self, to_text};

/// One stored run event.
#[derive(Debug, Clone, Serialize)]
pub struct RunEvent {
    /// Sequence number within the run (given by the writer of the event).
    pub seq: u64,
    /// Event name, e.g. `output.delta`.
    pub kind: String,
    /// Event payload.
    pub data: Value,
    /// When it was stored (RFC 3339).
    pub created_at: String,
}

/// An event to store; the payload is encoded by [`NewEvent::new`] on the caller's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Sequence number within the run, from 1, given by the run.
    pub seq: u64,
    /// Event name.
    pub kind: String,
    /// Payload as JSON text.
    data: String,
}

impl NewEvent {
    /// The event `seq` of kind `kind` with payload `data` (a JSON value, or a typed payload
    /// encoded straight from its type, without a JSON tree in between).
    pub fn new<T: serde::Serialize + ?Sized>(
        seq: u64,
        kind: &str,
        data: &T,
    ) -> Result<NewEvent, StoreError> {
        Ok(NewEvent {
            seq,
            kind: kind.to_owned(),
            data: to_text(data)?,
        })
    }

    /// The payload as JSON text, as stored.
    pub fn data_json(&self) -> &str {
        &self.data
    }
}

/// Inserts `events` of `run_id`, stamped `now`.
pub(crate) fn insert_events(
    conn: &Connection,
    run_id: &str,
    events: &[NewEvent],
    now: &str,
) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO run_events (run_id, seq, kind, data, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for event in events {
        insert.execute(params![run_id, event.seq, event.kind, event.data, now])?;
    }
    Ok(())
}

/// The run's events with `seq > after_seq`, in order.
pub(crate) fn events_after(
    conn: &Connection,
    run_id: &str,
    after_seq: u64,
) -> Result<Vec<RunEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, kind, data, created_at FROM run_events
         WHERE run_id = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![run_id, after_seq], |row| {
        Ok(RunEvent {
            seq: row.get(0)?,
            kind: row.get(1)?,
            data: json_column::column(row, 2)?,
            created_at: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The last stored seq of the run (0 when it has none).
pub(crate) fn last_seq(conn: &Connection, run_id: &str) -> Result<u64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM run_events WHERE run_id = ?1")?
        .query_row([run_id], |row| row.get(0))?)
}
