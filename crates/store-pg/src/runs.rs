//! Runs and their events on PostgreSQL: creation with idempotency keys (one statement that
//! cannot race), the queued → running → terminal transitions under the run row's lock,
//! the end in one all-or-nothing transaction, reads in creation order (`ord`), and crash
//! recovery.

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use ferry_store::{
    message_roles, now_rfc3339, rfc3339, Creation, InsertOutcome, NewEvent, NewRun, Run, RunError,
    RunEvent, RunFilter, RunFinish, RunRepo, RunStart, RunStatus, SessionAtCreation, StoreError,
    UsageObject,
};
use serde_json::Value;
use tokio_postgres::Row;

use crate::cached::Cached;
use crate::columns::{self, json_text, json_text_opt};
use crate::db_error::{self, db};
use crate::PgStore;

/// The columns a [`Run`] is read from ([`run_from_row`]).
macro_rules! run_columns {
    () => {
        "id, session_id, status, created_at, started_at, finished_at, input, route,
         model_requested, model_served, usage, cost, output, error_code, error_message,
         attempts, idempotency_key, cache_status, generation_id, billed_cost"
    };
}

const SELECT_RUN: &str = concat!("SELECT ", run_columns!(), " FROM runs");

fn status(row: &Row) -> Result<RunStatus, StoreError> {
    let text: &str = row.get("status");
    text.parse()
        .map_err(|_| db_error::backend(format!("run status {text:?} is not one ferry knows")))
}

fn run_from_row(row: &Row) -> Result<Run, StoreError> {
    let error = RunError::from_columns(row.get("error_code"), row.get("error_message"));
    Ok(Run {
        id: row.get("id"),
        session_id: row.get("session_id"),
        status: status(row)?,
        created_at: row.get("created_at"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
        input: columns::json(row, "input")?,
        route: row.get("route"),
        model_requested: row.get("model_requested"),
        model_served: row.get("model_served"),
        usage: columns::usage_opt(row, "usage")?.map(Arc::new),
        cost: row.get("cost"),
        output: columns::json_opt(row, "output")?.map(Arc::new),
        error,
        attempts: columns::json_opt(row, "attempts")?.unwrap_or_else(|| Value::Array(Vec::new())),
        idempotency_key: row.get("idempotency_key"),
        cache_status: row.get("cache_status"),
        generation_id: row.get("generation_id"),
        billed_cost: row.get("billed_cost"),
    })
}

async fn load_run(c: &(impl Cached + Sync), id: &str) -> Result<Option<Run>, StoreError> {
    let row = c
        .row_opt(&format!("{SELECT_RUN} WHERE id = $1"), &[&id])
        .await
        .map_err(db)?;
    row.as_ref().map(run_from_row).transpose()
}

async fn require_run(c: &(impl Cached + Sync), id: &str) -> Result<Run, StoreError> {
    load_run(c, id)
        .await?
        .ok_or_else(|| StoreError::RunNotFound { id: id.to_owned() })
}

/// The run's session and status, locking the run row until the transaction ends (so a
/// concurrent end or recovery waits, then sees the new status).
async fn lock_run(c: &(impl Cached + Sync), id: &str) -> Result<(String, RunStatus), StoreError> {
    let row = c
        .row_opt(
            "SELECT session_id, status FROM runs WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| StoreError::RunNotFound { id: id.to_owned() })?;
    Ok((row.get(0), status(&row)?))
}

async fn apply_start(
    c: &(impl Cached + Sync),
    run_id: &str,
    start: &RunStart,
) -> Result<(), StoreError> {
    c.exec(
        "UPDATE runs SET status = $2, started_at = COALESCE(started_at, $3), route = $4,
                         model_requested = $5
         WHERE id = $1",
        &[
            &run_id,
            &RunStatus::Running.as_str(),
            &rfc3339(start.started_at),
            &start.route,
            &start.model_requested,
        ],
    )
    .await
    .map_err(db)?;
    Ok(())
}

/// Events as the columns `UNNEST` takes: seqs, kinds and JSON data.
type EventColumns<'e> = (Vec<i64>, Vec<&'e str>, Vec<&'e str>);

fn event_columns(events: &[NewEvent]) -> Result<EventColumns<'_>, StoreError> {
    let mut seqs = Vec::with_capacity(events.len());
    for event in events {
        seqs.push(columns::bigint(event.seq, "an event seq")?);
    }
    let kinds = events.iter().map(|e| e.kind.as_str()).collect();
    let data = events.iter().map(NewEvent::data_json).collect();
    Ok((seqs, kinds, data))
}

/// Inserts `events` of `run_id`, stamped `now`, in one statement.
pub(crate) async fn insert_events(
    c: &(impl Cached + Sync),
    run_id: &str,
    events: &[NewEvent],
    now: &str,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let (seqs, kinds, data) = event_columns(events)?;
    // Followers on other replicas hear of the events when the transaction commits.
    c.exec(
        "WITH stored AS (
             INSERT INTO run_events (run_id, seq, kind, data, created_at)
             SELECT $1, e.seq, e.kind, e.data, $2
             FROM UNNEST($3::BIGINT[], $4::TEXT[], $5::TEXT[]) AS e(seq, kind, data)
         )
         SELECT pg_notify('ferry_runs', $1)",
        &[&run_id, &now, &seqs, &kinds, &data],
    )
    .await
    .map_err(db)?;
    Ok(())
}

