//! Runs (SQLite): creation with idempotency keys, the queued → running → terminal
//! transitions (the terminal write also appends the run's last events and its history
//! messages, in one transaction), reads in creation order (the explicit `ord` column),
//! and crash recovery of runs left in flight.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::clock::{format_rfc3339, now_rfc3339};
use crate::error::StoreError;
use crate::events::{events_after, insert_events, last_seq, NewEvent, RunEvent};
use crate::json_column::{self, to_text, to_text_opt};
use crate::status::RunStatus;
use crate::store::Store;
use crate::RunRepo;
use crate::UsageObject;

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
    /// Whether the caller tells its client the run is stored (a 202, an idempotency
    /// key): then its creation is fsynced before `create_run` returns. Otherwise it is
    /// committed (visible, surviving a killed process) and made durable against a power
    /// cut by the run's next synced write, its end.
    pub acknowledged: bool,
}

/// What [`RunRepo::create_run`] did.
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

/// The session a run was created in, as the creation's transaction found it — under the
/// lock that orders the session's creations, so nothing changed it in between: what the
/// run's turn needs of it, and the pin its plan must have been made for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionAtCreation {
    /// The session's model pin.
    pub pinned_selector: Option<String>,
    /// The session's own system prompt.
    pub system_prompt: Option<String>,
    /// The session's `speak_replies` setting, as stored.
    pub speak_replies: Option<String>,
    /// The session had no other run and no history message: the run's turn starts from
    /// an empty history (a later observation's transcript is its only way in).
    pub fresh: bool,
}

/// What [`RunRepo::create_run_planned`] did.
#[derive(Debug, Clone)]
pub enum Creation {
    /// The run was inserted, in the session as found.
    Inserted {
        /// The run as stored.
        run: Run,
        /// Whether the run was then its session's oldest unfinished run — what
        /// [`RunRepo::oldest_unfinished_run`] would answer right after the commit — when
        /// the store learnt it in the same round trip (`None`: ask).
        in_line: Option<bool>,
        /// The session, as found.
        session: SessionAtCreation,
    },
    /// A run with the same session and idempotency key already existed (whatever the
    /// session's pin): nothing was inserted and this is that run.
    Existing(Run),
    /// The session is not pinned as the caller planned for: nothing was inserted (the
    /// session was not new, so nothing at all was written). Plan again with its pin.
    PinMoved(SessionAtCreation),
}

/// A run starting on a route and model (status `running`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    /// The route it runs on.
    pub route: String,
    /// The model asked for.
    pub model_requested: String,
    /// When it started (a later start keeps the first one's time).
    pub started_at: OffsetDateTime,
}

/// The end of a run, written in one transaction: its terminal state, the events not
/// stored yet and the history messages it produced.
#[derive(Debug, Clone)]
pub struct RunFinish {
    /// The run.
    pub run_id: String,
    /// Its start, when not stored yet (a short run's start travels with its end).
    pub start: Option<RunStart>,
    /// Its terminal status (`completed`, `failed`, `cancelled` or `interrupted`).
    pub status: RunStatus,
    /// Model that actually answered.
    pub model_served: Option<String>,
    /// Token usage object (shared with the run's terminal event and view, not copied).
    pub usage: Option<Arc<UsageObject>>,
    /// Cost in credits.
    pub cost: Option<f64>,
    /// Output object (shared as `usage` is).
    pub output: Option<Arc<Value>>,
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
    /// The run's events not stored yet, in seq order, the terminal event last.
    pub events: Vec<NewEvent>,
}

/// Which runs [`RunRepo::list_runs_page`] returns.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this session's runs.
    pub session_id: Option<String>,
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// Only runs created before this one (the cursor: the last id of the previous page).
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

