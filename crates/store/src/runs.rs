//! Runs: durable insertion with idempotency keys, the queued → running → terminal
//! transitions (the terminal write appends the run's history messages in the same
//! transaction), reads, and crash recovery of runs left in flight.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::json_column::{self, to_text, to_text_opt};
use crate::status::RunStatus;
use crate::store::Store;

/// A run to insert (status `queued`, `created_at` now).
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Run id (chosen by the caller).
    pub id: String,
    /// The session it belongs to; must exist.
    pub session_id: String,
    /// The input body, as received.
    pub input: Value,
    /// Client idempotency key, unique per session.
    pub idempotency_key: Option<String>,
}

/// What [`Store::insert_run`] did.
#[derive(Debug, Clone)]
pub enum InsertOutcome {
    /// The run was inserted.
    Inserted(Run),
    /// A run with the same session and idempotency key already existed; nothing was
    /// inserted and this is that run.
    Existing(Run),
}

impl InsertOutcome {
    /// The run, whichever way it came.
    pub fn run(&self) -> &Run {
        match self {
            InsertOutcome::Inserted(run) | InsertOutcome::Existing(run) => run,
        }
    }

    /// The run, whichever way it came.
    pub fn into_run(self) -> Run {
        match self {
            InsertOutcome::Inserted(run) | InsertOutcome::Existing(run) => run,
        }
    }
}

/// The terminal state of a run and the history messages it produced.
#[derive(Debug, Clone)]
pub struct RunFinish {
    /// The run.
    pub run_id: String,
    /// Its terminal status (`completed`, `failed`, `cancelled` or `interrupted`).
    pub status: RunStatus,
    /// Model that actually answered.
    pub model_served: Option<String>,
    /// Token usage object.
    pub usage: Option<Value>,
    /// Cost in credits.
    pub cost: Option<f64>,
    /// Output object.
    pub output: Option<Value>,
    /// Stable error code when it failed.
    pub error_code: Option<String>,
    /// Human error message when it failed.
    pub error_message: Option<String>,
    /// The attempts made (JSON array).
    pub attempts: Value,
    /// Cache status reported upstream.
    pub cache_status: Option<String>,
    /// Upstream generation id.
    pub generation_id: Option<String>,
    /// OpenAI-format message objects to append to the session history, each with a
    /// string `"role"`.
    pub messages: Vec<Value>,
}

/// Which runs [`Store::list_runs_page`] returns.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this session's runs.
    pub session_id: Option<String>,
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// Only runs inserted before this one (the cursor: the last id of the previous page).
    pub after: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunError {
    /// Stable error code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// A stored run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Run id.
    pub id: String,
    /// Its session.
    pub session_id: String,
    /// Lifecycle status.
    pub status: RunStatus,
    /// When it was inserted.
    pub created_at: String,
    /// When it started running.
    pub started_at: Option<String>,
    /// When it reached its terminal status.
    pub finished_at: Option<String>,
    /// The input body.
    pub input: Value,
    /// Route it ran on.
    pub route: Option<String>,
    /// Model asked for.
    pub model_requested: Option<String>,
    /// Model that answered.
    pub model_served: Option<String>,
    /// Token usage object.
    pub usage: Option<Value>,
    /// Cost in credits.
    pub cost: Option<f64>,
    /// Output object.
    pub output: Option<Value>,
    /// Error, when it failed or was interrupted.
    pub error: Option<RunError>,
    /// Attempts made (JSON array).
    pub attempts: Value,
    /// Client idempotency key.
    pub idempotency_key: Option<String>,
    /// Cache status reported upstream.
    pub cache_status: Option<String>,
    /// Upstream generation id.
    pub generation_id: Option<String>,
    /// What OpenRouter billed for the run (`GET /generation`), once reconciled.
    pub billed_cost: Option<f64>,
}