fn inserted_run(new: NewRun, created_at: String) -> Run {
    Run {
        id: new.id,
        session_id: new.session_id,
        status: RunStatus::Queued,
        created_at,
        started_at: None,
        finished_at: None,
        input: new.input,
        route: None,
        model_requested: None,
        model_served: None,
        usage: None,
        cost: None,
        output: None,
        error: None,
        attempts: Value::Array(Vec::new()),
        idempotency_key: new.idempotency_key,
        cache_status: None,
        generation_id: None,
        billed_cost: None,
    }
}

/// Creates a run in one statement: the session when missing, and the run — two
/// concurrent inserts with the same idempotency key cannot both succeed; the loser inserts
/// nothing and reads the winner's run afterwards (the conflict made it wait for the
/// winner's commit). The session row is locked (the upsert's no-op update) before the run
/// takes its `ord`, and stays locked until the commit: runs of one session are created one
/// after another on every replica, so `ord` order is commit order and a run that finds no
/// older unfinished run in the session really is the oldest. A creation no client was
/// promised (`$7` false) is a light write (see [`crate::pool::light`]): `set_config(…,
/// true)` lasts until the end of the transaction, so its commit does not wait for the
/// WAL flush.
const CREATE_RUN: &str = "WITH light AS (
         SELECT set_config('synchronous_commit',
                               CASE WHEN $7 THEN current_setting('synchronous_commit')
                                    ELSE 'off' END,
                               true)
         ), session AS (
             INSERT INTO sessions (id, created_at, updated_at) VALUES ($2, $3, $3)
             ON CONFLICT (id) DO UPDATE SET updated_at = sessions.updated_at
             RETURNING id, pinned_selector
         )
         INSERT INTO runs (id, session_id, status, created_at, input, attempts,
                           idempotency_key, owner)
         SELECT $1::TEXT, session.id, 'queued', $3::TEXT, $4::TEXT, '[]',
                $5::TEXT, $6::TEXT
         FROM session, light
         WHERE NOT $9::BOOLEAN OR session.pinned_selector IS NOT DISTINCT FROM $8::TEXT
         ON CONFLICT (session_id, idempotency_key) WHERE idempotency_key IS NOT NULL
         DO NOTHING";

/// The oldest unfinished run of a session, by creation order.
const OLDEST_UNFINISHED: &str =
    "SELECT id FROM runs WHERE session_id = $1 AND status IN ('queued', 'running')
     ORDER BY ord LIMIT 1";

/// The session as the creation found it, run after the creation took the session row's
/// lock (so its snapshot sees every older run of the session, whichever replica created
/// it): its settings, whether it had no other run and no history, and its oldest
/// unfinished run by creation order.
const SESSION_FOUND: &str = "SELECT s.pinned_selector, s.system_prompt, s.speak_replies,
            s.message_seq = 0
            AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.session_id = s.id AND r.id <> $2),
            (SELECT id FROM runs WHERE session_id = s.id AND status IN ('queued', 'running')
             ORDER BY ord LIMIT 1)
     FROM sessions s WHERE s.id = $1";

