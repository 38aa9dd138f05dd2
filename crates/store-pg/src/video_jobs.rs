//! Video generation jobs on PostgreSQL, so polling resumes after a restart.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use ferry_store::{now_rfc3339, NewVideoJob, StoreError, VideoJob, VideoJobRepo, VideoJobUpdate};
use tokio_postgres::Row;

use crate::cached::Cached;
use crate::columns::{self, json_text};
use crate::db_error::db;
use crate::PgStore;

const JOB_COLUMNS: &str = "id, route, model, upstream_id, polling_url, status, request, run_id,
    asset_id, cost, error_code, error_message, created_at, updated_at, finished_at";
const SELECT_JOB: &str = "SELECT id, route, model, upstream_id, polling_url, status, request,
        run_id, asset_id, cost, error_code, error_message, created_at, updated_at, finished_at
    FROM video_jobs";

fn job_from_row(row: &Row) -> Result<VideoJob, StoreError> {
    Ok(VideoJob {
        id: row.get("id"),
        route: row.get("route"),
        model: row.get("model"),
        upstream_id: row.get("upstream_id"),
        polling_url: row.get("polling_url"),
        status: row.get("status"),
        request: columns::json(row, "request")?,
        run_id: row.get("run_id"),
        asset_id: row.get("asset_id"),
        cost: row.get("cost"),
        error_code: row.get("error_code"),
        error_message: row.get("error_message"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        finished_at: row.get("finished_at"),
    })
}

async fn load_job(
    c: &(impl Cached + Sync),
    id: &str,
    lock: bool,
) -> Result<Option<VideoJob>, StoreError> {
    let sql = if lock {
        format!("{SELECT_JOB} WHERE id = $1 FOR UPDATE")
    } else {
        format!("{SELECT_JOB} WHERE id = $1")
    };
    let row = c.row_opt(&sql, &[&id]).await.map_err(db)?;
    row.as_ref().map(job_from_row).transpose()
}

#[async_trait]
impl VideoJobRepo for PgStore {
    async fn insert_video_job(&self, new: NewVideoJob) -> Result<VideoJob, StoreError> {
        let conn = self.writer().await?;
        let now = now_rfc3339();
        let row = conn
            .row(
                &format!(
                    "INSERT INTO video_jobs (id, route, model, upstream_id, polling_url, status,
                         request, run_id, created_at, updated_at, owner)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
                     RETURNING {JOB_COLUMNS}"
                ),
                &[
                    &new.id,
                    &new.route,
                    &new.model,
                    &new.upstream_id,
                    &new.polling_url,
                    &new.status,
                    &json_text(&new.request),
                    &new.run_id,
                    &now,
                    &self.replica.id,
                ],
            )
            .await
            .map_err(db)?;
        job_from_row(&row)
    }

    async fn update_video_job(
        &self,
        id: &str,
        update: VideoJobUpdate,
    ) -> Result<VideoJob, StoreError> {
        let mut conn = self.writer().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let job = load_job(&tx, id, true)
            .await?
            .ok_or_else(|| StoreError::VideoJobNotFound { id: id.to_owned() })?;
        if job.finished_at.is_some() {
            return Err(StoreError::VideoJobFinished { id: id.to_owned() });
        }
        let now = now_rfc3339();
        tx.exec(
            "UPDATE video_jobs SET status = $2, cost = COALESCE($3, cost),
                 asset_id = COALESCE($4, asset_id), error_code = $5, error_message = $6,
                 updated_at = $7, finished_at = CASE WHEN $8 THEN $7 ELSE NULL END
             WHERE id = $1",
            &[
                &id,
                &update.status,
                &update.cost,
                &update.asset_id,
                &update.error_code,
                &update.error_message,
                &now,
                &update.finished,
            ],
        )
        .await
        .map_err(db)?;
        let job = load_job(&tx, id, false)
            .await?
            .ok_or_else(|| StoreError::VideoJobNotFound { id: id.to_owned() })?;
        tx.commit().await.map_err(db)?;
        Ok(job)
    }

    async fn get_video_job(&self, id: &str) -> Result<Option<VideoJob>, StoreError> {
        load_job(&self.reader().await?, id, false).await
    }

    async fn unfinished_video_jobs(&self) -> Result<Vec<VideoJob>, StoreError> {
        let conn = self.reader().await?;
        let rows = conn
            .rows(
                &format!("{SELECT_JOB} WHERE finished_at IS NULL ORDER BY created_at, id"),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn claim_video_jobs(&self, _at_start: bool) -> Result<Vec<VideoJob>, StoreError> {
        // A job without an owner was copied from an older install; an owner without a
        // `replicas` row died (the lease recovery removed its row). SKIP LOCKED: two
        // replicas claiming at once take disjoint jobs.
        let conn = self.writer().await?;
        let rows = conn
            .rows(
                &format!(
                    "UPDATE video_jobs SET owner = $1
                     WHERE id IN (
                         SELECT v.id FROM video_jobs v
                         WHERE v.finished_at IS NULL
                           AND (v.owner IS NULL
                                OR (v.owner <> $1
                                    AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.id = v.owner)))
                         ORDER BY v.created_at, v.id
                         FOR UPDATE SKIP LOCKED)
                     RETURNING {JOB_COLUMNS}"
                ),
                &[&self.replica.id],
            )
            .await
            .map_err(db)?;
        let mut jobs = rows
            .iter()
            .map(job_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        jobs.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        Ok(jobs)
    }

    async fn list_video_jobs(&self, limit: u32) -> Result<Vec<VideoJob>, StoreError> {
        let conn = self.reader().await?;
        let rows = conn
            .rows(
                &format!("{SELECT_JOB} ORDER BY created_at DESC, id DESC LIMIT $1"),
                &[&i64::from(limit)],
            )
            .await
            .map_err(db)?;
        rows.iter().map(job_from_row).collect()
    }
}