macro_rules! select_run {
    () => {
        "SELECT id, session_id, status, created_at, started_at, finished_at, input, route,
                model_requested, model_served, usage, cost, output, error_code, error_message,
                attempts, idempotency_key, cache_status, generation_id, billed_cost
         FROM runs"
    };
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<Run> {
    let error_code: Option<String> = row.get(13)?;
    let error_message: Option<String> = row.get(14)?;
    let error = match (error_code, error_message) {
        (None, None) => None,
        (code, message) => Some(RunError {
            code: code.unwrap_or_default(),
            message: message.unwrap_or_default(),
        }),
    };
    Ok(Run {
        id: row.get(0)?,
        session_id: row.get(1)?,
        status: row.get(2)?,
        created_at: row.get(3)?,
        started_at: row.get(4)?,
        finished_at: row.get(5)?,
        input: json_column::column(row, 6)?,
        route: row.get(7)?,
        model_requested: row.get(8)?,
        model_served: row.get(9)?,
        usage: json_column::column_opt(row, 10)?,
        cost: row.get(11)?,
        output: json_column::column_opt(row, 12)?,
        error,
        attempts: json_column::column_opt(row, 15)?.unwrap_or_else(|| Value::Array(Vec::new())),
        idempotency_key: row.get(16)?,
        cache_status: row.get(17)?,
        generation_id: row.get(18)?,
        billed_cost: row.get(19)?,
    })
}

fn load_run(conn: &Connection, id: &str) -> rusqlite::Result<Option<Run>> {
    conn.prepare_cached(concat!(select_run!(), " WHERE id = ?1"))?
        .query_row([id], run_from_row)
        .optional()
}

fn require_run(conn: &Connection, id: &str) -> Result<Run, StoreError> {
    load_run(conn, id)?.ok_or_else(|| StoreError::RunNotFound { id: id.to_owned() })
}

/// The run's session and current status.
fn run_state(conn: &Connection, id: &str) -> Result<(String, RunStatus), StoreError> {
    conn.prepare_cached("SELECT session_id, status FROM runs WHERE id = ?1")?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::RunNotFound { id: id.to_owned() })
}

fn insert_run(conn: &Connection, new: &NewRun) -> Result<InsertOutcome, StoreError> {
    if let Some(key) = &new.idempotency_key {
        let existing: Option<String> = conn
            .prepare_cached("SELECT id FROM runs WHERE session_id = ?1 AND idempotency_key = ?2")?
            .query_row([&new.session_id, key], |row| row.get(0))
            .optional()?;
        if let Some(id) = existing {
            return Ok(InsertOutcome::Existing(require_run(conn, &id)?));
        }
    }
    let session_exists = conn
        .prepare_cached("SELECT 1 FROM sessions WHERE id = ?1")?
        .exists([&new.session_id])?;
    if !session_exists {
        return Err(StoreError::SessionNotFound {
            id: new.session_id.clone(),
        });
    }
    conn.prepare_cached(
        "INSERT INTO runs (id, session_id, status, created_at, input, attempts, idempotency_key)
         VALUES (?1, ?2, ?3, ?4, ?5, '[]', ?6)",
    )?
    .execute(params![
        new.id,
        new.session_id,
        RunStatus::Queued,
        now_rfc3339(),
        to_text(&new.input)?,
        new.idempotency_key,
    ])?;
    Ok(InsertOutcome::Inserted(require_run(conn, &new.id)?))
}

fn mark_running(
    conn: &Connection,
    run_id: &str,
    route: &str,
    model_requested: &str,
) -> Result<(), StoreError> {
    let (_, current) = run_state(conn, run_id)?;
    if current.is_terminal() {
        return Err(StoreError::InvalidTransition {
            id: run_id.to_owned(),
            current,
            requested: RunStatus::Running,
        });
    }
    conn.prepare_cached(
        "UPDATE runs SET status = ?2, started_at = COALESCE(started_at, ?3), route = ?4,
                         model_requested = ?5
         WHERE id = ?1",
    )?
    .execute(params![
        run_id,
        RunStatus::Running,
        now_rfc3339(),
        route,
        model_requested
    ])?;
    Ok(())
}

/// The role of each message, checked before anything is written.
fn message_roles(messages: &[Value]) -> Result<Vec<&str>, StoreError> {
    messages
        .iter()
        .enumerate()
        .map(|(index, message)| {
            message
                .get("role")
                .and_then(Value::as_str)
                .ok_or(StoreError::InvalidMessage {
                    index,
                    reason: "it has no string \"role\"",
                })
        })
        .collect()
}