/// What one creation's round trip learnt.
struct Created {
    /// Whether the run was inserted.
    inserted: bool,
    /// The `created_at` the creation gave it.
    created_at: String,
    /// The session as found, and whether the run was then its oldest unfinished run.
    session: SessionAtCreation,
    in_line: bool,
}

impl PgStore {
    /// The creation in one round trip: `BEGIN`, the creation (with `pin`, only in a
    /// session pinned so), the session's check and `COMMIT`, sent together.
    async fn create(&self, new: &NewRun, pin: Option<Option<&str>>) -> Result<Created, StoreError> {
        let conn = self.writer().await?;
        let created_at = now_rfc3339();
        let input = json_text(&new.input);
        let (create, found) = tokio::try_join!(
            conn.prepare_cached(CREATE_RUN),
            conn.prepare_cached(SESSION_FOUND)
        )
        .map_err(db)?;
        let (checked, planned) = (pin.is_some(), pin.flatten());
        // Both statements are prepared already, so each is sent at its future's first
        // poll, and `join4` polls in argument order: the server runs them in this order. A
        // failed creation aborts the transaction: the check fails too and COMMIT rolls
        // back.
        let (begun, inserted, found, committed) = futures::future::join4(
            conn.batch_execute("BEGIN"),
            conn.execute(
                &create,
                &[
                    &new.id,
                    &new.session_id,
                    &created_at,
                    &input,
                    &new.idempotency_key,
                    &self.replica.id,
                    &new.acknowledged,
                    &planned,
                    &checked,
                ],
            ),
            conn.query_one(&found, &[&new.session_id, &new.id]),
            conn.batch_execute("COMMIT"),
        )
        .await;
        begun.map_err(db)?;
        let n = inserted.map_err(db)?;
        let row = found.map_err(db)?;
        committed.map_err(db)?;
        let oldest: Option<&str> = row.get(4);
        Ok(Created {
            inserted: n == 1,
            created_at,
            in_line: oldest.is_none_or(|id| id == new.id),
            session: SessionAtCreation {
                pinned_selector: row.get(0),
                system_prompt: row.get(1),
                speak_replies: row.get(2),
                fresh: row.get(3),
            },
        })
    }

    /// The run of `new`'s session that holds its idempotency key, if any.
    async fn run_by_key(&self, new: &NewRun) -> Result<Option<Run>, StoreError> {
        if new.idempotency_key.is_none() {
            return Ok(None);
        }
        let conn = self.writer().await?;
        let row = conn
            .row_opt(
                &format!("{SELECT_RUN} WHERE session_id = $1 AND idempotency_key = $2"),
                &[&new.session_id, &new.idempotency_key],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(run_from_row).transpose()
    }
}

#[async_trait]
impl RunRepo for PgStore {
    async fn create_run(&self, new: NewRun) -> Result<InsertOutcome, StoreError> {
        let created = self.create(&new, None).await?;
        if created.inserted {
            return Ok(InsertOutcome::Inserted(inserted_run(
                new,
                created.created_at,
            )));
        }
        let run = self.run_by_key(&new).await?.ok_or_else(|| {
            db_error::backend(format!("run {} was neither inserted nor found", new.id))
        })?;
        Ok(InsertOutcome::Existing(run))
    }

    async fn create_run_planned(
        &self,
        new: NewRun,
        pin: Option<&str>,
    ) -> Result<Creation, StoreError> {
        let created = self.create(&new, Some(pin)).await?;
        if created.inserted {
            return Ok(Creation::Inserted {
                run: inserted_run(new, created.created_at),
                in_line: Some(created.in_line),
                session: created.session,
            });
        }
        // Not inserted: its idempotency key was taken (whatever the pin), or the session
        // is pinned otherwise.
        if let Some(run) = self.run_by_key(&new).await? {
            return Ok(Creation::Existing(run));
        }
        if created.session.pinned_selector.as_deref() == pin {
            return Err(db_error::backend(format!(
                "run {} was neither inserted nor found",
                new.id
            )));
        }
        Ok(Creation::PinMoved(created.session))
    }

