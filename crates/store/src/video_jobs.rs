//! Video generation jobs: one row per job submitted upstream, so a daemon restart resumes
//! polling the jobs still in flight and finished jobs keep their outcome (asset or error).

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::json_column::{self, to_text};
use crate::store::Store;
use crate::VideoJobRepo;

/// A job to record (status as the upstream answered the submission).
#[derive(Debug, Clone)]
pub struct NewVideoJob {
    /// ferry's job id.
    pub id: String,
    /// Route it runs on (its key polls the job).
    pub route: String,
    /// Wire model id.
    pub model: String,
    /// The upstream job id.
    pub upstream_id: String,
    /// The upstream polling URL, as given.
    pub polling_url: Option<String>,
    /// Current status.
    pub status: String,
    /// What was asked (prompt, durations, resolution…), as JSON.
    pub request: Value,
    /// The run whose tool call started it, if any.
    pub run_id: Option<String>,
}

/// A change of a job's state.
#[derive(Debug, Clone, Default)]
pub struct VideoJobUpdate {
    /// New status.
    pub status: String,
    /// Upstream cost, when known.
    pub cost: Option<f64>,
    /// The stored video.
    pub asset_id: Option<String>,
    /// Why it failed.
    pub error_code: Option<String>,
    /// Why it failed, for humans.
    pub error_message: Option<String>,
    /// The job reached its end (no more polling).
    pub finished: bool,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoJob {
    pub id: String,
    pub route: String,
    pub model: String,
    pub upstream_id: String,
    pub polling_url: Option<String>,
    pub status: String,
    pub request: Value,
    pub run_id: Option<String>,
    pub asset_id: Option<String>,
    pub cost: Option<f64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

const SELECT_JOB: &str = "SELECT id, route, model, upstream_id, polling_url, status, request,
        run_id, asset_id, cost, error_code, error_message, created_at, updated_at, finished_at
    FROM video_jobs";

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<VideoJob> {
    Ok(VideoJob {
        id: row.get(0)?,
        route: row.get(1)?,
        model: row.get(2)?,
        upstream_id: row.get(3)?,
        polling_url: row.get(4)?,
        status: row.get(5)?,
        request: json_column::column(row, 6)?,
        run_id: row.get(7)?,
        asset_id: row.get(8)?,
        cost: row.get(9)?,
        error_code: row.get(10)?,
        error_message: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        finished_at: row.get(14)?,
    })
}

fn load_job(conn: &Connection, id: &str) -> rusqlite::Result<Option<VideoJob>> {
    conn.prepare_cached(&format!("{SELECT_JOB} WHERE id = ?1"))?
        .query_row([id], job_from_row)
        .optional()
}

fn require_job(conn: &Connection, id: &str) -> Result<VideoJob, StoreError> {
    load_job(conn, id)?.ok_or_else(|| StoreError::VideoJobNotFound { id: id.to_owned() })
}

#[async_trait]
impl VideoJobRepo for Store {
    /// Records a new job.
    async fn insert_video_job(&self, new: NewVideoJob) -> Result<VideoJob, StoreError> {
        self.write_with(move |conn| {
            let now = now_rfc3339();
            conn.prepare_cached(
                "INSERT INTO video_jobs (id, route, model, upstream_id, polling_url, status,
                     request, run_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
            )?
            .execute(params![
                new.id,
                new.route,
                new.model,
                new.upstream_id,
                new.polling_url,
                new.status,
                to_text(&new.request)?,
                new.run_id,
                now,
            ])?;
            require_job(conn, &new.id)
        })
        .await
    }

    /// Applies a state change; a finished job is never changed again (refused with
    /// [`StoreError::VideoJobFinished`]).
    async fn update_video_job(
        &self,
        id: &str,
        update: VideoJobUpdate,
    ) -> Result<VideoJob, StoreError> {
        let id = id.to_owned();
        self.write_with(move |conn| {
            let job = require_job(conn, &id)?;
            if job.finished_at.is_some() {
                return Err(StoreError::VideoJobFinished { id });
            }
            let now = now_rfc3339();
            conn.prepare_cached(
                "UPDATE video_jobs SET status = ?2, cost = COALESCE(?3, cost),
                     asset_id = COALESCE(?4, asset_id), error_code = ?5, error_message = ?6,
                     updated_at = ?7, finished_at = CASE WHEN ?8 THEN ?7 ELSE NULL END
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                update.status,
                update.cost,
                update.asset_id,
                update.error_code,
                update.error_message,
                now,
                update.finished,
            ])?;
            require_job(conn, &id)
        })
        .await
    }

    /// The job with this id, if any.
    async fn get_video_job(&self, id: &str) -> Result<Option<VideoJob>, StoreError> {
        let id = id.to_owned();
        self.read_with(move |conn| Ok(load_job(conn, &id)?)).await
    }

    /// Jobs not finished yet, oldest first (to resume polling at start).
    async fn unfinished_video_jobs(&self) -> Result<Vec<VideoJob>, StoreError> {
        self.read_with(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{SELECT_JOB} WHERE finished_at IS NULL ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], job_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// The `limit` most recent jobs, newest first.
    async fn list_video_jobs(&self, limit: u32) -> Result<Vec<VideoJob>, StoreError> {
        self.read_with(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "{SELECT_JOB} ORDER BY created_at DESC, id DESC LIMIT ?1"
            ))?;
            let rows = stmt.query_map([limit], job_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}