impl RunError {
    /// The error of a run row from its two nullable columns: none when both are NULL.
    pub fn from_columns(code: Option<String>, message: Option<String>) -> Option<RunError> {
        match (code, message) {
            (None, None) => None,
            (code, message) => Some(RunError {
                code: code.unwrap_or_default(),
                message: message.unwrap_or_default(),
            }),
        }
    }
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
    pub usage: Option<Arc<UsageObject>>,
    /// Cost in credits.
    pub cost: Option<f64>,
    /// Output object.
    pub output: Option<Arc<Value>>,
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
    let error = RunError::from_columns(row.get(13)?, row.get(14)?);
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
        usage: json_column::usage_opt(row, 10)?.map(Arc::new),
        cost: row.get(11)?,
        output: json_column::column_opt(row, 12)?.map(Arc::new),
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

fn create_run(conn: &Connection, new: &NewRun) -> Result<InsertOutcome, StoreError> {
    insert_new_session(conn, new)?;
    if let Some(run) = run_by_key(conn, new)? {
        return Ok(InsertOutcome::Existing(run));
    }
    Ok(InsertOutcome::Inserted(insert_run(conn, new)?))
}

/// [`RunRepo::create_run_planned`] inside the writer's transaction.
fn create_run_planned(
    conn: &Connection,
    new: &NewRun,
    pin: Option<&str>,
) -> Result<Creation, StoreError> {
    let created = insert_new_session(conn, new)?;
    if let Some(run) = run_by_key(conn, new)? {
        return Ok(Creation::Existing(run));
    }
    let session = if created {
        SessionAtCreation {
            fresh: true,
            ..SessionAtCreation::default()
        }
    } else {
        session_at_creation(conn, &new.session_id)?
    };
    if session.pinned_selector.as_deref() != pin {
        return Ok(Creation::PinMoved(session));
    }
    Ok(Creation::Inserted {
        run: insert_run(conn, new)?,
        in_line: None,
        session,
    })
}

/// Creates the run's session when missing (unpinned, no settings); true when it did.
fn insert_new_session(conn: &Connection, new: &NewRun) -> Result<bool, StoreError> {
    Ok(crate::sessions::insert_session(
        conn,
        &crate::NewSession {
            id: new.session_id.clone(),
            ..crate::NewSession::default()
        },
    )?)
}

/// The run of the session that already has `new`'s idempotency key, if any.
fn run_by_key(conn: &Connection, new: &NewRun) -> Result<Option<Run>, StoreError> {
    let Some(key) = &new.idempotency_key else {
        return Ok(None);
    };
    let existing: Option<String> = conn
        .prepare_cached("SELECT id FROM runs WHERE session_id = ?1 AND idempotency_key = ?2")?
        .query_row([&new.session_id, key], |row| row.get(0))
        .optional()?;
    existing.map(|id| require_run(conn, &id)).transpose()
}

/// An existing session's settings, and whether it has any run or history yet.
fn session_at_creation(conn: &Connection, id: &str) -> Result<SessionAtCreation, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT pinned_selector, system_prompt, speak_replies,
                    NOT EXISTS (SELECT 1 FROM runs WHERE session_id = ?1)
                    AND NOT EXISTS (SELECT 1 FROM messages WHERE session_id = ?1)
             FROM sessions WHERE id = ?1",
        )?
        .query_row([id], |row| {
            Ok(SessionAtCreation {
                pinned_selector: row.get(0)?,
                system_prompt: row.get(1)?,
                speak_replies: row.get(2)?,
                fresh: row.get(3)?,
            })
        })?)
}