    async fn append_events(
        &self,
        run_id: &str,
        start: Option<RunStart>,
        events: Vec<NewEvent>,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let ((), (_, current)) = tokio::try_join!(crate::pool::light(&tx), lock_run(&tx, run_id))?;
        if current.is_terminal() {
            return Err(StoreError::InvalidTransition {
                id: run_id.to_owned(),
                current,
                requested: RunStatus::Running,
            });
        }
        let now = now_rfc3339();
        let start = async {
            match &start {
                Some(start) => apply_start(&tx, run_id, start).await,
                None => Ok(()),
            }
        };
        tokio::try_join!(start, insert_events(&tx, run_id, &events, &now))?;
        tx.commit().await.map_err(db)
    }

    async fn finish_run(&self, fin: Arc<RunFinish>) -> Result<Run, StoreError> {
        if !fin.status.is_terminal() {
            return Err(StoreError::InvalidTransition {
                id: fin.run_id.clone(),
                current: RunStatus::Running,
                requested: fin.status,
            });
        }
        let roles = message_roles(&fin.messages)?;
        let bodies: Vec<String> = fin.messages.iter().map(json_text).collect();
        let (seqs, kinds, data) = event_columns(&fin.events)?;
        let conn = self.writer().await?;
        let now = now_rfc3339();
        let (usage, output, attempts) = (
            fin.usage.as_deref().map(UsageObject::as_str),
            json_text_opt(fin.output.as_deref()),
            json_text(&fin.attempts),
        );
        let start = fin.start.as_ref();
        let (started_at, route, model_requested) = (
            start.map(|s| rfc3339(s.started_at)),
            start.map(|s| s.route.as_str()),
            start.map(|s| s.model_requested.as_str()),
        );
        let n = roles.len() as i64;
        // The whole end is one statement — one round trip, its own (durable) transaction:
        // the run's final row (with the start folded in, when the run never stored it)
        // only while the run is still open, which locks the run row so a concurrent end
        // or recovery waits and then finds it ended; its events, the session's history
        // (the next sequence numbers taken under the session row's lock) and the
        // followers' notice only when that update happened. Every part reads what the
        // update returned, never what another part wrote, so nothing depends on order.
        let ended = conn
            .row_opt(
                concat!(
                    "WITH ended AS (
                     UPDATE runs SET status = $2, finished_at = $3, model_served = $4,
                                     usage = $5, cost = $6, output = $7, error_code = $8,
                                     error_message = $9, attempts = $10, cache_status = $11,
                                     generation_id = $12,
                                     started_at = COALESCE(started_at, $13),
                                     route = COALESCE($14, route),
                                     model_requested = COALESCE($15, model_requested)
                     WHERE id = $1 AND status IN ('queued', 'running')
                     RETURNING ",
                    run_columns!(),
                    "
                 ), stored AS (
                     INSERT INTO run_events (run_id, seq, kind, data, created_at)
                     SELECT $1, e.seq, e.kind, e.data, $3
                     FROM ended, UNNEST($16::BIGINT[], $17::TEXT[], $18::TEXT[])
                          AS e(seq, kind, data)
                 ), s AS (
                     UPDATE sessions SET message_seq = message_seq + $19, updated_at = $3
                     WHERE id = (SELECT session_id FROM ended)
                     RETURNING message_seq - $19 AS base
                 ), history AS (
                     INSERT INTO messages (session_id, seq, run_id, role, body, created_at)
                     SELECT (SELECT session_id FROM ended), s.base + m.ord, $1, m.role,
                            m.body, $3
                     FROM s, UNNEST($20::TEXT[], $21::TEXT[]) WITH ORDINALITY
                          AS m(role, body, ord)
                 )
                 SELECT ",
                    run_columns!(),
                    ", pg_notify('ferry_runs', $1) FROM ended"
                ),
                &[
                    &fin.run_id,
                    &fin.status.as_str(),
                    &now,
                    &fin.model_served,
                    &usage,
                    &fin.cost,
                    &output,
                    &fin.error_code,
                    &fin.error_message,
                    &attempts,
                    &fin.cache_status,
                    &fin.generation_id,
                    &started_at,
                    &route,
                    &model_requested,
                    &seqs,
                    &kinds,
                    &data,
                    &n,
                    &roles,
                    &bodies,
                ],
            )
            .await
            .map_err(db)?;
        if let Some(row) = ended {
            return run_from_row(&row);
        }
        // Nothing was written: the run is missing or has ended already.
        let row = conn
            .row_opt("SELECT status FROM runs WHERE id = $1", &[&fin.run_id])
            .await
            .map_err(db)?
            .ok_or_else(|| StoreError::RunNotFound {
                id: fin.run_id.clone(),
            })?;
        Err(StoreError::InvalidTransition {
            id: fin.run_id.clone(),
            current: status(&row)?,
            requested: fin.status,
        })
    }