fn finish_run(conn: &Connection, fin: &RunFinish) -> Result<(), StoreError> {
    let (session_id, current) = run_state(conn, &fin.run_id)?;
    if current.is_terminal() || !fin.status.is_terminal() {
        return Err(StoreError::InvalidTransition {
            id: fin.run_id.clone(),
            current,
            requested: fin.status,
        });
    }
    let roles = message_roles(&fin.messages)?;
    let now = now_rfc3339();
    conn.prepare_cached(
        "UPDATE runs SET status = ?2, finished_at = ?3, model_served = ?4, usage = ?5,
                         cost = ?6, output = ?7, error_code = ?8, error_message = ?9,
                         attempts = ?10, cache_status = ?11, generation_id = ?12
         WHERE id = ?1",
    )?
    .execute(params![
        fin.run_id,
        fin.status,
        now,
        fin.model_served,
        to_text_opt(fin.usage.as_ref())?,
        fin.cost,
        to_text_opt(fin.output.as_ref())?,
        fin.error_code,
        fin.error_message,
        to_text(&fin.attempts)?,
        fin.cache_status,
        fin.generation_id,
    ])?;
    let first_seq: u64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = ?1")?
        .query_row([&session_id], |row| row.get(0))?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO messages (session_id, seq, run_id, role, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (seq, (message, role)) in (first_seq..).zip(fin.messages.iter().zip(roles)) {
        insert.execute(params![
            session_id,
            seq,
            fin.run_id,
            role,
            to_text(message)?,
            now
        ])?;
    }
    conn.prepare_cached("UPDATE sessions SET updated_at = ?2 WHERE id = ?1")?
        .execute([&session_id, &now])?;
    Ok(())
}

fn recover_interrupted(conn: &Connection, reason: &str) -> Result<Vec<Run>, StoreError> {
    let ids = conn
        .prepare_cached(
            "SELECT id FROM runs WHERE status IN ('queued', 'running')
             ORDER BY created_at, rowid",
        )?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut update = conn.prepare_cached(
        "UPDATE runs SET status = ?2, error_code = 'interrupted', error_message = ?3,
                         finished_at = ?4
         WHERE id = ?1",
    )?;
    let now = now_rfc3339();
    let mut runs = Vec::with_capacity(ids.len());
    for id in ids {
        update.execute(params![id, RunStatus::Interrupted, reason, now])?;
        runs.push(require_run(conn, &id)?);
    }
    Ok(runs)
}

impl Store {
    /// Inserts a `queued` run. With an idempotency key already used in the session,
    /// inserts nothing and returns the earlier run as [`InsertOutcome::Existing`].
    /// [`StoreError::SessionNotFound`] if the session does not exist.
    pub async fn insert_run(&self, new: NewRun) -> Result<InsertOutcome, StoreError> {
        self.write_with(move |conn| insert_run(conn, &new)).await
    }

    /// Queues the run's insert NOW — creating its session first when missing — and returns
    /// a future of the outcome. Writes queued after this call (e.g. `mark_running_nowait`,
    /// events) are ordered after it, so a caller may start the run before awaiting the
    /// commit. Same idempotency rules as [`Store::insert_run`].
    pub fn begin_run(
        &self,
        new: NewRun,
    ) -> impl std::future::Future<Output = Result<InsertOutcome, StoreError>> + Send + 'static {
        self.enqueue_with(move |conn| {
            crate::sessions::insert_session(
                conn,
                &crate::NewSession {
                    id: new.session_id.clone(),
                    ..crate::NewSession::default()
                },
            )?;
            insert_run(conn, &new)
        })
    }

    /// Records what OpenRouter billed for a finished run.
    pub async fn set_billed_cost(&self, run_id: &str, billed: f64) -> Result<(), StoreError> {
        let run_id = run_id.to_owned();
        self.write_with(move |conn| {
            let n = conn
                .prepare_cached("UPDATE runs SET billed_cost = ?2 WHERE id = ?1")?
                .execute(rusqlite::params![run_id, billed])?;
            if n == 0 {
                return Err(StoreError::RunNotFound { id: run_id });
            }
            Ok(())
        })
        .await
    }

    /// Replaces the usage and cost of a run that already ended (a cancelled run whose
    /// cut-short model call was priced afterwards). Refused for a run still going.
    pub async fn set_run_spend(
        &self,
        run_id: &str,
        usage: Option<Value>,
        cost: Option<f64>,
    ) -> Result<(), StoreError> {
        let run_id = run_id.to_owned();
        self.write_with(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE runs SET usage = ?2, cost = ?3
                     WHERE id = ?1 AND status IN ('completed', 'failed', 'cancelled', 'interrupted')",
                )?
                .execute(rusqlite::params![run_id, to_text_opt(usage.as_ref())?, cost])?;
            if n == 0 {
                return Err(StoreError::RunNotFound { id: run_id });
            }
            Ok(())
        })
        .await
    }

    /// Marks the run `running` on `route` / `model_requested` (again, on a fallback;
    /// `started_at` keeps the first start). Refused for a run that already ended.
    pub async fn mark_running(
        &self,
        run_id: &str,
        route: &str,
        model_requested: &str,
    ) -> Result<(), StoreError> {
        let (run_id, route, model) = (
            run_id.to_owned(),
            route.to_owned(),
            model_requested.to_owned(),
        );
        self.write_with(move |conn| mark_running(conn, &run_id, &route, &model))
            .await
    }

    /// [`Store::mark_running`] without waiting: ordered before every later write, so a run
    /// finished later is never overwritten; a failure is logged.
    pub fn mark_running_nowait(&self, run_id: &str, route: &str, model_requested: &str) {
        let (run_id, route, model) = (
            run_id.to_owned(),
            route.to_owned(),
            model_requested.to_owned(),
        );
        self.write_nowait_with(move |conn| mark_running(conn, &run_id, &route, &model));
    }

    /// In one transaction: sets the run's terminal status and result fields, appends
    /// `fin.messages` to its session's history (consecutive seqs after the last one) and
    /// bumps the session's `updated_at`. Refused unless `fin.status` is terminal and the
    /// run has not ended yet.
    pub async fn finish_run(&self, fin: RunFinish) -> Result<(), StoreError> {
        self.write_with(move |conn| finish_run(conn, &fin)).await
    }

    /// The run with this id, if any.
    pub async fn get_run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        let id = id.to_owned();
        self.read_with(move |conn| Ok(load_run(conn, &id)?)).await
    }

    /// The session's `limit` most recent runs, newest first.
    pub async fn list_runs(&self, session_id: &str, limit: u32) -> Result<Vec<Run>, StoreError> {
        self.list_runs_page(RunFilter {
            session_id: Some(session_id.to_owned()),
            limit,
            ..RunFilter::default()
        })
        .await
    }

    /// A page of runs, newest first (insertion order), filtered by session and status,
    /// after the run `filter.after` (the last id of the previous page).
    /// [`StoreError::RunNotFound`] when `after` names no run.
    pub async fn list_runs_page(&self, filter: RunFilter) -> Result<Vec<Run>, StoreError> {
        self.read_with(move |conn| {
            let after_rowid: Option<i64> = match &filter.after {
                None => None,
                Some(id) => Some(
                    conn.prepare_cached("SELECT rowid FROM runs WHERE id = ?1")?
                        .query_row([id], |row| row.get(0))
                        .optional()?
                        .ok_or_else(|| StoreError::RunNotFound { id: id.clone() })?,
                ),
            };
            let mut stmt = conn.prepare_cached(concat!(
                select_run!(),
                " WHERE (?1 IS NULL OR session_id = ?1) AND (?2 IS NULL OR status = ?2)
                    AND (?3 IS NULL OR rowid < ?3)
                  ORDER BY rowid DESC LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                params![filter.session_id, filter.status, after_rowid, filter.limit],
                run_from_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// At startup: turns every `queued` or `running` run into `interrupted` (error code
    /// `interrupted`, message `reason`, `finished_at` now) and returns them, oldest first.
    pub async fn recover_interrupted(&self, reason: &str) -> Result<Vec<Run>, StoreError> {
        let reason = reason.to_owned();
        self.write_with(move |conn| recover_interrupted(conn, &reason))
            .await
    }
}