/// Inserts the run, `queued`, next in creation order.
fn insert_run(conn: &Connection, new: &NewRun) -> Result<Run, StoreError> {
    // The creation order: one past the largest, read from the end of the unique `runs_ord`
    // index inside the writer's transaction, which holds the write lock, so nothing comes
    // in between (schema step 12 says why not a counter row).
    let ord: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(ord), 0) + 1 FROM runs")?
        .query_row([], |row| row.get(0))?;
    let created_at = now_rfc3339();
    let input = to_text(&new.input)?;
    conn.prepare_cached(
        "INSERT INTO runs (id, session_id, status, created_at, input, attempts, idempotency_key, ord)
         VALUES (?1, ?2, ?3, ?4, ?5, '[]', ?6, ?7)",
    )?
    .execute(params![
        new.id,
        new.session_id,
        RunStatus::Queued,
        created_at,
        input,
        new.idempotency_key,
        ord,
    ])?;
    Ok(Run {
        id: new.id.clone(),
        session_id: new.session_id.clone(),
        status: RunStatus::Queued,
        created_at,
        started_at: None,
        finished_at: None,
        input: new.input.clone(),
        route: None,
        model_requested: None,
        model_served: None,
        usage: None,
        cost: None,
        output: None,
        error: None,
        attempts: Value::Array(Vec::new()),
        idempotency_key: new.idempotency_key.clone(),
        cache_status: None,
        generation_id: None,
        billed_cost: None,
    })
}

/// Refuses a run that ended (or is unknown) a write that starts or continues it.
fn require_open(conn: &Connection, run_id: &str) -> Result<(), StoreError> {
    let (_, current) = run_state(conn, run_id)?;
    if current.is_terminal() {
        return Err(StoreError::InvalidTransition {
            id: run_id.to_owned(),
            current,
            requested: RunStatus::Running,
        });
    }
    Ok(())
}

/// Records `start` on a run that has not ended (checked by the caller).
fn apply_start(conn: &Connection, run_id: &str, start: &RunStart) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE runs SET status = ?2, started_at = COALESCE(started_at, ?3), route = ?4,
                         model_requested = ?5
         WHERE id = ?1",
    )?
    .execute(params![
        run_id,
        RunStatus::Running,
        format_rfc3339(start.started_at),
        start.route,
        start.model_requested
    ])?;
    Ok(())
}