    async fn set_billed_cost(&self, run_id: &str, billed: f64) -> Result<(), StoreError> {
        let conn = self.writer().await?;
        let n = conn
            .exec(
                "UPDATE runs SET billed_cost = $2 WHERE id = $1",
                &[&run_id, &billed],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::RunNotFound {
                id: run_id.to_owned(),
            });
        }
        Ok(())
    }

    async fn set_run_spend(
        &self,
        run_id: &str,
        usage: Option<UsageObject>,
        cost: Option<f64>,
    ) -> Result<(), StoreError> {
        let conn = self.writer().await?;
        let n = conn
            .exec(
                "UPDATE runs SET usage = $2, cost = $3
                 WHERE id = $1 AND status IN ('completed', 'failed', 'cancelled', 'interrupted')",
                &[&run_id, &usage.as_ref().map(UsageObject::as_str), &cost],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::RunNotFound {
                id: run_id.to_owned(),
            });
        }
        Ok(())
    }

    async fn get_run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        load_run(&self.reader().await?, id).await
    }

    fn run_notices(&self) -> Option<tokio::sync::broadcast::Receiver<std::sync::Arc<str>>> {
        Some(self.replica.notices.subscribe())
    }

    async fn oldest_unfinished_run(&self, session_id: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .reader()
            .await?
            .row_opt(OLDEST_UNFINISHED, &[&session_id])
            .await
            .map_err(db)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn list_runs_page(&self, filter: RunFilter) -> Result<Vec<Run>, StoreError> {
        let conn = self.reader().await?;
        let after_ord: Option<i64> = match &filter.after {
            None => None,
            Some(id) => Some(
                conn.row_opt("SELECT ord FROM runs WHERE id = $1", &[id])
                    .await
                    .map_err(db)?
                    .ok_or_else(|| StoreError::RunNotFound { id: id.clone() })?
                    .get(0),
            ),
        };
        let status = filter.status.map(RunStatus::as_str);
        let rows = conn
            .rows(
                &format!(
                    "{SELECT_RUN} WHERE ($1::TEXT IS NULL OR session_id = $1)
                       AND ($2::TEXT IS NULL OR status = $2)
                       AND ($3::BIGINT IS NULL OR ord < $3)
                     ORDER BY ord DESC LIMIT $4"
                ),
                &[
                    &filter.session_id,
                    &status,
                    &after_ord,
                    &i64::from(filter.limit),
                ],
            )
            .await
            .map_err(db)?;
        rows.iter().map(run_from_row).collect()
    }

    async fn events_after(
        &self,
        run_id: &str,
        after_seq: u64,
    ) -> Result<Vec<RunEvent>, StoreError> {
        let after = columns::bigint(after_seq, "after_seq")?;
        let conn = self.reader().await?;
        let rows = conn
            .rows(
                "SELECT seq, kind, data, created_at FROM run_events
                 WHERE run_id = $1 AND seq > $2 ORDER BY seq",
                &[&run_id, &after],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(RunEvent {
                    seq: columns::count(row, 0),
                    kind: row.get("kind"),
                    data: columns::json(row, "data")?,
                    created_at: row.get("created_at"),
                })
            })
            .collect()
    }

    /// At startup, on a database replicas share: interrupts only the runs of replicas
    /// that died (and runs without an owner), never a live replica's; the heartbeat
    /// repeats it from then on with the same reason (see [`crate::replica`]).
    async fn recover_interrupted(
        &self,
        reason: &str,
        terminal: &Value,
    ) -> Result<Vec<Run>, StoreError> {
        if self.is_closed() {
            return Err(StoreError::Closed);
        }
        self.epitaph.set(reason, terminal);
        let ids =
            crate::replica::recover_dead(&self.pool, &self.replica.id, reason, terminal).await?;
        let conn = self.reader().await?;
        let mut runs = Vec::with_capacity(ids.len());
        for id in ids {
            runs.push(require_run(&conn, &id).await?);
        }
        Ok(runs)
    }
}
