//! Run events: the ordered log of a run's events (deltas, tool progress, completion),
//! appended at high rate by fire-and-forget writes and replayed from a sequence number.

use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::Value;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::json_column::{self, to_text};
use crate::store::Store;

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

/// An event ready to insert; the payload is serialised on the caller's thread.
struct EventRow {
    run_id: String,
    seq: u64,
    kind: String,
    data: String,
}

impl EventRow {
    fn new(run_id: &str, seq: u64, kind: &str, data: &Value) -> rusqlite::Result<EventRow> {
        Ok(EventRow {
            run_id: run_id.to_owned(),
            seq,
            kind: kind.to_owned(),
            data: to_text(data)?,
        })
    }

    fn insert(&self, conn: &Connection) -> Result<(), StoreError> {
        conn.prepare_cached(
            "INSERT INTO run_events (run_id, seq, kind, data, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            self.run_id,
            self.seq,
            self.kind,
            self.data,
            now_rfc3339()
        ])?;
        Ok(())
    }
}

impl Store {
    /// Queues the event without waiting; it is written before any later write. Failures
    /// (unknown run, duplicate seq) are logged.
    pub fn append_event_nowait(&self, run_id: &str, seq: u64, kind: &str, data: &Value) {
        match EventRow::new(run_id, seq, kind, data) {
            Ok(row) => self.write_nowait_with(move |conn| row.insert(conn)),
            Err(e) => tracing::warn!(error = %e, run_id, seq, "run event not stored"),
        }
    }

    /// Queues a batch of one run's events `(seq, kind, data)` as ONE fire-and-forget job
    /// (one writer wake-up for many events); written in order, before any later write.
    pub fn append_events_nowait(&self, run_id: &str, events: &[(u64, &str, &Value)]) {
        let rows: rusqlite::Result<Vec<EventRow>> = events
            .iter()
            .map(|(seq, kind, data)| EventRow::new(run_id, *seq, kind, data))
            .collect();
        match rows {
            Ok(rows) => self.write_nowait_with(move |conn| {
                for row in &rows {
                    row.insert(conn)?;
                }
                Ok(())
            }),
            Err(e) => tracing::warn!(error = %e, run_id, "run events not stored"),
        }
    }

    /// Appends the event and waits for its commit.
    pub async fn append_event(
        &self,
        run_id: &str,
        seq: u64,
        kind: &str,
        data: &Value,
    ) -> Result<(), StoreError> {
        let row = EventRow::new(run_id, seq, kind, data)?;
        self.write_with(move |conn| row.insert(conn)).await
    }

    /// The run's events with `seq > after_seq`, in order.
    pub async fn events_after(
        &self,
        run_id: &str,
        after_seq: u64,
    ) -> Result<Vec<RunEvent>, StoreError> {
        let run_id = run_id.to_owned();
        self.read_with(move |conn| {
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
        })
        .await
    }
}