/// The role of each history message (a string `"role"`), checked before anything is
/// written; shared by every backend.
pub fn message_roles(messages: &[Value]) -> Result<Vec<&str>, StoreError> {
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

/// Ends the run and answers it as [`load_run`] would read it after the commit: the
/// columns the end did not write come back from its `UPDATE … RETURNING`, the ones it wrote
/// are `fin`'s (the JSON ones are not parsed back from the text just written).
fn finish_run(conn: &Connection, fin: &RunFinish) -> Result<Run, StoreError> {
    let kept = end_run(conn, fin)?;
    Ok(Run {
        id: fin.run_id.clone(),
        session_id: kept.session_id,
        status: fin.status,
        created_at: kept.created_at,
        started_at: kept.started_at,
        finished_at: Some(kept.finished_at),
        input: kept.input,
        route: kept.route,
        model_requested: kept.model_requested,
        model_served: fin.model_served.clone(),
        usage: fin.usage.clone(),
        cost: fin.cost,
        output: fin.output.clone(),
        error: RunError::from_columns(fin.error_code.clone(), fin.error_message.clone()),
        attempts: fin.attempts.clone(),
        idempotency_key: kept.idempotency_key,
        cache_status: fin.cache_status.clone(),
        generation_id: fin.generation_id.clone(),
        billed_cost: kept.billed_cost,
    })
}

/// The columns of an ended run its end did not write.
struct KeptColumns {
    session_id: String,
    created_at: String,
    started_at: Option<String>,
    finished_at: String,
    input: Value,
    route: Option<String>,
    model_requested: Option<String>,
    idempotency_key: Option<String>,
    billed_cost: Option<f64>,
}

fn end_run(conn: &Connection, fin: &RunFinish) -> Result<KeptColumns, StoreError> {
    // Why a run cannot end: it is missing, or it (or the asked-for end) is not open.
    let refused = |conn: &Connection| -> StoreError {
        match run_state(conn, &fin.run_id) {
            Ok((_, current)) => StoreError::InvalidTransition {
                id: fin.run_id.clone(),
                current,
                requested: fin.status,
            },
            Err(e) => e,
        }
    };
    if !fin.status.is_terminal() {
        return Err(refused(conn));
    }
    let roles = message_roles(&fin.messages)?;
    let now = now_rfc3339();
    let start = fin.start.as_ref();
    // The columns the end keeps are read first, then the run is ended, with its start
    // folded in when it was never stored (an `UPDATE … RETURNING` would stage its answer
    // in a temporary b-tree). The writer's transaction holds the write lock, so nothing
    // comes in between; the `UPDATE` still ends the run only while it is open.
    let found = conn
        .prepare_cached(
            "SELECT status, session_id, created_at, started_at, input, route, model_requested,
                    idempotency_key, billed_cost
             FROM runs WHERE id = ?1",
        )?
        .query_row([&fin.run_id], |row| {
            let status: RunStatus = row.get(0)?;
            if status.is_terminal() {
                return Ok(None);
            }
            Ok(Some(KeptColumns {
                session_id: row.get(1)?,
                created_at: row.get(2)?,
                started_at: row.get(3)?,
                finished_at: now.clone(),
                input: json_column::column(row, 4)?,
                route: row.get(5)?,
                model_requested: row.get(6)?,
                idempotency_key: row.get(7)?,
                billed_cost: row.get(8)?,
            }))
        })
        .optional()?
        .flatten();
    let Some(mut kept) = found else {
        return Err(refused(conn));
    };
    let ended = conn
        .prepare_cached(
            "UPDATE runs SET status = ?2, finished_at = ?3, model_served = ?4, usage = ?5,
                         cost = ?6, output = ?7, error_code = ?8, error_message = ?9,
                         attempts = ?10, cache_status = ?11, generation_id = ?12,
                         started_at = COALESCE(started_at, ?13),
                         route = COALESCE(?14, route),
                         model_requested = COALESCE(?15, model_requested)
         WHERE id = ?1 AND status IN ('queued', 'running')",
        )?
        .execute(params![
            fin.run_id,
            fin.status,
            now,
            fin.model_served,
            fin.usage.as_deref().map(UsageObject::as_str),
            fin.cost,
            to_text_opt(fin.output.as_deref())?,
            fin.error_code,
            fin.error_message,
            to_text(&fin.attempts)?,
            fin.cache_status,
            fin.generation_id,
            start.map(|s| format_rfc3339(s.started_at)),
            start.map(|s| s.route.as_str()),
            start.map(|s| s.model_requested.as_str()),
        ])?;
    if ended != 1 {
        return Err(refused(conn));
    }
    // The row as the `UPDATE` left it: a stored start stays, a given route and model win.
    if let Some(start) = start {
        if kept.started_at.is_none() {
            kept.started_at = Some(format_rfc3339(start.started_at));
        }
        kept.route = Some(start.route.clone());
        kept.model_requested = Some(start.model_requested.clone());
    }
    let session_id = kept.session_id.clone();
    insert_events(conn, &fin.run_id, &fin.events, &now)?;
    if fin.messages.is_empty() {
        conn.prepare_cached("UPDATE sessions SET updated_at = ?2 WHERE id = ?1")?
            .execute([&session_id, &now])?;
        return Ok(kept);
    }
    let first_seq =
        crate::sessions::take_message_seqs(conn, &session_id, fin.messages.len(), &now)?;
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
    Ok(kept)
}

fn recover_interrupted(
    conn: &Connection,
    reason: &str,
    terminal: &Value,
) -> Result<Vec<Run>, StoreError> {
    let ids = conn
        .prepare_cached("SELECT id FROM runs WHERE status IN ('queued', 'running') ORDER BY ord")?
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
        let event = NewEvent::new(last_seq(conn, &id)? + 1, "run.failed", terminal)?;
        insert_events(conn, &id, &[event], &now)?;
        runs.push(require_run(conn, &id)?);
    }
    Ok(runs)
}

#[async_trait]
impl RunRepo for Store {
    async fn create_run(&self, new: NewRun) -> Result<InsertOutcome, StoreError> {
        if new.acknowledged {
            self.write_with(move |conn| create_run(conn, &new)).await
        } else {
            self.write_light(move |conn| create_run(conn, &new)).await
        }
    }

