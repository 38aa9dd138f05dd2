//! Sessions and their history: creating, reading, listing and patching session rows, and
//! reading a session's messages in order.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::json_column;
use crate::store::Store;
use crate::{SessionRepo, SessionTotals};

/// A session to create.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    /// The session id (chosen by the caller).
    pub id: String,
    /// Selector pinned to this session, if any.
    pub pinned_selector: Option<String>,
    /// System prompt for this session, if any.
    pub system_prompt: Option<String>,
}

/// Changes to a session: `None` leaves a field alone, `Some(None)` clears it,
/// `Some(Some(v))` sets it.
#[derive(Debug, Clone, Default)]
pub struct SessionPatch {
    /// New pinned selector.
    pub pinned_selector: Option<Option<String>>,
    /// New system prompt.
    pub system_prompt: Option<Option<String>>,
    /// New speak-replies setting.
    pub speak_replies: Option<Option<String>>,
}

/// A stored session with its counts.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Selector pinned to this session.
    pub pinned_selector: Option<String>,
    /// Session system prompt.
    pub system_prompt: Option<String>,
    /// Speak-replies setting.
    pub speak_replies: Option<String>,
    /// Messages in its history.
    pub message_count: u64,
    /// Runs it has had.
    pub run_count: u64,
}

/// One message of a session's history.
#[derive(Debug, Clone, Serialize)]
pub struct StoredMessage {
    /// Position in the history, from 1.
    pub seq: u64,
    /// The run that produced it, if any.
    pub run_id: Option<String>,
    /// The message role (`user`, `assistant`, `tool`, ...).
    pub role: String,
    /// The OpenAI-format message object.
    pub body: serde_json::Value,
    /// When it was stored (RFC 3339).
    pub created_at: String,
}

macro_rules! select_session {
    () => {
        "SELECT s.id, s.created_at, s.updated_at, s.pinned_selector, s.system_prompt,
                s.speak_replies,
                (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id),
                (SELECT COUNT(*) FROM runs r WHERE r.session_id = s.id)
         FROM sessions s"
    };
}

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(0)?,
        created_at: row.get(1)?,
        updated_at: row.get(2)?,
        pinned_selector: row.get(3)?,
        system_prompt: row.get(4)?,
        speak_replies: row.get(5)?,
        message_count: row.get(6)?,
        run_count: row.get(7)?,
    })
}

/// Reads one session on `conn`.
pub(crate) fn load_session(conn: &Connection, id: &str) -> rusqlite::Result<Option<Session>> {
    conn.prepare_cached(concat!(select_session!(), " WHERE s.id = ?1"))?
        .query_row([id], session_from_row)
        .optional()
}

/// Reads one session that must exist.
fn require_session(conn: &Connection, id: &str) -> Result<Session, StoreError> {
    load_session(conn, id)?.ok_or_else(|| StoreError::SessionNotFound { id: id.to_owned() })
}

