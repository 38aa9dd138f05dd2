//! Run events: the ordered log of a run's events (deltas, tool progress, completion), each
//! with the seq its run gave it, written in batches by [`crate::RunRepo::append_events`]
//! and [`crate::RunRepo::finish_run`] and replayed from a sequence number. On SQLite a
//! batch is one row (`run_event_batches`); the view `run_events` shows it a row an event.

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

/// Inserts `events` of `run_id`, stamped `now`: each run of consecutive seqs is one row
/// of `run_event_batches` (its events as one JSON array of `[kind, data]` pairs, the
/// first at `first_seq`), so a run's end stores its dozen events as one row, not a dozen
/// rows with their index entries. A batch that would overlap a stored one is refused, as
/// a duplicated `(run, seq)` always was.
pub(crate) fn insert_events(
    conn: &Connection,
    run_id: &str,
    events: &[NewEvent],
    now: &str,
) -> Result<(), StoreError> {
    // The overlap check is its own statement: as `INSERT … SELECT … WHERE NOT EXISTS` on
    // the table it inserts into, SQLite would stage the row in a temporary b-tree. The
    // writer's transaction holds the write lock, so nothing comes in between.
    let mut overlaps = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM run_event_batches
                        WHERE run_id = ?1 AND last_seq >= ?2 AND first_seq <= ?3)",
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO run_event_batches (run_id, first_seq, last_seq, events, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut body = String::new();
    for batch in dense_runs(events) {
        let (first, last) = (batch[0].seq, batch[batch.len() - 1].seq);
        if overlaps.query_row(params![run_id, first, last], |row| row.get::<_, bool>(0))? {
            return Err(StoreError::EventsOverlap {
                run_id: run_id.to_owned(),
                first,
                last,
            });
        }
        encode_batch(batch, &mut body)?;
        insert.execute(params![run_id, first, last, body, now])?;
    }
    Ok(())
}

/// Splits `events` where a seq is not the one before it plus one.
fn dense_runs(events: &[NewEvent]) -> impl Iterator<Item = &[NewEvent]> {
    events.chunk_by(|a, b| a.seq.checked_add(1) == Some(b.seq))
}

/// Writes `[[kind, data], …]` into `out` (cleared first); `data` is already JSON text.
fn encode_batch(batch: &[NewEvent], out: &mut String) -> Result<(), StoreError> {
    out.clear();
    out.reserve(
        batch
            .iter()
            .map(|e| e.kind.len() + e.data.len() + 6)
            .sum::<usize>()
            + 2,
    );
    out.push('[');
    for (i, event) in batch.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        out.push_str(&to_text(event.kind.as_str())?);
        out.push(',');
        out.push_str(&event.data);
        out.push(']');
    }
    out.push(']');
    Ok(())
}

/// The run's events with `seq > after_seq`, in order.
pub(crate) fn events_after(
    conn: &Connection,
    run_id: &str,
    after_seq: u64,
) -> Result<Vec<RunEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT first_seq, events, created_at FROM run_event_batches
         WHERE run_id = ?1 AND last_seq > ?2 ORDER BY first_seq",
    )?;
    let mut rows = stmt.query(params![run_id, after_seq])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let first: u64 = row.get(0)?;
        let pairs: Vec<(String, Value)> = json_column::parsed(row, 1)?;
        let created_at: String = row.get(2)?;
        for (seq, (kind, data)) in (first..).zip(pairs) {
            if seq > after_seq {
                out.push(RunEvent {
                    seq,
                    kind,
                    data,
                    created_at: created_at.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// The last stored seq of the run (0 when it has none).
pub(crate) fn last_seq(conn: &Connection, run_id: &str) -> Result<u64, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(MAX(last_seq), 0) FROM run_event_batches WHERE run_id = ?1",
        )?
        .query_row([run_id], |row| row.get(0))?)
}