    async fn create_run_planned(
        &self,
        new: NewRun,
        pin: Option<&str>,
    ) -> Result<Creation, StoreError> {
        let pin = pin.map(str::to_owned);
        let acknowledged = new.acknowledged;
        let create = move |conn: &Connection| create_run_planned(conn, &new, pin.as_deref());
        if acknowledged {
            self.write_with(create).await
        } else {
            self.write_light(create).await
        }
    }

    async fn append_events(
        &self,
        run_id: &str,
        start: Option<RunStart>,
        events: Vec<NewEvent>,
    ) -> Result<(), StoreError> {
        let run_id = run_id.to_owned();
        // Light: a batch lost to a power cut belongs to a run that is then interrupted.
        self.write_light(move |conn| {
            require_open(conn, &run_id)?;
            if let Some(start) = &start {
                apply_start(conn, &run_id, start)?;
            }
            insert_events(conn, &run_id, &events, &now_rfc3339())
        })
        .await
    }

    async fn finish_run(&self, fin: Arc<RunFinish>) -> Result<Run, StoreError> {
        // The end touches no ledger row (the run's spend rows are the gate's, queued
        // before it).
        self.write_ahead_of_ledger(move |conn| finish_run(conn, &fin))
            .await
    }

    async fn set_billed_cost(&self, run_id: &str, billed: f64) -> Result<(), StoreError> {
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

    async fn set_run_spend(
        &self,
        run_id: &str,
        usage: Option<UsageObject>,
        cost: Option<f64>,
    ) -> Result<(), StoreError> {
        let run_id = run_id.to_owned();
        self.write_with(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE runs SET usage = ?2, cost = ?3
                     WHERE id = ?1 AND status IN ('completed', 'failed', 'cancelled', 'interrupted')",
                )?
                .execute(rusqlite::params![run_id, usage.as_ref().map(UsageObject::as_str), cost])?;
            if n == 0 {
                return Err(StoreError::RunNotFound { id: run_id });
            }
            Ok(())
        })
        .await
    }

    async fn get_run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        let id = id.to_owned();
        self.read_with(move |conn| Ok(load_run(conn, &id)?)).await
    }

    async fn oldest_unfinished_run(&self, session_id: &str) -> Result<Option<String>, StoreError> {
        let session_id = session_id.to_owned();
        self.read_with(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT id FROM runs WHERE session_id = ?1 AND status IN ('queued', 'running')
                     ORDER BY ord LIMIT 1",
                )?
                .query_row([&session_id], |row| row.get(0))
                .optional()?)
        })
        .await
    }

    async fn list_runs_page(&self, filter: RunFilter) -> Result<Vec<Run>, StoreError> {
        self.read_with(move |conn| {
            let after_ord: Option<i64> = match &filter.after {
                None => None,
                Some(id) => Some(
                    conn.prepare_cached("SELECT ord FROM runs WHERE id = ?1")?
                        .query_row([id], |row| row.get(0))
                        .optional()?
                        .ok_or_else(|| StoreError::RunNotFound { id: id.clone() })?,
                ),
            };
            let mut stmt = conn.prepare_cached(concat!(
                select_run!(),
                " WHERE (?1 IS NULL OR session_id = ?1) AND (?2 IS NULL OR status = ?2)
                    AND (?3 IS NULL OR ord < ?3)
                  ORDER BY ord DESC LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                params![filter.session_id, filter.status, after_ord, filter.limit],
                run_from_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn events_after(
        &self,
        run_id: &str,
        after_seq: u64,
    ) -> Result<Vec<RunEvent>, StoreError> {
        let run_id = run_id.to_owned();
        self.read_with(move |conn| events_after(conn, &run_id, after_seq))
            .await
    }

    async fn recover_interrupted(
        &self,
        reason: &str,
        terminal: &Value,
    ) -> Result<Vec<Run>, StoreError> {
        let reason = reason.to_owned();
        let terminal = terminal.clone();
        self.write_with(move |conn| recover_interrupted(conn, &reason, &terminal))
            .await
    }
}