/// Takes the next `n` history seqs of the session inside the transaction (the session's
/// `message_seq` counter, never `MAX(seq) + 1`) and bumps its `updated_at` to `now`;
/// returns the first. [`StoreError::SessionNotFound`] if it does not exist.
pub(crate) fn take_message_seqs(
    conn: &Connection,
    session_id: &str,
    n: usize,
    now: &str,
) -> Result<u64, StoreError> {
    // Read, then written: an `UPDATE … RETURNING` stages its answer in a temporary
    // b-tree. The writer's transaction holds the write lock, so nothing comes in between.
    let before: u64 = conn
        .prepare_cached("SELECT message_seq FROM sessions WHERE id = ?1")?
        .query_row([session_id], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::SessionNotFound {
            id: session_id.to_owned(),
        })?;
    let last = before + n as u64;
    conn.prepare_cached("UPDATE sessions SET message_seq = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![session_id, last, now])?;
    Ok(last + 1 - n as u64)
}

/// Inserts a session unless the id exists; returns whether it was inserted.
pub(crate) fn insert_session(conn: &Connection, new: &NewSession) -> rusqlite::Result<bool> {
    let now = now_rfc3339();
    let inserted = conn
        .prepare_cached(
            "INSERT INTO sessions (id, created_at, updated_at, pinned_selector, system_prompt)
             VALUES (?1, ?2, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![new.id, now, new.pinned_selector, new.system_prompt])?;
    Ok(inserted == 1)
}

#[async_trait]
impl SessionRepo for Store {
    /// Creates a session; [`StoreError::SessionExists`] if the id is taken.
    async fn create_session(&self, new: NewSession) -> Result<Session, StoreError> {
        self.write_with(move |conn| {
            if !insert_session(conn, &new)? {
                return Err(StoreError::SessionExists { id: new.id });
            }
            require_session(conn, &new.id)
        })
        .await
    }

    /// Returns the session, creating it with no settings if missing; the flag says
    /// whether it was created.
    async fn ensure_session(&self, id: &str) -> Result<(Session, bool), StoreError> {
        let new = NewSession {
            id: id.to_owned(),
            ..NewSession::default()
        };
        self.write_with(move |conn| {
            let created = insert_session(conn, &new)?;
            Ok((require_session(conn, &new.id)?, created))
        })
        .await
    }

    /// The session with this id, if any.
    async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let id = id.to_owned();
        self.read_with(move |conn| Ok(load_session(conn, &id)?))
            .await
    }

    /// Up to `limit` sessions ordered by id, starting after the id `after` (the last id of
    /// the previous page).
    async fn list_sessions(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        let after = after.map(str::to_owned);
        self.read_with(move |conn| {
            let mut stmt = conn.prepare_cached(concat!(
                select_session!(),
                " WHERE ?1 IS NULL OR s.id > ?1 ORDER BY s.id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![after, limit], session_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Applies `patch` to the session and bumps its `updated_at`;
    /// [`StoreError::SessionNotFound`] if it does not exist.
    async fn update_session(&self, id: &str, patch: SessionPatch) -> Result<Session, StoreError> {
        let id = id.to_owned();
        self.write_with(move |conn| {
            let updated = conn
                .prepare_cached(
                    "UPDATE sessions SET
                        pinned_selector = CASE WHEN ?2 THEN ?3 ELSE pinned_selector END,
                        system_prompt = CASE WHEN ?4 THEN ?5 ELSE system_prompt END,
                        speak_replies = CASE WHEN ?6 THEN ?7 ELSE speak_replies END,
                        updated_at = ?8
                     WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    patch.pinned_selector.is_some(),
                    patch.pinned_selector.flatten(),
                    patch.system_prompt.is_some(),
                    patch.system_prompt.flatten(),
                    patch.speak_replies.is_some(),
                    patch.speak_replies.flatten(),
                    now_rfc3339(),
                ])?;
            if updated == 0 {
                return Err(StoreError::SessionNotFound { id });
            }
            require_session(conn, &id)
        })
        .await
    }

    /// Appends `messages` (each with a string `"role"`) to the session's history outside
    /// any run (e.g. an observation's transcript) and bumps `updated_at`; returns them as
    /// stored. [`StoreError::SessionNotFound`] if the session does not exist.
    async fn append_messages(
        &self,
        session_id: &str,
        messages: Vec<serde_json::Value>,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let session_id = session_id.to_owned();
        self.write_with(move |conn| {
            let now = now_rfc3339();
            let first_seq = take_message_seqs(conn, &session_id, messages.len(), &now)?;
            let mut insert = conn.prepare_cached(
                "INSERT INTO messages (session_id, seq, run_id, role, body, created_at)
                 VALUES (?1, ?2, NULL, ?3, ?4, ?5)",
            )?;
            let mut stored = Vec::with_capacity(messages.len());
            for (index, (seq, body)) in (first_seq..).zip(messages).enumerate() {
                let role = body
                    .get("role")
                    .and_then(serde_json::Value::as_str)
                    .ok_or(StoreError::InvalidMessage {
                        index,
                        reason: "it has no string \"role\"",
                    })?
                    .to_owned();
                insert.execute(params![
                    session_id,
                    seq,
                    role,
                    json_column::to_text(&body)?,
                    now
                ])?;
                stored.push(StoredMessage {
                    seq,
                    run_id: None,
                    role,
                    body,
                    created_at: now.clone(),
                });
            }
            Ok(stored)
        })
        .await
    }

    /// The session's history, ordered by `seq` (empty for an unknown session).
    async fn history(&self, session_id: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let session_id = session_id.to_owned();
        self.read_with(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, run_id, role, body, created_at FROM messages
                 WHERE session_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([session_id], |row| {
                Ok(StoredMessage {
                    seq: row.get(0)?,
                    run_id: row.get(1)?,
                    role: row.get(2)?,
                    body: json_column::column(row, 3)?,
                    created_at: row.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn session_totals(&self, session_id: &str) -> Result<SessionTotals, StoreError> {
        let session_id = session_id.to_owned();
        self.read_with(move |conn| crate::stats::session_totals(conn, &session_id))
            .await
    }
}
