//! Sessions and their history, and the runtime configuration, on PostgreSQL.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use ferry_store::{
    message_roles, now_rfc3339, NewSession, RuntimeConfigRepo, Session, SessionPatch, SessionRepo,
    SessionTotals, StoreError, StoredMessage,
};
use serde_json::Value;
use tokio_postgres::Row;

use crate::cached::Cached;
use crate::columns::{self, json_text};
use crate::db_error::db;
use crate::PgStore;

const SELECT_SESSION: &str = "SELECT s.id, s.created_at, s.updated_at, s.pinned_selector,
        s.system_prompt, s.speak_replies,
        (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count,
        (SELECT COUNT(*) FROM runs r WHERE r.session_id = s.id) AS run_count
    FROM sessions s";

fn session_from_row(row: &Row) -> Session {
    Session {
        id: row.get("id"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        pinned_selector: row.get("pinned_selector"),
        system_prompt: row.get("system_prompt"),
        speak_replies: row.get("speak_replies"),
        message_count: columns::count(row, 6),
        run_count: columns::count(row, 7),
    }
}

pub(crate) async fn load_session(
    c: &(impl Cached + Sync),
    id: &str,
) -> Result<Option<Session>, StoreError> {
    let row = c
        .row_opt(&format!("{SELECT_SESSION} WHERE s.id = $1"), &[&id])
        .await
        .map_err(db)?;
    Ok(row.as_ref().map(session_from_row))
}

async fn require_session(c: &(impl Cached + Sync), id: &str) -> Result<Session, StoreError> {
    load_session(c, id)
        .await?
        .ok_or_else(|| StoreError::SessionNotFound { id: id.to_owned() })
}

/// Inserts a session unless the id exists; returns whether it was inserted.
pub(crate) async fn insert_session(
    c: &(impl Cached + Sync),
    new: &NewSession,
) -> Result<bool, StoreError> {
    let n = c
        .exec(
            "INSERT INTO sessions (id, created_at, updated_at, pinned_selector, system_prompt)
             VALUES ($1, $2, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            &[
                &new.id,
                &now_rfc3339(),
                &new.pinned_selector,
                &new.system_prompt,
            ],
        )
        .await
        .map_err(db)?;
    Ok(n == 1)
}

/// Appends history messages to a session in one statement: takes the next
/// `roles.len()` sequence numbers from the session's counter (row-locked until the
/// transaction ends) and inserts the messages with them. Returns the first seq.
pub(crate) async fn append_history(
    c: &(impl Cached + Sync),
    session_id: &str,
    run_id: Option<&str>,
    roles: &[&str],
    bodies: &[String],
    now: &str,
) -> Result<u64, StoreError> {
    let n = roles.len() as i64;
    let row = c
        .row(
            "WITH s AS (
                 UPDATE sessions SET message_seq = message_seq + $2, updated_at = $3 WHERE id = $1
                 RETURNING message_seq - $2 AS base
             ), stored AS (
                 INSERT INTO messages (session_id, seq, run_id, role, body, created_at)
                 SELECT $1, s.base + m.ord, $4, m.role, m.body, $3
                 FROM s, UNNEST($5::TEXT[], $6::TEXT[]) WITH ORDINALITY AS m(role, body, ord)
             )
             SELECT (SELECT base FROM s)",
            &[&session_id, &n, &now, &run_id, &roles, &bodies],
        )
        .await
        .map_err(db)?;
    let base: Option<i64> = row.get(0);
    let base = base.ok_or_else(|| StoreError::SessionNotFound {
        id: session_id.to_owned(),
    })?;
    Ok((base + 1) as u64)
}

#[async_trait]
impl SessionRepo for PgStore {
    async fn create_session(&self, new: NewSession) -> Result<Session, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        if !insert_session(&tx, &new).await? {
            return Err(StoreError::SessionExists { id: new.id });
        }
        let session = require_session(&tx, &new.id).await?;
        tx.commit().await.map_err(db)?;
        Ok(session)
    }

    async fn ensure_session(&self, id: &str) -> Result<(Session, bool), StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let new = NewSession {
            id: id.to_owned(),
            ..NewSession::default()
        };
        let created = insert_session(&tx, &new).await?;
        let session = require_session(&tx, id).await?;
        tx.commit().await.map_err(db)?;
        Ok((session, created))
    }

    async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        load_session(&self.reader().await?, id).await
    }

    async fn list_sessions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        let conn = self.reader().await?;
        let rows = conn
            .rows(
                &format!(
                    "{SELECT_SESSION} WHERE $1::TEXT IS NULL OR s.id > $1 ORDER BY s.id LIMIT $2"
                ),
                &[&after, &i64::from(limit)],
            )
            .await
            .map_err(db)?;
        Ok(rows.iter().map(session_from_row).collect())
    }

    async fn update_session(&self, id: &str, patch: SessionPatch) -> Result<Session, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let n = tx
            .exec(
                "UPDATE sessions SET
                    pinned_selector = CASE WHEN $2 THEN $3 ELSE pinned_selector END,
                    system_prompt = CASE WHEN $4 THEN $5 ELSE system_prompt END,
                    speak_replies = CASE WHEN $6 THEN $7 ELSE speak_replies END,
                    updated_at = $8
                 WHERE id = $1",
                &[
                    &id,
                    &patch.pinned_selector.is_some(),
                    &patch.pinned_selector.clone().flatten(),
                    &patch.system_prompt.is_some(),
                    &patch.system_prompt.clone().flatten(),
                    &patch.speak_replies.is_some(),
                    &patch.speak_replies.clone().flatten(),
                    &now_rfc3339(),
                ],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::SessionNotFound { id: id.to_owned() });
        }
        let session = require_session(&tx, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(session)
    }

    async fn append_messages(
        &self,
        session_id: &str,
        messages: Vec<Value>,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let roles = message_roles(&messages)?;
        let bodies: Vec<String> = messages.iter().map(json_text).collect();
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let now = now_rfc3339();
        let first_seq = append_history(&tx, session_id, None, &roles, &bodies, &now).await?;
        tx.commit().await.map_err(db)?;
        let roles: Vec<String> = roles.into_iter().map(str::to_owned).collect();
        Ok((first_seq..)
            .zip(messages.into_iter().zip(roles))
            .map(|(seq, (body, role))| StoredMessage {
                seq,
                run_id: None,
                role,
                body,
                created_at: now.clone(),
            })
            .collect())
    }

    async fn history(&self, session_id: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let conn = self.reader().await?;
        let rows = conn
            .rows(
                "SELECT seq, run_id, role, body, created_at FROM messages
                 WHERE session_id = $1 ORDER BY seq",
                &[&session_id],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(StoredMessage {
                    seq: columns::count(row, 0),
                    run_id: row.get("run_id"),
                    role: row.get("role"),
                    body: columns::json(row, "body")?,
                    created_at: row.get("created_at"),
                })
            })
            .collect()
    }

    async fn session_totals(&self, session_id: &str) -> Result<SessionTotals, StoreError> {
        let conn = self.reader().await?;
        let rows = conn
            .rows(
                "SELECT usage, cost, billed_cost FROM runs WHERE session_id = $1",
                &[&session_id],
            )
            .await
            .map_err(db)?;
        let mut totals = SessionTotals::default();
        for row in &rows {
            totals.runs += 1;
            if let Some(usage) = columns::json_opt(row, "usage")? {
                let tokens = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
                totals.prompt_tokens += tokens("prompt_tokens");
                totals.completion_tokens += tokens("completion_tokens");
            }
            totals.cost += row.get::<_, Option<f64>>("cost").unwrap_or(0.0);
            if let Some(billed) = row.get::<_, Option<f64>>("billed_cost") {
                *totals.billed_cost.get_or_insert(0.0) += billed;
            }
        }
        Ok(totals)
    }
}

#[async_trait]
impl RuntimeConfigRepo for PgStore {
    async fn runtime_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.reader().await?;
        let row = conn
            .row_opt("SELECT value FROM runtime_config WHERE key = $1", &[&key])
            .await
            .map_err(db)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn runtime_set(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let conn = self.writer().await?;
        match value {
            Some(value) => conn
                .exec(
                    "INSERT INTO runtime_config (key, value, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                                                     updated_at = excluded.updated_at",
                    &[&key, &value, &now_rfc3339()],
                )
                .await
                .map_err(db)?,
            None => conn
                .exec("DELETE FROM runtime_config WHERE key = $1", &[&key])
                .await
                .map_err(db)?,
        };
        Ok(())
    }
}
